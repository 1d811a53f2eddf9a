"""A channel's own 督办 and 回访 (hub.channel_feedback) and the 重办 transition (hub.workflow.reopen),
through the intake as a sync feeds it, on SQLite and PostgreSQL, on an injected clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from connectors.base import CallbackIn, ClueIn
from hub import cluepool, workflow
from hub import models as m
from hub.access import Principal
from hub.cluepool import ClueIntake
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.errors import IllegalTransition
from hub.records import Item
from hub.seed import load_regions
from hub.settings import get_settings
from hub.workdays import CST, add_working_days

COUNTY = Principal(name="任城区劳动监察大队", role="inspector", region_code="370811")
CIPHER = Cipher("test-secret-key-for-channel-feedback")
ORDER = "2026110200000123"
#: The hub's clock: the clue closes on Friday 2026-11-13; 12345 calls back on Monday the 16th.
RECEIVED = dt.datetime(2026, 11, 2, 10, tzinfo=CST)
CLOSED = dt.datetime(2026, 11, 13, 16, tzinfo=CST)
VISITED = dt.datetime(2026, 11, 16, 9, 30, tzinfo=CST)
SYNCED = dt.datetime(2026, 11, 16, 11, tzinfo=CST)
#: A 12345 complaint's answer is due in "about 13" working days, the city's figure (HUB_CLOSE_WITHIN_WORKING_DAYS).
COMPLAINT_DAYS = get_settings().close_within_working_days


class HubClock:
    """The hub's clock (``utcnow`` wherever the workflow and the pool read it), moved by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now.astimezone(dt.UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> HubClock:
    clock = HubClock(RECEIVED)
    for module in (m, workflow, cluepool):
        monkeypatch.setattr(module, "utcnow", clock)
    return clock


@pytest.fixture
def engine(empty_db_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_db_url)
    load_regions(engine)
    yield engine
    engine.dispose()


def order(
    *,
    callback: CallbackIn | None = None,
    supervised: bool = False,
    channel: str = "hotline12345",
    source_id: str = ORDER,
) -> ClueIn:
    """A 12345 wage order as the connector normalises it."""
    return ClueIn(
        channel=channel,
        source_id=source_id,
        received_at=RECEIVED,
        title="张建国反映鸿达劳务拖欠工资",
        content="来电人反映其在锦绣华府二期住宅项目务工，被济宁市任城区鸿达建筑劳务有限公司拖欠10月工资共计4.2万元。",
        region_code="370811",
        respondent_name="济宁市任城区鸿达建筑劳务有限公司",
        complainant_name="张建国",
        complainant_phone="13953712345",
        project_name="锦绣华府二期住宅项目",
        request_type="complaint",
        deadline_date=dt.date(2026, 11, 23),
        supervised=supervised,
        callback=callback,
    )


def sync(engine: Engine, *records: ClueIn) -> tuple[int, int, int]:
    """One page through the intake as the sync feeds it: (created, updated, unchanged)."""
    with session_scope(engine) as s:
        result = ClueIntake(s, cipher=CIPHER).ingest([Item(r, None) for r in records])
        assert result.problems == []
        return result.created, result.updated, result.unchanged


def clue_of(s: Any, source_id: str = ORDER) -> m.Clue:
    return s.execute(
        select(m.Clue)
        .join(m.ChannelRecord, m.ChannelRecord.clue_id == m.Clue.id)
        .where(m.ChannelRecord.source_id == source_id)
    ).scalar_one()


def act(engine: Engine, fn: Callable[[Any, m.Clue], Any]) -> None:
    with session_scope(engine) as s:
        fn(s, workflow.get_clue(s, clue_id=clue_of(s).id))


def closed_clue(engine: Engine, clock: HubClock) -> None:
    """Given: the order came in, the county took it on and closed it at ``CLOSED``."""
    sync(engine, order())
    act(engine, lambda s, c: workflow.accept(s, clue=c, principal=COUNTY))
    clock.now = CLOSED
    act(
        engine,
        lambda s, c: workflow.close(
            s, clue=c, principal=COUNTY, conclusion="已足额支付4.2万元", recovered_amount=Decimal(42000), workers_paid=1
        ),
    )
    with session_scope(engine) as s:  # the result reached 12345 (the write-back was delivered)
        for record in s.scalars(select(m.ChannelRecord)):
            record.writeback_status = "acknowledged"


def steps(s: Any) -> list[tuple[str, str | None, str | None, str]]:
    rows = s.execute(
        select(m.CaseAction.action, m.CaseAction.from_status, m.CaseAction.to_status, m.CaseAction.actor).order_by(
            m.CaseAction.id
        )
    ).all()
    return [tuple(r) for r in rows]


def event_types(s: Any) -> list[str]:
    return list(s.scalars(select(m.Event.type).order_by(m.Event.id)))


