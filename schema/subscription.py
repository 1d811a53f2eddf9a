"""Subscriptions: the outbox, live, over WebSocket (graphql-transport-ws), within the jurisdiction.

``events(after:)`` first replays what was committed after the cursor, then follows new events as they
commit. A client that reconnects with the last cursor it received — to this hub process or another —
misses nothing and sees nothing twice: event ids follow commit order (migration 0002), and each
message carries its cursor.

Over WebSocket the subscription is served by :class:`EventsTransportWSHandler` and the process's one
outbox reader (:mod:`hub.fanout`): the reader reads each new event once for the whole process, the
selection is executed and serialised once per event and distinct selection (not per subscriber), and
each subscriber gets the ready JSON in a bounded queue. The ``next`` messages are the ones strawberry
would send (same executor, same encoder). A subscriber that falls behind is closed with 4008, one whose
key is revoked with 4403, and a key may hold ``HUB_SUBSCRIPTION_MAX_PER_KEY`` subscriptions per process.
The resolver below is the reference for the same stream outside a WebSocket (``schema.subscribe`` in
process): a short transaction per poll, never a session held open.

The key is sent in the connection_init payload (``{"X-API-Key": "hub_…"}``) or as a header.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
from collections.abc import AsyncGenerator, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationType,
    parse,
    print_ast,
    specified_rules,
    validate,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.execute import execute_subscription_event
from graphql.execution.values import get_argument_values
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.types import Info

from hub import models as m
from hub.access import Action, Principal, allowed, bind_principal
from hub.errors import HubError, InvalidCursor
from hub.fanout import BATCH as FANOUT_BATCH
from schema.pagination import decode_cursor, encode_cursor
from schema.permissions import principal_of, requires
from schema.types.platform import Event

if TYPE_CHECKING:
    from hub.fanout import Fanout

#: What following the outbox needs, by the policy table, on both paths (the resolver and the fan-out).
FOLLOW = Action.FOLLOW_EVENTS
TO_FOLLOW = "follow events"

#: How often the in-process reference resolver looks for new events (seconds).
POLL_SECONDS = 0.5
BATCH = 200


@strawberry.type(description="One event and the cursor to resume after it.")
class EventMessage:
    cursor: str
    node: Event


def _after_id(after: str | None) -> int:
    if not after:
        return 0
    values = decode_cursor(after)
    if len(values) != 1 or not isinstance(values[0], int):
        raise InvalidCursor(
            f"cursor {after!r} is not an events cursor", suggestion="use a cursor from events or its messages"
        )
    return values[0]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The outbox within your jurisdiction: events committed after `after` (or from now "
        "on, without it), then each new one as it commits. Resume with the last cursor.",
        extensions=[requires(FOLLOW, to=TO_FOLLOW)],
    )
    async def events(
        self, info: Info, after: str | None = None, types: list[str] | None = None
    ) -> AsyncGenerator[EventMessage, None]:
        try:
            principal = principal_of(info)
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
                yield EventMessage(cursor=encode_cursor([row.id]), node=row)
            if len(rows) < BATCH:
                await asyncio.sleep(POLL_SECONDS)


# -- the WebSocket side: one reader per process, one rendering per selection ------------------------


@dataclass(frozen=True, slots=True)
class EventsPlan:
    """A valid, authenticated ``events`` subscription, ready to be served by the fan-out."""

    executor: Any
    principal: Principal
    after: int | None
    types: list[str] | None
    key: Hashable


_LIMITS: dict[int, tuple[tuple[Any, ...], int | None]] = {}


def _limits(schema: Any) -> tuple[tuple[Any, ...], int | None]:
    """The validation rules and token limit the schema's extensions add (so that the fast path refuses
    what strawberry's pipeline would)."""
    if id(schema) not in _LIMITS:
        rules: list[Any] = list(specified_rules)
        max_tokens = None
        for ext in schema.get_extensions():
            if isinstance(ext, AddValidationRules):
                rules.extend(ext.validation_rules)
            elif isinstance(ext, MaxTokensLimiter):
                max_tokens = ext.max_token_count
        _LIMITS[id(schema)] = (tuple(rules), max_tokens)
    return _LIMITS[id(schema)]


def _selection_key(
    document: DocumentNode, root: FieldNode, variables: dict[str, Any] | None, principal: Principal
) -> Hashable:
    """What an event's payload depends on: the root field's alias and selection, the fragments, the
    variables used there — not the root field's arguments (every subscriber's cursor differs) — and
    whether the principal may unmask."""
    parts = [root.alias.value if root.alias else "", print_ast(root.selection_set) if root.selection_set else ""]
    parts += sorted(print_ast(d) for d in document.definitions if isinstance(d, FragmentDefinitionNode))
    text = "\n".join(parts)
    used = sorted(set(re.findall(r"\$(\w+)", text)))
    values = {k: (variables or {}).get(k) for k in used}
    return (text, json.dumps(values, sort_keys=True, default=str), principal.can_unmask)


