"""A bank's 农民工工资专户 service over SOAP 1.1 (zeep, from the WSDL the bank serves).

The bank publishes ``<base_url>/wage-account?wsdl`` (document/literal, ``wsdl/wage_account.wsdl`` is
our copy of the contract) and authenticates every call with a WS-Security UsernameToken. Four
operations list records changed after a keyset position ``(updatedAfter, lastKey)``, ordered by
``updateTime`` then the record's key; each answer carries ``hasMore`` and the position of its last
record. A keyset (not page numbers) because records move when they change: with page numbers an
account updated mid-read shifts every later record one place back, and one would be skipped.

Streams and what they become (field names: docs/domain.md, "Field names of the upstream interfaces"):

=============  ===================  ============  =================================================
stream         operation            key           canonical record
=============  ===================  ============  =================================================
accounts       QueryAccountInfo     salaryAccount ``WageAccountIn``
bills          QueryAccountBills    billNo        ``AllocationIn`` for billType 1 (labour cost in),
                                                  ``ExpenseIn`` for billType 2 (wages / transfers out)
pay_details    QueryPayDetails      detailNo      ``PayrollIn``
guarantees     QueryGuarantees      guaranteeNo   ``DepositIn`` (保函 / guarantee insurance)
=============  ===================  ============  =================================================

Each stream's state is ``{"updatedAfter": ISO instant, "lastKey": key}``: the position after the
last stored record, so any page's state restarts the read just after that page.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr
from requests import Response as RequestsResponse
from requests.structures import CaseInsensitiveDict
from zeep import Client
from zeep.exceptions import Fault, TransportError, XMLSyntaxError
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from connectors.base import (
    AllocationIn,
    CheckResult,
    Connector,
    ConnectorConfig,
    CredentialsRefused,
    DepositIn,
    Entity,
    ExpenseIn,
    FatalUpstreamError,
    MalformedResponse,
    Page,
    PayrollIn,
    Rejection,
    RetriableUpstreamError,
    Stream,
    TokenExpired,
    WageAccountIn,
    check_connection,
    fields,
    map_exceptions,
    secret,
)

log = logging.getLogger(__name__)

KIND = "bank_soap"
TNS = "http://wageaccount.bank.example.cn/ws/v1"
BINDING = f"{{{TNS}}}WageAccountSoapBinding"
MAX_PAGE_SIZE = 1000  # the bank's limit per request
#: Pages in a row that leave the position where it was before the read is declared stuck.
MAX_STALLED_PAGES = 3

ACCOUNT_STATUS = {1: "open", 2: "frozen", 3: "closed"}  # accountStatus: 1 正常, 2 冻结, 3 销户
GUARANTEE_KIND = {1: "bank_guarantee", 2: "insurance"}  # guaranteeType: 1 银行保函, 2 保证保险
GUARANTEE_STATUS = {1: "active", 2: "used", 3: "refunded"}  # guaranteeStatus: 1 有效, 2 已代偿, 3 已解除
EXPENSE_ACTION = {1: "wages", 2: "transfer"}  # actionType: 1 代发工资, 2 转账 (the hub's ExpenseAction)


class BankSoapConfig(ConnectorConfig):
    """Where the bank's service is and the WS-Security credentials it issued."""

    base_url: str = Field(description="The bank's service root; the WSDL is at <base_url>/wage-account?wsdl")
    username: str = Field(description="WS-Security UsernameToken user name issued by the bank (接入用户名)")
    password: SecretStr = secret("WS-Security UsernameToken password")
    password_digest: bool = Field(default=True, description="Send PasswordDigest (nonce + created), not PasswordText")
    endpoint_url: str | None = Field(default=None, description="Call this address instead of the WSDL's soap:address")
    page_size: int = Field(
        default=500, ge=1, le=MAX_PAGE_SIZE, description="Records asked for per page (the bank allows 1000)"
    )


def wsdl_url(config: BankSoapConfig) -> str:
    return f"{config.base_url.rstrip('/')}/wage-account?wsdl"


# -- talking to the bank ------------------------------------------------------------------------


