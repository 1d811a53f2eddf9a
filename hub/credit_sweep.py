"""The credit sweep: end the blacklist listings that are over, rate the enterprises from the evidence,
keep their rows in step — what the hourly ``refresh_credit_levels`` actor, ``hub credit rate`` and the
end of seeding run (``hub.blacklist``, ``hub.credit``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hub.access import Action, require
from hub.access import audit as audit_row
from hub.blacklist import expire_listings
from hub.credit import RatingReport, rate_enterprises, sync_enterprises

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.access import Principal

__all__ = ["SweepReport", "sweep"]


@dataclass
class SweepReport:
    """What a sweep did: listings ended, ratings per year, enterprises whose row changed."""

    expired: list[int] = field(default_factory=list)
    ratings: list[RatingReport] = field(default_factory=list)
    enterprises_changed: int = 0


def sweep(
    session: Session,
    *,
    today: dt.date,
    years: Iterable[int] | None = None,
    enterprise_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
    principal: Principal | None = None,
) -> SweepReport:
    """Expire listings, rate ``years`` (default: last year and this year) for every enterprise or
    ``enterprise_ids``, and sync the enterprises. With ``principal`` (an operator asking for it), the
    policy table is asked and the sweep audited; the hub's own jobs run it without one."""
    if principal is not None:
        require(principal, Action.RATE_CREDIT, what="recompute credit ratings")
    ids = None if enterprise_ids is None else sorted(set(enterprise_ids))
    report = SweepReport(expired=expire_listings(session, today=today, now=now))
    for year in sorted(set(years)) if years is not None else (today.year - 1, today.year):
        report.ratings.append(rate_enterprises(session, year=year, today=today, enterprise_ids=ids, now=now))
    report.enterprises_changed = sync_enterprises(session, today=today, enterprise_ids=ids)
    if principal is not None:
        audit_row(
            session,
            principal=principal,
            action="credit.rate",
            entity_type="credit_rating",
            entity_id=None,
            detail={
                "years": [r.year for r in report.ratings],
                "enterprise_ids": ids,
                "level_changed": sum(r.level_changed for r in report.ratings),
                "expired": report.expired,
            },
            at=now,
        )
    return report
