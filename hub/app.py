"""The Starlette application: /graphql (API and GraphiQL), /admin (the console) and /admin/api (sign-in),
/healthz, /readyz, /metrics, /static.

/graphql takes an API key (``X-API-Key``) or a signed-in browser's session cookie (``admin.session``);
a cookie-authenticated POST must carry the session's CSRF token and come from the hub's own site."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import gc
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData, process_result
from strawberry.http.parse_content_type import parse_content_type
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from admin.app import ADMIN_CSP, admin_routes
from admin.auth import admin_auth_routes, error_response
from admin.session import check_csrf, check_same_site, session_token
from hub.access import KeyUsage, Principal, authenticate, bind_principal
from hub.app_compiled import CompiledAnswers
from hub.broker import check_broker
from hub.crypto import Cipher
from hub.db import (
    LazySession,
    async_session_factory,
    dispose,
    make_async_engine,
    make_engine,
    make_read_engine,
    session_scope,
)
from hub.errors import HubError
from hub.fanout import Fanout, make_fanout
from hub.holidays import sync_calendar
from hub.models import utcnow
from hub.operations import (
    OperationRegistry,
    PersistedQueryCache,
    ResolvedOperation,
    check_allowed,
    resolve_operation,
)
from hub.ratelimit import RequestGuard
from hub.security import SecurityHeadersMiddleware, relative_slash_redirects
from hub.settings import Settings, get_settings
from hub.users import SignInPolicy, authenticate_session, session_id_of, touch_session
from schema.build import build_schema
from schema.compiled import PLANS, Plan, PlanCache, execute_plan
from schema.context import Context
from schema.extensions import shape_error
from schema.loaders import Loaders
from schema.subscription import EventsTransportWSHandler

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from sqlalchemy.engine import Engine
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
API_KEY_HEADER = "x-api-key"
#: extensions.code of a request the server cannot read as GraphQL over HTTP, by HTTP status.
REQUEST_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
_JSON_TYPES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
    list: "an array",
}

DEFAULT_QUERY = """# 根治欠薪数据中枢 — 示例查询 / example query
# 多渠道线索：同一投诉经 12345 和全国根治欠薪线索反映平台到达，合并为一条线索
# Clues that arrived through two or more channels, with their project's payroll (earliest first).
query MultiChannelClues {
  clues(filter: {multiChannel: true, channel: NATIONAL_PLATFORM}, order: RECEIVED_AT_ASC, first: 10) {
    totalCount
    edges {
      node {
        clueNo
        title
        status
        colour
        amount
        headcount
        complainantPhone
        channelRecords { channel channelName sourceId matchRule matchScore rawRecord { payload } }
        enterprise { name uscc creditLevel }
        project {
          projectCode
          name
          region { fullName }
          wageAccounts { bankName salaryAccount accountBalance }
          payroll(first: 5) { edges { node { payMonth actualAmount payStatusName worker { name idNumber } } } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class Metrics:
    """Prometheus metrics of one app (own registry, so that tests can build several apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hub_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram("hub_http_request_seconds", "HTTP request latency", ["route"], registry=self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = (
            path
            if path in ("/graphql", "/healthz", "/readyz", "/metrics")
            else ("/static" if path.startswith("/static") else "/admin" if path.startswith("/admin") else "other")
        )
        status = {"code": 500}

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
            self.metrics.requests.labels(scope.get("method", ""), route, str(status["code"])).inc()


class HubGraphQL(GraphQL):
    """strawberry's ASGI GraphQL app with the hub's context and a GraphiQL served locally.

    WebSocket speaks graphql-transport-ws only (the legacy graphql-ws protocol would bypass the fan-out),
    with the ``events`` subscription served by the process's outbox reader (``fanout``).
    """

    graphql_transport_ws_handler_class = EventsTransportWSHandler

    def __init__(
        self,
        *,
        settings: Settings,
        sessions: Any,
        cipher: Cipher,
        sync_engine: Any,
        read_engine: Any = None,
        key_usage: KeyUsage | None = None,
        fanout: Fanout | None = None,
        secret_key: str = "",
        clock: Callable[[], dt.datetime] = utcnow,
        plans: PlanCache = PLANS,
    ) -> None:
        super().__init__(
            build_schema(max_depth=settings.max_query_depth),
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.fanout = fanout
        self.settings = settings
        self.key_usage = key_usage
        self.sessions = sessions
        self.cipher = cipher
        self.sync_engine = sync_engine
        self.read_engine = read_engine
        self.secret_key = secret_key
        self.clock = clock
        self.plans = plans
        self.sign_in_policy = SignInPolicy.from_settings(settings)
        #: The registry of named operations as this process serves it, and the automatic persisted queries.
        self.operations = OperationRegistry(sync_engine, refresh_seconds=settings.operations_refresh_seconds)
        self.persisted_queries = PersistedQueryCache(size=settings.apq_cache_size)
        env = Environment(loader=FileSystemLoader(SCHEMA_DIR / "templates"), autoescape=select_autoescape(["html"]))
        self._ide_html = env.get_template("graphiql.html").render(default_query=DEFAULT_QUERY)
        #: A known key's POST of a compiled operation, answered before strawberry's view (hub.app_compiled).
        self.compiled = CompiledAnswers(self)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self._ide_html)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL for a browser's GET without a query, but not for a persisted query's GET (Apollo's
        ``useGETForHashedQueries`` sends only ``extensions``, with ``Accept: */*`` from some clients)."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(request)

    async def execute_single(  # type: ignore[override]
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """strawberry's execution of one HTTP operation, once ``hub.operations`` has said what it runs:
        a persisted query's hash becomes its text (Apollo's protocol), and a principal in allow-list mode
        runs registered operations only. Refusals are GraphQL errors with their codes (HTTP 200, as
        Apollo clients expect of ``PersistedQueryNotFound``)."""
        try:
            if context.principal is None and (request_data.extensions or {}).get("persistedQuery") is not None:
                context.require_principal()  # say who may ask before saying which hashes the hub knows
            resolved = await resolve_operation(
                query=request_data.query,
                extensions=request_data.extensions,
                registry=self.operations,
                cache=self.persisted_queries,
                remember=context.principal is not None,
            )
            check_allowed(
                resolved,
                principal=context.principal,
                allowlist_roles=self.settings.allowlist_role_set(),
                operation_name=request_data.operation_name,
            )
        except HubError as exc:
            await context.session.close()  # nothing runs: HubRequest, which closes it, never starts
            return ExecutionResult(data=None, errors=[GraphQLError(exc.message, original_error=exc)])
        plan = self.plan_for(resolved)
        if plan is not None and request_data.operation_name in (None, plan.operation_name):
            # No resolver per field: authentication, the cost budget and the session's close as the
            # interpreter does them (schema.compiled); what the plan cannot answer it hands back.
            answer = await execute_plan(plan, request_data.variables, context)
            assert answer is not None  # (only a key to read again can send the request back here)
            return ExecutionResult(data=answer.data, errors=answer.errors, extensions=answer.extensions)
        if resolved.document is not request_data.query:
            request_data = dataclasses.replace(request_data, query=resolved.document)
        return await super().execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,  # type: ignore[arg-type]
            root_value=root_value,
            request_data=request_data,
        )

    def plan_for(self, resolved: ResolvedOperation) -> Plan | None:
        """The compiled plan this operation runs, if any: a registered operation is compiled on its first
        request in this process (once: ``PlanCache`` keeps it by the text's SHA-256), and a text put in
        the cache directly runs its plan too. ``HUB_COMPILED_OPERATIONS=false`` interprets everything."""
        if not self.settings.compiled_operations or not isinstance(resolved.document, str):
            return None
        plan: Plan | None
        if resolved.registered is not None and resolved.registered.operation_type == "query":
            plan = self.plans.add(
                cast(Schema, self.schema),
                resolved.document,
                resolved.registered.name,
                max_depth=self.settings.max_query_depth,
            )
        else:
            plan = self.plans.get(resolved.document)
        return plan if plan is not None and plan.compiled and plan.schema is self.schema else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry's HTTP handling, but a request it cannot read answers a GraphQL-style JSON error
        with a stable ``extensions.code`` (``BAD_REQUEST`` …) instead of plain text, and the request's
        session is closed when it never reached execution. The key's ``lastUsedAt`` is recorded once the
        answer is sent (throttled, off the request), so that a request never races its own write."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        refused = self.refuse_cross_site(request)
        if refused is not None:
            await refused(scope, receive, send)
            return
        key = _api_key(request)
        if key is not None and request.method == "POST":
            answered = await self.compiled.answer(request, key)
            if answered is not None:
                await answered(scope, receive, send)
                return
        try:
            response = await self.run(request)
        except HTTPException as exc:
            code = REQUEST_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
            log.info("refused a GraphQL request: %s %s", exc.status_code, exc.reason)
            response = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}, status_code=exc.status_code
            )
            context = scope.get("hub.context")
            if context is not None:
                await context.session.close()
        await response(scope, receive, send)
        context = scope.get("hub.context")
        if self.key_usage is not None and context is not None and context.principal is not None:
            self.key_usage.touch_soon(context.principal)

    def refuse_cross_site(self, request: Request) -> Response | None:
        """The 403 (``CSRF_REFUSED``) for a cookie-authenticated POST without the session's CSRF
        token or from another site (``admin.session``); ``None`` for any other request. A request
        with an API key is authenticated by the key, and the cookie is not looked at."""
        if request.method != "POST" or _api_key(request) is not None:
            return None
        token = session_token(request.cookies, self.settings)
        if token is None:
            return None
        try:
            check_same_site(request.headers, self.settings, scheme=request.url.scheme)
            check_csrf(request.headers, secret_key=self.secret_key, session_id=session_id_of(token))
        except HubError as exc:
            log.info("refused a signed-in POST to /graphql: %s", exc.message)
            return error_response(exc)
        return None

    async def cookie_principal(self, session: Any, request: Any, token: str) -> Principal:
        """The principal of a session cookie (``hub.users``), its last request recorded at most once a
        minute, on a thread with the synchronous engine (a read must rarely become a write). A
        WebSocket's handshake carries no CSRF token: its Origin must be the hub's own."""
        if request.scope.get("type") == "websocket":
            check_same_site(request.headers, self.settings, scheme=request.url.scheme)
        now = self.clock()
        principal, user_session = await session.run_sync(
            lambda s: authenticate_session(s, token=token, policy=self.sign_in_policy, now=now)
        )
        if now - user_session.last_seen_at >= USER_SESSION_TOUCH:

            def touch() -> None:
                with session_scope(self.sync_engine) as s:
                    touch_session(s, user_session=user_session, now=now)

            await asyncio.to_thread(touch)
        return principal

    async def parse_http_body(self, request: Any) -> Any:
        """Refuse, with a message saying what to send, a POST body that is not a JSON object (or a
        batch of them): strawberry would fail on ``"x"``, ``42`` or ``null`` with an AttributeError (a
        500 and a traceback per request), and on invalid UTF-8 or deep nesting likewise."""
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "POST" and "application/json" in content_type:
            body = await request.get_body()
            try:
                data = self.decode_json(body)
            except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
                raise HTTPException(
                    400, 'the request body is not valid JSON (UTF-8): send {"query": "...", "variables": {...}}'
                ) from exc
            items = data if isinstance(data, list) else [data]
            for item in items:
                if not isinstance(item, dict):
                    got = _JSON_TYPES.get(type(item), type(item).__name__)
                    raise HTTPException(
                        400,
                        f'the request body must be a JSON object {{"query": "...", "variables": {{...}}}}, got {got}',
                    )
                if not isinstance(item.get("operationName"), (str, type(None))):
                    raise HTTPException(400, "operationName must be a string or null, if provided")
        return await super().parse_http_body(request)

    def encode_json(self, data: object) -> str | bytes:
        """The response body, serialised once with orjson (UTF-8, the size the client receives); a result
        over ``HUB_MAX_RESPONSE_BYTES`` is replaced by a ``RESPONSE_TOO_LARGE`` error. A WebSocket
        message (it has a ``type``) stays text: graphql-transport-ws sends text frames."""
        body = orjson.dumps(data)
        if isinstance(data, dict) and "type" in data:
            return body.decode()
        limit = self.settings.max_response_bytes
        if len(body) > limit and isinstance(data, dict):
            size = len(body)
            return orjson.dumps(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": f"the response would be {size:,} bytes, over the limit of {limit:,}: ask for fewer rows (first) "
                            "or fewer fields",
                            "extensions": {"code": "RESPONSE_TOO_LARGE", "size": size, "limit": limit},
                        }
                    ],
                }
            )
        return body

    async def process_result(self, request: Request, result: Any) -> Any:
        if result.errors:
            result.errors = [shape_error(e) for e in result.errors]
        return process_result(result)

    async def get_context(self, request: Any, response: Any = None) -> Context:  # type: ignore[override]
        session = self.sessions()
        key = _api_key(request)
        token = session_token(request.cookies, self.settings) if key is None else None
        principal = None
        auth_error: Exception | None = None
        try:
            if token is not None:
                principal = await self.cookie_principal(session, request, token)
            else:
                principal = await session.run_sync(lambda s: authenticate(s, key))
                if key is not None:
                    self.compiled.keys.remember(key, principal)
        except HubError as exc:
            auth_error = exc
            if key is not None:
                self.compiled.keys.forget(key)
        context = self.make_context(
            request, principal=principal, auth_error=auth_error, session=session, response=response
        )
        if request.scope.get("type") == "http":
            request.scope["hub.context"] = context  # closed by __call__ if the request is refused unread
        return context

    def make_context(
        self,
        request: Any,
        *,
        principal: Principal | None,
        auth_error: Exception | None = None,
        session: Any = None,
        response: Any = None,
        lazy: bool = False,
    ) -> Context:
        """The resolvers' context of ``request``: a new session (unless given) limited to ``principal`` —
        with ``lazy``, made only if something asks for it (``hub.db.LazySession``)."""

        def limit(made: Any) -> None:
            if principal is not None:
                bind_principal(made.sync_session, principal)

        if session is None and lazy:
            session = LazySession(self.sessions, limit)
        else:
            session = session if session is not None else self.sessions()
            limit(session)
        return Context(
            session=session,
            principal=principal,
            loaders=Loaders(session),
            cipher=self.cipher,
            settings=self.settings,
            auth_error=auth_error,
            sync_engine=self.sync_engine,
            read_engine=self.read_engine,
            request=request,
            response=response,
            session_factory=self.sessions,
            operations=self.operations,
        )

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """A WebSocket client may send its key in the connection_init payload (browsers cannot set headers)."""
        params = context.connection_params or {}
        key = params.get("X-API-Key") or params.get(API_KEY_HEADER) or params.get("apiKey")
        if context.principal is None and isinstance(key, str):
            try:
                context.principal = await context.session.run_sync(lambda s: authenticate(s, key))
                context.auth_error = None
                if self.key_usage is not None:
                    self.key_usage.touch_soon(context.principal)
            except HubError as exc:
                context.auth_error = exc
        await context.session.close()  # the subscription opens its own sessions
        return None


#: How stale a session's last_seen_at may be before a request records itself (hub.users.TOUCH_EVERY).
USER_SESSION_TOUCH = dt.timedelta(minutes=1)


def _api_key(request: Any) -> str | None:
    """The API key a request carries, in ``X-API-Key`` or ``Authorization: Bearer``."""
    key: str | None = request.headers.get(API_KEY_HEADER)
    if key is None and (auth := request.headers.get("authorization", "")).lower().startswith("bearer "):
        key = auth[7:].strip()
    return key


def _install_calendar(engine: Engine) -> None:
    """The loaded holiday schedules (hub.holidays), so that this process counts deadlines on them."""
    try:
        with session_scope(engine) as session:
            sync_calendar(session)
    except Exception:  # a hub that cannot read them counts on the package and the statutory days (provisional)
        log.warning("could not read the loaded holiday calendar", exc_info=True)


def create_app(
    settings: Settings | None = None,
    *,
    extra_routes: list[Any] | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Starlette:
    """The hub's ASGI app for ``settings`` (default: from the environment); ``extra_routes`` are
    appended (``hub serve`` mounts the sandboxes there). ``clock`` is the sign-in sessions' (tests)."""
    settings = settings or get_settings()
    engine = make_async_engine(settings.resolved_database_url(), statement_timeout=settings.request_timeout_seconds)
    sessions = async_session_factory(engine)
    secret_key = settings.resolved_secret_key()
    cipher = Cipher(secret_key)
    sync_engine = make_engine(settings.resolved_database_url())
    # Compiled operations read on their own engine, time-limited as the GraphQL app's (schema.compiled).
    read_engine = make_read_engine(settings.resolved_database_url(), statement_timeout=settings.request_timeout_seconds)
    key_usage = KeyUsage(sync_engine, window=dt.timedelta(seconds=settings.api_key_touch_seconds))
    fanout = make_fanout(settings, sessions=sessions)
    graphql_app = HubGraphQL(
        settings=settings,
        sessions=sessions,
        cipher=cipher,
        sync_engine=sync_engine,
        read_engine=read_engine,
        key_usage=key_usage,
        fanout=fanout,
        secret_key=secret_key,
        clock=clock,
    )
    metrics = Metrics()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks: dict[str, str] = {}
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {exc.__class__.__name__}: {exc}"
        try:
            await asyncio.to_thread(check_broker, settings.broker_url)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unreachable: {exc.__class__.__name__}: {exc}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # What exists at startup (schema, models, the sandboxes' world) lives for the whole process:
        # keep it out of every later full collection, which otherwise stalls a request in six (p95).
        gc.collect()
        gc.freeze()
        await asyncio.to_thread(_install_calendar, sync_engine)
        yield
        await key_usage.settle()
        await fanout.stop()  # open subscriptions close with 1001: clients resume elsewhere with their cursor
        await engine.dispose()
        sync_engine.dispose()
        await dispose(read_engine)

    app = Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Mount(
                "/admin/api",
                routes=admin_auth_routes(settings=settings, engine=sync_engine, secret_key=secret_key, clock=clock),
            ),
            Mount(
                "/static/graphiql", StaticFiles(directory=SCHEMA_DIR / "static" / "graphiql"), name="graphiql-static"
            ),
            *admin_routes(),
            *(extra_routes or []),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.graphql = graphql_app  # its schema and plan cache (schema.compiled)
    app.state.sync_engine = sync_engine
    app.state.read_engine = read_engine  # compiled operations' reads
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.key_usage = key_usage
    app.add_middleware(
        RequestGuard,
        limit=settings.rate_limit,
        storage_url=settings.rate_limit_storage_url,
        max_body_bytes=settings.max_request_bytes,
    )
    # Sign-in attempts per client address (guessing passwords of many accounts, which the
    # per-account lockout alone would let through).
    app.add_middleware(
        RequestGuard,
        limit=settings.sign_in_rate_limit,
        storage_url=settings.rate_limit_storage_url,
        path="/admin/api/sign-in",
        max_body_bytes=16_384,
        by_key=False,
        namespace="sign-in",
    )
    app.state.fanout = fanout
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Security headers on every response (CSP on GraphiQL); /graphql/ redirects with a relative
    # Location, never one built from the Host header.
    app.add_middleware(SecurityHeadersMiddleware, csp_by_prefix={"/admin": ADMIN_CSP})
    relative_slash_redirects(app.router)
    return app
