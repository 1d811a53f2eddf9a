"""Sandbox of a bank's 专户 open API (JSON REST, OAuth2 client credentials, cursor pagination).

Serves the world's wage accounts, their bills, the pay details and the guarantee letters under the
field names of docs/domain.md ("Field names of the upstream interfaces": bank 专户, bill, pay)::

    POST /oauth/token                  grant_type=client_credentials&client_id=…&client_secret=…
    GET  /v1/{accounts,bills,pay-details,guarantees}?limit=…&cursor=…&updatedAfter=…
    GET  /health

Listings are ordered by ``updateTime`` (Beijing time, ``YYYY-MM-DD HH:MM:SS``) then the primary key;
``updatedAfter`` is inclusive, ``limit`` is 1–1000, and ``nextCursor`` is opaque (base64 of the
last position served). History is everything the world holds, at the record's own time; from the
moment the world was seeded (``World.live_start``; a past day's world: its ``today``, 00:00) one live
record per stream appears every ``live_interval_seconds`` of ``clock()``.

Every history listing is built and sorted once, when the app is created; a page is a slice found by
bisection and serialised in one orjson call, so the full payroll of a large world (a 200,000-record
backfill) is served as fast as the client can ask, whatever the scale. ``live=False`` freezes the
listings at the history (a repeatable backfill).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import datetime as dt
import hmac
import logging
import operator
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.sandbox.faults import FaultMiddleware, Faults
from hub.identifiers import id_check_char

if TYPE_CHECKING:
    from connectors.sandbox.world import World

log = logging.getLogger(__name__)

BJ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
CLIENT_ID = "wage-hub"
CLIENT_SECRET = "sandbox-client-secret"
#: The credentials the sandbox accepts (``hub sandbox`` prints them; ``hub serve`` configures them).
DEMO_CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
TOKEN_TTL_SECONDS = 7200
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ACCOUNT_STATUS = {"open": "1", "frozen": "2", "closed": "3"}
GUARANTEE_TYPES = {"bank_guarantee": "01", "insurance": "02"}
GUARANTEE_STATUS = {"active": "1", "used": "2", "refunded": "3"}

Row = dict[str, Any]
Position = tuple[str, ...]


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(BJ).strftime(TIME_FORMAT)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class _Listing:
    """One endpoint: history (sorted once, with its positions) followed by live records 1, 2, …"""

    pk: tuple[str, ...]
    rows: list[Row]
    live: Callable[[int], Row]
    bad: Callable[[Row], Row]
    keys: list[Position] = field(default_factory=list)

    def __post_init__(self) -> None:
        # (updateTime, *primary key): the order of the listing and what a cursor encodes
        self.position: Callable[[Row], Position] = operator.itemgetter("updateTime", *self.pk)
        self.rows.sort(key=self.position)
        self.keys = list(map(self.position, self.rows))
        self.live = lru_cache(maxsize=4096)(self.live)


class _View:
    """The listing as of now: a sequence of positions that ``bisect`` can search."""

    def __init__(self, listing: _Listing, live_count: int) -> None:
        self.listing, self.history, self.live_count = listing, len(listing.rows), live_count

    def __len__(self) -> int:
        return self.history + self.live_count

    def __getitem__(self, i: int) -> Position:
        return self.listing.keys[i] if i < self.history else self.listing.position(self.row(i))

    def row(self, i: int) -> Row:
        return self.listing.rows[i] if i < self.history else self.listing.live(i - self.history + 1)

    def rows(self, start: int, end: int) -> list[Row]:
        out = self.listing.rows[start : min(end, self.history)]  # a copy: the history itself is never changed
        return out + [self.row(i) for i in range(max(start, self.history), end)]


def _encode_cursor(position: Position) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode()


def _decode_cursor(cursor: str) -> Position:
    value = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("not a cursor")
    return tuple(value)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def create_app(
    *,
    world: World,
    faults: Faults | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    live_interval_seconds: float = 20.0,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    token_ttl_seconds: int = TOKEN_TTL_SECONDS,
    live: bool = True,
    **options: Any,
) -> Starlette:
    """The bank's open API over ``world``; ``live=False`` serves history only (e.g. for a backfill benchmark)."""
    if options:
        log.warning("bank_rest sandbox: ignoring unknown option(s) %s", ", ".join(sorted(options)))
    if live_interval_seconds <= 0:
        raise ValueError(f"live_interval_seconds must be positive, got {live_interval_seconds}")
    faults = faults or Faults()
    clock = clock or (lambda: dt.datetime.now(dt.UTC))
    epoch = world.live_start()  # the history is clamped to before it
    listings = _build(world, epoch, live_interval_seconds)
    tokens: dict[str, dt.datetime] = {}  # access token → expiry
    stats = {"tokens_issued": 0}

    def now() -> dt.datetime:
        moment = clock()
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    def live_count() -> int:
        seconds = (now() - epoch).total_seconds()
        return max(0, int(seconds // live_interval_seconds)) if live else 0

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(errors="replace")))
        cid, csecret = form.get("client_id", ""), form.get("client_secret", "")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):  # client_secret_basic (RFC 6749 §2.3.1)
            try:
                cid, _, csecret = base64.b64decode(basic[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                cid = csecret = ""
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "only client_credentials is supported"}, 400
            )
        if not (
            hmac.compare_digest(cid.encode(), client_id.encode())
            and hmac.compare_digest(csecret.encode(), client_secret.encode())
        ):
            return JSONResponse({"error": "invalid_client", "error_description": "client authentication failed"}, 401)
        value = secrets.token_urlsafe(24)
        tokens[value] = now() + dt.timedelta(seconds=token_ttl_seconds)
        stats["tokens_issued"] += 1
        return JSONResponse(
            {
                "access_token": value,
                "token_type": "Bearer",
                "expires_in": token_ttl_seconds,
                "scope": "account bill payroll guarantee",
            }
        )

    async def listing(request: Request) -> Response:
        name = request.path_params["stream"]
        if name not in listings:
            return _error(404, "NOT_FOUND", f"no such resource: {name}")
        auth = request.headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not bearer:
            return _error(401, "UNAUTHORIZED", "missing bearer token")
        if bearer not in tokens:
            return _error(401, "INVALID_TOKEN", "unknown access token")
        if tokens[bearer] <= now() or faults.take("expire_token_next"):
            tokens.pop(bearer, None)
            return _error(401, "TOKEN_EXPIRED", "access token expired, please obtain a new one")
        q = request.query_params
        try:
            limit = int(q.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return _error(400, "INVALID_PARAM", f"limit must be between 1 and {MAX_LIMIT}")
        view = _View(listings[name], live_count())
        if q.get("cursor"):
            try:
                start = bisect.bisect_right(view, _decode_cursor(q["cursor"]))
            except (ValueError, binascii.Error):
                return _error(400, "INVALID_CURSOR", "cursor is invalid or expired")
        elif q.get("updatedAfter"):
            try:
                after = dt.datetime.fromisoformat(q["updatedAfter"])
            except ValueError:
                return _error(400, "INVALID_PARAM", "updatedAfter must be yyyy-MM-dd HH:mm:ss")
            start = bisect.bisect_left(view, (_ts(after) if after.tzinfo else after.strftime(TIME_FORMAT),))
        else:
            start = 0
        end = min(start + limit, len(view))
        if q.get("cursor") and start > 0 and faults.duplicate_page_next > 0 and faults.take("duplicate_page_next"):
            start, end = max(0, start - limit), start  # the previous page again, with the same next cursor
        rows = view.rows(start, end)
        has_more = end < len(view)
        next_cursor = _encode_cursor(view[end - 1]) if has_more else None
        if has_more and faults.cursor_backwards_next > 0 and faults.take("cursor_backwards_next"):
            back = start - limit - 1  # one page before the request's own position
            next_cursor = _encode_cursor(view[back] if back >= 0 else ("",))
        if rows and faults.take("bad_records_next"):
            rows.insert(1, listings[name].bad(rows[0]))
        # One orjson call per page: ~10x faster than serialising record by record.
        return Response(
            orjson.dumps({"data": rows, "nextCursor": next_cursor, "hasMore": has_more}), media_type="application/json"
        )

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/v1/{stream}", listing, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        middleware=[Middleware(FaultMiddleware, faults=faults)],
    )
    app.state.faults = faults
    app.state.world = world
    app.state.listings = listings
    app.state.live_count = live_count
    app.state.stats = stats
    app.state.credentials = (client_id, client_secret)
    return app


