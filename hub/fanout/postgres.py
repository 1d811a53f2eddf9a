"""The PostgreSQL backend: the reader sleeps on ``LISTEN hub_events`` and reads when woken.

Writers send ``NOTIFY hub_events`` in the transaction that inserts events (:mod:`hub.fanout.notify`);
PostgreSQL delivers it when — and only if — that transaction commits, so a wake-up means there is
something to read. The reader also reads every ``fallback_seconds`` without one (a writer outside the
hub's sessions, a dropped LISTEN connection) and, while it cannot listen, polls every ``poll_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from hub.fanout.base import Fanout
from hub.fanout.notify import CHANNEL

log = logging.getLogger(__name__)


def _conninfo(url: str) -> str:
    """A libpq connection string for a SQLAlchemy URL (driver name dropped)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresFanout(Fanout):
    """A :class:`~hub.fanout.base.Fanout` woken by LISTEN/NOTIFY."""

    def __init__(self, *, url: str, fallback_seconds: float = 5.0, poll_seconds: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.fallback_seconds = fallback_seconds
        self.poll_seconds = poll_seconds
        self._conn: psycopg.AsyncConnection[Any] | None = None
        #: Notifications received so far (tests read it).
        self.notifications = 0

    async def open(self) -> None:
        with contextlib.suppress(psycopg.Error, OSError):
            await self._listen()

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await self._conn.close()
            self._conn = None

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(_conninfo(self.url), autocommit=True)
        await conn.execute(f"LISTEN {CHANNEL}")
        self._conn = conn

    async def wait(self, limit: float) -> None:
        if self._conn is None or self._conn.closed:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                log.warning(
                    "cannot LISTEN %s (%s): polling every %.1f s", CHANNEL, exc.__class__.__name__, self.poll_seconds
                )
                await asyncio.sleep(min(self.poll_seconds, limit))
            return  # (re)connected: read once, notifications may have been missed meanwhile
        try:
            async for _ in self._conn.notifies(timeout=min(self.fallback_seconds, limit), stop_after=1):
                self.notifications += 1
            # Commits that came together are read together: take what else is already queued.
            async for _ in self._conn.notifies(timeout=0.0):
                self.notifications += 1
        except (psycopg.Error, OSError) as exc:
            log.warning("lost the LISTEN connection (%s): reconnecting", exc.__class__.__name__)
            await self.close()
