"""Each warning rule: a minimal world that fires it, one just below the boundary that does not, and the
change that clears it (the engine then resolves the warning) — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub import models as m
from hub.db import make_engine, session_scope
from hub.rules import evaluate, rule
from hub.workdays import add_working_days
from tests.hub.warning_world import NOW, TODAY, World, days, empty


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Engine]:
    from hub.migrate import upgrade
    from tests.conftest import _fresh_url

    url = _fresh_url(tmp_path_factory.mktemp("warnings"), request)
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        empty(s)
        yield s


def run(session: Session, code: str, *, today: dt.date = TODAY) -> list[m.Warning]:
    """Evaluate one rule; the rule's warnings afterwards, by id."""
    evaluate(session, rules=[code], today=today, now=NOW)
    return list(session.scalars(select(m.Warning).where(m.Warning.rule_code == code).order_by(m.Warning.id)))


Build = Callable[[World], object]


@dataclass(frozen=True)
class Case:
    """A rule's boundary: ``fire`` builds a world that fires it at ``level``; ``below`` one just short
    of the boundary; ``clear`` changes a firing world so that the condition no longer holds."""

    code: str
    level: str
    fire: Build
    below: Build
    clear: Callable[[World, object], None]


# --- W01 专户 not opened ------------------------------------------------------------------------------


def w01(offset: int) -> Build:
    return lambda w: w.add_project(contract_signed_on=days(-offset))


def w01_clear(w: World, project: object) -> None:
    assert isinstance(project, m.Project)
    w.account(project=project, open_account_date=days(0), filed_date=None)


# --- W02 专户 not filed -------------------------------------------------------------------------------


def w02(offset: int) -> Build:
    return lambda w: w.account(open_account_date=days(-offset), filed_date=None)


def w02_clear(w: World, account: object) -> None:
    assert isinstance(account, m.WageAccount)
    account.filed_date = days(0)


# --- W03 no labour cost ---------------------------------------------------------------------------------

#: Months judged on TODAY (2026-11-20): up to 2026-09 (its following month, October, has ended).
W03_MONTHS = ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09")


def w03(*missing: str) -> Build:
    def build(w: World) -> m.WageAccount:
        account = w.account(open_account_date=dt.date(2026, 5, 1))
        w.project.start_date = dt.date(2026, 5, 1)
        for month in (*W03_MONTHS, "2026-10"):
            if month not in missing:
                w.allocation(account, month=month)
        return account

    return build


def w03_clear(w: World, account: object) -> None:
    assert isinstance(account, m.WageAccount)
    w.allocation(account, month="2026-09", bill_date=days(0))  # late, but there


# --- W04 below the agreed share ---------------------------------------------------------------------------


def w04(amount: str) -> Build:
    def build(w: World) -> m.WageAccount:
        account = w.account()
        # agreed: 20 % of a ¥100,000 progress payment = ¥20,000 (0.5 % tolerance: ¥19,900)
        w.allocation(account, month="2026-10", bill_date=days(-10), amount=Decimal(amount))
        return account

    return build


def w04_clear(w: World, account: object) -> None:
    assert isinstance(account, m.WageAccount)
    w.allocation(account, month="2026-10", bill_date=days(-1), amount=Decimal("15000"), progress_payment=None)


# --- W05 wages not paid through the account ---------------------------------------------------------------


def w05(month: str, status: int) -> Build:
    def build(w: World) -> m.PayrollRecord:
        account = w.account()
        w.pay(w.worker(), month=month, account=account)  # a worker paid as due
        return w.pay(w.worker(), month=month, status=status, account=account)

    return build


def w05_clear(w: World, record: object) -> None:
    assert isinstance(record, m.PayrollRecord)
    record.pay_status, record.balance_date = 20, days(0)


# --- W06 attendance without a pay record -----------------------------------------------------------------

#: The month W06 judges on TODAY (2026-11-20, grace 15 days): October, whose wage sheet is due.
W06_MONTH = "2026-10"


def w06(workers: int, without: int, *, unpaid: int = 0) -> Build:
    """``workers`` with attendance in October; the last ``without`` of them on no October pay record,
    the first ``unpaid`` on one that is not paid (on the sheet all the same)."""

    def build(w: World) -> list[m.Worker]:
        people = [w.worker() for _ in range(workers)]
        for k, worker in enumerate(people):
            w.attend(worker, dt.date(2026, 10, 9), dt.date(2026, 10, 12))
            if k < workers - without:
                w.pay(worker, month=W06_MONTH, status=0 if k < unpaid else 20)
        return people[workers - without :]

    return build


