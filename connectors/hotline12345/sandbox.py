"""A simulated 12345 政务服务便民热线 work-order interface (JSON REST, app key + HMAC signature).

Endpoints (all under the platform's base URL; every one needs the signature headers)::

    GET  /api/orders?updateTimeStart=&lastOrderNum=&pageSize=   work orders after (updateTime, orderNum)
    POST /api/orders/{orderNum}/result    办理结果 (conclusion, completeTime, recovered amount)
    POST /api/orders/{orderNum}/visit     回访 (visitTime, visitIsSolved, satisfaction)
    GET  /api/orders/{orderNum}/result|visit   what was written back, for inspection
    GET  /health

Signature (a scheme common to 12345 platforms): headers ``X-App-Key``, ``X-Timestamp`` (epoch ms),
``X-Nonce`` and ``X-Sign`` = hex HMAC-SHA256(app secret, appKey + timestamp + nonce). A wrong key or
signature → 401; a timestamp more than 5 minutes off (wall clock) → 401 ``SIGN_EXPIRED``; a nonce
seen before → 401 ``NONCE_REUSED``.

Orders carry the docs/domain.md 12345 fields as the world holds them, plus what this platform adds:
``updateTime`` (the order's last change), ``reflectObject`` (被反映对象), ``regionCode`` (the county
the order was dispatched to) and ``projectName`` — derived from the world's enterprises, projects and
regions. A few non-wage orders (questionCode other than 0801xx) are mixed in, as the platform's feed
to 人社 carries them too. Live wage orders appear every ``live_interval_seconds`` of ``clock()``.
Write-backs are kept apart (``app.state.writebacks``) and do not change the orders served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.clue_channel.client import CST, fmt_local
from connectors.clue_channel.sandbox import (
    county_by_name,
    history_update_time,
    live_complaint,
    live_times,
    page_query,
    region_name,
    serve_page,
)
from connectors.sandbox.faults import FaultMiddleware, Faults
from hub.identifiers import make_phone
from hub.seed.world import person_name
from hub.workdays import add_working_days

if TYPE_CHECKING:
    from connectors.sandbox.world import World

#: The credentials the sandbox accepts unless told otherwise (shown by the sandbox runner).
DEMO_CREDENTIALS = {"app_key": "hub-12345", "app_secret": "sandbox-12345-secret"}
MAX_PAGE_SIZE = 100
SIGN_WINDOW_SECONDS = 300
ORG_SUFFIX = "人力资源和社会保障局"
#: 12345 question codes (分类): 0801xx 劳动保障-拖欠工资 is the wage-clue class.
NON_WAGE = (
    ("080201", "来电人咨询灵活就业人员养老保险缴费基数及办理渠道，请相关部门予以解答。"),
    ("080202", "来电人反映其所在单位未为其缴纳社会保险，要求核实处理。"),
    ("080401", "来电人咨询失业保险金申领条件及所需材料。"),
    ("080501", "来电人咨询职业技能提升补贴的申请流程。"),
)
#: A company name after the words that introduce it in complaint texts (for respondents not in the world).
_COMPANY = re.compile(r"(?:被|找|反映|其在|，)(?!其在)([^，。被找]{4,40}?(?:有限责任公司|股份有限公司|有限公司))")


def create_app(
    *,
    world: World,
    faults: Faults | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    live_interval_seconds: float = 20.0,
    app_key: str = DEMO_CREDENTIALS["app_key"],
    app_secret: str = DEMO_CREDENTIALS["app_secret"],
    non_wage_orders: int = 6,
    **options: Any,
) -> FaultMiddleware:
    """The 12345 sandbox over ``world``; ``app_key``/``app_secret`` are the credentials it accepts."""
    if options:
        raise TypeError(f"unknown option(s): {', '.join(sorted(options))}")
    faults = faults or Faults()
    clock = clock or (lambda: dt.datetime.now(CST))
    history = _history(world, non_wage_orders)
    live_cache: dict[int, dict[str, Any]] = {}
    writebacks: dict[str, dict[str, list[dict[str, Any]]]] = {}
    nonces: deque[str] = deque(maxlen=50_000)
    lock = threading.Lock()

    def orders() -> list[dict[str, Any]]:
        live = []
        for k, at in live_times(world, clock(), live_interval_seconds):
            if k not in live_cache:
                live_cache[k] = _live_order(world, k, at)
            live.append(live_cache[k])
        return sorted(history + live, key=lambda o: (o["updateTime"], o["orderNum"]))

    def refuse(code: str, msg: str) -> JSONResponse:
        return JSONResponse({"code": code, "msg": msg}, status_code=401)

    def authorise(request: Request) -> JSONResponse | None:
        h = request.headers
        key, ts, nonce, sign = h.get("x-app-key"), h.get("x-timestamp"), h.get("x-nonce"), h.get("x-sign")
        if not (key and ts and nonce and sign):
            return refuse("401", "缺少签名参数: X-App-Key, X-Timestamp, X-Nonce and X-Sign are required")
        expected = hmac.new(app_secret.encode(), f"{key}{ts}{nonce}".encode(), hashlib.sha256).hexdigest()
        if key != app_key or not hmac.compare_digest(expected.encode(), sign.lower().encode()):
            return refuse("401", "appKey或签名错误: unknown app key or bad signature")
        if (
            not ts.isdigit()
            or abs(time.time() * 1000 - int(ts)) > SIGN_WINDOW_SECONDS * 1000
            or faults.take("expire_token_next")
        ):
            return refuse("SIGN_EXPIRED", "请求已过期: timestamp expired, sign the request again")
        with lock:
            if nonce in nonces:
                return refuse("NONCE_REUSED", "nonce已使用: replayed request")
            nonces.append(nonce)
        return None

    async def list_orders(request: Request) -> JSONResponse:
        if (denied := authorise(request)) is not None:
            return denied
        try:
            size, after = page_query(
                request.query_params, start_param="updateTimeStart", key_param="lastOrderNum", max_size=MAX_PAGE_SIZE
            )
        except ValueError:
            return JSONResponse(
                {"code": "400", "msg": "参数错误: pageSize 1-100, updateTimeStart yyyy-MM-dd HH:mm:ss"}, 400
            )
        page, nxt, more = serve_page(
            orders(),
            time_field="updateTime",
            key_field="orderNum",
            after=after,
            size=size,
            faults=faults,
            corrupt=_corrupt,
        )
        return JSONResponse(
            {
                "code": "0",
                "msg": "成功",
                "data": {
                    "list": page,
                    "hasMore": more,
                    "nextUpdateTime": nxt[0] if nxt else None,
                    "nextOrderNum": nxt[1] if nxt else None,
                },
            }
        )

    def writeback(kind: str, required: tuple[str, ...]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            if (denied := authorise(request)) is not None:
                return denied
            num = request.path_params["orderNum"]
            if not any(o["orderNum"] == num for o in orders()):
                return JSONResponse({"code": "404", "msg": f"工单不存在: no order {num}"}, 404)
            if request.method == "GET":
                return JSONResponse({"code": "0", "msg": "成功", "data": writebacks.get(num, {}).get(kind, [])})
            try:
                body = await request.json()
                missing = [f for f in required if not str(body.get(f) or "").strip()]
            except (ValueError, AttributeError):
                return JSONResponse({"code": "400", "msg": "请求体不是JSON对象"}, 400)
            if missing:
                return JSONResponse({"code": "400", "msg": f"缺少字段: {', '.join(missing)}"}, 400)
            with lock:
                writebacks.setdefault(num, {}).setdefault(kind, []).append({**body, "receivedAt": fmt_local(clock())})
            return JSONResponse({"code": "0", "msg": "成功"})

        return endpoint

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/api/orders", list_orders),
            Route(
                "/api/orders/{orderNum}/result",
                writeback("result", ("handleResult", "completeTime")),
                methods=["GET", "POST"],
            ),
            Route(
                "/api/orders/{orderNum}/visit",
                writeback("visit", ("visitTime", "satisfaction")),
                methods=["GET", "POST"],
            ),
            Route("/health", health),
        ]
    )
    wrapped = FaultMiddleware(app, faults)
    app.state.faults = faults
    app.state.writebacks = writebacks
    app.state.orders = orders
    return wrapped


def _corrupt(order: dict[str, Any]) -> dict[str, Any] | None:
    """bad_records_next: a wage order that lost its 被反映对象 (a required field) → quarantine."""
    return {**order, "reflectObject": ""} if order["questionCode"].startswith("0801") else None


def _history(world: World, non_wage: int) -> list[dict[str, Any]]:
    """Every 12345 order the world holds, with the platform's extra fields, plus a few non-wage orders."""
    # One alternation per kind, longest names first, so a name is found in one pass over the text.
    enterprises = _alternation(e["name"] for e in world.enterprises.values())
    projects = {p["name"]: p for p in world.projects.values()}
    project_names = _alternation(projects)
    out = []
    for payload in world.clue_payloads.get("hotline12345", []):
        text = payload["majorContent"]
        m = enterprises.search(text) or _COMPANY.search(text)
        respondent = m.group(m.lastindex or 0) if m else None
        found = project_names.search(text)
        project = projects[found.group(0)] if found else None
        county = county_by_name(payload["organizationName"].removesuffix(ORG_SUFFIX), within=world.region)
        out.append(
            {
                **payload,
                "updateTime": history_update_time(payload),
                "reflectObject": respondent or "",
                "regionCode": county or (project["region_code"] if project else ""),
                "projectName": project["name"] if project else "",
            }
        )
    counties = sorted({p["region_code"] for p in world.projects.values()})
    for i in range(non_wage):
        out.append(_non_wage_order(world, i, counties))
    return out


