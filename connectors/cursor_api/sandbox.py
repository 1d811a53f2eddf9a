"""The sandbox half of the cursor API the permit system and the real-name platform share.

Both upstreams speak one convention (``connectors.cursor_api.client`` is the client half)::

    POST /api/v1/auth/token     headers X-App-Id and the upstream's credential  → data {accessToken, expiresIn}
    GET  /api/v1/<stream>       header X-Access-Token; ?cursor=&pageSize=1..max
    GET  /health

Every answer is ``{"code": "0", "msg": "成功", "data": ...}``; a refusal carries an upper-case ``code``
and a Chinese ``msg``. Lists are ordered by ``updateTime`` (China Standard Time, ``YYYY-MM-DD HH:MM:SS``)
then by the stream's key; ``cursor`` is ``"<updateTime>|<key>"`` of the last record received, and a page
answers ``records``, ``pageSize``, ``hasMore`` and ``nextCursor``.

What is shared here:

- ``LiveSource``: a world's history plus the live events due at a clock's time, paged by
  (updateTime, key). A sandbox writes ``_reset`` (the history) and ``_event`` (one live event).
- ``TokenStore``: access tokens with a TTL on the injected clock, and the ``expire_token_next`` fault.
- ``parse_page_size`` / ``parse_cursor`` / ``cursor_a_day_back``: the list parameters and the
  ``cursor_backwards_next`` fault.
- ``cursor_app``: the Starlette app (token, lists, health, the fault switchboard); what differs
  between the upstreams (the credential header, the refusal code and message, the page sizes) is an
  ``Upstream``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hmac
import logging
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.sandbox.faults import FaultMiddleware, Faults

if TYPE_CHECKING:
    from starlette.requests import Request

    from connectors.sandbox.world import World

CST = dt.timezone(dt.timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TOKEN_TTL_SECONDS = 7200
#: A demo left running for weeks stops inventing records here (memory stays bounded).
MAX_LIVE_EVENTS = 10_000
#: What a data request with a token the sandbox does not (or no longer) hold is answered.
INVALID_TOKEN = ("INVALID_TOKEN", "访问令牌无效，请先获取令牌 (invalid access token)")
TOKEN_EXPIRED = ("TOKEN_EXPIRED", "访问令牌已过期，请重新获取 (access token expired)")

#: The order of a list: (updateTime, key).
Position = tuple[str, str]
Clock = Callable[[], dt.datetime]


def fmt_time(t: dt.datetime) -> str:
    """An instant as both upstreams write it: China Standard Time, to the second (naive is UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(CST).strftime(TIME_FORMAT)


def fmt_day(d: dt.date | None) -> str | None:
    """A date as both upstreams write it (yyyy-MM-dd), or None."""
    return d.isoformat() if d else None


def fmt_money(v: Decimal | None) -> str | None:
    """An amount as both upstreams write it: the decimal's digits as a string, or None."""
    return None if v is None else str(v)


def live_epoch(world: World) -> dt.datetime:
    """When live events start (UTC): the moment the world was seeded, or a past day's 00:00 China
    Standard Time (``World.live_start``)."""
    return world.live_start().astimezone(dt.UTC)


def cursor_of(record: dict[str, Any], key: str) -> str:
    """The cursor that points just after ``record`` in a list ordered by (updateTime, ``key``)."""
    return f"{record['updateTime']}|{record[key]}"


def aware(clock: Clock) -> Clock:
    """``clock`` with a naive answer read as UTC."""

    def now() -> dt.datetime:
        t = clock()
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)

    return now


