"""Write-back of clue outcomes (hub.writeback) to the 12345 and national-platform sandboxes over real HTTP."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.clue_channel.sandbox import live_epoch
from connectors.base import ClueIn
from connectors.hotline12345 import sign_headers
from connectors.hotline12345.sandbox import DEMO_CREDENTIALS as HOTLINE_CREDS
from connectors.hotline12345.sandbox import create_app as hotline_app
from connectors.national_platform.sandbox import DEMO_CREDENTIALS as PLATFORM_CREDS
from connectors.national_platform.sandbox import create_app as platform_app
from connectors.sandbox.faults import Faults
from hub import models as m
from hub import workflow
from hub.access import SYSTEM
from hub.cluepool import ClueIntake
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.models import utcnow
from hub.writeback import LEASE_SECONDS, backoff, deliver_due, queue_writebacks
from tests.conftest import SECRET, TODAY
from tests.connectors.conftest import WORLD, create_instance, free_port, serve_asgi

CIPHER = Cipher(SECRET)
PHONE = "13905370001"
CONCLUSION = "经查，山东德瑞建工集团有限公司拖欠工资属实，已全部支付到位。"


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    from connectors.sandbox.world import build_world

    return build_world(today=TODAY, **WORLD)


def quiet(world) -> Any:  # type: ignore[no-untyped-def]
    """A sandbox clock stopped before the first live record: the world's history only (and fast answers)."""
    epoch = live_epoch(world)
    return lambda: epoch


@pytest.fixture
def hotline(world):  # type: ignore[no-untyped-def]
    app = hotline_app(world=world, faults=Faults(), clock=quiet(world), **HOTLINE_CREDS)
    with serve_asgi(app) as url:
        yield SimpleNamespace(url=url, faults=app.state.faults, writebacks=app.state.writebacks)


@pytest.fixture
def platform(world):  # type: ignore[no-untyped-def]
    app = platform_app(world=world, faults=Faults(), clock=quiet(world), **PLATFORM_CREDS)
    with serve_asgi(app) as url:
        yield SimpleNamespace(url=url, faults=app.state.faults, feedback=app.state.feedback)


@pytest.fixture
def db(empty_db_url):  # type: ignore[no-untyped-def]
    engine = make_engine(empty_db_url)
    yield SimpleNamespace(url=empty_db_url, engine=engine)
    engine.dispose()


def add_hotline(db, url: str, *, name: str = "12345热线", **config: Any) -> int:  # type: ignore[no-untyped-def]
    return create_instance(
        db.url,
        kind="hotline12345",
        name=name,
        config={"base_url": url, "app_key": HOTLINE_CREDS["app_key"], "timeout_seconds": 2, **config},
        secrets={"app_secret": HOTLINE_CREDS["app_secret"]},
    )


def add_platform(db, url: str, **config: Any) -> int:  # type: ignore[no-untyped-def]
    return create_instance(
        db.url,
        kind="national_platform",
        name="全国平台",
        config={"base_url": url, "account": PLATFORM_CREDS["account"], "timeout_seconds": 2, **config},
        secrets={"password": PLATFORM_CREDS["password"]},
    )


@dataclasses.dataclass
class Sources:
    order: str
    clue_id: str


@pytest.fixture
def sources(world) -> Sources:  # type: ignore[no-untyped-def]
    return Sources(
        order=world.clue_payloads["hotline12345"][0]["orderNum"],
        clue_id=world.clue_payloads["national_platform"][0]["clueId"],
    )


def clue_in(channel: str, source_id: str, *, at: dt.datetime) -> ClueIn:
    return ClueIn(
        channel=channel,
        source_id=source_id,
        received_at=at,
        title="反映山东德瑞建工集团有限公司拖欠工资",
        content="兖州区城东棚户区改造安置房项目拖欠工资。",
        region_code="370812",
        respondent_name="山东德瑞建工集团有限公司",
        complainant_name="李坤楠",
        complainant_phone=PHONE,
        project_name="兖州区城东棚户区改造安置房项目",
    )


