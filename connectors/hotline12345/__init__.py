"""12345 政务服务便民热线: wage work orders (工单) into the clue pool, results and call-backs back.

The platform shares the work orders dispatched to 人社 over JSON REST, signed with an app key and an
HMAC-SHA256 signature of timestamp + nonce (see ``sign_headers``), and reads incrementally by
(``updateTime``, ``orderNum``). Only wage orders (``questionCode`` 0801xx, 劳动保障-拖欠工资) are
clues; the others are archived and skipped. ``oldOrderNum`` — the platform's own link from a repeat
caller's order to the earlier one (docs/domain.md) — is passed on so the pool joins them (rule ``linked``).
Closing a clue writes the 办理结果 back, and the 回访 once the call-back is done.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr

from connectors.base import (
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
from connectors.clue_channel.client import WORDING, batch_from, fmt_local, read_keyset

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
    """工单 dispatched to 人社, by last change."""

    name = "work_orders"
    primary_key = ("orderNum",)
    cursor_field = "updateTime"

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
        respondent = fields.text(record, "reflectObject", wording=WORDING)
        caller = fields.text(record, "callerName", required=False)
        project = fields.text(record, "projectName", required=False)
        return [
            ClueIn(
                channel=KIND,
                source_id=order_num,
                received_at=fields.local_time(record, "callTime", wording=WORDING),
                title=f"{caller or '来电人'}反映{respondent}拖欠工资",
                content=fields.text(record, "majorContent", wording=WORDING),
                region_code=fields.text(record, "regionCode", wording=WORDING),
                respondent_name=respondent,
                complainant_name=caller,
                complainant_phone=fields.text(record, "callerPhone", required=False),  # mobile or landline: hub checks
                sector="工程建设" if project else "非工程",
                project_name=project,
                related_source_id=fields.text(record, "oldOrderNum", required=False),
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


__all__ = ["Hotline12345Config", "Hotline12345Connector", "WorkOrders", "sign_headers"]
