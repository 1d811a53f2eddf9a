"""Subscriptions: the outbox, live, over WebSocket (graphql-transport-ws), within the jurisdiction.

``events(after:)`` first replays what was committed after the cursor, then follows new events as they
commit. It reads the outbox itself (a short transaction per poll, never a session held open), so it
works the same in every deployment — embedded, or N hub processes behind a load balancer — and a
client that reconnects with the last cursor it received misses nothing and sees nothing twice: event
ids follow commit order (migration 0002), and each message carries its cursor.

The key is sent in the connection_init payload (``{"X-API-Key": "hub_…"}``) or as a header.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError
from sqlalchemy import select
from strawberry.types import Info

from hub import models as m
from hub.access import bind_principal
from hub.errors import HubError
from schema.pagination import decode_cursor, encode_cursor
from schema.types.platform import Event

#: How often a quiet subscription looks for new events (seconds).
POLL_SECONDS = 0.5
BATCH = 200


@strawberry.type(description="One event and the cursor to resume after it.")
class EventMessage:
    cursor: str
    node: Event


def _after_id(after: str | None) -> int:
    if not after:
        return 0
    from hub.errors import InvalidCursor

    values = decode_cursor(after)
    if len(values) != 1 or not isinstance(values[0], int):
        raise InvalidCursor(f"cursor {after!r} is not an events cursor", suggestion="use a cursor from events or its messages")
    return values[0]


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The outbox within your jurisdiction: events committed after `after` (or from now "
                                         "on, without it), then each new one as it commits. Resume with the last cursor.")
    async def events(self, info: Info, after: str | None = None,
                     types: list[str] | None = None) -> AsyncGenerator[EventMessage, None]:
        try:
            principal = info.context.require_principal()
            last = _after_id(after)
        except HubError as exc:  # shaped here: WebSocket results do not pass through the HTTP view's shaping
            raise GraphQLError(exc.message, extensions=exc.extensions()) from exc
        sessions = info.context.session_factory
        if after is None:
            async with sessions() as session:
                last = (await session.execute(select(m.Event.id).order_by(m.Event.id.desc()).limit(1))).scalar() or 0
        while True:
            async with sessions() as session:
                bind_principal(session.sync_session, principal)
                stmt = select(m.Event).where(m.Event.id > last).order_by(m.Event.id).limit(BATCH)
                if types:
                    stmt = stmt.where(m.Event.type.in_(types))
                rows = list((await session.execute(stmt)).scalars())
            for row in rows:
                last = row.id
                yield EventMessage(cursor=encode_cursor([row.id]), node=row)  # type: ignore[arg-type]
            if len(rows) < BATCH:
                await asyncio.sleep(POLL_SECONDS)
