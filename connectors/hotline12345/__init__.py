"""12345 政务服务便民热线: wage work orders (工单) into the clue pool, results back, call-backs in.

The platform shares the work orders dispatched to 人社 over JSON REST, signed with an app key and an
HMAC-SHA256 signature of timestamp + nonce (see ``sign_headers``). An order carries the platform's own
fields only (docs/domain.md "The 12345 work order"): ``orderNum, callTime, callerName, callerPhone,
sourceType, reflectName, questionCode, majorContent, organizationName, handleDays, deadlineDate,
dispatchTime, completeTime, isSupervise, isTimeout, oldOrderNum, isOldCaller, visitTime,
visitIsSolved, satisfaction``. What the hub needs beyond them is derived here:

- the county: from ``organizationName``, the 承办单位 the order was dispatched to
  (微山县人力资源和社会保障局 → 370826, GB/T 2260; 济南市市中区… where a county's name is not unique);
- the respondent and the project: as the caller named them in ``majorContent`` (被…拖欠, 在…项目务工);
  a caller who names no employer leaves the respondent empty, which the matcher does not key on;
- the order's last change (the incremental cursor): the latest of its event times (``last_change``).

Only wage orders (``questionCode`` 0801xx, 劳动保障-拖欠工资) are clues; the others are archived and
skipped. ``oldOrderNum`` — the platform's own link from a repeat caller's order to the earlier one —
is passed on so the pool joins them (rule ``linked``). The platform's call-back (回访) comes back on the
order and is taken in by the hub (``hub.channel_feedback``): 不满意 reopens the clue (重办). Closing a
clue writes the 办理结果 back, and the hub's own 回访 when it made one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr

from connectors.base import (
    CallbackIn,
    CheckResult,
    ClueIn,
    Connector,
    ConnectorConfig,
    CredentialsRefused,
    Entity,
    FatalUpstreamError,
    MalformedResponse,
    Outcome,
    Page,
    Rejection,
    Stream,
    check_connection,
    fields,
    map_exceptions,
    secret,
)
from connectors.clue_channel.client import WORDING, Position, batch_from, fmt_local, read_keyset
from hub.regions import iter_regions
from hub.vocab import RequestType, Satisfaction
from hub.workdays import add_working_days

KIND = "hotline12345"
#: 12345 question class 0801xx: 劳动保障-拖欠工资 (the wage-arrears class, e.g. 080101).
WAGE_QUESTION_PREFIX = "0801"
REFUSED = "the 12345 platform refused the app key or signature (HTTP {status}): check app_key and app_secret"


class Hotline12345Config(ConnectorConfig):
    """Where the city's 12345 platform is and the app credentials it issued to the hub."""

    app_key: str = Field(min_length=1, description="App key (appKey) issued by the 12345 platform.")
    app_secret: SecretStr = secret("App secret used to sign requests (HMAC-SHA256).")


def sign_headers(app_key: str, app_secret: str) -> dict[str, str]:
    """Signature headers for one request: hex HMAC-SHA256(app secret, appKey + timestamp + nonce)."""
    ts, nonce = str(int(time.time() * 1000)), uuid.uuid4().hex
    sign = hmac.new(app_secret.encode(), f"{app_key}{ts}{nonce}".encode(), hashlib.sha256).hexdigest()
    return {"X-App-Key": app_key, "X-Timestamp": ts, "X-Nonce": nonce, "X-Sign": sign}


class _Api:
    """Signed calls to the platform over one HTTP client; every upstream error mapped at the boundary."""

    def __init__(self, config: Hotline12345Config, *, stream: str = "") -> None:
        self.config = config
        self.stream = stream
        self.http = httpx.Client(base_url=config.base_url, timeout=config.timeout_seconds)

    def __enter__(self) -> _Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None) -> Any:
        """The ``data`` of the platform's ``{"code": "0", "msg": ..., "data": ...}`` answer."""
        with map_exceptions(connector=KIND, stream=self.stream):
            headers = sign_headers(self.config.app_key, self.config.app_secret.get_secret_value())
            resp = self.http.request(method, path, params=params, json=json, headers=headers)
            # A stale timestamp ("expired") is retried with a fresh signature (TokenExpired); any other 401 is fatal.
            if resp.status_code in (401, 403) and "expired" not in resp.text.lower():
                raise CredentialsRefused(REFUSED.format(status=resp.status_code), detail=resp.text[:300])
            resp.raise_for_status()
            body = resp.json()
            if not isinstance(body, dict) or "code" not in body:
                raise MalformedResponse("answer without a code", detail=resp.text[:300])
            if str(body["code"]) != "0":
                raise FatalUpstreamError(f"the 12345 platform answered code {body['code']}: {body.get('msg')}")
            return body.get("data")


