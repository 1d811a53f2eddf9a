"""The national clue platform connector against its sandbox, served over real HTTP (the real httpx client runs)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import registry
from connectors.clue_channel.client import CST
from connectors.clue_channel.sandbox import live_complaint, live_epoch
from connectors.base import ClueIn, FatalUpstreamError, Outcome, Rejection, TokenExpired
from connectors.national_platform.sandbox import DEMO_CREDENTIALS, create_app
from connectors.sandbox.faults import Faults
from hub import models as m
from tests.connectors.conftest import SECRET, create_instance, free_port, serve_asgi
from tests.connectors.conftest import clone_database
from tests.connectors.test_clue_channels import Clock, snapshot, stored_state, table_counts

INTERVAL = 20.0
CREDS = DEMO_CREDENTIALS
connector = registry.get("national_platform")


@pytest.fixture
def clock(world) -> Clock:  # type: ignore[no-untyped-def]
    return Clock(live_epoch(world))  # no live clue yet


@pytest.fixture
def sandbox(world, clock):  # type: ignore[no-untyped-def]
    app = create_app(world=world, faults=Faults(), clock=clock, live_interval_seconds=INTERVAL, **CREDS)
    with serve_asgi(app) as url:
        yield SimpleNamespace(app=app, url=url, faults=app.state.faults)


def make_config(url: str, **overrides: Any) -> Any:
    return connector.parse_config({"base_url": url, "page_size": 10, "timeout_seconds": 5, **CREDS, **overrides})


def read_all(config: Any, state: dict[str, Any] | None = None) -> list[Any]:
    return list(connector.streams(config)[0].read(state or {}))


def records(pages: list[Any]) -> list[dict[str, Any]]:
    return [r for p in pages for r in p.records]


# -- check ------------------------------------------------------------------------------------------

def test_check_accepts_the_right_credentials(sandbox) -> None:  # type: ignore[no-untyped-def]
    assert connector.check(make_config(sandbox.url)).message == "connected to the national clue platform: signed in as hub-370800"


@pytest.mark.parametrize("wrong", [{"password": "not-the-password"}, {"account": "someone-else"}], ids=["password", "account"])
def test_check_explains_wrong_credentials(sandbox, wrong) -> None:  # type: ignore[no-untyped-def]
    result = connector.check(make_config(sandbox.url, **wrong))
    assert not result.ok
    assert result.message == "the national clue platform refused the account or password (HTTP 401): check account and password"


def test_check_explains_an_unreachable_platform() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = connector.check(make_config(url, timeout_seconds=2))
    assert (result.ok, result.message) == (False, f"cannot reach the national clue platform at {url}: connection failed")


# -- reading ----------------------------------------------------------------------------------------

def test_reads_every_clue_in_pages_and_resumes_from_any_page(sandbox, world, clock) -> None:  # type: ignore[no-untyped-def]
    # Given the world's national-platform clues, When read in pages of 10
    config = make_config(sandbox.url)
    pages = read_all(config)
    got = records(pages)
    # Then every clue comes once, in (updateTime, clueId) order, and no page is larger than asked
    assert sorted(r["clueId"] for r in got) == sorted(p["clueId"] for p in world.clue_payloads["national_platform"])
    assert [len(p.records) for p in pages] == [10, 10, 10, 1]
    assert [(r["updateTime"], r["clueId"]) for r in got] == sorted((r["updateTime"], r["clueId"]) for r in got)
    # And reading from any page's state gives exactly the rest; from the final state nothing
    assert records(read_all(config, pages[1].state)) == got[20:]
    assert pages[-1].state == {"updateTime": got[-1]["updateTime"], "clueId": got[-1]["clueId"]}
    assert read_all(config, pages[-1].state) == []
    # When two live intervals pass, Then only the two new clues come
    clock.advance(2 * INTERVAL)
    new = records(read_all(config, pages[-1].state))
    day = f"{live_epoch(world):%Y%m%d}"
    assert [r["clueId"] for r in new] == [f"GZQX{day}90000001", f"GZQX{day}90000002"]


def test_the_platform_caps_page_size(sandbox, clock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(80 * INTERVAL)  # 111 clues in all
    assert [len(p.records) for p in read_all(make_config(sandbox.url, page_size=1000))] == [100, 11]


def test_an_expired_token_is_replaced_on_the_next_read(sandbox) -> None:  # type: ignore[no-untyped-def]
    # Given a stream that has signed in, When the platform says its token expired
    stream = connector.streams(make_config(sandbox.url))[0]
    sandbox.faults.set(expire_token_next=1)
    with pytest.raises(TokenExpired, match="national_platform/clues: access token expired"):
        list(stream.read({}))
    # Then the next read (the hub's retry) signs in again and succeeds
    assert len(records(list(stream.read({})))) == 31
    assert len(sandbox.app.state.tokens_issued) == 2


def test_a_token_is_reused_until_shortly_before_it_expires(world) -> None:  # type: ignore[no-untyped-def]
    app = create_app(world=world, clock=Clock(live_epoch(world)), token_ttl_seconds=1.0, **CREDS)
    with serve_asgi(app) as url:
        stream = connector.streams(make_config(url, page_size=100))[0]
        list(stream.read({}))
        list(stream.read({}))
        assert len(app.state.tokens_issued) == 1
        time.sleep(1.0)
        list(stream.read({}))
        assert len(app.state.tokens_issued) == 2


# -- normalise -------------------------------------------------------------------------------------

def test_normalise_maps_a_live_clue(sandbox, world, clock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(INTERVAL)
    record = records(read_all(make_config(sandbox.url)))[-1]
    at = live_epoch(world) + dt.timedelta(seconds=INTERVAL)
    c = live_complaint(world, 1, at, channel="national_platform")
    [clue] = connector.normalise("clues", record)
    group = f"等{c.headcount}人" if c.headcount > 1 else ""
    assert clue == ClueIn(
        channel="national_platform", source_id=f"GZQX{at:%Y%m%d}90000001", received_at=at,
        title=f"{c.name}{group}反映{c.respondent['name']}拖欠工资", content=c.text, region_code=c.county,
        respondent_name=c.respondent["name"], complainant_name=c.name, complainant_phone=c.phone,
        complainant_id_number=c.id_number, respondent_address=c.project["address"], amount=c.amount, headcount=c.headcount,
        arrears_from=c.start, arrears_to=c.end, sector="工程建设", project_name=c.project["name"],
    )


def test_normalise_maps_a_history_clue(world) -> None:  # type: ignore[no-untyped-def]
    p = next(p for p in world.clue_payloads["national_platform"] if p["clueId"] == "GZQX2025112400000002")
    [clue] = connector.normalise("clues", {**p, "updateTime": p["reportTime"]})
    assert (clue.received_at, clue.region_code, clue.respondent_name, clue.amount, clue.headcount) == (
        dt.datetime(2025, 11, 24, 18, 22, 10, tzinfo=CST), "370812", "山东德瑞建工集团有限公司", Decimal("828500.00"), 50)
    assert (clue.arrears_from, clue.arrears_to, clue.complainant_id_number, clue.complainant_phone) == (
        dt.date(2025, 8, 1), dt.date(2025, 10, 31), "370812198003010837", "162-4476-6491")
    assert clue.title == "李坤楠等50人反映山东德瑞建工集团有限公司拖欠工资"


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("employerName", " ", "required field employerName is missing or empty"),
    ("reportTime", "24/11/2025", "reportTime '24/11/2025' is not a time like 2026-11-20 09:30:00"),
    ("arrearsAmount", "八千", "arrearsAmount '八千' is not an amount"),
    ("involvedNumber", "many", "involvedNumber 'many' is not a whole number"),
    ("arrearsEndDate", "2025-13-01", "arrearsEndDate '2025-13-01' is not a date like 2026-10-31"),
], ids=["no-employer", "bad-time", "bad-amount", "bad-headcount", "bad-date"])
def test_normalise_rejects_a_bad_clue_naming_the_field(world, field, value, reason) -> None:  # type: ignore[no-untyped-def]
    record = {**world.clue_payloads["national_platform"][0], field: value}
    with pytest.raises(Rejection) as info:
        connector.normalise("clues", record)
    assert (info.value.field, info.value.reason) == (field, reason)


# -- sync through the hub --------------------------------------------------------------------------

def instance(db_url: str, sandbox_url: str, **config: Any) -> int:
    return create_instance(db_url, kind="national_platform", secrets={"password": CREDS["password"]},
                           config={"base_url": sandbox_url, "page_size": 10, "timeout_seconds": 5, "account": CREDS["account"], **config})


@pytest.fixture
def seeded(seeded_db_url) -> str:  # type: ignore[no-untyped-def]
    """A fresh database seeded like the demo (a copy of the session's template)."""
    return seeded_db_url


@pytest.fixture(scope="module")
def baseline(world, seeded_template, tmp_path_factory, request):  # type: ignore[no-untyped-def]
    """The rows an undisturbed sync leaves (two live clues), to compare disturbed runs with."""
    from hub.crypto import Cipher
    from hub.db import make_engine
    from hub.sync import SyncEngine

    url = clone_database(seeded_template, tmp_path_factory.mktemp("baseline"), request)
    app = create_app(world=world, clock=Clock(live_epoch(world) + dt.timedelta(seconds=2 * INTERVAL)),
                     live_interval_seconds=INTERVAL, **CREDS)
    engine = make_engine(url)
    with serve_asgi(app) as sandbox_url:
        assert SyncEngine(engine, cipher=Cipher(SECRET)).run(instance(url, sandbox_url)).status == "succeeded"
    engine.dispose()
    return snapshot(url)


def test_full_sync_keeps_seeded_clues_and_creates_live_ones(sandbox, clock, world, seeded, sync_engine) -> None:  # type: ignore[no-untyped-def]
    # Given a hub seeded with the world's clues and two live clues on the platform
    before = table_counts(seeded)
    clock.advance(2 * INTERVAL)
    inst = instance(seeded, sandbox.url)
    # When it syncs
    result = sync_engine(seeded).run(inst)
    # Then the seeded clues are not duplicated and the live ones are new
    assert (result.status, result.error) == ("succeeded", None)
    stats = result.stats["clues"]
    history = len(world.clue_payloads["national_platform"])
    assert (stats.read, stats.created, stats.updated + stats.unchanged, stats.quarantined) == (history + 2, 2, history, 0)
    after = table_counts(seeded)
    assert after["channel_records"] == before["channel_records"] + 2
    assert before["clues"] < after["clues"] <= before["clues"] + 2
    # And a second run finds nothing new; a full refresh finds every clue unchanged
    again = sync_engine(seeded).run(inst).stats["clues"]
    assert (again.read, again.created) == (0, 0)
    full = sync_engine(seeded).run(inst, full_refresh=True).stats["clues"]
    assert (full.created, full.updated, full.unchanged) == (0, 0, history + 2)
    assert table_counts(seeded) == after


@pytest.mark.parametrize("fault", [
    {"status_next": 2, "status_code": 503},
    {"timeout_next": 1, "timeout_seconds": 1.5},
    {"malformed_next": 1},
    {"expire_token_next": 1},
    {"duplicate_page_next": 1},
    {"cursor_backwards_next": 1},
], ids=["503x2", "timeout", "malformed", "expired-token", "duplicate-page", "cursor-backwards"])
def test_sync_recovers_from_upstream_faults(sandbox, clock, seeded, sync_engine, baseline, fault) -> None:  # type: ignore[no-untyped-def]
    # Given two live records, and a fault that strikes once the first page is stored (mid-run)
    clock.advance(2 * INTERVAL)
    inst = instance(seeded, sandbox.url, timeout_seconds=0.5)
    states: list[dict[str, Any]] = []

    def progress(_stream: str, stats: Any) -> None:
        if stats.pages == 1:
            sandbox.faults.set(**fault)
        states.append(stored_state(seeded, inst)["clues"])

    # When it syncs
    result = sync_engine(seeded).run(inst, progress=progress)
    # Then the run succeeds with the same rows as an undisturbed run, and the bookmark never went back
    assert (result.status, result.error) == ("succeeded", None)
    if any(k in fault for k in ("status_next", "timeout_next", "malformed_next", "expire_token_next")):
        assert result.stats["clues"].retries >= 1
    assert snapshot(seeded) == baseline
    assert [k for k, v in sandbox.faults.as_dict().items() if k.endswith("_next") and v] == []  # the fault did strike
    positions = [(s["updateTime"], s["clueId"]) for s in states]
    assert positions == sorted(positions)


def test_a_bad_clue_is_quarantined_and_stays_so_on_replay(sandbox, seeded, sync_engine) -> None:  # type: ignore[no-untyped-def]
    from hub.db import make_engine

    inst = instance(seeded, sandbox.url)
    sandbox.faults.set(bad_records_next=1)
    engine = sync_engine(seeded)
    result = engine.run(inst)
    assert (result.status, result.stats["clues"].quarantined) == ("succeeded", 1)
    db = make_engine(seeded)
    with Session(db) as session:
        [entry] = session.scalars(select(m.Quarantine)).all()
        bad_id = session.get(m.RawRecord, entry.raw_record_id).payload["complainantIdNumber"]
    assert (entry.stream, entry.field) == ("clues", "complainantIdNumber")
    assert entry.reason.startswith(f"invalid complainantIdNumber {bad_id!r}: ")
    # When replayed from the archive, Then it is still bad and stays quarantined
    assert engine.replay(instance_id=inst)["still_failing"] == 1
    with Session(db) as session:
        assert session.scalars(select(m.Quarantine.status)).all() == ["open"]
    db.dispose()


def test_refused_credentials_fail_the_run_without_retries(sandbox, seeded, sync_engine) -> None:  # type: ignore[no-untyped-def]
    sandbox.faults.set(status_next=1, status_code=401)
    result = sync_engine(seeded).run(instance(seeded, sandbox.url))
    assert result.status == "failed"
    assert result.error.startswith("national_platform/clues: the national clue platform refused the account or password (HTTP 401): "
                                   "check account and password")
    assert result.stats["clues"].retries == 0


# -- write-back ------------------------------------------------------------------------------------

def read_back(url: str, clue_id: str) -> list[dict[str, Any]]:
    token = httpx.post(f"{url}/auth/token", json=CREDS).json()["data"]["accessToken"]
    resp = httpx.get(f"{url}/api/clues/{clue_id}/feedback", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return resp.json()["data"]


def test_write_back_posts_the_outcome(sandbox, world) -> None:  # type: ignore[no-untyped-def]
    clue_id = world.clue_payloads["national_platform"][0]["clueId"]
    outcome = Outcome(source_id=clue_id, clue_no="XS370812202511240A1B2C", status="closed",
                      conclusion="经查，欠薪属实，已支付828500元（50人）。", closed_at=dt.datetime(2025, 12, 10, 16, 0, tzinfo=CST),
                      recovered_amount=Decimal("828500"), workers_paid=50)
    connector.write_back(make_config(sandbox.url), outcome)
    [feedback] = read_back(sandbox.url, clue_id)
    assert {k: feedback[k] for k in ("handleStatus", "handleResult", "recoverAmount", "paidNumber", "finishTime", "localClueNo")} == {
        "handleStatus": "已办结", "handleResult": "经查，欠薪属实，已支付828500元（50人）。", "recoverAmount": "828500.00",
        "paidNumber": 50, "finishTime": "2025-12-10 16:00:00", "localClueNo": "XS370812202511240A1B2C"}


def test_write_back_to_an_unknown_clue_is_fatal(sandbox) -> None:  # type: ignore[no-untyped-def]
    outcome = Outcome(source_id="GZQX2026010199999999", clue_no="XS1", status="closed", conclusion="x",
                      closed_at=dt.datetime(2026, 11, 20, tzinfo=CST))
    with pytest.raises(FatalUpstreamError, match="upstream answered HTTP 404"):
        connector.write_back(make_config(sandbox.url), outcome)
