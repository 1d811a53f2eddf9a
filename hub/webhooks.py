"""Webhooks: the outbox pushed to regional systems that cannot hold a WebSocket open.

An admin registers an *endpoint* (:func:`create_endpoint`): an HTTPS URL, the event types it takes
(names such as ``clue.close`` or prefixes such as ``clue.*``), a jurisdiction within the admin's own
and a secret in the Standard Webhooks format (``whsec_`` + base64), shown once and stored encrypted.
A worker (:func:`deliver_due`, the ``deliver_webhooks`` actor, ``hub webhooks retry``) then POSTs the
endpoint's events in batches, oldest first, each batch signed per Standard Webhooks
(https://www.standardwebhooks.com: headers ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``). An endpoint moves through::

    idle ──events after the cursor──▶ claim ──▶ POST ──2xx──▶ cursor := batch end ──▶ idle / next batch
                                                   │
                                                   └──error, timeout, non-2xx──▶ failing (back-off) ──▶ claim …

- *At least once, resumable.* The cursor (the last event id the receiver acknowledged) moves only on
  a 2xx answer. A batch that failed is sent again with the same events and the same ``webhook-id``
  (``pending_msg_id`` / ``pending_until``), so a receiver deduplicates by that id.
- *One worker per endpoint.* A delivery claims its endpoint by a conditional UPDATE that sets a lease
  (like ``hub.writeback``): two workers never send the same batch at once; a worker that dies leaves
  the lease to run out, and the next one sends the batch again (same id).
- *Back-off.* 30 s doubling to one hour, for ever: an operator can fix a receiver, and a region's
  system being down for a weekend must not lose events. The schedule is deterministic (no jitter)
  and every function takes a ``clock``, so tests can follow it.
- *Jurisdiction.* Only events within the endpoint's region are sent (:func:`event_region_condition`,
  the one place that decides it), the same rule as the ``events`` query for a principal of that region.

Each attempt is logged (``WebhookDelivery``) with its status code, the receiver's words masked
(phones, ID numbers, bank cards) and at most a short masked excerpt of its answer — nothing more of
a response is kept.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from sqlalchemy import delete, func, or_, select, update
from standardwebhooks.webhooks import Webhook

from hub import models as m
from hub.access import NATIONAL, Principal, audit, jurisdiction_bounds, jurisdiction_criterion
from hub.db import session_factory
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.identifiers import IdentifierError, mask_personal_data, validate_region_code
from hub.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session
    from sqlalchemy.sql import Select
    from sqlalchemy.sql.elements import ColumnElement

    from hub.crypto import Cipher

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

#: The event types of the outbox, by family (``hub.workflow``, ``hub.cluepool``, ``hub.writeback``,
#: ``hub.ingest``, ``hub.rules``). An endpoint names types from here, or a family's prefix (``clue.*``), or ``*``.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "clue": (
        "created",
        "channel_added",
        "receive",
        "dispatch",
        "accept",
        "return",
        "escalate",
        "extend",
        "supervise",
        "urge",
        "close",
        "record_callback",
        "merge",
        "split",
        "colour_changed",
        "writeback_acknowledged",
        "writeback_failed",
    ),
    "warning": ("raised", "changed", "resolved", "escalated", "acknowledged", "noted", "false_positive"),
    "project": ("upserted",),
    "wage_account": ("upserted",),
    "deposit": ("upserted",),
}
KNOWN_EVENT_TYPES = frozenset(f"{family}.{name}" for family, names in EVENT_TYPES.items() for name in names)
#: Hosts a plain-http endpoint may use when ``HUB_WEBHOOK_ALLOW_LOCAL_HTTP`` is on (tests, the demo).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SECRET_PREFIX = "whsec_"
#: How long a claim holds an endpoint: longer than one POST can take (timeouts are at most 120 s).
LEASE_SECONDS = 300
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600
MAX_ERROR_CHARS = 1000
EXCERPT_CHARS = 200
#: At most this many batches per endpoint in one run, so that one busy endpoint does not starve the rest.
MAX_BATCHES_PER_RUN = 20


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure in a row: 30 s, 60 s, 120 s … at most an hour (no jitter)."""
    return dt.timedelta(seconds=min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** max(0, attempts - 1)))