def open_clue(
    db,
    sources: Sources,
    *,
    channels: tuple[str, ...] = ("hotline12345", "national_platform"),  # type: ignore[no-untyped-def]
    raw_record_ids: dict[str, int] | None = None,
) -> str:
    """A clue with one channel record per channel (joined by phone), accepted (办理中)."""
    at = utcnow() - dt.timedelta(days=3)
    ids = {"hotline12345": sources.order, "national_platform": sources.clue_id, "walk_in": "LF-2026-0001"}
    with session_scope(db.engine) as session:
        intake = ClueIntake(session, cipher=CIPHER)
        records = [
            intake.intake(
                clue_in(ch, ids[ch], at=at + dt.timedelta(hours=i)), raw_record_id=(raw_record_ids or {}).get(ch)
            )
            for i, ch in enumerate(channels)
        ]
        assert len({r.clue_id for r in records}) == 1, "the records should join one clue"
        clue = session.get(m.Clue, records[0].clue_id)
        workflow.accept(session, clue=clue, principal=SYSTEM)
        return clue.clue_no


def close_clue(db, clue_no: str) -> list[str]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        clue = workflow.get_clue(session, clue_no=clue_no)
        workflow.close(
            session,
            clue=clue,
            principal=SYSTEM,
            conclusion=CONCLUSION,
            recovered_amount=Decimal(828500),
            workers_paid=50,
        )
        return session.execute(select(m.Event.payload).where(m.Event.type == "clue.close")).scalar_one()["writebacks"]


def records_of(db, clue_no: str) -> dict[str, m.ChannelRecord]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        rows = (
            session.execute(
                select(m.ChannelRecord)
                .join(m.Clue, m.Clue.id == m.ChannelRecord.clue_id)
                .where(m.Clue.clue_no == clue_no)
            )
            .scalars()
            .all()
        )
        session.expunge_all()
    return {r.channel: r for r in rows}


def events(db, type_: str) -> list[m.Event]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        rows = session.execute(select(m.Event).where(m.Event.type == type_).order_by(m.Event.id)).scalars().all()
        session.expunge_all()
    return list(rows)


def hotline_read(url: str, order: str, kind: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{url}/api/orders/{order}/{kind}", headers=sign_headers(HOTLINE_CREDS["app_key"], HOTLINE_CREDS["app_secret"])
    )
    resp.raise_for_status()
    return resp.json()["data"]


