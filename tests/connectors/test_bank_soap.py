"""The bank 专户 SOAP connector against its sandbox, over real HTTP: zeep reads the served WSDL.

Runtime: the seed's payroll rows carry the worker's employer (often a subcontractor) while
``hub.ingest`` writes the project's contractor, so the first sync of a freshly seeded database
*updates* most pay details, one UPDATE each (see ``test_full_sync``). The fault tests therefore start
``pay_details`` near the end of its history (``TAIL``) — the code path is the same — and copy one
seeded database per module (``seeded_copy``) instead of seeding one per test.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from connectors.bank_soap import BankSoapConnector
from connectors.bank_soap.sandbox import CST, DEMO_CREDENTIALS
from connectors.base import AllocationIn, CheckResult, DepositIn, ExpenseIn, PayrollIn, Rejection, WageAccountIn
from connectors.sandbox.world import World
from connectors.testing import BadRecord, Hub, Quarantined, RefusedRun, Sandbox, SandboxContract
from hub.sync import StreamStats
from tests.connectors.conftest import create_instance

EPOCH = dt.datetime(2026, 11, 20, tzinfo=CST)  # tests/conftest.py TODAY at 00:00 CST: live records start here
INTERVAL = 20.0
USER, PASSWORD = DEMO_CREDENTIALS["username"], DEMO_CREDENTIALS["password"]
#: pay_details bookmark of the fast tests: the last 40 pay details of the history are read.
TAIL = 40
KIND = "bank_soap"
#: Pages of the reading tests: small streams in several pages, the bulk one in a few.
PAGE_SIZES = {"accounts": 7, "bills": 100, "pay_details": 1000, "guarantees": 4}
REFUSED_FAULT = (
    "the bank refused the WS-Security credentials of user 'hub-demo' "
    "(SOAP fault soap:Client: 认证失败：用户名或密码错误): check the username and password"
)
connector = BankSoapConnector()
_names = itertools.count(1)


def config(url: str, **overrides: Any) -> Any:
    return connector.parse_config(
        {"base_url": url, "username": USER, "password": PASSWORD, "page_size": 100, **overrides}
    )


def stream(name: str, cfg: Any) -> Any:
    return next(s for s in connector.streams(cfg) if s.name == name)


def read_all(name: str, cfg: Any, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [r for page in stream(name, cfg).read(state or {}) for r in page.records]


def tail_state(sandbox: Sandbox) -> dict[str, Any]:
    """The pay_details bookmark just before its last ``TAIL`` history records (as the sandbox orders them)."""
    before = sandbox.app.state.bank.feeds["QueryPayDetails"].history[-TAIL - 1]
    return {"pay_details": {"updatedAfter": before["updateTime"].isoformat(), "lastKey": before["detailNo"]}}


def expense_bills(world: Any) -> int:
    """The world's expense bills: one per paid 代发 batch, and closed accounts' remainders transferred out."""
    return len(world.expenses)


@contextmanager
def db(url: str) -> Iterator[Any]:
    from hub.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


TABLES = (
    "wage_accounts",
    "labor_cost_allocations",
    "account_expenses",
    "payroll_records",
    "guarantee_deposits",
    "workers",
)


def counts(url: str) -> dict[str, int]:
    with db(url) as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def fingerprint(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What the bank's streams left in the hub: natural keys with their amounts and states."""
    queries = {
        "accounts": "SELECT salary_account, account_balance, status FROM wage_accounts ORDER BY salary_account",
        "bills": "SELECT batch_number, amount, account_id FROM labor_cost_allocations ORDER BY batch_number",
        "expenses": "SELECT batch_number, amount, action, account_balance, counterparty_account_masked, account_id "
        "FROM account_expenses ORDER BY account_id, batch_number",
        "pay_details": "SELECT pay_roll_code, worker_id, actual_amount, pay_status, balance_date, account_id "
        "FROM payroll_records ORDER BY pay_roll_code, id",
        "guarantees": "SELECT guarantee_no, amount, status FROM guarantee_deposits ORDER BY guarantee_no, id",
    }
    with db(url) as conn:
        return {k: [tuple(map(str, r)) for r in conn.execute(text(q))] for k, q in queries.items()}


