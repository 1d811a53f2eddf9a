"""Webhooks in the graph (admin only): endpoints with their delivery state, the delivery log, and the
mutations that register, change, reset and retry them. Resolvers look up, check and delegate to
``hub.webhooks``, whose services validate, write and audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from hub import models as m
from hub import webhooks
from hub.errors import InvalidCursor
from schema.filters import db_id
from schema.pagination import Connection, SortSpec, check_first, decode_cursor, encode_cursor, paginate
from schema.types._common import Node, node_type, plain_type, to_global_id


def _admin(info: Info, to: str = "manage webhooks"):  # type: ignore[no-untyped-def]
    return info.context.require_admin(to=to)


def _endpoint_pk(endpoint_id: strawberry.ID, field: str) -> int:
    return db_id(endpoint_id, m.WebhookEndpoint, field=field)  # type: ignore[return-value]


def _after_event(after: str | None) -> int:
    """The event id inside an events cursor (``events { pageInfo { endCursor } }``, ``WebhookEndpoint.cursor``)."""
    if not after:
        return 0
    values = decode_cursor(after)
    if len(values) != 1 or not isinstance(values[0], int):
        raise InvalidCursor(f"after {after!r} is not an events cursor", field="after",
                            suggestion="use a cursor from events, or an endpoint's cursor")
    return values[0]


@node_type(m.WebhookEndpoint, name="WebhookEndpoint",
           description="A regional system's webhook endpoint: what it receives and how delivery is going "
                       "(the signing secret is shown once, at creation).")
class WebhookEndpoint(Node):
    url: str
    description: str
    event_types: list[str] = strawberry.field(description="Event types and prefixes (clue.close, clue.*, or *).")
    region_code: str = strawberry.field(description="The jurisdiction: only events within it are sent.")
    enabled: bool
    attempts: int = strawberry.field(description="Failed attempts in a row at the current batch.")
    next_attempt_at: dt.datetime | None = strawberry.field(description="When a failing batch is tried again.")
    last_error: str | None = strawberry.field(description="The receiver's last error (personal data masked).")
    last_attempt_at: dt.datetime | None
    last_delivered_at: dt.datetime | None = strawberry.field(description="When the receiver last acknowledged a batch.")
    created_by: str
    created_at: dt.datetime

    @strawberry.field(description="The events cursor the receiver acknowledged up to (usable as events(after:)).")
    def cursor(self) -> str:
        return encode_cursor([self.cursor])  # type: ignore[attr-defined]

    @strawberry.field(description="The id of the last event the receiver acknowledged.")
    def cursor_event_id(self) -> int:
        return self.cursor  # type: ignore[attr-defined,return-value]

    @strawberry.field(description="True when the last attempt failed (it is retried with back-off).")
    def failing(self) -> bool:
        return (self.attempts or 0) > 0

    @strawberry.field(description="The webhook-id of the batch being retried (the same on every retry), if any.")
    def pending_webhook_id(self) -> str | None:
        return self.pending_msg_id  # type: ignore[attr-defined]


@plain_type(m.WebhookDelivery, name="WebhookDelivery",
            description="One attempt to deliver a batch of events to an endpoint.")
class WebhookDelivery:
    first_event_id: int
    last_event_id: int
    event_count: int
    attempt: int = strawberry.field(description="1 for the batch's first attempt.")
    at: dt.datetime
    status_code: int | None = strawberry.field(description="The receiver's HTTP status (null: no answer).")
    acknowledged: bool
    error: str | None = strawberry.field(description="The receiver's words or why it was not reached (masked).")
    response_excerpt: str | None = strawberry.field(description="The start of the receiver's answer (masked).")
    duration_ms: int | None
    next_attempt_at: dt.datetime | None

    @strawberry.field(description="The row's primary key in the hub's database.")
    def database_id(self) -> int:
        return self.id  # type: ignore[attr-defined]

    @strawberry.field(description="The webhook-id header: the same on every attempt of a batch.")
    def webhook_id(self) -> str:
        return self.msg_id  # type: ignore[attr-defined]


@strawberry.type(description="A new endpoint and its signing secret (whsec_…), shown this once.")
class CreatedWebhookEndpoint:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(description="Verify the webhook-signature header with it (Standard Webhooks).")


@strawberry.input(description="A regional system's endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https:// (plain http only to localhost, when the hub allows it).")
    event_types: list[str] = strawberry.field(description="Event types or prefixes: [\"clue.*\"], [\"clue.close\"], [\"*\"].")
    region_code: str = strawberry.field(description="Jurisdiction (within yours): only events within it are sent.")
    description: str = ""
    from_beginning: bool = strawberry.field(default=False, description="Send the whole outbox, not only new events.")


@strawberry.input(description="Changes to an endpoint; omitted fields are kept.")
class UpdateWebhookEndpointInput:
    enabled: bool | None = None
    event_types: list[str] | None = None
    url: str | None = None
    description: str | None = None


@strawberry.type
class WebhookQueries:
    @strawberry.field(description="Webhook endpoints within your jurisdiction, with their delivery state (admin).")
    async def webhook_endpoints(self, info: Info, failing: bool | None = None) -> list[WebhookEndpoint]:
        principal = _admin(info, "read webhook endpoints")
        rows = await info.context.session.run_sync(lambda s: webhooks.list_endpoints(s, principal=principal))
        return [r for r in rows if failing is None or r.failing == failing]

    @strawberry.field(description="Delivery attempts to an endpoint, newest first (admin).")
    async def webhook_deliveries(self, info: Info, endpoint_id: strawberry.ID, first: int | None = None,
                                 after: str | None = None) -> Connection[WebhookDelivery]:
        principal = _admin(info, "read webhook deliveries")
        pk = _endpoint_pk(endpoint_id, "endpointId")
        session = info.context.session
        await session.run_sync(lambda s: webhooks.get_endpoint(s, principal=principal, endpoint_id=pk))
        stmt = select(m.WebhookDelivery).where(m.WebhookDelivery.endpoint_id == pk)
        return await paginate(session, stmt, sort=SortSpec((m.WebhookDelivery.id,), descending=True),
                              first=check_first(first, limit=info.context.settings.max_page_size), after=after)


async def _run(info: Info, fn: Callable[[Any], Any]) -> Any:
    """Run the synchronous service ``fn(session)`` in the request's session and commit (roll back on error)."""
    session = info.context.session
    try:
        result = await session.run_sync(fn)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return result