def platform_read(url: str, clue_id: str) -> list[dict[str, Any]]:
    token = httpx.post(f"{url}/auth/token", json=PLATFORM_CREDS).json()["data"]["accessToken"]
    resp = httpx.get(f"{url}/api/clues/{clue_id}/feedback", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return resp.json()["data"]


# -- queueing ---------------------------------------------------------------------------------------


def test_closing_queues_a_write_back_to_each_channel_that_takes_one(db, sources) -> None:  # type: ignore[no-untyped-def]
    # Given a clue from 12345, the national platform and a walk-in (来访: nothing to write back to)
    clue_no = open_clue(db, sources, channels=("hotline12345", "national_platform", "walk_in"))
    # When it is closed
    queued = close_clue(db, clue_no)
    # Then the two connector channels are pending, due now; the walk-in record has no write-back
    assert queued == [f"hotline12345:{sources.order}", f"national_platform:{sources.clue_id}"]
    recs = records_of(db, clue_no)
    assert {ch: r.writeback_status for ch, r in recs.items()} == {
        "hotline12345": "pending",
        "national_platform": "pending",
        "walk_in": None,
    }
    assert recs["hotline12345"].writeback_next_at <= utcnow()
    assert recs["walk_in"].writeback_next_at is None


def test_a_call_back_queues_an_acknowledged_write_back_again(db, sources, hotline, platform) -> None:  # type: ignore[no-untyped-def]
    # Given a closed clue whose result both channels acknowledged
    add_hotline(db, hotline.url)
    add_platform(db, platform.url)
    clue_no = open_clue(db, sources)
    close_clue(db, clue_no)
    assert deliver_due(db.engine, cipher=CIPHER).acknowledged == 2
    # When the complainant is called back
    with session_scope(db.engine) as session:
        clue = workflow.get_clue(session, clue_no=clue_no)
        workflow.record_callback(session, clue=clue, principal=SYSTEM, satisfaction="基本满意")
    # Then both are pending again, and delivering writes the 回访 to 12345 and 已回访 to the platform
    assert {r.writeback_status for r in records_of(db, clue_no).values()} == {"pending"}
    report = deliver_due(db.engine, cipher=CIPHER)
    assert (report.acknowledged, report.failed) == (2, 0)
    [visit] = hotline_read(hotline.url, sources.order, "visit")
    assert (visit["satisfaction"], visit["visitIsSolved"]) == ("基本满意", "1")
    assert [f["handleStatus"] for f in platform_read(platform.url, sources.clue_id)] == ["已办结", "已回访"]
    assert platform_read(platform.url, sources.clue_id)[1]["satisfaction"] == "基本满意"


def test_a_new_channel_joining_a_closed_clue_is_written_back_alone(db, sources, hotline, platform) -> None:  # type: ignore[no-untyped-def]
    # Given a closed 12345 clue, written back
    add_hotline(db, hotline.url)
    add_platform(db, platform.url)
    clue_no = open_clue(db, sources, channels=("hotline12345",))
    close_clue(db, clue_no)
    deliver_due(db.engine, cipher=CIPHER)
    # When the same complaint arrives from the national platform
    with session_scope(db.engine) as session:
        record = ClueIntake(session, cipher=CIPHER).intake(clue_in("national_platform", sources.clue_id, at=utcnow()))
        assert session.get(m.Clue, record.clue_id).clue_no == clue_no
    # Then only the platform gets the outcome; 12345 is not written to again
    report = deliver_due(db.engine, cipher=CIPHER)
    assert [(d.channel, d.status) for d in report.items] == [("national_platform", "acknowledged")]
    assert len(hotline_read(hotline.url, sources.order, "result")) == 1
    [feedback] = platform_read(platform.url, sources.clue_id)
    assert (feedback["localClueNo"], feedback["handleResult"]) == (clue_no, CONCLUSION)


# -- delivery ---------------------------------------------------------------------------------------


def test_closing_writes_the_outcome_back_to_both_channels(db, sources, hotline, platform) -> None:  # type: ignore[no-untyped-def]
    # Given a clue from 12345 and the national platform, both connectors configured
    add_hotline(db, hotline.url)
    add_platform(db, platform.url)
    clue_no = open_clue(db, sources)
    # When it is closed and the due write-backs are delivered
    close_clue(db, clue_no)
    report = deliver_due(db.engine, cipher=CIPHER)
    # Then both sandboxes hold the result, and both records are acknowledged with an event each
    assert sorted((d.channel, d.status, d.connector) for d in report.items) == [
        ("hotline12345", "acknowledged", "12345热线"),
        ("national_platform", "acknowledged", "全国平台"),
    ]
    with session_scope(db.engine) as session:
        closed_at = workflow.get_clue(session, clue_no=clue_no).closed_at
    finished = closed_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
    [result] = hotline_read(hotline.url, sources.order, "result")
    assert {
        k: result[k]
        for k in ("handleResult", "handleStatus", "recoveredAmount", "workersPaid", "hubClueNo", "completeTime")
    } == {
        "handleResult": CONCLUSION,
        "handleStatus": "办结",
        "recoveredAmount": "828500.00",
        "workersPaid": 50,
        "hubClueNo": clue_no,
        "completeTime": finished,
    }
    assert hotline_read(hotline.url, sources.order, "visit") == []  # no call-back yet
    [feedback] = platform_read(platform.url, sources.clue_id)
    assert {
        k: feedback[k]
        for k in ("handleStatus", "handleResult", "recoverAmount", "paidNumber", "localClueNo", "finishTime")
    } == {
        "handleStatus": "已办结",
        "handleResult": CONCLUSION,
        "recoverAmount": "828500.00",
        "paidNumber": 50,
        "localClueNo": clue_no,
        "finishTime": finished,
    }
    recs = records_of(db, clue_no)
    assert {
        (r.writeback_status, r.writeback_attempts, r.writeback_error, r.writeback_next_at) for r in recs.values()
    } == {("acknowledged", 1, None, None)}
    assert all(r.writeback_done_at is not None for r in recs.values())
    acked = events(db, "clue.writeback_acknowledged")
    assert sorted(e.payload["channel"] for e in acked) == ["hotline12345", "national_platform"]
    assert {e.region_code for e in acked} == {"370812"}
    # And a second run finds nothing due
    assert deliver_due(db.engine, cipher=CIPHER).items == []


def test_write_back_events_reach_the_region_handling_the_clue(db, sources, hotline) -> None:  # type: ignore[no-untyped-def]
    # Given a clue of 370812 handled by 370811 (分办 across counties), closed there
    add_hotline(db, hotline.url)
    clue_no = open_clue(db, sources, channels=("hotline12345",))
    with session_scope(db.engine) as session:
        session.execute(
            m.Clue.__table__.update().where(m.Clue.clue_no == clue_no).values(handling_region_code="370811")
        )
    close_clue(db, clue_no)
    # When the write-back is delivered
    deliver_due(db.engine, cipher=CIPHER)
    # Then its event carries both regions, so that the handling county's subscribers see it too
    [acked] = events(db, "clue.writeback_acknowledged")
    assert (acked.region_code, acked.handling_region_code) == ("370812", "370811")


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        ({"status_next": 1, "status_code": 503}, "hotline12345/write_back: upstream answered HTTP 503"),
        ({"timeout_next": 1, "timeout_seconds": 1.5}, "hotline12345/write_back: timed out"),
    ],
    ids=["5xx", "timeout"],
)
def test_a_failing_write_back_shows_its_reason_and_is_retried_until_acknowledged(  # type: ignore[no-untyped-def]
    db, sources, hotline, faults, reason
) -> None:
    # Given a closed 12345 clue, and a platform that fails the next request
    add_hotline(db, hotline.url, timeout_seconds=0.5)
    clue_no = open_clue(db, sources, channels=("hotline12345",))
    close_clue(db, clue_no)
    hotline.faults.set(**faults)
    # When the write-back is delivered
    t0 = utcnow()
    [failed] = deliver_due(db.engine, cipher=CIPHER, now=t0).items
    # Then it is failing, with the upstream's reason, one attempt, and the next try 30 s later
    rec = records_of(db, clue_no)["hotline12345"]
    assert (rec.writeback_status, rec.writeback_attempts) == ("failing", 1)
    assert rec.writeback_error.startswith(reason)
    assert rec.writeback_next_at == t0 + dt.timedelta(seconds=30) == failed.next_at
    [event] = events(db, "clue.writeback_failed")
    assert (event.payload["error"], event.payload["attempts"], event.region_code) == (rec.writeback_error, 1, "370812")
    # And it is not tried again before its time
    assert deliver_due(db.engine, cipher=CIPHER, now=t0 + dt.timedelta(seconds=29)).items == []
    # When the fault has cleared and the back-off has passed, Then it is acknowledged
    [done] = deliver_due(db.engine, cipher=CIPHER, now=t0 + dt.timedelta(seconds=31)).items
    assert done.status == "acknowledged"
    rec = records_of(db, clue_no)["hotline12345"]
    assert (rec.writeback_status, rec.writeback_attempts, rec.writeback_error) == ("acknowledged", 2, None)
    assert len(hotline_read(hotline.url, sources.order, "result")) == 1


