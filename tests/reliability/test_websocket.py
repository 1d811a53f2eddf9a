"""R6/R7: WebSocket subscriptions that scale and end.

R6 — one hub process: no key, no subscription; a revoked key is disconnected (4403); 200 idle
subscribers cost the database what one costs (statements counted, never timed) and each holds a
bounded queue. R7 — two hub processes on one database: a subscriber that moves from one to the other
with its cursor while events are being written misses none and gets none twice. Both backends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, update
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.reliability.wsclient import (
    PROTOCOL,
    init,
    next_events,
    receive,
    receive_json,
    subscribe,
    wait_until,
    write_events,
)


@pytest.fixture
def hub(writable_demo, settings_for) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Factory: a running hub (TestClient with lifespan) on the module's database, fast polls."""
    from hub.app import create_app

    clients: list[TestClient] = []

    def make(**overrides: Any) -> tuple[TestClient, Any]:
        overrides.setdefault("subscription_poll_seconds", 0.02)
        # On PostgreSQL a NOTIFY must wake the reader: the safety-net poll is too slow to pass for it.
        overrides.setdefault("subscription_notify_fallback_seconds", 120)
        app = create_app(settings_for(writable_demo.url, **overrides))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client, app

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _new_key(url: str, name: str) -> tuple[int, str]:
    from hub.api_keys import create_api_key
    from hub.db import make_engine, session_scope

    engine = make_engine(url)
    with session_scope(engine) as session:
        row, key = create_api_key(session, name=name, role="inspector", region_code="370800")
        key_id = row.id
    engine.dispose()
    return key_id, key


def test_without_a_key_or_with_an_unknown_one_nothing_is_delivered(hub, writable_demo) -> None:  # type: ignore[no-untyped-def]
    client, app = hub()
    for key, message in (
        (None, "no API key: send it in the X-API-Key header"),
        ("hub_not-a-key", "unknown or revoked API key hub_not-…"),
    ):
        with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
            init(ws, key)
            subscribe(ws, "1", {"a": None, "t": None})
            msg = receive_json(ws)
            errors = msg["payload"]["errors"] if msg["type"] == "next" else msg["payload"]
            assert (errors[0]["extensions"]["code"], errors[0]["message"]) == ("UNAUTHENTICATED", message)
    assert app.state.fanout.subscribers == 0


def test_a_revoked_key_is_disconnected_with_4403(hub, writable_demo) -> None:  # type: ignore[no-untyped-def]
    client, app = hub(subscription_recheck_seconds=0.05)
    fanout = app.state.fanout
    key_id, key = _new_key(writable_demo.url, "soon-revoked")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, key)
        subscribe(ws, "1", {"a": None, "t": None})
        wait_until(lambda: fanout.live == 1, "the subscription to go live")
        # When the key is revoked while its subscription is open
        from hub.db import make_engine
        from hub.models import ApiKey, utcnow

        engine = make_engine(writable_demo.url)
        with engine.begin() as conn:
            conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))
        engine.dispose()
        # Then the socket is closed with 4403 (within a re-check period; the wait is bounded, not timed)
        msg = receive(ws)
        while msg["type"] != "websocket.close":  # events committed meanwhile may come first
            msg = receive(ws)
        assert (msg["code"], msg["reason"]) == (4403, "Forbidden: the API key was revoked or has expired")
    wait_until(lambda: fanout.subscribers == 0, "the subscription to be released")


class _Statements:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args: Any) -> None:
        self.count += 1


def _idle_cost(client: TestClient, app: Any, key: str, subscribers: int, periods: int = 10) -> tuple[int, int]:
    """(statements, outbox reads) over ``periods`` reader periods with ``subscribers`` idle subscriptions."""
    fanout = app.state.fanout
    counter = _Statements()
    per_socket = 50
    sockets = []
    try:
        for s in range(0, subscribers, per_socket):
            ws = client.websocket_connect("/graphql", subprotocols=[PROTOCOL]).__enter__()
            sockets.append(ws)
            init(ws, key)
            for i in range(s, min(s + per_socket, subscribers)):
                subscribe(ws, str(i), {"a": None, "t": ["test.ping"]})
        wait_until(lambda: fanout.live == subscribers, f"{subscribers} live subscriptions")
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", counter)
        reads = fanout.reads
        wait_until(lambda: fanout.reads >= reads + periods, f"{periods} reader periods")
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", counter)
        cost = (counter.count, fanout.reads - reads)
        # Each holds a bounded queue, empty while idle
        assert {q.maxsize for q in fanout.queues()} == {app.state.settings.subscription_queue_size}
        assert all(q.qsize() == 0 for q in fanout.queues())
        # One event reaches every subscriber, rendered once for all of them (one selection)
        renders = fanout.renders
        [event_id] = write_events(app.state.settings.database_url, "370800", 1, start=subscribers)
        got = {}
        for ws in sockets:
            for _ in range(min(per_socket, subscribers - len(got))):
                op, data = next_events(ws)
                got[op] = data["node"]["databaseId"]
        assert got == {str(i): event_id for i in range(subscribers)}
        assert fanout.renders - renders == 1
        return cost
    finally:
        for ws in sockets:
            ws.__exit__(None, None, None)