class WorkOrders(Stream[Hotline12345Config]):
    """工单 dispatched to 人社, by last change (:func:`last_change`, then ``orderNum``).

    The bookmark keeps the names of the platform's query parameters (``updateTimeStart``,
    ``lastOrderNum``): ``updateTime`` is the last change the hub derived, not a field of the order.
    """

    name = "work_orders"
    primary_key = ("orderNum",)
    sensitive = ()  # phones are kept (matching needs them) and masked on output
    cursor_field = "updateTime"

    def cursor_value(self, record: dict[str, Any]) -> str:
        """The order's last change (:func:`last_change`): the platform sends no update time of its own."""
        return last_change(record)

    def read(self, state: dict[str, Any]) -> Iterator[Page]:
        with _Api(self.config, stream=self.name) as api:

            def fetch(pos: tuple[str, str] | None) -> Any:
                params: dict[str, Any] = {"pageSize": self.config.page_size}
                if pos:
                    params.update(updateTimeStart=pos[0], lastOrderNum=pos[1])
                data = api.call("GET", "api/orders", params=params)
                return batch_from(
                    data,
                    records="list",
                    has_more="hasMore",
                    next_time="nextUpdateTime",
                    next_key="nextOrderNum",
                    connector=KIND,
                    stream=self.name,
                )

            yield from read_keyset(
                fetch,
                state,
                time_field="updateTime",
                key_field="orderNum",
                connector=KIND,
                stream=self.name,
                start_date=self.config.start_date,
                position=position,
            )


