"""Sign-in over HTTP: ``POST /admin/api/sign-in``, ``POST /admin/api/sign-out``, ``GET /admin/api/session``.

The console signs in with a username and password (``hub.users.sign_in``) and gets the session
cookie (``admin.session``) and the session's CSRF token, which it sends as ``X-CSRF-Token`` with
every POST. Answers are JSON; a refusal is ``{"errors": [{"message", "extensions": {"code"}}]}`` as
the GraphQL API's are, with the code (BAD_CREDENTIALS, ACCOUNT_LOCKED, SESSION_EXPIRED, CSRF_REFUSED …).
The password work (argon2, on purpose slow) runs on a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from admin.session import check_csrf, check_same_site, cookie_header, session_token
from hub.db import session_scope
from hub.errors import Forbidden, HubError, InvalidInput, NotAuthenticated
from hub.models import User, UserSession, utcnow
from hub.settings import Settings
from hub.users import (
    SESSION_ENDED,
    SignInPolicy,
    authenticate_session,
    csrf_token,
    session_id_of,
    sign_in,
    sign_out,
    touch_session,
)


def error_response(exc: HubError) -> JSONResponse:
    """The JSON answer of a refusal, with its code (and suggestion) in ``extensions``: 401 when not
    signed in (or refused sign-in), 403 when forbidden (CSRF), 400 for bad input."""
    status = 401 if isinstance(exc, NotAuthenticated) else 403 if isinstance(exc, Forbidden) else 400
    return JSONResponse({"errors": [{"message": exc.message, "extensions": exc.extensions()}]}, status_code=status)


def user_json(user: User) -> dict[str, Any]:
    """What the console knows of the signed-in user (never the hash)."""
    return {
        "username": user.username,
        "displayName": user.display_name,
        "role": user.role,
        "regionCode": user.region_code,
        "sector": user.sector,
        "canUnmask": user.can_unmask,
    }


def _scheme(request: Request) -> str:
    return str(request.url.scheme)


def admin_auth_routes(
    *, settings: Settings, engine: Engine, secret_key: str, clock: Callable[[], dt.datetime] = utcnow
) -> list[Route]:
    """The sign-in routes, relative to ``/admin/api``, over the hub's synchronous ``engine``."""
    policy = SignInPolicy.from_settings(settings)
    max_age = int(policy.absolute.total_seconds())

    async def read_credentials(request: Request) -> tuple[str, str]:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            raise InvalidInput(
                'the request body is not JSON: send {"username": "...", "password": "..."}', field="body"
            ) from exc
        if not isinstance(body, dict):
            raise InvalidInput('send a JSON object {"username": "...", "password": "..."}', field="body")
        for name in ("username", "password"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise InvalidInput(f"{name} is missing: send it as a non-empty string", field=name)
        return body["username"], body["password"]

    async def sign_in_endpoint(request: Request) -> Response:
        try:
            check_same_site(request.headers, settings, scheme=_scheme(request))
            username, password = await read_credentials(request)
        except HubError as exc:
            return error_response(exc)
        now = clock()
        ip = request.client.host if request.client else None
        agent = request.headers.get("user-agent")

        def work() -> tuple[dict[str, Any] | None, str | None, HubError | None]:
            with session_scope(engine) as session:
                outcome = sign_in(
                    session, username=username, password=password, policy=policy, now=now, ip=ip, user_agent=agent
                )
                user = user_json(outcome.user) if outcome.user is not None else None
            return user, outcome.token, outcome.error

        user, token, error = await asyncio.to_thread(work)
        if error is not None or token is None or user is None:
            return error_response(error or NotAuthenticated(SESSION_ENDED))
        response = JSONResponse({"user": user, "csrfToken": csrf_token(secret_key, session_id_of(token))})
        response.headers.append("set-cookie", cookie_header(settings, token, max_age=max_age))
        response.headers["cache-control"] = "no-store"
        return response

    def current(token: str, *, touch: bool) -> tuple[dict[str, Any], UserSession]:
        now = clock()
        with session_scope(engine) as session:
            principal, user_session = authenticate_session(session, token=token, policy=policy, now=now)
            if touch:
                touch_session(session, user_session=user_session, now=now)
            user = session.get(User, principal.user_id)
            assert user is not None
            return user_json(user), user_session

    async def session_endpoint(request: Request) -> Response:
        token = session_token(request.cookies, settings)
        if token is None:
            return error_response(NotAuthenticated("未登录 / not signed in", suggestion="POST /admin/api/sign-in"))
        try:
            user, user_session = await asyncio.to_thread(current, token, touch=True)
        except HubError as exc:
            response = error_response(exc)
            response.headers.append("set-cookie", cookie_header(settings, "", max_age=0))
            return response
        return JSONResponse(
            {
                "user": user,
                "csrfToken": csrf_token(secret_key, user_session.id),
                "expiresAt": user_session.expires_at.isoformat(),
            },
            headers={"cache-control": "no-store"},
        )

    async def sign_out_endpoint(request: Request) -> Response:
        token = session_token(request.cookies, settings)
        if token is None:
            return error_response(NotAuthenticated("未登录 / not signed in", suggestion="nothing to sign out of"))
        try:
            check_same_site(request.headers, settings, scheme=_scheme(request))
            check_csrf(request.headers, secret_key=secret_key, session_id=session_id_of(token))
        except HubError as exc:
            return error_response(exc)

        def work() -> bool:
            with session_scope(engine) as session:
                return sign_out(session, token=token, now=clock())

        ended = await asyncio.to_thread(work)
        response = JSONResponse({"signedOut": ended})
        response.headers.append("set-cookie", cookie_header(settings, "", max_age=0))
        return response

    return [
        Route("/sign-in", sign_in_endpoint, methods=["POST"]),
        Route("/sign-out", sign_out_endpoint, methods=["POST"]),
        Route("/session", session_endpoint, methods=["GET"]),
    ]
