"""The clue lifecycle (hub.workflow, hub.clue_merge) through the intake, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from connectors.base import ClueIn
from hub import clue_merge, deadlines, workflow
from hub import models as m
from hub.access import Principal
from hub.cluepool import ClueIntake
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.errors import Forbidden, IllegalTransition, InvalidInput
from hub.seed import load_regions
from hub.workdays import CST

CITY = Principal(name="济宁市劳动保障监察支队", role="inspector", region_code="370800")
COUNTY = Principal(name="任城区劳动监察大队", role="inspector", region_code="370811")
OTHER_COUNTY = Principal(name="嘉祥县劳动监察大队", role="inspector", region_code="370829")
VIEWER = Principal(name="viewer", role="viewer", region_code="370800")
CIPHER = Cipher("test-secret-key-for-workflow-tests")


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=CST)


def complaint(source_id: str, *, channel: str = "hotline12345", received: str = "2026-11-02", **kw: object) -> ClueIn:
    fields: dict = {
        "title": "张建国反映鸿达劳务拖欠工资",
        "content": "在锦绣华府二期干钢筋工，2026年8月至10月工资未付。",
        "region_code": "370811",
        "respondent_name": "济宁市任城区鸿达建筑劳务有限公司",
        "complainant_name": "张建国",
        "complainant_phone": "13953712345",
        "project_name": "锦绣华府二期住宅项目",
        "headcount": 3,
        "amount": Decimal(42000),
    }
    fields.update(kw)
    return ClueIn(channel=channel, source_id=source_id, received_at=at(received), **fields)  # type: ignore[arg-type]


@pytest.fixture
def engine(empty_db_url):  # type: ignore[no-untyped-def]
    engine = make_engine(empty_db_url)
    load_regions(engine)
    yield engine
    engine.dispose()


def intake(engine, *records: ClueIn) -> list[int]:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        pool = ClueIntake(s, cipher=CIPHER)
        return [pool.intake(r).clue_id for r in records]


def act(engine, clue_id: int, fn):  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        clue = workflow.get_clue(s, clue_id=clue_id)
        fn(s, clue)
        return clue.status


def test_the_same_complaint_through_12345_and_the_national_platform_is_one_clue(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a 12345 call, then the same worker's complaint on the national platform a week later —
    # phone written differently, company by its full name with a branch suffix
    ids = intake(
        engine,
        complaint("2026110200123"),
        complaint(
            "GZQX2026110900007",
            channel="national_platform",
            received="2026-11-09",
            complainant_phone="139-5371-2345",
            respondent_name="济宁市任城区鸿达建筑劳务有限公司（任城分公司）",
        ),
    )
    # Then both land on one clue, with two channel records saying why
    assert ids[0] == ids[1]
    with session_scope(engine) as s:
        records = s.execute(select(m.ChannelRecord).order_by(m.ChannelRecord.id)).scalars().all()
        assert [(r.channel, r.match_rule) for r in records] == [("hotline12345", "new"), ("national_platform", "phone")]
        assert records[1].match_score is not None and records[1].match_score >= 0.9
        types = s.execute(select(m.Event.type).order_by(m.Event.id)).scalars().all()
        assert types == ["clue.created", "clue.channel_added"]


def test_a_deadline_across_national_day_lands_on_the_right_working_day(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a 12345 complaint received on Wednesday 2026-09-30, the eve of 国庆 (Oct 1–7 off, Saturday Oct 10 a 调休 workday)
    [clue_id] = intake(engine, complaint("2026093000001", received="2026-09-30"))
    with session_scope(engine) as s:
        clue = s.get(m.Clue, clue_id)
        # Then its current deadline is the 签收 within 1 working day: the first working day after the holiday
        assert clue.deadline == dt.date(2026, 10, 8)  # Mon–Fri alone would give 2026-10-01
        # and the complaint's 13 working days to 办结 count Oct 8, 9, 10 (Sat, worked), 12–16, 19–23
        assert [(d.stage, d.due) for d in deadlines.stages(clue, today=dt.date(2026, 9, 30))] == [
            ("sign", dt.date(2026, 10, 8)),
            ("answer", dt.date(2026, 10, 23)),
        ]  # Mon–Fri alone: 2026-10-19
    # When it is extended by 3 working days (延期 extends the last stage), then accepted
    act(
        engine,
        clue_id,
        lambda s, c: workflow.extend(s, clue=c, principal=CITY, working_days=3, reason="需调取银行流水"),
    )
    with session_scope(engine) as s:
        clue = s.get(m.Clue, clue_id)
        assert (clue.deadline, clue.extended_days) == (dt.date(2026, 10, 8), 3)
        assert deadlines.stages(clue, today=dt.date(2026, 9, 30))[1].due == dt.date(2026, 10, 28)
        step = s.execute(select(m.CaseAction).where(m.CaseAction.action == "extend")).scalar_one()
        assert (step.actor, step.note) == (CITY.name, "需调取银行流水")
    act(engine, clue_id, lambda s, c: workflow.accept(s, clue=c, principal=CITY))
    with session_scope(engine) as s:
        # Then the current deadline is the extended 办结 date
        assert s.get(m.Clue, clue_id).deadline == dt.date(2026, 10, 28)


def test_the_lifecycle_writes_an_action_and_an_event_per_step_in_order(engine) -> None:  # type: ignore[no-untyped-def]
    [clue_id] = intake(engine, complaint("2026110200123"))
    # received → dispatched (city to county) → in progress → closed → called back
    assert (
        act(engine, clue_id, lambda s, c: workflow.dispatch(s, clue=c, to_region="370811", principal=CITY))
        == "dispatched"
    )
    assert act(engine, clue_id, lambda s, c: workflow.accept(s, clue=c, principal=COUNTY)) == "in_progress"
    assert (
        act(
            engine,
            clue_id,
            lambda s, c: workflow.close(
                s,
                clue=c,
                principal=COUNTY,
                conclusion="已责令支付，3人工资42000元已足额发放",
                recovered_amount=Decimal(42000),
                workers_paid=3,
            ),
        )
        == "closed"
    )
    assert (
        act(engine, clue_id, lambda s, c: workflow.record_callback(s, clue=c, principal=CITY, satisfaction="满意"))
        == "called_back"
    )
    with session_scope(engine) as s:
        steps = s.execute(
            select(
                m.CaseAction.action, m.CaseAction.from_status, m.CaseAction.to_status, m.CaseAction.to_region_code
            ).order_by(m.CaseAction.id)
        ).all()
        assert steps == [
            ("receive", None, "received", "370811"),
            ("dispatch", "received", "dispatched", "370811"),
            ("accept", "dispatched", "in_progress", "370811"),
            ("close", "in_progress", "closed", "370811"),
            ("record_callback", "closed", "called_back", "370811"),
        ]
        events = s.execute(select(m.Event.id, m.Event.type, m.Event.region_code).order_by(m.Event.id)).all()
        assert [e.type for e in events] == [
            "clue.created",
            "clue.dispatch",
            "clue.accept",
            "clue.close",
            "clue.record_callback",
        ]
        assert {e.region_code for e in events} == {"370811"}
        ids = [e.id for e in events]
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gaps
        clue = s.get(m.Clue, clue_id)
        assert (clue.recovered_amount, clue.workers_paid, clue.satisfaction, clue.colour) == (
            Decimal(42000),
            3,
            "满意",
            None,
        )


@pytest.mark.parametrize(
    ("steps", "action", "message"),
    [
        (
            [],
            lambda s, c: workflow.close(s, clue=c, principal=CITY, conclusion="x"),
            r"cannot close \(办结\) clue \S+: it is received \(已受理\); close is allowed from in_progress",
        ),
        (
            [],
            lambda s, c: workflow.return_(s, clue=c, principal=CITY, reason="不属于本辖区"),
            r"cannot return \(退回\) clue \S+: it is received \(已受理\)",
        ),
        (
            ["accept"],
            lambda s, c: workflow.record_callback(s, clue=c, principal=CITY, satisfaction="满意"),
            r"cannot record_callback \(回访\) clue \S+: it is in_progress \(办理中\); record_callback is allowed from closed",
        ),
        (
            ["accept", "close"],
            lambda s, c: workflow.dispatch(s, clue=c, to_region="370811", principal=CITY),
            r"it is closed \(已办结\)",
        ),
        (
            ["accept", "close"],
            lambda s, c: workflow.extend(s, clue=c, principal=CITY, working_days=5, reason="x"),
            r"cannot extend \(延期\) clue \S+: it is closed",
        ),
    ],
    ids=["close-received", "return-undispatched", "callback-open", "dispatch-closed", "extend-closed"],
)
def test_an_illegal_transition_is_refused_naming_the_state(engine, steps, action, message) -> None:  # type: ignore[no-untyped-def]
    [clue_id] = intake(engine, complaint("2026110200123"))
    for step in steps:
        if step == "accept":
            act(engine, clue_id, lambda s, c: workflow.accept(s, clue=c, principal=CITY))
        else:
            act(engine, clue_id, lambda s, c: workflow.close(s, clue=c, principal=CITY, conclusion="已支付"))
    with session_scope(engine) as s:
        before = s.execute(select(func.count()).select_from(m.CaseAction)).scalar_one()
    with pytest.raises(IllegalTransition, match=message) as err:
        act(engine, clue_id, action)
    assert err.value.extensions()["code"] == "ILLEGAL_TRANSITION"
    with session_scope(engine) as s:  # nothing was written
        assert s.execute(select(func.count()).select_from(m.CaseAction)).scalar_one() == before


def test_dispatch_stays_within_the_jurisdiction_and_escalation_goes_up(engine) -> None:  # type: ignore[no-untyped-def]
    [clue_id] = intake(engine, complaint("2026110200123"))
    # A county cannot dispatch a clue to another county, nor can a city outside its own counties
    with pytest.raises(Forbidden, match="cannot dispatch to 370829: outside your jurisdiction 370811"):
        act(engine, clue_id, lambda s, c: workflow.dispatch(s, clue=c, to_region="370829", principal=COUNTY))
    with pytest.raises(Forbidden, match="cannot dispatch to 370102: outside your jurisdiction 370800"):
        act(engine, clue_id, lambda s, c: workflow.dispatch(s, clue=c, to_region="370102", principal=CITY))
    # Another county cannot act on it at all; a viewer may not act
    with pytest.raises(Forbidden, match="handled by 370811, outside your jurisdiction 370829"):
        act(engine, clue_id, lambda s, c: workflow.accept(s, clue=c, principal=OTHER_COUNTY))
    with pytest.raises(Forbidden, match="a viewer key may not accept clues"):
        act(engine, clue_id, lambda s, c: workflow.accept(s, clue=c, principal=VIEWER))
    # Dispatch goes down, not up
    with pytest.raises(InvalidInput, match="toRegion 370800 is not below the handling region 370811"):
        act(engine, clue_id, lambda s, c: workflow.dispatch(s, clue=c, to_region="370800", principal=CITY))
    # The county escalates to the city; the city dispatches to another county
    act(
        engine,
        clue_id,
        lambda s, c: workflow.escalate(s, clue=c, principal=COUNTY, reason="涉及跨县施工企业，本级无法协调"),
    )
    with session_scope(engine) as s:
        assert (s.get(m.Clue, clue_id).status, s.get(m.Clue, clue_id).handling_region_code) == ("escalated", "370800")
    with pytest.raises(Forbidden, match="handled by 370800, outside your jurisdiction 370811"):
        act(engine, clue_id, lambda s, c: workflow.accept(s, clue=c, principal=COUNTY))
    act(engine, clue_id, lambda s, c: workflow.dispatch(s, clue=c, to_region="370829", principal=CITY))
    # The county it went to returns it with a reason: back to the dispatcher
    act(engine, clue_id, lambda s, c: workflow.return_(s, clue=c, principal=OTHER_COUNTY, reason="项目不在本县"))
    with session_scope(engine) as s:
        clue = s.get(m.Clue, clue_id)
        assert (clue.status, clue.handling_region_code) == ("returned", "370800")


def test_colour_follows_deadline_urging_and_severity(engine) -> None:  # type: ignore[no-untyped-def]
    [small, group] = intake(
        engine,
        complaint("2026100900001", received="2026-10-09"),
        complaint(
            "2026100900002",
            received="2026-10-09",
            complainant_phone="13800001111",
            respondent_name="山东泰岳建设集团有限公司",
            project_name="城北棚户区改造安置房项目",
            headcount=23,
        ),
    )
    with session_scope(engine) as s:
        clue = s.get(m.Clue, small)
        deadline = clue.deadline
        assert workflow.colour_for(clue, today=deadline - dt.timedelta(days=10)) is None
        assert workflow.colour_for(clue, today=deadline) == "blue"
        assert workflow.colour_for(clue, today=deadline + dt.timedelta(days=1)) == "yellow"
        assert workflow.colour_for(s.get(m.Clue, group), today=deadline - dt.timedelta(days=10)) == "red"  # 23 workers
    # The sweeper keeps colours current as days pass: none ten days before the deadline …
    with session_scope(engine) as s:
        workflow.sweep_colours(s, today=deadline - dt.timedelta(days=10))
        assert (s.get(m.Clue, small).colour, s.get(m.Clue, group).colour) == (None, "red")
    # … and yellow the day after it, once, with an event
    with session_scope(engine) as s:
        assert workflow.sweep_colours(s, today=deadline + dt.timedelta(days=1)) == 1
    with session_scope(engine) as s:
        assert s.get(m.Clue, small).colour == "yellow"
        assert workflow.sweep_colours(s, today=deadline + dt.timedelta(days=1)) == 0
        changed = (
            s.execute(select(m.Event.payload).where(m.Event.type == "clue.colour_changed", m.Event.entity_id == small))
            .scalars()
            .all()
        )
        assert changed[-1:] == [
            {
                "clueNo": s.get(m.Clue, small).clue_no,
                "from": None,
                "to": "yellow",
                "on": str(deadline + dt.timedelta(days=1)),
            }
        ]
        # 催办 of an overdue clue: red (supervise once, then again = urge)
        clue = workflow.get_clue(s, clue_id=small)
        workflow.supervise(s, clue=clue, principal=CITY)
        workflow.supervise(s, clue=clue, principal=CITY, note="请于3个工作日内反馈")
        assert (clue.supervision, clue.urged_count) == ("supervised", 1)
        assert workflow.colour_for(clue, today=deadline + dt.timedelta(days=1)) == "red"


def test_the_seeded_colours_agree_with_the_sweeper(demo) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import TODAY

    engine = make_engine(demo.url)
    try:
        with engine.connect() as conn:
            from sqlalchemy.orm import Session

            with Session(conn) as s:
                assert workflow.sweep_colours(s, today=TODAY) == 0
                s.rollback()
    finally:
        engine.dispose()


def test_merge_and_split_are_reversible_and_audited(engine) -> None:  # type: ignore[no-untyped-def]
    # Given two clues the matcher kept apart (different phones, the company named differently)
    a, b = intake(
        engine,
        complaint("2026110200123"),
        complaint(
            "XF2026110500002",
            channel="petition",
            received="2026-11-05",
            complainant_phone="13500002222",
            respondent_name="鸿达公司",
            project_name=None,
            complainant_name="李四",
        ),
    )
    assert a != b
    with session_scope(engine) as s:
        b_no = s.get(m.Clue, b).clue_no
    act(engine, b, lambda s, c: workflow.accept(s, clue=c, principal=COUNTY))
    # When an operator merges b into a
    with session_scope(engine) as s:
        target, source = workflow.get_clue(s, clue_id=a), workflow.get_clue(s, clue_id=b)
        clue_merge.merge(s, target=target, source=source, principal=CITY, reason="同一项目同一批工人")
    with session_scope(engine) as s:
        assert (s.get(m.Clue, b).status, s.get(m.Clue, b).merged_into_id) == ("merged", a)
        records = s.execute(select(m.ChannelRecord).order_by(m.ChannelRecord.id)).scalars().all()
        assert [(r.clue_id, r.origin_clue_id) for r in records] == [(a, None), (a, b)]
        assert set(s.execute(select(m.ClueMatchKey.clue_id)).scalars()) == {a}
        audit = s.execute(select(m.AuditLog).where(m.AuditLog.action == "clue.merge")).scalar_one()
        assert (audit.principal, audit.detail["source"], audit.detail["reason"]) == (
            CITY.name,
            b_no,
            "同一项目同一批工人",
        )
        moved_id = records[1].id
    # Then merging a merged clue again is refused
    with pytest.raises(IllegalTransition, match="it is merged"), session_scope(engine) as s:
        clue_merge.merge(
            s,
            target=workflow.get_clue(s, clue_id=a),
            source=workflow.get_clue(s, clue_id=b),
            principal=CITY,
            reason="again",
        )
    # When the operator splits the record off again, b comes back as it was (in progress)
    with session_scope(engine) as s:
        [back] = clue_merge.split(
            s,
            clue=workflow.get_clue(s, clue_id=a),
            channel_record_ids=[moved_id],
            principal=CITY,
            reason="经核实为不同项目",
        )
        assert back.id == b
    with session_scope(engine) as s:
        assert (s.get(m.Clue, b).status, s.get(m.Clue, b).merged_into_id) == ("in_progress", None)
        assert s.get(m.ChannelRecord, moved_id).clue_id == b
        assert {k.clue_id for k in s.execute(select(m.ClueMatchKey)).scalars()} == {a, b}
        # Splitting the only record off a clue is refused
        with pytest.raises(InvalidInput, match="at least one must stay"):
            clue_merge.split(
                s, clue=workflow.get_clue(s, clue_id=b), channel_record_ids=[moved_id], principal=CITY, reason="x"
            )


def test_splitting_a_record_the_matcher_joined_starts_a_new_clue(engine) -> None:  # type: ignore[no-untyped-def]
    a, again = intake(
        engine, complaint("2026110200123"), complaint("2026110600456", received="2026-11-06", complainant_name="张建国")
    )
    assert a == again
    with session_scope(engine) as s:
        second = s.execute(select(m.ChannelRecord).where(m.ChannelRecord.source_id == "2026110600456")).scalar_one()
        [new] = clue_merge.split(
            s,
            clue=workflow.get_clue(s, clue_id=a),
            channel_record_ids=[second.id],
            principal=CITY,
            reason="同一来电人反映的另一个项目",
        )
        assert (new.status, new.received_at, new.respondent_name) == (
            "received",
            second.received_at,
            second.respondent_name,
        )
        new_id = new.id
    with session_scope(engine) as s:
        assert s.get(m.ChannelRecord, second.id).clue_id == new_id
        # and merging it back undoes the split
        clue_merge.merge(
            s,
            target=workflow.get_clue(s, clue_id=a),
            source=workflow.get_clue(s, clue_id=new_id),
            principal=CITY,
            reason="撤销拆分",
        )
        assert s.get(m.ChannelRecord, second.id).clue_id == a


def test_event_ids_follow_commit_order(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a transaction that wrote an event and has not committed
    [clue_id] = intake(engine, complaint("2026110200123"))
    first = engine.connect()
    tx = first.begin()
    first.execute(
        m.Event.__table__.insert().values(
            type="test.slow",
            region_code="370811",
            entity_type="clue",
            entity_id=clue_id,
            payload={},
            created_at=m.utcnow(),
        )
    )
    # When another transaction writes an event and commits
    done = threading.Event()

    def other() -> None:
        act(engine, clue_id, lambda s, c: workflow.accept(s, clue=c, principal=CITY))
        done.set()

    t = threading.Thread(target=other)
    t.start()
    # Then it waits for the first to commit, so its event's id comes after the first's
    assert not done.wait(1.0), "a later transaction's event was committed before an earlier uncommitted one"
    tx.commit()
    first.close()
    t.join(30)
    assert done.is_set()
    with session_scope(engine) as s:
        types = s.execute(select(m.Event.type).order_by(m.Event.id)).scalars().all()
        assert types[-2:] == ["test.slow", "clue.accept"]


def test_overdue_in_python_and_in_sql_agree(engine) -> None:  # type: ignore[no-untyped-def]
    # Given clues open and closed, with deadlines before, on and after today, and one without a deadline
    ids = intake(
        engine,
        *(
            complaint(f"OD-{i}", respondent_name=f"第{i}建筑劳务有限公司", complainant_phone=f"1395371{i:04d}")
            for i in range(5)
        ),
    )
    today = dt.date(2026, 11, 20)
    cases = [
        ("in_progress", dt.date(2026, 11, 19)),
        ("in_progress", today),
        ("received", dt.date(2026, 11, 23)),
        ("closed", dt.date(2026, 11, 1)),
        ("dispatched", None),
    ]
    with session_scope(engine) as s:
        for clue_id, (status, deadline) in zip(ids, cases, strict=True):
            clue = s.get(m.Clue, clue_id)
            clue.status, clue.deadline = status, deadline
    with session_scope(engine) as s:
        # When "overdue" is asked of each clue and of the database
        in_python = {
            c.id
            for c in s.execute(select(m.Clue).where(m.Clue.id.in_(ids))).scalars()
            if workflow.is_overdue(c, today=today)
        }
        in_sql = set(
            s.execute(select(m.Clue.id).where(m.Clue.id.in_(ids), workflow.overdue_clause(today=today))).scalars()
        )
    # Then both name only the open clue past its deadline
    assert in_python == in_sql == {ids[0]}