def quarantine(url: str) -> list[tuple[str, str, str, str, str]]:
    with db(url) as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT q.stream, q.field, q.reason, q.status, r.source_key FROM quarantine q "
                    "JOIN raw_records r ON r.id = q.raw_record_id ORDER BY q.id"
                )
            )
        ]


def instance(url: str, base: str, *, state: dict[str, Any] | None = None, password: str = PASSWORD, **cfg: Any) -> int:
    public = {"base_url": base, "username": USER, "page_size": 100, **cfg}
    return create_instance(
        url, kind="bank_soap", name=f"bank-{next(_names)}", config=public, secrets={"password": password}, state=state
    )


class TestBankSoap(SandboxContract):
    kind = KIND
    interval = INTERVAL
    page_size = 100
    page_sizes = PAGE_SIZES
    secret_fields = ("password",)
    bookmark = ("updatedAfter", "lastKey")
    check_ok = "connected to {url}/wage-account as user 'hub-demo'"
    check_refused = REFUSED_FAULT
    wrong_credentials = ({"password": "wrong"},)
    check_unreachable = (
        "cannot reach the bank's service at {url}/wage-account?wsdl (connection failed): check base_url and the network"
    )
    refused_runs = {
        "soap-fault-auth-failed": RefusedRun(config={"password": "wrong"}, error=REFUSED_FAULT),
        "http-401": RefusedRun(
            fault={"status_next": 1, "status_code": 401},
            error="the bank refused the credentials of user 'hub-demo' (HTTP 401): check the username and password",
        ),
    }
    bad_records = {
        "accounts": BadRecord("corpCode", "unknown contractor USCC"),
        "bills": BadRecord("billAmount", "required field billAmount is missing"),
        "pay_details": BadRecord("idCardNumber", "invalid idCardNumber: the check character does not match"),
        "guarantees": BadRecord("guaranteeAmount", "required field guaranteeAmount is missing"),
    }
    faults = [
        pytest.param({"status_next": 2, "status_code": 503}, True, id="status-503-x2"),
        pytest.param({"timeout_next": 1, "timeout_seconds": 2.0}, True, id="timeout"),
        pytest.param({"malformed_next": 1}, True, id="malformed-xml"),
        pytest.param({"expire_token_next": 1}, True, id="token-expired"),
        pytest.param({"duplicate_page_next": 2}, False, id="duplicate-page"),
        pytest.param({"cursor_backwards_next": 2}, False, id="cursor-backwards"),
    ]
    fault_created = {"accounts": 0, "bills": 2, "pay_details": 2, "guarantees": 2}

    def epoch(self, world: World) -> dt.datetime:
        return EPOCH + dt.timedelta(seconds=1)

    def start_state(self, sandbox: Sandbox) -> dict[str, Any]:
        return tail_state(sandbox)

    def snapshot(self, hub: Hub, url: str) -> Any:
        return counts(url), fingerprint(url), quarantine(url)

    def check_quarantined(self, sandbox: Sandbox, entry: Quarantined, stats: StreamStats) -> None:
        # exactly the first record of the page (an income bill, for bills) is the spoilt one
        cfg = config(sandbox.url)
        first = read_all(entry.stream, cfg, tail_state(sandbox).get(entry.stream, {}))[:100]
        spoiled = next(r for r in first if r.get("billType", 1) == 1)
        assert entry.source_key == stream(entry.stream, cfg).key_of(spoiled)

    def test_check_ok_with_a_password_text_token(self, sandbox: Sandbox) -> None:
        result = connector.check(config(sandbox.url, password_digest=False))
        assert result == CheckResult(True, f"connected to {sandbox.url}/wage-account as user 'hub-demo'")

    # -- 2. streams --------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("accounts", lambda w: len(w.accounts)),
            ("bills", lambda w: len(w.allocations) + expense_bills(w)),
            # the bank knows the pay of projects with a 专户 (one of the warning situations has none)
            ("pay_details", lambda w: sum(1 for p in w.payroll if p["salary_account"])),
            ("guarantees", lambda w: sum(1 for d in w.deposits if d["guarantee_no"])),
        ],
        ids=["accounts", "bills", "pay_details", "guarantees"],
    )
    def test_stream_serves_the_banks_history_then_one_live_record(
        self, sandbox: Sandbox, world: World, name: str, expected: Callable[[World], int]
    ) -> None:
        # Given the sandbox's history, read from the start (paging and restarts: the contract)
        page_size = PAGE_SIZES[name]
        cfg = config(sandbox.url, page_size=page_size)
        s = stream(name, cfg)
        pages = list(s.read({}))
        records = [r for p in pages for r in p.records]
        # Then every record of the world arrives, in (updateTime, key) order, in full pages but the last
        assert len(records) == expected(world)
        order = [(dt.datetime.fromisoformat(r["updateTime"]), s.key_of(r)) for r in records]
        assert order == sorted(order)
        assert [len(p.records) for p in pages[:-1]] == [page_size] * (len(pages) - 1) and 0 < len(
            pages[-1].records
        ) <= page_size
        # When the clock passes a live interval, then exactly the new record arrives
        sandbox.clock.advance(INTERVAL)
        new_pages = list(s.read(pages[-1].state))
        new = [r for p in new_pages for r in p.records]
        assert len(new) == 1 and new[0]["updateTime"] == (EPOCH + dt.timedelta(seconds=INTERVAL)).isoformat()
        assert read_all(name, cfg, new_pages[-1].state) == []

    def test_a_live_account_update_replaces_the_history_version(self, sandbox: Sandbox, world: World) -> None:
        # Given the first open 专户 receives labour cost at the first live tick
        sandbox.clock.advance(INTERVAL)
        accounts = read_all("accounts", config(sandbox.url))
        first = min((a for a in world.accounts.values() if a["status"] == "open"), key=lambda a: a["salary_account"])
        bill = read_all("bills", config(sandbox.url), {"updatedAfter": EPOCH.isoformat(), "lastKey": ""})[0]
        # Then a full read lists that account once, at its new balance
        mine = [a for a in accounts if a["salaryAccount"] == first["salary_account"]]
        assert len(accounts) == len(world.accounts) and len(mine) == 1
        assert (
            Decimal(mine[0]["accountBalance"])
            == first["account_balance"] + Decimal(bill["billAmount"])
            == Decimal(bill["accountBalance"])
        )

    # -- 3. normalise ------------------------------------------------------------------------------------

    def test_normalise_maps_the_banks_fields_to_canonical_records(self, sandbox: Sandbox, world: World) -> None:
        cfg = config(sandbox.url, page_size=1000)
        acc = next(iter(world.accounts.values()))
        record = next(r for r in read_all("accounts", cfg) if r["salaryAccount"] == acc["salary_account"])
        assert connector.normalise("accounts", record) == [
            WageAccountIn(
                salary_account="3700000000181447990",
                project_code=world.project_by_id(acc["project_id"])["project_code"],
                contractor_uscc=world.enterprise_by_id(acc["enterprise_id"])["uscc"],
                bank_name="中国工商银行济宁市任城区支行",
                salary_account_name=acc["salary_account_name"],
                bank_code="102370884764",
                open_account_date=dt.date(2025, 1, 8),
                filed_date=dt.date(2025, 1, 19),
                account_balance=Decimal("63000.00"),
                status="open",
            )
        ]

        bills = read_all("bills", cfg)
        al = world.allocations[0]
        income = next(r for r in bills if r.get("batchNumber") == al["batch_number"])
        assert connector.normalise("bills", income) == [
            AllocationIn(
                salary_account=al["salary_account"],
                batch_number="SR202512020000000001",
                bill_date=dt.date(2025, 12, 2),
                period_month="2025-11",
                amount=Decimal("145600"),
                account_balance=Decimal("159200"),
                payer_name="济宁市远华房地产开发有限公司",
                payer_account="3311210277932149514",
                progress_payment=Decimal("691358.02"),
            )
        ]
        # An expense bill: a 代发 batch paid out of the 专户 (actionType 1)
        e = world.expenses[0]
        wages = next(r for r in bills if r["billType"] == 2 and r["batchNumber"] == e["batch_number"])
        assert wages["actionType"] == 1
        assert connector.normalise("bills", wages) == [
            ExpenseIn(
                salary_account=e["salary_account"],
                batch_number="PF2025110000000001",
                bill_date=dt.date(2025, 12, 18),
                amount=Decimal("136124.00"),
                action="wages",
                account_balance=Decimal("23076.00"),
                counterparty_name="农民工工资代发（19人）",
                counterparty_account=None,
                purpose="代发2025-11工资",
            )
        ]
        # And a transfer (actionType 2): a leaver's 退场结算 to the worker's own card, the card named
        t = next(e for e in world.expenses if e["purpose"] == "退场结算")
        leaver = next(w for w in world.workers if w["bank_card"] == t["counterparty_account"])
        transfer = next(r for r in bills if r["billType"] == 2 and r["batchNumber"] == t["batch_number"])
        assert transfer["actionType"] == 2
        assert connector.normalise("bills", transfer) == [
            ExpenseIn(
                salary_account=t["salary_account"],
                batch_number=t["batch_number"],
                bill_date=t["bill_date"],
                amount=t["amount"],
                action="transfer",
                account_balance=t["account_balance"],
                counterparty_name=leaver["name"],
                counterparty_account=leaver["bank_card"],
                purpose="退场结算",
            )
        ]
        assert leaver["exit_date"] < t["bill_date"] and leaver["project_id"] == t["project_id"]

        p = world.payroll[0]
        detail = next(r for r in read_all("pay_details", cfg) if r["detailNo"] == f"MX{p['id']:012d}")
        assert connector.normalise("pay_details", detail) == [
            PayrollIn(
                pay_roll_code="GZ00000001202511",
                project_code=world.project_by_id(p["project_id"])["project_code"],
                id_number=p["id_number"],
                pay_month="2025-11",
                total_pay_amount=Decimal("5619"),
                actual_amount=Decimal("5619"),
                pay_status=20,
                salary_account=p["salary_account"],
                worker_name=p["worker_name"],
                corp_uscc=world.enterprise_by_id(p["enterprise_id"])["uscc"],
                days=22,
                work_hours=Decimal("176"),
                balance_date=dt.date(2025, 12, 18),
                is_back_pay=False,
                bank_card=p["bank_card"],
                batch_number="PF2025110000000001",
            )
        ]

        d = next(d for d in world.deposits if d["guarantee_no"])
        letter = next(r for r in read_all("guarantees", cfg) if r["guaranteeNo"] == d["guarantee_no"])
        assert connector.normalise("guarantees", letter) == [
            DepositIn(
                guarantee_no=d["guarantee_no"],
                project_code=world.project_by_id(d["project_id"])["project_code"],
                contractor_uscc=world.enterprise_by_id(d["enterprise_id"])["uscc"],
                kind="bank_guarantee",
                amount=Decimal("803450"),
                rate=Decimal("0.0100"),
                deposited_on=dt.date(2024, 12, 25),
                issuer="中国工商银行济宁市分行",
                valid_from=dt.date(2025, 12, 25),
                valid_to=dt.date(2026, 12, 25),
                status="active",
            )
        ]

    @pytest.mark.parametrize(
        ("name", "change", "field", "reason"),
        [
            ("bills", {"billAmount": None}, "billAmount", "required field billAmount is missing"),
            ("bills", {"billType": 3}, "billType", "billType must be 1 (income) or 2 (expense); got 3"),
            (
                "bills",
                {"billType": 2, "actionType": 1, "billAmount": "-136124.00"},
                "billAmount",
                "billAmount must not be negative: '-136124.00'",
            ),
            (
                "bills",
                {"billType": 2, "actionType": 3},
                "actionType",
                "actionType must be one of 1 wages, 2 transfer; got 3",
            ),
            (
                "accounts",
                {"accountStatus": 9},
                "accountStatus",
                "accountStatus must be one of 1 open, 2 frozen, 3 closed; got 9",
            ),
            (
                "accounts",
                {"openAccountDate": "2026-02-30"},
                "openAccountDate",
                "openAccountDate is not a date (YYYY-MM-DD): '2026-02-30'",
            ),
            ("pay_details", {"payStatus": "已发放"}, "payStatus", "payStatus is not an integer: '已发放'"),
            ("pay_details", {"idCardNumber": ""}, "idCardNumber", "required field idCardNumber is missing"),
            ("guarantees", {"guaranteeAmount": None}, "guaranteeAmount", "required field guaranteeAmount is missing"),
        ],
        ids=[
            "bill-amount-missing",
            "bill-type-unknown",
            "expense-amount-negative",
            "expense-action-unknown",
            "account-status-unknown",
            "open-date-impossible",
            "pay-status-not-a-number",
            "id-number-missing",
            "guarantee-amount-missing",
        ],
    )
    def test_normalise_rejects_a_bad_record_naming_the_field(
        self, name: str, change: dict[str, Any], field: str, reason: str
    ) -> None:
        assert connector.normalise(name, GOOD[name])  # the unchanged record passes
        with pytest.raises(Rejection, match="^" + reason.replace("(", r"\(").replace(")", r"\)") + "$") as info:
            connector.normalise(name, {k: v for k, v in {**GOOD[name], **change}.items() if v is not None})
        assert info.value.field == field

    # -- 4. sync -----------------------------------------------------------------------------------------

    def test_full_sync(self, sandbox: Sandbox, world: World, seeded_db_url: str, sync_engine: Any) -> None:
        # Given a database seeded with the same world the bank holds
        iid = instance(seeded_db_url, sandbox.url, page_size=100)
        before = counts(seeded_db_url)
        with db(seeded_db_url) as conn:
            pay_before = conn.execute(
                text(
                    "SELECT pay_roll_code, worker_id, actual_amount, pay_status, balance_date, account_id "
                    "FROM payroll_records ORDER BY id"
                )
            ).all()
        # When it syncs, the records it already holds come back unchanged and nothing is duplicated
        result = sync_engine(seeded_db_url).run(iid)
        assert result.status == "succeeded", result.error
        stats = {k: v.as_dict() for k, v in result.stats.items()}
        a = result.stats["accounts"]
        assert (a.read, a.created, a.updated, a.unchanged, a.quarantined, a.retries) == (46, 0, 0, 46, 0, 0)
        assert (stats["bills"]["read"], stats["bills"]["unchanged"], stats["bills"]["created"]) == (
            len(world.allocations) + expense_bills(world),
            len(world.allocations) + expense_bills(world),
            0,
        )  # income bills are the seeded allocations, expense bills the seeded expenses
        assert (stats["guarantees"]["unchanged"], stats["guarantees"]["created"]) == (
            27,
            0,
        )  # the tiny world's letters and policies (situation projects included)
        # Pay details: every seeded one the bank knows (paid through a 专户) comes back unchanged (the
        # employer travels as corpCode)
        pays = stats["pay_details"]
        banked = sum(1 for p in world.payroll if p["salary_account"])
        assert (pays["read"], pays["created"], pays["updated"], pays["unchanged"]) == (banked, 0, 0, banked)
        with db(seeded_db_url) as conn:
            assert (
                conn.execute(
                    text(
                        "SELECT pay_roll_code, worker_id, actual_amount, pay_status, balance_date, account_id "
                        "FROM payroll_records ORDER BY id"
                    )
                ).all()
                == pay_before
            )
        assert counts(seeded_db_url) == before and quarantine(seeded_db_url) == []
        # When two live intervals pass, the next run creates exactly the new records
        sandbox.clock.advance(2 * INTERVAL)
        second = sync_engine(seeded_db_url).run(iid)
        assert second.status == "succeeded", second.error
        assert {k: (v.created, v.updated) for k, v in second.stats.items()} == {
            "accounts": (0, 2),
            "bills": (2, 0),
            "pay_details": (2, 0),
            "guarantees": (2, 0),
        }
        assert counts(seeded_db_url) == before | {
            "labor_cost_allocations": before["labor_cost_allocations"] + 2,
            "payroll_records": before["payroll_records"] + 2,
            "guarantee_deposits": before["guarantee_deposits"] + 2,
        }
        # And a third run finds nothing
        third = sync_engine(seeded_db_url).run(iid)
        assert {k: (v.read, v.created, v.updated) for k, v in third.stats.items()} == {
            k: (0, 0, 0) for k in second.stats
        }

    def test_a_record_of_an_unknown_project_replays_once_the_project_exists(
        self, sandbox: Sandbox, world: World, seeded_db_url: str, sync_engine: Any
    ) -> None:
        # Given the hub does not know the project of a 专户 with a 保函 yet (its code differs)
        d = next(d for d in world.deposits if d["guarantee_no"])
        code = world.project_by_id(d["project_id"])["project_code"]
        with db(seeded_db_url) as conn:
            conn.execute(text("UPDATE projects SET project_code = 'PENDING' WHERE project_code = :c"), {"c": code})
            conn.commit()
        iid = instance(seeded_db_url, sandbox.url)
        engine = sync_engine(seeded_db_url)
        result = engine.run(iid, streams=["accounts", "guarantees"])
        # Then its account and its guarantee letter wait in quarantine, naming projectCode
        assert result.status == "succeeded", result.error
        assert {(q[0], q[1], q[3]) for q in quarantine(seeded_db_url)} == {
            ("accounts", "projectCode", "open"),
            ("guarantees", "projectCode", "open"),
        }
        assert all(code in q[2] for q in quarantine(seeded_db_url))
        # When the project arrives (here: its code is restored), replay stores them
        with db(seeded_db_url) as conn:
            conn.execute(text("UPDATE projects SET project_code = :c WHERE project_code = 'PENDING'"), {"c": code})
            conn.commit()
        assert engine.replay(instance_id=iid) == {"replayed": 2}
        assert {q[3] for q in quarantine(seeded_db_url)} == {"replayed"}