def _kick() -> None:
    """Deliver now rather than at the scheduler's next tick (best effort)."""
    from hub.actors import deliver_webhooks, send_soon

    send_soon(deliver_webhooks, what="webhook delivery")


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Register a regional system's webhook endpoint (admin); returns its secret, once.")
    async def create_webhook_endpoint(self, info: Info, input: CreateWebhookEndpointInput) -> CreatedWebhookEndpoint:
        principal = _admin(info)
        ctx = info.context
        row, secret = await _run(info, lambda s: webhooks.create_endpoint(
            s, principal=principal, cipher=ctx.cipher, url=input.url, event_types=input.event_types,
            region_code=input.region_code, description=input.description, from_beginning=input.from_beginning,
            allow_local_http=ctx.settings.webhook_allow_local_http))
        return CreatedWebhookEndpoint(endpoint=row, secret=secret)  # type: ignore[arg-type]

    @strawberry.mutation(description="Enable or disable an endpoint, or change its types, URL or description (admin).")
    async def update_webhook_endpoint(self, info: Info, id: strawberry.ID,
                                      input: UpdateWebhookEndpointInput) -> WebhookEndpoint:
        principal = _admin(info)
        pk = _endpoint_pk(id, "id")
        allow = info.context.settings.webhook_allow_local_http
        return await _run(info, lambda s: webhooks.update_endpoint(
            s, principal=principal, endpoint=webhooks.get_endpoint(s, principal=principal, endpoint_id=pk),
            enabled=input.enabled, event_types=input.event_types, url=input.url, description=input.description,
            allow_local_http=allow))

    @strawberry.mutation(description="Delete an endpoint and its delivery log (admin); returns its ID.")
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        principal = _admin(info)
        pk = _endpoint_pk(id, "id")
        await _run(info, lambda s: webhooks.delete_endpoint(
            s, principal=principal, endpoint=webhooks.get_endpoint(s, principal=principal, endpoint_id=pk)))
        return strawberry.ID(to_global_id("WebhookEndpoint", pk))

    @strawberry.mutation(description="Resume delivery after an events cursor (null: from the beginning) (admin).")
    async def reset_webhook_cursor(self, info: Info, endpoint_id: strawberry.ID, after: str | None = None) -> WebhookEndpoint:
        principal = _admin(info)
        pk = _endpoint_pk(endpoint_id, "endpointId")
        after_id = _after_event(after)
        endpoint = await _run(info, lambda s: webhooks.reset_cursor(
            s, principal=principal, endpoint=webhooks.get_endpoint(s, principal=principal, endpoint_id=pk), after=after_id))
        _kick()
        return endpoint

    @strawberry.mutation(description="Deliver to an endpoint now, whatever its back-off (admin).")
    async def retry_webhook_endpoint(self, info: Info, endpoint_id: strawberry.ID) -> WebhookEndpoint:
        principal = _admin(info)
        pk = _endpoint_pk(endpoint_id, "endpointId")
        endpoint = await _run(info, lambda s: webhooks.request_retry(
            s, principal=principal, endpoint=webhooks.get_endpoint(s, principal=principal, endpoint_id=pk)))
        _kick()
        return endpoint