def plan_events(
    schema: Any, context: Any, query: str, variables: dict[str, Any] | None, operation_name: str | None
) -> EventsPlan | None:
    """An :class:`EventsPlan` when the operation is a valid ``events`` subscription of an authenticated
    principal; None otherwise — strawberry's own pipeline then answers, with its usual errors."""
    principal = getattr(context, "principal", None)
    if principal is None or not allowed(principal.role, FOLLOW):
        return None  # strawberry's path refuses it, saying why
    rules, max_tokens = _limits(schema)
    core = schema._schema
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    if validate(core, document, rules):
        return None
    executor = schema.execution_context_class.build(
        core, document, context_value=context, raw_variable_values=variables, operation_name=operation_name
    )
    if isinstance(executor, list) or executor.operation.operation != OperationType.SUBSCRIPTION:
        return None
    root_type = core.subscription_type
    grouped = collect_fields(
        core, executor.fragments, executor.variable_values, root_type, executor.operation, executor.hide_suggestions
    ).grouped_field_set
    if len(grouped) != 1:
        return None
    (details,) = grouped.values()
    node = details[0].node
    if node.name.value != "events":
        return None
    args = get_argument_values(
        root_type.fields["events"],
        node,
        executor.variable_values,
        details[0].fragment_variable_values,
        executor.hide_suggestions,
    )
    try:
        after = _after_id(args.get("after")) if args.get("after") else None
    except (HubError, ValueError):  # strawberry's path reports the bad cursor
        return None
    return EventsPlan(
        executor=executor,
        principal=principal,
        after=after,
        types=args.get("types"),
        key=_selection_key(document, node, variables, principal),
    )


def renderer(executor: Any, encode: Callable[[Any], str | bytes]) -> Callable[[Any], str]:
    """The ``next`` payload of an event for ``executor``'s operation, as JSON: graphql-core's per-event
    execution (what strawberry's subscribe runs for each event) and strawberry's encoder."""

    def render(event: Any) -> str:
        message = EventMessage(cursor=encode_cursor([event.id]), node=event)
        result = execute_subscription_event(executor.build_per_event_executor(message))
        if inspect.isawaitable(result):  # Event's fields resolve synchronously; an async one would need awaiting
            raise TypeError("the events selection resolved asynchronously")
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [err.formatted for err in result.errors]
        encoded = encode(payload)
        return encoded.decode() if isinstance(encoded, bytes) else encoded

    return render


class EventsTransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws, with ``events`` subscriptions served by the process's fan-out
    (``view.fanout``); every other operation, and every refused one, takes strawberry's path."""

    async def run_operation(self, operation: Operation) -> None:
        fanout: Fanout | None = getattr(self.view, "fanout", None)
        plan = None
        if fanout is not None:
            plan = plan_events(
                self.schema, self.context, operation.query, operation.variables, operation.operation_name
            )
        if plan is None or fanout is None:
            await super().run_operation(operation)
            return
        await self._serve_events(operation, plan, fanout)

    async def _serve_events(self, operation: Operation, plan: EventsPlan, fanout: Fanout) -> None:
        render = renderer(plan.executor, self.view.encode_json)
        try:
            await fanout.ensure_started()
            sub = fanout.acquire(principal=plan.principal, types=plan.types, key=plan.key, render=render)
        except HubError as exc:
            await operation.send_initial_errors([GraphQLError(exc.message, extensions=exc.extensions())])
            return
        head = '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":'
        # The hub serves GraphQL through strawberry.asgi.GraphQL, whose adapter holds Starlette's WebSocket.
        ws = cast(ASGIWebSocketAdapter, self.websocket).ws
        try:
            last = plan.after if plan.after is not None else await fanout.head()
            # Replay from the outbox until caught up with the reader, then go live without awaiting in
            # between: the reader hands this subscriber every event after its position, and what a
            # replay already sent is dropped by id. No gap, nothing twice.
            while sub.close_code is None:
                upper = fanout.position
                rows = await fanout.replay(principal=plan.principal, types=plan.types, after=last)
                for row in rows:
                    if sub.close_code is not None:
                        break
                    await ws.send_text(head + render(row) + "}")
                    last = row.id
                if sub.close_code is not None or len(rows) == FANOUT_BATCH:
                    continue
                last = max(last, upper)  # everything visible up to the reader's position was in this replay
                if fanout.position <= last:
                    fanout.go_live(sub)
                    break
            while sub.close_code is None:
                delivery = await sub.next()
                while delivery is not None:
                    if delivery.event_id > last:
                        await ws.send_text(head + delivery.payload + "}")
                        last = delivery.event_id
                    delivery = sub.next_nowait()
            self.operations.pop(operation.id, None)
            with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
                await self.websocket.close(code=sub.close_code or 1000, reason=sub.close_reason)
        except (WebSocketDisconnect, OSError, RuntimeError):
            return  # the client went away; the handler's loop ends the connection
        finally:
            fanout.release(sub)
