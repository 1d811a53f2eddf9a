"""Working-day arithmetic on the official Chinese holiday calendar (法定节假日 and 调休).

Deadlines in wage-arrears supervision are counted in **working days** (docs/domain.md: labour inspection
accepts within 5 working days, 12345 answers help requests in 5, …), so weekends are not enough:
the official holidays (e.g. 国庆 2025-10-01…08) are days off and the adjusted workdays (调休, e.g.
Sunday 2025-09-28 and Saturday 2025-10-11) are working days.

The calendar comes from the ``chinesecalendar`` package (import name ``chinese_calendar``), which is
updated each year after the State Council publishes the next year's holiday notice (usually in
November); each release adds that one year. Version 1.11.0 (installed in the project venv) covers
2004–2026; 1.10.x stops at 2025, so deadlines in 2026 need ``chinesecalendar>=1.11``.

Three sources, the first that knows a year wins (docs/domain.md, "The holiday calendar"):

1. **a loaded schedule** — an admin loads a year's official notice (holidays and 调休 workdays) into
   ``calendar_days`` (``hub calendar load``, ``hub.calendar``), which installs it here with
   :func:`install_official_days`; it overrides the package, so a correction needs no release;
2. **the package** — ``chinesecalendar``'s data;
3. **the statutory days** — for a year neither knows, weekends and the days 《全国年节及纪念日放假办法》
   (国务院令第795号, 2024 revision, Art. 2) fixes in advance: 元旦 1 Jan, 春节 (除夕 to 初三), 清明, 劳动节
   1–2 May, 端午, 中秋, 国庆 1–3 Oct, the lunar ones from ``lunar_python``. The annual notice adds
   bridging days and 调休 that no rule predicts, so a date counted across such a year is
   **provisional** (:func:`is_official`, :func:`provisional_span`); a warning is logged once per year.

:func:`covered_years` tells which years the installed package knows; :func:`official_years` which years
have an official schedule from either source.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache

import chinese_calendar
from lunar_python import Lunar, Solar

from hub import models  # the hub's clock: models.utcnow (tests move it)

__all__ = [
    "CST",
    "add_working_days",
    "china_today",
    "covered_years",
    "install_official_days",
    "is_official",
    "is_workday",
    "loaded_years",
    "local_date",
    "official_years",
    "provisional_span",
    "statutory_holidays",
    "working_days_between",
    "year_exceptions",
]

log = logging.getLogger(__name__)

_warned_years: set[int] = set()

#: The loaded official schedules (``calendar_days``): the exceptions to Mon–Fri of each loaded year.
_loaded_days: dict[dt.date, bool] = {}
_loaded_years: frozenset[int] = frozenset()

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


@lru_cache(maxsize=1)
def covered_years() -> range:
    """The years the installed ``chinesecalendar`` has official holiday data for."""
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return range(min(years), max(years) + 1)


def loaded_years() -> frozenset[int]:
    """The years whose official schedule an admin has loaded (installed by :func:`install_official_days`)."""
    return _loaded_years


def official_years() -> frozenset[int]:
    """Every year with an official schedule: the package's and the loaded ones."""
    return frozenset(covered_years()) | _loaded_years


def is_official(year: int) -> bool:
    """Whether ``year`` is counted on an official schedule (else on the statutory days alone: provisional)."""
    return year in _loaded_years or year in covered_years()


def provisional_span(a: dt.date, b: dt.date) -> bool:
    """Whether counting working days between ``a`` and ``b`` (either order) crosses a year with no official schedule."""
    lo, hi = (a, b) if a <= b else (b, a)
    return not all(is_official(year) for year in range(lo.year, hi.year + 1))


