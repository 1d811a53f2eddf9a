"""Deadlines by channel, request type and stage (hub.deadlines), provisional across the calendar's end
and recounted when the year is loaded, and the automatic 催办 (hub.workflow.urge_overdue)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select

from connectors.base import ClueIn
from hub import deadlines, holidays, workflow
from hub import models as m
from hub.access import SYSTEM, Principal
from hub.cluepool import ClueIntake
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.seed import load_regions
from hub.workdays import CST

D = dt.date
COUNTY = Principal(name="任城区劳动监察大队", role="inspector", region_code="370811")
CIPHER = Cipher("test-secret-key-for-deadline-tests")


@dataclass(frozen=True, slots=True)
class HotlineOrder(ClueIn):
    """A 12345 work order carrying what the hotline says of itself (reflectName, deadlineDate)."""

    request_type: str | None = None
    deadline_date: str | None = None


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=CST)


def order(source_id: str, *, received: str, channel: str = "hotline12345", **kw: object) -> HotlineOrder:
    fields: dict = {
        "title": "张建国反映鸿达劳务拖欠工资",
        "content": "在锦绣华府二期干钢筋工，工资未付。",
        "region_code": "370811",
        "respondent_name": "济宁市任城区鸿达建筑劳务有限公司",
        "complainant_name": "张建国",
        "complainant_phone": f"1395371{int(source_id[-4:]):04d}",
        "headcount": 3,
        "amount": Decimal(42000),
    }
    fields.update(kw)
    return HotlineOrder(channel=channel, source_id=source_id, received_at=at(received), **fields)  # type: ignore[arg-type]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The hub's clock, set by the test (``clock.now``)."""

    class Clock:
        now = at("2026-11-03")

    monkeypatch.setattr(m, "utcnow", lambda: Clock.now)
    return Clock


@pytest.fixture
def engine(empty_db_url, package_until_2026, clock):  # type: ignore[no-untyped-def]
    engine = make_engine(empty_db_url)
    load_regions(engine)
    yield engine
    engine.dispose()


def intake(engine, *records: ClueIn) -> list[int]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        pool = ClueIntake(s, cipher=CIPHER)
        return [pool.intake(r).clue_id for r in records]


def clue(
    channel: str,
    request_type: str | None,
    *,
    received: str,
    accepted: str | None = None,
    upstream: D | None = None,
    extended: int = 0,
) -> m.Clue:
    """A clue row as the pool makes it (not stored: the stages are computed from its columns)."""
    return m.Clue(
        channel=channel,
        request_type=request_type,
        received_at=at(received),
        upstream_deadline=upstream,
        accepted_at=at(accepted) if accepted else None,
        extended_days=extended,
        status="in_progress" if accepted else "received",
    )


# Received Monday 2026-11-02; the calendar of November 2026 has no holiday.
STAGES = [
    pytest.param(
        "hotline12345",
        "consultation",
        None,
        None,
        [("sign", D(2026, 11, 3)), ("answer", D(2026, 11, 4))],
        id="12345-consultation-answered-in-2",
    ),
    pytest.param(
        "hotline12345",
        "help",
        None,
        None,
        [("sign", D(2026, 11, 3)), ("answer", D(2026, 11, 9))],
        id="12345-help-answered-in-5",
    ),
    pytest.param(
        "hotline12345",
        "complaint",
        None,
        None,
        [("sign", D(2026, 11, 3)), ("answer", D(2026, 11, 19))],
        id="12345-complaint-closed-in-13",
    ),
    pytest.param(
        "hotline12345",
        None,
        None,
        None,
        [("sign", D(2026, 11, 3)), ("answer", D(2026, 11, 19))],
        id="12345-unknown-type-is-a-complaint",
    ),
    pytest.param(
        "hotline12345",
        "help",
        None,
        D(2026, 11, 20),
        [("sign", D(2026, 11, 3)), ("answer", D(2026, 11, 20))],
        id="12345-the-orders-own-deadline-wins",
    ),
    pytest.param(
        "national_platform",
        None,
        None,
        None,
        [("accept", D(2026, 11, 9)), ("investigate", None)],
        id="inspection-accepted-in-5-investigation-not-started",
    ),
    pytest.param(
        "walk_in",
        "consultation",
        "2026-11-05",
        None,
        [("accept", D(2026, 11, 9)), ("investigate", D(2027, 1, 29))],
        id="inspection-investigated-in-60-from-acceptance",
    ),
]


@pytest.mark.parametrize(("channel", "request_type", "accepted", "upstream", "expected"), STAGES)
def test_each_stage_has_its_deadline_by_channel_and_request_type(
    package_until_2026,
    channel: str,
    request_type: str | None,
    accepted: str | None,
    upstream: D | None,
    expected: list[tuple[str, D | None]],
) -> None:
    # Given a clue received on Monday 2026-11-02 through the channel, asking the request type
    row = clue(channel, request_type, received="2026-11-02", accepted=accepted, upstream=upstream)
    # Then each stage is due as the table says
    assert [(s.stage, s.due) for s in deadlines.stages(row, today=D(2026, 11, 2))] == expected