def generate_secret() -> str:
    """A new signing secret in the Standard Webhooks format: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_msg_id() -> str:
    """A ``webhook-id`` for a new batch (kept for every retry of that batch)."""
    return "msg_" + secrets.token_urlsafe(18)


# -- filters: which events an endpoint takes --------------------------------------------------------


def event_region_condition(region_code: str) -> ColumnElement[bool] | None:
    """The condition on ``events`` for an endpoint whose jurisdiction is ``region_code`` (None: national).

    The one place that decides which events lie within an endpoint's jurisdiction: an event's
    ``region_code`` at or below it, or a clue event whose clue is handled there — the same rule as
    every read (:func:`hub.access.jurisdiction_criterion`).
    """
    bounds = jurisdiction_bounds(region_code)
    if bounds is None:
        return None
    return jurisdiction_criterion(m.Event, *bounds)


def event_type_condition(event_types: Sequence[str]) -> ColumnElement[bool] | None:
    """The condition on ``events.type`` for names and ``family.*`` prefixes (None: every type)."""
    if "*" in event_types:
        return None
    names = [t for t in event_types if not t.endswith(".*")]
    prefixes = [t[:-1] for t in event_types if t.endswith(".*")]
    conds: list[ColumnElement[bool]] = [m.Event.type.in_(names)] if names else []
    conds += [m.Event.type.startswith(p, autoescape=True) for p in prefixes]
    return or_(*conds)


def _events_stmt(*, region_code: str, event_types: Sequence[str], after: int, until: int) -> Select[m.Event]:
    stmt = select(m.Event).where(m.Event.id > after, m.Event.id <= until)
    for cond in (event_region_condition(region_code), event_type_condition(event_types)):
        if cond is not None:
            stmt = stmt.where(cond)
    return stmt.order_by(m.Event.id)


# -- validation -------------------------------------------------------------------------------------


def validate_url(url: str, *, allow_local_http: bool) -> str:
    """The endpoint URL, if it is HTTPS (or plain http to this machine, when allowed); else ``InvalidInput``."""
    text = (url or "").strip()
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidInput(f"url {text!r} is not a URL", field="url", value=text) from exc
    if parsed.scheme == "https" and parsed.host:
        return text
    if parsed.scheme == "http" and parsed.host in LOCAL_HOSTS and allow_local_http:
        return text
    hint = (
        "plain http is only accepted for 127.0.0.1 or localhost, with HUB_WEBHOOK_ALLOW_LOCAL_HTTP=true"
        if parsed.scheme == "http"
        else "use an https:// URL"
    )
    raise InvalidInput(f"url {text!r} must be an https:// URL with a host", field="url", value=text, suggestion=hint)


def validate_event_types(event_types: Sequence[str]) -> list[str]:
    """The endpoint's event types, deduplicated in order; ``InvalidInput`` naming ``eventTypes`` otherwise."""
    out: list[str] = []
    for raw in event_types:
        t = raw.strip()
        ok = t == "*" or t in KNOWN_EVENT_TYPES or (t.endswith(".*") and t[:-2] in EVENT_TYPES)
        if not ok:
            families = ", ".join(f"{f}.*" for f in EVENT_TYPES)
            raise InvalidInput(
                f"eventTypes: unknown event type {t!r}: use a type such as clue.close, a prefix ({families}) or *",
                field="eventTypes",
                value=t,
            )
        if t not in out:
            out.append(t)
    if not out:
        raise InvalidInput("eventTypes must name at least one event type (or * for all)", field="eventTypes")
    return out


