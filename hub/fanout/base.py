"""The fan-out's base: one outbox reader per process, fanning events out to the live subscriptions.

Without it every subscription polled the outbox itself (one query per subscriber every half second)
and ran its selection again for every event, so 200 idle subscribers kept a core busy. Here one reader
per hub process follows the outbox — in id order, which is commit order (migration 0002) — and hands
each new event to the subscriptions that may see it: within the principal's jurisdiction
(:func:`principal_sees`), for a 行业主管部门 within its sector too (:func:`hub.access.sector_criterion`,
the rule its queries follow, asked of the database once per batch and sector), and of a wanted type. A subscription supplies a ``render`` function; the
reader calls it once per event and *distinct selection* (``Subscriber.key``), and every subscriber of
that selection gets the same pre-serialised payload in its own bounded queue.

How the reader learns that something was committed is the backend's business, in the shape of
dramatiq's brokers: this module is the base (:class:`Fanout`); :mod:`hub.fanout.memory` polls
(SQLite, where there is one writer and no notification channel), :mod:`hub.fanout.postgres` waits on
``LISTEN hub_events`` (writers ``NOTIFY`` in the inserting transaction, :mod:`hub.fanout.notify`)
with a slow poll as a safety net. The package (:mod:`hub.fanout`) re-exports what callers use.

Subscriptions end, too: a subscriber whose queue is full is a slow consumer and is closed
(:data:`CLOSE_SLOW_CONSUMER`; it resumes from its last cursor), a revoked or expired key or a disabled
user is closed with :data:`CLOSE_FORBIDDEN` within ``recheck_seconds`` (one query for all connected
principals), and a key may hold at most ``max_per_key`` subscriptions in one process.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, true

from hub import models as m
from hub.access import Principal, jurisdiction_bounds, jurisdiction_criterion, sector_criterion
from hub.errors import TooManySubscriptions
from hub.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import async_sessionmaker

log = logging.getLogger(__name__)

#: Close code and reason for a subscriber that does not keep up (its queue filled).
CLOSE_SLOW_CONSUMER = 4008
SLOW_CONSUMER_REASON = "slow consumer: resume with the last cursor"
#: Close code and reason for a key revoked or expired, or a user disabled, while connected.
CLOSE_FORBIDDEN = 4403
FORBIDDEN_REASON = "Forbidden: the API key was revoked or has expired"
#: Close code when the hub process shuts down (RFC 6455 "going away"): reconnect with the last cursor.
CLOSE_GOING_AWAY = 1001
GOING_AWAY_REASON = "server shutting down: resume with the last cursor"
#: Rows read per outbox query (the reader and a replay read again at once while a batch comes back full).
BATCH = 500


def principal_sees(principal: Principal, event: Any) -> bool:
    """Whether ``principal`` may see ``event``: its region, or the region handling it (a clue handed
    on by 分办 to another county is that county's work too), lies within the jurisdiction."""
    if principal.covers(event.region_code):
        return True
    handling = getattr(event, "handling_region_code", None)  # events not about a clue carry none
    return handling is not None and principal.covers(handling)


def jurisdiction_clause(principal: Principal) -> Any:
    """:func:`principal_sees` as SQL, for replaying the outbox: the rule every read follows
    (:func:`hub.access.jurisdiction_criterion`, and for a sector principal
    :func:`hub.access.sector_criterion`), applied by the database."""
    bounds = jurisdiction_bounds(principal.region_code)
    clause = true() if bounds is None else jurisdiction_criterion(m.Event, *bounds)
    if principal.sector is not None:
        clause = clause & sector_criterion(m.Event, principal.sector)
    return clause


def principal_key(principal: Principal) -> Hashable:
    """What the per-key cap counts: the API key (or, for a user, the user)."""
    if principal.api_key_id is not None:
        return ("key", principal.api_key_id)
    user_id = getattr(principal, "user_id", None)
    return ("user", user_id) if user_id is not None else ("name", principal.name)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one subscriber: its id (to drop what a replay already sent) and the payload."""

    event_id: int
    payload: str


class Subscriber:
    """One subscription: who asks, which types, how its message is rendered, its bounded queue."""

    __slots__ = ("close_code", "close_reason", "key", "principal", "queue", "render", "types")

    def __init__(
        self,
        *,
        principal: Principal,
        types: Iterable[str] | None,
        key: Hashable,
        render: Callable[[Any], str],
        queue_size: int,
    ) -> None:
        self.principal = principal
        self.types = frozenset(types) if types else None
        #: Subscribers with equal keys get the same payload for an event: it is rendered once for all.
        self.key = key
        self.render = render
        self.queue: asyncio.Queue[Delivery | None] = asyncio.Queue(maxsize=queue_size)
        self.close_code: int | None = None
        self.close_reason = ""

    def wants(self, event: Any, in_sector: Mapping[str, set[int]]) -> bool:
        """Whether this subscriber gets ``event``; a sector principal only when ``in_sector`` (event
        ids of each sector's, from the database) holds it."""
        if self.types is not None and event.type not in self.types:
            return False
        if not principal_sees(self.principal, event):
            return False
        sector = self.principal.sector
        return sector is None or event.id in in_sector.get(sector, ())

    def offer(self, delivery: Delivery) -> bool:
        """Queue ``delivery``; False when the queue is full (the subscriber does not keep up)."""
        try:
            self.queue.put_nowait(delivery)
        except asyncio.QueueFull:
            return False
        return True

    def kill(self, code: int, reason: str) -> None:
        """Ask the subscription to close its socket with ``code``; it stops taking deliveries."""
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes its reader anyway
            self.queue.put_nowait(None)

    async def next(self) -> Delivery | None:
        """The next delivery, or None once the subscription is to close (``close_code``)."""
        item = await self.queue.get()
        return None if self.close_code is not None else item

    def next_nowait(self) -> Delivery | None:
        """A delivery already queued, or None (none queued, or closing): a subscriber that fell behind
        sends its backlog without a task switch per message."""
        try:
            item = self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
        return None if self.close_code is not None else item


class Fanout(abc.ABC):
    """The process's outbox reader and its live subscribers. Backends say how to wait for commits."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker,
        queue_size: int = 256,
        max_per_key: int = 20,
        recheck_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.queue_size = queue_size
        self.max_per_key = max_per_key
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        #: The id of the last event handed out: every later one reaches every live subscriber.
        self.position = 0
        #: Outbox reads, principal re-checks and renders so far (the tests count them).
        self.reads = 0
        self.rechecks = 0
        self.renders = 0
        self._active: set[Subscriber] = set()  # acquired: replaying or live
        self._live: set[Subscriber] = set()  # receive what the reader reads
        self._per_key: Counter[Hashable] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._next_recheck = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def ensure_started(self) -> None:
        """Start the reader on first use (in the running loop); later calls wait for that start."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                await self.open()
                self.position = await self.head()
                self._next_recheck = self.clock() + self.recheck_seconds
                self._task = asyncio.create_task(self._run(), name=f"{type(self).__name__}.reader")
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started = None
                raise
            self._started.set_result(None)
        await self._started

    async def stop(self) -> None:
        """Stop the reader; live subscriptions close with 1001 so that clients resume elsewhere."""
        for sub in list(self._active):
            sub.kill(CLOSE_GOING_AWAY, GOING_AWAY_REASON)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task, self._started = None, None
        await self.close()

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Backend hook: acquire what waiting needs (a LISTEN connection)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Backend hook: release it."""

    @abc.abstractmethod
    async def wait(self, limit: float) -> None:
        """Backend hook: return when new events may have been committed, a poll period passed, or at
        the latest after ``limit`` seconds (the next re-check of the principals is due)."""

    # -- subscribers ---------------------------------------------------------------------------

    def acquire(
        self, *, principal: Principal, types: Iterable[str] | None, key: Hashable, render: Callable[[Any], str]
    ) -> Subscriber:
        """A new subscriber for ``principal``, counted against its key's cap (``TooManySubscriptions``)."""
        pkey = principal_key(principal)
        if self._per_key[pkey] >= self.max_per_key:
            raise TooManySubscriptions(
                f"this API key already has {self.max_per_key} open subscriptions on this server, the most it may",
                suggestion="complete a subscription you no longer need, or subscribe once to several types",
                limit=self.max_per_key,
            )
        self._per_key[pkey] += 1
        sub = Subscriber(principal=principal, types=types, key=key, render=render, queue_size=self.queue_size)
        self._active.add(sub)
        return sub

    def go_live(self, sub: Subscriber) -> None:
        """From now on ``sub`` gets every event after :attr:`position` (call without awaiting after
        checking the position, so that nothing slips in between)."""
        if sub.close_code is None:
            self._live.add(sub)

    def release(self, sub: Subscriber) -> None:
        """Forget ``sub`` (its subscription ended)."""
        if sub in self._active:
            self._active.discard(sub)
            self._live.discard(sub)
            pkey = principal_key(sub.principal)
            self._per_key[pkey] -= 1
            if self._per_key[pkey] <= 0:
                del self._per_key[pkey]

    @property
    def subscribers(self) -> int:
        """Subscriptions open in this process (replaying or live)."""
        return len(self._active)

    @property
    def live(self) -> int:
        """Subscriptions receiving from the reader (their replay is done)."""
        return len(self._live)

    def queues(self) -> list[asyncio.Queue[Delivery | None]]:
        """The live subscribers' queues (to check that they stay bounded)."""
        return [s.queue for s in self._live]

    # -- reading -------------------------------------------------------------------------------

    async def head(self) -> int:
        """The id of the newest committed event (0 for an empty outbox)."""
        async with self.sessions() as session:
            return (await session.execute(select(func.max(m.Event.id)))).scalar() or 0

    async def replay(
        self, *, principal: Principal, types: Iterable[str] | None, after: int, limit: int = BATCH
    ) -> list[m.Event]:
        """Up to ``limit`` events after ``after`` that ``principal`` may see, of ``types``, in order.

        The jurisdiction is :func:`jurisdiction_clause` rather than the session's principal filter,
        so that replay and live delivery apply one rule (:func:`principal_sees`).
        """
        stmt = (
            select(m.Event).where(m.Event.id > after, jurisdiction_clause(principal)).order_by(m.Event.id).limit(limit)
        )
        if types:
            stmt = stmt.where(m.Event.type.in_(list(types)))
        async with self.sessions() as session:
            return list((await session.execute(stmt)).scalars())

    async def pull(self) -> None:
        """Read what was committed after :attr:`position` and hand it out (one query per batch)."""
        while True:
            async with self.sessions() as session:
                stmt = select(m.Event).where(m.Event.id > self.position).order_by(m.Event.id).limit(BATCH)
                rows = list((await session.execute(stmt)).scalars())
            self.reads += 1
            in_sector: dict[str, set[int]] = {}
            # Which of these events each sector's subscribers may see. Asked again until no sector
            # subscriber came in during the asking (the dispatch right after does not await): a sector
            # principal whose sector was not asked about would get none of the batch.
            while rows and (
                wanted := {s.principal.sector for s in self._active if s.principal.sector} - in_sector.keys()
            ):
                for sector in wanted:
                    in_sector[sector] = await self._in_sector(rows, sector)
            self.dispatch(rows, in_sector=in_sector)
            if len(rows) < BATCH:
                return

    async def _in_sector(self, events: list[Any], sector: str) -> set[int]:
        """The ids among ``events`` a principal of ``sector`` may see (one query)."""
        ids = [e.id for e in events]
        async with self.sessions() as session:
            stmt = select(m.Event.id).where(m.Event.id.in_(ids), sector_criterion(m.Event, sector))
            return set((await session.execute(stmt)).scalars())

    def dispatch(self, events: Iterable[Any], *, in_sector: Mapping[str, set[int]] | None = None) -> None:
        """Hand ``events`` (in id order) to the live subscribers that want them; synchronous, so that
        no subscriber goes live in the middle of an event. ``in_sector``: for each sector among the
        subscribers, the ids of the events it may see (a sector subscriber gets no other)."""
        in_sector = in_sector or {}
        for event in events:
            rendered: dict[Hashable, str] = {}
            for sub in list(self._live):
                if not sub.wants(event, in_sector):
                    continue
                payload = rendered.get(sub.key)
                if payload is None:
                    try:
                        payload = rendered[sub.key] = sub.render(event)
                    except Exception:  # a broken renderer ends its subscriptions, not the reader
                        log.exception("rendering event %s for a subscription failed", event.id)
                        sub.kill(1011, "internal error rendering an event")
                        self._live.discard(sub)
                        continue
                    self.renders += 1
                if not sub.offer(Delivery(event.id, payload)):
                    sub.kill(CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)
                    self._live.discard(sub)
            self.position = max(self.position, event.id)

    async def recheck(self) -> None:
        """Close the subscriptions of keys revoked or expired, and of users disabled, since they
        connected: one query for all connected keys (and one for all users, if any)."""
        self.rechecks += 1
        keys = {s.principal.api_key_id for s in self._active if s.principal.api_key_id is not None}
        users = {uid for s in self._active if (uid := getattr(s.principal, "user_id", None)) is not None}
        signed_in = {sid for s in self._active if (sid := s.principal.session_id) is not None}
        alive_keys: set[int] = set()
        alive_users: set[int] = set()
        alive_sessions: set[str] = set()
        async with self.sessions() as session:
            if keys:
                stmt = select(m.ApiKey.id).where(m.ApiKey.id.in_(keys), m.ApiKey.revoked_at.is_(None))
                expires = getattr(m.ApiKey, "expires_at", None)
                if expires is not None:
                    stmt = stmt.where(expires.is_(None) | (expires > utcnow()))
                alive_keys = set((await session.execute(stmt)).scalars())
            if users:
                stmt = select(m.User.id).where(m.User.id.in_(users), m.User.disabled.is_(False))
                alive_users = set((await session.execute(stmt)).scalars())
            if signed_in:  # a session signed out, or past its absolute timeout (hub.users)
                live = select(m.UserSession.id).where(
                    m.UserSession.id.in_(signed_in),
                    m.UserSession.revoked_at.is_(None),
                    m.UserSession.expires_at > utcnow(),
                )
                alive_sessions = set((await session.execute(live)).scalars())
        for sub in list(self._active):
            key_id, user_id = sub.principal.api_key_id, getattr(sub.principal, "user_id", None)
            session_id = sub.principal.session_id
            if (
                (key_id is not None and key_id not in alive_keys)
                or (user_id is not None and user_id not in alive_users)
                or (session_id is not None and session_id not in alive_sessions)
            ):
                sub.kill(CLOSE_FORBIDDEN, FORBIDDEN_REASON)
                self._live.discard(sub)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self.wait(max(0.0, self._next_recheck - self.clock()) if self._active else self.recheck_seconds)
                await self.pull()
                if self.clock() >= self._next_recheck:
                    self._next_recheck = self.clock() + self.recheck_seconds
                    if self._active:
                        await self.recheck()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: keep trying, subscribers wait meanwhile
                log.exception("the outbox reader failed; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