LIFECYCLE = [
    ("receive", None, "received", "system:hotline12345"),
    ("accept", "received", "in_progress", COUNTY.name),
    ("close", "in_progress", "closed", COUNTY.name),
]


@pytest.mark.parametrize("satisfaction", ["满意", "基本满意"], ids=["satisfied", "basically-satisfied"])
def test_a_satisfied_call_back_from_12345_is_recorded_once_and_not_echoed(
    engine: Engine, clock: HubClock, satisfaction: str
) -> None:
    # Given a closed clue whose 12345 order and a national-platform clue both feed it
    closed_clue(engine, clock)
    # When 12345's call-back arrives with the order, and the same order again on the next syncs
    clock.now = SYNCED
    callback = CallbackIn(at=VISITED, satisfaction=satisfaction, solved=True)
    first = sync(engine, order(callback=callback))
    clock.now = SYNCED + dt.timedelta(hours=1)
    again = [sync(engine, order(callback=callback)) for _ in range(2)]
    # Then the call-back is recorded once, by the system acting for 12345, and the clue stays closed
    assert (first, again) == ((0, 1, 0), [(0, 0, 1), (0, 0, 1)])
    with session_scope(engine) as s:
        clue = clue_of(s)
        assert (clue.status, clue.satisfaction, clue.deadline) == ("called_back", satisfaction, dt.date(2026, 11, 23))
        assert steps(s) == [*LIFECYCLE, ("record_callback", "closed", "called_back", "system:hotline12345")]
        note = s.scalar(select(m.CaseAction.note).where(m.CaseAction.action == "record_callback"))
        assert note == f"12345热线回访（{ORDER}，2026-11-16 09:30:00）：{satisfaction}"
        assert event_types(s)[-1] == "clue.record_callback"
        # And the call-back is not written back to the order it came from (no echo)
        assert s.scalar(select(m.ChannelRecord.writeback_status)) == "acknowledged"


@pytest.mark.parametrize(
    ("callback", "why"),
    [
        (CallbackIn(at=VISITED, satisfaction="不满意", solved=False), "不满意，问题未解决"),
        (CallbackIn(at=VISITED, satisfaction="不满意"), "不满意"),
        (CallbackIn(at=VISITED, satisfaction="满意", solved=False), "满意，问题未解决"),
    ],
    ids=["dissatisfied-unsolved", "dissatisfied", "satisfied-but-unsolved"],
)
def test_a_dissatisfied_call_back_reopens_the_clue_with_a_new_deadline(
    engine: Engine, clock: HubClock, callback: CallbackIn, why: str
) -> None:
    # Given a closed clue
    closed_clue(engine, clock)
    # When 12345's call-back says the complainant is not satisfied (or the matter is not solved)
    clock.now = SYNCED
    assert sync(engine, order(callback=callback)) == (0, 1, 0)
    # Then the call-back is recorded and the clue reopened (重办) — back in progress, no longer closed
    with session_scope(engine) as s:
        clue = clue_of(s)
        assert steps(s) == [
            *LIFECYCLE,
            ("record_callback", "closed", "called_back", "system:hotline12345"),
            ("reopen", "called_back", "in_progress", "system:hotline12345"),
        ]
        # with a new deadline: a complaint's answer days counted from the reopening (Mon 2026-11-16), not from
        # receipt nor by the order's own date (2026-11-23)
        assert clue.deadline == add_working_days(dt.date(2026, 11, 16), COMPLAINT_DAYS)
        assert (clue.status, clue.closed_at, clue.colour) == ("in_progress", None, None)
        reason = s.scalar(select(m.CaseAction.note).where(m.CaseAction.action == "reopen"))
        assert reason == f"重办：12345热线回访（{ORDER}，2026-11-16 09:30:00）：{why}"
        # and an event saying so, with the deadlines before and after
        event = s.execute(select(m.Event).order_by(m.Event.id.desc()).limit(1)).scalar_one()
        assert event.type == "clue.reopen"
        assert {k: event.payload[k] for k in ("fromStatus", "toStatus", "fromDeadline", "toDeadline")} == {
            "fromStatus": "called_back",
            "toStatus": "in_progress",
            "fromDeadline": "2026-11-23",
            "toDeadline": str(add_working_days(dt.date(2026, 11, 16), COMPLAINT_DAYS)),
        }
    # When the same order comes again (a re-sync, a full refresh)
    assert sync(engine, order(callback=callback)) == (0, 0, 1)
    # Then nothing more happens
    with session_scope(engine) as s:
        assert [a for a, *_ in steps(s)].count("reopen") == 1


