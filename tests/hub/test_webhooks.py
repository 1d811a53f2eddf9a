"""Webhooks (hub.webhooks): batches of the outbox, signed, delivered at least once to a sandbox receiver."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.sandbox.webhook_receiver import FAILURE_TEXT, WebhookReceiver
from hub import models as m
from hub import webhooks
from hub.access import SYSTEM, Principal
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.errors import Forbidden, InvalidInput
from tests.conftest import SECRET

CIPHER = Cipher(SECRET)
T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.timezone.utc)
CITY = Principal(name="apikey:city-admin", role="admin", region_code="370800")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: dt.datetime = T0) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, seconds: float) -> dt.datetime:
        self.at += dt.timedelta(seconds=seconds)
        return self.at


@pytest.fixture
def db(empty_db_url):  # type: ignore[no-untyped-def]
    engine = make_engine(empty_db_url)
    yield SimpleNamespace(url=empty_db_url, engine=engine)
    engine.dispose()


def add_events(db, *specs: tuple[str, str]) -> list[int]:  # type: ignore[no-untyped-def]
    """Outbox events ``(type, region)``, committed in order; returns their ids."""
    with session_scope(db.engine) as session:
        rows = [
            m.Event(
                type=t, region_code=r, entity_type=t.split(".")[0], entity_id=i + 1, payload={"n": i}, created_at=T0
            )
            for i, (t, r) in enumerate(specs)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def register(
    db,
    *,
    types: list[str],
    region: str = "370800",
    from_beginning: bool = True,  # type: ignore[no-untyped-def]
    url: str = "https://jining.example/hooks",
) -> tuple[int, str]:
    with session_scope(db.engine) as session:
        row, secret = webhooks.create_endpoint(
            session,
            principal=SYSTEM,
            cipher=CIPHER,
            url=url,
            event_types=types,
            region_code=region,
            description="济宁市人社局",
            from_beginning=from_beginning,
        )
        return row.id, secret


def endpoint(db, endpoint_id: int) -> m.WebhookEndpoint:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        row = session.get(m.WebhookEndpoint, endpoint_id)
        session.expunge(row)
    return row


def log(db, endpoint_id: int) -> list[m.WebhookDelivery]:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session:
        rows = (
            session.execute(
                select(m.WebhookDelivery)
                .where(m.WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(m.WebhookDelivery.id)
            )
            .scalars()
            .all()
        )
        session.expunge_all()
    return list(rows)


def deliver(db, receiver: WebhookReceiver, clock: Clock | None = None, **kwargs: Any) -> webhooks.DeliveryReport:  # type: ignore[no-untyped-def]
    with httpx.Client(transport=receiver.transport()) as client:
        return webhooks.deliver_due(db.engine, cipher=CIPHER, client=client, clock=clock or Clock(), **kwargs)


# -- registration -------------------------------------------------------------------------------------


def test_the_secret_is_a_standard_webhooks_secret_stored_only_encrypted(db) -> None:  # type: ignore[no-untyped-def]
    endpoint_id, secret = register(db, types=["clue.*"])
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    row = endpoint(db, endpoint_id)
    assert secret not in row.secret_enc and CIPHER.decrypt(row.secret_enc) == secret
    with session_scope(db.engine) as session:
        entry = session.execute(select(m.AuditLog).where(m.AuditLog.action == "webhook.create")).scalar_one()
        assert (entry.entity_id, entry.detail) == (
            endpoint_id,
            {"url": "https://jining.example/hooks", "eventTypes": ["clue.*"], "cursor": 0},
        )
        assert secret not in str(entry.detail)


@pytest.mark.parametrize(
    ("url", "allow", "message"),
    [
        ("http://jining.example/hooks", True, "url 'http://jining.example/hooks' must be an https:// URL with a host"),
        ("http://127.0.0.1:9000/hooks", False, "url 'http://127.0.0.1:9000/hooks' must be an https:// URL with a host"),
        ("ftp://jining.example/hooks", True, "url 'ftp://jining.example/hooks' must be an https:// URL with a host"),
        ("https:///nohost", True, "url 'https:///nohost' must be an https:// URL with a host"),
    ],
)
def test_an_endpoint_must_be_https(url: str, allow: bool, message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        webhooks.validate_url(url, allow_local_http=allow)
    assert (exc.value.message, exc.value.extra["field"]) == (message, "url")


def test_plain_http_to_this_machine_is_accepted_when_allowed() -> None:
    assert webhooks.validate_url("http://127.0.0.1:9000/hooks", allow_local_http=True) == "http://127.0.0.1:9000/hooks"
    assert webhooks.validate_url("http://localhost/hooks", allow_local_http=True) == "http://localhost/hooks"
    assert webhooks.validate_url(" https://jining.example/h ", allow_local_http=False) == "https://jining.example/h"


def test_event_types_are_known_names_or_family_prefixes() -> None:
    assert webhooks.validate_event_types(["clue.close", "project.*", "clue.close"]) == ["clue.close", "project.*"]
    with pytest.raises(InvalidInput) as exc:
        webhooks.validate_event_types(["clue.closed"])
    assert exc.value.message == ("eventTypes: unknown event type 'clue.closed': use a type such as clue.close, a prefix "
                                 "(clue.*, warning.*, project.*, wage_account.*, deposit.*) or *")
    assert exc.value.extra["field"] == "eventTypes"
    with pytest.raises(InvalidInput, match=r"^eventTypes must name at least one event type \(or \* for all\)$"):
        webhooks.validate_event_types([])


def test_an_endpoint_lies_within_the_admins_jurisdiction(db) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db.engine) as session, pytest.raises(Forbidden) as exc:
        webhooks.create_endpoint(
            session, principal=CITY, cipher=CIPHER, url="https://x.example/h", event_types=["*"], region_code="320100"
        )
    assert exc.value.message == "regionCode 320100 is outside your jurisdiction 370800"
    with session_scope(db.engine) as session, pytest.raises(InvalidInput) as bad:
        webhooks.create_endpoint(
            session, principal=CITY, cipher=CIPHER, url="https://x.example/h", event_types=["*"], region_code="37080"
        )
    assert bad.value.extra["field"] == "regionCode"


def test_a_new_endpoint_starts_after_the_last_event_unless_from_the_beginning(db) -> None:  # type: ignore[no-untyped-def]
    ids = add_events(db, ("clue.created", "370811"), ("clue.close", "370811"))
    new_only, _ = register(db, types=["*"], from_beginning=False)
    everything, _ = register(db, types=["*"], from_beginning=True)
    assert (endpoint(db, new_only).cursor, endpoint(db, everything).cursor) == (ids[-1], 0)


# -- delivery -----------------------------------------------------------------------------------------


def test_a_batch_within_the_jurisdiction_is_signed_and_delivered(db) -> None:  # type: ignore[no-untyped-def]
    # Given clue events in 济宁 (370800) and 南京 (320100), and a project event in 济宁
    ids = add_events(
        db,
        ("clue.created", "370811"),
        ("clue.created", "320100"),
        ("project.upserted", "370811"),
        ("clue.close", "370812"),
    )
    endpoint_id, secret = register(db, types=["clue.*"])
    receiver = WebhookReceiver(secret)
    # When due webhooks are delivered
    report = deliver(db, receiver)
    # Then one signed batch (the receiver verified it) holds the two 济宁 clue events, in order
    assert report.as_dict() == {"acknowledged": 1, "failed": 0, "attempts": 1}
    [post] = receiver.deliveries
    assert post.outcome == 200
    assert [(e["id"], e["type"], e["regionCode"]) for e in post.body["data"]["events"]] == [
        (ids[0], "clue.created", "370811"),
        (ids[3], "clue.close", "370812"),
    ]
    assert post.body["type"] == "events.batch"
    assert (post.body["data"]["after"], post.body["data"]["cursor"]) == (0, ids[3])
    row = endpoint(db, endpoint_id)
    assert (row.cursor, row.attempts, row.pending_msg_id, row.last_error) == (ids[3], 0, None, None)
    assert row.last_delivered_at == T0
    # And a later event outside the jurisdiction is never sent: the cursor only skips past it
    [outside] = add_events(db, ("clue.close", "320100"))
    assert deliver(db, receiver).attempts == []
    assert len(receiver.deliveries) == 1 and endpoint(db, endpoint_id).cursor == outside


def test_the_types_filter_takes_names_and_prefixes(db) -> None:  # type: ignore[no-untyped-def]
    ids = add_events(
        db,
        ("clue.created", "370811"),
        ("clue.close", "370811"),
        ("project.upserted", "370811"),
        ("wage_account.upserted", "370811"),
        ("deposit.upserted", "370811"),
    )
    _, secret = register(db, types=["clue.close", "wage_account.*"])
    receiver = WebhookReceiver(secret)
    deliver(db, receiver)
    assert [(e["id"], e["type"]) for e in receiver.events()] == [
        (ids[1], "clue.close"),
        (ids[3], "wage_account.upserted"),
    ]


def test_a_national_endpoint_with_every_type_gets_the_whole_outbox_in_batches(db) -> None:  # type: ignore[no-untyped-def]
    ids = add_events(db, *[("clue.created", region) for region in ("370811", "320100", "110101", "370812", "440300")])
    _, secret = register(db, types=["*"], region="000000")
    receiver = WebhookReceiver(secret)
    report = deliver(db, receiver, batch_size=2)
    assert [(a.first_event_id, a.last_event_id, a.event_count) for a in report.attempts] == [
        (ids[0], ids[1], 2),
        (ids[2], ids[3], 2),
        (ids[4], ids[4], 1),
    ]
    assert len({a.msg_id for a in report.attempts}) == 3
    assert [e["id"] for e in receiver.events()] == ids


def test_back_off_doubles_from_30_seconds_to_an_hour_without_jitter() -> None:
    assert [webhooks.backoff(n).total_seconds() for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_failing_receiver_gets_the_same_batch_on_the_back_off_schedule_until_it_acknowledges(db) -> None:  # type: ignore[no-untyped-def]
    ids = add_events(db, ("clue.created", "370811"), ("clue.close", "370811"))
    endpoint_id, secret = register(db, types=["clue.*"])
    receiver = WebhookReceiver(secret)
    receiver.fail_next(500, "timeout")
    clock = Clock()
    # First attempt: HTTP 500; the cursor stays, the next attempt is 30 s later, the phone in the error is masked
    [first] = deliver(db, receiver, clock).attempts
    row = endpoint(db, endpoint_id)
    assert (first.status, first.status_code, row.cursor, row.attempts) == ("failing", 500, 0, 1)
    assert row.next_attempt_at == T0 + dt.timedelta(seconds=30)
    assert row.last_error == 'HTTP 500: {"error":"' + FAILURE_TEXT.replace("13905370001", "139****0001") + '"}'
    assert "13905370001" not in (log(db, endpoint_id)[0].response_excerpt or "")
    # Not before its time
    clock.advance(29)
    assert deliver(db, receiver, clock).attempts == []
    # Second attempt, at +30 s: no answer; next one 60 s later
    clock.advance(1)
    [second] = deliver(db, receiver, clock).attempts
    row = endpoint(db, endpoint_id)
    assert (second.status, second.status_code, second.error) == ("failing", None, "no answer within 10 s")
    assert (row.cursor, row.attempts, row.next_attempt_at) == (0, 2, T0 + dt.timedelta(seconds=90))
    # Third attempt, at +90 s: acknowledged; the cursor moves past the batch
    clock.advance(60)
    [third] = deliver(db, receiver, clock).attempts
    row = endpoint(db, endpoint_id)
    assert third.status == "acknowledged"
    assert (row.cursor, row.attempts, row.next_attempt_at, row.last_error) == (ids[1], 0, None, None)
    assert row.last_delivered_at == T0 + dt.timedelta(seconds=90)
    # The receiver saw one batch three times, under one webhook-id, and acknowledged it once
    assert [d.outcome for d in receiver.deliveries] == [500, "timeout", 200]
    assert len({d.msg_id for d in receiver.deliveries}) == 1
    assert [e["id"] for e in receiver.events()] == ids
    # The log has each attempt
    assert [(d.attempt, d.status_code, d.acknowledged, d.next_attempt_at) for d in log(db, endpoint_id)] == [
        (1, 500, False, T0 + dt.timedelta(seconds=30)),
        (2, None, False, T0 + dt.timedelta(seconds=90)),
        (3, 200, True, None),
    ]
    assert {d.msg_id for d in log(db, endpoint_id)} == {third.msg_id}
    assert log(db, endpoint_id)[2].response_excerpt == '{"received":2}'


def test_a_receiver_with_another_secret_refuses_the_signature(db) -> None:  # type: ignore[no-untyped-def]
    add_events(db, ("clue.created", "370811"))
    endpoint_id, _ = register(db, types=["*"])
    [attempt] = deliver(db, WebhookReceiver(webhooks.generate_secret())).attempts
    assert (attempt.status, attempt.status_code) == ("failing", 401)
    assert (
        endpoint(db, endpoint_id).last_error == 'HTTP 401: {"error":"signature rejected: No matching signature found"}'
    )


def test_a_retry_ignores_the_back_off_and_a_new_event_does_not_change_a_pending_batch(db) -> None:  # type: ignore[no-untyped-def]
    ids = add_events(db, ("clue.created", "370811"))
    endpoint_id, secret = register(db, types=["*"])
    receiver = WebhookReceiver(secret)
    receiver.fail_next(503)
    clock = Clock()
    deliver(db, receiver, clock)
    later = add_events(db, ("clue.close", "370811"))
    # retry now (hub webhooks retry): the same batch first, then the new event in a batch of its own
    report = deliver(db, receiver, clock, ignore_schedule=True)
    assert [(a.status, a.first_event_id, a.last_event_id) for a in report.attempts] == [
        ("acknowledged", ids[0], ids[0]),
        ("acknowledged", later[0], later[0]),
    ]
    assert report.attempts[0].msg_id == receiver.deliveries[0].msg_id != report.attempts[1].msg_id
    assert endpoint(db, endpoint_id).cursor == later[0]


def test_a_retry_sends_to_every_failing_endpoint_now(db) -> None:  # type: ignore[no-untyped-def]
    add_events(db, ("clue.created", "370811"))
    first_id, first_secret = register(db, types=["*"])
    second_id, second_secret = register(db, types=["*"], url="https://yanzhou.example/hooks")
    receivers = {first_id: WebhookReceiver(first_secret), second_id: WebhookReceiver(second_secret)}
    for r in receivers.values():
        r.fail_next(500)

    def route(request: httpx.Request) -> httpx.Response:
        receiver = receivers[first_id if request.url.host == "jining.example" else second_id]
        return receiver.transport().handle_request(request)

    clock = Clock()
    with httpx.Client(transport=httpx.MockTransport(route)) as client:
        failed = webhooks.deliver_due(db.engine, cipher=CIPHER, client=client, clock=clock)
        retried = webhooks.deliver_due(db.engine, cipher=CIPHER, client=client, clock=clock, ignore_schedule=True)
    assert [(a.endpoint_id, a.status) for a in failed.attempts] == [(first_id, "failing"), (second_id, "failing")]
    assert [(a.endpoint_id, a.status) for a in retried.attempts] == [
        (first_id, "acknowledged"),
        (second_id, "acknowledged"),
    ]


def test_the_timeout_is_applied_to_a_receiver_over_http(db) -> None:  # type: ignore[no-untyped-def]
    from tests.connectors.conftest import serve_asgi

    add_events(db, ("clue.created", "370811"))
    with session_scope(db.engine) as session:
        row, secret = webhooks.create_endpoint(
            session,
            principal=SYSTEM,
            cipher=CIPHER,
            url="http://127.0.0.1/",
            event_types=["*"],
            region_code="370800",
            from_beginning=True,
            allow_local_http=True,
        )
        endpoint_id = row.id
    receiver = WebhookReceiver(secret, hang_seconds=1.0)
    receiver.fail_next("timeout")
    with serve_asgi(receiver.app) as base:
        with session_scope(db.engine) as session:
            webhooks.update_endpoint(
                session,
                principal=SYSTEM,
                endpoint=session.get(m.WebhookEndpoint, endpoint_id),
                url=f"{base}/hooks",
                allow_local_http=True,
            )
        [attempt] = webhooks.deliver_due(db.engine, cipher=CIPHER, clock=Clock(), timeout=0.2).attempts
    assert (attempt.status, attempt.status_code, attempt.error) == ("failing", None, "no answer within 0.2 s")


def test_a_claimed_endpoint_is_not_delivered_by_another_worker_until_its_lease_runs_out(db) -> None:  # type: ignore[no-untyped-def]
    from hub.db import session_factory

    add_events(db, ("clue.created", "370811"))
    endpoint_id, secret = register(db, types=["*"])
    receiver = WebhookReceiver(secret)
    # Given a worker that claimed the endpoint and died before posting
    batch = webhooks._claim(
        session_factory(db.engine), endpoint_id, cipher=CIPHER, now=T0, batch_size=100, ignore_schedule=False
    )
    assert batch is not None
    # Then no other worker delivers it while the lease holds, even when told to retry now
    clock = Clock(T0 + dt.timedelta(seconds=webhooks.LEASE_SECONDS - 1))
    assert deliver(db, receiver, clock).attempts == []
    assert deliver(db, receiver, clock, ignore_schedule=True).attempts == []
    # And once it has run out, the next worker sends that batch, under the same webhook-id
    clock.advance(2)
    [attempt] = deliver(db, receiver, clock).attempts
    assert (attempt.status, attempt.msg_id) == ("acknowledged", batch.msg_id)


def test_two_concurrent_workers_deliver_a_batch_once(db) -> None:  # type: ignore[no-untyped-def]
    add_events(db, ("clue.created", "370811"), ("clue.close", "370811"))
    endpoint_id, secret = register(db, types=["*"])
    receiver = WebhookReceiver(secret)
    start = threading.Barrier(2)
    reports: list[webhooks.DeliveryReport] = []

    def worker() -> None:
        start.wait(timeout=10)
        reports.append(deliver(db, receiver))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(len(r.attempts) for r in reports) == [0, 1]
    assert len(receiver.deliveries) == 1 and len(log(db, endpoint_id)) == 1


def test_a_reset_cursor_resends_from_there_under_a_new_webhook_id(db) -> None:  # type: ignore[no-untyped-def]
    ids = add_events(db, ("clue.created", "370811"), ("clue.accept", "370811"), ("clue.close", "370811"))
    endpoint_id, secret = register(db, types=["*"])
    receiver = WebhookReceiver(secret)
    deliver(db, receiver)
    with session_scope(db.engine) as session:
        row = webhooks.get_endpoint(session, principal=SYSTEM, endpoint_id=endpoint_id)
        webhooks.reset_cursor(session, principal=SYSTEM, endpoint=row, after=ids[0])
    [again] = deliver(db, receiver).attempts
    assert [e["id"] for e in receiver.deliveries[1].body["data"]["events"]] == ids[1:]
    assert again.msg_id != receiver.deliveries[0].msg_id
    assert endpoint(db, endpoint_id).cursor == ids[2]
    with session_scope(db.engine) as session, pytest.raises(InvalidInput) as exc:
        webhooks.reset_cursor(
            session, principal=SYSTEM, endpoint=session.get(m.WebhookEndpoint, endpoint_id), after=ids[2] + 1
        )
    assert (exc.value.message, exc.value.extra["field"]) == (
        f"after: event {ids[2] + 1} does not exist (the outbox ends at event {ids[2]})",
        "after",
    )


def test_a_reset_during_a_post_keeps_the_reset_cursor(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = add_events(db, ("clue.created", "370811"), ("clue.close", "370811"))
    endpoint_id, secret = register(db, types=["*"])
    receiver = WebhookReceiver(secret)
    post = webhooks._post

    def reset_meanwhile(http, batch, *, timeout):  # type: ignore[no-untyped-def]
        with session_scope(db.engine) as session:
            webhooks.reset_cursor(
                session, principal=SYSTEM, endpoint=session.get(m.WebhookEndpoint, endpoint_id), after=0
            )
        return post(http, batch, timeout=timeout)

    monkeypatch.setattr(webhooks, "_post", reset_meanwhile)
    [attempt] = deliver(db, receiver).attempts
    assert attempt.status == "superseded"
    assert endpoint(db, endpoint_id).cursor == 0  # the acknowledgement of the old batch does not move it
    monkeypatch.setattr(webhooks, "_post", post)
    [again] = deliver(db, receiver).attempts
    assert (again.status, again.last_event_id) == ("acknowledged", ids[1])


def test_disabled_endpoints_are_not_delivered_and_new_types_form_a_new_batch(db) -> None:  # type: ignore[no-untyped-def]
    ids = add_events(db, ("clue.created", "370811"), ("project.upserted", "370811"))
    endpoint_id, secret = register(db, types=["*"])
    receiver = WebhookReceiver(secret)
    receiver.fail_next(500)
    deliver(db, receiver)
    with session_scope(db.engine) as session:
        row = session.get(m.WebhookEndpoint, endpoint_id)
        webhooks.update_endpoint(session, principal=SYSTEM, endpoint=row, enabled=False, event_types=["project.*"])
        assert row.pending_msg_id is None
    assert deliver(db, receiver, ignore_schedule=True).attempts == []
    with session_scope(db.engine) as session:
        webhooks.update_endpoint(
            session, principal=SYSTEM, endpoint=session.get(m.WebhookEndpoint, endpoint_id), enabled=True
        )
    [attempt] = deliver(db, receiver).attempts
    assert attempt.status == "acknowledged" and attempt.msg_id != receiver.deliveries[0].msg_id
    assert [e["id"] for e in receiver.events()] == [ids[1]]


def test_an_unreachable_endpoint_fails_with_the_reason(db) -> None:  # type: ignore[no-untyped-def]
    add_events(db, ("clue.created", "370811"))
    endpoint_id, _ = register(db, types=["*"])

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        [attempt] = webhooks.deliver_due(db.engine, cipher=CIPHER, client=client, clock=Clock()).attempts
    assert attempt.error == "could not reach the endpoint: ConnectError: [Errno 111] Connection refused"
    assert endpoint(db, endpoint_id).attempts == 1


# -- the actor, the scheduler and the CLI ---------------------------------------------------------------


def test_the_scheduler_sends_deliver_webhooks() -> None:
    import dramatiq

    from hub.actors import ACTORS, Scheduler, deliver_webhooks
    from hub.broker import setup_broker

    assert deliver_webhooks in ACTORS
    broker = setup_broker("memory://")
    scheduler = Scheduler(interval=0.05, writeback_interval=60, webhook_interval=60)
    scheduler.start()
    threading.Event().wait(0.5)
    scheduler.stop()
    sent = [dramatiq.Message.decode(raw).actor_name for raw in broker.queues["hub"].queue]
    assert sent.count(deliver_webhooks.actor_name) == 1  # at the first tick, then once a minute


def test_the_deliver_webhooks_actor_posts_over_http_on_the_in_process_broker(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dramatiq

    from hub.broker import setup_broker
    from hub.settings import get_settings
    from tests.connectors.conftest import serve_asgi

    ids = add_events(db, ("clue.created", "370811"), ("clue.close", "370811"))
    monkeypatch.setenv("HUB_DATABASE_URL", db.url)
    monkeypatch.setenv("HUB_SECRET_KEY", SECRET)
    monkeypatch.setenv("HUB_WEBHOOK_BATCH_SIZE", "1")
    get_settings.cache_clear()
    try:
        with session_scope(db.engine) as session:
            row, secret = webhooks.create_endpoint(
                session,
                principal=SYSTEM,
                cipher=CIPHER,
                url="http://127.0.0.1/",
                event_types=["*"],
                region_code="370800",
                from_beginning=True,
                allow_local_http=True,
            )
        receiver = WebhookReceiver(secret)
        with serve_asgi(receiver.app) as base:
            with session_scope(db.engine) as session:
                webhooks.update_endpoint(
                    session,
                    principal=SYSTEM,
                    endpoint=session.get(m.WebhookEndpoint, row.id),
                    url=f"{base}/hooks",
                    allow_local_http=True,
                )
            broker = setup_broker("memory://")
            worker = dramatiq.Worker(broker, worker_timeout=100)
            worker.start()
            try:
                broker.get_actor("deliver_webhooks").send()
                broker.join("hub", timeout=30_000)
            finally:
                worker.stop()
        assert [e["id"] for e in receiver.events()] == ids
        assert len(receiver.acknowledged) == 2  # HUB_WEBHOOK_BATCH_SIZE=1: one POST per event
    finally:
        get_settings.cache_clear()


@pytest.fixture
def cli_env(db, monkeypatch):  # type: ignore[no-untyped-def]
    from hub.settings import get_settings

    monkeypatch.setenv("HUB_DATABASE_URL", db.url)
    monkeypatch.setenv("HUB_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(result.output.split())


def test_cli_create_list_shows_failing_endpoints_deliveries_and_reset(cli_env) -> None:  # type: ignore[no-untyped-def]
    from hub.cli import app

    runner = CliRunner()
    ids = add_events(cli_env, ("clue.created", "370811"))
    created = runner.invoke(
        app,
        [
            "webhooks",
            "create",
            "https://jining.example/hooks",
            "--type",
            "clue.*",
            "--region",
            "370800",
            "--from-beginning",
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.output.strip().split()[-1]
    assert secret.startswith("whsec_")
    assert "webhook endpoint 1 → https://jining.example/hooks (region 370800, after event 0)" in said(created)
    # a receiver that fails: the endpoint is listed as failing, with its masked error
    receiver = WebhookReceiver(secret)
    receiver.fail_next(502)
    deliver(cli_env, receiver)
    listed = runner.invoke(app, ["webhooks", "list", "--failing"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert "failing" in said(listed) and "https://jining.example/hooks" in said(listed)
    assert f'1: HTTP 502: {{"error":"{FAILURE_TEXT.replace("13905370001", "139****0001")}"}}' in said(listed)
    assert "13905370001" not in listed.output
    shown = runner.invoke(app, ["webhooks", "deliveries", "1"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and "502" in said(shown) and receiver.deliveries[0].msg_id in said(shown)
    reset = runner.invoke(app, ["webhooks", "reset-cursor", "1", "--after", str(ids[0])])
    assert reset.exit_code == 0, reset.output
    assert f"webhook endpoint 1 (https://jining.example/hooks) resumes after event {ids[0]}" in said(reset)
    assert endpoint(cli_env, 1).attempts == 0
    nothing = runner.invoke(app, ["webhooks", "list", "--failing"])
    assert "no webhook endpoints failing" in said(nothing)


def test_cli_refuses_a_bad_url_and_an_unknown_endpoint(cli_env) -> None:  # type: ignore[no-untyped-def]
    from hub.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, ["webhooks", "create", "http://jining.example/hooks", "--region", "370800"])
    assert bad.exit_code == 2
    assert "url 'http://jining.example/hooks' must be an https:// URL with a host" in said(bad)
    unknown = runner.invoke(app, ["webhooks", "retry", "--id", "9"])
    assert unknown.exit_code == 2 and "no webhook endpoint 9: see `hub webhooks list`" in said(unknown)
    assert runner.invoke(app, ["webhooks", "deliveries", "9"]).exit_code == 2


def test_cli_retry_delivers_now_and_exits_1_when_a_post_fails(cli_env) -> None:  # type: ignore[no-untyped-def]
    from hub.cli import app

    add_events(cli_env, ("clue.created", "370811"))
    register(cli_env, types=["*"], url="https://127.0.0.1:1/unreachable")
    result = CliRunner().invoke(app, ["webhooks", "retry"])
    assert result.exit_code == 1
    assert "failing events 1–1 (1) → endpoint 1, attempt 1: could not reach the endpoint: ConnectError" in said(result)
    assert "0 acknowledged, 1 failing" in said(result)
