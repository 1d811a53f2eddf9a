"""The bank's 专户 open API connector (JSON REST, OAuth2, cursor pagination) against its sandbox,
served over real HTTP on loopback: the connector's httpx client, tokens and paging run for real."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from connectors.bank_rest import BankRestConnector
from connectors.bank_rest.sandbox import BJ, CLIENT_ID, CLIENT_SECRET, create_app
from connectors.base import AllocationIn, DepositIn, FatalUpstreamError, PayrollIn, Rejection, TokenExpired, WageAccountIn
from tests.connectors.conftest import create_instance, serve_asgi
from tests.conftest import TODAY

INTERVAL = 20.0
START = dt.datetime.combine(TODAY, dt.time(0), BJ)  # the world's today: live records start here
PATHS = {"accounts": "accounts", "bills": "bills", "pay_details": "pay-details", "guarantees": "guarantees"}
SMALL = ["accounts", "bills", "guarantees"]  # fast streams for the fault matrix
connector = BankRestConnector()


class Clock:
    """The sandbox's clock, advanced by the test."""

    def __init__(self) -> None:
        self.now = START

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Sandbox:
    def __init__(self, app: Any, url: str, clock: Clock) -> None:
        self.app, self.url, self.clock = app, url, clock

    @property
    def faults(self) -> Any:
        return self.app.state.faults
    def history(self, stream: str) -> list[dict[str, Any]]:
        return self.app.state.listings[PATHS[stream]].rows

    def live(self, stream: str, i: int) -> dict[str, Any]:
        return self.app.state.listings[PATHS[stream]].live(i)

    def config(self, **overrides: Any) -> dict[str, Any]:
        return {"base_url": self.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **overrides}

    def instance(self, db_url: str, *, secret: str = CLIENT_SECRET, **overrides: Any) -> int:
        """A connector instance on this sandbox, its secret stored encrypted as the admin API does."""
        config = {"base_url": self.url, "client_id": CLIENT_ID, **overrides}
        return create_instance(db_url, kind="bank_rest", config=config, secrets={"client_secret": secret})


@pytest.fixture(autouse=True)
def no_cached_tokens() -> None:
    """Each test starts without cached tokens (a loopback port may be reused by a later sandbox)."""
    import connectors.bank_rest as bank_rest

    bank_rest._TOKENS.clear()


@pytest.fixture(scope="module")
def served(world: Any) -> Iterator[tuple[Any, str, Clock]]:
    """One sandbox for the module (building its listings takes a moment); ``sandbox`` resets it per test."""
    clock = Clock()
    app = create_app(world=world, clock=lambda: clock.now, live_interval_seconds=INTERVAL)
    with serve_asgi(app) as url:
        yield app, url, clock


@pytest.fixture
def sandbox(served: tuple[Any, str, Clock]) -> Sandbox:
    """The sandbox at the world's today (no live records yet), with every fault off."""
    app, url, clock = served
    clock.now = START
    app.state.faults.reset()
    return Sandbox(app, url, clock)


def stream_of(sb: Sandbox, name: str, **config: Any) -> Any:
    return next(s for s in connector.streams(connector.parse_config(sb.config(**config))) if s.name == name)


def keys(stream: Any, records: list[dict[str, Any]]) -> list[str]:
    return [stream.key_of(r) for r in records]


# -- check ------------------------------------------------------------------------------------------


def test_check_succeeds_with_the_right_credentials(sandbox: Sandbox) -> None:
    result = connector.check(connector.parse_config(sandbox.config()))
    assert result.ok
    assert result.message.startswith("connected as 'wage-hub': token issued")


def test_check_explains_wrong_credentials(sandbox: Sandbox) -> None:
    result = connector.check(connector.parse_config(sandbox.config(client_secret="wrong")))
    assert not result.ok
    assert result.message == "the bank refused client_id 'wage-hub' (invalid_client): check client_id and client_secret"


def test_check_explains_an_unreachable_bank() -> None:
    from tests.connectors.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = connector.check(connector.parse_config({"base_url": url, "client_id": CLIENT_ID, "client_secret": "x"}))
    assert (result.ok, result.message) == (False, f"cannot reach the bank at {url}: connection failed")