def test_idle_subscribers_cost_the_database_what_one_costs(hub, writable_demo) -> None:  # type: ignore[no-untyped-def]
    # (a reader period on PostgreSQL is its fallback read: idle, with no NOTIFY, it reads nothing else)
    client, app = hub(
        subscription_max_per_key=1000,
        subscription_recheck_seconds=3600,
        subscription_queue_size=8,
        subscription_notify_fallback_seconds=0.02,
    )
    key = writable_demo.keys["city"]
    one_statements, one_reads = _idle_cost(client, app, key, 1)
    wait_until(lambda: app.state.fanout.subscribers == 0, "the first subscriber to be released")
    many_statements, many_reads = _idle_cost(client, app, key, 200)
    # Then each reader period is one query for the whole process, with one subscriber or with 200
    # (± 1: a read may straddle the start or the end of the count)
    assert abs(one_statements - one_reads) <= 1
    assert abs(many_statements - many_reads) <= 1


def test_two_hub_processes_a_subscriber_moves_with_its_cursor_and_misses_nothing(hub, writable_demo) -> None:  # type: ignore[no-untyped-def]
    from schema.pagination import encode_cursor

    first, a = hub()
    second, b = hub()
    key, city = writable_demo.keys["city"], "370800"
    [start] = write_events(writable_demo.url, city, 1, start=5000)
    written: list[int] = [start]
    done = threading.Event()

    def writer() -> None:  # one event per transaction, paced so that some land during the move
        for i in range(40):
            written.extend(write_events(writable_demo.url, city, 1, start=5001 + i))
            time.sleep(0.01)
        done.set()

    thread = threading.Thread(target=writer)
    got: list[int] = []
    cursor = encode_cursor([start - 1])
    thread.start()
    try:
        # A subscriber reads some of them from the first process ...
        with first.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
            init(ws, key)
            subscribe(ws, "1", {"a": cursor, "t": ["test.ping"]})
            for _ in range(10):
                _, data = next_events(ws)
                got.append(data["node"]["databaseId"])
                cursor = data["cursor"]
        # ... and resumes on the second with the last cursor it got, while the writer goes on
        with second.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
            init(ws, key)
            subscribe(ws, "1", {"a": cursor, "t": ["test.ping"]})
            wait_until(done.is_set, "the writer to finish")
            while len(got) < len(written):
                _, data = next_events(ws)
                got.append(data["node"]["databaseId"])
    finally:
        thread.join(timeout=30)
    # Then it has every event once, in commit order
    assert got == written
    assert a.state.fanout is not b.state.fanout


def test_postgres_readers_are_woken_by_notify(hub, writable_demo, backend) -> None:  # type: ignore[no-untyped-def]
    if backend != "postgres":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    client, app = hub()
    fanout = app.state.fanout
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, writable_demo.keys["city"])
        subscribe(ws, "1", {"a": None, "t": ["test.ping"]})
        wait_until(lambda: fanout.live == 1, "the subscription to go live")
        before = fanout.notifications
        [event_id] = write_events(writable_demo.url, "370800", 1, start=9000)
        assert next_events(ws)[1]["node"]["databaseId"] == event_id
    # Delivered within the test's bounded wait although the fallback poll is two minutes: NOTIFY woke it
    assert fanout.notifications > before


def test_shutdown_closes_subscriptions_with_1001(writable_demo, settings_for) -> None:  # type: ignore[no-untyped-def]
    from hub.app import create_app

    app = create_app(settings_for(writable_demo.url, subscription_poll_seconds=0.02))
    client = TestClient(app)
    client.__enter__()
    ws = client.websocket_connect("/graphql", subprotocols=[PROTOCOL]).__enter__()
    init(ws, writable_demo.keys["city"])
    subscribe(ws, "1", {"a": None, "t": None})
    wait_until(lambda: app.state.fanout.live == 1, "the subscription to go live")
    client.portal.call(app.state.fanout.stop)
    with pytest.raises(WebSocketDisconnect) as exc:
        while True:
            receive_json(ws)
    assert (exc.value.code, exc.value.reason) == (1001, "server shutting down: resume with the last cursor")
    ws.__exit__(None, None, None)
    client.__exit__(None, None, None)


def test_writers_notify_on_commit_only_through_either_way_of_inserting_events(empty_db_url, backend) -> None:  # type: ignore[no-untyped-def]
    if backend != "postgres":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    import psycopg
    from sqlalchemy import insert

    from hub import models as m
    from hub.db import make_engine, session_scope
    from hub.fanout.postgres import _conninfo
    from hub.models import utcnow

    def row(n: int) -> dict[str, Any]:
        return {
            "type": "test.ping",
            "region_code": "370800",
            "entity_type": "test",
            "entity_id": n,
            "payload": {},
            "created_at": utcnow(),
        }

    engine = make_engine(empty_db_url)
    with psycopg.connect(_conninfo(empty_db_url), autocommit=True) as listener:
        listener.execute("LISTEN hub_events")

        def received() -> int:
            return sum(1 for _ in listener.notifies(timeout=0.5))

        with session_scope(engine) as session:  # session.add, two events: one notification
            session.add_all([m.Event(**row(1)), m.Event(**row(2))])
        assert received() == 1
        with session_scope(engine) as session:  # ORM bulk insert (the ingest's way)
            session.execute(insert(m.Event), [row(3), row(4)])
        assert received() == 1
        with engine.connect() as conn, conn.begin() as tx:  # rolled back: nothing to wake anyone for
            from sqlalchemy.orm import Session

            with Session(bind=conn) as session:
                session.add(m.Event(**row(5)))
                session.flush()
            tx.rollback()
        assert received() == 0
    engine.dispose()