def install_official_days(days: Mapping[dt.date, bool], *, years: Iterable[int]) -> None:
    """Install the loaded schedules: ``days`` are the exceptions to Mon–Fri (a holiday ``False``, a 调休
    workday ``True``) of every year in ``years``, which replace whatever the package or the statutory
    days say of those years. Called by ``hub.calendar`` after a load and when a process reads the table;
    the caches are cleared, so the next question is answered from the new schedule.
    """
    global _loaded_days, _loaded_years
    years = frozenset(years)
    stray = sorted({d.year for d in days} - years)
    if stray:
        raise ValueError(f"days of years {stray} given without their year")
    _loaded_days = dict(days)
    _loaded_years = years
    is_workday.cache_clear()
    _year_prefix.cache_clear()


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> frozenset[dt.date]:
    """The days off that 《全国年节及纪念日放假办法》 (国务院令第795号, Art. 2) fixes for every citizen in ``year``.

    元旦 1 Jan; 春节 除夕 to 正月初三 (4 days: 除夕 is the day before 初一, the 29th or 30th of month 12);
    清明 (the solar term's day); 劳动节 1–2 May; 端午 (五月初五); 中秋 (八月十五); 国庆 1–3 Oct. The lunar days
    come from ``lunar_python``. Two may coincide (中秋 2028 is 3 October): the set holds the day once.
    """
    days = {dt.date(year, 1, 1), dt.date(year, 5, 1), dt.date(year, 5, 2)}
    days |= {dt.date(year, 10, d) for d in (1, 2, 3)}
    new_year = _solar(Lunar.fromYmd(year, 1, 1).getSolar())  # 正月初一 always falls in January or February
    days |= {new_year + dt.timedelta(days=k) for k in (-1, 0, 1, 2)}  # 除夕, 初一, 初二, 初三
    qingming = _solar(Solar.fromYmd(year, 4, 1).getLunar().getJieQiTable()["清明"])
    if qingming.year != year:  # the lunar year's table holds this year's 清明 (4 or 5 April)
        raise ValueError(f"清明 of {year} computed as {qingming}")
    days.add(qingming)
    days.add(_solar(Lunar.fromYmd(year, 5, 5).getSolar()))
    days.add(_solar(Lunar.fromYmd(year, 8, 15).getSolar()))
    return frozenset(days)


def year_exceptions(year: int) -> list[tuple[dt.date, bool, str | None]]:
    """The days of ``year`` that differ from Monday–Friday as the hub counts them now: (day, is a
    working day, the holiday's name where the source gives one), in order (``hub calendar show``)."""
    out: list[tuple[dt.date, bool, str | None]] = []
    day = dt.date(year, 1, 1)
    one = dt.timedelta(days=1)
    while day.year == year:
        work = is_workday(day)
        if work != (day.weekday() < 5):
            name = None
            if year in covered_years() and year not in _loaded_years:
                name = chinese_calendar.get_holiday_detail(day)[1]
            out.append((day, work, str(name) if name else None))
        day += one
    return out


def _solar(solar: Solar) -> dt.date:
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


@lru_cache(maxsize=8192)
def is_workday(d: dt.date) -> bool:
    """Whether ``d`` is a working day: Mon–Fri except official holidays, plus adjusted workdays (调休).

    A loaded year answers from its schedule; a year the package covers from the package; any other
    year Mon–Fri except the statutory days (:func:`statutory_holidays`), with a warning logged once
    per year — a date counted over such a year is provisional (:func:`provisional_span`).
    """
    if isinstance(d, dt.datetime):  # a datetime is a date subclass: use its calendar day
        d = d.date()
    if d.year in _loaded_years:
        return _loaded_days.get(d, d.weekday() < 5)
    if d.year in covered_years():
        return bool(chinese_calendar.is_workday(d))
    if d.year not in _warned_years:
        _warned_years.add(d.year)
        log.warning(
            "no official holiday calendar for %d (chinesecalendar %s, none loaded): counting Mon-Fri less the "
            "statutory holidays, deadlines provisional (load the %d schedule with `hub calendar load` once the "
            "State Council has published it)",
            d.year,
            getattr(chinese_calendar, "__version__", "?"),
            d.year,
        )
    return d.weekday() < 5 and d not in statutory_holidays(d.year)


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