def test_the_client_secret_is_a_secret() -> None:
    config = connector.parse_config({"base_url": "http://bank", "client_id": "c", "client_secret": "s3cret"})
    assert config.secret_fields() == ["client_secret"] and "s3cret" not in repr(config)


# -- reading streams --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "page_size"), [("accounts", 7), ("bills", 100), ("pay_details", 1000), ("guarantees", 4)],
                         ids=["accounts", "bills", "pay_details", "guarantees"])
def test_a_stream_reads_everything_in_pages_and_resumes_from_its_state(sandbox: Sandbox, name: str, page_size: int) -> None:
    # Given the bank's history of this stream, in its own order
    stream = stream_of(sandbox, name, page_size=page_size)
    history = sandbox.history(name)
    # When the stream is read from the start
    pages = list(stream.read({}))
    # Then every record arrives once, in order, in pages of at most page_size
    assert keys(stream, [r for p in pages for r in p.records]) == keys(stream, history)
    assert len(pages) == math.ceil(len(history) / page_size)
    assert all(len(p.records) <= page_size for p in pages)
    # and the state is plain JSON, and the bookmark moves forward page by page
    states = [orjson.loads(orjson.dumps(p.state)) for p in pages]
    assert states == [p.state for p in pages]
    marks = [(s["updatedAfter"], *s["lastKey"]) for s in states]
    assert marks == sorted(set(marks))
    # When it restarts from a middle page's state, it reads exactly the rest
    middle = len(pages) // 2
    rest = [r for p in stream.read(states[middle - 1]) for r in p.records]
    assert keys(stream, rest) == keys(stream, [r for p in pages[middle:] for r in p.records])
    # and from the final state there is nothing new
    assert list(stream.read(states[-1])) == []
    # When two live intervals pass, an incremental read returns just the two new records
    sandbox.clock.advance(2 * INTERVAL + 1)
    new = [r for p in stream.read(states[-1]) for r in p.records]
    assert new == [sandbox.live(name, 1), sandbox.live(name, 2)]
    assert new[0]["updateTime"] == "2026-11-20 00:00:20"


def test_the_token_is_cached_and_renewed_when_the_bank_says_it_expired(sandbox: Sandbox) -> None:
    stream = stream_of(sandbox, "accounts", page_size=10)
    issued = sandbox.app.state.stats["tokens_issued"]
    # Given one read: one token for all its pages (and for the next read)
    assert len(list(stream.read({}))) == 3
    list(stream.read({}))
    assert sandbox.app.state.stats["tokens_issued"] == issued + 1
    # When the bank answers 401 TOKEN_EXPIRED
    sandbox.faults.set(expire_token_next=1)
    with pytest.raises(TokenExpired, match=r"bank_rest/accounts: the bank rejected the access token \(TOKEN_EXPIRED\)"):
        list(stream.read({}))
    # Then the retry authenticates again and reads everything
    assert len([r for p in stream.read({}) for r in p.records]) == 30
    assert sandbox.app.state.stats["tokens_issued"] == issued + 2


def test_a_401_on_data_is_fatal_with_a_clear_message(sandbox: Sandbox) -> None:
    stream = stream_of(sandbox, "guarantees")
    list(stream.read({}))  # a token is cached
    sandbox.faults.set(status_next=1, status_code=401)
    with pytest.raises(FatalUpstreamError, match=r"upstream refused the credentials \(HTTP 401\): check the connector's credentials"):
        list(stream.read({}))


@pytest.mark.parametrize("fault", ["duplicate_page_next", "cursor_backwards_next"], ids=["duplicate_page", "cursor_backwards"])
def test_a_repeated_page_or_a_backwards_cursor_yields_nothing_twice(sandbox: Sandbox, fault: str) -> None:
    stream = stream_of(sandbox, "bills", page_size=50)
    sandbox.faults.set(**{fault: 2})
    pages = list(stream.read({}))
    assert getattr(sandbox.faults, fault) == 0  # the fault did fire
    assert keys(stream, [r for p in pages for r in p.records]) == keys(stream, sandbox.history("bills"))
    marks = [(p.state["updatedAfter"], *p.state["lastKey"]) for p in pages]
    assert marks == sorted(set(marks))  # the bookmark never went back