def w06_clear(w: World, missing: object) -> None:
    assert isinstance(missing, list)
    for worker in missing:
        w.pay(worker, month=W06_MONTH, status=0)  # on the sheet now (unpaid: W05's business)


# --- W07 below the minimum wage -----------------------------------------------------------------------------


def w07(*amounts: str) -> Build:
    def build(w: World) -> list[m.PayrollRecord]:
        return [w.pay(w.worker(), month="2026-10", amount=a) for a in amounts]

    return build


def w07_clear(w: World, records: object) -> None:
    assert isinstance(records, list)
    for r in records:
        r.actual_amount = Decimal("2500")


# --- W08 one worker paid too much -------------------------------------------------------------------------


def w08_month(amount: str) -> Build:
    return lambda w: w.pay(w.worker(), month="2026-10", amount=amount)


def w08_year(amount: str) -> Build:
    def build(w: World) -> list[m.PayrollRecord]:
        worker = w.worker()
        return [w.pay(worker, month=f"2026-{k:02d}", amount=amount) for k in range(1, 11)]

    return build


def w08_two_projects(w: World) -> m.PayrollRecord:
    # one person (same ID number) on two projects: ¥25,000.01 on each in one month
    other = w.add_project()
    w.pay(w.worker(person="same-person"), month="2026-10", amount="25000.01")
    return w.pay(w.worker(project=other, person="same-person"), month="2026-10", amount="25000.01")


def w08_clear(w: World, records: object) -> None:
    for r in records if isinstance(records, list) else [records]:
        assert isinstance(r, m.PayrollRecord)
        r.actual_amount = Decimal("8000")


# --- W09 left the site without a settlement --------------------------------------------------------------


def w09(age: int, settled: bool | None = False) -> Build:
    return lambda w: w.exit(w.worker(), on=days(-age), settled=settled)


def w09_clear(w: World, exit_: object) -> None:
    assert isinstance(exit_, m.SiteMovement)
    exit_.settled, exit_.settlement_amount, exit_.settlement_date = True, Decimal("8600"), days(0)


# --- W10 balance below a month's payroll --------------------------------------------------------------------


def w10(balance: str, *, paid: int = 0) -> Build:
    def build(w: World) -> m.WageAccount:
        # the yardstick on TODAY (2026-11-20, grace 10 days): October's sheet, 2 × ¥5,000, ``paid`` of them paid
        account = w.account(account_balance=Decimal(balance))
        for k in range(2):
            w.pay(w.worker(), month="2026-10", amount="5000", status=20 if k < paid else 0, account=account)
        return account

    return build


def w10_clear(w: World, account: object) -> None:
    assert isinstance(account, m.WageAccount)
    account.account_balance = Decimal("12000")


# --- W11 deposit not made -------------------------------------------------------------------------------


def last_day_in_time() -> dt.date:
    """The contract day whose 20th working day after is TODAY: the deposit is due today, not late."""
    day = TODAY - dt.timedelta(days=20)
    while add_working_days(day, 20) > TODAY:
        day -= dt.timedelta(days=1)
    while add_working_days(day + dt.timedelta(days=1), 20) <= TODAY:
        day += dt.timedelta(days=1)
    assert add_working_days(day, 20) == TODAY
    return day


def latest_late() -> dt.date:
    """The last contract day whose 20th working day after is before TODAY: the deposit is late."""
    day = last_day_in_time()
    while add_working_days(day, 20) >= TODAY:
        day -= dt.timedelta(days=1)
    return day


def w11(signed: Callable[[], dt.date]) -> Build:
    def build(w: World) -> m.Project:
        w.project.contract_signed_on = signed()
        return w.project

    return build


def w11_clear(w: World, project: object) -> None:
    w.deposit(deposited_on=days(0))


# --- W12 guarantee letter expiring ---------------------------------------------------------------------------


def w12(valid_to: int) -> Build:
    return lambda w: w.deposit(kind="bank_guarantee", guarantee_no="BH1", valid_to=days(valid_to))


def w12_clear(w: World, deposit: object) -> None:
    assert isinstance(deposit, m.GuaranteeDeposit)
    deposit.valid_to = days(400)  # renewed


# --- W13 no attendance while in progress -----------------------------------------------------------------


def w13(idle: int) -> Build:
    """A project in progress whose workers last clocked in ``idle`` days before TODAY."""

    def build(w: World) -> m.Worker:
        worker = w.worker()
        w.attend(worker, days(-idle - 7), days(-idle))
        return worker

    return build


def w13_clear(w: World, worker: object) -> None:
    assert isinstance(worker, m.Worker)
    w.attend(worker, days(-1))  # back at work