class Hotline12345Connector(Connector[Hotline12345Config]):
    """The city's 12345 hotline: wage work orders in, 办理结果 and 回访 out."""

    kind = KIND
    title = "12345政务服务便民热线"
    config_model = Hotline12345Config
    sandbox = "connectors.hotline12345.sandbox:create_app"

    def check(self, config: Hotline12345Config) -> CheckResult:
        """Ask for one work order with the app key and signature."""

        def probe() -> str:
            with _Api(config) as api:
                api.call("GET", "api/orders", params={"pageSize": 1})
            return f"connected to the 12345 platform: app key {config.app_key} accepted"

        return check_connection(probe, system="the 12345 platform", where=config.base_url)

    def streams(self, config: Hotline12345Config) -> list[Stream[Hotline12345Config]]:
        return [WorkOrders(self, config)]

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        """A wage work order → one ``ClueIn``; other question classes → nothing (skipped, not quarantined)."""
        if stream != WorkOrders.name:
            raise Rejection(
                f"unknown stream {stream!r}: this connector reads work_orders", field="stream", value=stream
            )
        if not fields.text(record, "questionCode", wording=WORDING).startswith(WAGE_QUESTION_PREFIX):
            return []
        order_num = fields.text(record, "orderNum", wording=WORDING)
        called = fields.local_time(record, "callTime", wording=WORDING)
        content = fields.text(record, "majorContent", wording=WORDING)
        organisation = fields.text(record, "organizationName", wording=WORDING)
        region = region_of_organisation(organisation)
        if region is None:
            raise Rejection(
                f"organizationName {organisation!r} names no single county or city (GB/T 2260): expected the "
                "承办单位 like 微山县人力资源和社会保障局, or with its city (济南市市中区…) where counties share a name",
                field="organizationName",
                value=organisation,
            )
        respondent = respondent_in(content)
        project = project_in(content)
        caller = fields.text(record, "callerName", required=False)
        word = fields.text(record, "reflectName", required=False)
        return [
            ClueIn(
                channel=KIND,
                source_id=order_num,
                received_at=called,
                title=f"{caller or '来电人'}反映{respondent or '用人单位'}拖欠工资",
                content=content,
                region_code=region,
                respondent_name=respondent or "",
                complainant_name=caller,
                complainant_phone=fields.text(record, "callerPhone", required=False),  # mobile or landline: hub checks
                sector="工程建设" if project or _CONSTRUCTION.search(content) else "非工程",
                project_name=project,
                related_source_id=fields.text(record, "oldOrderNum", required=False),
                request_type=REQUEST_TYPES.get(word.strip()) if word else None,
                source_type=fields.text(record, "sourceType", required=False),
                deadline_date=_deadline(record, called),
                supervised=fields.flag(record, "isSupervise", wording=WORDING),
                repeat_caller=fields.flag(record, "isOldCaller", wording=WORDING),
                callback=_callback(record),
            )
        ]

    def write_back(self, config: Hotline12345Config, outcome: Outcome) -> None:
        """POST the 办理结果, then the 回访 when the outcome carries a satisfaction (call-back done).

        ``outcome.extra`` may hold ``called_back_at`` (the call-back time; default: the closing time)
        and ``solved`` (bool; default: not 不满意).
        """
        order = quote(outcome.source_id, safe="")
        with _Api(config, stream="write_back") as api:
            api.call(
                "POST",
                f"api/orders/{order}/result",
                json={
                    "handleResult": outcome.conclusion,
                    "completeTime": fmt_local(outcome.closed_at),
                    "handleStatus": "办结",
                    "recoveredAmount": None if outcome.recovered_amount is None else f"{outcome.recovered_amount:.2f}",
                    "workersPaid": outcome.workers_paid,
                    "hubClueNo": outcome.clue_no,
                },
            )
            if outcome.satisfaction:
                solved = outcome.extra.get("solved", outcome.satisfaction != "不满意")
                api.call(
                    "POST",
                    f"api/orders/{order}/visit",
                    json={
                        "visitTime": fmt_local(outcome.extra.get("called_back_at") or outcome.closed_at),
                        "visitIsSolved": "1" if solved else "0",
                        "satisfaction": outcome.satisfaction,
                    },
                )


#: The platform's request types (reflectName) the hub has deadlines for; another word (举报, 建议 …) is no type.
REQUEST_TYPES = {t.label: t for t in RequestType}
#: The order's event times, in the platform's "YYYY-MM-DD HH:MM:SS": the latest is its last change.
EVENT_TIME_FIELDS = ("callTime", "dispatchTime", "completeTime", "visitTime")
#: The platform's satisfaction words → the hub's (hub.vocab.Satisfaction); some cities grade five ways.
SATISFACTION_WORDS = {
    "非常满意": Satisfaction.SATISFIED,
    "满意": Satisfaction.SATISFIED,
    "基本满意": Satisfaction.BASICALLY_SATISFIED,
    "不满意": Satisfaction.DISSATISFIED,
    "非常不满意": Satisfaction.DISSATISFIED,
}
#: Where a caller names who owes the wages (the operators' phrasing of 12345 texts), most specific first.
_RESPONDENT = (
    re.compile(r"被([^，。；、]{2,60}?)(?:拖欠|克扣)"),
    re.compile(r"反映(?!其)([^，。；、]{2,60}?)拖欠"),
    re.compile(r"[，。；]([^，。；、被]{2,60}?)(?:至今未支付|拖欠|未支付|未发放)"),
    re.compile(r"找([^，。；、]{2,60}?)要"),
    re.compile(r"([^，。；、\s其在]{2,40}?(?:有限责任公司|股份有限公司|有限公司|劳务队|项目部))"),
)
#: A project the caller worked on: "在…项目/工程/工地 务工 / 从事 / 干".
_PROJECT = re.compile(r"在([^，。；]{4,60}?(?:项目|工程|工地|标段)(?:（[^（）]{1,20}）)?)(?:务工|从事|干|工作)")
#: Words of a construction site: the order is about 工程建设 even when it names no project.
_CONSTRUCTION = re.compile(r"项目|工程|工地|班组|包工头|农民工")
#: Words that introduce the caller, never a respondent.
_NOT_RESPONDENT = ("来电人", "其", "本人", "我")
#: Suffixes of a 承办单位's name after its region: the county's or city's labour bureau or inspectorate.
_BUREAU = re.compile(r"(?:人力资源和社会保障局|人力资源社会保障局|人社局|劳动保障监察.*|劳动监察.*)$")