def test_the_bank_refuses_pages_larger_than_1000(sandbox: Sandbox) -> None:
    import httpx

    token = httpx.post(f"{sandbox.url}/oauth/token", data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                          "client_secret": CLIENT_SECRET}).json()["access_token"]
    answer = httpx.get(f"{sandbox.url}/v1/pay-details", params={"limit": 1001}, headers={"Authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_PARAM")
    with pytest.raises(ValueError, match="less than or equal to 1000"):
        connector.parse_config(sandbox.config(page_size=1001))


# -- normalise --------------------------------------------------------------------------------------


def record_of(sb: Sandbox, stream: str, match: Any) -> dict[str, Any]:
    """The first record of ``stream`` the bank serves that satisfies ``match``, as JSON would carry it."""
    return orjson.loads(orjson.dumps(next(r for r in sb.history(stream) if match(r))))


def test_normalise_maps_an_account(sandbox: Sandbox, world: Any) -> None:
    account = next(a for a in world.accounts.values() if a["status"] == "closed")
    [out] = connector.normalise("accounts", record_of(sandbox, "accounts", lambda r: r["salaryAccount"] == account["salary_account"]))
    assert out == WageAccountIn(
        salary_account=account["salary_account"], project_code=world.project_by_id(account["project_id"])["project_code"],
        contractor_uscc=world.enterprise_by_id(account["enterprise_id"])["uscc"], bank_name=account["bank_name"],
        salary_account_name=account["salary_account_name"], bank_code=account["bank_code"],
        open_account_date=account["open_account_date"], filed_date=account["filed_date"],
        account_balance=account["account_balance"], status="closed",
    )
    assert out.salary_account_name.endswith("农民工工资专用账户")


def test_normalise_maps_an_income_bill_and_skips_an_expense(sandbox: Sandbox, world: Any) -> None:
    alloc = world.allocations[0]
    [out] = connector.normalise("bills", record_of(sandbox, "bills", lambda r: r["batchNumber"] == alloc["batch_number"]))
    assert out == AllocationIn(
        salary_account=alloc["salary_account"], batch_number=alloc["batch_number"], bill_date=alloc["bill_date"],
        period_month=alloc["period_month"], amount=alloc["amount"], account_balance=alloc["account_balance"],
        payer_name=alloc["payer_name"], payer_account=alloc["payer_account"], progress_payment=alloc["progress_payment"],
    )
    expense = record_of(sandbox, "bills", lambda r: r["billType"] == 2)
    assert expense["actionType"] == 1 and Decimal(expense["billAmount"]) > 0
    assert connector.normalise("bills", expense) == []


def test_normalise_maps_a_pay_detail(sandbox: Sandbox, world: Any) -> None:
    pay = next(p for p in world.payroll if p["pay_status"] == 20)
    [out] = connector.normalise("pay_details", record_of(sandbox, "pay_details", lambda r: r["detailNo"] == f"PD{pay['id']:012d}"))
    assert out == PayrollIn(
        pay_roll_code=pay["pay_roll_code"], project_code=world.project_by_id(pay["project_id"])["project_code"],
        id_number=pay["id_number"], pay_month=pay["pay_month"], total_pay_amount=pay["total_pay_amount"],
        actual_amount=pay["actual_amount"], pay_status=20, salary_account=pay["salary_account"], worker_name=pay["worker_name"],
        corp_uscc=world.enterprise_by_id(pay["enterprise_id"])["uscc"], days=pay["days"], work_hours=pay["work_hours"], balance_date=pay["balance_date"], is_back_pay=False,
        bank_card=pay["bank_card"], batch_number=pay["batch_number"],
    )


def test_normalise_maps_a_guarantee_letter(sandbox: Sandbox, world: Any) -> None:
    dep = next(d for d in world.deposits if d["kind"] == "bank_guarantee")
    [out] = connector.normalise("guarantees", record_of(sandbox, "guarantees", lambda r: r["guaranteeNo"] == dep["guarantee_no"]))
    assert out == DepositIn(
        guarantee_no=dep["guarantee_no"], project_code=world.project_by_id(dep["project_id"])["project_code"],
        contractor_uscc=world.enterprise_by_id(dep["enterprise_id"])["uscc"], kind="bank_guarantee", amount=dep["amount"],
        rate=dep["rate"], deposited_on=dep["deposited_on"], issuer=dep["issuer"], valid_from=dep["valid_from"],
        valid_to=dep["valid_to"], status=dep["status"],
    )


@pytest.mark.parametrize(("stream", "change", "field", "reason"), [
    ("bills", {"billAmount": None}, "billAmount", "required field billAmount is missing"),
    ("bills", {"billType": 3}, "billType", "billType must be 1 (income) or 2 (expense), got 3"),
    ("accounts", {"accountStatus": "9"}, "accountStatus", "accountStatus must be one of 1 (open), 2 (frozen), 3 (closed), got '9'"),
    ("pay_details", {"payMonth": "2026-13"}, "payMonth", "payMonth is not a month (YYYY-MM): '2026-13'"),
    ("guarantees", {"guaranteeAmount": "十万"}, "guaranteeAmount", "guaranteeAmount is not a number: '十万'"),
], ids=["missing_amount", "bad_bill_type", "bad_account_status", "bad_month", "bad_amount"])
def test_normalise_rejects_a_bad_record_naming_the_field(sandbox: Sandbox, stream: str, change: dict, field: str, reason: str) -> None:
    record = {**record_of(sandbox, stream, lambda r: r.get("billType", 1) == 1), **change}
    with pytest.raises(Rejection) as caught:
        connector.normalise(stream, record)
    assert (caught.value.field, caught.value.reason) == (field, reason)


# -- syncing into the hub ---------------------------------------------------------------------------

TABLES = ("wage_accounts", "labor_cost_allocations", "payroll_records", "guarantee_deposits", "workers")


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
        "accounts": {(a, money(b), s) for a, b, s in sql(url, "SELECT salary_account, account_balance, status FROM wage_accounts")},
        "bills": {(a, b, money(m)) for a, b, m in sql(url, "SELECT w.salary_account, l.batch_number, l.amount FROM labor_cost_allocations l "
                                                           "JOIN wage_accounts w ON w.id = l.account_id")},
        "guarantees": {(g, money(m), s) for g, m, s in sql(url, "SELECT guarantee_no, amount, status FROM guarantee_deposits "
                                                              "WHERE guarantee_no IS NOT NULL")},
    }


