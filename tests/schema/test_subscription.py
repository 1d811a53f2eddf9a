"""The events subscription over WebSocket (graphql-transport-ws): replay after a cursor, live, resume, jurisdiction;
served by the fan-out: strawberry's messages, one rendering per selection, a cap per key, slow consumers closed."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.reliability.wsclient import (
    init,
    next_events,
    receive,
    receive_json,
    subscribe,
    wait_until,
    write_events,
)

SUB = (
    "subscription($a: String, $t: [String!]) { events(after: $a, types: $t) "
    "{ cursor node { databaseId type regionCode payload } } }"
)
PROTOCOL = "graphql-transport-ws"


@pytest.fixture
def client(writable_demo, settings_for):  # type: ignore[no-untyped-def]
    from hub.app import create_app

    with TestClient(create_app(settings_for(writable_demo.url))) as client:
        yield client


def _subscribe(ws, key: str | None, variables: dict) -> None:  # type: ignore[no-untyped-def]
    ws.send_json({"type": "connection_init", "payload": {"X-API-Key": key} if key else {}})
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUB, "variables": variables}})


def _next(ws) -> dict:  # type: ignore[no-untyped-def]
    msg = ws.receive_json()
    assert msg["type"] == "next", msg
    return msg["payload"]["data"]["events"]


def _accept_new_clue(client, key: str, county: str, n: int) -> str:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/graphql",
        headers={"X-API-Key": key},
        json={
            "query": "mutation($i: ManualClueInput!) { createClue(input: $i) { clueNo } }",
            "variables": {
                "i": {
                    "channel": "WALK_IN",
                    "sourceId": f"LF-SUB-{n}",
                    "regionCode": county,
                    "title": "来访反映欠薪",
                    "content": "工资未付",
                    "respondentName": f"订阅测试{n}号商贸有限公司",
                    "complainantPhone": f"1370000{n:04d}",
                }
            },
        },
    )
    body = resp.json()
    assert "errors" not in body, body
    return body["data"]["createClue"]["clueNo"]


def test_replay_then_live_then_resume_without_gaps(client, writable_demo) -> None:  # type: ignore[no-untyped-def]
    keys, county = writable_demo.keys, writable_demo.highlights["county_code"]
    first_page = client.post(
        "/graphql",
        headers={"X-API-Key": keys["county"]},
        json={"query": "{ events(first: 3) { edges { cursor node { databaseId } } } }"},
    ).json()
    edges = first_page["data"]["events"]["edges"]
    # Given a subscriber in the county that resumes after its third event
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        _subscribe(ws, keys["county"], {"a": edges[2]["cursor"], "t": None})
        replayed = [_next(ws) for _ in range(3)]
        ids = [m["node"]["databaseId"] for m in replayed]
        # Then it gets the events after the cursor, in order, all within its county
        assert ids == sorted(ids) and ids[0] > edges[2]["node"]["databaseId"]
        assert all(m["node"]["regionCode"].startswith(county) for m in replayed)
    # When a clue is entered, a subscriber from now on sees it live, with a cursor to resume from
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        _subscribe(ws, keys["county"], {"a": None, "t": ["clue.created"]})
        clue_no = _accept_new_clue(client, keys["admin"], county, 1)
        live = _next(ws)
        assert (live["node"]["type"], live["node"]["payload"]["clueNo"]) == ("clue.created", clue_no)
        resume = live["cursor"]
    # And after a disconnect, resuming from that cursor gives the next one and nothing twice
    second = _accept_new_clue(client, keys["admin"], county, 2)
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        _subscribe(ws, keys["county"], {"a": resume, "t": ["clue.created"]})
        nxt = _next(ws)
        assert nxt["node"]["payload"]["clueNo"] == second
        assert nxt["node"]["databaseId"] > live["node"]["databaseId"]


def test_a_subscription_without_a_key_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        _subscribe(ws, None, {"a": None, "t": None})
        msg = ws.receive_json()
        errors = msg["payload"]["errors"] if msg["type"] == "next" else msg["payload"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "no API key" in errors[0]["message"]


# -- the fan-out: one reader per process, one rendering per selection, caps and slow consumers ---------


@pytest.fixture
def make_client(writable_demo, settings_for):  # type: ignore[no-untyped-def]
    """A TestClient on a fresh app with subscription settings of the test's choosing."""
    from hub.app import create_app

    clients = []

    def make(**overrides):  # type: ignore[no-untyped-def]
        overrides.setdefault("subscription_poll_seconds", 0.02)
        app = create_app(settings_for(writable_demo.url, **overrides))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client, app.state.fanout

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def _reference_payload(url: str, key: str, variables: dict) -> dict:  # type: ignore[type-arg]
    """What strawberry itself produces for the subscription (its pipeline, the resolver, the executor)."""
    from hub.access import authenticate
    from hub.crypto import Cipher
    from hub.db import async_session_factory, make_async_engine, make_engine, session_scope
    from hub.settings import Settings
    from schema.build import build_schema
    from schema.context import Context
    from tests.conftest import SECRET

    engine = make_engine(url)
    with session_scope(engine) as session:
        principal = authenticate(session, key)
    engine.dispose()

    async def run() -> dict:  # type: ignore[type-arg]
        aengine = make_async_engine(url)
        sessions = async_session_factory(aengine)
        ctx = Context(
            session=sessions(),
            principal=principal,
            loaders=None,
            cipher=Cipher(SECRET),  # type: ignore[arg-type]
            settings=Settings(database_url=url, secret_key=SECRET),
            session_factory=sessions,
        )
        stream = await build_schema().subscribe(SUB, variable_values=variables, context_value=ctx)
        result = await stream.__anext__()  # type: ignore[union-attr]
        await stream.aclose()  # type: ignore[union-attr]
        await ctx.session.close()
        await aengine.dispose()
        return {"data": result.data}

    return asyncio.run(run())


