"""Loading a year's official holiday schedule (hub.holidays): the file format, its refusals, the load."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from hub import holidays, workdays
from hub import models as m
from hub.access import SYSTEM, Principal
from hub.db import make_engine, session_scope
from hub.errors import Forbidden, InvalidInput

D = dt.date


def doc(**changes: object) -> str:
    """A valid 2027 schedule file with ``changes`` (a value of None drops the key)."""
    base: dict = {
        "year": 2027,
        "source": "测试用 2027 年节假日安排",
        "holidays": ["2027-01-01", {"from": "2027-02-05", "to": "2027-02-11", "name": "春节"}],
        "workdays": [{"date": "2027-02-13", "name": "春节调休"}],
    }
    base.update(changes)
    return json.dumps({k: v for k, v in base.items() if v is not None}, ensure_ascii=False)


def test_a_schedule_reads_dates_ranges_and_names() -> None:
    schedule = holidays.parse_schedule(doc())
    assert (schedule.year, schedule.source) == (2027, "测试用 2027 年节假日安排")
    assert list(schedule.holidays) == [D(2027, 1, 1)] + [D(2027, 2, 5) + dt.timedelta(days=k) for k in range(7)]
    assert (schedule.holidays[D(2027, 1, 1)], schedule.holidays[D(2027, 2, 8)]) == (None, "春节")
    assert schedule.workdays == {D(2027, 2, 13): "春节调休"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "{",
            "the calendar file is not JSON: Expecting property name enclosed in double quotes at line 1",
            id="not-json",
        ),
        pytest.param(
            "[]", "the calendar file must hold one object with year, source, holidays and workdays", id="not-an-object"
        ),
        pytest.param(
            doc(holiday=[]), "unknown key 'holiday' (expected year, source, holidays, workdays)", id="unknown-key"
        ),
        pytest.param(doc(year="2027"), "year must be a year from 2000 to 2100, got '2027'", id="year-as-text"),
        pytest.param(
            doc(source=" "),
            "source must name the notice the schedule comes from (at most 200 characters)",
            id="no-source",
        ),
        pytest.param(
            doc(holidays=[]),
            "holidays is empty: a year's schedule has its holidays (元旦 2027-01-01 at least)",
            id="no-holidays",
        ),
        pytest.param(
            doc(holidays=["2027-02-30"]), "holidays[0]: '2027-02-30' is not a date (YYYY-MM-DD)", id="not-a-date"
        ),
        pytest.param(doc(holidays=["2026-12-31"]), "holidays[0]: 2026-12-31 is not in 2027", id="another-year"),
        pytest.param(
            doc(workdays=[{"date": "2028-01-08"}]),
            "workdays[0].date: 2028-01-08 is not in 2027",
            id="workday-in-another-year",
        ),
        pytest.param(
            doc(holidays=["2027-01-01", {"from": "2027-01-01", "to": "2027-01-03"}]),
            "2027-01-01 is listed twice (holidays[0] and holidays[1])",
            id="duplicate-holiday",
        ),
        pytest.param(
            doc(workdays=["2027-02-06"]),
            "2027-02-06 is listed twice (holidays[1] and workdays[0])",
            id="holiday-and-workday",
        ),
        pytest.param(
            doc(workdays=["2027-02-15"]),
            "workdays[0]: 2027-02-15 is a Monday, a working day anyway: an adjusted workday (调休) is a "
            "Saturday or Sunday",
            id="weekday-as-adjusted-workday",
        ),
        pytest.param(
            doc(holidays=[{"from": "2027-02-11", "to": "2027-02-05"}]),
            "holidays[0]: to 2027-02-05 is before from 2027-02-11",
            id="reversed-range",
        ),
        pytest.param(
            doc(holidays=[{"from": "2027-02-01", "to": "2027-02-28"}]),
            "holidays[0]: 2027-02-01 to 2027-02-28 is longer than 15 days",
            id="range-too-long",
        ),
        pytest.param(
            doc(holidays=[{"from": "2027-02-01"}]), "holidays[0]: a range needs both from and to", id="half-a-range"
        ),
        pytest.param(
            doc(holidays=[{"day": "2027-02-01"}]),
            "holidays[0]: unknown key 'day' (expected date, or from and to; name)",
            id="unknown-entry-key",
        ),
    ],
)
def test_a_bad_schedule_is_refused_saying_what_and_where(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        holidays.parse_schedule(text)
    assert caught.value.message == message
    assert caught.value.suggestion == "see `hub calendar load --help` for the file format (hub/holidays.py)"


@pytest.fixture
def engine(empty_db_url, package_until_2026):  # type: ignore[no-untyped-def]
    engine = make_engine(empty_db_url)
    yield engine
    engine.dispose()


def test_loading_a_year_stores_audits_and_replaces_it(engine) -> None:  # type: ignore[no-untyped-def]
    # Given a 2027 schedule loaded once
    with session_scope(engine) as s:
        first = holidays.load_schedule(s, schedule=holidays.parse_schedule(doc()), principal=SYSTEM)
    # Then it names the statutory days it does not list (the test file lacks 清明, 劳动节 …)
    assert (first.holidays, first.workdays, first.replaced) == (8, 1, False)
    assert first.missing_statutory == [
        D(2027, 4, 5),
        D(2027, 5, 1),
        D(2027, 5, 2),
        D(2027, 6, 9),
        D(2027, 9, 15),
        D(2027, 10, 1),
        D(2027, 10, 2),
        D(2027, 10, 3),
    ]
    # When it is loaded again with 元旦 alone
    with session_scope(engine) as s:
        again = holidays.load_schedule(
            s, schedule=holidays.parse_schedule(doc(workdays=[], holidays=["2027-01-01"])), principal=SYSTEM
        )
    # Then the year is replaced, not added to, and both loads are in the audit log
    assert (again.holidays, again.workdays, again.replaced) == (1, 0, True)
    with session_scope(engine) as s:
        assert s.execute(select(m.CalendarDay.day, m.CalendarDay.is_workday)).all() == [(D(2027, 1, 1), False)]
        audits = s.execute(select(m.AuditLog.action, m.AuditLog.entity_id, m.AuditLog.detail["replaced"])).all()
        assert [(a, e, bool(r)) for a, e, r in audits] == [
            ("calendar.load", 2027, False),
            ("calendar.load", 2027, True),
        ]
        # And the process counts on it once it syncs: 02-05 is a working day again, 2027 official
        assert holidays.sync_calendar(s) is True
        assert workdays.is_workday(D(2027, 2, 5)) is True
        assert holidays.show_year(s, year=2027).basis == "loaded"


def test_only_an_admin_may_load_the_calendar(engine) -> None:  # type: ignore[no-untyped-def]
    inspector = Principal(name="任城区劳动监察大队", role="inspector", region_code="370811")
    with (
        session_scope(engine) as s,
        pytest.raises(Forbidden, match=r"^only administrators may load the holiday calendar$"),
    ):
        holidays.load_schedule(s, schedule=holidays.parse_schedule(doc()), principal=inspector)


@pytest.mark.parametrize(
    ("year", "basis", "first"),
    [
        pytest.param(2025, "package", (D(2025, 1, 1), False, "New Year's Day"), id="package-year"),
        pytest.param(2028, "statutory", (D(2028, 1, 25), False, None), id="beyond-the-package"),
    ],
)
def test_show_year_says_what_a_year_is_counted_on(engine, year: int, basis: str, first: tuple) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        cal = holidays.show_year(s, year=year)
    # Then the basis, and the first day off Monday–Friday (元旦 2028 is a Saturday: no exception)
    assert (cal.basis, cal.days[0]) == (basis, first)
