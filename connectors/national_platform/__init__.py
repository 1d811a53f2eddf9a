"""全国根治欠薪线索反映平台: clues reported nationally for our jurisdiction in, 核处结果 back.

JSON REST with a bearer token from ``POST /auth/token`` (account + password); the token expires, and
an expired one is answered 401 ``TOKEN_EXPIRED`` → ``TokenExpired``: the hub retries and the client
signs in again. Clues are read incrementally by (``updateTime``, ``clueId``) and carry the
complainant (name, ID number, phone, bank card), the employer, the arrears period, amount, headcount,
sector and the region where the arrears happened (docs/domain.md).
"""

from __future__ import annotations

import time
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
    TokenExpired,
    check_connection,
    fields,
    map_exceptions,
    secret,
)
from connectors.clue_channel.client import WORDING, batch_from, fmt_local, read_keyset

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
            resp = self.http.request(
                method, path, params=params, json=json, headers={"Authorization": f"Bearer {self.token}"}
            )
            if resp.status_code == 401:
                self.token = None  # whatever the reason, the next attempt signs in again
                if _code(resp) in ("TOKEN_EXPIRED", "TOKEN_INVALID"):
                    raise TokenExpired("access token expired", detail=resp.text[:300])
            return _data(resp)

    def _sign_in(self, http: httpx.Client) -> None:
        resp = http.post(
            "auth/token", json={"account": self.config.account, "password": self.config.password.get_secret_value()}
        )
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
        raise CredentialsRefused(REFUSED.format(status=resp.status_code), detail=resp.text[:300])
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
    sensitive = ("complainantIdNumber", "complainantBankCard")
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
                return batch_from(
                    data,
                    records="records",
                    has_more="hasMore",
                    next_time="nextStartTime",
                    next_key="nextLastClueId",
                    connector=KIND,
                    stream=self.name,
                )

            yield from read_keyset(
                fetch,
                state,
                time_field="updateTime",
                key_field="clueId",
                connector=KIND,
                stream=self.name,
                start_date=self.config.start_date,
            )


class NationalPlatformConnector(Connector[NationalPlatformConfig]):
    """The national wage-arrears clue platform: clues in, 核处结果 out."""

    kind = KIND
    title = "全国根治欠薪线索反映平台"
    config_model = NationalPlatformConfig
    sandbox = "connectors.national_platform.sandbox:create_app"

    def check(self, config: NationalPlatformConfig) -> CheckResult:
        """Sign in and ask for one clue."""

        def probe() -> str:
            with _Session(config) as api:
                api.call("GET", "api/clues", params={"pageSize": 1})
            return f"connected to the national clue platform: signed in as {config.account}"

        return check_connection(probe, system="the national clue platform", where=config.base_url)

    def streams(self, config: NationalPlatformConfig) -> list[Stream[NationalPlatformConfig]]:
        return [Clues(self, config)]

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        """A platform clue → one ``ClueIn`` (the hub validates the ID number, phone and region code)."""
        if stream != Clues.name:
            raise Rejection(f"unknown stream {stream!r}: this connector reads clues", field="stream", value=stream)
        employer = fields.text(record, "employerName", wording=WORDING)
        name = fields.text(record, "complainantName", required=False)
        # 人数 and 金额 as the complainant reported them: neither can be negative
        headcount = fields.integer(record, "involvedNumber", allow_negative=False, required=False, wording=WORDING)
        group = f"等{headcount}人" if headcount and headcount > 1 else ""
        return [
            ClueIn(
                channel=KIND,
                source_id=fields.text(record, "clueId", wording=WORDING),
                received_at=fields.local_time(record, "reportTime", wording=WORDING),
                title=f"{name or '反映人'}{group}反映{employer}拖欠工资",
                content=fields.text(record, "content", wording=WORDING),
                region_code=fields.text(record, "regionCode", wording=WORDING),
                respondent_name=employer,
                complainant_name=name,
                complainant_phone=fields.text(record, "complainantPhone", required=False),
                complainant_id_number=fields.text(record, "complainantIdNumber", required=False),
                respondent_address=fields.text(record, "employerAddress", required=False),
                project_name=fields.text(record, "projectName", required=False),
                amount=fields.amount(record, "arrearsAmount", allow_negative=False, required=False, wording=WORDING),
                headcount=headcount,
                arrears_from=fields.date(record, "arrearsStartDate", required=False, wording=WORDING),
                arrears_to=fields.date(record, "arrearsEndDate", required=False, wording=WORDING),
                # docs/domain.md: sector 工程建设 / 非工程
                sector="非工程" if fields.text(record, "industry", required=False) == "非工程" else "工程建设",
            )
        ]

    def write_back(self, config: NationalPlatformConfig, outcome: Outcome) -> None:
        """POST the 核处结果 (conclusion, recovered amount, workers paid, closing time) as feedback."""
        with _Session(config, stream="write_back") as api:
            api.call(
                "POST",
                f"api/clues/{quote(outcome.source_id, safe='')}/feedback",
                json={
                    "handleStatus": "已回访" if outcome.status == "called_back" else "已办结",
                    "handleResult": outcome.conclusion,
                    "finishTime": fmt_local(outcome.closed_at),
                    "recoverAmount": None if outcome.recovered_amount is None else f"{outcome.recovered_amount:.2f}",
                    "paidNumber": outcome.workers_paid,
                    "satisfaction": outcome.satisfaction,
                    "localClueNo": outcome.clue_no,
                },
            )


__all__ = ["Clues", "NationalPlatformConfig", "NationalPlatformConnector"]