def test_messages_are_the_ones_strawberry_would_send(make_client, writable_demo) -> None:  # type: ignore[no-untyped-def]
    client, fanout = make_client()
    keys, county = writable_demo.keys, writable_demo.highlights["county_code"]
    [before] = write_events(writable_demo.url, county, 1, start=100)
    # Given a cursor just before a known event (the replayed message) and a live one after it
    from schema.pagination import encode_cursor

    after = encode_cursor([before - 1])
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, keys["county"])
        subscribe(ws, "op-1", {"a": after, "t": ["test.ping"]})
        replayed = receive(ws)["text"]
        wait_until(lambda: fanout.live == 1, "the subscription to go live")
        [live_id] = write_events(writable_demo.url, county, 1, start=101)
        live = receive(ws)["text"]
    # Then each frame is, byte for byte, strawberry's `next` message for that event
    for text, event_id in ((replayed, before), (live, live_id)):
        expected = _reference_payload(
            writable_demo.url, keys["county"], {"a": encode_cursor([event_id - 1]), "t": ["test.ping"]}
        )
        assert text == json.dumps({"id": "op-1", "type": "next", "payload": expected}, separators=(",", ":"))
        assert json.loads(text)["payload"]["data"]["events"]["node"]["databaseId"] == event_id


def test_an_event_is_rendered_once_per_selection_not_per_subscriber(make_client, writable_demo) -> None:  # type: ignore[no-untyped-def]
    client, fanout = make_client()
    keys, county = writable_demo.keys, writable_demo.highlights["county_code"]
    other = "subscription { events { cursor node { type } } }"
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, keys["county"])
        # Given four subscribers with one selection (different arguments) and one with another selection
        for i, variables in enumerate(
            [
                {"a": None, "t": None},
                {"a": None, "t": ["test.ping"]},
                {"a": None, "t": None},
                {"a": None, "t": ["test.ping", "x"]},
            ]
        ):
            subscribe(ws, f"same-{i}", variables)
        subscribe(ws, "other", {}, query=other)
        wait_until(lambda: fanout.live == 5, "five live subscriptions")
        renders = fanout.renders
        # When one event is committed
        [event_id] = write_events(writable_demo.url, county, 1, start=200)
        got = {}
        for _ in range(5):
            op, data = next_events(ws)
            got[op] = data
        # Then every subscriber got it, and it was executed and serialised twice: once per selection
        assert fanout.renders - renders == 2
        assert {op: d["node"].get("databaseId", d["node"]["type"]) for op, d in got.items()} == {
            "same-0": event_id,
            "same-1": event_id,
            "same-2": event_id,
            "same-3": event_id,
            "other": "test.ping",
        }