def test_back_off_doubles_to_an_hour_and_a_fatal_error_waits_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 50)] == [30, 60, 120, 1920, 3600, 3600]
    assert backoff(1, fatal=True).total_seconds() == 3600


def test_a_refused_write_back_keeps_being_retried_at_the_cap(db, sources, hotline) -> None:  # type: ignore[no-untyped-def]
    # Given the 12345 connector configured with the wrong secret (a fatal error, fixed by an operator)
    create_instance(
        db.url,
        kind="hotline12345",
        config={"base_url": hotline.url, "app_key": HOTLINE_CREDS["app_key"]},
        secrets={"app_secret": "wrong"},
    )
    clue_no = open_clue(db, sources, channels=("hotline12345",))
    close_clue(db, clue_no)
    t0 = utcnow()
    # When it is delivered, Then it fails with the platform's words and waits an hour
    [failed] = deliver_due(db.engine, cipher=CIPHER, now=t0).items
    assert failed.error.startswith(
        "hotline12345/write_back: the 12345 platform refused the app key or signature (HTTP 401)"
    )
    assert failed.next_at == t0 + dt.timedelta(hours=1)
    assert "wrong" not in failed.error


def test_without_a_connector_instance_the_write_back_fails_with_that_reason(db, sources) -> None:  # type: ignore[no-untyped-def]
    # Given a closed clue from 12345 and no 12345 connector configured
    clue_no = open_clue(db, sources, channels=("hotline12345",))
    close_clue(db, clue_no)
    # When delivering, Then the record says why it cannot go out
    [failed] = deliver_due(db.engine, cipher=CIPHER).items
    assert failed.status == "failing"
    rec = records_of(db, clue_no)["hotline12345"]
    assert (rec.writeback_status, rec.writeback_attempts, rec.writeback_error) == (
        "failing",
        1,
        "no enabled hotline12345 connector to write back to: enable or add one, then `hub writebacks retry`",
    )