def with_live(before: dict[str, set[tuple]], sb: Sandbox, n: int) -> dict[str, set[tuple]]:
    """``before`` plus the first ``n`` live records of each stream: what an undisturbed run leaves."""
    out = {k: set(v) for k, v in before.items()}
    for i in range(1, n + 1):
        a, b, g = sb.live("accounts", i), sb.live("bills", i), sb.live("guarantees", i)
        out["accounts"].add((a["salaryAccount"], Decimal(a["accountBalance"]), "open"))
        out["bills"].add((b["salaryAccount"], b["batchNumber"], Decimal(b["billAmount"])))
        out["guarantees"].add((g["guaranteeNo"], Decimal(g["guaranteeAmount"]), "active"))
    return out


def test_a_full_sync_finds_the_seeded_records_unchanged_and_creates_the_live_ones(
        sandbox: Sandbox, seeded_db_url: str, sync_engine: Any) -> None:
    # Given a hub seeded with the same world, and two live records per stream at the bank
    before = counts(seeded_db_url)
    sandbox.clock.advance(2 * INTERVAL)
    instance = sandbox.instance(seeded_db_url, page_size=1000)
    engine = sync_engine(seeded_db_url)
    # When it syncs
    result = engine.run(instance)
    # Then what the seed holds is unchanged and only the live records are created
    assert (result.status, result.error) == ("succeeded", None)
    incomes = sum(1 for r in sandbox.history("bills") if r["billType"] == 1)
    for name, unchanged in [("accounts", 30), ("bills", incomes), ("pay_details", len(sandbox.history("pay_details"))),
                            ("guarantees", len(sandbox.history("guarantees")))]:
        stats = result.stats[name]
        assert (stats.created, stats.updated, stats.unchanged, stats.quarantined) == (2, 0, unchanged, 0), name
        assert stats.read == len(sandbox.history(name)) + 2
    assert counts(seeded_db_url) == {t: n + (t != "workers") * 2 for t, n in before.items()}  # live pay: known workers
    # When it runs again: nothing new
    again = engine.run(instance)
    assert again.status == "succeeded"
    assert {k: (s.read, s.created) for k, s in again.stats.items()} == {k: (0, 0) for k in PATHS}
    # When another live interval passes: one new record per stream
    sandbox.clock.advance(INTERVAL)
    third = engine.run(instance)
    assert {k: (s.read, s.created) for k, s in third.stats.items()} == {k: (1, 1) for k in PATHS}


