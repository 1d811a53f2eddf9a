"""``stats``: the dashboard's aggregates (驾驶舱), one ``GROUP BY`` each within the caller's jurisdiction.

The figures answer "how many, how much" without paging lists: ``stats { clues(groupBy: [CHANNEL]) { … } }``.
Every group carries the filter that reproduces it, so a front-end links a figure to the list behind
it: ``clues(filter: …)`` with the same ``filter`` plus the group's keys gives exactly the clues counted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, TypeVar, cast

import strawberry
from strawberry.types import Info

from hub import models as m
from hub import stats
from hub.errors import Forbidden, InvalidIdentifier, InvalidInput
from hub.identifiers import IdentifierError, validate_region_code
from hub.stats import ClueDimension, DateBasis, WarningDimension
from hub.vocab import Channel, ClueStatus, Colour, WarningStatus
from hub.workdays import china_today
from schema.filters import ClueFilter, WarningFilter
from schema.permissions import principal_of

strawberry.enum(ClueDimension, description="What clue figures may be grouped by.")
strawberry.enum(WarningDimension, description="What warning figures may be grouped by.")
strawberry.enum(
    DateBasis, description="Which date of a clue the period and MONTH refer to: RECEIVED (受理) or CLOSED (办结)."
)

E = TypeVar("E", bound=StrEnum)
D = TypeVar("D", ClueDimension, WarningDimension)


def _term(vocabulary: type[E], value: str | None) -> E | None:
    """The vocabulary's member for a stored value (None for a group without that key)."""
    return None if value is None else cast(E, vocabulary._value2member_map_[value])


#: At most this many dimensions at once (a dashboard groups by one or two; five would be a list).
MAX_DIMENSIONS = 3


@strawberry.type(description="One group of clues: its keys (the dimensions asked for; the rest null) and figures.")
class ClueStatGroup:
    region_code: str | None = strawberry.field(description="The subordinate region (REGION).")
    region_name: str | None
    channel: Channel | None
    month: str | None = strawberry.field(description="YYYY-MM, China time (MONTH).")
    colour: Colour | None
    status: ClueStatus | None
    sector: str | None
    count: int
    closed: int = strawberry.field(description="Closed (办结) or called back (回访).")
    overdue: int = strawberry.field(description="Open and past the current stage's deadline, today.")
    amount: Decimal = strawberry.field(description="Amount in arrears the complaints named (yuan).")
    recovered_amount: Decimal = strawberry.field(description="Recovered for the workers (yuan).")
    workers_paid: int
    headcount: int = strawberry.field(description="Workers the complaints named.")


@strawberry.type(description="One group of warnings: its keys and figures.")
class WarningStatGroup:
    region_code: str | None
    region_name: str | None
    rule_code: str | None
    level: Colour | None
    status: WarningStatus | None
    month: str | None = strawberry.field(description="YYYY-MM the warnings were detected, China time.")
    count: int
    open: int = strawberry.field(description="Still active.")
    escalated: int = strawberry.field(description="Escalated into the clue pool (预警转线索).")


def _under(info: Info, region_code: str | None) -> str:
    """The region whose subordinates REGION groups by: the one asked for, within the jurisdiction."""
    principal = principal_of(info)
    if region_code is None:
        return principal.region_code
    try:
        code = validate_region_code(region_code, field="regionCode")
    except IdentifierError as exc:
        raise InvalidIdentifier(str(exc), field=exc.field, value=exc.value) from exc
    if not principal.covers(code):
        raise Forbidden(
            f"region {code} is outside your jurisdiction ({principal.region_code})",
            suggestion="ask for a region at or below your own",
        )
    return code


def _dimensions(group_by: list[D]) -> list[D]:
    if len(set(group_by)) > MAX_DIMENSIONS:
        raise InvalidInput(f"groupBy names {len(set(group_by))} dimensions; at most {MAX_DIMENSIONS}", field="groupBy")
    return group_by


