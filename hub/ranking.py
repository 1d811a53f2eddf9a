"""The town ranking (县对镇街考核): how the towns of one county handled the clues it handed down to them.

A county dispatches (分办) wage clues to its towns (街道 / 镇 / 乡); the county's leaders compare the
towns on what became of those clues (docs/domain.md, "Town ranking"). The cohort of a town is every
clue dispatched to it within the period (the ``dispatch`` case action's day, China's calendar), each
counted once however often it was dispatched there; each clue is judged on where it stands now:

- **received**: clues in the cohort;
- **closed**: closed (办结, or called back since) while the town handled it;
- **closedOnTime**: of those, closed on or before the deadline of its last stage (``Clue.deadline``
  after closing is the date the closing is measured against, hub.deadlines), on China's calendar;
- **overdue**: still open at the town and past its deadline on ``today`` (hub.workflow.overdue_clause);
- **returned**: the town sent it back (退回) at least once;
- **calledBack** / **satisfied**: called back (回访) after the town closed it / and the complainant said
  满意 or 基本满意.

Rates: ``closedOnTimeRate`` = closedOnTime / closed, ``returnRate`` = returned / received,
``satisfactionRate`` = satisfied / calledBack; none when the denominator is 0.

**Composite score** (0–100, our proposal): 50 × closedOnTime / received + 30 × satisfactionRate +
20 × (1 − returnRate). Timely closing is what the 根治欠薪 assessment and the 12345 rules measure
first, so it weighs most, counted over *received* clues so that a clue left open, closed late or
pushed back counts against the town; the complainant's satisfaction is the call-back's verdict; a
return (退回) pushes work back up to the county and is discouraged on its own too. Overdue-now is
not a term of its own: an overdue clue is already one not closed on time. A town with no call-back
yet is scored on the other two terms (their weights scaled up to 100); a town that received nothing
has no score. The caller may instead rank by any single metric (``RankingOrder``).

The counts are one ``GROUP BY`` in SQL over the case actions and clues, within the caller's
jurisdiction (the session's principal, hub.access); only the per-town rows (one per town of the
county, a few dozen) are ranked in Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, and_, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from hub import models as m
from hub.errors import Forbidden, InvalidIdentifier, InvalidInput, NotFound
from hub.identifiers import IdentifierError, region_level, validate_region_code
from hub.vocab import ClueStatus, Satisfaction
from hub.workdays import CST
from hub.workflow import CLOSED_STATES, overdue_clause

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from sqlalchemy.sql.compiler import SQLCompiler

    from hub.access import Principal

__all__ = ["MAX_PERIOD_DAYS", "WEIGHTS", "RankingOrder", "TownScore", "town_ranking"]

#: The composite's weights (see the module's docstring): on-time closing of received clues, call-back
#: satisfaction, and not returning.
WEIGHTS = {"on_time": 50, "satisfaction": 30, "not_returned": 20}
#: A ranking covers at most this many days (two years): longer is a typing error, and a slow query.
MAX_PERIOD_DAYS = 731
#: Call-back answers that count as satisfied.
SATISFIED = (Satisfaction.SATISFIED.value, Satisfaction.BASICALLY_SATISFIED.value)


class RankingOrder(StrEnum):
    """What the towns are ranked by; each is ranked best first (high rates, few returns and overdue)."""

    COMPOSITE = "composite"
    CLOSED_ON_TIME_RATE = "closed_on_time_rate"
    SATISFACTION_RATE = "satisfaction_rate"
    RETURN_RATE = "return_rate"
    OVERDUE = "overdue"
    RECEIVED = "received"


#: Orders where a smaller value ranks higher.
_ASCENDING = frozenset({RankingOrder.RETURN_RATE, RankingOrder.OVERDUE})


@dataclass(frozen=True, slots=True)
class TownScore:
    """One town's row of the ranking."""

    code: str
    name: str
    received: int
    closed: int
    closed_on_time: int
    overdue: int
    returned: int
    called_back: int
    satisfied: int
    closed_on_time_rate: float | None
    return_rate: float | None
    satisfaction_rate: float | None
    score: float | None
    #: 1 for the best; towns tied on the order's value share a rank; towns without a value come last.
    rank: int


class china_date(FunctionElement[dt.date]):
    """The China (UTC+8) calendar day of a UTC timestamp column, in SQL."""

    type = Date()
    inherit_cache = True


@compiles(china_date)
def _china_date_sqlite(element: china_date, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps timestamps as UTC text (hub.models._base.UtcDateTime) and dates as ISO text.
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(china_date, "postgresql")
def _china_date_pg(element: china_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'Asia/Shanghai') AS DATE)"


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _score(received: int, on_time: int, satisfaction: float | None, return_rate: float | None) -> float | None:
    """The composite (module docstring): weights of the terms that have a value, scaled to 100."""
    if received == 0 or return_rate is None:
        return None
    terms = [(WEIGHTS["on_time"], on_time / received), (WEIGHTS["not_returned"], 1 - return_rate)]
    if satisfaction is not None:
        terms.append((WEIGHTS["satisfaction"], satisfaction))
    total = sum(w for w, _ in terms)
    return round(100 * sum(w * v for w, v in terms) / total, 2)


def _value(row: TownScore, order: RankingOrder) -> float | None:
    return {
        RankingOrder.COMPOSITE: row.score,
        RankingOrder.CLOSED_ON_TIME_RATE: row.closed_on_time_rate,
        RankingOrder.SATISFACTION_RATE: row.satisfaction_rate,
        RankingOrder.RETURN_RATE: row.return_rate,
        RankingOrder.OVERDUE: float(row.overdue),
        RankingOrder.RECEIVED: float(row.received),
    }[order]


