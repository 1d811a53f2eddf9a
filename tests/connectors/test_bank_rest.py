"""The bank's 专户 open API connector (JSON REST, OAuth2, cursor pagination) against its sandbox,
served over real HTTP on loopback: the connector's httpx client, tokens and paging run for real.

The contract every connector keeps is ``connectors.testing.SandboxContract``; this module declares
the bank's words for it and tests what only this bank does (its order, its tokens, its page limit)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

import connectors.bank_rest as bank_rest
from connectors.bank_rest import BankRestConnector
from connectors.bank_rest.sandbox import BJ, CLIENT_ID, CLIENT_SECRET, create_app
from connectors.base import (
    AllocationIn,
    DepositIn,
    ExpenseIn,
    FatalUpstreamError,
    PayrollIn,
    Rejection,
    TokenExpired,
    WageAccountIn,
)
from connectors.sandbox.world import World
from connectors.testing import BadRecord, Clock, Hub, Quarantined, RefusedRun, Sandbox, SandboxContract, serve_asgi
from hub.sync import StreamStats
from tests.conftest import TODAY
from tests.connectors.conftest import create_instance

INTERVAL = 20.0
START = dt.datetime.combine(TODAY, dt.time(0), BJ)  # the world's today: live records start here
PATHS = {"accounts": "accounts", "bills": "bills", "pay_details": "pay-details", "guarantees": "guarantees"}
SMALL = ("accounts", "bills", "guarantees")  # fast streams for the fault matrix
connector = BankRestConnector()


def history(sandbox: Sandbox, stream: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = sandbox.app.state.listings[PATHS[stream]].rows
    return rows


def live(sandbox: Sandbox, stream: str, i: int) -> dict[str, Any]:
    record: dict[str, Any] = sandbox.app.state.listings[PATHS[stream]].live(i)
    return record


def stream_of(config: dict[str, Any], name: str, **overrides: Any) -> Any:
    return next(s for s in connector.streams(connector.parse_config({**config, **overrides})) if s.name == name)


def keys(stream: Any, records: list[dict[str, Any]]) -> list[str]:
    return [stream.key_of(r) for r in records]


@pytest.fixture(autouse=True)
def no_cached_tokens() -> None:
    """Each test starts without cached tokens (a loopback port may be reused by a later sandbox)."""
    bank_rest._TOKENS.clear()


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[tuple[Any, str, Clock]]:
    """One sandbox for the module (building its listings takes a moment); ``sandbox`` resets it per test."""
    clock = Clock(START)
    app = create_app(world=world, clock=clock, live_interval_seconds=INTERVAL)
    with serve_asgi(app) as url:
        yield app, url, clock


@pytest.fixture
def bank(served: tuple[Any, str, Clock]) -> Sandbox:
    """The module's sandbox at the world's today (no live records yet), with every fault off."""
    app, url, clock = served
    clock.now = START
    app.state.faults.reset()
    return Sandbox(url=url, app=app, clock=clock)


def config_of(bank: Sandbox, **overrides: Any) -> dict[str, Any]:
    return {"base_url": bank.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **overrides}


def instance_of(bank: Sandbox, db_url: str, **overrides: Any) -> int:
    """A connector instance on this sandbox, its secret stored encrypted as the admin API does."""
    config = {"base_url": bank.url, "client_id": CLIENT_ID, **overrides}
    return create_instance(db_url, kind="bank_rest", config=config, secrets={"client_secret": CLIENT_SECRET})


class TestBankRest(SandboxContract):
    kind = "bank_rest"
    interval = INTERVAL
    page_size = 1000
    page_sizes = {"accounts": 7, "bills": 100, "pay_details": 1000, "guarantees": 4}
    secret_fields = ("client_secret",)
    bookmark = ("updatedAfter", "lastKey")
    check_ok = re.compile(r"connected as 'wage-hub': token issued \(renewed in about \d+ min\), accounts readable")
    check_refused = "the bank refused client_id 'wage-hub' (invalid_client): check client_id and client_secret"
    wrong_credentials = ({"client_secret": "wrong"},)
    check_unreachable = "cannot reach the bank at {url}: connection failed"
    refused_runs = {
        "status-401": RefusedRun(
            fault={"status_next": 1, "status_code": 401},
            whole=True,
            error="the bank refused client_id 'wage-hub' (injected fault): check client_id and client_secret",
        ),
        "wrong-secret": RefusedRun(
            config={"client_secret": "wrong-secret"},
            whole=True,
            error="the bank refused client_id 'wage-hub' (invalid_client): check client_id and client_secret "
            "(client authentication failed)",
        ),
    }
    bad_records = {
        "accounts": BadRecord("projectCode", "projectCode"),
        "bills": BadRecord("billAmount", "billAmount"),
        "pay_details": BadRecord("idCardNumber", "idCardNumber"),
        "guarantees": BadRecord("guaranteeAmount", "guaranteeAmount"),
    }
    live_intervals = 1
    fault_config = {"page_size": 25, "timeout_seconds": 1.0}
    fault_streams = SMALL
    fault_created = dict.fromkeys(SMALL, 1)

    @pytest.fixture
    def sandbox(self, bank: Sandbox) -> Sandbox:
        return bank

    def snapshot(self, hub: Hub, url: str) -> Any:
        return fingerprint(url)

    def observe_fault(self, sandbox: Sandbox, fault: dict[str, Any]) -> Callable[[], None]:
        bank_rest._TOKENS.clear()
        before = sandbox.app.state.stats["tokens_issued"]

        def after() -> None:
            if "expire_token_next" in fault:
                assert sandbox.app.state.stats["tokens_issued"] - before == 2  # authenticated again after the 401

        return after

    def check_quarantined(self, sandbox: Sandbox, entry: Quarantined, stats: StreamStats) -> None:
        assert (stats.quarantined, stats.created, stats.updated, stats.read) == (
            1,
            0,
            0,
            len(history(sandbox, entry.stream)) + 1,
        )
        assert entry.source_key.endswith("X")  # the sandbox's bad copy, not a real record


# -- reading streams --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "page_size"), list(TestBankRest.page_sizes.items()), ids=list(TestBankRest.page_sizes)
)
def test_a_stream_keeps_the_banks_order_and_brings_its_live_records(bank: Sandbox, name: str, page_size: int) -> None:
    # Given the bank's history of this stream, in its own order (paging and restarts: the contract)
    stream = stream_of(config_of(bank), name, page_size=page_size)
    served = history(bank, name)
    # When the stream is read from the start
    pages = list(stream.read({}))
    # Then every record arrives once, in the bank's order, in as few pages as page_size allows
    assert keys(stream, [r for p in pages for r in p.records]) == keys(stream, served)
    assert len(pages) == math.ceil(len(served) / page_size)
    # and the bookmark, (updatedAfter, *lastKey), moves strictly forward page by page
    marks = [(p.state["updatedAfter"], *p.state["lastKey"]) for p in pages]
    assert marks == sorted(set(marks))
    # When two live intervals pass, an incremental read returns just the two new records
    bank.clock.advance(2 * INTERVAL + 1)
    new = [r for p in stream.read(pages[-1].state) for r in p.records]
    assert new == [live(bank, name, 1), live(bank, name, 2)]
    assert new[0]["updateTime"] == "2026-11-20 00:00:20"


def test_the_token_is_cached_and_renewed_when_the_bank_says_it_expired(bank: Sandbox) -> None:
    stream = stream_of(config_of(bank), "accounts", page_size=10)
    issued = bank.app.state.stats["tokens_issued"]
    # Given one read: one token for all its pages (and for the next read)
    assert len(list(stream.read({}))) == 5  # 46 accounts (30 planned projects + 16 warning situations)
    list(stream.read({}))
    assert bank.app.state.stats["tokens_issued"] == issued + 1
    # When the bank answers 401 TOKEN_EXPIRED
    bank.faults.set(expire_token_next=1)
    with pytest.raises(TokenExpired, match=r"bank_rest/accounts: the bank rejected the access token \(TOKEN_EXPIRED\)"):
        list(stream.read({}))
    # Then the retry authenticates again and reads everything
    assert len([r for p in stream.read({}) for r in p.records]) == 46
    assert bank.app.state.stats["tokens_issued"] == issued + 2


def test_a_401_on_data_is_fatal_with_a_clear_message(bank: Sandbox) -> None:
    stream = stream_of(config_of(bank), "guarantees")
    list(stream.read({}))  # a token is cached
    bank.faults.set(status_next=1, status_code=401)
    with pytest.raises(
        FatalUpstreamError, match=r"upstream refused the credentials \(HTTP 401\): check the connector's credentials"
    ):
        list(stream.read({}))


@pytest.mark.parametrize(
    "fault", ["duplicate_page_next", "cursor_backwards_next"], ids=["duplicate_page", "cursor_backwards"]
)
def test_a_repeated_page_or_a_backwards_cursor_yields_nothing_twice(bank: Sandbox, fault: str) -> None:
    stream = stream_of(config_of(bank), "bills", page_size=50)
    bank.faults.set(**{fault: 2})
    pages = list(stream.read({}))
    assert getattr(bank.faults, fault) == 0  # the fault did fire
    assert keys(stream, [r for p in pages for r in p.records]) == keys(stream, history(bank, "bills"))
    marks = [(p.state["updatedAfter"], *p.state["lastKey"]) for p in pages]
    assert marks == sorted(set(marks))  # the bookmark never went back


def test_the_bank_refuses_pages_larger_than_1000(bank: Sandbox) -> None:

    token = httpx.post(
        f"{bank.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    ).json()["access_token"]
    answer = httpx.get(
        f"{bank.url}/v1/pay-details", params={"limit": 1001}, headers={"Authorization": f"Bearer {token}"}
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_PARAM")
    with pytest.raises(ValueError, match="less than or equal to 1000"):
        connector.parse_config(config_of(bank, page_size=1001))


# -- normalise --------------------------------------------------------------------------------------


def record_of(bank: Sandbox, stream: str, match: Any) -> dict[str, Any]:
    """The first record of ``stream`` the bank serves that satisfies ``match``, as JSON would carry it."""
    return orjson.loads(orjson.dumps(next(r for r in history(bank, stream) if match(r))))


def test_normalise_maps_an_account(bank: Sandbox, world: Any) -> None:
    account = next(a for a in world.accounts.values() if a["status"] == "closed")
    [out] = connector.normalise(
        "accounts", record_of(bank, "accounts", lambda r: r["salaryAccount"] == account["salary_account"])
    )
    assert out == WageAccountIn(
        salary_account=account["salary_account"],
        project_code=world.project_by_id(account["project_id"])["project_code"],
        contractor_uscc=world.enterprise_by_id(account["enterprise_id"])["uscc"],
        bank_name=account["bank_name"],
        salary_account_name=account["salary_account_name"],
        bank_code=account["bank_code"],
        open_account_date=account["open_account_date"],
        filed_date=account["filed_date"],
        account_balance=account["account_balance"],
        status="closed",
    )
    assert out.salary_account_name.endswith("农民工工资专用账户")


def test_normalise_maps_an_income_bill_and_an_expense_bill(bank: Sandbox, world: Any) -> None:
    alloc = world.allocations[0]
    [out] = connector.normalise("bills", record_of(bank, "bills", lambda r: r["batchNumber"] == alloc["batch_number"]))
    assert out == AllocationIn(
        salary_account=alloc["salary_account"],
        batch_number=alloc["batch_number"],
        bill_date=alloc["bill_date"],
        period_month=alloc["period_month"],
        amount=alloc["amount"],
        account_balance=alloc["account_balance"],
        payer_name=alloc["payer_name"],
        payer_account=alloc["payer_account"],
        progress_payment=alloc["progress_payment"],
    )
    # Given an expense bill (billType 2): a 代发 batch paid out (actionType 1)
    e = world.expenses[0]
    expense = record_of(bank, "bills", lambda r: r["billType"] == 2 and r["batchNumber"] == e["batch_number"])
    assert expense["actionType"] == 1
    # Then it is kept as an expense, its counterparty as the bank names it
    assert connector.normalise("bills", expense) == [
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
    # And a transfer (actionType 2) carries the account it went to
    t = next(x for x in world.expenses if x["action"] == "transfer")
    transfer = record_of(bank, "bills", lambda r: r["batchNumber"] == t["batch_number"])
    [out] = connector.normalise("bills", transfer)
    assert (transfer["actionType"], out.action, out.counterparty_account, out.amount) == (
        2,
        "transfer",
        t["counterparty_account"],
        t["amount"],
    )


def test_normalise_rejects_a_negative_expense_naming_the_field(bank: Sandbox) -> None:
    # Given an expense bill whose amount is written negative (a reversal sent as a bill)
    record = {**record_of(bank, "bills", lambda r: r["billType"] == 2), "billAmount": "-136124.00"}
    # Then it is refused, naming the field and the value
    with pytest.raises(Rejection) as caught:
        connector.normalise("bills", record)
    assert (caught.value.field, caught.value.reason) == ("billAmount", "billAmount must not be negative: '-136124.00'")


def test_a_sync_stores_expense_bills_with_the_counterparty_account_encrypted_and_masked(
    bank: Sandbox, seeded_db_url: str, world: Any, sync_engine: Any
) -> None:
    from hub.crypto import Cipher
    from hub.identifiers import mask_bank_card
    from tests.connectors.conftest import SECRET

    # Given a hub that has lost its expense bills
    sql(seeded_db_url, "DELETE FROM account_expenses")
    instance = instance_of(bank, seeded_db_url, page_size=1000)
    # When the bills stream syncs
    result = sync_engine(seeded_db_url).run(instance, streams=["bills"])
    # Then every expense bill of the bank is stored once, as the world holds it
    assert (result.status, result.stats["bills"].created, result.stats["bills"].quarantined) == (
        "succeeded",
        len(world.expenses),
        0,
    )
    rows = sql(
        seeded_db_url,
        "SELECT batch_number, amount, action, counterparty_account_enc, counterparty_account_masked "
        "FROM account_expenses",
    )
    assert sorted((b, Decimal(str(a)).quantize(Decimal("0.01")), act) for b, a, act, _, _ in rows) == sorted(
        (e["batch_number"], e["amount"].quantize(Decimal("0.01")), e["action"]) for e in world.expenses
    )
    # And a counterparty account is stored encrypted (never in clear) and shown masked
    cipher = Cipher(SECRET)
    plain = {e["batch_number"]: e["counterparty_account"] for e in world.expenses if e["counterparty_account"]}
    assert plain, "the world should transfer some money out"
    for batch, _, _, enc, masked in rows:
        if batch in plain:
            assert plain[batch] not in enc and cipher.decrypt(enc) == plain[batch]
            assert masked == mask_bank_card(plain[batch])
        else:
            assert (enc, masked) == (None, None)
    # And a second run finds them unchanged
    again = sync_engine(seeded_db_url).run(instance, streams=["bills"])
    assert (again.stats["bills"].read, again.stats["bills"].created) == (0, 0)


def test_normalise_maps_a_pay_detail(bank: Sandbox, world: Any) -> None:
    pay = next(p for p in world.payroll if p["pay_status"] == 20)
    [out] = connector.normalise(
        "pay_details", record_of(bank, "pay_details", lambda r: r["detailNo"] == f"PD{pay['id']:012d}")
    )
    assert out == PayrollIn(
        pay_roll_code=pay["pay_roll_code"],
        project_code=world.project_by_id(pay["project_id"])["project_code"],
        id_number=pay["id_number"],
        pay_month=pay["pay_month"],
        total_pay_amount=pay["total_pay_amount"],
        actual_amount=pay["actual_amount"],
        pay_status=20,
        salary_account=pay["salary_account"],
        worker_name=pay["worker_name"],
        corp_uscc=world.enterprise_by_id(pay["enterprise_id"])["uscc"],
        days=pay["days"],
        work_hours=pay["work_hours"],
        balance_date=pay["balance_date"],
        is_back_pay=False,
        bank_card=pay["bank_card"],
        batch_number=pay["batch_number"],
    )


def test_normalise_maps_a_guarantee_letter(bank: Sandbox, world: Any) -> None:
    dep = next(d for d in world.deposits if d["kind"] == "bank_guarantee")
    [out] = connector.normalise(
        "guarantees", record_of(bank, "guarantees", lambda r: r["guaranteeNo"] == dep["guarantee_no"])
    )
    assert out == DepositIn(
        guarantee_no=dep["guarantee_no"],
        project_code=world.project_by_id(dep["project_id"])["project_code"],
        contractor_uscc=world.enterprise_by_id(dep["enterprise_id"])["uscc"],
        kind="bank_guarantee",
        amount=dep["amount"],
        rate=dep["rate"],
        deposited_on=dep["deposited_on"],
        issuer=dep["issuer"],
        valid_from=dep["valid_from"],
        valid_to=dep["valid_to"],
        status=dep["status"],
    )


@pytest.mark.parametrize(
    ("stream", "change", "field", "reason"),
    [
        ("bills", {"billAmount": None}, "billAmount", "required field billAmount is missing"),
        ("bills", {"billType": 3}, "billType", "billType must be 1 (income) or 2 (expense), got 3"),
        (
            "accounts",
            {"accountStatus": "9"},
            "accountStatus",
            "accountStatus must be one of 1 (open), 2 (frozen), 3 (closed), got '9'",
        ),
        ("pay_details", {"payMonth": "2026-13"}, "payMonth", "payMonth is not a month (YYYY-MM): '2026-13'"),
        ("guarantees", {"guaranteeAmount": "十万"}, "guaranteeAmount", "guaranteeAmount is not a number: '十万'"),
    ],
    ids=["missing_amount", "bad_bill_type", "bad_account_status", "bad_month", "bad_amount"],
)
def test_normalise_rejects_a_bad_record_naming_the_field(
    bank: Sandbox, stream: str, change: dict, field: str, reason: str
) -> None:
    record = {**record_of(bank, stream, lambda r: r.get("billType", 1) == 1), **change}
    with pytest.raises(Rejection) as caught:
        connector.normalise(stream, record)
    assert (caught.value.field, caught.value.reason) == (field, reason)


# -- syncing into the hub ---------------------------------------------------------------------------

TABLES = (
    "wage_accounts",
    "labor_cost_allocations",
    "account_expenses",
    "payroll_records",
    "guarantee_deposits",
    "workers",
)


def counts(url: str) -> dict[str, int]:
    return {t: sql(url, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def sql(url: str, statement: str, **params: Any) -> list[tuple]:
    from hub.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        result = conn.execute(text(statement), params)
        rows = [tuple(r) for r in result] if result.returns_rows else []
    engine.dispose()
    return rows


def fingerprint(url: str) -> dict[str, set[tuple]]:
    """What the bank streams left in the hub: natural keys with their amounts and statuses."""

    def money(v: Any) -> Decimal | None:
        return None if v is None else Decimal(str(v)).quantize(Decimal("0.01"))

    return {
        "accounts": {
            (a, money(b), s)
            for a, b, s in sql(url, "SELECT salary_account, account_balance, status FROM wage_accounts")
        },
        "bills": {
            (a, b, money(m))
            for a, b, m in sql(
                url,
                "SELECT w.salary_account, l.batch_number, l.amount FROM labor_cost_allocations l "
                "JOIN wage_accounts w ON w.id = l.account_id",
            )
        },
        "guarantees": {
            (g, money(m), s)
            for g, m, s in sql(
                url, "SELECT guarantee_no, amount, status FROM guarantee_deposits WHERE guarantee_no IS NOT NULL"
            )
        },
    }


def test_a_full_sync_finds_the_seeded_records_unchanged_and_creates_the_live_ones(
    bank: Sandbox, seeded_db_url: str, sync_engine: Any
) -> None:
    # Given a hub seeded with the same world, and two live records per stream at the bank
    before = counts(seeded_db_url)
    bank.clock.advance(2 * INTERVAL)
    instance = instance_of(bank, seeded_db_url, page_size=1000)
    engine = sync_engine(seeded_db_url)
    # When it syncs
    result = engine.run(instance)
    # Then what the seed holds is unchanged and only the live records are created
    assert (result.status, result.error) == ("succeeded", None)
    for name, unchanged in [
        ("accounts", 46),
        ("bills", len(history(bank, "bills"))),  # income bills = seeded allocations, expense bills = seeded expenses
        ("pay_details", len(history(bank, "pay_details"))),
        ("guarantees", len(history(bank, "guarantees"))),
    ]:
        stats = result.stats[name]
        assert (stats.created, stats.updated, stats.unchanged, stats.quarantined) == (2, 0, unchanged, 0), name
        assert stats.read == len(history(bank, name)) + 2
    # live bills are labour cost in; live pay goes to known workers
    assert counts(seeded_db_url) == {t: n + (t not in ("workers", "account_expenses")) * 2 for t, n in before.items()}
    # When it runs again: nothing new
    again = engine.run(instance)
    assert again.status == "succeeded"
    assert {k: (s.read, s.created) for k, s in again.stats.items()} == {k: (0, 0) for k in PATHS}
    # When another live interval passes: one new record per stream
    bank.clock.advance(INTERVAL)
    third = engine.run(instance)
    assert {k: (s.read, s.created) for k, s in third.stats.items()} == {k: (1, 1) for k in PATHS}


def test_seeded_pay_details_come_back_unchanged(bank: Sandbox, seeded_db_url: str, world: Any) -> None:
    from hub.crypto import Cipher
    from hub.db import make_engine, session_scope
    from hub.ingest import Ingestor, Item
    from tests.connectors.conftest import SECRET

    # Given the pay detail of a subcontractor's worker, as the bank serves it
    pay = next(p for p in world.payroll if p["enterprise_id"] != world.project_by_id(p["project_id"])["contractor_id"])
    record = record_of(bank, "pay_details", lambda r: r["detailNo"] == f"PD{pay['id']:012d}")
    assert record["corpCode"] == world.enterprise_by_id(pay["enterprise_id"])["uscc"]  # the bank does send the employer
    engine = make_engine(seeded_db_url)
    with session_scope(engine) as session:
        outcome = Ingestor(session, cipher=Cipher(SECRET), source="bank_rest").apply(
            [Item(e, None) for e in connector.normalise("pay_details", record)]
        )
    engine.dispose()
    assert (outcome.unchanged, outcome.updated) == (1, 0)


def test_a_record_of_an_unknown_project_replays_once_the_project_exists(
    bank: Sandbox, seeded_db_url: str, sync_engine: Any, world: Any
) -> None:
    # Given a hub that does not know one project (yet) that has a guarantee letter at the bank
    dep = next(d for d in world.deposits if d["kind"] == "bank_guarantee")
    code = world.project_by_id(dep["project_id"])["project_code"]
    sql(seeded_db_url, "UPDATE projects SET project_code = :tmp WHERE project_code = :code", tmp="PENDING-1", code=code)
    instance = instance_of(bank, seeded_db_url)
    engine = sync_engine(seeded_db_url)
    # When it syncs the guarantees, the letters of that project are quarantined for their project code
    result = engine.run(instance, streams=["guarantees"])
    assert result.status == "succeeded"
    quarantined = sql(seeded_db_url, "SELECT field, reason FROM quarantine WHERE status = 'open'")
    assert quarantined and all(f == "projectCode" and code in r for f, r in quarantined)
    assert result.stats["guarantees"].quarantined == len(quarantined)
    # When the project arrives and the quarantine is replayed, they all pass
    sql(seeded_db_url, "UPDATE projects SET project_code = :code WHERE project_code = :tmp", tmp="PENDING-1", code=code)
    assert engine.replay(instance_id=instance) == {"replayed": len(quarantined)}
    assert sql(seeded_db_url, "SELECT count(*) FROM quarantine WHERE status = 'open'") == [(0,)]
