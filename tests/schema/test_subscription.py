"""The events subscription over WebSocket (graphql-transport-ws): replay after a cursor, live, resume, jurisdiction."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

SUB = ("subscription($a: String, $t: [String!]) { events(after: $a, types: $t) "
       "{ cursor node { databaseId type regionCode payload } } }")
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
    resp = client.post("/graphql", headers={"X-API-Key": key}, json={
        "query": "mutation($i: ManualClueInput!) { createClue(input: $i) { clueNo } }",
        "variables": {"i": {"channel": "WALK_IN", "sourceId": f"LF-SUB-{n}", "regionCode": county, "title": "来访反映欠薪",
                            "content": "工资未付", "respondentName": f"订阅测试{n}号商贸有限公司", "complainantPhone": f"1370000{n:04d}"}}})
    body = resp.json()
    assert "errors" not in body, body
    return body["data"]["createClue"]["clueNo"]


def test_replay_then_live_then_resume_without_gaps(client, writable_demo) -> None:  # type: ignore[no-untyped-def]
    keys, county = writable_demo.keys, writable_demo.highlights["county_code"]
    first_page = client.post("/graphql", headers={"X-API-Key": keys["county"]},
                             json={"query": "{ events(first: 3) { edges { cursor node { databaseId } } } }"}).json()
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