def w13_stopped(w: World, worker: object) -> None:
    w.project.status = "stopped"  # the permit system now says so


# --- W14 output up, wages down ------------------------------------------------------------------------------


def w14(output: str, wages: str) -> Build:
    """August: output ¥100,000, wages paid ¥10,000; September (judged on TODAY: October has ended):
    ``output`` and ``wages`` paid."""

    def build(w: World) -> m.Worker:
        worker = w.worker()
        w.output(month="2026-08", amount="100000")
        w.output(month="2026-09", amount=output)
        w.pay(worker, month="2026-08", amount="10000")
        w.pay(worker, month="2026-09", amount=wages)
        return worker

    return build


def w14_clear(w: World, worker: object) -> None:
    assert isinstance(worker, m.Worker)
    w.pay(w.worker(), month="2026-09", amount="5000")  # the rest of September's wages paid


# --- W16 paid but not on the roster -------------------------------------------------------------------------


def w16(paid: int) -> Build:
    """A worker first seen in the bank's pay detail, paid for October ``paid`` days before TODAY."""

    def build(w: World) -> m.Worker:
        worker = w.worker(on_roster=False)
        w.pay(worker, month="2026-10", balance_date=days(-paid))
        return worker

    return build


def w16_clear(w: World, worker: object) -> None:
    assert isinstance(worker, m.Worker)
    worker.on_roster = True  # the real-name platform's roster lists the worker now


# --- W15 repeated clues -------------------------------------------------------------------------------------


def w15(*ages: int) -> Build:
    def build(w: World) -> list[m.Clue]:
        respondent = w.enterprise("劳务")
        return [w.clue(enterprise=respondent, received=days(-age)) for age in ages]

    return build


def w15_clear(w: World, clues: object) -> None:
    assert isinstance(clues, list)
    for clue in clues[2:]:
        clue.merged_into_id = clues[0].id  # an operator merged them into the first: one matter


CASES = {
    "W01-red-after-30-days": Case("W01", "red", w01(31), w01(19), w01_clear),
    "W01-yellow-from-day-20": Case("W01", "yellow", w01(20), w01(19), w01_clear),
    "W01-yellow-on-day-30": Case("W01", "yellow", w01(30), w01(19), w01_clear),
    "W02-red-after-30-days": Case("W02", "red", w02(31), w02(19), w02_clear),
    "W02-yellow-from-day-20": Case("W02", "yellow", w02(20), w02(19), w02_clear),
    "W03-yellow-one-month": Case("W03", "yellow", w03("2026-09"), w03("2026-10"), w03_clear),
    "W04-yellow-below-share": Case("W04", "yellow", w04("19899"), w04("19900"), w04_clear),
    "W04-red-below-half": Case("W04", "red", w04("9999"), w04("19900"), w04_clear),
    "W05-red-unpaid": Case("W05", "red", w05("2026-09", 0), w05("2026-10", 0), w05_clear),
    "W05-red-failed": Case("W05", "red", w05("2026-09", 30), w05("2026-09", 20), w05_clear),
    "W06-yellow-one-worker-not-on-the-sheet": Case("W06", "yellow", w06(10, 1), w06(10, 0, unpaid=1), w06_clear),
    "W06-red-over-ten-percent": Case("W06", "red", w06(9, 1), w06(9, 0), w06_clear),
    "W07-red-below-minimum": Case("W07", "red", w07("1800", "1979.98"), w07("1890", "1890"), w07_clear),
    "W08-red-month": Case("W08", "red", w08_month("50000.01"), w08_month("50000"), w08_clear),
    "W08-red-year": Case("W08", "red", w08_year("30000.01"), w08_year("30000"), w08_clear),
    "W08-red-one-person-two-projects": Case("W08", "red", w08_two_projects, w08_month("50000"), w08_clear),
    "W09-yellow-after-3-days": Case("W09", "yellow", w09(4), w09(3), w09_clear),
    "W09-yellow-no-settlement-on-record": Case("W09", "yellow", w09(4, None), w09(3, None), w09_clear),
    "W09-red-after-30-days": Case("W09", "red", w09(31), w09(3), w09_clear),
    "W10-yellow-below-payroll": Case("W10", "yellow", w10("9999.99"), w10("10000"), w10_clear),
    "W10-red-below-half": Case("W10", "red", w10("4999.99"), w10("10000"), w10_clear),
    "W10-yellow-below-what-is-owed": Case("W10", "yellow", w10("4999.99", paid=1), w10("5000", paid=1), w10_clear),
    "W11-red-late": Case("W11", "red", w11(latest_late), w11(last_day_in_time), w11_clear),
    "W12-red-expired": Case("W12", "red", w12(-1), w12(31), w12_clear),
    "W12-blue-within-30-days": Case("W12", "blue", w12(30), w12(31), w12_clear),
    "W13-yellow-15-days-idle": Case("W13", "yellow", w13(15), w13(14), w13_clear),
    "W13-red-30-days-idle": Case("W13", "red", w13(30), w13(14), w13_clear),
    "W13-cleared-by-the-status": Case("W13", "yellow", w13(15), w13(14), w13_stopped),
    "W14-yellow-output-up-wages-down": Case("W14", "yellow", w14("120000", "8000"), w14("119999", "8000"), w14_clear),
    "W14-yellow-wages-just-fell-enough": Case(
        "W14", "yellow", w14("120000", "8000"), w14("120000", "8000.01"), w14_clear
    ),
    "W14-red-larger-divergence": Case("W14", "red", w14("150000", "5000"), w14("119999", "8000"), w14_clear),
    "W15-yellow-three-in-90-days": Case("W15", "yellow", w15(0, 40, 89), w15(0, 40, 90), w15_clear),
    "W15-red-ten": Case("W15", "red", w15(*range(0, 90, 9)), w15(0, 40, 90), w15_clear),
    "W16-yellow-after-the-grace": Case("W16", "yellow", w16(8), w16(7), w16_clear),
    "W16-red-after-30-days": Case("W16", "red", w16(31), w16(7), w16_clear),
}
PARAMS = pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))


