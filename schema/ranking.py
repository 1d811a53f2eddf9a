"""The town ranking in the graph (县对镇街考核): ``townRanking(county, from, to, orderBy)``.

The resolver checks nothing itself: ``hub.ranking`` validates the county and the period, refuses a
county outside the caller's jurisdiction (FORBIDDEN), and counts in SQL within it. Errors:
INVALID_IDENTIFIER (a malformed county code), BAD_USER_INPUT (not a county, a period backwards or
too long), NOT_FOUND (no such county), FORBIDDEN.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from hub import ranking
from hub.workdays import china_today
from schema.permissions import principal_of


@strawberry.enum(description="What the towns are ranked by (best first: high rates, few returns and overdue clues).")
class TownRankingOrder(Enum):
    COMPOSITE = ranking.RankingOrder.COMPOSITE.value
    CLOSED_ON_TIME_RATE = ranking.RankingOrder.CLOSED_ON_TIME_RATE.value
    SATISFACTION_RATE = ranking.RankingOrder.SATISFACTION_RATE.value
    RETURN_RATE = ranking.RankingOrder.RETURN_RATE.value
    OVERDUE = ranking.RankingOrder.OVERDUE.value
    RECEIVED = ranking.RankingOrder.RECEIVED.value


@strawberry.type(
    description="One town's row of the town ranking: the clues dispatched to it in the period, as they stand now."
)
class TownRank:
    rank: int = strawberry.field(
        description="1 for the best by the order asked; ties share a rank; towns without a value last."
    )
    code: str = strawberry.field(description="The town's 9-digit 统计用区划代码.")
    name: str
    received: int = strawberry.field(description="Clues dispatched (分办) to the town in the period.")
    closed: int = strawberry.field(description="Of those, closed (办结) by the town.")
    closed_on_time: int = strawberry.field(description="Of those closed, closed on or before the deadline.")
    overdue: int = strawberry.field(description="Still open at the town and past the deadline today.")
    returned: int = strawberry.field(description="Sent back (退回) by the town.")
    called_back: int = strawberry.field(description="Called back (回访) after the town closed them.")
    satisfied: int = strawberry.field(description="Called back with 满意 or 基本满意.")
    closed_on_time_rate: float | None = strawberry.field(description="closedOnTime / closed (null when none closed).")
    return_rate: float | None = strawberry.field(description="returned / received.")
    satisfaction_rate: float | None = strawberry.field(description="satisfied / calledBack (null before a call-back).")
    score: float | None = strawberry.field(
        description="Composite 0–100: 50 × closedOnTime/received + 30 × satisfactionRate + 20 × (1 − returnRate); "
        "without call-backs, the other two terms scaled to 100 (docs/domain.md, Town ranking)."
    )


@strawberry.type
class RankingQueries:
    @strawberry.field(
        description="县对镇街考核: the towns of `county` ranked on the clues dispatched to them from `from` to `to` "
        "(China's days, inclusive), as those clues stand today. Within your jurisdiction: the county or a level above."
    )
    async def town_ranking(
        self,
        info: Info,
        county: str,
        date_from: Annotated[dt.date, strawberry.argument(name="from")],
        date_to: Annotated[dt.date, strawberry.argument(name="to")],
        order_by: TownRankingOrder = TownRankingOrder.COMPOSITE,
    ) -> list[TownRank]:
        principal = principal_of(info)
        today = china_today()
        rows = await info.context.session.run_sync(
            lambda s: ranking.town_ranking(
                s,
                principal=principal,
                county=county,
                date_from=date_from,
                date_to=date_to,
                today=today,
                order_by=ranking.RankingOrder(order_by.value),
            )
        )
        return [
            TownRank(
                rank=r.rank,
                code=r.code,
                name=r.name,
                received=r.received,
                closed=r.closed,
                closed_on_time=r.closed_on_time,
                overdue=r.overdue,
                returned=r.returned,
                called_back=r.called_back,
                satisfied=r.satisfied,
                closed_on_time_rate=r.closed_on_time_rate,
                return_rate=r.return_rate,
                satisfaction_rate=r.satisfaction_rate,
                score=r.score,
            )
            for r in rows
        ]
