"""HTTP hardening: security headers on every response, and redirects never built from ``Host``.

``SecurityHeadersMiddleware`` is a pure ASGI middleware (no response buffering, so streamed and
WebSocket traffic pass untouched). Every HTTP response gets ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: no-referrer`` and ``X-Frame-Options: DENY``; an HTML response (GraphiQL) also
gets a Content-Security-Policy that lets the page load only what the hub itself serves — GraphiQL's
script runs from ``/static/graphiql``, not inline — and that no other site may frame.

``IntrospectionByRole`` refuses ``__schema`` / ``__type`` to the roles not listed in
``HUB_INTROSPECTION_ROLES``: decided per request, for the principal asking, so that the schema's
validation rules (built once, results cached) stay the same for everyone.

``relative_slash_redirects`` replaces Starlette's ``redirect_slashes``: Starlette answers
``/graphql/`` with an absolute ``Location`` built from the request's ``Host`` header, so a spoofed
``Host`` (or a cache keyed without it) sends the client elsewhere. Here the redirect is relative.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from graphql import GraphQLError, NoSchemaIntrospectionCustomRule, validate
from graphql.execution import ExecutionResult
from starlette.routing import Match, Router
from strawberry.extensions import SchemaExtension

from hub.errors import Forbidden

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The policy of HTML pages. Scripts only from the hub; ``style-src`` allows inline styles because
#: GraphiQL's dialogs (react-remove-scroll) inject a ``<style>`` element at run time and the bundle
#: offers no way to give it a nonce. Fonts and images of graphiql.min.css are ``data:`` URLs; the
#: GraphiQL fetcher talks to ``/graphql`` over HTTP and WebSocket (``'self'`` covers ws/wss of the
#: same host).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

#: Sent on every HTTP response.
COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response, and the CSP to HTML ones.

    ``csp_by_prefix`` gives the HTML pages under a path prefix their own policy (the admin console's,
    see admin/app.py); the longest matching prefix wins, every other page gets ``csp``.
    """

    def __init__(
        self, app: ASGIApp, *, csp: str = CONTENT_SECURITY_POLICY, csp_by_prefix: Mapping[str, str] | None = None
    ) -> None:
        self.app = app
        self.csp = csp.encode("latin-1")
        self.csp_by_prefix = sorted(
            ((prefix, policy.encode("latin-1")) for prefix, policy in (csp_by_prefix or {}).items()),
            key=lambda item: -len(item[0]),
        )

    def _policy(self, path: str) -> bytes:
        for prefix, policy in self.csp_by_prefix:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return policy
        return self.csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                headers += COMMON_HEADERS
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.lower().startswith(b"text/html"):
                    headers.append((b"content-security-policy", self._policy(scope["path"])))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = {k for k, _ in COMMON_HEADERS} | {b"content-security-policy"}


def relative_slash_redirects(router: Router) -> None:
    """Redirect ``/path/`` ↔ ``/path`` like Starlette does, but with a relative ``Location``.

    Only when the other spelling matches one of ``router``'s routes; otherwise the router's 404.
    """
    not_found = router.default
    router.redirect_slashes = False

    async def redirect_or_not_found(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] == "http" and path != "/":
            other = path.rstrip("/") if path.endswith("/") else path + "/"
            # "//host" in a Location is another site: never answer with one.
            if other.startswith("/") and not other.startswith("//"):
                probe = {**scope, "path": other}
                if any(route.matches(probe)[0] is not Match.NONE for route in router.routes):
                    await _redirect(scope.get("root_path", "") + other, scope.get("query_string", b""), send)
                    return
        await not_found(scope, receive, send)

    router.default = redirect_or_not_found


async def _redirect(path: str, query: bytes, send: Any) -> None:
    location = quote(path, safe="/:@!$&'()*+,;=-._~") + ("?" + query.decode("latin-1") if query else "")
    await send(
        {
            "type": "http.response.start",
            "status": 307,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


class IntrospectionByRole(SchemaExtension):
    """Refuses schema introspection (``__schema``, ``__type``) to roles not in ``HUB_INTROSPECTION_ROLES``.

    ``__typename`` stays allowed (clients need it for unions and interfaces). An operation without a
    principal is left to ``schema.extensions.HubRequest``, which refuses it as unauthenticated.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context.context
        principal = getattr(ctx, "principal", None)
        settings = getattr(ctx, "settings", None)
        if (
            principal is not None
            and settings is not None
            and self.execution_context.result is None
            and principal.role not in settings.introspection_role_set()
            and self._introspects()
        ):
            err = Forbidden(
                f"introspection is disabled for role {principal.role}",
                suggestion="use the published schema (schema/schema.graphql), or ask an administrator to add the "
                "role to HUB_INTROSPECTION_ROLES",
            )
            self.execution_context.result = ExecutionResult(
                data=None, errors=[GraphQLError(err.message, original_error=err)]
            )
        yield

    def _introspects(self) -> bool:
        query = self.execution_context.query or ""
        document = self.execution_context.graphql_document
        if document is None or ("__schema" not in query and "__type" not in query):
            return False  # the cheap test first: "__type" also matches __typename, checked below
        schema = self.execution_context.schema._schema
        return bool(validate(schema, document, [NoSchemaIntrospectionCustomRule]))