async def _names(info: Info, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    loader = info.context.loaders.by_id(m.Region, "code")
    regions = await loader.load_many(sorted(codes))
    return {r.code: r.name for r in regions if r is not None}


@strawberry.type(description="Aggregates for dashboards, within your jurisdiction.")
class Stats:
    @strawberry.field(
        description="Clue figures grouped by up to three dimensions. `filter` narrows the clues as `clues(filter:)` "
        "does; `from` / `to` (China days, inclusive) bound the date `dateBy` names. Merged clues are not counted."
    )
    async def clues(
        self,
        info: Info,
        group_by: list[ClueDimension],
        filter: ClueFilter | None = None,
        from_: Annotated[dt.date | None, strawberry.argument(name="from")] = None,
        to: dt.date | None = None,
        date_by: DateBasis = DateBasis.RECEIVED,
        region_code: Annotated[
            str | None,
            strawberry.argument(description="The region whose subordinate regions REGION names (default: yours)."),
        ] = None,
    ) -> list[ClueStatGroup]:
        principal = principal_of(info)
        today = china_today()
        dims = _dimensions(group_by)
        under = _under(info, region_code)
        cond = filter.conditions(today=today, may_unmask=principal.can_unmask) if filter else []
        if region_code is not None:
            cond += ClueFilter(region_code=under).conditions(today=today, may_unmask=False)
        rows = await info.context.session.run_sync(
            lambda s: stats.clue_stats(
                s,
                group_by=dims,
                under=under,
                today=today,
                conditions=cond,
                start=from_,
                end=to,
                basis=date_by,
            )
        )
        names = await _names(info, {r.keys["region"] for r in rows if r.keys.get("region")})
        return [
            ClueStatGroup(
                region_code=r.keys.get("region"),
                region_name=names.get(r.keys.get("region") or ""),
                channel=_term(Channel, r.keys.get("channel")),
                month=r.keys.get("month"),
                colour=_term(Colour, r.keys.get("colour")),
                status=_term(ClueStatus, r.keys.get("status")),
                sector=r.keys.get("sector"),
                count=r.count,
                closed=r.closed,
                overdue=r.overdue,
                amount=r.amount,
                recovered_amount=r.recovered_amount,
                workers_paid=r.workers_paid,
                headcount=r.headcount,
            )
            for r in rows
        ]

    @strawberry.field(
        description="Warning figures grouped by up to three dimensions; `from` / `to` bound the day detected."
    )
    async def warnings(
        self,
        info: Info,
        group_by: list[WarningDimension],
        filter: WarningFilter | None = None,
        from_: Annotated[dt.date | None, strawberry.argument(name="from")] = None,
        to: dt.date | None = None,
        region_code: Annotated[
            str | None,
            strawberry.argument(description="The region whose subordinate regions REGION names (default: yours)."),
        ] = None,
    ) -> list[WarningStatGroup]:
        dims = _dimensions(group_by)
        under = _under(info, region_code)
        cond = filter.conditions() if filter else []
        if region_code is not None:
            cond += WarningFilter(region_code=under).conditions()
        rows = await info.context.session.run_sync(
            lambda s: stats.warning_stats(s, group_by=dims, under=under, conditions=cond, start=from_, end=to)
        )
        names = await _names(info, {r.keys["region"] for r in rows if r.keys.get("region")})
        return [
            WarningStatGroup(
                region_code=r.keys.get("region"),
                region_name=names.get(r.keys.get("region") or ""),
                rule_code=r.keys.get("rule"),
                level=_term(Colour, r.keys.get("level")),
                status=_term(WarningStatus, r.keys.get("status")),
                month=r.keys.get("month"),
                count=r.count,
                open=r.open,
                escalated=r.escalated,
            )
            for r in rows
        ]


@strawberry.type
class StatsQueries:
    @strawberry.field(description="Aggregates for dashboards (驾驶舱): counts and sums by region, channel, month …")
    def stats(self) -> Stats:
        return Stats()
