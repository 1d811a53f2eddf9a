"""A bank's 农民工工资专户 open API over JSON REST: OAuth2 client credentials, cursor pagination.

Auth: ``POST /oauth/token`` (``grant_type=client_credentials``, ``client_id``, ``client_secret``) →
``{"access_token", "token_type": "Bearer", "expires_in"}``. The token is cached per (base URL,
client id, secret) until shortly before it expires; a data request answered 401
``{"code": "TOKEN_EXPIRED"}`` drops it and raises ``TokenExpired``, so the hub retries and the
retry authenticates again.

Listing: ``GET /v1/<stream>?limit=…&cursor=…`` or ``…&updatedAfter=…`` (inclusive) →
``{"data": [...], "nextCursor": "…", "hasMore": true}``, ordered by ``updateTime`` then the
primary key. The cursor is the bank's and opaque; the bookmark the hub stores is ours: the last
record's ``updateTime`` and key. A run follows the bank's cursors and restarts from the bookmark
(``updatedAfter`` + dropping what is at or before it), so a cursor that goes backwards or a
repeated page never moves the bookmark back nor yields a record twice.

Field names follow docs/domain.md "Field names of the upstream interfaces" (bank 专户, bill, pay).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import orjson
from pydantic import Field, SecretStr

from connectors.base import (
    AllocationIn,
    CheckResult,
    Connector,
    ConnectorConfig,
    CredentialsRefused,
    DepositIn,
    Entity,
    ExpenseIn,
    MalformedResponse,
    Page,
    PayrollIn,
    Rejection,
    Stream,
    TokenExpired,
    WageAccountIn,
    check_connection,
    fields,
    map_exceptions,
    secret,
)

log = logging.getLogger(__name__)

KIND = "bank_rest"
TOKEN_PATH = "/oauth/token"
#: The bank's largest page (``limit``); larger requests are refused with HTTP 400.
MAX_LIMIT = 1000
#: Renew a cached token this long before the bank says it expires.
TOKEN_SKEW_SECONDS = 60.0
#: 401 codes meaning "this token is no good, get another one" (not: "your credentials are wrong").
TOKEN_CODES = frozenset({"TOKEN_EXPIRED", "INVALID_TOKEN"})

#: ``accountStatus``: 1 正常 / 2 冻结 / 3 销户.
ACCOUNT_STATUS = {"1": "open", "2": "frozen", "3": "closed"}
#: ``guaranteeType``: 01 银行保函 / 02 工程保证保险 (人社部发〔2021〕65号: a 保函 or insurance may replace the deposit).
GUARANTEE_TYPES = {"01": "bank_guarantee", "02": "insurance"}
#: ``guaranteeStatus``: 1 有效 / 2 已代偿 / 3 已退还.
GUARANTEE_STATUS = {"1": "active", "2": "used", "3": "refunded"}
BILL_INCOME, BILL_EXPENSE = 1, 2  # docs/domain.md: billType 1 income / 2 expense
EXPENSE_ACTIONS = {"1": "wages", "2": "transfer"}  # actionType: 1 代发工资, 2 转账 (the hub's ExpenseAction)


class BankRestConfig(ConnectorConfig):
    """Where the bank's open API is and the OAuth2 client the bank issued to the hub."""

    client_id: str = Field(min_length=1, description="OAuth2 client id issued by the bank")
    client_secret: SecretStr = secret("OAuth2 client secret issued by the bank")
    page_size: int = Field(
        default=MAX_LIMIT, ge=1, le=MAX_LIMIT, description="Records per page (the bank allows up to 1000)."
    )


# -- the HTTP client -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_at: float  # time.monotonic()


_TOKENS: dict[tuple[str, str, str], _Token] = {}
_TOKENS_LOCK = threading.Lock()