def test_sixty_working_days_across_new_year_2027_are_provisional(package_until_2026) -> None:  # type: ignore[no-untyped-def]
    # Given a labour-inspection clue accepted on 2026-11-05 (立案): its 60 working days run into 2027
    row = clue("walk_in", None, received="2026-11-02", accepted="2026-11-05")
    accept, investigate = deadlines.stages(row, today=D(2026, 11, 6))
    # Then 受理 was met, on an official calendar; 调查 is due 2027-01-29 (元旦 2027-01-01 off by statute), provisionally
    assert (accept.outcome, accept.provisional, accept.done_on, accept.current) == ("met", False, D(2026, 11, 5), False)
    assert (investigate.due, investigate.provisional, investigate.current) == (D(2027, 1, 29), True, True)
    # And the +30 of a complex case (延期) moves it on by 30 working days, over 除夕 (Fri 02-05) and 初三 (Mon 02-08)
    assert deadlines.stages(
        clue("walk_in", None, received="2026-11-02", accepted="2026-11-05", extended=30), today=D(2026, 11, 6)
    )[1].due == D(2027, 3, 16)


def test_a_stage_done_late_is_missed_and_one_overdue_is_missed_before_it_is_done(package_until_2026) -> None:  # type: ignore[no-untyped-def]
    # Given a 12345 order received 2026-11-02 and signed only on 11-05 (due 11-03)
    row = clue("hotline12345", "consultation", received="2026-11-02", accepted="2026-11-05")
    sign, answer = deadlines.stages(row, today=D(2026, 11, 5))
    # Then the 签收 was missed, and the answer (due 11-04) is missed already though not yet done
    assert (sign.outcome, sign.done_on, answer.outcome, answer.current) == ("missed", D(2026, 11, 5), "missed", True)
    # And on the day it is due the answer is still pending
    assert deadlines.stages(row, today=D(2026, 11, 4))[1].outcome == "pending"