def test_after_reopening_and_closing_again_only_a_new_call_back_counts(engine: Engine, clock: HubClock) -> None:
    # Given a clue reopened on 12345's 不满意 and closed again
    closed_clue(engine, clock)
    clock.now = SYNCED
    old = CallbackIn(at=VISITED, satisfaction="不满意", solved=False)
    sync(engine, order(callback=old))
    clock.now = dt.datetime(2026, 11, 20, 15, tzinfo=CST)
    act(engine, lambda s, c: workflow.close(s, clue=c, principal=COUNTY, conclusion="已补发剩余工资"))
    # When the order still shows the old call-back, Then it changes nothing (it is about the first handling)
    assert sync(engine, order(callback=old)) == (0, 0, 1)
    # When 12345 calls back again after the second closing, satisfied this time
    new = CallbackIn(at=dt.datetime(2026, 11, 23, 10, tzinfo=CST), satisfaction="满意", solved=True)
    clock.now = dt.datetime(2026, 11, 23, 11, tzinfo=CST)
    assert sync(engine, order(callback=new)) == (0, 1, 0)
    # Then it is recorded and the clue stays closed: the loop ends
    with session_scope(engine) as s:
        assert [a for a, *_ in steps(s)][3:] == ["record_callback", "reopen", "close", "record_callback"]
        assert (clue_of(s).status, clue_of(s).satisfaction) == ("called_back", "满意")


@pytest.mark.parametrize(
    ("close", "visited"),
    [(False, VISITED), (True, CLOSED - dt.timedelta(days=1))],
    ids=["clue-still-open", "visit-before-the-hub-closed"],
)
def test_a_call_back_about_no_closing_of_the_hub_is_ignored(
    engine: Engine, clock: HubClock, close: bool, visited: dt.datetime
) -> None:
    # Given a clue in progress, or closed after the visit
    if close:
        closed_clue(engine, clock)
    else:
        sync(engine, order())
        act(engine, lambda s, c: workflow.accept(s, clue=c, principal=COUNTY))
    # When the order arrives with a 不满意 call-back
    clock.now = SYNCED
    assert sync(engine, order(callback=CallbackIn(at=visited, satisfaction="不满意", solved=False))) == (0, 0, 1)
    # Then the clue is not touched
    with session_scope(engine) as s:
        assert "reopen" not in [a for a, *_ in steps(s)]
        assert clue_of(s).status == ("closed" if close else "in_progress")


def test_a_call_back_the_hub_recorded_itself_later_is_not_taken_again(engine: Engine, clock: HubClock) -> None:
    # Given a closed clue an operator called back after 12345 did (the hub's own 回访 stands)
    closed_clue(engine, clock)
    clock.now = SYNCED
    act(engine, lambda s, c: workflow.record_callback(s, clue=c, principal=COUNTY, satisfaction="满意"))
    # When 12345's earlier 不满意 arrives, Then it is not news
    assert sync(engine, order(callback=CallbackIn(at=VISITED, satisfaction="不满意"))) == (0, 0, 1)
    with session_scope(engine) as s:
        assert clue_of(s).status == "called_back"


def test_a_later_dissatisfied_call_back_reopens_a_clue_the_hub_called_back(engine: Engine, clock: HubClock) -> None:
    # Given a closed clue an operator called back (满意) on Monday morning
    closed_clue(engine, clock)
    clock.now = VISITED - dt.timedelta(hours=1)
    act(engine, lambda s, c: workflow.record_callback(s, clue=c, principal=COUNTY, satisfaction="满意"))
    # When 12345's own call-back later that morning says 不满意
    clock.now = SYNCED
    assert sync(engine, order(callback=CallbackIn(at=VISITED, satisfaction="不满意"))) == (0, 1, 0)
    # Then the clue is reopened from called_back (the operator's call-back is not recorded twice)
    with session_scope(engine) as s:
        assert [(a, f, t) for a, f, t, _ in steps(s)][3:] == [
            ("record_callback", "closed", "called_back"),
            ("reopen", "called_back", "in_progress"),
        ]


def test_12345_supervision_supervises_the_clue_once(engine: Engine, clock: HubClock) -> None:
    # Given a new order under 督办 (isSupervise), When it arrives and arrives again
    assert sync(engine, order(supervised=True)) == (1, 0, 0)
    assert sync(engine, order(supervised=True)) == (0, 0, 1)
    # Then the clue is supervised once, by the system acting for 12345
    with session_scope(engine) as s:
        assert clue_of(s).supervision == "supervised"
        assert steps(s) == [
            ("receive", None, "received", "system:hotline12345"),
            ("supervise", "received", "received", "system:hotline12345"),
        ]
        assert event_types(s) == ["clue.created", "clue.supervise"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ([], r"cannot reopen \(重办\) clue \S+: it is received \(已受理\); reopen is allowed from called_back, closed"),
        (
            ["accept"],
            r"cannot reopen \(重办\) clue \S+: it is in_progress \(办理中\); reopen is allowed from called_back, closed",
        ),
    ],
    ids=["received", "in-progress"],
)
def test_only_a_closed_clue_can_be_reopened(engine: Engine, clock: HubClock, setup: list[str], message: str) -> None:
    # Given an open clue
    sync(engine, order())
    for step in setup:
        act(engine, lambda s, c, step=step: getattr(workflow, step)(s, clue=c, principal=COUNTY))
    # When an operator tries to reopen it, Then the workflow refuses, naming the states that allow it
    with pytest.raises(IllegalTransition, match=message):
        act(engine, lambda s, c: workflow.reopen(s, clue=c, principal=COUNTY, reason="不满意"))


