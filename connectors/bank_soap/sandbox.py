"""Sandbox of a bank's 农民工工资专户 SOAP service (SOAP 1.1, document/literal, WS-Security).

    GET  /wage-account?wsdl    the WSDL (``wsdl/wage_account.wsdl``, endpoint = the request's URL)
    POST /wage-account         QueryAccountInfo / QueryAccountBills / QueryPayDetails / QueryGuarantees
                               (updatedAfter?, lastKey?, pageSize 1..1000) → resultCode, hasMore,
                               nextUpdatedAfter, nextLastKey, records
    GET  /health

Records are ordered by ``updateTime`` (CST) then key (``salaryAccount``, ``billNo``, ``detailNo``,
``guaranteeNo``); a request reads those after the keyset position ``(updatedAfter, lastKey)``. Errors
are SOAP 1.1 faults (HTTP 500, ``soap:Client``, Chinese ``faultstring``, ``detail/errorCode``
AUTH_FAILED / TOKEN_EXPIRED / BAD_REQUEST); every call needs a WS-Security UsernameToken.

History: every 专户 of the world; its income bills (labour-cost allocations) and its expense bills
(one 代发 bill per pay batch, and a closed account's remainder transferred out); every pay detail paid from a 专户; every 保函 / guarantee insurance (cash deposits have
no guarantee number). Live: every ``live_interval_seconds`` of ``clock()`` from the moment the world was
seeded (``World.live_start``; a past day's world: its ``today``, 00:00 CST) the next open 专户 in turn receives labour cost (a new income bill and a new balance), pays
one of its workers (a new pay detail) and has a new 保函 issued. Protocol faults:
``duplicate_page_next``, ``cursor_backwards_next``, ``expire_token_next``, ``bad_records_next`` (an
account with a wrong USCC check character, an income bill without ``billAmount``, a pay detail with
a wrong ID check digit, a 保函 without ``guaranteeAmount``).
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import hmac
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from lxml import etree
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connectors.sandbox.faults import FaultMiddleware, Faults

if TYPE_CHECKING:
    from connectors.sandbox.world import World

CST = dt.timezone(dt.timedelta(hours=8))
TNS = "http://wageaccount.bank.example.cn/ws/v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSDL_FILE = Path(__file__).with_name("wsdl") / "wage_account.wsdl"
WSDL_ADDRESS = "https://bank.example.cn/wage-api/wage-account"  # rewritten to the request's URL
#: The fixed credentials the sandbox accepts by default (override with ``username=`` / ``password=``).
DEMO_CREDENTIALS = {"username": "hub-demo", "password": "wage-account-demo"}
MAX_PAGE_SIZE = 1000
TOKEN_MAX_AGE = dt.timedelta(minutes=5)
MALFORMED_BODY = b"<soap:Envelope><broken"

ACCOUNT_STATUS = {"open": 1, "frozen": 2, "closed": 3}
GUARANTEE_TYPE = {"bank_guarantee": 1, "insurance": 2}
GUARANTEE_STATUS = {"active": 1, "used": 2, "refunded": 3}
EXPENSE_ACTION = {"wages": 1, "transfer": 2}  # actionType: 1 代发工资, 2 转账
Record = dict[str, Any]
Position = tuple[dt.datetime, str]


def _sequences(wsdl: bytes) -> dict[str, tuple[str, ...]]:
    """Element order of each record element, from the WSDL's schema (its xsd:sequence)."""
    xs = "{http://www.w3.org/2001/XMLSchema}"
    types = {
        t.get("name"): tuple(e.get("name") for e in t.iter(f"{xs}element"))
        for t in etree.fromstring(wsdl).iter(f"{xs}complexType")
    }
    return {
        "accountInfo": types["AccountInfo"],
        "bill": types["AccountBill"],
        "payDetail": types["PayDetail"],
        "guarantee": types["Guarantee"],
    }


FIELDS = _sequences(WSDL_FILE.read_bytes())


def _instant(t: dt.datetime) -> dt.datetime:
    """An instant in China Standard Time (naive values are taken as CST)."""
    return t.replace(tzinfo=CST) if t.tzinfo is None else t.astimezone(CST)


def money(v: Decimal | int | None) -> Decimal | None:
    return None if v is None else Decimal(v).quantize(Decimal("0.01"))


