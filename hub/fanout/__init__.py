"""Live event fan-out: one outbox reader per hub process, handing events to its subscriptions.

The shape of dramatiq's brokers: :mod:`hub.fanout.base` holds the reader and its subscribers
(:class:`Fanout`), and each backend says how the reader learns of a commit — :mod:`hub.fanout.memory`
polls (SQLite), :mod:`hub.fanout.postgres` sleeps on ``LISTEN`` (:mod:`hub.fanout.notify` sends the
``NOTIFY``). This package re-exports what the app and the subscriptions use, and picks the backend
for the database (:func:`make_fanout`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.db import is_sqlite
from hub.fanout.base import (
    BATCH,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_SLOW_CONSUMER,
    FORBIDDEN_REASON,
    GOING_AWAY_REASON,
    SLOW_CONSUMER_REASON,
    Delivery,
    Fanout,
    Subscriber,
    jurisdiction_clause,
    principal_key,
    principal_sees,
)
from hub.fanout.memory import PollingFanout
from hub.fanout.postgres import PostgresFanout

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from hub.settings import Settings

__all__ = [
    "BATCH",
    "CLOSE_FORBIDDEN",
    "CLOSE_GOING_AWAY",
    "CLOSE_SLOW_CONSUMER",
    "FORBIDDEN_REASON",
    "GOING_AWAY_REASON",
    "SLOW_CONSUMER_REASON",
    "Delivery",
    "Fanout",
    "PollingFanout",
    "PostgresFanout",
    "Subscriber",
    "jurisdiction_clause",
    "make_fanout",
    "principal_key",
    "principal_sees",
]


def make_fanout(settings: Settings, *, sessions: async_sessionmaker[Any]) -> Fanout:
    """The backend for the database: LISTEN/NOTIFY on PostgreSQL, polling on SQLite."""
    url = settings.resolved_database_url()
    common: dict[str, Any] = {
        "sessions": sessions,
        "queue_size": settings.subscription_queue_size,
        "max_per_key": settings.subscription_max_per_key,
        "recheck_seconds": settings.subscription_recheck_seconds,
    }
    if is_sqlite(url):
        return PollingFanout(poll_seconds=settings.subscription_poll_seconds, **common)
    return PostgresFanout(url=url, fallback_seconds=settings.subscription_notify_fallback_seconds, **common)