class LiveSource(ABC):
    """What an upstream holds at a moment: the world's history plus the live events so far.

    A subclass declares ``STREAMS`` (stream → key) and ``name`` (for the log) and writes ``_reset``
    (fills ``records`` with the history, then calls ``_reset_live``) and ``_event`` (the i-th live event,
    at ``epoch + i * interval``). ``served`` is how a held record goes out (a copy; the real-name
    platform encrypts it).
    """

    STREAMS: ClassVar[Mapping[str, str]]
    name: ClassVar[str]

    def __init__(self, world: World, *, live_interval_seconds: float) -> None:
        if live_interval_seconds <= 0:
            raise ValueError(f"live_interval_seconds must be positive, got {live_interval_seconds}")
        self.world = world
        self.interval = dt.timedelta(seconds=live_interval_seconds)
        self.epoch = live_epoch(world)
        self._capped = False
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self._reset()

    @abstractmethod
    def _reset(self) -> None:
        """Hold the world's history again, as before any live event."""

    @abstractmethod
    def _event(self, i: int) -> None:
        """Apply the ``i``-th live event (1-based)."""

    def _reset_live(self) -> None:
        """No live event applied yet (``_reset`` ends with it)."""
        self.applied = 0
        self._index: dict[str, list[Position]] = {}

    def served(self, record: dict[str, Any]) -> dict[str, Any]:
        """A held record as a page serves it: a copy."""
        return dict(record)

    # -- time -------------------------------------------------------------------------------

    def events_due(self, now: dt.datetime) -> int:
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        n = max(0, int((now - self.epoch) / self.interval))
        if n > MAX_LIVE_EVENTS and not self._capped:
            self._capped = True
            # under the sandbox's own logger (connectors.permits.sandbox …), not this module's
            logging.getLogger(type(self).__module__).warning(
                "%s sandbox: %d live events due, capped at %d (no more live records)", self.name, n, MAX_LIVE_EVENTS
            )
        return min(n, MAX_LIVE_EVENTS)

    def advance(self, now: dt.datetime) -> None:
        """Apply the live events due at ``now`` (a clock moved backwards replays from the start)."""
        n = self.events_due(now)
        if n < self.applied:
            self._reset()
        while self.applied < n:
            self.applied += 1
            self._event(self.applied)
            self._index.clear()

    # -- reading ----------------------------------------------------------------------------

    def page(self, stream: str, after: Position | None, size: int) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``size`` records of ``stream`` after the (updateTime, key) ``after``; and whether more follow."""
        key = self.STREAMS[stream]
        index = self._index.get(stream)
        if index is None:
            index = self._index[stream] = sorted((r["updateTime"], r[key]) for r in self.records[stream].values())
        start = bisect.bisect_right(index, after) if after else 0
        chosen = index[start : start + size]
        return [self.served(self.records[stream][k]) for _, k in chosen], start + size < len(index)


class TokenStore:
    """The access tokens issued, each good for ``ttl_seconds`` of ``clock``."""

    def __init__(self, *, clock: Clock, faults: Faults, ttl_seconds: int = TOKEN_TTL_SECONDS) -> None:
        self.clock = aware(clock)
        self.faults = faults
        self.ttl_seconds = ttl_seconds
        self._expiry: dict[str, dt.datetime] = {}

    def issue(self) -> str:
        """A new access token."""
        value = secrets.token_urlsafe(24)
        self._expiry[value] = self.clock() + dt.timedelta(seconds=self.ttl_seconds)
        return value

    def refusal(self, value: str) -> tuple[str, str] | None:
        """Why a request carrying ``value`` is refused (code, message), or None when the token is good.

        An expired token is forgotten: presented again, it is unknown. ``expire_token_next`` expires a
        token that is still good (an unknown one does not use the fault up).
        """
        expiry = self._expiry.get(value)
        if expiry is None:
            return INVALID_TOKEN
        if expiry <= self.clock() or self.faults.take("expire_token_next"):
            self._expiry.pop(value, None)
            return TOKEN_EXPIRED
        return None


class BadParam(ValueError):
    """A list parameter the upstream refuses (400 ``INVALID_PARAM``, the message as it writes it)."""


def parse_page_size(raw: str | None, *, default: int, maximum: int) -> int:
    """``pageSize``: ``default`` when absent, at most ``maximum`` (more is cut, not refused)."""
    try:
        size = int(raw if raw is not None else default)
    except ValueError:
        raise BadParam("pageSize 必须是整数") from None
    if size < 1:
        raise BadParam(f"pageSize 必须在 1-{maximum} 之间")
    return min(size, maximum)


def parse_cursor(cursor: str | None) -> Position | None:
    """The (updateTime, key) a ``cursor`` points after; a cursor without ``|`` has an empty key."""
    if not cursor:
        return None
    stamp, _, key = cursor.partition("|")
    try:
        dt.datetime.strptime(stamp, TIME_FORMAT)
    except ValueError:
        raise BadParam(f"cursor 格式错误: {cursor!r} (应为 'yyyy-MM-dd HH:mm:ss|主键')") from None
    return stamp, key


def cursor_a_day_back(cursor: str) -> str:
    """``cursor_backwards_next``: the cursor received, a day earlier."""
    stamp, _, key = cursor.partition("|")
    back = dt.datetime.strptime(stamp, TIME_FORMAT) - dt.timedelta(days=1)
    return f"{back:{TIME_FORMAT}}|{key}"


def ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": "0", "msg": "成功", "data": data})


def error(status: int, code: str, msg: str) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, "data": None}, status_code=status)


@dataclass(frozen=True)
class Upstream:
    """What one upstream says differently."""

    #: The header and the credentials' option that carry the app id's key or secret.
    secret_header: str
    secret_option: str
    #: The 401 answer to a wrong app id or key / secret.
    refused_code: str
    refused_msg: str
    default_page_size: int
    max_page_size: int


def credentials(demo: Mapping[str, str], options: Mapping[str, Any]) -> dict[str, str]:
    """The demo credentials with ``options`` over them (``TypeError`` for an option that is none of them)."""
    unknown = set(options) - set(demo)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))}: use {', '.join(demo)}")
    return {**demo, **options}


def cursor_app(
    *,
    upstream: Upstream,
    source: LiveSource,
    paths: Mapping[str, str],
    creds: Mapping[str, str],
    faults: Faults,
    clock: Clock | None,
    spoilers: Mapping[str, Callable[[list[dict[str, Any]]], None]],
) -> Starlette:
    """The sandbox app serving ``source``: ``paths`` maps each list's path to its stream, ``spoilers``
    says what ``bad_records_next`` does to a stream's page (a stream without one is never spoiled)."""
    now = aware(clock or (lambda: dt.datetime.now(dt.UTC)))
    tokens = TokenStore(clock=now, faults=faults)
    last_page: dict[str, dict[str, Any]] = {}

    async def token(request: Request) -> JSONResponse:
        app_id, secret = request.headers.get("X-App-Id", ""), request.headers.get(upstream.secret_header, "")
        if not (
            hmac.compare_digest(app_id, creds["app_id"]) and hmac.compare_digest(secret, creds[upstream.secret_option])
        ):
            return error(401, upstream.refused_code, upstream.refused_msg)
        return ok({"accessToken": tokens.issue(), "expiresIn": tokens.ttl_seconds})

    async def listing(request: Request, stream: str) -> JSONResponse:
        if (refused := tokens.refusal(request.headers.get("X-Access-Token", ""))) is not None:
            return error(401, *refused)
        cursor = request.query_params.get("cursor") or None
        try:
            size = parse_page_size(
                request.query_params.get("pageSize"),
                default=upstream.default_page_size,
                maximum=upstream.max_page_size,
            )
            after = parse_cursor(cursor)
        except BadParam as exc:
            return error(400, "INVALID_PARAM", str(exc))
        if stream in last_page and faults.take("duplicate_page_next"):
            return ok(last_page[stream])  # the previous page, served again
        source.advance(now())
        records, has_more = source.page(stream, after, size)
        next_cursor = cursor_of(records[-1], source.STREAMS[stream]) if records else cursor
        if cursor and faults.take("cursor_backwards_next"):
            next_cursor = cursor_a_day_back(cursor)
        if records and stream in spoilers and faults.take("bad_records_next"):
            spoilers[stream](records)
        data = {"records": records, "pageSize": size, "hasMore": has_more, "nextCursor": next_cursor}
        last_page[stream] = data
        return ok(data)

    async def health(_: Request) -> JSONResponse:
        return ok({"status": "ok", "liveEvents": source.applied})

    app = Starlette(
        routes=[
            Route("/api/v1/auth/token", token, methods=["POST"]),
            *(Route(path, partial(listing, stream=stream)) for path, stream in paths.items()),
            Route("/health", health),
        ],
        middleware=[Middleware(FaultMiddleware, faults=faults)],
    )
    app.state.faults = faults
    app.state.credentials = dict(creds)
    return app