class _Api:
    """One HTTP session with the bank: token handling and parsed, error-mapped JSON."""

    def __init__(self, config: BankRestConfig, *, stream: str = "") -> None:
        self.config = config
        self.stream = stream
        secret_digest = hashlib.sha256(config.client_secret.get_secret_value().encode()).hexdigest()
        self._key = (config.base_url.rstrip("/"), config.client_id, secret_digest)
        self.http = httpx.Client(
            base_url=config.base_url, timeout=config.timeout_seconds, headers={"Accept": "application/json"}
        )

    def close(self) -> None:
        self.http.close()

    def authenticate(self) -> _Token:
        """Ask for a new token (client credentials grant, RFC 6749 §4.4) and cache it."""
        cfg = self.config
        form = {
            "grant_type": "client_credentials",
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret.get_secret_value(),
        }
        with map_exceptions(connector=KIND, stream=self.stream):
            resp = self.http.post(TOKEN_PATH, data=form)
            if resp.status_code in (400, 401):
                err = _json_or_empty(resp.content)
                raise CredentialsRefused(
                    f"the bank refused client_id {cfg.client_id!r} ({err.get('error') or f'HTTP {resp.status_code}'}): "
                    "check client_id and client_secret",
                    detail=str(err.get("error_description") or ""),
                )
            resp.raise_for_status()
            body = orjson.loads(resp.content)
            if not isinstance(body, dict) or not body.get("access_token"):
                raise MalformedResponse("token response without access_token", detail=resp.text[:300])
            expires_in = float(body.get("expires_in") or 3600)
        token = _Token(
            str(body["access_token"]),
            time.monotonic() + max(0.0, expires_in - min(TOKEN_SKEW_SECONDS, expires_in / 10)),
        )
        with _TOKENS_LOCK:
            _TOKENS[self._key] = token
        return token

    def bearer(self) -> str:
        with _TOKENS_LOCK:
            token = _TOKENS.get(self._key)
        if token is None or time.monotonic() >= token.renew_at:
            token = self.authenticate()
        return token.value

    def forget(self, value: str) -> None:
        with _TOKENS_LOCK:
            if (t := _TOKENS.get(self._key)) is not None and t.value == value:
                del _TOKENS[self._key]

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """``GET path`` with the bearer token → the parsed listing ``{"data": [...], ...}``."""
        token = self.bearer()
        with map_exceptions(connector=KIND, stream=self.stream):
            resp = self.http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
            if resp.status_code == 401 and (code := _json_or_empty(resp.content).get("code")) in TOKEN_CODES:
                self.forget(token)
                raise TokenExpired(
                    f"the bank rejected the access token ({code}); a retry authenticates again", detail=resp.text[:300]
                )
            resp.raise_for_status()
            body = orjson.loads(resp.content)  # orjson.JSONDecodeError is a ValueError → MalformedResponse
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise MalformedResponse("listing without a data array", detail=resp.text[:300])
        return body