def last_change(order: dict[str, Any]) -> str:
    """An order's last change: the latest of its event times (the platform's incremental order)."""
    return max((str(order[f]) for f in EVENT_TIME_FIELDS if order.get(f)), default="")


def position(order: dict[str, Any]) -> Position:
    """Where an order stands in the platform's order: (last change, orderNum)."""
    return last_change(order), str(order.get("orderNum", ""))


def respondent_in(text: str) -> str | None:
    """The employer the caller says owes the wages, as named in the order's text; None when not named."""
    for pattern in _RESPONDENT:
        for found in pattern.finditer(text):
            name = found.group(1).strip()
            if not name.startswith(_NOT_RESPONDENT):
                return name
    return None


def project_in(text: str) -> str | None:
    """The project (or site) the caller worked on, as named in the order's text; None when not named."""
    found = _PROJECT.search(text)
    return found.group(1) if found else None


@lru_cache(maxsize=1)
def _region_names() -> dict[str, list[tuple[str, str | None]]]:
    """GB/T 2260 names → [(code, parent code)]: a county's name may recur across China (市中区, 鼓楼区)."""
    names: dict[str, list[tuple[str, str | None]]] = {}
    for row in iter_regions():
        names.setdefault(row.name, []).append((row.code, row.parent_code))
    return names


def region_of_organisation(name: str) -> str | None:
    """The county (or city) of a 承办单位, from the region names its name starts with.

    微山县人力资源和社会保障局 → 370826; 济南市市中区人力资源和社会保障局 → 370103 (the city tells which
    市中区); 济宁市人力资源和社会保障局 → 370800. None when the name is not a region's, or not one region's.
    """
    rest = _BUREAU.sub("", name.strip())
    names = _region_names()
    code: str | None = None
    while rest:
        prefix = next((rest[:i] for i in range(len(rest), 1, -1) if rest[:i] in names), None)
        if prefix is None:
            return None
        options = [c for c, parent in names[prefix] if code is None or parent == code]
        if len(options) != 1:
            return None  # not under the region named before it, or a name several regions share
        code, rest = options[0], rest[len(prefix) :]
    return code


def _deadline(order: dict[str, Any], called: dt.datetime) -> dt.date | None:
    """The order's own deadline: ``deadlineDate``, else ``handleDays`` working days from the call."""
    deadline = fields.date(order, "deadlineDate", required=False, wording=WORDING)
    days = fields.integer(order, "handleDays", required=False, allow_negative=False, wording=WORDING)
    if deadline is None and days is not None and days > 0:
        deadline = add_working_days(called.date(), days)
    return deadline


def _callback(order: dict[str, Any]) -> CallbackIn | None:
    """The platform's 回访 of the order: when, satisfied or not, solved or not; None before it is made.

    A call-back that gives only ``visitIsSolved`` counts as 满意 (solved) or 不满意 (not solved).
    """
    at = fields.local_time(order, "visitTime", required=False, wording=WORDING)
    if at is None:
        return None
    answered = fields.text(order, "visitIsSolved", required=False) is not None
    solved = fields.flag(order, "visitIsSolved", wording=WORDING) if answered else None
    word = fields.text(order, "satisfaction", required=False)
    if word is None:
        if solved is None:
            return None
        satisfaction = Satisfaction.SATISFIED if solved else Satisfaction.DISSATISFIED
    elif word in SATISFACTION_WORDS:
        satisfaction = SATISFACTION_WORDS[word]
    else:
        raise Rejection(
            f"satisfaction {word!r} is not one of {', '.join(SATISFACTION_WORDS)}", field="satisfaction", value=word
        )
    return CallbackIn(at=at, satisfaction=satisfaction, solved=solved)


__all__ = [
    "Hotline12345Config",
    "Hotline12345Connector",
    "WorkOrders",
    "last_change",
    "position",
    "project_in",
    "region_of_organisation",
    "respondent_in",
    "sign_headers",
]
