"""Fault injection for sandboxes: latency, 5xx, time-outs, malformed payloads, duplicated pages,
cursors that go backwards, expired tokens — switched on over HTTP or from Python.

Every sandbox app wraps itself in ``FaultMiddleware`` and reads ``Faults`` where a fault concerns
its own protocol (a duplicated page or a backwards cursor depends on how it paginates)::

    POST   /_sandbox/faults   {"status_next": 2, "status_code": 503}   switch faults on
    GET    /_sandbox/faults                                             what is switched on
    DELETE /_sandbox/faults                                             all off

Counted faults ("…_next": n) fire on the next n data requests and then switch themselves off, so
a test can say "the next two requests fail" and then watch the client recover.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PATH = "/_sandbox/faults"


@dataclass
class Faults:
    """What is switched on. Counts fire on the next n data requests; ``latency_ms`` applies to all."""

    latency_ms: int = 0
    status_next: int = 0
    status_code: int = 503
    timeout_next: int = 0
    timeout_seconds: float = 30.0
    malformed_next: int = 0
    duplicate_page_next: int = 0
    cursor_backwards_next: int = 0
    expire_token_next: int = 0
    bad_records_next: int = 0  # the next n pages carry a record that cannot be normalised (quarantine)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def take(self, name: str) -> bool:
        """True (and one fewer left) when the counted fault ``name`` should fire now."""
        with self._lock:
            left = getattr(self, name)
            if left > 0:
                setattr(self, name, left - 1)
                return True
            return False

    def set(self, **values: Any) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(sorted(unknown))}: use {', '.join(sorted(known))}")
        with self._lock:
            for k, v in values.items():
                setattr(self, k, type(getattr(self, k))(v))

    def reset(self) -> None:
        self.set(**{f.name: f.default for f in fields(self)})

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class FaultMiddleware:
    """Applies the protocol-independent faults (latency, status, time-out, malformed body)."""

    def __init__(self, app: ASGIApp, faults: Faults, *, malformed_body: bytes = b'{"data": [{"oops": ') -> None:
        self.app = app
        self.faults = faults
        self.malformed_body = malformed_body
        #: The wrapped app's ``state`` (``app.state.faults`` …), so that a wrapped sandbox reads like a Starlette app.
        self.state: Any = getattr(app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].endswith(CONTROL_PATH):
            await self._control(scope, receive, send)
            return
        if scope["method"] == "GET" and (
            scope["path"].endswith(("/wsdl", "/health")) or scope.get("query_string", b"").lower() == b"wsdl"
        ):
            await self.app(scope, receive, send)  # service descriptions are never faulted
            return
        f = self.faults
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if f.take("timeout_next"):
            # Hang past the client's time-out, then give up on this request: it must not go on to
            # consume another counted fault meant for the client's next request.
            await asyncio.sleep(f.timeout_seconds)
            await _respond(send, 504, b'{"error": "injected time-out"}', b"application/json")
            return
        if f.take("status_next"):
            await _respond(send, f.status_code, b'{"error": "injected fault"}', b"application/json")
            return
        if f.take("malformed_next"):
            await _respond(send, 200, self.malformed_body, b"application/json")
            return
        await self.app(scope, receive, send)

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            try:
                self.faults.set(**json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                await _respond(send, 400, json.dumps({"error": str(exc)}).encode(), b"application/json")
                return
        elif method == "DELETE":
            self.faults.reset()
        await _respond(send, 200, json.dumps(self.faults.as_dict()).encode(), b"application/json")


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
