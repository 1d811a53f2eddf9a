"""A simulated 全国根治欠薪线索反映平台 data-sharing interface (JSON REST, bearer token).

Endpoints::

    POST /auth/token                 {"account", "password"} → {"accessToken", "expiresIn", "tokenType"}
    GET  /api/clues?startTime=&lastClueId=&pageSize=    clues after (updateTime, clueId)   (bearer)
    POST /api/clues/{clueId}/feedback                   核处结果 written back by the local platform (bearer)
    GET  /api/clues/{clueId}/feedback                   what was written back, for inspection (bearer)
    GET  /health

Tokens live ``token_ttl_seconds`` of wall-clock time; an expired one answers 401
``{"code": "TOKEN_EXPIRED"}``, an unknown one 401 ``TOKEN_INVALID``; wrong credentials 401
``AUTH_FAILED``. Clues carry the platform's fields (docs/domain.md: complainant, employer, arrears period,
amount, headcount, sector, region) as the world holds them plus ``updateTime``; live clues appear
every ``live_interval_seconds`` of ``clock()`` from the moment the world was seeded (``live_epoch``, shared
with the 12345 sandbox). Feedback is kept apart (``app.state.feedback``) and
does not change the clues served.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.clue_channel.client import CST, fmt_local
from connectors.clue_channel.sandbox import (
    corrupt_id_number,
    history_update_time,
    live_complaint,
    live_times,
    page_query,
    region_name,
    serve_page,
)
from connectors.sandbox.faults import FaultMiddleware, Faults

if TYPE_CHECKING:
    from connectors.sandbox.world import World

#: The credentials the sandbox accepts unless told otherwise (shown by the sandbox runner).
DEMO_CREDENTIALS = {"account": "hub-370800", "password": "sandbox-platform-pw"}
MAX_PAGE_SIZE = 100


def create_app(
    *,
    world: World,
    faults: Faults | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    live_interval_seconds: float = 20.0,
    account: str = DEMO_CREDENTIALS["account"],
    password: str = DEMO_CREDENTIALS["password"],
    token_ttl_seconds: float = 7200.0,
    **options: Any,
) -> FaultMiddleware:
    """The national platform sandbox over ``world``; ``account``/``password`` are the credentials it accepts."""
    if options:
        raise TypeError(f"unknown option(s): {', '.join(sorted(options))}")
    faults = faults or Faults()
    clock = clock or (lambda: dt.datetime.now(CST))
    history = [{**p, "updateTime": history_update_time(p)} for p in world.clue_payloads.get("national_platform", [])]
    live_cache: dict[int, dict[str, Any]] = {}
    tokens: dict[str, float] = {}  # token → expiry (time.monotonic)
    issued: list[str] = []
    feedback: dict[str, list[dict[str, Any]]] = {}
    lock = threading.Lock()

    def clues() -> list[dict[str, Any]]:
        live = []
        for k, at in live_times(world, clock(), live_interval_seconds):
            if k not in live_cache:
                live_cache[k] = _live_clue(world, k, at)
            live.append(live_cache[k])
        return sorted(history + live, key=lambda c: (c["updateTime"], c["clueId"]))

    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"code": code, "message": message}, status_code=status)

    def authorise(request: Request) -> JSONResponse | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return error(401, "TOKEN_MISSING", "缺少访问令牌: send Authorization: Bearer <accessToken>")
        with lock:
            expiry = tokens.get(token)
            if expiry is None:
                return error(401, "TOKEN_INVALID", "访问令牌无效: unknown token, sign in again")
            if expiry < time.monotonic() or faults.take("expire_token_next"):
                tokens.pop(token, None)
                return error(401, "TOKEN_EXPIRED", "访问令牌已过期: token expired, sign in again")
        return None

    async def token(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            ok = body.get("account") == account and secrets.compare_digest(
                str(body.get("password", "")).encode(), password.encode()
            )
        except (ValueError, AttributeError):
            return error(400, "BAD_REQUEST", '请求体应为JSON: {"account": ..., "password": ...}')
        if not ok:
            return error(401, "AUTH_FAILED", "账号或密码错误: wrong account or password")
        value = secrets.token_urlsafe(24)
        with lock:
            tokens[value] = time.monotonic() + token_ttl_seconds
            issued.append(value)
        return JSONResponse(
            {
                "code": "0",
                "message": "成功",
                "data": {"accessToken": value, "tokenType": "Bearer", "expiresIn": int(token_ttl_seconds)},
            }
        )

    async def list_clues(request: Request) -> JSONResponse:
        if (denied := authorise(request)) is not None:
            return denied
        try:
            size, after = page_query(
                request.query_params, start_param="startTime", key_param="lastClueId", max_size=MAX_PAGE_SIZE
            )
        except ValueError:
            return error(400, "BAD_REQUEST", "参数错误: pageSize 1-100, startTime yyyy-MM-dd HH:mm:ss")
        page, nxt, more = serve_page(
            clues(),
            time_field="updateTime",
            key_field="clueId",
            after=after,
            size=size,
            faults=faults,
            corrupt=_corrupt,
        )
        return JSONResponse(
            {
                "code": "0",
                "message": "成功",
                "data": {
                    "records": page,
                    "hasMore": more,
                    "nextStartTime": nxt[0] if nxt else None,
                    "nextLastClueId": nxt[1] if nxt else None,
                },
            }
        )

    async def clue_feedback(request: Request) -> JSONResponse:
        if (denied := authorise(request)) is not None:
            return denied
        clue_id = request.path_params["clueId"]
        if not any(c["clueId"] == clue_id for c in clues()):
            return error(404, "NOT_FOUND", f"线索不存在: no clue {clue_id}")
        if request.method == "GET":
            return JSONResponse({"code": "0", "message": "成功", "data": feedback.get(clue_id, [])})
        try:
            body = await request.json()
            missing = [f for f in ("handleResult", "finishTime", "handleStatus") if not str(body.get(f) or "").strip()]
        except (ValueError, AttributeError):
            return error(400, "BAD_REQUEST", "请求体应为JSON对象")
        if missing:
            return error(400, "BAD_REQUEST", f"缺少字段: {', '.join(missing)}")
        with lock:
            feedback.setdefault(clue_id, []).append({**body, "receivedAt": fmt_local(clock())})
        return JSONResponse({"code": "0", "message": "成功"})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/auth/token", token, methods=["POST"]),
            Route("/api/clues", list_clues),
            Route("/api/clues/{clueId}/feedback", clue_feedback, methods=["GET", "POST"]),
            Route("/health", health),
        ]
    )
    wrapped = FaultMiddleware(app, faults)
    app.state.faults = faults
    app.state.feedback = feedback
    app.state.tokens_issued = issued
    app.state.clues = clues
    return wrapped


def _corrupt(clue: dict[str, Any]) -> dict[str, Any] | None:
    """bad_records_next: a clue whose complainant ID number fails its check character → quarantine."""
    idn = clue.get("complainantIdNumber") or ""
    return {**clue, "complainantIdNumber": corrupt_id_number(idn)} if len(idn) == 18 else None


def _live_clue(world: World, k: int, at: dt.datetime) -> dict[str, Any]:
    """Live clue ``k``, reported by the complainant on the platform (小程序 / website)."""
    c = live_complaint(world, k, at, channel="national_platform")
    return {
        "clueId": f"GZQX{at.astimezone(CST):%Y%m%d}{90000000 + k:08d}",
        "reportTime": fmt_local(at),
        "complainantName": c.name,
        "complainantIdNumber": c.id_number,
        "complainantPhone": c.phone,
        "complainantBankCard": c.bank_card,
        "employerName": c.respondent["name"],
        "employerAddress": c.project["address"],
        "projectName": c.project["name"],
        "arrearsStartDate": c.start.isoformat(),
        "arrearsEndDate": c.end.isoformat(),
        "arrearsAmount": f"{c.amount:.2f}",
        "involvedNumber": c.headcount,
        "industry": "工程建设",
        "regionCode": c.county,
        "regionName": region_name(c.county, full=True),
        "content": c.text,
        "updateTime": fmt_local(at),
    }