def _alternation(names: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True)) or "(?!)")


def _non_wage_order(world: World, i: int, counties: list[str]) -> dict[str, Any]:
    r = world.rng("hotline12345-non-wage", i)
    day = world.today - dt.timedelta(days=3 + 11 * i)
    called = dt.datetime.combine(day, dt.time(), tzinfo=CST) + dt.timedelta(seconds=r.randrange(8 * 3600, 18 * 3600))
    done = called + dt.timedelta(hours=r.randint(4, 40))
    code, content = NON_WAGE[i % len(NON_WAGE)]
    county = counties[i % len(counties)]
    return {
        "orderNum": f"{called:%Y%m%d}{80000000 + i:08d}",
        "callTime": fmt_local(called),
        "callerName": person_name(r),
        "callerPhone": make_phone(r),
        "sourceType": "电话",
        "reflectName": "咨询",
        "questionCode": code,
        "majorContent": content,
        "organizationName": f"{region_name(county)}{ORG_SUFFIX}",
        "handleDays": 2,
        "deadlineDate": (day + dt.timedelta(days=2)).isoformat(),
        "dispatchTime": fmt_local(called + dt.timedelta(minutes=30)),
        "completeTime": fmt_local(done),
        "isSupervise": "0",
        "isTimeout": "0",
        "oldOrderNum": "",
        "isOldCaller": "0",
        "visitTime": "",
        "visitIsSolved": "",
        "satisfaction": "",
        "updateTime": fmt_local(done),
        "reflectObject": "",
        "regionCode": county,
        "projectName": "",
    }