@PARAMS
def test_the_rule_fires(session: Session, case: Case) -> None:
    # Given a world in the rule's situation
    case.fire(World(session))
    # When the rule is evaluated
    warnings = run(session, case.code)
    # Then it raised one warning, at the level, citing its regulation, with what it measured
    assert [(w.rule_code, w.level, w.status) for w in warnings] == [(case.code, case.level, "active")]
    assert warnings[0].rule_cite == rule(case.code).cite and warnings[0].facts and warnings[0].message
    actions = session.scalars(select(m.WarningAction.action).where(m.WarningAction.warning_id == warnings[0].id))
    assert list(actions) == ["raised"]
    events = session.scalars(select(m.Event.type).where(m.Event.entity_type == "warning"))
    assert list(events) == ["warning.raised"]


@PARAMS
def test_just_below_the_boundary_the_rule_does_not_fire(session: Session, case: Case) -> None:
    # Given a world just short of the rule's boundary
    case.below(World(session))
    # When the rule is evaluated, Then it raises nothing
    assert run(session, case.code) == []


@PARAMS
def test_the_warning_resolves_when_its_condition_clears(session: Session, case: Case) -> None:
    # Given a warning the rule raised
    world = World(session)
    made = case.fire(world)
    [raised] = run(session, case.code)
    # When the data changes so that the condition no longer holds, and the rule runs again
    case.clear(world, made)
    session.flush()
    [after] = run(session, case.code)
    # Then the same warning is resolved by the engine, with the fact that cleared it
    assert after.id == raised.id
    assert (after.status, after.resolved_by) == ("resolved", "system")
    assert after.resolution is not None and after.resolution.startswith(rule(case.code).cleared)
    events = session.scalars(select(m.Event.type).where(m.Event.entity_type == "warning").order_by(m.Event.id))
    assert list(events) == ["warning.raised", "warning.resolved"]


def test_w03_two_months_running_is_red(session: Session) -> None:
    # Given an account without labour cost for August and September
    w03("2026-08", "2026-09")(World(session))
    # When W03 runs
    warnings = run(session, "W03")
    # Then August is yellow and September, the second month running, red
    assert [(w.period, w.level) for w in warnings] == [("2026-08", "yellow"), ("2026-09", "red")]


def test_w03_leaves_months_before_its_lookback_alone(session: Session) -> None:
    # Given a W03 warning for March, raised when March was still judged
    w03("2026-09")(World(session))
    [sept] = run(session, "W03")
    sept.period = "2026-03"  # as if raised back then
    session.flush()
    # When W03 runs on TODAY, which looks back six months, to April
    run(session, "W03")
    # Then March's warning stays as it was (nothing says it cleared)
    assert session.get(m.Warning, sept.id).status == "active"  # type: ignore[union-attr]


