"""The warnings engine around the rules: level changes, idempotence, reopening, hand-closed warnings,
the incremental scope, escalation of an unhandled red warning, thresholds from the settings, and the
handling services (acknowledge, note, resolve, false positive)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub import models as m
from hub.access import Principal
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.errors import Forbidden, IllegalTransition, InvalidInput
from hub.rules import Scope, acknowledge, add_note, evaluate, mark_false_positive, resolve
from hub.settings import Settings
from hub.workdays import add_working_days
from tests.hub.warning_world import NOW, TODAY, World, days, empty

CIPHER = Cipher("warnings-engine-test")
INSPECTOR = Principal(name="apikey:city", role="inspector", region_code="370800")
VIEWER = Principal(name="apikey:viewer", role="viewer", region_code="370800")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Engine]:
    from hub.migrate import upgrade
    from tests.conftest import _fresh_url

    url = _fresh_url(tmp_path_factory.mktemp("warnings-engine"), request)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        empty(s)
        yield s


def at(day: dt.date) -> dt.datetime:
    """10:00 China time on ``day``."""
    return dt.datetime.combine(day, dt.time(2), dt.UTC)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def unpaid_september(w: World) -> m.Warning:
    """A W05 (red, escalates): September's wages of one worker unpaid, evaluated on TODAY."""
    w.pay(w.worker(), month="2026-09", status=0, account=w.account())
    evaluate(w.s, rules=["W05"], today=TODAY, now=NOW)
    return w.s.scalars(select(m.Warning)).one()


def test_a_level_change_is_recorded(session: Session) -> None:
    # Given a project whose contract is 25 days old and has no account: W01 yellow
    World(session).add_project(contract_signed_on=days(-25))
    evaluate(session, rules=["W01"], today=TODAY, now=NOW)
    # When the rule runs again six days later
    evaluate(session, rules=["W01"], today=days(6), now=at(days(6)))
    # Then the same warning is red, with the step in its history and a warning.changed event
    warning = session.scalars(select(m.Warning)).one()
    assert (warning.level, warning.level_changed_at) == ("red", at(days(6)))
    history = session.execute(
        select(m.WarningAction.action, m.WarningAction.from_level, m.WarningAction.to_level).order_by(
            m.WarningAction.id
        )
    ).all()
    assert history == [("raised", None, "yellow"), ("level_changed", "yellow", "red")]
    events = session.execute(select(m.Event.type, m.Event.payload).order_by(m.Event.id)).all()
    assert [t for t, _ in events] == ["warning.raised", "warning.changed"]
    assert events[1][1]["fromLevel"] == "yellow" and events[1][1]["level"] == "red"


def test_evaluating_twice_changes_nothing(session: Session) -> None:
    # Given warnings of several rules raised by a sweep
    w = World(session)
    w.add_project(contract_signed_on=days(-40))
    w.pay(w.worker(), month="2026-09", status=0, account=w.account(open_account_date=days(-45), filed_date=None))
    first = evaluate(session, today=TODAY, now=NOW, cipher=CIPHER)
    before = [count(session, t) for t in (m.Warning, m.WarningAction, m.Event, m.Clue)]
    # When the sweep runs again the same day
    again = evaluate(session, today=TODAY, now=NOW + dt.timedelta(hours=3), cipher=CIPHER)
    # Then it changed nothing
    assert first.counts["raised"] >= 3 and again.as_dict() == {}
    assert [count(session, t) for t in (m.Warning, m.WarningAction, m.Event, m.Clue)] == before


def test_a_resolved_warning_comes_back_as_the_same_warning(session: Session) -> None:
    # Given a W12 warning the engine resolved when the guarantee letter was renewed
    w = World(session)
    letter = w.deposit(kind="bank_guarantee", guarantee_no="BH9", valid_to=days(10))
    evaluate(session, rules=["W12"], today=TODAY, now=NOW)
    letter.valid_to = days(200)
    evaluate(session, rules=["W12"], today=TODAY, now=NOW)
    # When the renewal is withdrawn (the bank corrects the date)
    letter.valid_to = days(10)
    evaluate(session, rules=["W12"], today=TODAY, now=NOW)
    # Then the warning is active again: one row, its history says so
    warning = session.scalars(select(m.Warning)).one()
    assert (warning.status, warning.resolved_at, warning.resolution) == ("active", None, None)
    actions = session.scalars(select(m.WarningAction.action).order_by(m.WarningAction.id)).all()
    assert actions == ["raised", "resolved", "reopened"]


