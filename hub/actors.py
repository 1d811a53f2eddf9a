"""Background actors (dramatiq). Declared on the broker set by ``hub.broker.setup_broker``."""

from __future__ import annotations

import logging

import dramatiq
import dramatiq.broker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import func, select, update

from hub.db import make_engine, session_scope
from hub.models import CreditRating, Enterprise
from hub.settings import get_settings

log = logging.getLogger(__name__)

# Declaring an actor needs a broker; without one, dramatiq would make a RabbitMQ broker. Declare on
# an in-process one until ``hub.broker.setup_broker`` re-binds the actors to the configured broker.
if dramatiq.broker.global_broker is None:
    dramatiq.set_broker(StubBroker())


def refresh_credit_levels_now(engine) -> int:  # type: ignore[no-untyped-def]
    """Copy each enterprise's latest CreditRating (level, blacklist) onto the enterprise row.

    Returns the number of enterprises whose level changed. Idempotent: running it twice changes
    nothing the second time, so a worker that crashes mid-way can simply run it again.
    """
    changed = 0
    with session_scope(engine) as session:
        latest = (
            select(CreditRating.enterprise_id, func.max(CreditRating.year).label("year"))
            .group_by(CreditRating.enterprise_id)
            .subquery()
        )
        rows = session.execute(
            select(CreditRating.enterprise_id, CreditRating.level, CreditRating.blacklisted)
            .join(latest, (latest.c.enterprise_id == CreditRating.enterprise_id) & (latest.c.year == CreditRating.year))
        ).all()
        current = dict(session.execute(select(Enterprise.id, Enterprise.credit_level)).all())
        for enterprise_id, level, blacklisted in rows:
            if current.get(enterprise_id) != level:
                changed += 1
            session.execute(
                update(Enterprise).where(Enterprise.id == enterprise_id).values(credit_level=level, blacklisted=blacklisted)
            )
    return changed


@dramatiq.actor(queue_name="hub", max_retries=5, min_backoff=1000)
def refresh_credit_levels() -> None:
    """Keep ``Enterprise.credit_level`` in step with the latest 诚信等级 rating."""
    engine = make_engine(get_settings().resolved_database_url())
    try:
        n = refresh_credit_levels_now(engine)
        log.info("credit levels refreshed: %d changed", n)
    finally:
        engine.dispose()


#: Every actor of the hub, for ``hub.broker.setup_broker`` to declare on its broker.
ACTORS = [refresh_credit_levels]
