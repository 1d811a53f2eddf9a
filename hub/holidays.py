"""The official holiday calendar an admin loads: a year's schedule (holidays and 调休 workdays).

The State Council publishes each year's schedule in November for the next year; until the
``chinesecalendar`` package has it, deadlines into that year are provisional (hub.workdays). An admin
loads the notice from a small JSON file (``hub calendar load FILE``, or the ``loadHolidayCalendar``
mutation) and the loaded year then overrides the package and the statutory days; the clues whose
deadlines were provisional are recounted (hub.deadlines.recompute_provisional, by the
``recompute_deadlines`` actor). The file::

    {
      "year": 2027,
      "source": "国务院办公厅关于2027年部分节假日安排的通知",
      "holidays": [
        "2027-01-01",
        {"date": "2027-04-05", "name": "清明节"},
        {"from": "2027-02-05", "to": "2027-02-12", "name": "春节"}
      ],
      "workdays": [{"date": "2027-02-14", "name": "春节调休"}]
    }

``holidays`` are the days off (a date, ``{"date", "name"}`` or a range ``{"from", "to", "name"}``,
weekends inside a range included, as the notice counts them); ``workdays`` the Saturdays and Sundays
worked instead (调休). Every other day follows Monday–Friday. Every date must lie in ``year``, no day
may be listed twice, an adjusted workday must be a Saturday or Sunday, and ``holidays`` may not be
empty; a statutory day (《全国年节及纪念日放假办法》) missing from ``holidays`` is reported, not refused.
Loading a year again replaces it.

Each process holds the loaded schedules in memory (hub.workdays keeps ``is_workday`` O(1));
:func:`sync_calendar` reinstalls them when the table changed, which the load's caller, the app at
start and the scheduled actors ask for.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, func, select

from hub import models as m
from hub.access import Action, Principal, audit, require
from hub.errors import InvalidInput
from hub.models import utcnow
from hub.workdays import covered_years, install_official_days, statutory_holidays, year_exceptions

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult
    from sqlalchemy.orm import Session

__all__ = [
    "CalendarYear",
    "LoadResult",
    "Schedule",
    "forget",
    "load_schedule",
    "parse_schedule",
    "show_year",
    "sync_calendar",
]

_KEYS = ("year", "source", "holidays", "workdays")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: A range longer than this is a typo (the longest official break is 春节's 8 or 9 days).
_MAX_RANGE_DAYS = 15


@dataclass(frozen=True)
class Schedule:
    """A year's official schedule as read from a file: each listed day and its name, if any."""

    year: int
    source: str
    holidays: Mapping[dt.date, str | None]
    workdays: Mapping[dt.date, str | None]


@dataclass(frozen=True)
class LoadResult:
    """What a load did: the year, how many days of each kind, whether it replaced a loaded year, and
    the statutory days the file does not list as holidays (worth a second look at the notice)."""

    year: int
    holidays: int
    workdays: int
    replaced: bool
    missing_statutory: list[dt.date] = field(default_factory=list)


def _bad(message: str, *, field: str, value: Any = None) -> InvalidInput:
    return InvalidInput(
        message,
        field=field,
        value=value,
        suggestion="see `hub calendar load --help` for the file format (hub/holidays.py)",
    )


def _date(value: Any, *, where: str, year: int) -> dt.date:
    if not isinstance(value, str):
        raise _bad(f"{where}: {value!r} is not a date (YYYY-MM-DD)", field=where, value=value)
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise _bad(f"{where}: {value!r} is not a date (YYYY-MM-DD)", field=where, value=value) from None
    if day.year != year:
        raise _bad(f"{where}: {day} is not in {year}", field=where, value=value)
    return day