def test_the_instance_that_delivered_the_record_is_used(db, sources, hotline) -> None:  # type: ignore[no-untyped-def]
    # Given two enabled 12345 connectors, one of them unreachable, and a record delivered by the other
    add_hotline(db, f"http://127.0.0.1:{free_port()}", name="旧平台")
    good = add_hotline(db, hotline.url)
    with session_scope(db.engine) as session:
        raw = m.RawRecord(
            connector_instance_id=good,
            source="hotline12345",
            stream="work_orders",
            source_key=sources.order,
            payload={"orderNum": sources.order},
            payload_hash="0" * 64,
            received_at=utcnow(),
        )
        session.add(raw)
        session.flush()
        raw_id = raw.id
    clue_no = open_clue(db, sources, channels=("hotline12345",), raw_record_ids={"hotline12345": raw_id})
    close_clue(db, clue_no)
    # When delivering, Then it goes to the connector that delivered the record
    [done] = deliver_due(db.engine, cipher=CIPHER).items
    assert (done.status, done.connector) == ("acknowledged", "12345热线")
    assert len(hotline_read(hotline.url, sources.order, "result")) == 1


def test_two_workers_never_deliver_the_same_record(db, sources, hotline, platform) -> None:  # type: ignore[no-untyped-def]
    # Given a closed clue with two channels, and slow upstreams (so the deliveries overlap)
    add_hotline(db, hotline.url)
    add_platform(db, platform.url)
    clue_no = open_clue(db, sources)
    close_clue(db, clue_no)
    hotline.faults.set(latency_ms=300)
    platform.faults.set(latency_ms=300)
    # When two workers deliver at the same time
    reports: list[Any] = []
    start = threading.Barrier(2)

    def worker() -> None:
        engine = make_engine(db.url)
        start.wait()
        reports.append(deliver_due(engine, cipher=CIPHER))
        engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    # Then each record was delivered once, by one of them
    assert sorted(d.channel for r in reports for d in r.items) == ["hotline12345", "national_platform"]
    assert len(hotline_read(hotline.url, sources.order, "result")) == 1
    assert len(platform_read(platform.url, sources.clue_id)) == 1
    assert {r.writeback_status for r in records_of(db, clue_no).values()} == {"acknowledged"}