# -- the world as the bank holds it ----------------------------------------------------------------


def _build(world: World, epoch: dt.datetime, interval: float) -> dict[str, _Listing]:
    """Every listing: the history built and sorted once, and how live and bad records are made."""
    before = epoch - dt.timedelta(seconds=1)  # history is older than the first live record

    def at(moment: dt.datetime) -> str:
        return _ts(min(moment, before))

    def live_at(i: int) -> dt.datetime:
        return epoch + dt.timedelta(seconds=i * interval)

    ent, proj = world.enterprise_by_id, world.project_by_id
    code_of = {p["id"]: p["project_code"] for p in world.projects.values()}
    uscc_of = {e["id"]: e["uscc"] for e in world.enterprises.values()}
    projects = sorted(world.projects.values(), key=lambda p: p["project_code"])
    accounts = sorted(world.accounts.values(), key=lambda a: a["salary_account"])
    account_of_project = {a["project_id"]: a for a in reversed(accounts)}
    open_accounts = [a for a in accounts if a["status"] == "open"]
    banks = sorted({(a["bank_name"], a["bank_code"]) for a in accounts})
    payer_accounts = {a["salary_account"]: a["payer_account"] for a in world.allocations}
    issuers = sorted({d["issuer"] for d in world.deposits if d["kind"] == "bank_guarantee" and d.get("issuer")}) or [
        "中国工商银行济宁市分行"
    ]

    # -- accounts (专户): live = a newly opened 专户 of an existing project
    def account_row(a: Row, update_time: str) -> Row:
        p, e = proj(a["project_id"]), ent(a["enterprise_id"])
        return {
            "salaryAccount": a["salary_account"],
            "salaryAccountName": a["salary_account_name"],
            "projectCode": p["project_code"],
            "projectName": p["name"],
            "corpCode": e["uscc"],
            "corpName": e["name"],
            "bankName": a["bank_name"],
            "bankLinkNumber": a["bank_code"],
            "openAccountDate": _day(a["open_account_date"]),
            "filingDate": _day(a.get("filed_date")),
            "accountStatus": ACCOUNT_STATUS[a["status"]],
            "accountBalance": _money(a["account_balance"]),
            "currency": "CNY",
            "updateTime": update_time,
        }

    def live_account(i: int) -> Row:
        r, t = world.rng("bank_rest", "account", i), live_at(i)
        p = r.choice(projects)
        e = ent(p["contractor_id"])
        bank_name, bank_code = r.choice(banks)
        # 人社部发〔2021〕53号: account name = contractor + project + 农民工工资专用账户
        return account_row(
            {
                "salary_account": f"379{i:06d}{r.randrange(10**10):010d}",
                "project_id": p["id"],
                "enterprise_id": e["id"],
                "salary_account_name": f"{e['name']}{p['name']}农民工工资专用账户",
                "bank_name": bank_name,
                "bank_code": bank_code,
                "open_account_date": t.astimezone(BJ).date(),
                "filed_date": None,
                "status": "open",
                "account_balance": Decimal(0),
            },
            _ts(t),
        )

    def bad_account(row: Row) -> Row:
        bad = {**row, "salaryAccount": f"{row['salaryAccount']}X"}
        del bad["projectCode"]  # a required field missing
        return bad

    # -- bills (流水): income = labour cost allocated (条例 Art. 24); expense = one wage batch paid out
    def income_row(a: Row, update_time: str) -> Row:
        return {
            "salaryAccount": a["salary_account"],
            "batchNumber": a["batch_number"],
            "billType": 1,
            "actionType": 2,
            "billDate": _day(a["bill_date"]),
            "billAmount": _money(a["amount"]),
            "accountBalance": _money(a["account_balance"]),
            "counterpartyName": a["payer_name"],
            "counterpartyAccount": a["payer_account"],
            "salaryMonth": a["period_month"],
            "progressPayment": _money(a["progress_payment"]),
            "summary": "人工费用拨付",
            "updateTime": update_time,
        }

    bills = [income_row(a, at(a["created_at"])) for a in world.allocations]
    for e in world.expenses:  # money leaving the 专户: a 代发 batch (actionType 1) or a transfer (2)
        bills.append(
            {
                "salaryAccount": e["salary_account"],
                "batchNumber": e["batch_number"],
                "billType": 2,
                "actionType": 1 if e["action"] == "wages" else 2,
                "billDate": _day(e["bill_date"]),
                "billAmount": _money(e["amount"]),
                "accountBalance": _money(e["account_balance"]),
                "counterpartyName": e["counterparty_name"],
                "counterpartyAccount": e["counterparty_account"],
                "salaryMonth": None,
                "progressPayment": None,
                "summary": e["purpose"],
                "updateTime": at(e["created_at"]),
            }
        )

    def live_bill(i: int) -> Row:
        r, t = world.rng("bank_rest", "bill", i), live_at(i)
        a = r.choice(open_accounts)
        p = proj(a["project_id"])
        amount = Decimal(r.randrange(50, 400) * 1000)
        day = t.astimezone(BJ).date()
        month = (day.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        builder = ent(p["builder_id"]) if p.get("builder_id") else ent(p["contractor_id"])
        return income_row(
            {
                "salary_account": a["salary_account"],
                "batch_number": f"SR{day:%Y%m%d}{i:010d}",
                "bill_date": day,
                "amount": amount,
                "account_balance": (a["account_balance"] or Decimal(0)) + amount,
                "payer_name": builder["name"],
                "payer_account": payer_accounts.get(a["salary_account"]),
                "period_month": month,
                "progress_payment": (amount / (p["labour_cost_ratio"] or Decimal("0.2"))).quantize(Decimal("0.01")),
            },
            _ts(t),
        )

    def bad_bill(row: Row) -> Row:
        bad = {**row, "batchNumber": f"{row['batchNumber']}X", "billType": 1}
        del bad["billAmount"]  # a required field missing
        return bad

    # -- pay details (代发明细): live = a worker paid for the current month
    def pay_row(p: Row, detail_no: str, update_time: str) -> Row:
        return {
            "detailNo": detail_no,
            "payRollCode": p["pay_roll_code"],
            "batchNumber": p["batch_number"],
            "projectCode": code_of[p["project_id"]],
            "corpCode": uscc_of[p["enterprise_id"]],
            "salaryAccount": p["salary_account"],
            "name": p["worker_name"],
            "idCardNumber": p["id_number"],
            "bankCardNumber": p["bank_card"],
            "payMonth": p["pay_month"],
            "totalPayAmount": _money(p["total_pay_amount"]),
            "actualAmount": _money(p["actual_amount"]),
            "days": p["days"],
            "workHours": _money(p["work_hours"]),
            "balanceDate": _day(p["balance_date"]),
            "payStatus": p["pay_status"],
            "isBackPay": int(p["is_back_pay"]),
            "updateTime": update_time,
        }

    last_day = (before - dt.timedelta(hours=18)).date()  # pay times (16:00–18:00) stay before the live records

    def pay_time(p: Row) -> str:
        if p["balance_date"]:
            day = p["balance_date"]
        else:  # 未发放: the wage sheet is filed early in the following month
            y, m = map(int, p["pay_month"].split("-"))
            day = dt.date(y + m // 12, m % 12 + 1, 1)
        minutes, seconds = divmod(p["id"] % 7200, 60)  # spread over 16:00–18:00 (formatting by hand: 200k rows)
        return f"{min(day, last_day).isoformat()} {16 + minutes // 60}:{minutes % 60:02d}:{seconds:02d}"

    payroll = [pay_row(p, f"PD{p['id']:012d}", pay_time(p)) for p in world.payroll]
    workers = [
        w
        for w in sorted(world.workers, key=lambda w: w["id"])
        if w["exit_date"] is None and w["project_id"] in account_of_project
    ]
    world.rng("bank_rest", "payroll-order").shuffle(workers)

    def live_pay(i: int) -> Row:
        r, t = world.rng("bank_rest", "pay", i), live_at(i)
        w = workers[(i - 1) % len(workers)]
        pid, month = w["project_id"], t.astimezone(BJ)
        days = r.randint(18, 26)
        total = Decimal(r.randrange(3000, 12001, 100))
        return pay_row(
            {
                "pay_roll_code": f"GZ{pid:08d}{month:%Y%m}",
                "batch_number": f"PF{month:%Y%m}{pid:010d}",
                "project_id": pid,
                "enterprise_id": w["enterprise_id"],
                "salary_account": account_of_project[pid]["salary_account"],
                "worker_name": w["name"],
                "id_number": w["id_number"],
                "bank_card": w["bank_card"],
                "pay_month": f"{month:%Y-%m}",
                "total_pay_amount": total,
                "actual_amount": total,
                "days": days,
                "work_hours": Decimal(days * 8),
                "balance_date": month.date(),
                "pay_status": 20,
                "is_back_pay": False,
            },
            f"PL{i:012d}",
            _ts(t),
        )

    def bad_pay(row: Row) -> Row:
        idn = row["idCardNumber"]
        checks = "0123456789X"
        wrong = checks[(checks.index(id_check_char(idn[:17])) + 1) % len(checks)]  # GB 11643-1999 check char broken
        return {**row, "detailNo": f"{row['detailNo']}X", "idCardNumber": idn[:17] + wrong}

    # -- guarantees (保函, 人社部发〔2021〕65号): live = a new letter for a project
    def guarantee_row(d: Row, update_time: str) -> Row:
        p, e = proj(d["project_id"]), ent(d["enterprise_id"])
        return {
            "guaranteeNo": d["guarantee_no"],
            "guaranteeType": GUARANTEE_TYPES[d["kind"]],
            "projectCode": p["project_code"],
            "projectName": p["name"],
            "corpCode": e["uscc"],
            "corpName": e["name"],
            "guaranteeAmount": _money(d["amount"]),
            "guaranteeRate": None if d["rate"] is None else str(d["rate"]),
            "issueDate": _day(d["deposited_on"]),
            "issuerName": d["issuer"],
            "startDate": _day(d["valid_from"]),
            "endDate": _day(d["valid_to"]),
            "guaranteeStatus": GUARANTEE_STATUS[d["status"]],
            "updateTime": update_time,
        }

    guarantees = [
        guarantee_row(d, at(d["created_at"]))
        for d in world.deposits
        if d.get("guarantee_no") and d["kind"] in GUARANTEE_TYPES and d["status"] in GUARANTEE_STATUS
    ]
    valued = [p for p in projects if p.get("contract_value")]

    def live_guarantee(i: int) -> Row:
        r, t = world.rng("bank_rest", "guarantee", i), live_at(i)
        p = r.choice(valued)
        rate = r.choice([Decimal("0.0100"), Decimal("0.0200"), Decimal("0.0300")])  # 1%–3% of the contract value
        day = t.astimezone(BJ).date()
        return guarantee_row(
            {
                "guarantee_no": f"BH{day:%Y%m%d}{i:08d}",
                "kind": "bank_guarantee",
                "project_id": p["id"],
                "enterprise_id": p["contractor_id"],
                "amount": (p["contract_value"] * rate).quantize(Decimal("1")),
                "rate": rate,
                "deposited_on": day,
                "issuer": r.choice(issuers),
                "valid_from": day,
                "valid_to": day + dt.timedelta(days=730),
                "status": "active",
            },
            _ts(t),
        )

    def bad_guarantee(row: Row) -> Row:
        bad = {**row, "guaranteeNo": f"{row['guaranteeNo']}X"}
        del bad["guaranteeAmount"]  # a required field missing
        return bad

    return {
        "accounts": _Listing(
            ("salaryAccount",), [account_row(a, at(a["created_at"])) for a in accounts], live_account, bad_account
        ),
        "bills": _Listing(("salaryAccount", "batchNumber"), bills, live_bill, bad_bill),
        "pay-details": _Listing(("detailNo",), payroll, live_pay, bad_pay),
        "guarantees": _Listing(("guaranteeNo",), guarantees, live_guarantee, bad_guarantee),
    }
