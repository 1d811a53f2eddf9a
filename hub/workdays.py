"""Working-day arithmetic on the official Chinese holiday calendar (法定节假日 and 调休).

Deadlines in wage-arrears supervision are counted in **working days** (docs/domain.md: labour inspection
accepts within 5 working days, 12345 answers help requests in 5, …), so weekends are not enough:
the official holidays (e.g. 国庆 2025-10-01…08) are days off and the adjusted workdays (调休, e.g.
Sunday 2025-09-28 and Saturday 2025-10-11) are working days.

The calendar comes from the ``chinesecalendar`` package (import name ``chinese_calendar``), which is
updated each year after the State Council publishes the next year's holiday notice (usually in
November); each release adds that one year. Version 1.11.0 (installed in the project venv) covers
2004–2026; 1.10.x stops at 2025, so deadlines in 2026 need ``chinesecalendar>=1.11``.

For a year the installed package does not cover, the functions fall back to Monday–Friday and log a
warning once per year, naming the year (upgrade the package when the next notice is out).
:func:`covered_years` tells which years the installed version knows.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

import chinese_calendar

from hub import models  # the hub's clock: models.utcnow (tests move it)

__all__ = [
    "CST",
    "add_working_days",
    "china_today",
    "covered_years",
    "is_workday",
    "local_date",
    "working_days_between",
]

log = logging.getLogger(__name__)

_warned_years: set[int] = set()

#: China Standard Time: deadlines are counted in local calendar days.
CST = dt.timezone(dt.timedelta(hours=8), "CST")


def local_date(ts: dt.datetime) -> dt.date:
    """The calendar day in China of an aware timestamp (a naive one is taken as UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(CST).date()


def china_today(now: dt.datetime | None = None) -> dt.date:
    """Today in China, the one "today" every rule counts from (deadlines, overdue, colours, birth dates).

    ``now`` is the moment (an aware timestamp; a naive one is taken as UTC), the hub's clock
    (``hub.models.utcnow``) when omitted. A server runs on UTC: between 00:00 and 08:00 China time its
    own date is yesterday, which is why no rule asks ``date.today()``.
    """
    return local_date(now if now is not None else models.utcnow())


def covered_years() -> range:
    """The years the installed ``chinesecalendar`` has official holiday data for."""
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return range(min(years), max(years) + 1)


@lru_cache(maxsize=8192)
def is_workday(d: dt.date) -> bool:
    """Whether ``d`` is a working day: Mon–Fri except official holidays, plus adjusted workdays (调休).

    Outside the years the holiday package covers, Mon–Fri (with a warning logged once per year).
    """
    if isinstance(d, dt.datetime):  # a datetime is a date subclass: use its calendar day
        d = d.date()
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        if d.year not in _warned_years:
            _warned_years.add(d.year)
            log.warning(
                "no official holiday calendar for %d in chinesecalendar %s: counting Mon-Fri as working days "
                "(upgrade chinesecalendar once the State Council has published the %d holidays)",
                d.year,
                getattr(chinese_calendar, "__version__", "?"),
                d.year,
            )
        return d.weekday() < 5


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The ``n``-th working day after ``start`` (before it when ``n`` is negative; ``start`` when 0).

    ``start`` itself is never counted, whether or not it is a working day: a clue received on Friday
    with a 1-working-day deadline is due on Monday (or on the next working day after a holiday).
    """
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    d = start
    one = dt.timedelta(days=step)
    while remaining:
        d += one
        if is_workday(d):
            remaining -= 1
    return d


@lru_cache(maxsize=64)
def _year_prefix(year: int) -> tuple[int, ...]:
    """``prefix[k]`` = working days among the first ``k`` days of ``year`` (so ``prefix[yday]`` counts up to that day)."""
    day = dt.date(year, 1, 1)
    one = dt.timedelta(days=1)
    prefix = [0]
    while day.year == year:
        prefix.append(prefix[-1] + is_workday(day))
        day += one
    return tuple(prefix)


def _through(d: dt.date) -> int:
    """Working days from 1 January of ``d``'s year up to and including ``d``."""
    return _year_prefix(d.year)[d.timetuple().tm_yday]


def working_days_between(a: dt.date, b: dt.date) -> int:
    """The number of working days ``d`` with ``a < d <= b`` (negative when ``b`` is before ``a``).

    The inverse of :func:`add_working_days`: ``working_days_between(a, add_working_days(a, n)) == n``.
    Counted from per-year prefix sums, so a span of years costs no more than a span of days.
    """
    if isinstance(a, dt.datetime):
        a = a.date()
    if isinstance(b, dt.datetime):
        b = b.date()
    if b < a:
        return -working_days_between(b, a)
    if a.year == b.year:
        return _through(b) - _through(a)
    total = _year_prefix(a.year)[-1] - _through(a) + _through(b)
    for year in range(a.year + 1, b.year):
        total += _year_prefix(year)[-1]
    return total