def _county(session: Session, county: str, principal: Principal) -> str:
    try:
        code = validate_region_code(county, field="county")
    except IdentifierError as exc:
        raise InvalidIdentifier(str(exc), field="county", value=county) from exc
    level = region_level(code)
    if level != "county" or len(code) != 6:
        raise InvalidInput(
            f"county {county!r} is a {level}: the ranking compares the towns of one county",
            field="county",
            value=county,
            suggestion="give a 6-digit county code, e.g. 370811",
        )
    if session.get(m.Region, code) is None:
        raise NotFound(f"no county {code} in the region list", field="county", value=code)
    if not principal.covers(code):
        raise Forbidden(
            f"county {code} is outside your jurisdiction {principal.region_code}",
            suggestion="the county, or a level above it, ranks the county's towns",
        )
    return code


def town_ranking(
    session: Session,
    *,
    principal: Principal,
    county: str,
    date_from: dt.date,
    date_to: dt.date,
    today: dt.date,
    order_by: RankingOrder = RankingOrder.COMPOSITE,
) -> list[TownScore]:
    """Every town of ``county`` with its counts, rates, score and rank for clues dispatched to it from
    ``date_from`` to ``date_to`` (inclusive, China's days), as they stand on ``today``; best first.

    ``session`` must carry ``principal`` (hub.access.bind_principal): the counts see only what it may.
    """
    code = _county(session, county, principal)
    if date_to < date_from:
        raise InvalidInput(f"to {date_to} is before from {date_from}", field="to", value=str(date_to))
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"the period {date_from} to {date_to} is longer than {MAX_PERIOD_DAYS} days", field="to", value=str(date_to)
        )
    towns = session.execute(
        select(m.Region.code, m.Region.name)
        .where(m.Region.parent_code == code, m.Region.level == "town")
        .order_by(m.Region.code)
    ).all()
    if not towns:
        return []
    codes = [t.code for t in towns]
    start = dt.datetime.combine(date_from, dt.time(), CST).astimezone(dt.UTC)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), CST).astimezone(dt.UTC)
    ca, c = m.CaseAction, m.Clue
    handed = (
        select(ca.to_region_code.label("town"), ca.clue_id.label("clue_id"))
        .where(ca.action == "dispatch", ca.to_region_code.in_(codes), ca.at >= start, ca.at < end)
        .distinct()
        .subquery("handed")
    )
    returned = (
        select(ca.from_region_code.label("town"), ca.clue_id.label("clue_id"))
        .where(ca.action == "return", ca.from_region_code.in_(codes))
        .distinct()
        .subquery("returned")
    )
    here = c.handling_region_code == handed.c.town
    closed = here & c.status.in_(sorted(CLOSED_STATES))
    called_back = here & (c.status == ClueStatus.CALLED_BACK.value) & c.satisfaction.is_not(None)

    def count_if(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    stmt = (
        select(
            handed.c.town,
            func.count().label("received"),
            count_if(closed).label("closed"),
            count_if(closed & c.closed_at.is_not(None) & (china_date(c.closed_at) <= c.deadline)).label("on_time"),
            count_if(here & overdue_clause(today=today)).label("overdue"),
            count_if(returned.c.clue_id.is_not(None)).label("returned"),
            count_if(called_back).label("called_back"),
            count_if(called_back & c.satisfaction.in_(SATISFIED)).label("satisfied"),
        )
        .select_from(handed)
        .join(c, c.id == handed.c.clue_id)
        .outerjoin(returned, and_(returned.c.clue_id == handed.c.clue_id, returned.c.town == handed.c.town))
        .group_by(handed.c.town)
    )
    counts = {r.town: r for r in session.execute(stmt)}
    rows = []
    for town in towns:
        r = counts.get(town.code)
        n = [int(getattr(r, k)) if r is not None else 0 for k in ("received", "closed", "on_time", "overdue")]
        received, closed_n, on_time, overdue = n
        returned_n, called, satisfied = (
            (int(r.returned), int(r.called_back), int(r.satisfied)) if r is not None else (0, 0, 0)
        )
        return_rate, satisfaction = _rate(returned_n, received), _rate(satisfied, called)
        rows.append(
            TownScore(
                code=town.code,
                name=town.name,
                received=received,
                closed=closed_n,
                closed_on_time=on_time,
                overdue=overdue,
                returned=returned_n,
                called_back=called,
                satisfied=satisfied,
                closed_on_time_rate=_rate(on_time, closed_n),
                return_rate=return_rate,
                satisfaction_rate=satisfaction,
                score=_score(received, on_time, satisfaction, return_rate),
                rank=0,
            )
        )
    return _ranked(rows, RankingOrder(order_by))


def _ranked(rows: list[TownScore], order: RankingOrder) -> list[TownScore]:
    """``rows`` best first by ``order``, with competition ranks (1, 1, 3); rows without a value last."""
    sign = 1 if order in _ASCENDING else -1
    valued = sorted((r for r in rows if _value(r, order) is not None), key=lambda r: (sign * _value(r, order), r.code))  # type: ignore[operator]
    out: list[TownScore] = []
    for i, row in enumerate(valued):
        same = out and _value(out[-1], order) == _value(row, order)
        out.append(replace(row, rank=out[-1].rank if same else i + 1))
    last = len(valued) + 1
    out += [replace(r, rank=last) for r in sorted(rows, key=lambda r: r.code) if _value(r, order) is None]
    return out
