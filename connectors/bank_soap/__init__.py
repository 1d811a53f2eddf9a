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
bills          QueryAccountBills    billNo        ``AllocationIn`` for billType 1 (labour cost in)
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
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr
from requests import Response as RequestsResponse
from zeep import Client
from zeep.exceptions import Fault, TransportError, XMLSyntaxError
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from connectors.base import (
    AllocationIn,
    CheckResult,
    Connector,
    ConnectorConfig,
    DepositIn,
    Entity,
    FatalUpstreamError,
    MalformedResponse,
    Page,
    PayrollIn,
    Rejection,
    RetriableUpstreamError,
    Stream,
    TokenExpired,
    UpstreamError,
    WageAccountIn,
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


class BankSoapConfig(ConnectorConfig):
    """Where the bank's service is and the WS-Security credentials it issued."""

    base_url: str = Field(description="The bank's service root; the WSDL is at <base_url>/wage-account?wsdl")
    username: str = Field(description="WS-Security UsernameToken user name issued by the bank (接入用户名)")
    password: SecretStr = secret("WS-Security UsernameToken password")
    password_digest: bool = Field(default=True, description="Send PasswordDigest (nonce + created), not PasswordText")
    endpoint_url: str | None = Field(default=None, description="Call this address instead of the WSDL's soap:address")
    page_size: int = Field(default=500, ge=1, le=MAX_PAGE_SIZE, description="Records asked for per page (the bank allows 1000)")


class CredentialsRefused(FatalUpstreamError):
    """The bank refused the WS-Security credentials (SOAP fault AUTH_FAILED, HTTP 401/403)."""


def wsdl_url(config: BankSoapConfig) -> str:
    return f"{config.base_url.rstrip('/')}/wage-account?wsdl"


# -- talking to the bank ------------------------------------------------------------------------


class _HttpxTransport(Transport):
    """zeep's transport over ``httpx.Client``: time-outs and transport errors map like every connector's."""

    def __init__(self, client: httpx.Client) -> None:  # noqa: D107 - no requests.Session is made
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
    new.headers = response.headers  # type: ignore[assignment]
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
                raise CredentialsRefused(f"the bank refused the WS-Security credentials of user {username!r} "
                                         f"(SOAP fault {code}: {text}): check the username and password", detail=error_code) from exc
            # soap:Server — the bank's side failed, worth retrying; soap:Client — our request was refused
            retriable = "Server" in code or "Receiver" in code
            raise (RetriableUpstreamError if retriable else FatalUpstreamError)(f"SOAP fault {code}: {text}", detail=error_code) from exc
        except TransportError as exc:
            if exc.status_code in (401, 403):
                raise CredentialsRefused(f"the bank refused the credentials of user {username!r} (HTTP {exc.status_code}): "
                                         "check the username and password") from exc
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
                token = UsernameToken(config.username, config.password.get_secret_value(), use_digest=config.password_digest)
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
                updatedAfter=position[0] if position else None, lastKey=position[1] if position else None, pageSize=page_size)

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
            out[name] = v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v) if isinstance(v, Decimal) else v
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
                    after = position
                else:
                    after = self._advance(position, reply, records)
                    if records or after != position:
                        yield Page(records=records, state=_state(after))
                    if not reply.hasMore:
                        return
                stalled = stalled + 1 if after == position else 0
                if stalled >= MAX_STALLED_PAGES:
                    raise RetriableUpstreamError(f"the bank's paging does not advance past {_state(position)}",
                                                 connector=KIND, stream=self.name)
                position = after

    def _position_of(self, record: dict[str, Any]) -> tuple[dt.datetime, str]:
        try:
            return dt.datetime.fromisoformat(record[self.cursor_field]), str(record[self.primary_key[0]])
        except (KeyError, TypeError, ValueError) as exc:  # the WSDL makes both required: a broken answer
            raise MalformedResponse(f"a record without a valid {self.cursor_field} / {self.primary_key[0]}",
                                    connector=KIND, stream=self.name, detail=repr(exc)) from exc

    def _advance(self, position: tuple[dt.datetime, str] | None, reply: Any,
                 records: list[dict[str, Any]]) -> tuple[dt.datetime, str] | None:
        """The position after this page: never behind the one sent nor the page's last record."""
        candidates = [p for p in (position,) if p is not None]
        if reply.nextUpdatedAfter is not None:
            returned = (reply.nextUpdatedAfter, reply.nextLastKey or "")
            if position is not None and returned < position:
                log.warning("%s/%s: the bank returned position %s behind the one sent (%s); keeping ours",
                            KIND, self.name, returned, position)
            candidates.append(returned)
        if records:
            candidates.append(self._position_of(records[-1]))
        return max(candidates) if candidates else None


