"""全国根治欠薪线索反映平台: clues reported nationally for our jurisdiction in, 核处结果 back.

JSON REST with a bearer token from ``POST /auth/token`` (account + password); the token expires, and
an expired one is answered 401 ``TOKEN_EXPIRED`` → ``TokenExpired``: the hub retries and the client
signs in again. Clues are read incrementally by (``updateTime``, ``clueId``) and carry the
complainant (name, ID number, phone, bank card), the employer, the arrears period, amount, headcount,
sector and the region where the arrears happened (docs/domain.md).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field, SecretStr

from connectors._clue_channel import check_upstream, batch_from, fmt_local, parse_local, read_keyset, required
from connectors.base import (
    CheckResult, ClueIn, Connector, ConnectorConfig, Entity, FatalUpstreamError, MalformedResponse, Outcome, Page,
    Rejection, Stream, TokenExpired, map_exceptions, secret,
)

KIND = "national_platform"
REFUSED = "the national clue platform refused the account or password (HTTP {status}): check account and password"
#: Sign in again this long (at most a tenth of the token's life) before the platform says it expires.
TOKEN_MARGIN_SECONDS = 60.0


class NationalPlatformConfig(ConnectorConfig):
    """The platform's data-sharing endpoint and the account issued to this jurisdiction."""

    account: str = Field(min_length=1, description="Data-sharing account issued by the platform (e.g. per city).")
    password: SecretStr = secret("Password of the data-sharing account.")


class _Session:
    """One signed-in client of the platform: a token (kept until it expires) and an HTTP client."""

    def __init__(self, config: NationalPlatformConfig, *, stream: str = "") -> None:
        self.config = config
        self.stream = stream
        self.token: str | None = None
        self.token_until = 0.0
        self.http: httpx.Client | None = None

    def __enter__(self) -> _Session:
        self.http = httpx.Client(base_url=self.config.base_url, timeout=self.config.timeout_seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None) -> Any:
        """The ``data`` of the platform's ``{"code": "0", "message": ..., "data": ...}`` answer."""
        if self.http is None:
            raise TypeError("use the session as a context manager")
        with map_exceptions(connector=KIND, stream=self.stream):
            if self.token is None or time.monotonic() >= self.token_until:
                self._sign_in(self.http)
            resp = self.http.request(method, path, params=params, json=json,
                                     headers={"Authorization": f"Bearer {self.token}"})
            if resp.status_code == 401:
                self.token = None  # whatever the reason, the next attempt signs in again
                if _code(resp) in ("TOKEN_EXPIRED", "TOKEN_INVALID"):
                    raise TokenExpired("access token expired", detail=resp.text[:300])
            return _data(resp)

    def _sign_in(self, http: httpx.Client) -> None:
        resp = http.post("auth/token", json={"account": self.config.account, "password": self.config.password.get_secret_value()})
        data = _data(resp)
        try:
            self.token = str(data["accessToken"])
            ttl = float(data.get("expiresIn") or 0)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedResponse("token answer without accessToken", detail=repr(exc)) from exc
        self.token_until = time.monotonic() + ttl - min(TOKEN_MARGIN_SECONDS, ttl / 10) if ttl > 0 else float("inf")


def _code(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("code", ""))
    except (ValueError, AttributeError):
        return ""


def _data(resp: httpx.Response) -> Any:
    if resp.status_code in (401, 403):
        raise FatalUpstreamError(REFUSED.format(status=resp.status_code), detail=resp.text[:300])
    resp.raise_for_status()
    body = resp.json()
    if not isinstance(body, dict) or "code" not in body:
        raise MalformedResponse("answer without a code", detail=resp.text[:300])
    if str(body["code"]) != "0":
        raise FatalUpstreamError(f"the national clue platform answered code {body['code']}: {body.get('message')}")
    return body.get("data")