def test_seeded_pay_details_come_back_unchanged(sandbox: Sandbox, seeded_db_url: str, world: Any) -> None:
    from hub.crypto import Cipher
    from hub.db import make_engine, session_scope
    from hub.ingest import Ingestor, Item
    from tests.connectors.conftest import SECRET

    # Given the pay detail of a subcontractor's worker, as the bank serves it
    pay = next(p for p in world.payroll if p["enterprise_id"] != world.project_by_id(p["project_id"])["contractor_id"])
    record = record_of(sandbox, "pay_details", lambda r: r["detailNo"] == f"PD{pay['id']:012d}")
    assert record["corpCode"] == world.enterprise_by_id(pay["enterprise_id"])["uscc"]  # the bank does send the employer
    engine = make_engine(seeded_db_url)
    with session_scope(engine) as session:
        outcome = Ingestor(session, cipher=Cipher(SECRET), source="bank_rest").apply(
            [Item(e, None) for e in connector.normalise("pay_details", record)])
    engine.dispose()
    assert (outcome.unchanged, outcome.updated) == (1, 0)


FAULTS = [
    pytest.param({"status_next": 2, "status_code": 503}, True, id="status_503_x2"),
    pytest.param({"timeout_next": 1, "timeout_seconds": 1.5}, True, id="timeout_x1"),
    pytest.param({"malformed_next": 1}, True, id="malformed_x1"),
    pytest.param({"expire_token_next": 1}, True, id="expired_token"),
    pytest.param({"duplicate_page_next": 1}, False, id="duplicate_page"),
    pytest.param({"cursor_backwards_next": 1}, False, id="cursor_backwards"),
]


@pytest.mark.parametrize(("fault", "retried"), FAULTS)
def test_a_sync_survives_a_fault_with_the_same_rows(sandbox: Sandbox, seeded_db_url: str, sync_engine: Any,
                                                    fault: dict[str, Any], retried: bool) -> None:
    # Given a seeded hub, one live record per stream, and a fault switched on at the bank
    before = fingerprint(seeded_db_url)
    sandbox.clock.advance(INTERVAL)
    instance = sandbox.instance(seeded_db_url, page_size=25, timeout_seconds=1.0)
    tokens_before = sandbox.app.state.stats["tokens_issued"]
    sandbox.faults.set(**fault)
    # When it syncs
    result = sync_engine(seeded_db_url).run(instance, streams=SMALL)
    # Then it succeeds, retrying where the fault was transient, and leaves what an undisturbed run leaves
    assert (result.status, result.error) == ("succeeded", None)
    assert all(getattr(sandbox.faults, k) == 0 for k in fault if k.endswith("_next"))  # the fault fired
    retries = sum(s.retries for s in result.stats.values())
    assert retries >= 1 if retried else retries == 0
    assert fingerprint(seeded_db_url) == with_live(before, sandbox, 1)
    assert {k: s.created for k, s in result.stats.items()} == dict.fromkeys(SMALL, 1)
    if "expire_token_next" in fault:
        assert sandbox.app.state.stats["tokens_issued"] - tokens_before == 2  # authenticated again after the 401
    # and each bookmark is the last live record's, as after an undisturbed run
    state = sql(seeded_db_url, "SELECT state FROM connector_instances WHERE id = :i", i=instance)[0][0]
    state = orjson.loads(state) if isinstance(state, str | bytes) else state
    for name in SMALL:
        mark = stream_of(sandbox, name).position(sandbox.live(name, 1))
        assert state[name] == {"updatedAfter": "2026-11-20 00:00:20", "lastKey": list(mark[1:])}, name