def _entries(raw: Any, *, key: str, year: int) -> list[tuple[dt.date, str | None, str]]:
    """The days of one list, each with its name and where it was written (``holidays[2]``)."""
    if not isinstance(raw, list):
        raise _bad(f"{key} must be a list of dates", field=key)
    out: list[tuple[dt.date, str | None, str]] = []
    for i, entry in enumerate(raw):
        where = f"{key}[{i}]"
        if isinstance(entry, str):
            out.append((_date(entry, where=where, year=year), None, where))
            continue
        if not isinstance(entry, dict):
            raise _bad(f"{where}: {entry!r} is not a date or an object", field=where, value=entry)
        unknown = sorted(set(entry) - {"date", "from", "to", "name"})
        if unknown:
            raise _bad(f"{where}: unknown key {unknown[0]!r} (expected date, or from and to; name)", field=where)
        name = entry.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 40):
            raise _bad(f"{where}.name must be text of at most 40 characters", field=f"{where}.name", value=name)
        if "date" in entry and ("from" in entry or "to" in entry):
            raise _bad(f"{where}: give either date or from and to, not both", field=where)
        if "date" in entry:
            out.append((_date(entry["date"], where=f"{where}.date", year=year), name, where))
            continue
        if "from" not in entry or "to" not in entry:
            raise _bad(f"{where}: a range needs both from and to", field=where)
        first = _date(entry["from"], where=f"{where}.from", year=year)
        last = _date(entry["to"], where=f"{where}.to", year=year)
        if last < first:
            raise _bad(f"{where}: to {last} is before from {first}", field=where)
        if (last - first).days >= _MAX_RANGE_DAYS:
            raise _bad(f"{where}: {first} to {last} is longer than {_MAX_RANGE_DAYS} days", field=where)
        out.extend((first + dt.timedelta(days=k), name, where) for k in range((last - first).days + 1))
    return out