def test_the_pool_keeps_the_current_stage_as_the_deadline_and_the_orders_own_date(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a 12345 help request received Monday 2026-11-02 whose order says it is due 2026-11-20
    [clue_id] = intake(
        engine, order("2026110200001", received="2026-11-02", request_type="求助", deadline_date="2026-11-20")
    )
    with session_scope(engine) as s:
        row = s.get(m.Clue, clue_id)
        # Then the clue's deadline is its 签收's, and the answer stage takes the order's date
        assert (row.channel, row.request_type, row.deadline, row.deadline_provisional) == (
            "hotline12345",
            "help",
            D(2026, 11, 3),
            False,
        )
        assert row.upstream_deadline == D(2026, 11, 20)
    # When it is accepted on 11-03, the deadline moves on to the answer stage
    with session_scope(engine) as s:
        workflow.accept(s, clue=workflow.get_clue(s, clue_id=clue_id), principal=COUNTY)
    with session_scope(engine) as s:
        row = s.get(m.Clue, clue_id)
        assert row.deadline == D(2026, 11, 20)
        assert [(x.stage, x.outcome, x.current) for x in deadlines.stages(row, today=D(2026, 11, 3))] == [
            ("sign", "met", False),
            ("answer", "pending", True),
        ]


#: A schedule for 2027 as an admin would load it (a test schedule: the real one is published in late 2026).
SCHEDULE_2027 = """{
  "year": 2027, "source": "测试用 2027 年节假日安排",
  "holidays": [{"from": "2027-01-01", "to": "2027-01-03", "name": "元旦"},
               {"from": "2027-02-05", "to": "2027-02-11", "name": "春节"}, "2027-04-05",
               {"from": "2027-05-01", "to": "2027-05-05", "name": "劳动节"}, "2027-06-09", "2027-09-15",
               {"from": "2027-10-01", "to": "2027-10-07", "name": "国庆节"}],
  "workdays": [{"date": "2027-02-13", "name": "春节调休"}]
}"""


def test_a_deadline_across_the_calendars_end_is_provisional_and_recounted_when_the_year_is_loaded(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a 12345 order received Thursday 2027-02-04, the eve of 春节 2027, with no 2027 schedule yet,
    # and one received in 2026, on the official calendar
    late, early = intake(
        engine, order("2027020400001", received="2027-02-04"), order("2026110200002", received="2026-11-02")
    )
    with session_scope(engine) as s:
        # Then its 签收 counts 除夕 to 初三 (02-05 … 02-08) off by statute: due Tuesday 02-09, provisionally
        assert (s.get(m.Clue, late).deadline, s.get(m.Clue, late).deadline_provisional) == (D(2027, 2, 9), True)
        assert s.get(m.Clue, early).deadline_provisional is False
        first_event = s.execute(select(m.Event.id).order_by(m.Event.id.desc()).limit(1)).scalar_one()
    # When an admin loads the 2027 schedule (02-05 … 02-11 off) and the provisional deadlines are recounted
    with session_scope(engine) as s:
        result = holidays.load_schedule(s, schedule=holidays.parse_schedule(SCHEDULE_2027), principal=SYSTEM)
    assert (result.year, result.holidays, result.workdays, result.replaced) == (2027, 25, 1, False)
    with session_scope(engine) as s:
        assert holidays.sync_calendar(s) is True
        assert deadlines.recompute_provisional(s) == 1
    # Then the deadline is the first working day after the official break, no longer provisional,
    # with one event saying so; the 2026 clue is untouched
    with session_scope(engine) as s:
        row = s.get(m.Clue, late)
        assert (row.deadline, row.deadline_provisional) == (D(2027, 2, 12), False)
        events = s.execute(
            select(m.Event.entity_id, m.Event.type, m.Event.payload).where(m.Event.id > first_event)
        ).all()
        assert events == [
            (
                late,
                "clue.deadline_changed",
                {
                    "clueNo": row.clue_no,
                    "from": "2027-02-09",
                    "to": "2027-02-12",
                    "deadlineProvisional": False,
                    "reason": "calendar_loaded",
                },
            )
        ]
    # And a second recount finds nothing to do
    with session_scope(engine) as s:
        assert deadlines.recompute_provisional(s) == 0
        assert holidays.sync_calendar(s) is False  # the table did not change: nothing reinstalled


def test_the_system_urges_once_the_day_after_a_missed_deadline(engine, clock) -> None:  # type: ignore[no-untyped-def]
    # Given a 12345 order received Monday 2026-11-02, due to be signed on 11-03, and one signed in time
    late, signed = intake(
        engine,
        order("2026110200003", received="2026-11-02"),
        order("2026110200004", received="2026-11-02", complainant_name="李四"),
    )
    with session_scope(engine) as s:
        workflow.accept(s, clue=workflow.get_clue(s, clue_id=signed), principal=COUNTY)
    # When the sweep runs on the day it is due, nothing is urged
    with session_scope(engine) as s:
        assert workflow.urge_overdue(s, today=D(2026, 11, 3)) == 0
    # When it runs the day after, twice
    with session_scope(engine) as s:
        assert workflow.urge_overdue(s, today=D(2026, 11, 4)) == 1
    with session_scope(engine) as s:
        assert workflow.urge_overdue(s, today=D(2026, 11, 4)) == 0
        assert workflow.urge_overdue(s, today=D(2026, 11, 5)) == 0  # and the day after that
    # Then the late clue was urged exactly once, by the system, and is red (overdue after 催办)
    with session_scope(engine) as s:
        steps = s.execute(
            select(m.CaseAction.clue_id, m.CaseAction.actor, m.CaseAction.note).where(m.CaseAction.action == "urge")
        ).all()
        assert steps == [(late, "system", "超期自动催办：期限 2026-11-03 已过")]
        row = s.get(m.Clue, late)
        assert (row.urged_count, row.urged_deadline, row.colour, row.status) == (1, D(2026, 11, 3), "red", "received")
        event = s.execute(select(m.Event.payload).where(m.Event.type == "clue.urge")).scalar_one()
        assert (event["actor"], event["deadline"], event["urgedCount"], event["automatic"]) == (
            "system",
            "2026-11-03",
            1,
            True,
        )
    # When the clue is accepted (on 11-05), its deadline moves to the answer (2026-11-19): urged again only after that
    clock.now = at("2026-11-05")
    with session_scope(engine) as s:
        workflow.accept(s, clue=workflow.get_clue(s, clue_id=late), principal=COUNTY)
    with session_scope(engine) as s:
        assert workflow.urge_overdue(s, today=D(2026, 11, 19)) == 0
    with session_scope(engine) as s:  # both clues' answers were due 11-19
        assert workflow.urge_overdue(s, today=D(2026, 11, 20)) == 2
        assert (s.get(m.Clue, late).urged_count, s.get(m.Clue, signed).urged_count) == (2, 1)


def test_a_person_who_urged_after_the_deadline_spares_the_automatic_urge(engine, clock) -> None:  # type: ignore[no-untyped-def]
    # Given a 12345 order due to be signed on 11-03, supervised, then urged by the city on 11-04 (overdue)
    [clue_id] = intake(engine, order("2026110200005", received="2026-11-02"))
    clock.now = at("2026-11-04")
    city = Principal(name="济宁市劳动保障监察支队", role="inspector", region_code="370800")
    for _ in range(2):  # 督办, then 催办
        with session_scope(engine) as s:
            workflow.supervise(s, clue=workflow.get_clue(s, clue_id=clue_id), principal=city)
    # When the sweep runs that day
    with session_scope(engine) as s:
        assert workflow.urge_overdue(s, today=D(2026, 11, 4)) == 0
        # Then the one 催办 is the city's
        assert s.execute(select(m.CaseAction.actor).where(m.CaseAction.action == "urge")).scalars().all() == [city.name]