@pytest.mark.parametrize(
    ("request_type", "days"),
    [("consultation", 2), ("help", 5), ("complaint", None)],
    ids=["consultation", "help", "complaint"],
)
def test_an_operator_can_reopen_a_closed_clue_and_its_answer_is_due_again_from_today(
    engine: Engine, clock: HubClock, request_type: str, days: int | None
) -> None:
    days = days or COMPLAINT_DAYS
    # Given a closed 12345 clue of the request type (its own deadline date set for the first handling)
    sync(engine, dataclasses.replace(order(), request_type=request_type))
    act(engine, lambda s, c: workflow.accept(s, clue=c, principal=COUNTY))
    clock.now = CLOSED
    act(engine, lambda s, c: workflow.close(s, clue=c, principal=COUNTY, conclusion="已支付"))
    # When an operator reopens it on Friday 2026-11-20
    clock.now = dt.datetime(2026, 11, 20, 9, tzinfo=CST)
    act(engine, lambda s, c: workflow.reopen(s, clue=c, principal=COUNTY, reason="上级督查发现未足额支付"))
    # Then it is in progress again, its answer due the type's working days from today (not the order's date)
    with session_scope(engine) as s:
        clue = clue_of(s)
        assert (clue.status, clue.deadline) == ("in_progress", add_working_days(dt.date(2026, 11, 20), days))
        assert steps(s)[-1] == ("reopen", "closed", "in_progress", COUNTY.name)
    # And a 延期 afterwards extends the reopened period, not the first one
    act(engine, lambda s, c: workflow.extend(s, clue=c, principal=COUNTY, working_days=3, reason="需调取银行流水"))
    with session_scope(engine) as s:
        assert clue_of(s).deadline == add_working_days(dt.date(2026, 11, 20), days + 3)


def test_the_channels_feedback_reaches_a_clue_the_order_joined(engine: Engine, clock: HubClock) -> None:
    # Given a closed clue that came in through the national platform, which a 12345 order then joined
    national = dataclasses.replace(order(), channel="national_platform", source_id="GZQX2026110200001")
    sync(engine, national)
    with session_scope(engine) as s:
        clue = workflow.get_clue(s, clue_id=clue_of(s, "GZQX2026110200001").id)
        workflow.accept(s, clue=clue, principal=COUNTY)
    clock.now = CLOSED
    with session_scope(engine) as s:
        clue = workflow.get_clue(s, clue_id=clue_of(s, "GZQX2026110200001").id)
        workflow.close(s, clue=clue, principal=COUNTY, conclusion="已足额支付")
    sync(engine, order())
    with session_scope(engine) as s:  # both channels have the result
        for record in s.scalars(select(m.ChannelRecord)):
            record.writeback_status = "acknowledged"
    # When 12345 calls back, 不满意
    clock.now = SYNCED
    sync(engine, order(callback=CallbackIn(at=VISITED, satisfaction="不满意")))
    # Then the one clue is reopened, and the national platform (not 12345) is told of the call-back
    with session_scope(engine) as s:
        clue = clue_of(s, "GZQX2026110200001")
        assert clue.status == "in_progress"
        pending = dict(s.execute(select(m.ChannelRecord.channel, m.ChannelRecord.writeback_status)).all())
        assert pending == {"national_platform": "pending", "hotline12345": "acknowledged"}


def test_a_call_back_is_taken_once_even_when_the_hubs_clock_runs_behind_12345s(engine: Engine, clock: HubClock) -> None:
    # Given a closed clue, and a hub whose clock runs two hours behind the platform's
    closed_clue(engine, clock)
    callback = CallbackIn(at=VISITED, satisfaction="不满意")
    clock.now = VISITED - dt.timedelta(hours=2)
    sync(engine, order(callback=callback))  # reopened, by the hub's clock before the visit
    clock.now = VISITED - dt.timedelta(hours=1)
    act(engine, lambda s, c: workflow.close(s, clue=c, principal=COUNTY, conclusion="已补发"))
    # When the order comes again with the same call-back, Then the visit is known by its mark: no second 重办
    assert sync(engine, order(callback=callback)) == (0, 0, 1)
    with session_scope(engine) as s:
        assert [a for a, *_ in steps(s)][3:] == ["record_callback", "reopen", "close"]
