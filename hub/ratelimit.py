"""Per-key rate limits and batch refusal on /graphql, before authentication touches the database.

A request is counted against its API key (the key's hash, as stored, computed here without a
database look-up) or, without a key, against the client's address. Over ``HUB_RATE_LIMIT`` it answers
HTTP 429 with a GraphQL error ``RATE_LIMITED`` and a ``Retry-After`` header (seconds). Counters live
in memory (one process, the embedded mode) or in Redis (``HUB_RATE_LIMIT_STORAGE_URL=redis://…``,
shared by every process of a deployment); a moving window, so that no burst slips through at a
window's edge.

A body larger than ``HUB_MAX_REQUEST_BYTES`` is refused with HTTP 413 ``REQUEST_TOO_LARGE`` as soon as
it grows past the limit (it is never held whole). A JSON array body (a batch of operations) is refused
with HTTP 400 ``BATCH_NOT_SUPPORTED``: each
operation of a batch would pass every per-operation limit (cost, aliases, root fields) while the
batch as a whole would not.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from hub.crypto import api_key_hash
from hub.errors import RateLimited

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

API_KEY_HEADER = b"x-api-key"


def make_storage(url: str) -> Any:
    """The asynchronous ``limits`` storage for ``memory://`` or ``redis://host:port/db``."""
    aio = url if url.startswith("async+") else f"async+{url}"
    if aio.startswith("async+redis"):
        return storage_from_string(aio, implementation="redispy")
    return storage_from_string(aio)


def _error_body(message: str, **extensions: Any) -> bytes:
    """A GraphQL response body carrying one error, for requests refused before GraphQL runs."""
    return json.dumps({"data": None, "errors": [{"message": message, "extensions": extensions}]}).encode()


def _api_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The API key of a request, from ``X-API-Key`` or ``Authorization: Bearer`` (as hub.app reads it)."""
    bearer = None
    for name, value in headers:
        if name == API_KEY_HEADER:
            return value.decode("latin-1")
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            bearer = value[7:].decode("latin-1").strip()
    return bearer


class RequestGuard:
    """ASGI middleware for ``path``: the rate limit per key or address, then the batch check."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: str,
        storage_url: str,
        path: str = "/graphql",
        clock: Callable[[], float] = time.time,
        max_body_bytes: int = 1_000_000,
        by_key: bool = True,
        namespace: str = "graphql",
    ) -> None:
        self.app = app
        self.path = path
        #: Count by API key when one is sent; ``False`` (sign-in): always by address, so that
        #: inventing keys does not buy more attempts.
        self.by_key = by_key
        self.namespace = namespace
        self.max_body_bytes = max_body_bytes
        self.item = parse(limit)
        self.limit = limit
        self.limiter = MovingWindowRateLimiter(make_storage(storage_url))
        self.clock = clock

    def identity(self, scope: Scope) -> tuple[str, str]:
        """What the request is counted against: its key's hash, else its client address."""
        key = _api_key(scope.get("headers") or []) if self.by_key else None
        if key:
            return "key", api_key_hash(key)
        client = scope.get("client")
        return "address", client[0] if client else "unknown"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        kind, who = self.identity(scope)
        try:
            allowed = await self.limiter.hit(self.item, self.namespace, kind, who)
        except Exception:  # a counter store that is down must not take the API with it
            log.exception("rate-limit storage unreachable; request let through")
            allowed = True
        if not allowed:
            await self.refuse_rate(kind, who, send)
            return
        if scope.get("method") == "POST":
            body = await _read_body(receive, limit=self.max_body_bytes)
            if body is None:  # read no further than the limit: a huge body must not fill the memory
                await _respond(
                    send,
                    413,
                    _error_body(
                        f"the request body is larger than {self.max_body_bytes:,} bytes: send one operation, with its "
                        "variables, and no file",
                        code="REQUEST_TOO_LARGE",
                        limit=self.max_body_bytes,
                    ),
                )
                return
            if body.lstrip()[:1] == b"[":
                await _respond(
                    send,
                    400,
                    _error_body(
                        "batched requests (a JSON array of operations) are not accepted: send one operation per request",
                        code="BATCH_NOT_SUPPORTED",
                    ),
                )
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def refuse_rate(self, kind: str, who: str, send: Send) -> None:
        try:
            stats = await self.limiter.get_window_stats(self.item, self.namespace, kind, who)
            retry = max(1, math.ceil(stats.reset_time - self.clock()))
        except Exception:  # a counter store that is down must not take the API with it
            retry = self.item.get_expiry()
        whose = "this API key" if kind == "key" else "this address (no API key)"
        err = RateLimited(
            f"rate limit {self.limit} exceeded for {whose}: retry after {retry} s", retryAfter=retry, limit=self.limit
        )
        body = _error_body(err.message, **err.extensions())
        await _respond(send, 429, body, extra_headers=[(b"retry-after", str(retry).encode())])


async def _read_body(receive: Receive, *, limit: int) -> bytes | None:
    """The whole request body, or ``None`` as soon as it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app once, then defers to the client."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _respond(
    send: Send, status: int, body: bytes, *, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
