"""Helpers for graphql-transport-ws tests over starlette's TestClient, with bounded waits."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
from starlette.websockets import WebSocketDisconnect

PROTOCOL = "graphql-transport-ws"
SUB = (
    "subscription($a: String, $t: [String!]) { events(after: $a, types: $t) "
    "{ cursor node { databaseId type regionCode payload } } }"
)
#: Every wait is bounded: a test that would hang fails instead.
TIMEOUT = 20.0


def receive(ws: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The next ASGI message the server sent to ``ws`` (raw: ``text`` or a close)."""

    async def get() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    return ws.portal.call(get)


def receive_json(ws: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
    msg = receive(ws, timeout)
    if msg["type"] == "websocket.close":
        raise WebSocketDisconnect(code=msg.get("code", 1000), reason=msg.get("reason", ""))
    return json.loads(msg["text"])


def init(ws: Any, key: str | None) -> None:
    ws.send_json({"type": "connection_init", "payload": {"X-API-Key": key} if key else {}})
    assert receive_json(ws)["type"] == "connection_ack"


def subscribe(ws: Any, op_id: str, variables: dict[str, Any], query: str = SUB) -> None:
    ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})


def next_events(ws: Any) -> tuple[str, dict[str, Any]]:
    msg = receive_json(ws)
    assert msg["type"] == "next", msg
    return msg["id"], msg["payload"]["data"]["events"]


def wait_until(predicate: Any, what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` until true (bounded; fails naming ``what``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def write_events(url: str, region_code: str, n: int, *, start: int = 0, type_: str = "test.ping") -> list[int]:
    """Insert ``n`` events in one transaction (through an ORM session, as the hub writes them); their ids."""
    from hub import models as m
    from hub.db import make_engine, session_scope
    from hub.models import utcnow

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            rows = [
                m.Event(
                    type=type_,
                    region_code=region_code,
                    entity_type="test",
                    entity_id=start + i,
                    payload={"n": start + i},
                    created_at=utcnow(),
                )
                for i in range(n)
            ]
            session.add_all(rows)
            session.flush()
            return [r.id for r in rows]
    finally:
        engine.dispose()
