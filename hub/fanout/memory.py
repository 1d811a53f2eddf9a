"""The polling backend: the reader looks at the outbox every ``poll_seconds`` (SQLite).

SQLite has one writer and no notification channel, and several hub processes may share its file, so
the reader asks — one indexed query per period for the whole process, however many subscribe.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hub.fanout.base import Fanout


class PollingFanout(Fanout):
    """A :class:`~hub.fanout.base.Fanout` that polls."""

    def __init__(self, *, poll_seconds: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.poll_seconds = poll_seconds

    async def wait(self, limit: float) -> None:
        await asyncio.sleep(min(self.poll_seconds, limit))