@pytest.mark.parametrize("close", ["resolve", "false_positive"], ids=["resolved-by-hand", "false-positive"])
def test_a_warning_closed_by_hand_stays_closed(session: Session, close: str) -> None:
    # Given a warning an inspector closed by hand while its condition still holds
    warning = unpaid_september(World(session))
    if close == "resolve":
        resolve(session, warning=warning, principal=INSPECTOR, reason="已现场核实，工资已以现金补发并签字确认")
    else:
        mark_false_positive(session, warning=warning, principal=INSPECTOR, reason="银行回单延迟，实际已发放")
    # When the engine runs again
    report = evaluate(session, rules=["W05"], today=TODAY, now=NOW)
    # Then it leaves the inspector's decision alone
    assert report.as_dict() == {}
    assert warning.status == ("resolved" if close == "resolve" else "false_positive")
    assert warning.resolved_by == INSPECTOR.name


def test_an_incremental_run_touches_only_its_scope(session: Session) -> None:
    # Given two projects without an account, 40 days after their contracts
    w = World(session)
    inside = w.add_project(contract_signed_on=days(-40))
    w.add_project(contract_signed_on=days(-40))
    # When the engine runs for the first project only
    report = evaluate(session, rules=["W01"], today=TODAY, now=NOW, scope=Scope.of(project_ids=[inside.id]))
    # Then only its warning is raised
    assert report.as_dict() == {"raised": 1}
    assert session.scalars(select(m.Warning.project_id)).all() == [inside.id]


def test_an_unhandled_red_warning_escalates_into_the_clue_pool(session: Session) -> None:
    # Given a red W05 warning nobody handled
    warning = unpaid_september(World(session))
    # When the sweep runs on the fourth working day after it was raised, and on the fifth
    fourth, fifth = add_working_days(TODAY, 4), add_working_days(TODAY, 5)
    early = evaluate(session, today=fourth, now=at(fourth), cipher=CIPHER, rules=["W05"])
    late = evaluate(session, today=fifth, now=at(fifth), cipher=CIPHER, rules=["W05"])
    # Then it escalates on the fifth, through the clue pool's matcher, as channel 预警 (warning)
    assert early.escalated == {}
    assert late.escalated == {warning.id: warning.clue_id}
    assert warning.status == "escalated" and warning.clue_id is not None
    record = session.scalars(select(m.ChannelRecord).where(m.ChannelRecord.clue_id == warning.clue_id)).one()
    assert (record.channel, record.source_id) == ("warning", f"YJ-W05-{warning.id}")
    assert record.received_at == at(fifth)
    actions = session.scalars(select(m.WarningAction.action).order_by(m.WarningAction.id)).all()
    assert actions == ["raised", "escalated"]
    assert "warning.escalated" in session.scalars(select(m.Event.type)).all()


def test_an_acknowledged_red_warning_does_not_escalate(session: Session) -> None:
    # Given a red W05 warning an inspector acknowledged
    warning = unpaid_september(World(session))
    acknowledge(session, warning=warning, principal=INSPECTOR, note="已联系总包核实")
    # When the sweep runs ten working days later
    later = add_working_days(TODAY, 10)
    report = evaluate(session, today=later, now=at(later), cipher=CIPHER, rules=["W05"])
    # Then it stays with the inspector
    assert report.escalated == {} and warning.status == "active"


def test_a_rule_that_does_not_escalate_stays_out_of_the_pool(session: Session) -> None:
    # Given a red W12 (an expired guarantee letter: the department's matter, not an arrears case)
    World(session).deposit(kind="bank_guarantee", guarantee_no="BH2", valid_to=days(-3))
    evaluate(session, rules=["W12"], today=TODAY, now=NOW)
    # When the sweep runs ten working days later
    later = add_working_days(TODAY, 10)
    report = evaluate(session, rules=["W12"], today=later, now=at(later), cipher=CIPHER)
    # Then nothing escalated
    assert report.escalated == {} and count(session, m.Clue) == 0