GOOD = {
    "accounts": {
        "salaryAccount": "3700000000181447990",
        "salaryAccountName": "某专户",
        "projectCode": "2025-370811-47-03-011892",
        "corpCode": "91370811RWARD17L6T",
        "bankName": "中国工商银行",
        "accountStatus": 1,
        "updateTime": "2026-01-01T00:00:00+08:00",
    },
    "bills": {
        "billNo": "LS1",
        "salaryAccount": "3700000000181447990",
        "billType": 1,
        "actionType": 2,
        "billDate": "2026-01-05",
        "billAmount": "1000.00",
        "batchNumber": "SR1",
        "updateTime": "2026-01-05T10:00:00+08:00",
    },
    "pay_details": {
        "detailNo": "MX1",
        "payRollCode": "GZ1",
        "projectCode": "P",
        "idCardNumber": "370785198312026405",
        "payMonth": "2026-01",
        "totalPayAmount": "100",
        "actualAmount": "100",
        "payStatus": 20,
        "updateTime": "2026-01-05T10:00:00+08:00",
    },
    "guarantees": {
        "guaranteeNo": "BH1",
        "projectCode": "P",
        "corpCode": "91370811RWARD17L6T",
        "guaranteeAmount": "1000",
        "updateTime": "2026-01-05T10:00:00+08:00",
    },
}