def test_a_worker_that_dies_after_the_upstream_acknowledged_is_repeated_harmlessly(  # type: ignore[no-untyped-def]
    db, sources, hotline, monkeypatch
) -> None:
    # Given a closed 12345 clue, and a worker that dies after the POST but before storing the result
    import hub.writeback as wb

    add_hotline(db, hotline.url)
    clue_no = open_clue(db, sources, channels=("hotline12345",))
    close_clue(db, clue_no)
    t0 = utcnow()
    store = wb._store

    def die(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("worker killed")

    monkeypatch.setattr(wb, "_store", die)
    with pytest.raises(SystemExit):
        deliver_due(db.engine, cipher=CIPHER, now=t0)
    monkeypatch.setattr(wb, "_store", store)
    # Then the record stays claimed until its lease ends, and nobody else delivers it meanwhile
    assert records_of(db, clue_no)["hotline12345"].writeback_status == "delivering"
    assert deliver_due(db.engine, cipher=CIPHER, now=t0 + dt.timedelta(seconds=LEASE_SECONDS - 1)).items == []
    # When the lease has run out, Then it is delivered again and acknowledged; the platform took both POSTs
    [done] = deliver_due(db.engine, cipher=CIPHER, now=t0 + dt.timedelta(seconds=LEASE_SECONDS + 1)).items
    assert done.status == "acknowledged"
    results = hotline_read(hotline.url, sources.order, "result")
    assert [r["hubClueNo"] for r in results] == [clue_no, clue_no]


def test_a_record_queued_again_during_delivery_keeps_the_newer_outcome(db, sources, hotline, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given a closed 12345 clue whose result is being written back
    import hub.writeback as wb

    add_hotline(db, hotline.url)
    clue_no = open_clue(db, sources, channels=("hotline12345",))
    close_clue(db, clue_no)
    call = wb._call

    def call_back_meanwhile(job: Any) -> Any:
        # When the call-back is recorded while the result is on its way
        with session_scope(db.engine) as session:
            clue = workflow.get_clue(session, clue_no=clue_no)
            workflow.record_callback(session, clue=clue, principal=SYSTEM, satisfaction="满意")
        return call(job)

    monkeypatch.setattr(wb, "_call", call_back_meanwhile)
    [first] = deliver_due(db.engine, cipher=CIPHER).items
    monkeypatch.setattr(wb, "_call", call)
    # Then the first delivery is not stored as acknowledged: the call-back is still due, and goes out next
    assert first.status == "superseded"
    assert records_of(db, clue_no)["hotline12345"].writeback_status == "pending"
    [second] = deliver_due(db.engine, cipher=CIPHER).items
    assert second.status == "acknowledged"
    assert [v["satisfaction"] for v in hotline_read(hotline.url, sources.order, "visit")] == ["满意"]


def test_queue_writebacks_returns_what_it_queued_for_given_records(db, sources) -> None:  # type: ignore[no-untyped-def]
    clue_no = open_clue(db, sources, channels=("hotline12345", "walk_in"))
    with session_scope(db.engine) as session:
        clue = workflow.get_clue(session, clue_no=clue_no)
        walk_in = session.execute(select(m.ChannelRecord).where(m.ChannelRecord.channel == "walk_in")).scalar_one()
        assert queue_writebacks(session, clue, records=[walk_in]) == []
        assert walk_in.writeback_status is None


# -- actor and CLI ----------------------------------------------------------------------------------


def test_the_scheduler_sends_deliver_writebacks() -> None:
    import dramatiq

    from hub.actors import ACTORS, Scheduler, deliver_writebacks, schedule_due_syncs
    from hub.broker import setup_broker

    assert deliver_writebacks in ACTORS
    broker = setup_broker("memory://")
    scheduler = Scheduler(interval=0.05, writeback_interval=60)
    scheduler.start()
    threading.Event().wait(0.5)
    scheduler.stop()
    sent = [dramatiq.Message.decode(raw).actor_name for raw in broker.queues["hub"].queue]
    assert sent.count(deliver_writebacks.actor_name) == 1  # at the first tick, then once a minute
    assert sent.count(schedule_due_syncs.actor_name) >= 2


def test_the_deliver_writebacks_actor_delivers_what_is_due(db, sources, hotline, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dramatiq

    from hub.broker import setup_broker
    from hub.settings import get_settings

    monkeypatch.setenv("HUB_DATABASE_URL", db.url)
    monkeypatch.setenv("HUB_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    try:
        # Given a closed 12345 clue
        add_hotline(db, hotline.url)
        clue_no = open_clue(db, sources, channels=("hotline12345",))
        close_clue(db, clue_no)
        # When the actor runs on the in-process broker
        broker = setup_broker("memory://")
        worker = dramatiq.Worker(broker, worker_timeout=100)
        worker.start()
        try:
            broker.get_actor("deliver_writebacks").send()
            broker.join("hub", timeout=30_000)
        finally:
            worker.stop()
        # Then the result reached the 12345 platform
        assert records_of(db, clue_no)["hotline12345"].writeback_status == "acknowledged"
        assert len(hotline_read(hotline.url, sources.order, "result")) == 1
    finally:
        get_settings.cache_clear()


def test_cli_lists_failing_write_backs_and_retries_them(db, sources, hotline, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hub.cli import app
    from hub.settings import get_settings

    monkeypatch.setenv("HUB_DATABASE_URL", db.url)
    monkeypatch.setenv("HUB_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        # Given a write-back that failed (no connector yet)
        clue_no = open_clue(db, sources, channels=("hotline12345",))
        close_clue(db, clue_no)
        deliver_due(db.engine, cipher=CIPHER)
        record_id = records_of(db, clue_no)["hotline12345"].id
        # When listing the failing ones, Then the reason is shown
        listed = runner.invoke(app, ["writebacks", "list", "--status", "failing"])
        assert listed.exit_code == 0, listed.output
        assert f"{record_id}: no enabled hotline12345 connector to write back to" in " ".join(listed.output.split())
        # When the connector is added and the record retried now (before its back-off), Then it is acknowledged
        add_hotline(db, hotline.url)
        retried = runner.invoke(app, ["writebacks", "retry", "--id", str(record_id)])
        assert retried.exit_code == 0, retried.output
        assert f"acknowledged {clue_no} → hotline12345 {sources.order}" in " ".join(retried.output.split())
        assert records_of(db, clue_no)["hotline12345"].writeback_status == "acknowledged"
        again = runner.invoke(app, ["writebacks", "retry", "--id", str(record_id)])
        assert again.exit_code == 2
        assert "has nothing to retry: its write-back is acknowledged" in " ".join(again.output.split())
    finally:
        get_settings.cache_clear()


def test_personal_data_in_an_upstream_error_is_masked(db, sources, hotline, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given a platform whose refusal quotes the complainant's phone and ID number
    from connectors.base import FatalUpstreamError
    from connectors.hotline12345 import Hotline12345Connector

    def refuse(self: Any, config: Any, outcome: Any) -> None:
        raise FatalUpstreamError(
            "来电人13905370001(370812198003010837)的工单已归档", connector="hotline12345", stream="write_back"
        )

    monkeypatch.setattr(Hotline12345Connector, "write_back", refuse)
    add_hotline(db, hotline.url)
    clue_no = open_clue(db, sources, channels=("hotline12345",))
    close_clue(db, clue_no)
    # When delivering, Then the stored reason keeps the platform's words with the personal data masked
    deliver_due(db.engine, cipher=CIPHER)
    assert records_of(db, clue_no)["hotline12345"].writeback_error == (
        "hotline12345/write_back: 来电人139****0001(370812********0837)的工单已归档"
    )