def _prev_month(d: dt.date) -> str:
    first = d.replace(day=1) - dt.timedelta(days=1)
    return f"{first:%Y-%m}"


def _wrong_check_char(code: str) -> str:
    return code[:-1] + ("1" if code[-1] != "1" else "2")


# -- the bank's records, from the world --------------------------------------------------------


class _Bank:
    """The world as the bank holds it: history per operation, and live records by tick."""

    def __init__(self, world: World, *, interval: float) -> None:
        self.w = world
        self.interval = interval
        self.epoch = world.live_start()  # the history is clamped to before it
        latest = self.epoch - dt.timedelta(seconds=1)

        def clamp(t: dt.datetime) -> dt.datetime:  # history never overtakes the live records
            return min(_instant(t).replace(microsecond=0), latest)

        w = world
        self.open_accounts = sorted(
            (a for a in w.accounts.values() if a["status"] == "open"), key=lambda a: a["salary_account"]
        )
        self.open_index = {a["salary_account"]: i for i, a in enumerate(self.open_accounts)}
        self.workers_by_project: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for wk in w.workers:
            if not wk.get("exit_date"):  # live wages go to workers still on site
                self.workers_by_project[wk["project_id"]].append(wk)
        self.payer: dict[str, tuple[str | None, str | None]] = {}
        for al in sorted(w.allocations, key=lambda a: a["id"]):
            self.payer[al["salary_account"]] = (al["payer_name"], al["payer_account"])

        accounts = [self.account(a, when=clamp(a["created_at"])) for a in w.accounts.values()]
        bills = [self.income_bill(a, when=clamp(a["created_at"])) for a in w.allocations]
        bills += [self.expense_bill(e, when=clamp(e["created_at"])) for e in w.expenses]
        details = [self.pay_detail(p, when=clamp(self._paid_at(p))) for p in w.payroll if p["salary_account"]]
        guarantees = [self.guarantee(d, when=clamp(d["created_at"])) for d in w.deposits if d["guarantee_no"]]
        self.feeds = {
            "QueryAccountInfo": _Feed(
                "accountInfo", "salaryAccount", accounts, self.live_account, self.account_visible
            ),
            "QueryAccountBills": _Feed("bill", "billNo", bills, self.live_bill),
            "QueryPayDetails": _Feed("payDetail", "detailNo", details, self.live_pay_detail),
            "QueryGuarantees": _Feed("guarantee", "guaranteeNo", guarantees, self.live_guarantee),
        }

    @staticmethod
    def _paid_at(p: dict[str, Any]) -> dt.datetime:
        if p["balance_date"]:
            return dt.datetime.combine(p["balance_date"], dt.time(16, 0), CST)
        y, m = map(int, p["pay_month"].split("-"))  # not paid yet: the wage sheet arrived early next month
        return dt.datetime(y + m // 12, m % 12 + 1, 5, 9, 0, tzinfo=CST)

    # -- record shapes (docs/domain.md "Field names of the upstream interfaces": bank 专户) --

    def account(self, a: dict[str, Any], *, when: dt.datetime, balance: Decimal | None = None) -> Record:
        ent = self.w.enterprise_by_id(a["enterprise_id"])
        return {
            "salaryAccount": a["salary_account"],
            "salaryAccountName": a["salary_account_name"],
            "projectCode": self.w.project_by_id(a["project_id"])["project_code"],
            "corpCode": ent["uscc"],
            "corpName": ent["name"],
            "bankName": a["bank_name"],
            "bankLinkNumber": a["bank_code"],
            "openAccountDate": a["open_account_date"],
            "recordDate": a["filed_date"],
            "accountStatus": ACCOUNT_STATUS[a["status"]],
            "accountBalance": money(a["account_balance"] if balance is None else balance),
            "updateTime": when,
        }

    def income_bill(self, al: dict[str, Any], *, when: dt.datetime) -> Record:
        # billType 1 收入 / actionType 2 转账: labour cost transferred in by the builder (条例 Art. 24)
        return {
            "billNo": f"LS1{al['bill_date']:%Y%m%d}{al['id']:09d}",
            "salaryAccount": al["salary_account"],
            "projectCode": self.w.project_by_id(al["project_id"])["project_code"],
            "billType": 1,
            "actionType": 2,
            "billDate": al["bill_date"],
            "billAmount": money(al["amount"]),
            "accountBalance": money(al["account_balance"]),
            "batchNumber": al["batch_number"],
            "oppAccountName": al["payer_name"],
            "oppAccountNo": al["payer_account"],
            "period": al["period_month"],
            "progressPayment": money(al["progress_payment"]),
            "remark": "人工费用拨付",
            "updateTime": when,
        }

    def expense_bill(self, e: dict[str, Any], *, when: dt.datetime) -> Record:
        """Money leaving the 专户 (billType 2 支出): a 代发 batch (actionType 1) or a transfer (2)."""
        return {
            "billNo": f"LS2{e['bill_date']:%Y%m%d}{e['id']:09d}",
            "salaryAccount": e["salary_account"],
            "projectCode": self.w.project_by_id(e["project_id"])["project_code"],
            "billType": 2,
            "actionType": EXPENSE_ACTION[e["action"]],
            "billDate": e["bill_date"],
            "billAmount": money(e["amount"]),
            "accountBalance": money(e["account_balance"]),
            "batchNumber": e["batch_number"],
            "oppAccountName": e["counterparty_name"],
            "oppAccountNo": e["counterparty_account"],
            "remark": e["purpose"],
            "updateTime": when,
        }

    def pay_detail(self, p: dict[str, Any], *, when: dt.datetime) -> Record:
        return {
            "detailNo": f"MX{p['id']:012d}",
            "payRollCode": p["pay_roll_code"],
            "projectCode": self.w.project_by_id(p["project_id"])["project_code"],
            "corpCode": self.w.enterprise_by_id(
                p.get("enterprise_id") or self.w.project_by_id(p["project_id"])["contractor_id"]
            )["uscc"],
            "salaryAccount": p["salary_account"],
            "batchNumber": p["batch_number"],
            "name": p["worker_name"],
            "idCardNumber": p["id_number"],
            "bankCardNumber": p["bank_card"],
            "payMonth": p["pay_month"],
            "totalPayAmount": money(p["total_pay_amount"]),
            "actualAmount": money(p["actual_amount"]),
            "days": p["days"],
            "workHours": p["work_hours"],
            "balanceDate": p["balance_date"],
            "payStatus": p["pay_status"],
            "isBackPay": int(p["is_back_pay"]),
            "updateTime": when,
        }

    def guarantee(self, d: dict[str, Any], *, when: dt.datetime) -> Record:
        ent = self.w.enterprise_by_id(d["enterprise_id"])
        return {
            "guaranteeNo": d["guarantee_no"],
            "projectCode": self.w.project_by_id(d["project_id"])["project_code"],
            "corpCode": ent["uscc"],
            "corpName": ent["name"],
            "guaranteeType": GUARANTEE_TYPE[d["kind"]],
            "guaranteeAmount": money(d["amount"]),
            "depositRate": d["rate"],
            "issueBank": d["issuer"],
            "issueDate": d["deposited_on"],
            "validFrom": d["valid_from"],
            "validTo": d["valid_to"],
            "guaranteeStatus": GUARANTEE_STATUS[d["status"]],
            "updateTime": when,
        }

    # -- live records: tick k (k >= 1) happens at epoch + k * interval ------------------------

    def tick_time(self, k: int) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=k * self.interval)

    def ticks(self, now: dt.datetime) -> int:
        """How many live ticks have happened by ``now``."""
        elapsed = _instant(now) - self.epoch
        return max(0, int(elapsed.total_seconds() // self.interval)) if self.open_accounts else 0

    def _tick(self, k: int) -> tuple[dt.datetime, dict[str, Any], Decimal]:
        """The account tick ``k`` concerns (open accounts in turn) and the labour cost it receives."""
        acc = self.open_accounts[(k - 1) % len(self.open_accounts)]
        amount = Decimal(self.w.rng("bank_soap", "bill", k).randrange(300, 3000) * 100)
        return self.tick_time(k), acc, amount

    def live_account(self, k: int) -> Record:
        t, acc, amount = self._tick(k)
        return self.account(acc, when=t, balance=acc["account_balance"] + amount)

    def account_visible(self, record: Record, ticks: int) -> bool:
        """Only an account's latest version is listed: tick k's is superseded by tick k + N."""
        i = self.open_index.get(record["salaryAccount"])
        if i is None:
            return True
        n = len(self.open_accounts)
        if record["updateTime"] < self.epoch:  # the history version: superseded once the account's first tick happened
            return ticks < i + 1
        k = round((record["updateTime"] - self.epoch).total_seconds() / self.interval)
        return k + n > ticks

    def live_bill(self, k: int) -> Record:
        t, acc, amount = self._tick(k)
        proj = self.w.project_by_id(acc["project_id"])
        payer = self.payer.get(acc["salary_account"]) or (
            self.w.enterprise_by_id(proj["builder_id"])["name"] if proj.get("builder_id") else None,
            None,
        )
        ratio = proj.get("labour_cost_ratio")
        return {
            "billNo": f"LS1{t:%Y%m%d}9{k:08d}",
            "salaryAccount": acc["salary_account"],
            "projectCode": proj["project_code"],
            "billType": 1,
            "actionType": 2,
            "billDate": t.date(),
            "billAmount": money(amount),
            "accountBalance": money(acc["account_balance"] + amount),
            "batchNumber": f"SR{t:%Y%m%d}{9_000_000_000 + k}",
            "oppAccountName": payer[0],
            "oppAccountNo": payer[1],
            "period": _prev_month(t.date()),
            "progressPayment": money(amount / ratio) if ratio else None,
            "remark": "人工费用拨付",
            "updateTime": t,
        }

    def live_pay_detail(self, k: int) -> Record | None:
        t, acc, _ = self._tick(k)
        workers = self.workers_by_project.get(acc["project_id"])
        if not workers:
            return None
        rng = self.w.rng("bank_soap", "pay", k)
        wk = rng.choice(workers)
        month = _prev_month(t.date())
        days = rng.randint(18, 26)
        total = Decimal(rng.randrange(180, 400) * days)
        return self.pay_detail(
            {
                "id": 900_000_000_000 + k,
                "pay_roll_code": f"GZ9{k:07d}{month.replace('-', '')}",
                "project_id": acc["project_id"],
                "salary_account": acc["salary_account"],
                "batch_number": f"PF{month.replace('-', '')}9{k:09d}",
                "worker_name": wk["name"],
                "id_number": wk["id_number"],
                "bank_card": wk["bank_card"],
                "pay_month": month,
                "total_pay_amount": total,
                "actual_amount": total,
                "days": days,
                "work_hours": Decimal(days * 8),
                "balance_date": t.date(),
                "pay_status": 20,
                "is_back_pay": False,
            },
            when=t,
        )

    def live_guarantee(self, k: int) -> Record:
        t, acc, _ = self._tick(k)
        proj = self.w.project_by_id(acc["project_id"])
        rate = Decimal("0.0100")  # 人社部发〔2021〕65号: 1%–3% of the contract value
        return self.guarantee(
            {
                "guarantee_no": f"BH{t:%Y%m%d}9{k:07d}",
                "project_id": proj["id"],
                "enterprise_id": acc["enterprise_id"],
                "kind": "bank_guarantee",
                "amount": (proj["contract_value"] or Decimal(3_000_000)) * rate,
                "rate": rate,
                "issuer": acc["bank_name"],
                "deposited_on": t.date(),
                "valid_from": t.date(),
                "valid_to": t.date() + dt.timedelta(days=365),
                "status": "active",
            },
            when=t,
        )


@dataclass
class _Feed:
    """One operation's records: history ordered by (updateTime, key), then live records by tick."""

    item: str
    key: str
    history: list[Record]
    live: Callable[[int], Record | None]
    visible: Callable[[Record, int], bool] = lambda _r, _n: True

    def __post_init__(self) -> None:
        self.history.sort(key=lambda r: (r["updateTime"], r[self.key]))
        self.index = [(r["updateTime"], r[self.key]) for r in self.history]

    def after(self, position: Position | None, ticks: int, bank: _Bank) -> Iterator[Record]:
        """Records after ``position`` (exclusive), in order, as the bank holds them after ``ticks`` ticks."""
        if position is None or position < (bank.epoch, ""):
            for i in range(bisect.bisect_right(self.index, position) if position else 0, len(self.history)):
                if self.visible(self.history[i], ticks):
                    yield self.history[i]
            k = 1
        else:  # skip straight to the first tick after the position
            k = max(1, int((position[0] - bank.epoch).total_seconds() // bank.interval))
            while k <= ticks and bank.tick_time(k) < position[0]:
                k += 1
        for tick in range(k, ticks + 1):
            r = self.live(tick)
            if (
                r is not None
                and (r["updateTime"], r[self.key]) > (position or (bank.epoch, ""))
                and self.visible(r, ticks)
            ):
                yield r


# -- SOAP ------------------------------------------------------------------------------------------


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return escape(str(v))


def render_record(item: str, record: Record) -> str:
    inner = "".join(f"<{name}>{_text(record[name])}</{name}>" for name in FIELDS[item] if record.get(name) is not None)
    return f"<{item}>{inner}</{item}>"


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f"{body}</soap:Body></soap:Envelope>"
    ).encode()


def soap_fault(message: str, error_code: str, *, code: str = "soap:Client") -> Response:
    """A SOAP 1.1 fault, as the bank answers errors (HTTP 500, SOAP 1.1 §6.2)."""
    body = (
        f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        f'<detail><tns:errorCode xmlns:tns="{TNS}">{error_code}</tns:errorCode></detail></soap:Fault>'
    )
    return Response(envelope(body), status_code=500, media_type="text/xml; charset=utf-8")


def verify_token(header: etree._Element | None, *, username: str, password: str, now: dt.datetime) -> Response | None:
    """Check the WS-Security UsernameToken (OASIS UsernameToken Profile 1.0); a fault when it fails."""
    token = header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken") if header is not None else None
    if token is None:
        return soap_fault("认证失败：缺少 WS-Security UsernameToken", "AUTH_FAILED")
    user = token.findtext(f"{{{WSSE}}}Username") or ""
    pw = token.find(f"{{{WSSE}}}Password")
    nonce, created = token.findtext(f"{{{WSSE}}}Nonce"), token.findtext(f"{{{WSU}}}Created")
    given = (pw.text or "") if pw is not None else ""
    if pw is not None and (pw.get("Type") or "").endswith("#PasswordDigest"):
        try:
            raw_nonce = base64.b64decode(nonce or "", validate=True)
        except ValueError:
            raw_nonce = b""
        # Password_Digest = Base64(SHA-1(nonce + created + password))
        expected = base64.b64encode(
            hashlib.sha1(raw_nonce + (created or "").encode() + password.encode()).digest()
        ).decode()
        ok = bool(raw_nonce and created) and hmac.compare_digest(given.encode(), expected.encode())
    else:
        ok = hmac.compare_digest(given.encode(), password.encode())
    if not (ok and hmac.compare_digest(user.encode(), username.encode())):
        return soap_fault("认证失败：用户名或密码错误", "AUTH_FAILED")
    if created:
        try:
            age = now - dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return soap_fault("认证失败：wsu:Created 格式错误", "AUTH_FAILED")
        if abs(age) > TOKEN_MAX_AGE:
            return soap_fault("TOKEN_EXPIRED：安全令牌已过期，请重新认证", "TOKEN_EXPIRED")
    return None


def create_app(
    *,
    world: World,
    faults: Faults | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    live_interval_seconds: float = 20.0,
    username: str = DEMO_CREDENTIALS["username"],
    password: str = DEMO_CREDENTIALS["password"],
    **options: Any,
) -> Starlette:
    """The bank's 专户 SOAP service over ``world``, wrapped in ``FaultMiddleware`` (``app.state.faults``)."""
    if options:
        raise TypeError(f"unknown sandbox option(s): {', '.join(sorted(options))}")
    faults = faults or Faults()
    now = clock or (lambda: dt.datetime.now(CST))
    bank = _Bank(world, interval=live_interval_seconds)
    wsdl = WSDL_FILE.read_text(encoding="utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    last_page: dict[str, bytes] = {}  # per operation, for duplicate_page_next

    async def wsdl_or_info(request: Request) -> Response:
        if "wsdl" not in {k.lower() for k in request.query_params}:
            return PlainTextResponse(
                "农民工工资专户服务：GET ?wsdl 取服务描述，POST SOAP 1.1 报文调用", status_code=405
            )
        endpoint = str(request.url.replace(query=""))
        return Response(wsdl.replace(WSDL_ADDRESS, escape(endpoint)), media_type="text/xml; charset=utf-8")

    async def call(request: Request) -> Response:
        try:
            env = etree.fromstring(await request.body(), parser)
        except etree.XMLSyntaxError:
            return soap_fault("请求报文不是合法的 XML", "BAD_REQUEST")
        body = env.find(f"{{{SOAP_ENV}}}Body")
        if env.tag != f"{{{SOAP_ENV}}}Envelope" or body is None or len(body) == 0:
            return soap_fault("请求报文不是 SOAP 1.1 Envelope", "BAD_REQUEST")
        denied = verify_token(
            env.find(f"{{{SOAP_ENV}}}Header"), username=username, password=password, now=dt.datetime.now(dt.UTC)
        )
        if denied is not None:
            return denied
        if faults.take("expire_token_next"):
            return soap_fault("TOKEN_EXPIRED：安全令牌已过期，请重新认证", "TOKEN_EXPIRED")
        op = etree.QName(body[0]).localname.removesuffix("Request")
        feed = bank.feeds.get(op)
        if feed is None or etree.QName(body[0]).namespace != TNS:
            return soap_fault(f"不支持的操作：{etree.QName(body[0]).localname}", "BAD_REQUEST")
        if op in last_page and faults.take("duplicate_page_next"):
            return Response(last_page[op], media_type="text/xml; charset=utf-8")
        req = body[0]
        try:
            size = int(req.findtext(f"{{{TNS}}}pageSize") or "")
            after_text = req.findtext(f"{{{TNS}}}updatedAfter")
            position = (
                (
                    _instant(dt.datetime.fromisoformat(after_text.replace("Z", "+00:00"))),
                    req.findtext(f"{{{TNS}}}lastKey") or "",
                )
                if after_text
                else None
            )
        except ValueError:
            return soap_fault("请求参数格式错误：pageSize 须为整数，updatedAfter 须为 xsd:dateTime", "BAD_REQUEST")
        if not 1 <= size <= MAX_PAGE_SIZE:
            return soap_fault(f"pageSize 超出范围：须在 1–{MAX_PAGE_SIZE} 之间，收到 {size}", "BAD_REQUEST")
        rows: list[Record] = []
        for r in feed.after(position, bank.ticks(now()), bank):
            rows.append(r)
            if len(rows) > size:
                break
        has_more, rows = len(rows) > size, rows[:size]
        nxt: Position | None = (rows[-1]["updateTime"], rows[-1][feed.key]) if rows else position
        if position and faults.take("cursor_backwards_next"):  # a cursor a day behind the request's
            nxt = (position[0] - dt.timedelta(days=1), position[1])
        if rows and faults.take("bad_records_next"):
            rows = _spoil(feed.item, rows)
        head = f"<resultCode>0000</resultCode><resultMsg>成功</resultMsg><hasMore>{_text(has_more)}</hasMore>"
        if nxt is not None:
            head += f"<nextUpdatedAfter>{_text(nxt[0])}</nextUpdatedAfter><nextLastKey>{_text(nxt[1])}</nextLastKey>"
        records = "".join(render_record(feed.item, r) for r in rows)
        page = envelope(f'<{op}Response xmlns="{TNS}">{head}{records}</{op}Response>')
        last_page[op] = page
        return Response(page, media_type="text/xml; charset=utf-8")

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/wage-account", wsdl_or_info, methods=["GET"]),
            Route("/wage-account", call, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        middleware=[Middleware(FaultMiddleware, faults=faults, malformed_body=MALFORMED_BODY)],
    )
    app.state.faults = faults
    app.state.bank = bank
    return app


def _spoil(item: str, rows: list[Record]) -> list[Record]:
    """``bad_records_next``: one record of the page that normalise / ingest must reject."""
    rows = list(rows)
    if item == "bill":  # an income bill without its amount
        i = next((i for i, r in enumerate(rows) if r["billType"] == 1), 0)
        rows[i] = {**rows[i], "billAmount": None}
    elif item == "accountInfo":  # GB 32100-2015: a wrong check character
        rows[0] = {**rows[0], "corpCode": _wrong_check_char(rows[0]["corpCode"])}
    elif item == "payDetail":  # GB 11643-1999: a wrong check digit
        rows[0] = {**rows[0], "idCardNumber": _wrong_check_char(rows[0]["idCardNumber"])}
    else:
        rows[0] = {**rows[0], "guaranteeAmount": None}
    return rows