def _position(state: dict[str, Any]) -> tuple[dt.datetime, str] | None:
    return (dt.datetime.fromisoformat(state["updatedAfter"]), state.get("lastKey") or "") if state.get("updatedAfter") else None


def _state(position: tuple[dt.datetime, str] | None) -> dict[str, Any]:
    return {"updatedAfter": position[0].isoformat(), "lastKey": position[1]} if position else {}


class Accounts(_BankStream):
    name = "accounts"
    primary_key = ("salaryAccount",)
    operation, item = "QueryAccountInfo", "accountInfo"


class Bills(_BankStream):
    name = "bills"
    primary_key = ("billNo",)
    operation, item = "QueryAccountBills", "bill"


class PayDetails(_BankStream):
    name = "pay_details"
    primary_key = ("detailNo",)
    operation, item = "QueryPayDetails", "payDetail"


class Guarantees(_BankStream):
    name = "guarantees"
    primary_key = ("guaranteeNo",)
    operation, item = "QueryGuarantees", "guarantee"


# -- normalise: pure functions of one archived record -------------------------------------------


def _req(r: dict[str, Any], field: str) -> str:
    v = r.get(field)
    if v is None or str(v).strip() == "":
        raise Rejection(f"required field {field} is missing", field=field, value=v)
    return str(v).strip()


def _opt(r: dict[str, Any], field: str) -> str | None:
    v = r.get(field)
    return None if v is None or str(v).strip() == "" else str(v).strip()


def _date(r: dict[str, Any], field: str, *, required: bool = False) -> dt.date | None:
    v = _req(r, field) if required else _opt(r, field)
    try:
        return dt.date.fromisoformat(v) if v else None
    except ValueError:
        raise Rejection(f"{field} is not a date (YYYY-MM-DD): {v!r}", field=field, value=v) from None


def _dec(r: dict[str, Any], field: str, *, required: bool = False) -> Decimal | None:
    v = _req(r, field) if required else _opt(r, field)
    try:
        return Decimal(v) if v else None
    except InvalidOperation:
        raise Rejection(f"{field} is not a number: {v!r}", field=field, value=v) from None


def _int(r: dict[str, Any], field: str, *, required: bool = False) -> int | None:
    v = _req(r, field) if required else _opt(r, field)
    try:
        return int(v) if v else None
    except ValueError:
        raise Rejection(f"{field} is not an integer: {v!r}", field=field, value=v) from None


def _code(r: dict[str, Any], field: str, codes: dict[int, str], *, default: str | None = None) -> str:
    v = _int(r, field, required=default is None)
    if v is None and default is not None:
        return default
    if v not in codes:
        known = ", ".join(f"{k} {name}" for k, name in codes.items())
        raise Rejection(f"{field} must be one of {known}; got {v}", field=field, value=v)
    return codes[v]


def _account(r: dict[str, Any]) -> list[Entity]:
    return [WageAccountIn(
        salary_account=_req(r, "salaryAccount"), project_code=_req(r, "projectCode"), contractor_uscc=_req(r, "corpCode"),
        bank_name=_req(r, "bankName"), salary_account_name=_req(r, "salaryAccountName"), bank_code=_opt(r, "bankLinkNumber"),
        open_account_date=_date(r, "openAccountDate"), filed_date=_date(r, "recordDate"),
        account_balance=_dec(r, "accountBalance"), status=_code(r, "accountStatus", ACCOUNT_STATUS, default="open"),
    )]


