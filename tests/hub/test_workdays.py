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
