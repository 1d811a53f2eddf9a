"""Persisted operations through the whole HTTP stack: Apollo's automatic persisted queries (POST and
GET), the registry of named operations in the graph (validation, idempotence, replace, retire, audit),
and allow-list mode for a role."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub.db import make_engine, session_scope
from hub.models import AuditLog
from tests.schema.conftest import GraphClient, StatementCounter

ME = "query Me { me { name role } }"
REGIONS = "query Provinces { regions { code } }"
REGISTER = """mutation($n: String!, $d: String!, $r: Boolean) {
  registerOperation(name: $n, document: $d, replace: $r) { name sha256 document operationType registeredBy retired } }"""
RETIRE = """mutation($n: String!) { retireOperation(name: $n) { name retired retiredAt } }"""
LIST = """query($all: Boolean) { registeredOperations(includeRetired: $all) { name sha256 retired } }"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str, *, version: Any = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha(text)}}


async def post(graph: GraphClient, body: dict[str, Any], *, as_: str = "admin") -> dict[str, Any]:
    resp = await graph.client.post("/graphql", json=body, headers={"X-API-Key": graph.keys[as_]})
    assert resp.status_code == 200, resp.text
    return resp.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_apollo_round_trip_hash_miss_then_text_then_hash_hit(writable_graph) -> None:
    # Given a query the hub has never seen, sent as Apollo's link does: its hash alone
    text = "query MyName { me { name } }"
    first = await post(writable_graph, {"operationName": "MyName", "variables": {}, "extensions": persisted(text)})
    # Then it is not found, in the words Apollo's link looks for (HTTP 200)
    assert first["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
    # When the link sends it again with its text
    second = await post(writable_graph, {"query": text, "operationName": "MyName", "extensions": persisted(text)})
    assert second == {"data": {"me": {"name": "apikey:admin"}}}
    # Then the hash alone runs it from now on
    third = await post(writable_graph, {"operationName": "MyName", "extensions": persisted(text)})
    assert third == {"data": {"me": {"name": "apikey:admin"}}}


async def test_apollo_get_for_hashed_queries(writable_graph) -> None:
    # Given a query the hub remembers (sent once with its text)
    text = "query MyRole { me { role } }"
    await post(writable_graph, {"query": text, "extensions": persisted(text)})
    # When it is asked by GET with only its hash, as useGETForHashedQueries does (Accept: */*)
    params = {"operationName": "MyRole", "variables": "{}", "extensions": json.dumps(persisted(text))}
    resp = await writable_graph.client.get(
        "/graphql", params=params, headers={"X-API-Key": writable_graph.keys["admin"], "Accept": "*/*"}
    )
    # Then it runs (not GraphiQL's page)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"data": {"me": {"role": "admin"}}}
    # and an unknown hash by GET is not found either, the same way
    params["extensions"] = json.dumps(persisted("query Other { me { name } }"))
    resp = await writable_graph.client.get(
        "/graphql", params=params, headers={"X-API-Key": writable_graph.keys["admin"]}
    )
    assert codes(resp.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    ("extensions", "code", "message"),
    [
        (
            {"persistedQuery": {"version": 1, "sha256Hash": sha("query X { me { name } }")}},
            "PERSISTED_QUERY_HASH_MISMATCH",
            "the query's SHA-256 is not extensions.persistedQuery.sha256Hash",
        ),
        (
            {"persistedQuery": {"version": 2, "sha256Hash": sha(ME)}},
            "PERSISTED_QUERY_VERSION_UNSUPPORTED",
            "persisted query version 2 is not supported: only version 1",
        ),
        (
            {"persistedQuery": {"version": 1, "sha256Hash": "ABC"}},
            "BAD_USER_INPUT",
            "extensions.persistedQuery.sha256Hash must be a SHA-256 in lowercase hex (64 characters)",
        ),
    ],
    ids=["mismatch", "version", "malformed-hash"],
)
async def test_a_bad_persisted_query_is_refused_with_its_code(writable_graph, extensions, code, message) -> None:
    # When the query is sent with a persistedQuery that does not fit it
    body = await post(writable_graph, {"query": ME, "extensions": extensions})
    # Then nothing runs and the refusal says why
    assert body["data"] is None
    assert codes(body) == [code]
    assert body["errors"][0]["message"] == message


async def test_a_mismatched_text_is_not_remembered(writable_graph) -> None:
    # Given a text sent under another query's hash
    other = "query Elsewhere { me { regionCode } }"
    await post(writable_graph, {"query": ME, "extensions": persisted(other)})
    # Then that hash alone is still unknown (the wrong text was not stored under it)
    assert codes(await post(writable_graph, {"extensions": persisted(other)})) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_registering_validates_with_line_and_column(writable_graph) -> None:
    # When an admin registers a document naming a field the schema lacks
    err = await writable_graph.error(REGISTER, {"n": "Bad", "d": "query Bad {\n  me { nosuch }\n}"})
    # Then the refusal names the line and column
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["field"] == "document"
    assert err["message"].startswith("the document is not a valid operation of the hub's schema: line 2, column 8: ")
    assert (err["extensions"]["errors"][0]["line"], err["extensions"]["errors"][0]["column"]) == (2, 8)
    # and a syntax error, and an anonymous operation, likewise
    syntax = await writable_graph.error(REGISTER, {"n": "Bad", "d": "query Bad { me { name }"})
    assert (syntax["extensions"]["code"], syntax["extensions"]["errors"][0]["line"]) == ("BAD_USER_INPUT", 1)
    anonymous = await writable_graph.error(REGISTER, {"n": "Bad", "d": "{ me { name } }"})
    assert "an operation without a name" in anonymous["message"]
    # and two operations in one entry, or a name that is not the operation's
    two = await writable_graph.error(REGISTER, {"n": "A", "d": "query A { me { name } } query B { me { role } }"})
    assert two["message"] == "the document holds 2 operations (A, B): register one operation per entry"
    named = await writable_graph.error(REGISTER, {"n": "Other", "d": ME})
    assert (named["message"], named["extensions"]["field"]) == (
        "the document's operation is named Me, not Other",
        "name",
    )


async def test_registering_is_idempotent_replace_is_explicit_and_each_change_audited(
    writable_graph, writable_demo
) -> None:
    # Given an operation registered by the admin
    doc = "query ScreenA { me { name } }"
    made = (await writable_graph.data(REGISTER, {"n": "ScreenA", "d": doc}))["registerOperation"]
    assert made == {
        "name": "ScreenA",
        "sha256": sha(doc),
        "document": doc,
        "operationType": "query",
        "registeredBy": "apikey:admin",
        "retired": False,
    }
    # When the same text is registered again, it is the same operation
    again = (await writable_graph.data(REGISTER, {"n": "ScreenA", "d": doc}))["registerOperation"]
    assert again == made
    # When another text comes under the name without replace, it is refused
    doc2 = "query ScreenA { me { name role } }"
    err = await writable_graph.error(REGISTER, {"n": "ScreenA", "d": doc2})
    assert (err["extensions"]["code"], err["message"]) == (
        "DUPLICATE_OPERATION",
        "operation ScreenA is already registered with another document",
    )
    # and with replace it is replaced
    replaced = (await writable_graph.data(REGISTER, {"n": "ScreenA", "d": doc2, "r": True}))["registerOperation"]
    assert replaced["sha256"] == sha(doc2)
    # When it is retired, the list leaves it out unless asked
    retired = (await writable_graph.data(RETIRE, {"n": "ScreenA"}))["retireOperation"]
    assert retired["retired"] is True and retired["retiredAt"]
    names = [o["name"] for o in (await writable_graph.data(LIST, {"all": False}))["registeredOperations"]]
    assert "ScreenA" not in names
    every = (await writable_graph.data(LIST, {"all": True}))["registeredOperations"]
    assert {"name": "ScreenA", "sha256": sha(doc2), "retired": True} in every
    # Then the audit log holds register, replace and retire (not the idempotent repeat), by the admin
    engine = make_engine(writable_demo.url)
    with session_scope(engine) as s:
        rows = (
            s.query(AuditLog.action, AuditLog.principal, AuditLog.detail)
            .filter(AuditLog.entity_type == "registered_operation")
            .order_by(AuditLog.id)
            .all()
        )
    engine.dispose()
    screen_a = [(a, p) for a, p, d in rows if d["name"] == "ScreenA"]
    assert screen_a == [
        ("operation.register", "apikey:admin"),
        ("operation.replace", "apikey:admin"),
        ("operation.retire", "apikey:admin"),
    ]


async def test_only_admins_register_or_retire(writable_graph) -> None:
    for key in ("city", "viewer"):
        err = await writable_graph.error(REGISTER, {"n": "X", "d": "query X { me { name } }"}, as_=key)
        assert (err["extensions"]["code"], err["message"]) == (
            "FORBIDDEN",
            "only administrators may manage registered operations",
        )
    err = await writable_graph.error(RETIRE, {"n": "NoSuch"})
    assert (err["extensions"]["code"], err["message"]) == ("NOT_FOUND", "no registered operation named NoSuch")


async def test_a_registered_operation_runs_by_its_hash_at_once(writable_graph) -> None:
    # Given an operation registered through the graph
    doc = "query ScreenRole { me { role regionCode } }"
    await writable_graph.data(REGISTER, {"n": "ScreenRole", "d": doc})
    # When a client sends only its hash, never having sent its text
    body = await post(writable_graph, {"extensions": persisted(doc)}, as_="city")
    # Then it runs
    assert body == {"data": {"me": {"role": "inspector", "regionCode": "370800"}}}
    # and once retired, its hash is unknown again
    await writable_graph.data(RETIRE, {"n": "ScreenRole"})
    assert codes(await post(writable_graph, {"extensions": persisted(doc)}, as_="city")) == [
        "PERSISTED_QUERY_NOT_FOUND"
    ]


@pytest.fixture
async def allowlisted(writable_demo, settings_for, writable_keys) -> AsyncIterator[GraphClient]:
    """A client of an app where viewers run registered operations only."""
    from hub.app import create_app

    app = create_app(settings_for(writable_demo.url, operations_allowlist_roles="viewer"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        yield GraphClient(client, writable_keys, StatementCounter())
    await app.state.engine.dispose()


async def test_allowlist_mode_refuses_unregistered_and_runs_registered(allowlisted) -> None:
    # Given viewers in allow-list mode and one registered operation
    await allowlisted.data(REGISTER, {"n": "Provinces", "d": REGIONS})
    # When a viewer sends an operation nobody registered
    body = await post(allowlisted, {"query": ME, "operationName": "Me"}, as_="viewer")
    # Then it is refused, naming the operation
    assert body["data"] is None
    assert codes(body) == ["OPERATION_NOT_REGISTERED"]
    assert body["errors"][0]["message"] == (
        "operation Me is not registered: a viewer principal may run registered operations only"
    )
    # and an anonymous one too, and introspection (GraphiQL's schema) likewise
    anonymous = await post(allowlisted, {"query": "{ me { name } }"}, as_="viewer")
    assert anonymous["errors"][0]["extensions"]["operation"] == "(an anonymous operation)"
    assert codes(await post(allowlisted, {"query": "{ __schema { queryType { name } } }"}, as_="viewer")) == [
        "OPERATION_NOT_REGISTERED"
    ]
    # When it sends the registered one, by its exact text or by its hash alone
    by_text = await post(allowlisted, {"query": REGIONS}, as_="viewer")
    by_hash = await post(allowlisted, {"extensions": persisted(REGIONS)}, as_="viewer")
    # Then both run
    assert "errors" not in by_text and by_text["data"]["regions"]
    assert by_hash == by_text
    # but a text the cache remembers for others is not registered, and stays refused
    await post(allowlisted, {"query": ME, "extensions": persisted(ME)}, as_="admin")
    assert codes(await post(allowlisted, {"extensions": persisted(ME)}, as_="viewer")) == ["OPERATION_NOT_REGISTERED"]
    # and other roles are not limited
    assert (await allowlisted.data(ME, as_="city"))["me"]["role"] == "inspector"
    # When the operation is retired, the viewer may no longer run it
    await allowlisted.data(RETIRE, {"n": "Provinces"})
    assert codes(await post(allowlisted, {"query": REGIONS}, as_="viewer")) == ["OPERATION_NOT_REGISTERED"]


def test_websocket_subscriptions_are_untouched_by_allowlist_mode(writable_demo, settings_for) -> None:
    from starlette.testclient import TestClient

    from hub.app import create_app

    # Given viewers in allow-list mode, with no registered operation
    app = create_app(settings_for(writable_demo.url, operations_allowlist_roles="viewer"))
    with TestClient(app) as client:
        first = client.post(
            "/graphql",
            headers={"X-API-Key": writable_demo.keys["city"]},
            json={"query": "{ events(first: 1) { edges { cursor } } }"},
        ).json()
        cursor = first["data"]["events"]["edges"][0]["cursor"]
        # When a viewer subscribes to the events over WebSocket (graphql-transport-ws)
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {"X-API-Key": writable_demo.keys["viewer"]}})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($a: String) { events(after: $a) { node { databaseId } } }",
                        "variables": {"a": cursor},
                    },
                }
            )
            # Then the subscription runs as before: allow-list mode governs HTTP operations only
            message = ws.receive_json()
            assert message["type"] == "next", message
            assert message["payload"]["data"]["events"]["node"]["databaseId"]


async def test_a_persisted_query_without_a_key_is_unauthenticated(writable_graph) -> None:
    # When a hash is sent without a key
    resp = await writable_graph.client.post("/graphql", json={"extensions": persisted(ME)})
    # Then the answer is the missing key, not whether the hub knows the hash
    assert codes(resp.json()) == ["UNAUTHENTICATED"]