def test_a_key_over_its_subscription_cap_is_refused(make_client, writable_demo) -> None:  # type: ignore[no-untyped-def]
    client, fanout = make_client(subscription_max_per_key=2)
    keys = writable_demo.keys
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, keys["county"])
        subscribe(ws, "1", {"a": None, "t": None})
        subscribe(ws, "2", {"a": None, "t": None})
        wait_until(lambda: fanout.live == 2, "two live subscriptions")
        # When the same key asks for a third
        subscribe(ws, "3", {"a": None, "t": None})
        msg = receive_json(ws)
        # Then that one is refused with a stable code, the others stay open
        assert msg["type"] == "error" and msg["id"] == "3"
        assert msg["payload"][0]["extensions"] == {
            "code": "TOO_MANY_SUBSCRIPTIONS",
            "limit": 2,
            "suggestion": "complete a subscription you no longer need, or subscribe once to several types",
        }
        assert (
            msg["payload"][0]["message"]
            == "this API key already has 2 open subscriptions on this server, the most it may"
        )
        assert fanout.subscribers == 2
    # And another key still may subscribe
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, keys["city"])
        subscribe(ws, "1", {"a": None, "t": None})
        wait_until(lambda: fanout.live == 1, "the other key's subscription")


def test_a_slow_consumer_is_closed_and_resumes_without_gap_or_duplicate(make_client, writable_demo) -> None:  # type: ignore[no-untyped-def]
    client, fanout = make_client(subscription_queue_size=1)
    keys, county = writable_demo.keys, writable_demo.highlights["county_code"]
    received: list[int] = []
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, keys["county"])
        subscribe(ws, "1", {"a": None, "t": ["test.ping"]})
        wait_until(lambda: fanout.live == 1, "the subscription to go live")
        # When three events commit together for a subscriber that can buffer one
        ids = write_events(writable_demo.url, county, 3, start=300)
        # Then it is closed as a slow consumer, after at most what it had buffered
        while True:
            msg = receive(ws)
            if msg["type"] == "websocket.close":
                break
            received.append(json.loads(msg["text"])["payload"]["data"]["events"]["node"]["databaseId"])
        assert (msg["code"], msg["reason"]) == (4008, "slow consumer: resume with the last cursor")
        assert len(received) <= 1 and fanout.subscribers == 0
    # And resuming from the last cursor it got gives the rest: no gap, nothing twice
    from schema.pagination import encode_cursor

    resume = encode_cursor([received[-1]]) if received else encode_cursor([ids[0] - 1])
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, keys["county"])
        subscribe(ws, "1", {"a": resume, "t": ["test.ping"]})
        while len(received) < 3:
            received.append(next_events(ws)[1]["node"]["databaseId"])
    assert received == ids


def test_a_resumed_subscription_neither_misses_nor_repeats_events_written_meanwhile(make_client, writable_demo) -> None:  # type: ignore[no-untyped-def]
    client, fanout = make_client()
    keys, county = writable_demo.keys, writable_demo.highlights["county_code"]
    from schema.pagination import encode_cursor

    start = write_events(writable_demo.url, county, 1, start=400)[0]
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, keys["county"])
        # Given a subscriber that resumes just before a batch larger than one replay read ...
        from hub.fanout import BATCH

        ids = [start, *write_events(writable_demo.url, county, BATCH + 5, start=401)]
        subscribe(ws, "1", {"a": encode_cursor([start - 1]), "t": ["test.ping"]})
        got = [next_events(ws)[1]["node"]["databaseId"] for _ in range(len(ids))]
        # ... and events keep coming while it catches up
        wait_until(lambda: fanout.live == 1, "the subscription to go live")
        more = write_events(writable_demo.url, county, 2, start=1000)
        got += [next_events(ws)[1]["node"]["databaseId"] for _ in range(2)]
    assert got == ids + more