def _json_or_empty(content: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# -- streams ---------------------------------------------------------------------------------------


class _BankStream(Stream[BankRestConfig]):
    """A listing ordered by (``updateTime``, primary key); the bookmark is that pair of the last record."""

    cursor_field = "updateTime"
    path: ClassVar[str]

    def position(self, record: dict[str, Any]) -> tuple[str, ...]:
        return (str(record.get("updateTime") or ""), *(str(record.get(k) or "") for k in self.primary_key))

    def read(self, state: dict[str, Any]) -> Iterator[Page]:
        bookmark: tuple[str, ...] | None = None
        if state.get("updatedAfter"):
            bookmark = (str(state["updatedAfter"]), *map(str, state.get("lastKey") or ()))
        elif self.config.start_date:
            # First sync with a start date: everything updated from that day on (北京时间).
            bookmark = (f"{self.config.start_date:%Y-%m-%d} 00:00:00",)
        limit = min(self.config.page_size, MAX_LIMIT)
        api = _Api(self.config, stream=self.name)
        cursor: str | None = None
        last_seen: tuple[str, ...] | None = None  # the last record of the previous response
        try:
            while True:
                query: dict[str, Any] = {"limit": limit}
                if cursor:
                    query["cursor"] = cursor
                elif bookmark:
                    query["updatedAfter"] = bookmark[0]
                body = api.get(self.path, query)
                records: list[dict[str, Any]] = body["data"]
                if cursor and records and last_seen is not None and self.position(records[0]) <= last_seen:
                    # README "cursors never go backwards": the bank's cursor led behind what it already
                    # sent (a repeated page or a cursor going back). Keep ours: resume from the bookmark.
                    log.warning(
                        "%s/%s: the bank's cursor went backwards (page starts at %s, already read up to %s); "
                        "resuming from the bookmark",
                        KIND,
                        self.name,
                        self.position(records[0]),
                        last_seen,
                    )
                    cursor = last_seen = None
                    continue
                if records:
                    last_seen = self.position(records[-1])
                    # ``updatedAfter`` is inclusive: drop what is at or before the bookmark (pages are sorted).
                    if bookmark is not None and self.position(records[0]) <= bookmark:
                        records = [r for r in records if self.position(r) > bookmark]
                if records:
                    bookmark = self.position(records[-1])
                    yield Page(records=records, state={"updatedAfter": bookmark[0], "lastKey": list(bookmark[1:])})
                next_cursor = body.get("nextCursor")
                if not body.get("hasMore"):
                    return
                if not next_cursor:
                    raise MalformedResponse(
                        "hasMore is true but nextCursor is missing", connector=KIND, stream=self.name
                    )
                cursor = str(next_cursor)
        finally:
            api.close()


class Accounts(_BankStream):
    """专户 (wage special accounts) → ``WageAccountIn``."""

    name = "accounts"
    primary_key = ("salaryAccount",)
    sensitive = ()
    path = "/v1/accounts"


class Bills(_BankStream):
    """专户 bills (流水): income = labour cost allocated (条例 Art. 24) → ``AllocationIn``; expense → ``ExpenseIn``."""

    name = "bills"
    primary_key = ("salaryAccount", "batchNumber")
    sensitive = ("counterpartyAccount",)  # a transfer out may go to a worker's card
    path = "/v1/bills"


class PayDetails(_BankStream):
    """Pay details (代发明细), one worker and month each → ``PayrollIn``; the bulk stream."""

    name = "pay_details"
    primary_key = ("detailNo",)
    sensitive = ("idCardNumber", "bankCardNumber")
    path = "/v1/pay-details"


class Guarantees(_BankStream):
    """Wage guarantee letters (保函, 人社部发〔2021〕65号) → ``DepositIn``."""

    name = "guarantees"
    primary_key = ("guaranteeNo",)
    sensitive = ()
    path = "/v1/guarantees"


# -- the connector ---------------------------------------------------------------------------------


class BankRestConnector(Connector[BankRestConfig]):
    """A bank's 专户 open API (JSON REST, OAuth2): accounts, bills, pay details, guarantees."""

    kind = KIND
    title = "银行专户开放接口 (REST)"
    config_model = BankRestConfig
    sandbox = "connectors.bank_rest.sandbox:create_app"

    def check(self, config: BankRestConfig) -> CheckResult:
        """Get a fresh token and read one account."""

        def probe() -> str:
            api = _Api(config)
            try:
                token = api.authenticate()
                api.get(Accounts.path, {"limit": 1})
            finally:
                api.close()
            minutes = max(0, round((token.renew_at - time.monotonic()) / 60))
            return (
                f"connected as {config.client_id!r}: token issued (renewed in about {minutes} min), accounts readable"
            )

        return check_connection(probe, system="the bank", where=config.base_url)

    def streams(self, config: BankRestConfig) -> list[Stream[BankRestConfig]]:
        return [Accounts(self, config), Bills(self, config), PayDetails(self, config), Guarantees(self, config)]

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        mapper = _NORMALISERS.get(stream)
        if mapper is None:
            raise Rejection(
                f"unknown stream {stream!r}: expected one of {', '.join(_NORMALISERS)}", field="stream", value=stream
            )
        return mapper(record)


# -- normalise: upstream record → canonical records (pure) ------------------------------------------


def _text(r: dict[str, Any], field: str) -> str:
    return fields.text(r, field)


def _opt(r: dict[str, Any], field: str) -> str | None:
    return fields.text(r, field, required=False)


def _account(r: dict[str, Any]) -> list[Entity]:
    return [
        WageAccountIn(
            salary_account=_text(r, "salaryAccount"),
            project_code=_text(r, "projectCode"),
            contractor_uscc=_text(r, "corpCode"),
            bank_name=_text(r, "bankName"),
            salary_account_name=_text(r, "salaryAccountName"),
            bank_code=_opt(r, "bankLinkNumber"),
            open_account_date=fields.date(r, "openAccountDate", required=False),
            filed_date=fields.date(r, "filingDate", required=False),
            # a balance, not a payment: the bank reports an overdrawn account as it is
            account_balance=fields.amount(r, "accountBalance", allow_negative=True, required=False),
            status=fields.choice(r, "accountStatus", ACCOUNT_STATUS, default="1"),
        )
    ]


def _bill(r: dict[str, Any]) -> list[Entity]:
    bill_type = fields.integer(r, "billType", allow_negative=False)
    if bill_type == BILL_EXPENSE:
        # Money leaving the 专户: a 代发 batch (actionType 1; its workers arrive through pay_details) or a
        # transfer (actionType 2) — the 专户 may pay only the project's workers (人社部发〔2021〕53号).
        return [
            ExpenseIn(
                salary_account=_text(r, "salaryAccount"),
                batch_number=_text(r, "batchNumber"),
                bill_date=fields.date(r, "billDate"),
                amount=fields.amount(r, "billAmount", allow_negative=False),
                action=fields.choice(r, "actionType", EXPENSE_ACTIONS),
                account_balance=fields.amount(r, "accountBalance", allow_negative=True, required=False),
                counterparty_name=_opt(r, "counterpartyName"),
                counterparty_account=_opt(r, "counterpartyAccount"),
                purpose=_opt(r, "summary"),
            )
        ]
    if bill_type != BILL_INCOME:
        raise Rejection(
            f"billType must be 1 (income) or 2 (expense), got {bill_type}", field="billType", value=bill_type
        )
    return [
        AllocationIn(
            salary_account=_text(r, "salaryAccount"),
            batch_number=_text(r, "batchNumber"),
            bill_date=fields.date(r, "billDate"),
            period_month=fields.month(r, "salaryMonth"),
            amount=fields.amount(r, "billAmount", allow_negative=False),
            account_balance=fields.amount(r, "accountBalance", allow_negative=True, required=False),
            payer_name=_opt(r, "counterpartyName"),
            payer_account=_opt(r, "counterpartyAccount"),
            progress_payment=fields.amount(r, "progressPayment", allow_negative=False, required=False),
        )
    ]


def _pay_detail(r: dict[str, Any]) -> list[Entity]:
    return [
        PayrollIn(
            pay_roll_code=_text(r, "payRollCode"),
            project_code=_text(r, "projectCode"),
            id_number=_text(r, "idCardNumber"),
            pay_month=fields.month(r, "payMonth"),
            total_pay_amount=fields.amount(r, "totalPayAmount", allow_negative=False),
            actual_amount=fields.amount(r, "actualAmount", allow_negative=False),
            pay_status=fields.integer(r, "payStatus", allow_negative=False),
            salary_account=_opt(r, "salaryAccount"),
            worker_name=_opt(r, "name"),
            corp_uscc=_opt(r, "corpCode"),
            days=fields.integer(r, "days", allow_negative=False, required=False),
            work_hours=fields.amount(r, "workHours", allow_negative=False, required=False),
            balance_date=fields.date(r, "balanceDate", required=False),
            is_back_pay=fields.flag(r, "isBackPay"),
            bank_card=_opt(r, "bankCardNumber"),
            batch_number=_opt(r, "batchNumber"),
        )
    ]


def _guarantee(r: dict[str, Any]) -> list[Entity]:
    return [
        DepositIn(
            guarantee_no=_text(r, "guaranteeNo"),
            project_code=_text(r, "projectCode"),
            contractor_uscc=_text(r, "corpCode"),
            kind=fields.choice(r, "guaranteeType", GUARANTEE_TYPES),
            amount=fields.amount(r, "guaranteeAmount", allow_negative=False),
            rate=fields.amount(r, "guaranteeRate", allow_negative=False, required=False),
            deposited_on=fields.date(r, "issueDate", required=False),
            issuer=_opt(r, "issuerName"),
            valid_from=fields.date(r, "startDate", required=False),
            valid_to=fields.date(r, "endDate", required=False),
            status=fields.choice(r, "guaranteeStatus", GUARANTEE_STATUS, default="1"),
        )
    ]


_NORMALISERS: dict[str, Callable[[dict[str, Any]], list[Entity]]] = {
    Accounts.name: _account,
    Bills.name: _bill,
    PayDetails.name: _pay_detail,
    Guarantees.name: _guarantee,
}


__all__ = ["BankRestConfig", "BankRestConnector"]