def _bill(r: dict[str, Any]) -> list[Entity]:
    bill_type = _int(r, "billType", required=True)
    if bill_type == 2:
        # Expense bills (代发工资 actionType 1, transfers out actionType 2) are not labour-cost
        # allocations; the wages they pay arrive per worker on the pay_details stream. Skipped, not an error.
        return []
    if bill_type != 1:
        raise Rejection(f"billType must be 1 (income) or 2 (expense); got {bill_type}", field="billType", value=bill_type)
    # 条例 Art. 24: labour cost allocated into the 专户 (billType 1 — a 专户 takes in nothing else)
    return [AllocationIn(
        salary_account=_req(r, "salaryAccount"), batch_number=_req(r, "batchNumber"), bill_date=_date(r, "billDate", required=True),
        period_month=_opt(r, "period") or _req(r, "billDate")[:7], amount=_dec(r, "billAmount", required=True),
        account_balance=_dec(r, "accountBalance"), payer_name=_opt(r, "oppAccountName"), payer_account=_opt(r, "oppAccountNo"),
        progress_payment=_dec(r, "progressPayment"),
    )]  # type: ignore[arg-type]


def _pay_detail(r: dict[str, Any]) -> list[Entity]:
    # payStatus 0 未发放, 20 已发放, 30 发放失败, 40 重新发放中 (checked by the hub); isBackPay 1 = 补发
    return [PayrollIn(
        pay_roll_code=_req(r, "payRollCode"), project_code=_req(r, "projectCode"), id_number=_req(r, "idCardNumber"),
        pay_month=_req(r, "payMonth"), total_pay_amount=_dec(r, "totalPayAmount", required=True),
        actual_amount=_dec(r, "actualAmount", required=True), pay_status=_int(r, "payStatus", required=True),
        salary_account=_opt(r, "salaryAccount"), worker_name=_opt(r, "name"), corp_uscc=_opt(r, "corpCode"),
        days=_int(r, "days"), work_hours=_dec(r, "workHours"),
        balance_date=_date(r, "balanceDate"), is_back_pay=_int(r, "isBackPay") == 1, bank_card=_opt(r, "bankCardNumber"),
        batch_number=_opt(r, "batchNumber"),
    )]  # type: ignore[arg-type]


def _guarantee(r: dict[str, Any]) -> list[Entity]:
    # 人社部发〔2021〕65号: the deposit may be replaced by a bank guarantee letter (保函) or insurance
    return [DepositIn(
        guarantee_no=_req(r, "guaranteeNo"), project_code=_req(r, "projectCode"), contractor_uscc=_req(r, "corpCode"),
        kind=_code(r, "guaranteeType", GUARANTEE_KIND, default="bank_guarantee"), amount=_dec(r, "guaranteeAmount", required=True),
        rate=_dec(r, "depositRate"), deposited_on=_date(r, "issueDate"), issuer=_opt(r, "issueBank"),
        valid_from=_date(r, "validFrom"), valid_to=_date(r, "validTo"),
        status=_code(r, "guaranteeStatus", GUARANTEE_STATUS, default="active"),
    )]  # type: ignore[arg-type]


_NORMALISERS = {"accounts": _account, "bills": _bill, "pay_details": _pay_detail, "guarantees": _guarantee}


# -- the connector ---------------------------------------------------------------------------------


class BankSoapConnector(Connector[BankSoapConfig]):
    """A bank's 专户 service: accounts, bills, pay details and guarantee letters, over SOAP."""

    kind = KIND
    title = "银行专户 (SOAP)"
    config_model = BankSoapConfig
    sandbox = "connectors.bank_soap.sandbox:create_app"

    def check(self, config: BankSoapConfig) -> CheckResult:
        """Load the WSDL and ask for one account with the credentials."""
        try:
            with _session(config, stream="check") as bank:
                bank.query("QueryAccountInfo", None, 1)
        except CredentialsRefused as exc:
            return CheckResult(False, exc.message)
        except UpstreamError as exc:
            if isinstance(exc.__cause__, httpx.TransportError):
                return CheckResult(False, f"cannot reach the bank's service at {wsdl_url(config)} ({exc.message}): "
                                          "check base_url and the network")
            return CheckResult(False, f"the bank's service answered with an error: {exc.message}")
        return CheckResult(True, f"connected to {bank.address} as user {config.username!r}")

    def streams(self, config: BankSoapConfig) -> list[Stream[BankSoapConfig]]:
        return [Accounts(self, config), Bills(self, config), PayDetails(self, config), Guarantees(self, config)]

    def normalise(self, stream: str, record: dict[str, Any]) -> list[Entity]:
        if stream not in _NORMALISERS:
            raise ValueError(f"bank_soap has no stream {stream!r}: use one of {', '.join(_NORMALISERS)}")
        return _NORMALISERS[stream](record)


__all__ = ["BankSoapConfig", "BankSoapConnector", "CredentialsRefused"]