@PARAMS
def test_a_second_evaluation_on_the_same_day_changes_nothing(session: Session, case: Case) -> None:
    # Given a warning the rule raised
    case.fire(World(session))
    run(session, case.code)
    # When the rule is evaluated again on the same day, over the same data
    again = evaluate(session, rules=[case.code], today=TODAY, now=NOW)
    # Then nothing is raised, changed, updated or resolved, and no event is written
    assert again.as_dict() == {}
    assert session.scalar(select(func.count()).select_from(m.Event)) == 1


def test_w06_does_not_judge_a_month_whose_wage_sheet_is_not_due(session: Session) -> None:
    # Given workers with attendance in November (and, on 10 November, in October), on no pay record
    w = World(session)
    w.attend(w.worker(), dt.date(2026, 11, 3), dt.date(2026, 10, 20))
    # When W06 runs on 10 November (October's sheet is due from the 16th) and on TODAY (the 20th)
    early = run(session, "W06", today=dt.date(2026, 11, 10))
    # Then nothing on the 10th; on the 20th October only (November's sheet is not due)
    assert early == []
    assert [(x.period, x.level) for x in run(session, "W06")] == [("2026-10", "red")]


def test_w13_a_project_that_resumes_and_stops_again_is_a_new_warning(session: Session) -> None:
    # Given a project idle for 20 days, warned, which then worked two days and stopped again
    w = World(session)
    worker = w.worker()
    w.attend(worker, days(-60), days(-40))
    [first] = run(session, "W13", today=days(-20))
    w.attend(worker, days(-18), days(-17))
    # When W13 runs on TODAY (17 idle days)
    warnings = run(session, "W13")
    # Then the first stoppage is resolved and the second is its own warning, from its own last day
    assert [(x.id, x.period, x.status) for x in warnings] == [
        (first.id, days(-40).isoformat(), "resolved"),
        (warnings[1].id, days(-17).isoformat(), "active"),
    ]
    assert warnings[1].facts == {"project": w.project.name, "last_day": days(-17).isoformat(), "days": 17}


def test_w13_is_yellow_up_to_day_29_and_leaves_projects_without_attendance_alone(session: Session) -> None:
    # Given a project idle for 29 days, and one in progress that never reported attendance
    w = World(session)
    w.attend(w.worker(), days(-29))
    w.add_project()
    # When W13 runs, Then only the first is warned, yellow
    assert [(x.project_id, x.level) for x in run(session, "W13")] == [(w.project.id, "yellow")]


def test_w09_a_settlement_dated_after_today_is_not_yet_a_settlement(session: Session) -> None:
    # Given an exit 10 days ago whose settlement is recorded for tomorrow
    w = World(session)
    w.exit(w.worker(), on=days(-10), settled=True, settlement_amount=Decimal("5000"), settlement_date=days(1))
    # When W09 runs on TODAY, Then the worker is warned; tomorrow the settlement clears it
    assert [x.level for x in run(session, "W09")] == ["yellow"]
    assert [x.status for x in run(session, "W09", today=days(1))] == ["resolved"]


def test_w16_counts_only_paid_records_of_workers_off_the_roster(session: Session) -> None:
    # Given October paid to a rostered worker, and to one off the roster: paid, and a failed transfer
    w = World(session)
    w.pay(w.worker(), month="2026-10", balance_date=days(-20))
    off = w.worker(on_roster=False)
    w.pay(off, month="2026-10", amount="4200", balance_date=days(-20))
    w.pay(w.worker(on_roster=False), month="2026-10", status=30, balance_date=days(-20))
    # When W16 runs, Then one worker and ¥4,200 are counted
    [warning] = run(session, "W16")
    assert warning.facts is not None
    assert (warning.facts["workers"], warning.facts["amount"]) == (1, 4200)
    assert warning.message == (
        f"{w.project.name}2026-10经专户代发工资给1名未实名登记人员，金额4200.00元（首笔发放于{days(-20).isoformat()}）"
    )


def test_w14_judges_a_month_once_the_next_has_ended(session: Session) -> None:
    # Given October's output up 50 % on September's while October's wages paid so far halved
    w = World(session)
    worker = w.worker()
    w.output(month="2026-09", amount="100000")
    w.output(month="2026-10", amount="150000")
    w.pay(worker, month="2026-09", amount="10000")
    w.pay(worker, month="2026-10", amount="5000")
    # When W14 runs on TODAY (November: October's wages may still be paid), Then nothing yet;
    # on 1 December, October is judged
    assert run(session, "W14") == []
    [warning] = run(session, "W14", today=dt.date(2026, 12, 1))
    assert (warning.period, warning.level) == ("2026-10", "red")
    assert warning.message == (
        f"{w.project.name}2026-10产值150000.00元，较上月增长50.0%；当月已发工资5000.00元，较上月下降50.0%"
    )
