"""Aggregates for dashboards (驾驶舱): counts and sums of clues and warnings, grouped by region, channel,
month, colour, status …, computed by one ``GROUP BY`` in the database within the reader's jurisdiction.

A dashboard must never page through lists to count them: a city has tens of thousands of clues a year
and a province several hundred thousand. Each function here is one SELECT; the jurisdiction is added
by the session (``hub.access``), like every other read, so a county leader's figures are its county's.

Regions group by the level just below the region asked about (``under``): a province's figures by
city, a city's by county, a county's by town (9-digit codes). A clue recorded at the county itself
(its 6-digit code) stays in its own bucket, the county's code, when a county's figures are grouped
by town: nothing is dropped and every bucket is a region the caller may open.

Months are China's (``Asia/Shanghai``): a complaint received at 23:30 on 31 January (UTC 15:30) is
January's, not February's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from hub import models as m
from hub.access import NATIONAL
from hub.identifiers import region_prefix
from hub.vocab import WarningStatus
from hub.workdays import CST
from hub.workflow import CLOSED_STATES, overdue_clause

__all__ = [
    "ClueDimension",
    "ClueStat",
    "DateBasis",
    "WarningDimension",
    "WarningStat",
    "child_region",
    "china_month",
    "clue_stats",
    "period_bounds",
    "warning_stats",
]


class ClueDimension(StrEnum):
    """What clue figures may be grouped by."""

    REGION = "region"  # the subordinate region (see the module docstring)
    CHANNEL = "channel"  # the channel the clue first arrived through
    MONTH = "month"  # China month of the date basis (received or closed)
    COLOUR = "colour"  # supervision colour (hub.vocab.Colour); open clues only carry one
    STATUS = "status"  # hub.vocab.ClueStatus
    SECTOR = "sector"  # 工程建设 / 非工程


class WarningDimension(StrEnum):
    """What warning figures may be grouped by."""

    REGION = "region"
    RULE = "rule"
    LEVEL = "level"
    STATUS = "status"
    MONTH = "month"  # China month the warning was detected


class DateBasis(StrEnum):
    """Which date of a clue the period and the month refer to."""

    RECEIVED = "received"  # 受理: when it reached the hub's first channel
    CLOSED = "closed"  # 办结: when it was closed (clues not closed are left out)


@dataclass(frozen=True, slots=True)
class ClueStat:
    """One group of clues: its keys (only the dimensions asked for) and its figures."""

    keys: dict[str, str | None]
    count: int
    closed: int
    overdue: int
    amount: Decimal
    recovered_amount: Decimal
    workers_paid: int
    headcount: int


@dataclass(frozen=True, slots=True)
class WarningStat:
    """One group of warnings: its keys and how many are open (active) or escalated into clues."""

    keys: dict[str, str | None]
    count: int
    open: int
    escalated: int


class china_month(FunctionElement[str]):
    """``YYYY-MM`` of a UTC timestamp column, in China time (UTC+8, no daylight saving since 1991)."""

    type = String()
    inherit_cache = True


@compiles(china_month)
def _china_month_sqlite(element: china_month, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps timestamps as ISO text in UTC (hub.models._base.UtcDateTime).
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(china_month, "postgresql")
def _china_month_pg(element: china_month, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"


def child_region(column: Any, under: str) -> ColumnElement[str]:
    """The code of the region just below ``under`` that a row's ``column`` lies in.

    Country → provinces (``37`` + ``0000``), province → cities (``3708`` + ``00``), city → counties
    (6 digits), county → towns (9 digits), town → villages (12 digits).
    """
    if under == NATIONAL:
        return func.substr(column, 1, 2).concat(literal("0000"))
    prefix = len(region_prefix(under))
    if prefix == 2:
        return func.substr(column, 1, 4).concat(literal("00"))
    if prefix == 4:
        return func.substr(column, 1, 6)
    if prefix == 6:
        return func.substr(column, 1, 9)
    return func.substr(column, 1, 12)


def period_bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """China days ``start`` … ``end`` (inclusive) as a half-open UTC range ``[lo, hi)``."""
    lo = dt.datetime.combine(start, dt.time(), CST).astimezone(dt.UTC) if start else None
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), CST).astimezone(dt.UTC) if end else None
    return lo, hi


def clue_stats(
    session: Session,
    *,
    group_by: Sequence[ClueDimension],
    under: str,
    today: dt.date,
    conditions: Sequence[ColumnElement[bool]] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    basis: DateBasis = DateBasis.RECEIVED,
) -> list[ClueStat]:
    """Clue figures grouped by ``group_by`` (in that order), for clues matching ``conditions`` whose
    ``basis`` date lies in ``start`` … ``end`` (China days, inclusive).

    ``under`` is the region whose subordinate regions the ``REGION`` dimension names (the caller's
    jurisdiction or a region inside it). Merged clues (their records moved to another clue) are not
    counted twice: they are left out. ``overdue`` is as of ``today`` (``hub.workflow.is_overdue``).
    """
    c = m.Clue
    at = c.received_at if basis is DateBasis.RECEIVED else c.closed_at
    dims: dict[ClueDimension, Any] = {
        ClueDimension.REGION: child_region(c.region_code, under),
        ClueDimension.CHANNEL: c.channel,
        ClueDimension.MONTH: china_month(at),
        ClueDimension.COLOUR: c.colour,
        ClueDimension.STATUS: c.status,
        ClueDimension.SECTOR: c.sector,
    }
    keys = [dims[d].label(d.value) for d in dict.fromkeys(group_by)]
    closed = c.status.in_(sorted(CLOSED_STATES))
    stmt = (
        select(
            *keys,
            func.count().label("count"),
            func.coalesce(func.sum(case((closed, 1), else_=0)), 0).label("closed"),
            func.coalesce(func.sum(case((overdue_clause(today=today), 1), else_=0)), 0).label("overdue"),
            func.coalesce(func.sum(c.amount), 0).label("amount"),
            func.coalesce(func.sum(c.recovered_amount), 0).label("recovered_amount"),
            func.coalesce(func.sum(c.workers_paid), 0).label("workers_paid"),
            func.coalesce(func.sum(c.headcount), 0).label("headcount"),
        )
        .where(c.merged_into_id.is_(None), *conditions)
        .group_by(*keys)
        .order_by(*keys)
    )
    lo, hi = period_bounds(start, end)
    if basis is DateBasis.CLOSED:
        stmt = stmt.where(at.is_not(None))
    if lo is not None:
        stmt = stmt.where(at >= lo)
    if hi is not None:
        stmt = stmt.where(at < hi)
    return [
        ClueStat(
            keys={k.name: row._mapping[k.name] for k in keys},
            count=int(row._mapping["count"]),
            closed=int(row.closed),
            overdue=int(row.overdue),
            amount=Decimal(row.amount),
            recovered_amount=Decimal(row.recovered_amount),
            workers_paid=int(row.workers_paid),
            headcount=int(row.headcount),
        )
        for row in session.execute(stmt)
    ]


def warning_stats(
    session: Session,
    *,
    group_by: Sequence[WarningDimension],
    under: str,
    conditions: Sequence[ColumnElement[bool]] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[WarningStat]:
    """Warning figures grouped by ``group_by``, for warnings matching ``conditions`` detected in
    ``start`` … ``end`` (China days, inclusive)."""
    w = m.Warning
    dims: dict[WarningDimension, Any] = {
        WarningDimension.REGION: child_region(w.region_code, under),
        WarningDimension.RULE: w.rule_code,
        WarningDimension.LEVEL: w.level,
        WarningDimension.STATUS: w.status,
        WarningDimension.MONTH: china_month(w.detected_at),
    }
    keys = [dims[d].label(d.value) for d in dict.fromkeys(group_by)]
    stmt = (
        select(
            *keys,
            func.count().label("count"),
            func.coalesce(func.sum(case((w.status == WarningStatus.ACTIVE, 1), else_=0)), 0).label("open"),
            func.coalesce(func.sum(case((w.status == WarningStatus.ESCALATED, 1), else_=0)), 0).label("escalated"),
        )
        .where(*conditions)
        .group_by(*keys)
        .order_by(*keys)
    )
    lo, hi = period_bounds(start, end)
    if lo is not None:
        stmt = stmt.where(w.detected_at >= lo)
    if hi is not None:
        stmt = stmt.where(w.detected_at < hi)
    return [
        WarningStat(
            keys={k.name: row._mapping[k.name] for k in keys},
            count=int(row._mapping["count"]),
            open=int(row.open),
            escalated=int(row.escalated),
        )
        for row in session.execute(stmt)
    ]