def test_the_legacy_graphql_ws_protocol_is_not_offered(client) -> None:  # type: ignore[no-untyped-def]
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        with pytest.raises(WebSocketDisconnect) as exc:
            receive_json(ws)
    assert (exc.value.code, exc.value.reason) == (4406, "Subprotocol not acceptable")


def test_an_event_is_seen_through_its_region_or_the_region_handling_it() -> None:
    from types import SimpleNamespace

    from hub.access import NATIONAL, Principal
    from hub.fanout import principal_sees

    county = Principal(name="k", role="inspector", region_code="370811")
    # A clue event of a neighbouring county, handed over (分办) to this one, and one that is not
    assert principal_sees(county, SimpleNamespace(region_code="370812", handling_region_code="370811"))
    assert not principal_sees(county, SimpleNamespace(region_code="370812", handling_region_code="370812"))
    assert not principal_sees(county, SimpleNamespace(region_code="370812", handling_region_code=None))
    # An event without a handling region (not about a clue) is seen by its own region only
    assert principal_sees(county, SimpleNamespace(region_code="370811"))
    assert not principal_sees(county, SimpleNamespace(region_code="370812"))
    assert principal_sees(
        Principal(name="n", role="admin", region_code=NATIONAL), SimpleNamespace(region_code="110101")
    )


def _project_events(url: str, projects: list[tuple[int, str]], *, type_: str) -> list[int]:
    """One event about each (project id, region) in one transaction, as the hub writes them; their ids."""
    from hub import models as m
    from hub.db import make_engine, session_scope
    from hub.outbox import event_values

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            rows = [
                m.Event(
                    **event_values(type_=type_, region_code=r, entity_type="project", entity_id=p, payload={"p": p})
                )
                for p, r in projects
            ]
            session.add_all(rows)
            session.flush()
            return [r.id for r in rows]
    finally:
        engine.dispose()


def _city_project(url: str, sector: str) -> tuple[int, str]:
    from sqlalchemy import text

    from hub.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT id, region_code FROM projects WHERE sector = :s AND region_code LIKE '3708%' ORDER BY id"),
            {"s": sector},
        ).first()
    engine.dispose()
    assert row is not None, f"the demo has no {sector} project in the city"
    return int(row[0]), str(row[1])


def test_a_sector_subscriber_gets_its_sectors_events_only_live_replayed_and_pulled(make_client, writable_demo) -> None:  # type: ignore[no-untyped-def]
    from schema.pagination import encode_cursor

    client, fanout = make_client()
    url, keys = writable_demo.url, writable_demo.keys
    ours, theirs = _city_project(url, "住建"), _city_project(url, "交通")
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        # Given the 住建 department's key following the outbox live
        init(ws, keys["zhujian"])
        subscribe(ws, "1", {"a": None, "t": ["test.sector"]})
        wait_until(lambda: fanout.live == 1, "the sector subscription live")
        # When events about a 交通 project and then a 住建 project of the city commit
        other, mine = _project_events(url, [theirs, ours], type_="test.sector")
        # Then the first it gets is its own sector's: the 交通 one never reached it
        _, got = next_events(ws)
        assert (got["node"]["databaseId"], got["node"]["payload"]) == (mine, {"p": ours[0]})
    # And a replay from before both gives the same one event, then the next 住建 one, nothing else
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        init(ws, keys["zhujian"])
        subscribe(ws, "1", {"a": encode_cursor([other - 1]), "t": ["test.sector"]})
        assert next_events(ws)[1]["node"]["databaseId"] == mine
        wait_until(lambda: fanout.live == 1, "the replayed subscription live")
        _, later = _project_events(url, [theirs, ours], type_="test.sector")
        assert next_events(ws)[1]["node"]["databaseId"] == later
    # And pulling the outbox by query gives the 住建 department its sector's events only (as to the city
    # inspector, both)
    pull = '{ events(types: ["test.sector"], first: 10) { nodes { databaseId } } }'

    def pulled(key: str) -> list[int]:
        body = client.post("/graphql", headers={"X-API-Key": key}, json={"query": pull}).json()
        return [n["databaseId"] for n in body["data"]["events"]["nodes"]]

    assert pulled(keys["zhujian"]) == [mine, later]
    assert pulled(keys["city"]) == [other, mine, later - 1, later]