def _live_order(world: World, k: int, at: dt.datetime) -> dict[str, Any]:
    """Live wage order ``k``: just received, not yet dispatched."""
    c = live_complaint(world, k, at, channel="hotline12345")
    r = world.rng("hotline12345-live", k)
    return {
        "orderNum": f"{at.astimezone(CST):%Y%m%d}{90000000 + k:08d}",
        "callTime": fmt_local(at),
        "callerName": c.name,
        "callerPhone": c.phone,
        "sourceType": r.choices(("电话", "网站", "微信", "APP"), (75, 8, 12, 5))[0],
        "reflectName": r.choice(("投诉", "求助")),
        "questionCode": "080101",
        "majorContent": c.text,
        "organizationName": f"{region_name(c.county)}{ORG_SUFFIX}",
        "handleDays": 15,
        "deadlineDate": add_working_days(at.astimezone(CST).date(), 15).isoformat(),
        "dispatchTime": "",
        "completeTime": "",
        "isSupervise": "1" if c.headcount >= 10 else "0",
        "isTimeout": "0",
        "oldOrderNum": "",
        "isOldCaller": "0",
        "visitTime": "",
        "visitIsSolved": "",
        "satisfaction": "",
        "updateTime": fmt_local(at),
        "reflectObject": c.respondent["name"],
        "regionCode": c.county,
        "projectName": c.project["name"],
    }
