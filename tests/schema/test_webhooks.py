"""Webhooks over GraphQL: admin only, within the admin's jurisdiction, secret shown once, state visible."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select

from connectors.sandbox.webhook_receiver import WebhookReceiver
from hub import models as m
from hub import webhooks
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from tests.conftest import SECRET

CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  secret endpoint { id databaseId url description eventTypes regionCode enabled cursorEventId failing attempts } } }"""
ENDPOINTS = """query($failing: Boolean) { webhookEndpoints(failing: $failing) {
  id url regionCode enabled cursor cursorEventId failing attempts nextAttemptAt lastError lastDeliveredAt
  pendingWebhookId } }"""
DELIVERIES = """query($id: ID!, $first: Int, $after: String) { webhookDeliveries(endpointId: $id, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { webhookId attempt statusCode acknowledged error responseExcerpt firstEventId lastEventId eventCount
          nextAttemptAt } } }"""
JINING = {
    "url": "https://jining.example/hooks",
    "eventTypes": ["clue.*"],
    "regionCode": "370800",
    "description": "济宁市人社局",
    "fromBeginning": True,
}


@pytest.fixture
async def graph(empty_db_url, settings_for):  # type: ignore[no-untyped-def]
    """A fresh database with a national admin, a city admin (济宁) and a viewer, and the app on it."""
    from hub.access import NATIONAL
    from hub.api_keys import create_api_key
    from hub.app import create_app
    from tests.schema.conftest import GraphClient, StatementCounter

    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:
        keys = {
            "admin": create_api_key(session, name="admin", role="admin", region_code=NATIONAL)[1],
            "city-admin": create_api_key(session, name="city-admin", role="admin", region_code="370800")[1],
            "viewer": create_api_key(session, name="viewer", role="viewer", region_code="370800")[1],
        }
    app = create_app(settings_for(empty_db_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        client_ = GraphClient(client, keys, StatementCounter())
        client_.engine = engine  # type: ignore[attr-defined]
        yield client_
    await app.state.engine.dispose()
    app.state.sync_engine.dispose()
    engine.dispose()


def audit_actions(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(m.AuditLog.action).where(m.AuditLog.entity_type == "webhook_endpoint").order_by(m.AuditLog.id)
            ).scalars()
        )


async def test_an_admin_creates_an_endpoint_and_sees_its_secret_once(graph) -> None:  # type: ignore[no-untyped-def]
    created = (await graph.data(CREATE, {"input": JINING}))["createWebhookEndpoint"]
    assert created["secret"].startswith("whsec_")
    assert {k: v for k, v in created["endpoint"].items() if k not in ("id", "databaseId")} == {
        "url": "https://jining.example/hooks",
        "description": "济宁市人社局",
        "eventTypes": ["clue.*"],
        "regionCode": "370800",
        "enabled": True,
        "cursorEventId": 0,
        "failing": False,
        "attempts": 0,
    }
    listed = await graph.data(ENDPOINTS)
    assert [e["id"] for e in listed["webhookEndpoints"]] == [created["endpoint"]["id"]]
    assert created["secret"] not in str(listed)
    node = await graph.data(
        "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { url } } }", {"id": created["endpoint"]["id"]}
    )
    assert node["node"] == {"url": "https://jining.example/hooks"}
    assert audit_actions(graph.engine) == ["webhook.create"]


async def test_a_viewer_may_not_read_or_register_endpoints(graph) -> None:  # type: ignore[no-untyped-def]
    err = await graph.error(ENDPOINTS, as_="viewer")
    assert (err["extensions"]["code"], err["message"]) == (
        "FORBIDDEN",
        "only administrators may read webhook endpoints",
    )
    err = await graph.error(CREATE, {"input": JINING}, as_="viewer")
    assert (err["extensions"]["code"], err["message"]) == ("FORBIDDEN", "only administrators may manage webhooks")
    assert audit_actions(graph.engine) == []


@pytest.mark.parametrize("url", ["http://jining.example/hooks", "http://127.0.0.1:9000/hooks", "jining.example"])
async def test_a_bad_url_is_refused_naming_the_field(graph, url: str) -> None:  # type: ignore[no-untyped-def]
    err = await graph.error(CREATE, {"input": {**JINING, "url": url}})
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert (err["extensions"]["field"], err["message"]) == ("url", f"url {url!r} must be an https:// URL with a host")


async def test_an_unknown_event_type_is_refused_naming_the_field(graph) -> None:  # type: ignore[no-untyped-def]
    err = await graph.error(CREATE, {"input": {**JINING, "eventTypes": ["clue.nope"]}})
    assert (err["extensions"]["code"], err["extensions"]["field"]) == ("BAD_USER_INPUT", "eventTypes")


async def test_endpoints_stay_within_the_admins_jurisdiction(graph) -> None:  # type: ignore[no-untyped-def]
    err = await graph.error(CREATE, {"input": {**JINING, "regionCode": "320100"}}, as_="city-admin")
    assert (err["extensions"]["code"], err["message"]) == (
        "FORBIDDEN",
        "regionCode 320100 is outside your jurisdiction 370800",
    )
    nanjing = (await graph.data(CREATE, {"input": {**JINING, "regionCode": "320100"}}))["createWebhookEndpoint"]
    jining = (await graph.data(CREATE, {"input": JINING}, as_="city-admin"))["createWebhookEndpoint"]
    seen = (await graph.data(ENDPOINTS, as_="city-admin"))["webhookEndpoints"]
    assert [e["id"] for e in seen] == [jining["endpoint"]["id"]]
    err = await graph.error(
        "mutation($id: ID!) { retryWebhookEndpoint(endpointId: $id) { id } }",
        {"id": nanjing["endpoint"]["id"]},
        as_="city-admin",
    )
    assert (err["extensions"]["code"], err["message"]) == (
        "NOT_FOUND",
        f"no webhook endpoint {nanjing['endpoint']['databaseId']} in your jurisdiction",
    )


async def test_delivery_state_and_log_are_visible(graph) -> None:  # type: ignore[no-untyped-def]
    created = (await graph.data(CREATE, {"input": JINING}))["createWebhookEndpoint"]
    gid = created["endpoint"]["id"]
    with session_scope(graph.engine) as session:
        session.add(m.Event(type="clue.created", region_code="370811", entity_type="clue", entity_id=1, payload={}))
    receiver = WebhookReceiver(created["secret"])
    receiver.fail_next(500)
    at = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.timezone.utc)
    with httpx.Client(transport=receiver.transport()) as client:
        webhooks.deliver_due(graph.engine, cipher=Cipher(SECRET), client=client, clock=lambda: at)
    [failing] = (await graph.data(ENDPOINTS, {"failing": True}))["webhookEndpoints"]
    assert (failing["failing"], failing["attempts"], failing["cursorEventId"]) == (True, 1, 0)
    assert failing["nextAttemptAt"] == "2026-11-20T08:00:30+00:00"
    assert failing["lastError"] == 'HTTP 500: {"error":"下游系统繁忙，请联系值班电话 139****0001"}'
    assert failing["pendingWebhookId"] == receiver.deliveries[0].msg_id
    assert (await graph.data(ENDPOINTS, {"failing": False}))["webhookEndpoints"] == []
    with httpx.Client(transport=receiver.transport()) as client:
        webhooks.deliver_due(
            graph.engine, cipher=Cipher(SECRET), client=client, clock=lambda: at + dt.timedelta(seconds=30)
        )
    page = (await graph.data(DELIVERIES, {"id": gid, "first": 1}))["webhookDeliveries"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"] is True
    assert page["nodes"] == [
        {
            "webhookId": failing["pendingWebhookId"],
            "attempt": 2,
            "statusCode": 200,
            "acknowledged": True,
            "error": None,
            "responseExcerpt": '{"received":1}',
            "firstEventId": 1,
            "lastEventId": 1,
            "eventCount": 1,
            "nextAttemptAt": None,
        }
    ]
    older = await graph.data(DELIVERIES, {"id": gid, "first": 1, "after": page["pageInfo"]["endCursor"]})
    assert [(n["attempt"], n["statusCode"], n["nextAttemptAt"]) for n in older["webhookDeliveries"]["nodes"]] == [
        (1, 500, "2026-11-20T08:00:30+00:00")
    ]
    [ok] = (await graph.data(ENDPOINTS))["webhookEndpoints"]
    assert (ok["failing"], ok["cursorEventId"], ok["lastDeliveredAt"]) == (False, 1, "2026-11-20T08:00:30+00:00")
    err = await graph.error(DELIVERIES, {"id": gid}, as_="viewer")
    assert err["extensions"]["code"] == "FORBIDDEN"


async def test_reset_retry_update_and_delete_are_audited(graph) -> None:  # type: ignore[no-untyped-def]
    from hub.actors import deliver_webhooks

    created = (await graph.data(CREATE, {"input": {**JINING, "fromBeginning": False}}))["createWebhookEndpoint"]
    gid = created["endpoint"]["id"]
    with session_scope(graph.engine) as session:
        session.add_all(
            m.Event(type="clue.created", region_code="370811", entity_type="clue", entity_id=i, payload={})
            for i in (1, 2)
        )
    # reset to an events cursor (as `events { pageInfo { endCursor } }` gives one)
    first = (await graph.data("{ events(first: 1) { pageInfo { endCursor } } }"))["events"]["pageInfo"]["endCursor"]
    reset = await graph.data(
        "mutation($id: ID!, $after: String) { resetWebhookCursor(endpointId: $id, after: $after) "
        "{ cursor cursorEventId } }",
        {"id": gid, "after": first},
    )
    assert reset["resetWebhookCursor"] == {"cursor": first, "cursorEventId": 1}
    err = await graph.error(
        'mutation($id: ID!) { resetWebhookCursor(endpointId: $id, after: "bm9wZQ") { id } }', {"id": gid}
    )
    assert err["extensions"]["code"] == "INVALID_CURSOR"
    # retry: due now, and the deliver_webhooks actor is sent
    queue = deliver_webhooks.broker.queues.get(deliver_webhooks.queue_name)
    before = len(queue.queue) if queue is not None else 0
    retried = await graph.data(
        "mutation($id: ID!) { retryWebhookEndpoint(endpointId: $id) { nextAttemptAt } }", {"id": gid}
    )
    assert retried["retryWebhookEndpoint"]["nextAttemptAt"] is not None
    assert len(deliver_webhooks.broker.queues[deliver_webhooks.queue_name].queue) == before + 1
    # disable and retype; a disabled endpoint cannot be retried
    updated = await graph.data(
        "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {enabled: false, "
        'eventTypes: ["clue.close"]}) { enabled eventTypes } }',
        {"id": gid},
    )
    assert updated["updateWebhookEndpoint"] == {"enabled": False, "eventTypes": ["clue.close"]}
    err = await graph.error("mutation($id: ID!) { retryWebhookEndpoint(endpointId: $id) { id } }", {"id": gid})
    assert (err["extensions"]["code"], err["extensions"]["field"], err["message"]) == (
        "BAD_USER_INPUT",
        "endpointId",
        f"webhook endpoint {created['endpoint']['databaseId']} is disabled: enable it first",
    )
    deleted = await graph.data("mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }", {"id": gid})
    assert deleted["deleteWebhookEndpoint"] == gid
    assert (await graph.data(ENDPOINTS))["webhookEndpoints"] == []
    assert audit_actions(graph.engine) == [
        "webhook.create",
        "webhook.reset_cursor",
        "webhook.retry",
        "webhook.update",
        "webhook.delete",
    ]
