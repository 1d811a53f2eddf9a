"""A simulated 12345 政务服务便民热线 work-order interface (JSON REST, app key + HMAC signature).

Endpoints (all under the platform's base URL; every one needs the signature headers)::

    GET  /api/orders?updateTimeStart=&lastOrderNum=&pageSize=   work orders after (last change, orderNum)
    POST /api/orders/{orderNum}/result    办理结果 (conclusion, completeTime, recovered amount)
    POST /api/orders/{orderNum}/visit     回访 made by the hub (visitTime, visitIsSolved, satisfaction)
    GET  /api/orders/{orderNum}/result|visit   what was written back, for inspection
    GET  /health

Signature (a scheme common to 12345 platforms): headers ``X-App-Key``, ``X-Timestamp`` (epoch ms),
``X-Nonce`` and ``X-Sign`` = hex HMAC-SHA256(app secret, appKey + timestamp + nonce). A wrong key or
signature → 401; a timestamp more than 5 minutes off (wall clock) → 401 ``SIGN_EXPIRED``; a nonce
seen before → 401 ``NONCE_REUSED``.

Orders carry the 12345 work-order fields of docs/domain.md and nothing else, as the world holds them;
a few non-wage orders (questionCode other than 0801xx) are mixed in, as the platform's feed to 人社
carries them too. The platform pages by an order's last change (the latest of its event times,
``connectors.hotline12345.last_change``). Live wage orders appear every ``live_interval_seconds``
of ``clock()`` from the moment the world was seeded (``clue_channel.sandbox.live_epoch``): a full read
serves the world's history and the orders received since, whatever the hour.

The platform calls the complainant back itself: ``call_back_after_seconds`` after the hub writes a
办理结果 back, the order gains ``completeTime`` and its 回访 (``visitTime``, ``visitIsSolved``,
``satisfaction`` — 不满意 for about ``dissatisfied_share`` of the orders), and so comes back in the next
incremental read; ``app.state.call_back`` makes one at a given time (tests). A 回访 the hub writes back
shows on the order too. Every write-back is also kept as posted (``app.state.writebacks``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.clue_channel.client import CST, TIME_FORMAT, fmt_local
from connectors.clue_channel.sandbox import (
    live_complaint,
    live_times,
    page_query,
    region_name,
    serve_page,
)
from connectors.hotline12345 import position
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
#: 回访 fields the platform fills in when it calls the complainant back.
VISIT_FIELDS = ("completeTime", "visitTime", "visitIsSolved", "satisfaction")


def create_app(
    *,
    world: World,
    faults: Faults | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    live_interval_seconds: float = 20.0,
    app_key: str = DEMO_CREDENTIALS["app_key"],
    app_secret: str = DEMO_CREDENTIALS["app_secret"],
    non_wage_orders: int = 6,
    call_back_after_seconds: float | None = 600.0,
    dissatisfied_share: float = 0.1,
    **options: Any,
) -> FaultMiddleware:
    """The 12345 sandbox over ``world``; ``app_key``/``app_secret`` are the credentials it accepts.

    ``call_back_after_seconds``: how long after a 办理结果 the platform's own 回访 is made (None: never).
    """
    if options:
        raise TypeError(f"unknown option(s): {', '.join(sorted(options))}")
    faults = faults or Faults()
    clock = clock or (lambda: dt.datetime.now(CST))
    history = _history(world, non_wage_orders)
    live_cache: dict[int, dict[str, Any]] = {}
    writebacks: dict[str, dict[str, list[dict[str, Any]]]] = {}
    visits: dict[str, dict[str, Any]] = {}  # orderNum → the 回访 fields it shows from their visitTime on
    nonces: deque[str] = deque(maxlen=50_000)
    lock = threading.Lock()

    def orders() -> list[dict[str, Any]]:
        now = fmt_local(clock())
        live = []
        for k, at in live_times(world, clock(), live_interval_seconds):
            if k not in live_cache:
                live_cache[k] = _live_order(world, k, at)
            live.append(live_cache[k])
        with lock:
            due = {num: v for num, v in visits.items() if v["visitTime"] <= now}
        served = [{**o, **due[o["orderNum"]]} if o["orderNum"] in due else o for o in history + live]
        return sorted(served, key=position)

    def call_back(
        order_num: str, *, at: dt.datetime, satisfaction: str, solved: bool | None = None, completed: str | None = None
    ) -> None:
        """The platform's 回访 of ``order_num`` at ``at`` (shown from then on): what the complainant said."""
        order = next(o for o in history + list(live_cache.values()) if o["orderNum"] == order_num)
        with lock:
            visits[order_num] = {
                "completeTime": completed or order["completeTime"] or fmt_local(at),
                "visitTime": fmt_local(at),
                "visitIsSolved": "" if solved is None else ("1" if solved else "0"),
                "satisfaction": satisfaction,
            }

    def after_writeback(num: str, kind: str, body: dict[str, Any]) -> None:
        """What the platform does with a write-back: its own 回访 after a result; the hub's 回访 shown."""
        if kind == "visit":
            try:
                at = dt.datetime.strptime(str(body["visitTime"]), TIME_FORMAT).replace(tzinfo=CST)
            except ValueError:
                return  # kept as posted; the order shows only a well-formed 回访
            solved = {"1": True, "0": False}.get(str(body.get("visitIsSolved")))
            call_back(num, at=at, satisfaction=str(body["satisfaction"]), solved=solved)
        elif call_back_after_seconds is not None:
            satisfied = (
                world.rng("hotline12345-visit", num, len(writebacks[num]["result"])).random() >= dissatisfied_share
            )
            call_back(
                num,
                at=clock() + dt.timedelta(seconds=call_back_after_seconds),
                satisfaction="满意" if satisfied else "不满意",
                solved=satisfied,
                completed=str(body["completeTime"]),
            )

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
            position=position,
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
            after_writeback(num, kind, body)
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
    app.state.call_back = call_back
    return wrapped


def _corrupt(order: dict[str, Any]) -> dict[str, Any] | None:
    """bad_records_next: a wage order that lost its 主要内容 (a required field) → quarantine."""
    return {**order, "majorContent": ""} if order["questionCode"].startswith("0801") else None


def _history(world: World, non_wage: int) -> list[dict[str, Any]]:
    """Every 12345 order the world holds, as the platform sends it, plus a few non-wage orders."""
    out = [dict(payload) for payload in world.clue_payloads.get("hotline12345", [])]
    counties = sorted({p["region_code"] for p in world.projects.values()})
    for i in range(non_wage):
        out.append(_non_wage_order(world, i, counties))
    return out


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
    }
