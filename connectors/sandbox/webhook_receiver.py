"""A regional system's webhook receiver, simulated: verifies Standard Webhooks signatures, can be told to fail.

It checks every POST with ``standardwebhooks`` (``Webhook(secret).verify``: signature and a timestamp
within five minutes of its own clock) and answers 401 when that fails; otherwise it acknowledges
with 200 — unless told to fail the next requests with a status code or a time-out::

    receiver = WebhookReceiver(secret)
    receiver.fail_next(500, "timeout")        # the next two POSTs fail, then it acknowledges again
    client = httpx.Client(transport=receiver.transport())   # in process, for a synchronous client
    receiver.app                                            # the same, as an ASGI app (uvicorn, mounts)

Over HTTP (the ASGI app): ``POST /_sandbox/fail {"next": [500, "timeout"]}`` switches failures on,
``GET /_sandbox/received`` lists the batches acknowledged. A time-out over ASGI hangs for
``hang_seconds``; through :meth:`transport` it raises ``httpx.ReadTimeout`` at once.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TIMEOUT = "timeout"
#: What a failing receiver says: with a phone number in it, as real error pages do (the hub masks it).
FAILURE_TEXT = "下游系统繁忙，请联系值班电话 13905370001"


@dataclass
class Delivery:
    """One POST the receiver saw: its ``webhook-id``, what it answered, and the verified body (None if refused)."""

    msg_id: str
    outcome: int | str
    body: dict[str, Any] | None


class WebhookReceiver:
    """Verifies and records webhook POSTs; fails the next ones on request (thread-safe)."""

    def __init__(self, secret: str, *, hang_seconds: float = 30.0) -> None:
        self.webhook = Webhook(secret)
        self.hang_seconds = hang_seconds
        self.deliveries: list[Delivery] = []
        self._failures: list[int | str] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/_sandbox/fail", self._control, methods=["POST"]),
                Route("/_sandbox/received", self._received, methods=["GET"]),
                Route("/{path:path}", self._asgi_post, methods=["POST"]),
            ]
        )

    # -- what tests and the demo look at ---------------------------------------------------------

    def fail_next(self, *outcomes: int | str) -> None:
        """Fail the next POSTs, one outcome each: an HTTP status code or ``"timeout"``."""
        with self._lock:
            self._failures.extend(outcomes)

    @property
    def acknowledged(self) -> list[Delivery]:
        """The POSTs answered 2xx, in order (a batch sent twice appears twice: deduplicate by ``msg_id``)."""
        return [d for d in self.deliveries if d.outcome == 200]

    def events(self) -> list[dict[str, Any]]:
        """The events of the acknowledged batches, deduplicated by ``webhook-id`` as a receiver should."""
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        for d in self.acknowledged:
            if d.msg_id not in seen and d.body is not None:
                seen.add(d.msg_id)
                out.extend(d.body["data"]["events"])
        return out

    # -- the protocol ------------------------------------------------------------------------------

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int | str, dict[str, Any]]:
        """The answer to one POST: a status code and a JSON body, or ``"timeout"``."""
        msg_id = headers.get("webhook-id", "")
        try:
            payload = self.webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            with self._lock:
                self.deliveries.append(Delivery(msg_id=msg_id, outcome=401, body=None))
            return 401, {"error": f"signature rejected: {exc}"}
        with self._lock:
            outcome: int | str = self._failures.pop(0) if self._failures else 200
            self.deliveries.append(Delivery(msg_id=msg_id, outcome=outcome, body=payload))
        if outcome == 200:
            return 200, {"received": len(payload["data"]["events"])}
        return outcome, {"error": FAILURE_TEXT}

    def transport(self) -> httpx.MockTransport:
        """An httpx transport that hands each request to :meth:`handle` (a time-out raises ``ReadTimeout``)."""

        def respond(request: httpx.Request) -> httpx.Response:
            outcome, answer = self.handle(dict(request.headers), request.read())
            if outcome == TIMEOUT:
                raise httpx.ReadTimeout("the receiver did not answer", request=request)
            return httpx.Response(int(outcome), json=answer)

        return httpx.MockTransport(respond)

    async def _asgi_post(self, request: Request) -> JSONResponse:
        outcome, answer = self.handle(dict(request.headers), await request.body())
        if outcome == TIMEOUT:
            await asyncio.sleep(self.hang_seconds)
            outcome = 504
        return JSONResponse(answer, status_code=int(outcome))

    async def _control(self, request: Request) -> JSONResponse:
        spec = orjson.loads(await request.body() or b"{}")
        outcomes = spec.get("next", [])
        if not isinstance(outcomes, list) or not all(o == TIMEOUT or isinstance(o, int) for o in outcomes):
            return JSONResponse({"error": 'next must be a list of status codes or "timeout"'}, status_code=400)
        self.fail_next(*outcomes)
        return JSONResponse({"failing_next": list(self._failures)})

    async def _received(self, _request: Request) -> JSONResponse:
        return JSONResponse({"events": self.events(), "posts": len(self.deliveries)})