@pytest.mark.parametrize(("fault", "error"), [
    ({"status_next": 1, "status_code": 401}, "bank_rest/accounts: the bank refused client_id 'wage-hub' (injected fault): "
                                             "check client_id and client_secret"),
    ({}, "bank_rest/accounts: the bank refused client_id 'wage-hub' (invalid_client): check client_id and client_secret "
         "(client authentication failed)"),
], ids=["status_401", "wrong_secret"])
def test_refused_credentials_fail_the_run_without_retries(sandbox: Sandbox, empty_db_url: str, sync_engine: Any,
                                                          fault: dict, error: str) -> None:
    secret = CLIENT_SECRET if fault else "wrong-secret"
    instance = sandbox.instance(empty_db_url, secret=secret)
    sandbox.faults.set(**fault)
    result = sync_engine(empty_db_url).run(instance)
    assert (result.status, result.error) == ("failed", error)
    assert result.stats["accounts"].retries == 0
    assert secret not in result.error


@pytest.mark.parametrize(("stream", "field"), [("accounts", "projectCode"), ("bills", "billAmount"),
                                               ("pay_details", "idCardNumber"), ("guarantees", "guaranteeAmount")],
                         ids=["accounts", "bills", "pay_details", "guarantees"])
def test_a_bad_record_is_quarantined_and_stays_so_after_replay(sandbox: Sandbox, seeded_db_url: str, sync_engine: Any,
                                                               stream: str, field: str) -> None:
    # Given a bank whose next page carries one bad record
    before = counts(seeded_db_url)
    instance = sandbox.instance(seeded_db_url, page_size=1000)
    sandbox.faults.set(bad_records_next=1)
    engine = sync_engine(seeded_db_url)
    # When it syncs
    result = engine.run(instance, streams=[stream])
    # Then the run succeeds and exactly that record is quarantined, with a reason naming the field
    assert result.status == "succeeded"
    stats = result.stats[stream]
    assert (stats.quarantined, stats.created, stats.read) == (1, 0, len(sandbox.history(stream)) + 1)
    rows = sql(seeded_db_url, "SELECT q.stream, q.field, q.reason, q.status, r.source_key FROM quarantine q "
                              "JOIN raw_records r ON r.id = q.raw_record_id")
    assert len(rows) == 1
    q_stream, q_field, reason, status, source_key = rows[0]
    assert (q_stream, q_field, status) == (stream, field, "open")
    assert field in reason
    assert source_key.endswith("X")  # the sandbox's bad copy, not a real record
    assert counts(seeded_db_url) == before
    # When it is replayed: still bad, still quarantined
    assert engine.replay(instance_id=instance)["still_failing"] == 1
    assert sql(seeded_db_url, "SELECT status, field FROM quarantine") == [("open", field)]


def test_a_record_of_an_unknown_project_replays_once_the_project_exists(sandbox: Sandbox, seeded_db_url: str,
                                                                        sync_engine: Any, world: Any) -> None:
    # Given a hub that does not know one project (yet) that has a guarantee letter at the bank
    dep = next(d for d in world.deposits if d["kind"] == "bank_guarantee")
    code = world.project_by_id(dep["project_id"])["project_code"]
    sql(seeded_db_url, "UPDATE projects SET project_code = :tmp WHERE project_code = :code", tmp="PENDING-1", code=code)
    instance = sandbox.instance(seeded_db_url)
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
