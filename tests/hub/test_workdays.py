"""Tests for hub.workdays: official holidays, adjusted workdays (调休) and the Mon–Fri fallback."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from hub import workdays
from hub.workdays import add_working_days, china_today, covered_years, is_workday, working_days_between

D = dt.date


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(D(2025, 9, 26), True, id="friday-before-national-day"),
        pytest.param(D(2025, 9, 27), False, id="plain-saturday"),
        pytest.param(D(2025, 9, 28), True, id="adjusted-sunday-2025-09-28"),
        pytest.param(D(2025, 10, 1), False, id="national-day"),
        pytest.param(D(2025, 10, 6), False, id="mid-autumn-monday-in-golden-week"),
        pytest.param(D(2025, 10, 8), False, id="last-holiday-wednesday"),
        pytest.param(D(2025, 10, 9), True, id="first-workday-after"),
        pytest.param(D(2025, 10, 11), True, id="adjusted-saturday-2025-10-11"),
        pytest.param(D(2025, 10, 12), False, id="plain-sunday-after"),
        pytest.param(D(2026, 2, 17), False, id="spring-festival-2026"),
    ],
)
def test_is_workday(day: dt.date, expected: bool) -> None:
    assert is_workday(day) is expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        pytest.param(D(2025, 9, 30), 1, D(2025, 10, 9), id="1-day-across-national-day"),
        pytest.param(D(2025, 9, 30), 3, D(2025, 10, 11), id="lands-on-adjusted-saturday"),
        pytest.param(D(2025, 9, 29), 5, D(2025, 10, 13), id="5-day-acceptance-across-holiday"),
        pytest.param(D(2025, 9, 26), 1, D(2025, 9, 28), id="adjusted-sunday-counts"),
        pytest.param(D(2025, 9, 26), 15, D(2025, 10, 23), id="15-day-closure-target"),
        pytest.param(D(2025, 10, 3), 1, D(2025, 10, 9), id="start-inside-holiday"),
        pytest.param(D(2025, 10, 9), 0, D(2025, 10, 9), id="zero-is-start"),
        pytest.param(D(2025, 10, 9), -1, D(2025, 9, 30), id="negative-goes-back-over-holiday"),
        pytest.param(D(2025, 10, 13), -2, D(2025, 10, 10), id="negative-over-adjusted-saturday"),
    ],
)
def test_add_working_days(start: dt.date, n: int, expected: dt.date) -> None:
    assert add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(D(2025, 9, 30), D(2025, 10, 9), 1, id="across-holiday"),
        pytest.param(D(2025, 9, 26), D(2025, 10, 12), 6, id="with-both-adjusted-days"),
        pytest.param(D(2025, 10, 9), D(2025, 10, 9), 0, id="same-day"),
        pytest.param(D(2025, 10, 9), D(2025, 9, 30), -1, id="reversed"),
        pytest.param(D(2024, 12, 31), D(2025, 1, 2), 1, id="across-new-year-holiday"),
        pytest.param(D(2024, 1, 1), D(2026, 1, 1), 499, id="two-years"),
    ],
)
def test_working_days_between(a: dt.date, b: dt.date, expected: int) -> None:
    assert working_days_between(a, b) == expected


@pytest.mark.parametrize("n", [0, 1, 2, 5, 13, 15, 60], ids=lambda n: f"n={n}")
def test_between_inverts_add(n: int) -> None:
    start = D(2025, 9, 19)
    assert working_days_between(start, add_working_days(start, n)) == n


def test_between_matches_day_by_day_count() -> None:
    a = D(2024, 11, 3)
    for k in range(0, 800, 7):
        b = a + dt.timedelta(days=k)
        slow = sum(is_workday(a + dt.timedelta(days=i)) for i in range(1, k + 1))
        assert working_days_between(a, b) == slow, b


def test_fallback_outside_coverage_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    year = covered_years().stop + 3  # a year the installed package certainly lacks
    workdays._warned_years.discard(year)
    workdays.is_workday.cache_clear()
    monday = D(year, 3, 1) + dt.timedelta(days=(7 - D(year, 3, 1).weekday()) % 7)
    with caplog.at_level(logging.WARNING, logger="hub.workdays"):
        assert is_workday(monday) is True
        assert is_workday(monday + dt.timedelta(days=5)) is False  # Saturday
        assert add_working_days(monday, 5) == monday + dt.timedelta(days=7)
    messages = [r.getMessage() for r in caplog.records if str(year) in r.getMessage()]
    assert len(messages) == 1, messages


def test_covered_years_include_2025() -> None:
    assert 2025 in covered_years()


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2026, 11, 19, 15, 59, tzinfo=dt.UTC), dt.date(2026, 11, 19)),
        (dt.datetime(2026, 11, 19, 16, 0, tzinfo=dt.UTC), dt.date(2026, 11, 20)),
        (dt.datetime(2026, 11, 19, 23, 30), dt.date(2026, 11, 20)),
    ],
    ids=["before-midnight-in-china", "midnight-in-china", "naive-is-utc"],
)
def test_china_today_is_the_day_in_china_whatever_the_servers_date(now: dt.datetime, expected: dt.date) -> None:
    # Given a UTC server clock; then "today" is China's day: from 16:00 UTC it is already tomorrow
    assert china_today(now) == expected


# 《全国年节及纪念日放假办法》 (2024 revision) Art. 2, the lunar days checked against the lunar calendar:
# 春节 2027 = 2027-02-06 (除夕 02-05), 2028 = 2028-01-26 (除夕 01-25); 清明 2027-04-05, 2028-04-04;
# 端午 2027-06-09, 2028-05-28; 中秋 2027-09-15, 2028-10-03 (the same day as 国庆's third).
STATUTORY = {
    2027: [
        "2027-01-01",
        "2027-02-05",
        "2027-02-06",
        "2027-02-07",
        "2027-02-08",
        "2027-04-05",
        "2027-05-01",
        "2027-05-02",
        "2027-06-09",
        "2027-09-15",
        "2027-10-01",
        "2027-10-02",
        "2027-10-03",
    ],
    2028: [
        "2028-01-01",
        "2028-01-25",
        "2028-01-26",
        "2028-01-27",
        "2028-01-28",
        "2028-04-04",
        "2028-05-01",
        "2028-05-02",
        "2028-05-28",
        "2028-10-01",
        "2028-10-02",
        "2028-10-03",
    ],
}


@pytest.mark.parametrize("year", sorted(STATUTORY), ids=str)
def test_the_statutory_holidays_of_a_year_come_from_the_lunar_calendar(year: int) -> None:
    assert sorted(str(d) for d in workdays.statutory_holidays(year)) == STATUTORY[year]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        pytest.param(D(2027, 1, 1), False, id="yuandan-friday"),
        pytest.param(D(2027, 2, 5), False, id="chuxi-2027-friday"),
        pytest.param(D(2027, 2, 8), False, id="chusan-2027-monday"),
        pytest.param(D(2027, 2, 9), True, id="after-spring-festival-2027"),
        pytest.param(D(2027, 4, 5), False, id="qingming-2027-monday"),
        pytest.param(D(2027, 6, 9), False, id="duanwu-2027-wednesday"),
        pytest.param(D(2027, 9, 15), False, id="zhongqiu-2027-wednesday"),
        pytest.param(D(2027, 2, 13), False, id="plain-saturday-no-tiaoxiu-known"),
        pytest.param(D(2028, 1, 25), False, id="chuxi-2028-tuesday"),
        pytest.param(D(2028, 1, 28), False, id="chusan-2028-friday"),
        pytest.param(D(2028, 1, 31), True, id="after-spring-festival-2028"),
        pytest.param(D(2028, 10, 3), False, id="zhongqiu-on-guoqing-2028"),
        pytest.param(D(2028, 10, 4), True, id="after-guoqing-2028"),
    ],
)
def test_beyond_the_package_weekends_and_statutory_days_are_off(
    package_until_2026, day: dt.date, expected: bool
) -> None:  # type: ignore[no-untyped-def]
    # Given a package whose data ends with 2026 and no year loaded
    # Then a day of 2027 or 2028 is a working day unless a weekend or a statutory holiday
    assert is_workday(day) is expected
    assert workdays.provisional_span(D(2026, 12, 1), day) is True
    assert workdays.provisional_span(D(2026, 12, 1), D(2026, 12, 31)) is False


def test_a_loaded_year_overrides_the_package_and_the_statutory_days(package_until_2026) -> None:  # type: ignore[no-untyped-def]
    # Given 2027 counted on the statutory days: 除夕 Friday 02-05 to 初三 Monday 02-08 off
    assert add_working_days(D(2027, 2, 4), 1) == D(2027, 2, 9)
    # When its official schedule is installed: 02-05 to 02-11 off, Saturday 02-13 worked (a test schedule)
    off = {D(2027, 2, 5) + dt.timedelta(days=k): False for k in range(7)}
    workdays.install_official_days({**off, D(2027, 2, 13): True}, years=[2027])
    # Then the schedule answers, and 2027 is official
    assert add_working_days(D(2027, 2, 4), 1) == D(2027, 2, 12)
    assert add_working_days(D(2027, 2, 4), 2) == D(2027, 2, 13)
    assert is_workday(D(2027, 4, 5)) is True  # the test schedule lists no 清明: a loaded year says it all
    assert workdays.provisional_span(D(2026, 12, 1), D(2027, 12, 31)) is False
    assert 2027 in workdays.official_years()


def test_installing_days_outside_their_years_is_refused(package_until_2026) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"^days of years \[2028\] given without their year$"):
        workdays.install_official_days({D(2028, 1, 3): False}, years=[2027])