def parse_schedule(text: str) -> Schedule:
    """Read and validate a schedule file's text; ``InvalidInput`` saying what is wrong, and where."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(f"the calendar file is not JSON: {exc.msg} at line {exc.lineno}", field="file") from None
    if not isinstance(doc, dict):
        raise _bad("the calendar file must hold one object with year, source, holidays and workdays", field="file")
    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        raise _bad(f"unknown key {unknown[0]!r} (expected {', '.join(_KEYS)})", field=unknown[0])
    year = doc.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise _bad(f"year must be a year from 2000 to 2100, got {year!r}", field="year", value=year)
    source = doc.get("source")
    if not isinstance(source, str) or not source.strip() or len(source.strip()) > 200:
        raise _bad(
            "source must name the notice the schedule comes from (at most 200 characters)",
            field="source",
            value=source,
        )
    holidays = _entries(doc.get("holidays"), key="holidays", year=year)
    workdays = _entries(doc.get("workdays", []), key="workdays", year=year)
    if not holidays:
        raise _bad(
            f"holidays is empty: a year's schedule has its holidays (元旦 {year}-01-01 at least)", field="holidays"
        )
    seen: dict[dt.date, str] = {}
    for day, _name, where in holidays + workdays:
        if day in seen:
            raise _bad(f"{day} is listed twice ({seen[day]} and {where})", field=where, value=str(day))
        seen[day] = where
    for day, _name, where in workdays:
        if day.weekday() < 5:
            raise _bad(
                f"{where}: {day} is a {_WEEKDAYS[day.weekday()]}, a working day anyway: "
                "an adjusted workday (调休) is a Saturday or Sunday",
                field=where,
                value=str(day),
            )
    return Schedule(
        year=year,
        source=source.strip(),
        holidays={d: n for d, n, _ in holidays},
        workdays={d: n for d, n, _ in workdays},
    )


def load_schedule(
    session: Session, *, schedule: Schedule, principal: Principal, now: dt.datetime | None = None
) -> LoadResult:
    """Store ``schedule`` (replacing a year loaded before), audited, in the caller's transaction.

    The caller commits, then calls :func:`sync_calendar` and has the provisional deadlines recounted
    (the ``recompute_deadlines`` actor, or ``hub.deadlines.recompute_provisional``).
    """
    require(principal, Action.MANAGE_CALENDAR, what="load the holiday calendar")
    at = now or utcnow()
    deleted = session.execute(delete(m.CalendarDay).where(m.CalendarDay.year == schedule.year))
    replaced = cast("CursorResult[Any]", deleted).rowcount  # a DELETE's result is a cursor's
    rows = [(d, False, n) for d, n in schedule.holidays.items()] + [(d, True, n) for d, n in schedule.workdays.items()]
    session.add_all(
        m.CalendarDay(
            day=d,
            year=schedule.year,
            is_workday=work,
            name=name,
            source=schedule.source,
            loaded_at=at,
            loaded_by=principal.name,
        )
        for d, work, name in sorted(rows)
    )
    missing = sorted(statutory_holidays(schedule.year) - set(schedule.holidays))
    audit(
        session,
        principal=principal,
        action="calendar.load",
        entity_type="calendar_year",
        entity_id=schedule.year,
        detail={
            "year": schedule.year,
            "source": schedule.source,
            "holidays": len(schedule.holidays),
            "workdays": len(schedule.workdays),
            "replaced": bool(replaced),
            "missingStatutory": [str(d) for d in missing],
        },
        at=at,
    )
    session.flush()
    return LoadResult(
        year=schedule.year,
        holidays=len(schedule.holidays),
        workdays=len(schedule.workdays),
        replaced=bool(replaced),
        missing_statutory=missing,
    )


@dataclass(frozen=True)
class CalendarYear:
    """A year as the hub counts it: where its schedule comes from and its exceptions to Monday–Friday."""

    year: int
    #: ``loaded`` (an admin's file), ``package`` (chinesecalendar) or ``statutory`` (provisional).
    basis: str
    source: str | None
    loaded_at: dt.datetime | None
    days: list[tuple[dt.date, bool, str | None]]  # (day, is a working day, name)


def show_year(session: Session, *, year: int) -> CalendarYear:
    """The schedule ``year`` is counted on: the loaded days, else the package's, else the statutory days."""
    if not 1900 <= year <= 2200:
        raise InvalidInput(f"year must be a year from 1900 to 2200, got {year}", field="year", value=year)
    rows = session.execute(
        select(m.CalendarDay).where(m.CalendarDay.year == year).order_by(m.CalendarDay.day)
    ).scalars()
    loaded = list(rows)
    if loaded:
        return CalendarYear(
            year=year,
            basis="loaded",
            source=loaded[0].source,
            loaded_at=loaded[0].loaded_at,
            days=[(r.day, r.is_workday, r.name) for r in loaded],
        )
    basis = "package" if year in covered_years() else "statutory"
    return CalendarYear(
        year=year,
        basis=basis,
        source="chinesecalendar" if basis == "package" else "《全国年节及纪念日放假办法》",
        loaded_at=None,
        days=year_exceptions(year),
    )


_lock = threading.Lock()
_installed: tuple[int, dt.datetime | None] | None = None


def sync_calendar(session: Session, *, force: bool = False) -> bool:
    """Install the loaded schedules into hub.workdays when ``calendar_days`` changed since this process
    last read it (one small aggregate query otherwise); returns whether it installed."""
    global _installed
    count, latest = session.execute(select(func.count(), func.max(m.CalendarDay.loaded_at))).one()
    seen = (int(count), latest)
    with _lock:
        if not force and seen == _installed:
            return False
        rows = session.execute(select(m.CalendarDay.day, m.CalendarDay.year, m.CalendarDay.is_workday)).all()
        install_official_days({d: work for d, _y, work in rows}, years=_years(rows))
        _installed = seen
    return True


def _years(rows: Iterable[Any]) -> set[int]:
    return {year for _d, year, _w in rows}


def forget() -> None:
    """Drop the schedules this process installed (a process moving to another database; tests)."""
    global _installed
    with _lock:
        install_official_days({}, years=())
        _installed = None
