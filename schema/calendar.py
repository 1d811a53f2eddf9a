"""The holiday calendar in the graph: how a year's working days are counted (anyone may read it) and
the admin mutation that loads a year's official schedule. Resolvers look up, check and delegate to
``hub.holidays``, which validates, writes and audits; provisional deadlines are then recounted by the
``recompute_deadlines`` actor."""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy.orm import Session
from strawberry.types import Info

from hub import holidays
from hub.access import Action
from hub.actors import recompute_deadlines, send_soon
from schema.permissions import principal_of, requires


@strawberry.type(description="A day that differs from Monday–Friday: a holiday, or a weekend day worked (调休).")
class HolidayCalendarDay:
    date: dt.date
    is_workday: bool
    name: str | None


@strawberry.type(description="How a year's working days are counted.")
class HolidayCalendar:
    year: int
    basis: str = strawberry.field(
        description="loaded (an admin loaded the official notice), package (chinesecalendar's data) or statutory "
        "(no official schedule: weekends and the statutory holidays only, deadlines provisional)."
    )
    source: str | None
    loaded_at: dt.datetime | None
    days: list[HolidayCalendarDay]


@strawberry.type(description="What loading a year's official schedule did.")
class HolidayCalendarLoad:
    year: int
    holidays: int
    workdays: int = strawberry.field(description="Adjusted workdays (调休).")
    replaced: bool = strawberry.field(description="The year had been loaded before and was replaced.")
    missing_statutory: list[dt.date] = strawberry.field(
        description="Statutory holidays (全国年节及纪念日放假办法) the schedule does not list as holidays: check the notice."
    )


@strawberry.type
class CalendarQueries:
    @strawberry.field(description="How `year`'s working days are counted: its source and the days off Monday–Friday.")
    async def holiday_calendar(self, info: Info, year: int) -> HolidayCalendar:
        def read(s: Session) -> holidays.CalendarYear:
            holidays.sync_calendar(s)
            return holidays.show_year(s, year=year)

        cal = await info.context.session.run_sync(read)
        return HolidayCalendar(
            year=cal.year,
            basis=cal.basis,
            source=cal.source,
            loaded_at=cal.loaded_at,
            days=[HolidayCalendarDay(date=d, is_workday=w, name=n) for d, w, n in cal.days],
        )


@strawberry.type
class CalendarMutations:
    @strawberry.mutation(
        description="Load (or replace) a year's official holiday schedule (admin): `file` is the JSON of "
        "`hub calendar load` (year, source, holidays, workdays). Provisional deadlines are then recounted.",
        extensions=[requires(Action.MANAGE_CALENDAR, to="load the holiday calendar")],
    )
    async def load_holiday_calendar(self, info: Info, file: str) -> HolidayCalendarLoad:
        principal = principal_of(info)
        session = info.context.session
        result = await session.run_sync(
            lambda s: holidays.load_schedule(s, schedule=holidays.parse_schedule(file), principal=principal)
        )
        await session.commit()
        await session.run_sync(lambda s: holidays.sync_calendar(s, force=True))
        send_soon(recompute_deadlines, what="the recount of provisional deadlines")
        return HolidayCalendarLoad(
            year=result.year,
            holidays=result.holidays,
            workdays=result.workdays,
            replaced=result.replaced,
            missing_statutory=result.missing_statutory,
        )