class _HttpxTransport(Transport):
    """zeep's transport over ``httpx.Client``: time-outs and transport errors map like every connector's."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.cache = None
        self.load_timeout = self.operation_timeout = None
        self.logger = log
        self._close_session = False

    def _load_remote_data(self, url: str) -> bytes:
        response = self.client.get(url)
        response.raise_for_status()
        return response.content

    def post(self, address: str, message: bytes, headers: dict[str, str]) -> RequestsResponse:
        return _as_requests(self.client.post(address, content=message, headers=headers))

    def get(self, address: str, params: dict[str, Any], headers: dict[str, str]) -> RequestsResponse:
        return _as_requests(self.client.get(address, params=params, headers=headers))


def _as_requests(response: httpx.Response) -> RequestsResponse:
    """zeep reads ``requests`` responses (the same conversion as zeep's own ``AsyncTransport``)."""
    new = RequestsResponse()
    new._content = response.content
    new.status_code = response.status_code
    new.headers = CaseInsensitiveDict(response.headers)
    new.encoding = response.encoding
    return new


@contextmanager
def _boundary(stream: str, *, username: str) -> Iterator[None]:
    """``map_exceptions``, plus what only this bank's contract says: fault codes and XML errors."""
    with map_exceptions(connector=KIND, stream=stream):
        try:
            yield
        except Fault as exc:
            code, text = str(exc.code or ""), str(exc.message or "")
            error_code = _fault_code(exc)
            if error_code == "TOKEN_EXPIRED" or "TOKEN_EXPIRED" in text:
                raise TokenExpired("WS-Security token expired; a new one is sent on retry", detail=text) from exc
            if error_code == "AUTH_FAILED":
                raise CredentialsRefused(
                    f"the bank refused the WS-Security credentials of user {username!r} "
                    f"(SOAP fault {code}: {text}): check the username and password",
                    detail=error_code,
                ) from exc
            # soap:Server — the bank's side failed, worth retrying; soap:Client — our request was refused
            retriable = "Server" in code or "Receiver" in code
            raise (RetriableUpstreamError if retriable else FatalUpstreamError)(
                f"SOAP fault {code}: {text}", detail=error_code
            ) from exc
        except TransportError as exc:
            if exc.status_code in (401, 403):
                raise CredentialsRefused(
                    f"the bank refused the credentials of user {username!r} (HTTP {exc.status_code}): "
                    "check the username and password"
                ) from exc
            if exc.status_code in (None, 0, 200):  # a 200 whose body is not XML: cut off, or a proxy's page
                raise MalformedResponse("unparseable SOAP response", detail=str(exc)[:300]) from exc
            raise
        except XMLSyntaxError as exc:  # zeep's own: XML that is not a SOAP envelope / a WSDL
            raise MalformedResponse("not a SOAP response", detail=str(exc)[:300]) from exc


def _fault_code(exc: Fault) -> str:
    detail = exc.detail
    if detail is None or isinstance(detail, str):
        return ""
    return next((el.text or "" for el in detail.iter() if isinstance(el.tag, str) and el.tag.endswith("errorCode")), "")


class _Session:
    """One zeep client of the service: WSDL loaded, a UsernameToken attached, httpx underneath.

    Each ``read`` opens its own session, so a retry after ``TokenExpired`` authenticates afresh.
    """

    def __init__(self, config: BankSoapConfig, *, stream: str) -> None:
        self.config = config
        self.stream = stream
        # TCP_NODELAY: httpx writes a POST's headers and body separately, and Nagle + delayed ACK would
        # hold the body back ~40 ms on every page.
        transport = httpx.HTTPTransport(verify=_tls(), socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self.http = httpx.Client(timeout=config.timeout_seconds, transport=transport)
        try:
            with _boundary(stream, username=config.username):
                token = UsernameToken(
                    config.username, config.password.get_secret_value(), use_digest=config.password_digest
                )
                client = Client(wsdl_url(config), transport=_HttpxTransport(self.http), wsse=token)
                port = client.wsdl.services["WageAccountService"].ports["WageAccountPort"]
                self.address: str = config.endpoint_url or port.binding_options["address"]
                self.service = client.create_service(BINDING, self.address)
        except BaseException:
            self.http.close()
            raise

    def query(self, operation: str, position: tuple[dt.datetime, str] | None, page_size: int) -> Any:
        with _boundary(self.stream, username=self.config.username):
            return getattr(self.service, operation)(
                updatedAfter=position[0] if position else None,
                lastKey=position[1] if position else None,
                pageSize=page_size,
            )

    def close(self) -> None:
        self.http.close()


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One TLS context for every session (loading the CA bundle costs ~60 ms a time)."""
    return httpx.create_ssl_context()


@contextmanager
def _session(config: BankSoapConfig, *, stream: str) -> Iterator[_Session]:
    s = _Session(config, stream=stream)
    try:
        yield s
    finally:
        s.close()


def _record(value: Any) -> dict[str, Any]:
    """A zeep record as JSON (the raw archive stores records as JSON; normalise reads them back)."""
    out = {}
    for name in value:  # a zeep CompoundValue iterates over its element names, in schema order
        v = value[name]
        if v is not None:
            out[name] = (
                v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v) if isinstance(v, Decimal) else v
            )
    return out


# -- streams ---------------------------------------------------------------------------------------


class _BankStream(Stream[BankSoapConfig]):
    """A Query* operation read by keyset position; the cursor field is every record's ``updateTime``."""

    operation: ClassVar[str]
    item: ClassVar[str]  # the record element of the answer
    cursor_field = "updateTime"

    def read(self, state: dict[str, Any]) -> Iterator[Page]:
        position = _position(state)
        if position is None and self.config.start_date:
            # First sync with a start date: everything updated from that day on (北京时间).
            position = (dt.datetime.combine(self.config.start_date, dt.time(), dt.timezone(dt.timedelta(hours=8))), "")
        stalled = 0
        with _session(self.config, stream=self.name) as bank:
            while True:
                reply = bank.query(self.operation, position, self.config.page_size)
                records = [_record(r) for r in getattr(reply, self.item) or []]
                if position is not None and records and self._position_of(records[-1]) <= position:
                    # A page we already have (the bank served an earlier page again): its records are
                    # stored, and its hasMore / next position answer another request — ask again.
                    log.info("%s/%s: the bank repeated an earlier page; asking again", KIND, self.name)
                    after: tuple[dt.datetime, str] | None = position
                else:
                    after = self._advance(position, reply, records)
                    if records or after != position:
                        yield Page(records=records, state=_state(after))
                    if not reply.hasMore:
                        return
                stalled = stalled + 1 if after == position else 0
                if stalled >= MAX_STALLED_PAGES:
                    raise RetriableUpstreamError(
                        f"the bank's paging does not advance past {_state(position)}", connector=KIND, stream=self.name
                    )
                position = after

    def _position_of(self, record: dict[str, Any]) -> tuple[dt.datetime, str]:
        try:
            return dt.datetime.fromisoformat(record[self.cursor_field]), str(record[self.primary_key[0]])
        except (KeyError, TypeError, ValueError) as exc:  # the WSDL makes both required: a broken answer
            raise MalformedResponse(
                f"a record without a valid {self.cursor_field} / {self.primary_key[0]}",
                connector=KIND,
                stream=self.name,
                detail=repr(exc),
            ) from exc

    def _advance(
        self, position: tuple[dt.datetime, str] | None, reply: Any, records: list[dict[str, Any]]
    ) -> tuple[dt.datetime, str] | None:
        """The position after this page: never behind the one sent nor the page's last record."""
        candidates = [p for p in (position,) if p is not None]
        if reply.nextUpdatedAfter is not None:
            returned = (reply.nextUpdatedAfter, reply.nextLastKey or "")
            if position is not None and returned < position:
                log.warning(
                    "%s/%s: the bank returned position %s behind the one sent (%s); keeping ours",
                    KIND,
                    self.name,
                    returned,
                    position,
                )
            candidates.append(returned)
        if records:
            candidates.append(self._position_of(records[-1]))
        return max(candidates) if candidates else None


def _position(state: dict[str, Any]) -> tuple[dt.datetime, str] | None:
    return (
        (dt.datetime.fromisoformat(state["updatedAfter"]), state.get("lastKey") or "")
        if state.get("updatedAfter")
        else None
    )


def _state(position: tuple[dt.datetime, str] | None) -> dict[str, Any]:
    return {"updatedAfter": position[0].isoformat(), "lastKey": position[1]} if position else {}


class Accounts(_BankStream):
    name = "accounts"
    primary_key = ("salaryAccount",)
    sensitive = ()
    operation, item = "QueryAccountInfo", "accountInfo"


class Bills(_BankStream):
    name = "bills"
    primary_key = ("billNo",)
    sensitive = ("oppAccountNo",)  # a transfer out may go to a worker's card
    operation, item = "QueryAccountBills", "bill"


class PayDetails(_BankStream):
    name = "pay_details"
    primary_key = ("detailNo",)
    sensitive = ("idCardNumber", "bankCardNumber")
    operation, item = "QueryPayDetails", "payDetail"


class Guarantees(_BankStream):
    name = "guarantees"
    primary_key = ("guaranteeNo",)
    sensitive = ()
    operation, item = "QueryGuarantees", "guarantee"


# -- normalise: pure functions of one archived record -------------------------------------------

#: How this connector's rejections read (its tests and operators' filters know these words).
WORDING = fields.Wording(not_choice="{field} must be one of {allowed}; got {value}", choice_item="{code} {meaning}")


def _text(r: dict[str, Any], field: str) -> str:
    return fields.text(r, field, wording=WORDING)


def _opt(r: dict[str, Any], field: str) -> str | None:
    return fields.text(r, field, required=False, wording=WORDING)


def _account(r: dict[str, Any]) -> list[Entity]:
    return [
        WageAccountIn(
            salary_account=_text(r, "salaryAccount"),
            project_code=_text(r, "projectCode"),
            contractor_uscc=_text(r, "corpCode"),
            bank_name=_text(r, "bankName"),
            salary_account_name=_text(r, "salaryAccountName"),
            bank_code=_opt(r, "bankLinkNumber"),
            open_account_date=fields.date(r, "openAccountDate", required=False, wording=WORDING),
            filed_date=fields.date(r, "recordDate", required=False, wording=WORDING),
            # a balance, not a payment: the bank reports an overdrawn account as it is
            account_balance=fields.amount(r, "accountBalance", allow_negative=True, required=False, wording=WORDING),
            status=fields.choice(r, "accountStatus", ACCOUNT_STATUS, default=1, wording=WORDING),
        )
    ]


def _bill(r: dict[str, Any]) -> list[Entity]:
    bill_type = fields.integer(r, "billType", allow_negative=False, wording=WORDING)
    if bill_type == 2:
        # Money leaving the 专户: a 代发 batch (actionType 1; its workers arrive on pay_details) or a
        # transfer (actionType 2) — the 专户 may pay only the project's workers (人社部发〔2021〕53号).
        return [
            ExpenseIn(
                salary_account=_text(r, "salaryAccount"),
                batch_number=_text(r, "batchNumber"),
                bill_date=fields.date(r, "billDate", wording=WORDING),
                amount=fields.amount(r, "billAmount", allow_negative=False, wording=WORDING),
                action=fields.choice(r, "actionType", EXPENSE_ACTION, wording=WORDING),
                account_balance=fields.amount(
                    r, "accountBalance", allow_negative=True, required=False, wording=WORDING
                ),
                counterparty_name=_opt(r, "oppAccountName"),
                counterparty_account=_opt(r, "oppAccountNo"),
                purpose=_opt(r, "remark"),
            )
        ]
    if bill_type != 1:
        raise Rejection(
            f"billType must be 1 (income) or 2 (expense); got {bill_type}", field="billType", value=bill_type
        )
    # 条例 Art. 24: labour cost allocated into the 专户 (billType 1 — a 专户 takes in nothing else)
    return [
        AllocationIn(
            salary_account=_text(r, "salaryAccount"),
            batch_number=_text(r, "batchNumber"),
            bill_date=fields.date(r, "billDate", wording=WORDING),
            period_month=_opt(r, "period") or _text(r, "billDate")[:7],
            amount=fields.amount(r, "billAmount", allow_negative=False, wording=WORDING),
            account_balance=fields.amount(r, "accountBalance", allow_negative=True, required=False, wording=WORDING),
            payer_name=_opt(r, "oppAccountName"),
            payer_account=_opt(r, "oppAccountNo"),
            progress_payment=fields.amount(r, "progressPayment", allow_negative=False, required=False, wording=WORDING),
        )
    ]


def _pay_detail(r: dict[str, Any]) -> list[Entity]:
    # payStatus 0 未发放, 20 已发放, 30 发放失败, 40 重新发放中 (checked by the hub); isBackPay 1 = 补发
    return [
        PayrollIn(
            pay_roll_code=_text(r, "payRollCode"),
            project_code=_text(r, "projectCode"),
            id_number=_text(r, "idCardNumber"),
            pay_month=_text(r, "payMonth"),
            total_pay_amount=fields.amount(r, "totalPayAmount", allow_negative=False, wording=WORDING),
            actual_amount=fields.amount(r, "actualAmount", allow_negative=False, wording=WORDING),
            pay_status=fields.integer(r, "payStatus", allow_negative=False, wording=WORDING),
            salary_account=_opt(r, "salaryAccount"),
            worker_name=_opt(r, "name"),
            corp_uscc=_opt(r, "corpCode"),
            days=fields.integer(r, "days", allow_negative=False, required=False, wording=WORDING),
            work_hours=fields.amount(r, "workHours", allow_negative=False, required=False, wording=WORDING),
            balance_date=fields.date(r, "balanceDate", required=False, wording=WORDING),
            is_back_pay=fields.flag(r, "isBackPay", wording=WORDING),
            bank_card=_opt(r, "bankCardNumber"),
            batch_number=_opt(r, "batchNumber"),
        )
    ]


def _guarantee(r: dict[str, Any]) -> list[Entity]:
    # 人社部发〔2021〕65号: the deposit may be replaced by a bank guarantee letter (保函) or insurance
    return [
        DepositIn(
            guarantee_no=_text(r, "guaranteeNo"),
            project_code=_text(r, "projectCode"),
            contractor_uscc=_text(r, "corpCode"),
            kind=fields.choice(r, "guaranteeType", GUARANTEE_KIND, default=1, wording=WORDING),
            amount=fields.amount(r, "guaranteeAmount", allow_negative=False, wording=WORDING),
            rate=fields.amount(r, "depositRate", allow_negative=False, required=False, wording=WORDING),
            deposited_on=fields.date(r, "issueDate", required=False, wording=WORDING),
            issuer=_opt(r, "issueBank"),
            valid_from=fields.date(r, "validFrom", required=False, wording=WORDING),
            valid_to=fields.date(r, "validTo", required=False, wording=WORDING),
            status=fields.choice(r, "guaranteeStatus", GUARANTEE_STATUS, default=1, wording=WORDING),
        )
    ]


_NORMALISERS: dict[str, Callable[[dict[str, Any]], list[Entity]]] = {
    "accounts": _account,
    "bills": _bill,
    "pay_details": _pay_detail,
    "guarantees": _guarantee,
}


# -- the connector ---------------------------------------------------------------------------------


class BankSoapConnector(Connector[BankSoapConfig]):
    """A bank's 专户 service: accounts, bills, pay details and guarantee letters, over SOAP."""

    kind = KIND
    title = "银行专户 (SOAP)"
    config_model = BankSoapConfig
    sandbox = "connectors.bank_soap.sandbox:create_app"

    def check(self, config: BankSoapConfig) -> CheckResult:
        """Load the WSDL and ask for one account with the credentials."""

        def probe() -> str:
            with _session(config, stream="check") as bank:
                bank.query("QueryAccountInfo", None, 1)
            return f"connected to {bank.address} as user {config.username!r}"

        return check_connection(
            probe,
            system="the bank's service",
            where=wsdl_url(config),
            unreachable="cannot reach {system} at {where} ({message}): check base_url and the network",
            failed="{system} answered with an error: {message}",
        )

    def streams(self, config: BankSoapConfig) -> list[Stream[BankSoapConfig]]:
        return [Accounts(self, config), Bills(self, config), PayDetails(self, config), Guarantees(self, config)]

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        if stream not in _NORMALISERS:
            raise Rejection(
                f"bank_soap has no stream {stream!r}: use one of {', '.join(_NORMALISERS)}",
                field="stream",
                value=stream,
            )
        return _NORMALISERS[stream](record)


__all__ = ["BankSoapConfig", "BankSoapConnector", "CredentialsRefused"]