def test_thresholds_come_from_the_settings(session: Session) -> None:
    # Given a wage sheet averaging ¥1,950 and a province whose minimum wage is ¥2,000
    w = World(session)
    for amount in ("1900", "2000"):
        w.pay(w.worker(), month="2026-10", amount=amount)
    settings = Settings(warning_thresholds={"W07": {"minimum_wage": 2000}})
    # When W07 runs with the default and with the province's setting
    default = evaluate(session, rules=["W07"], today=TODAY, now=NOW)
    local = evaluate(session, rules=["W07"], today=TODAY, now=NOW, settings=settings)
    # Then only the province's minimum makes it a warning, which says so
    assert default.as_dict() == {} and local.as_dict() == {"raised": 1}
    warning = session.scalars(select(m.Warning)).one()
    assert warning.facts is not None and warning.facts["minimum_wage"] == 2000
    assert "低于最低工资标准2000元" in warning.message


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"warning_thresholds": {"W07": {"minimum": 2000}}},
            "HUB_WARNING_THRESHOLDS names 'minimum' for W07, which has minimum_wage, lookback_months",
        ),
        (
            {"warning_thresholds": {"W99": {"x": 1}}},
            "no warning rule 'W99': the rules are W01, W02, W03, W04, W05, W06, W07, W08, W09, W10, W11, W12, W13, W14, W15, W16",
        ),
        (
            {"warning_rules_disabled": "W17"},
            "no warning rule 'W17': the rules are W01, W02, W03, W04, W05, W06, W07, W08, W09, W10, W11, W12, W13, W14, W15, W16",
        ),
    ],
    ids=["unknown-threshold", "unknown-rule", "disabled-unknown-rule"],
)
def test_a_wrong_setting_is_named(session: Session, settings: dict, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        evaluate(session, today=TODAY, now=NOW, settings=Settings(**settings))
    assert str(exc.value) == message


def test_a_disabled_rule_is_not_evaluated(session: Session) -> None:
    World(session).add_project(contract_signed_on=days(-40))
    report = evaluate(session, today=TODAY, now=NOW, settings=Settings(warning_rules_disabled="W01,W11"))
    assert report.as_dict() == {}


# --- handling -----------------------------------------------------------------------------------------------


def test_handling_is_recorded_announced_and_audited(session: Session) -> None:
    # Given a red W05 warning
    warning = unpaid_september(World(session))
    # When an inspector acknowledges it, records a 核查 note and resolves it
    acknowledge(session, warning=warning, principal=INSPECTOR)
    add_note(session, warning=warning, principal=INSPECTOR, note="核查：9月工资因银行系统故障未发放")
    resolve(session, warning=warning, principal=INSPECTOR, reason="已补发")
    # Then each step is in the history, an event and the audit log
    assert warning.acknowledged_by == INSPECTOR.name and warning.status == "resolved"
    steps = session.execute(
        select(m.WarningAction.action, m.WarningAction.actor, m.WarningAction.note).order_by(m.WarningAction.id)
    ).all()
    assert steps[1:] == [
        ("acknowledged", INSPECTOR.name, None),
        ("noted", INSPECTOR.name, "核查：9月工资因银行系统故障未发放"),
        ("resolved", INSPECTOR.name, "已补发"),
    ]
    events = session.scalars(select(m.Event.type).order_by(m.Event.id)).all()
    assert events == ["warning.raised", "warning.acknowledged", "warning.noted", "warning.resolved"]
    audited = session.scalars(select(m.AuditLog.action).order_by(m.AuditLog.id)).all()
    assert audited == ["warning.acknowledged", "warning.noted", "warning.resolved"]


def test_handling_refusals(session: Session) -> None:
    warning = unpaid_september(World(session))
    with pytest.raises(Forbidden) as forbidden:
        acknowledge(session, warning=warning, principal=VIEWER)
    assert forbidden.value.message == "a viewer key may not acknowledge warnings"
    with pytest.raises(InvalidInput) as empty_reason:
        resolve(session, warning=warning, principal=INSPECTOR, reason="  ")
    assert empty_reason.value.message == "reason must not be empty"
    mark_false_positive(session, warning=warning, principal=INSPECTOR, reason="数据错误")
    with pytest.raises(IllegalTransition) as closed:
        resolve(session, warning=warning, principal=INSPECTOR, reason="已补发")
    assert closed.value.message == f"cannot resolve warning W05/{warning.id}: it is false_positive"


def test_repeated_clues_do_not_count_the_clues_opened_for_warnings(session: Session) -> None:
    # Given three clues against one enterprise in 90 days, one of them opened by an escalated warning
    w = World(session)
    respondent = w.enterprise("劳务")
    clues = [w.clue(enterprise=respondent, received=days(-k)) for k in (1, 2, 3)]
    w.add(
        m.ChannelRecord(
            clue_id=clues[0].id,
            channel="warning",
            source_id="YJ-W05-1",
            received_at=NOW,
            match_rule="new",
            region_code=clues[0].region_code,
        )
    )
    # When W15 runs, Then two complaints are not yet "repeated"
    assert evaluate(session, rules=["W15"], today=TODAY, now=NOW).as_dict() == {}