def _jurisdiction(principal: Principal, region_code: str) -> str:
    code = (region_code or "").strip()
    if code != NATIONAL:
        try:
            code = validate_region_code(code, field="regionCode")
        except IdentifierError as exc:
            raise InvalidInput(str(exc), field="regionCode", value=code) from exc
    if not principal.covers(code):
        raise Forbidden(
            f"regionCode {code} is outside your jurisdiction {principal.region_code}",
            suggestion="register the endpoint for a region within your jurisdiction",
        )
    return code


# -- administration (in the caller's transaction; audited) -------------------------------------------


def create_endpoint(
    session: Session,
    *,
    principal: Principal,
    cipher: Cipher,
    url: str,
    event_types: Sequence[str],
    region_code: str,
    description: str = "",
    from_beginning: bool = False,
    allow_local_http: bool = False,
) -> tuple[m.WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (shown once: only its encryption is stored).

    It receives events committed after its creation, or — ``from_beginning`` — the whole outbox of
    its jurisdiction.
    """
    url = validate_url(url, allow_local_http=allow_local_http)
    types = validate_event_types(event_types)
    code = _jurisdiction(principal, region_code)
    secret = generate_secret()
    start = 0 if from_beginning else _last_event_id(session)
    row = m.WebhookEndpoint(
        url=url,
        description=(description or "").strip(),
        event_types=types,
        secret_enc=cipher.encrypt(secret),
        enabled=True,
        cursor=start,
        attempts=0,
        region_code=code,
        created_by=principal.name,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit(
        session,
        principal=principal,
        action="webhook.create",
        entity_type="webhook_endpoint",
        entity_id=row.id,
        region_code=code,
        detail={"url": url, "eventTypes": types, "cursor": start},
    )
    return row, secret


def get_endpoint(session: Session, *, principal: Principal, endpoint_id: int) -> m.WebhookEndpoint:
    """The endpoint, if it lies within ``principal``'s jurisdiction; else ``NotFound``."""
    row = session.get(m.WebhookEndpoint, endpoint_id)
    if row is None or not principal.covers(row.region_code):
        raise NotFound(
            f"no webhook endpoint {endpoint_id} in your jurisdiction",
            suggestion="list them with webhookEndpoints or `hub webhooks list`",
        )
    return row


def list_endpoints(session: Session, *, principal: Principal) -> list[m.WebhookEndpoint]:
    """The endpoints within ``principal``'s jurisdiction, by id."""
    rows = session.execute(select(m.WebhookEndpoint).order_by(m.WebhookEndpoint.id)).scalars().all()
    return [r for r in rows if principal.covers(r.region_code)]


def update_endpoint(
    session: Session,
    *,
    principal: Principal,
    endpoint: m.WebhookEndpoint,
    enabled: bool | None = None,
    event_types: Sequence[str] | None = None,
    url: str | None = None,
    description: str | None = None,
    allow_local_http: bool = False,
) -> m.WebhookEndpoint:
    """Enable or disable an endpoint, or change its types, URL or description.

    New types change what a batch holds, so a batch being retried is dropped and formed again (with a
    new ``webhook-id``) from the cursor; enabling clears the back-off so that delivery resumes now.
    """
    changes: dict[str, Any] = {}
    if url is not None:
        endpoint.url = changes["url"] = validate_url(url, allow_local_http=allow_local_http)
    if event_types is not None:
        types = validate_event_types(event_types)
        if types != list(endpoint.event_types):
            endpoint.event_types = changes["eventTypes"] = types
            endpoint.pending_msg_id = endpoint.pending_until = None
    if description is not None:
        endpoint.description = changes["description"] = description.strip()
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = changes["enabled"] = enabled
        if enabled:
            endpoint.next_attempt_at = None
    audit(
        session,
        principal=principal,
        action="webhook.update",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        region_code=endpoint.region_code,
        detail=changes,
    )
    return endpoint


def delete_endpoint(session: Session, *, principal: Principal, endpoint: m.WebhookEndpoint) -> int:
    """Delete an endpoint and its delivery log (the audit log keeps that it existed); returns its id."""
    endpoint_id = endpoint.id
    session.execute(delete(m.WebhookDelivery).where(m.WebhookDelivery.endpoint_id == endpoint_id))
    audit(
        session,
        principal=principal,
        action="webhook.delete",
        entity_type="webhook_endpoint",
        entity_id=endpoint_id,
        region_code=endpoint.region_code,
        detail={"url": endpoint.url, "cursor": endpoint.cursor},
    )
    session.delete(endpoint)
    session.flush()
    return endpoint_id


def reset_cursor(
    session: Session, *, principal: Principal, endpoint: m.WebhookEndpoint, after: int
) -> m.WebhookEndpoint:
    """Resume delivery after event ``after`` (0: from the beginning): the receiver gets everything later again.

    A batch being retried is dropped (its successor gets a new ``webhook-id``: the receiver must not
    take it for one it has seen), and the back-off is cleared.
    """
    last = _last_event_id(session)
    if after < 0 or after > last:
        raise InvalidInput(
            f"after: event {after} does not exist (the outbox ends at event {last})", field="after", value=after
        )
    before = endpoint.cursor
    endpoint.cursor, endpoint.pending_msg_id, endpoint.pending_until = after, None, None
    endpoint.attempts, endpoint.next_attempt_at, endpoint.last_error = 0, None, None
    audit(
        session,
        principal=principal,
        action="webhook.reset_cursor",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        region_code=endpoint.region_code,
        detail={"from": before, "to": after},
    )
    return endpoint


def request_retry(
    session: Session, *, principal: Principal, endpoint: m.WebhookEndpoint, clock: Clock = utcnow
) -> m.WebhookEndpoint:
    """Make the endpoint due now, whatever its back-off (the next delivery run sends its batch)."""
    if not endpoint.enabled:
        raise InvalidInput(
            f"webhook endpoint {endpoint.id} is disabled: enable it first", field="endpointId", value=endpoint.id
        )
    endpoint.next_attempt_at = clock()
    audit(
        session,
        principal=principal,
        action="webhook.retry",
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        region_code=endpoint.region_code,
        detail={"attempts": endpoint.attempts},
    )
    return endpoint


def _last_event_id(session: Session) -> int:
    """The outbox's last event id (on the table, not the entity: the end of the outbox, not the caller's view)."""
    return session.execute(select(func.coalesce(func.max(m.Event.__table__.c.id), 0))).scalar_one()


# -- delivery -------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One POST of a batch to an endpoint, as the delivery run saw it."""

    endpoint_id: int
    url: str
    msg_id: str
    first_event_id: int
    last_event_id: int
    event_count: int
    attempt: int
    status: str  # acknowledged / failing / superseded (reset, retyped or deleted meanwhile: nothing stored)
    status_code: int | None = None
    error: str | None = None
    next_attempt_at: dt.datetime | None = None


@dataclass
class DeliveryReport:
    """One :func:`deliver_due` run: every attempt, in order."""

    attempts: list[Attempt] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return sum(1 for a in self.attempts if a.status == "acknowledged")

    @property
    def failed(self) -> int:
        return sum(1 for a in self.attempts if a.status == "failing")

    def as_dict(self) -> dict[str, int]:
        return {"acknowledged": self.acknowledged, "failed": self.failed, "attempts": len(self.attempts)}


@dataclass
class _Batch:
    """A claimed endpoint's batch, with everything the POST needs (read inside the claim's transaction)."""

    endpoint_id: int
    lease: dt.datetime
    url: str
    secret: str
    msg_id: str
    body: str
    first_event_id: int
    last_event_id: int
    event_count: int
    attempt: int
    formed_now: bool  # False: a batch formed by an earlier attempt (more events may have come since)


def due_endpoints(
    session: Session, *, now: dt.datetime, endpoint_ids: Sequence[int] | None = None, ignore_schedule: bool = False
) -> list[int]:
    """Ids of enabled, unclaimed endpoints with something to send (and, unless ignored, past their back-off)."""
    e = m.WebhookEndpoint
    last = _last_event_id(session)
    stmt = select(e.id).where(
        e.enabled.is_(True),
        or_(e.lease_until.is_(None), e.lease_until <= now),
        or_(e.pending_until.is_not(None), e.cursor < last),
    )
    if not ignore_schedule:
        stmt = stmt.where(or_(e.next_attempt_at.is_(None), e.next_attempt_at <= now))
    if endpoint_ids is not None:
        stmt = stmt.where(e.id.in_(list(endpoint_ids)))
    return list(session.execute(stmt.order_by(e.next_attempt_at.asc().nulls_first(), e.id)).scalars())


def deliver_due(
    engine: Engine,
    *,
    cipher: Cipher,
    client: httpx.Client | None = None,
    clock: Clock = utcnow,
    timeout: float = 10.0,
    batch_size: int = 100,
    endpoint_ids: Sequence[int] | None = None,
    ignore_schedule: bool = False,
    max_batches: int = MAX_BATCHES_PER_RUN,
    progress: Callable[[Attempt], None] | None = None,
) -> DeliveryReport:
    """Deliver what is due: for each endpoint, batch after batch until it is caught up or a POST fails.

    ``client`` is the httpx client to POST with (tests pass one on a mock transport); ``clock`` gives
    the time that schedules retries and leases. ``endpoint_ids`` limits the run; ``ignore_schedule``
    sends now whatever the back-off (``hub webhooks retry``). Receiver errors never escape: they are
    stored on the endpoint with its next attempt.
    """
    sessions = session_factory(engine)
    report = DeliveryReport()
    own_client = client is None
    http = client or httpx.Client(follow_redirects=False)
    try:
        with sessions() as session:
            candidates = due_endpoints(session, now=clock(), endpoint_ids=endpoint_ids, ignore_schedule=ignore_schedule)
        for endpoint_id in candidates:
            for _ in range(max_batches):
                batch = _claim(
                    sessions,
                    endpoint_id,
                    cipher=cipher,
                    now=clock(),
                    batch_size=batch_size,
                    ignore_schedule=ignore_schedule,
                )
                if batch is None:
                    break  # another worker has it, or it is caught up
                status_code, error, excerpt, duration_ms = _post(http, batch, timeout=timeout)
                done = _store(
                    sessions,
                    batch,
                    status_code=status_code,
                    error=error,
                    excerpt=excerpt,
                    duration_ms=duration_ms,
                    now=clock(),
                )
                report.attempts.append(done)
                if progress:
                    progress(done)
                if done.status != "acknowledged" or (batch.formed_now and batch.event_count < batch_size):
                    break  # failing, or caught up
    finally:
        if own_client:
            http.close()
    return report


def _claim(
    sessions: Any, endpoint_id: int, *, cipher: Cipher, now: dt.datetime, batch_size: int, ignore_schedule: bool
) -> _Batch | None:
    """Take the endpoint for one POST (a conditional UPDATE first) and form or re-read its batch."""
    e = m.WebhookEndpoint
    lease = now + dt.timedelta(seconds=LEASE_SECONDS)
    conds = [e.id == endpoint_id, e.enabled.is_(True), or_(e.lease_until.is_(None), e.lease_until <= now)]
    if not ignore_schedule:
        conds.append(or_(e.next_attempt_at.is_(None), e.next_attempt_at <= now))
    with sessions() as session, session.begin():
        claimed = (
            session.execute(
                update(e).where(*conds).values(lease_until=lease).execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
        if not claimed:
            return None
        ep = session.get(e, endpoint_id)
        formed_now = ep.pending_until is None
        if formed_now:
            # Read the outbox's end first: events committed after this are beyond it, so skipping
            # up to it (when nothing in between is for this endpoint) cannot skip one of them.
            top = _last_event_id(session)
            rows = (
                session.execute(
                    _events_stmt(
                        region_code=ep.region_code, event_types=ep.event_types, after=ep.cursor, until=top
                    ).limit(batch_size)
                )
                .scalars()
                .all()
            )
            if not rows:
                ep.cursor, ep.lease_until, ep.next_attempt_at = max(ep.cursor, top), None, None
                return None
            ep.pending_until, ep.pending_msg_id = rows[-1].id, new_msg_id()
        else:
            rows = (
                session.execute(
                    _events_stmt(
                        region_code=ep.region_code, event_types=ep.event_types, after=ep.cursor, until=ep.pending_until
                    )
                )
                .scalars()
                .all()
            )
            if not rows:  # nothing left in the batch (the outbox was pruned): it is done
                ep.cursor, ep.pending_until, ep.pending_msg_id, ep.lease_until = ep.pending_until, None, None, None
                return None
        return _Batch(
            endpoint_id=ep.id,
            lease=lease,
            url=ep.url,
            secret=cipher.decrypt(ep.secret_enc),
            msg_id=ep.pending_msg_id or "",
            body=batch_body(ep, rows),
            first_event_id=rows[0].id,
            last_event_id=ep.pending_until,
            event_count=len(rows),
            attempt=(ep.attempts or 0) + 1,
            formed_now=formed_now,
        )


def batch_body(endpoint: m.WebhookEndpoint, events: Sequence[m.Event]) -> str:
    """The JSON body of a batch (Standard Webhooks' ``type`` / ``timestamp`` / ``data``), the same on every retry."""
    last = events[-1]
    return orjson.dumps(
        {
            "type": "events.batch",
            "timestamp": last.created_at.isoformat(),
            "data": {
                "endpointId": endpoint.id,
                "after": endpoint.cursor,
                "cursor": endpoint.pending_until,
                "events": [
                    {
                        "id": ev.id,
                        "type": ev.type,
                        "regionCode": ev.region_code,
                        "entityType": ev.entity_type,
                        "entityId": ev.entity_id,
                        "payload": ev.payload,
                        "createdAt": ev.created_at.isoformat(),
                    }
                    for ev in events
                ],
            },
        }
    ).decode()


def sign_headers(*, secret: str, msg_id: str, body: str, at: dt.datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``; the timestamp is the moment of sending (the receiver
    checks it against its own clock), whatever clock schedules the retries."""
    at = at or dt.datetime.now(dt.UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
        "content-type": "application/json",
        "user-agent": "wage-hub-webhooks/1",
    }


def _post(http: httpx.Client, batch: _Batch, *, timeout: float) -> tuple[int | None, str | None, str | None, int]:
    """POST the batch (no transaction open): status code, masked error (None on 2xx), masked excerpt, ms."""
    started = time.monotonic()
    headers = sign_headers(secret=batch.secret, msg_id=batch.msg_id, body=batch.body)
    try:
        resp = http.post(batch.url, content=batch.body.encode(), headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return None, f"no answer within {timeout:g} s", None, _ms(started)
    except httpx.HTTPError as exc:
        return None, _masked(f"could not reach the endpoint: {exc.__class__.__name__}: {exc}"), None, _ms(started)
    except Exception as exc:  # a broken transport must not stop the run: stored on the endpoint
        log.exception("webhook POST to endpoint %d failed", batch.endpoint_id)
        return None, _masked(f"internal error: {exc.__class__.__name__}: {exc}"), None, _ms(started)
    excerpt = _excerpt(resp.text)
    if 200 <= resp.status_code < 300:
        return resp.status_code, None, excerpt, _ms(started)
    error = f"HTTP {resp.status_code}" + (f": {excerpt}" if excerpt else "")
    log.warning("webhook endpoint %d answered %s", batch.endpoint_id, error)
    return resp.status_code, error, excerpt, _ms(started)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _excerpt(text: str) -> str | None:
    text = re.sub(r"\s+", " ", text or "").strip()
    if not text:
        return None
    text = mask_personal_data(text[: EXCERPT_CHARS * 2])
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _masked(text: str) -> str:
    text = mask_personal_data(text)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _store(
    sessions: Any,
    batch: _Batch,
    *,
    status_code: int | None,
    error: str | None,
    excerpt: str | None,
    duration_ms: int,
    now: dt.datetime,
) -> Attempt:
    """Store the outcome and log the attempt — the cursor moves only if the endpoint still holds this claim."""
    e = m.WebhookEndpoint
    done = Attempt(
        endpoint_id=batch.endpoint_id,
        url=batch.url,
        msg_id=batch.msg_id,
        first_event_id=batch.first_event_id,
        last_event_id=batch.last_event_id,
        event_count=batch.event_count,
        attempt=batch.attempt,
        status_code=status_code,
        error=error,
        status="acknowledged" if error is None else "failing",
    )
    if error is None:
        values: dict[str, Any] = {
            "cursor": batch.last_event_id,
            "pending_until": None,
            "pending_msg_id": None,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
            "last_delivered_at": now,
        }
    else:
        done.next_attempt_at = now + backoff(batch.attempt)
        values = {"attempts": batch.attempt, "next_attempt_at": done.next_attempt_at, "last_error": error}
    with sessions() as session, session.begin():
        stored = (
            session.execute(
                update(e)
                .where(e.id == batch.endpoint_id, e.lease_until == batch.lease, e.pending_msg_id == batch.msg_id)
                .values(lease_until=None, last_attempt_at=now, **values)
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
        if not stored:
            # Reset, retyped or deleted while we posted, or our lease ran out and another worker took
            # over: what the endpoint holds now is newer than what we know.
            done.status, done.next_attempt_at = "superseded", None
            # Still ours (reset or retyped meanwhile)? Release the claim, so the new batch goes out now.
            session.execute(
                update(e)
                .where(e.id == batch.endpoint_id, e.lease_until == batch.lease)
                .values(lease_until=None, last_attempt_at=now)
                .execution_options(synchronize_session=False)
            )
            if session.get(e, batch.endpoint_id) is None:
                return done
        session.add(
            m.WebhookDelivery(
                endpoint_id=batch.endpoint_id,
                msg_id=batch.msg_id,
                first_event_id=batch.first_event_id,
                last_event_id=batch.last_event_id,
                event_count=batch.event_count,
                attempt=batch.attempt,
                at=now,
                status_code=status_code,
                acknowledged=error is None,
                error=error,
                response_excerpt=excerpt,
                duration_ms=duration_ms,
                next_attempt_at=done.next_attempt_at,
            )
        )
    return done


__all__ = [
    "EVENT_TYPES",
    "Attempt",
    "DeliveryReport",
    "backoff",
    "batch_body",
    "create_endpoint",
    "delete_endpoint",
    "deliver_due",
    "due_endpoints",
    "event_region_condition",
    "event_type_condition",
    "generate_secret",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "request_retry",
    "reset_cursor",
    "sign_headers",
    "update_endpoint",
    "validate_event_types",
    "validate_url",
]


def list_deliveries(
    session: Session, *, principal: Principal, endpoint_id: int, limit: int = 20
) -> list[m.WebhookDelivery]:
    """The latest ``limit`` delivery attempts to an endpoint, newest first; ``NotFound`` as :func:`get_endpoint`."""
    endpoint = get_endpoint(session, principal=principal, endpoint_id=endpoint_id)
    d = m.WebhookDelivery
    return list(
        session.execute(select(d).where(d.endpoint_id == endpoint.id).order_by(d.id.desc()).limit(limit)).scalars()
    )
