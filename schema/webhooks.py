"""Webhooks in the graph (admin only): endpoints with their delivery state, the delivery log, and the
mutations that register, change, reset and retry them. Resolvers look up, check and delegate to
``hub.webhooks``, whose services validate, write and audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session
from strawberry.types import Info

from hub import models as m
from hub import webhooks
from hub.access import Action
from hub.actors import deliver_webhooks, send_soon
from hub.errors import InvalidCursor
from schema.filters import db_id
from schema.pagination import Connection, SortSpec, check_first, decode_cursor, encode_cursor, paginate
from schema.permissions import principal_of, reads, requires
from schema.types._common import Node, node_type, plain_type, to_global_id

#: What every webhook mutation needs, by the policy table, and how its refusal reads.
MANAGE = Action.MANAGE_WEBHOOKS
TO_MANAGE = "manage webhooks"


def _endpoint_pk(endpoint_id: strawberry.ID, field: str) -> int:
    """The primary key inside a non-null endpoint ID argument (``db_id`` answers None only for a null one)."""
    return cast(int, db_id(endpoint_id, m.WebhookEndpoint, field=field))


def _after_event(after: str | None) -> int:
    """The event id inside an events cursor (``events { pageInfo { endCursor } }``, ``WebhookEndpoint.cursor``)."""
    if not after:
        return 0
    values = decode_cursor(after)
    if len(values) != 1 or not isinstance(values[0], int):
        raise InvalidCursor(
            f"after {after!r} is not an events cursor",
            field="after",
            suggestion="use a cursor from events, or an endpoint's cursor",
        )
    return values[0]


@node_type(
    m.WebhookEndpoint,
    name="WebhookEndpoint",
    description="A regional system's webhook endpoint: what it receives and how delivery is going "
    "(the signing secret is shown once, at creation).",
)
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
    def cursor(self, endpoint: strawberry.Parent[m.WebhookEndpoint]) -> str:
        return encode_cursor([endpoint.cursor])

    @strawberry.field(description="The id of the last event the receiver acknowledged.")
    def cursor_event_id(self, endpoint: strawberry.Parent[m.WebhookEndpoint]) -> int:
        return endpoint.cursor

    @strawberry.field(description="True when the last attempt failed (it is retried with back-off).")
    def failing(self, endpoint: strawberry.Parent[m.WebhookEndpoint]) -> bool:
        return (endpoint.attempts or 0) > 0

    @strawberry.field(description="The webhook-id of the batch being retried (the same on every retry), if any.")
    def pending_webhook_id(self, endpoint: strawberry.Parent[m.WebhookEndpoint]) -> str | None:
        return endpoint.pending_msg_id


@plain_type(
    m.WebhookDelivery, name="WebhookDelivery", description="One attempt to deliver a batch of events to an endpoint."
)
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
    def database_id(self, delivery: strawberry.Parent[m.WebhookDelivery]) -> int:
        return delivery.id

    @strawberry.field(description="The webhook-id header: the same on every attempt of a batch.")
    def webhook_id(self, delivery: strawberry.Parent[m.WebhookDelivery]) -> str:
        return delivery.msg_id


@strawberry.type(description="A new endpoint and its signing secret (whsec_…), shown this once.")
class CreatedWebhookEndpoint:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(description="Verify the webhook-signature header with it (Standard Webhooks).")


@strawberry.input(description="A regional system's endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https:// (plain http only to localhost, when the hub allows it).")
    event_types: list[str] = strawberry.field(description='Event types or prefixes: ["clue.*"], ["clue.close"], ["*"].')
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
    @strawberry.field(
        description="Webhook endpoints within your jurisdiction, with their delivery state (admin).",
        extensions=[reads(m.WebhookEndpoint, to="read webhook endpoints")],
    )
    async def webhook_endpoints(self, info: Info, failing: bool | None = None) -> list[WebhookEndpoint]:
        principal = principal_of(info)
        rows = await info.context.session.run_sync(lambda s: webhooks.list_endpoints(s, principal=principal))
        return [r for r in rows if failing is None or r.failing == failing]

    @strawberry.field(
        description="Delivery attempts to an endpoint, newest first (admin).",
        extensions=[reads(m.WebhookEndpoint, to="read webhook deliveries")],
    )
    async def webhook_deliveries(
        self, info: Info, endpoint_id: strawberry.ID, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        principal = principal_of(info)
        pk = _endpoint_pk(endpoint_id, "endpointId")
        session = info.context.session
        await session.run_sync(lambda s: webhooks.get_endpoint(s, principal=principal, endpoint_id=pk))
        stmt = select(m.WebhookDelivery).where(m.WebhookDelivery.endpoint_id == pk)
        return await paginate(
            session,
            stmt,
            sort=SortSpec((m.WebhookDelivery.id,), descending=True),
            first=check_first(first, limit=info.context.settings.max_page_size),
            after=after,
        )


async def _run(info: Info, fn: Callable[[Session], Any]) -> Any:
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
    send_soon(deliver_webhooks, what="webhook delivery")


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register a regional system's webhook endpoint (admin); returns its secret, once.",
        extensions=[requires(MANAGE, to=TO_MANAGE)],
    )
    async def create_webhook_endpoint(self, info: Info, input: CreateWebhookEndpointInput) -> CreatedWebhookEndpoint:
        principal = principal_of(info)
        ctx = info.context
        row, secret = await _run(
            info,
            lambda s: webhooks.create_endpoint(
                s,
                principal=principal,
                cipher=ctx.cipher,
                url=input.url,
                event_types=input.event_types,
                region_code=input.region_code,
                description=input.description,
                from_beginning=input.from_beginning,
                allow_local_http=ctx.settings.webhook_allow_local_http,
            ),
        )
        return CreatedWebhookEndpoint(endpoint=row, secret=secret)

    @strawberry.mutation(
        description="Enable or disable an endpoint, or change its types, URL or description (admin).",
        extensions=[requires(MANAGE, to=TO_MANAGE)],
    )
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpoint:
        principal = principal_of(info)
        pk = _endpoint_pk(id, "id")
        allow = info.context.settings.webhook_allow_local_http
        return await _run(
            info,
            lambda s: webhooks.update_endpoint(
                s,
                principal=principal,
                endpoint=webhooks.get_endpoint(s, principal=principal, endpoint_id=pk),
                enabled=input.enabled,
                event_types=input.event_types,
                url=input.url,
                description=input.description,
                allow_local_http=allow,
            ),
        )

    @strawberry.mutation(
        description="Delete an endpoint and its delivery log (admin); returns its ID.",
        extensions=[requires(MANAGE, to=TO_MANAGE)],
    )
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        principal = principal_of(info)
        pk = _endpoint_pk(id, "id")
        await _run(
            info,
            lambda s: webhooks.delete_endpoint(
                s, principal=principal, endpoint=webhooks.get_endpoint(s, principal=principal, endpoint_id=pk)
            ),
        )
        return strawberry.ID(to_global_id("WebhookEndpoint", pk))

    @strawberry.mutation(
        description="Resume delivery after an events cursor (null: from the beginning) (admin).",
        extensions=[requires(MANAGE, to=TO_MANAGE)],
    )
    async def reset_webhook_cursor(
        self, info: Info, endpoint_id: strawberry.ID, after: str | None = None
    ) -> WebhookEndpoint:
        principal = principal_of(info)
        pk = _endpoint_pk(endpoint_id, "endpointId")
        after_id = _after_event(after)
        endpoint = await _run(
            info,
            lambda s: webhooks.reset_cursor(
                s,
                principal=principal,
                endpoint=webhooks.get_endpoint(s, principal=principal, endpoint_id=pk),
                after=after_id,
            ),
        )
        _kick()
        return endpoint

    @strawberry.mutation(
        description="Deliver to an endpoint now, whatever its back-off (admin).",
        extensions=[requires(MANAGE, to=TO_MANAGE)],
    )
    async def retry_webhook_endpoint(self, info: Info, endpoint_id: strawberry.ID) -> WebhookEndpoint:
        principal = principal_of(info)
        pk = _endpoint_pk(endpoint_id, "endpointId")
        endpoint = await _run(
            info,
            lambda s: webhooks.request_retry(
                s, principal=principal, endpoint=webhooks.get_endpoint(s, principal=principal, endpoint_id=pk)
            ),
        )
        _kick()
        return endpoint