class Clues(Stream[NationalPlatformConfig]):
    """线索 of our jurisdiction, by last change."""

    name = "clues"
    primary_key = ("clueId",)
    cursor_field = "updateTime"

    def __init__(self, connector: Connector[NationalPlatformConfig], config: NationalPlatformConfig) -> None:
        super().__init__(connector, config)
        self.session = _Session(config, stream=self.name)  # the token outlives a retried read

    def read(self, state: dict[str, Any]) -> Iterator[Page]:
        with self.session as api:

            def fetch(pos: tuple[str, str] | None) -> Any:
                params: dict[str, Any] = {"pageSize": self.config.page_size}
                if pos:
                    params.update(startTime=pos[0], lastClueId=pos[1])
                data = api.call("GET", "api/clues", params=params)
                return batch_from(data, records="records", has_more="hasMore", next_time="nextStartTime",
                                  next_key="nextLastClueId", connector=KIND, stream=self.name)

            yield from read_keyset(fetch, state, time_field="updateTime", key_field="clueId", connector=KIND,
                                   stream=self.name, start_date=self.config.start_date)


class NationalPlatformConnector(Connector[NationalPlatformConfig]):
    """The national wage-arrears clue platform: clues in, 核处结果 out."""

    kind = KIND
    title = "全国根治欠薪线索反映平台"
    config_model = NationalPlatformConfig
    sandbox = "connectors.national_platform.sandbox:create_app"

    def check(self, config: Any) -> CheckResult:
        def probe() -> None:
            with _Session(config) as api:
                api.call("GET", "api/clues", params={"pageSize": 1})

        failed = check_upstream(probe, system="the national clue platform", base_url=config.base_url, refused="the national clue platform refused")
        return failed or CheckResult(True, f"connected to the national clue platform: signed in as {config.account}")

    def streams(self, config: NationalPlatformConfig) -> list[Stream[NationalPlatformConfig]]:
        return [Clues(self, config)]

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        """A platform clue → one ``ClueIn`` (the hub validates the ID number, phone and region code)."""
        if stream != Clues.name:
            raise Rejection(f"unknown stream {stream!r}: this connector reads clues", field="stream", value=stream)
        employer = required(record, "employerName")
        name = str(record.get("complainantName") or "").strip() or None
        headcount = _int(record.get("involvedNumber"), "involvedNumber")
        group = f"等{headcount}人" if headcount and headcount > 1 else ""
        return [ClueIn(
            channel=KIND, source_id=required(record, "clueId"),
            received_at=parse_local(record.get("reportTime"), "reportTime"),
            title=f"{name or '反映人'}{group}反映{employer}拖欠工资", content=required(record, "content"),
            region_code=required(record, "regionCode"), respondent_name=employer, complainant_name=name,
            complainant_phone=_text(record.get("complainantPhone")),
            complainant_id_number=_text(record.get("complainantIdNumber")),
            respondent_address=_text(record.get("employerAddress")), project_name=_text(record.get("projectName")),
            amount=_decimal(record.get("arrearsAmount"), "arrearsAmount"), headcount=headcount,
            arrears_from=_date(record.get("arrearsStartDate"), "arrearsStartDate"),
            arrears_to=_date(record.get("arrearsEndDate"), "arrearsEndDate"),
            # docs/domain.md: sector 工程建设 / 非工程
            sector="非工程" if _text(record.get("industry")) == "非工程" else "工程建设",
        )]

    def write_back(self, config: NationalPlatformConfig, outcome: Outcome) -> None:
        """POST the 核处结果 (conclusion, recovered amount, workers paid, closing time) as feedback."""
        with _Session(config, stream="write_back") as api:
            api.call("POST", f"api/clues/{quote(outcome.source_id, safe='')}/feedback", json={
                "handleStatus": "已回访" if outcome.status == "called_back" else "已办结",
                "handleResult": outcome.conclusion, "finishTime": fmt_local(outcome.closed_at),
                "recoverAmount": None if outcome.recovered_amount is None else f"{outcome.recovered_amount:.2f}",
                "paidNumber": outcome.workers_paid, "satisfaction": outcome.satisfaction, "localClueNo": outcome.clue_no,
            })


def _text(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def _decimal(value: Any, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Rejection(f"{field} {value!r} is not an amount", field=field, value=value) from None
    if not amount.is_finite() or amount < 0:
        raise Rejection(f"{field} {value!r} is not an amount", field=field, value=value)
    return amount


def _int(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise Rejection(f"{field} {value!r} is not a whole number", field=field, value=value) from None
    if n < 0:
        raise Rejection(f"{field} {value!r} is negative", field=field, value=value)
    return n


def _date(value: Any, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Rejection(f"{field} {value!r} is not a date like 2026-10-31", field=field, value=value) from None


__all__ = ["Clues", "NationalPlatformConfig", "NationalPlatformConnector"]
