"""Mutations: connector administration (admin role) and, inherited, the clue mutations. Each delegates to a hub service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, cast

import strawberry
from sqlalchemy.orm import Session
from strawberry.scalars import JSON
from strawberry.types import Info

from hub import connector_admin as admin
from hub import models as m
from hub.access import Action
from hub.actors import sync_connector
from hub.sync import SyncEngine
from schema.api_key_mutations import ApiKeyMutations
from schema.calendar import CalendarMutations
from schema.clue_mutations import ClueMutations
from schema.credit import CreditMutations
from schema.filters import db_id
from schema.operations import OperationMutations
from schema.permissions import principal_of, requires
from schema.types.platform import ConnectorInstance
from schema.user_mutations import UserMutations
from schema.warning_mutations import WarningMutations
from schema.webhooks import WebhookMutations
from schema.writeback_mutations import WritebackMutations

#: Every mutation here configures connectors: one action of the policy table, one refusal.
CONFIGURE = Action.MANAGE_CONNECTORS
TO_CONFIGURE = "configure connectors"


def _pk(global_id: strawberry.ID, model: type, *, field: str) -> int:
    """The primary key inside a non-null global ID argument (``db_id`` answers None only for a null one)."""
    return cast(int, db_id(global_id, model, field=field))


def _object(value: JSON | None) -> dict[str, Any]:
    """A JSON argument that the connector's schema validates as an object (the service names a bad field)."""
    return dict(cast("Mapping[str, Any]", value or {}))


async def _write(info: Info, fn: Callable[[Session], Any]) -> Any:
    """Run a synchronous hub service in the request's session and commit."""
    session = info.context.session
    result = await session.run_sync(fn)
    await session.commit()
    return result


@strawberry.input(description="A new connector instance. Secrets go in `secrets`: stored encrypted, never returned.")
class CreateConnectorInput:
    name: str
    kind: str = strawberry.field(description="A connector plugin kind (see connectorKinds).")
    config: JSON = strawberry.field(description="Non-secret settings, validated against the kind's config schema.")
    secrets: JSON | None = strawberry.field(default=None, description="Secret settings (write-only).")
    schedule_seconds: int = 300
    enabled: bool = True


@strawberry.input(description="Changes to a connector instance; omitted secrets are kept.")
class UpdateConnectorInput:
    config: JSON | None = None
    secrets: JSON | None = None
    schedule_seconds: int | None = None


@strawberry.type(description="The outcome of testing a connector's connection and credentials.")
class ConnectorCheck:
    ok: bool
    message: str


@strawberry.type(description="What a replay of quarantined records did.")
class ReplayResult:
    replayed: int
    still_failing: int


@strawberry.type
class Mutation(
    ClueMutations,
    OperationMutations,
    WarningMutations,
    WebhookMutations,
    CalendarMutations,
    CreditMutations,
    WritebackMutations,
    ApiKeyMutations,
    UserMutations,
):
    @strawberry.mutation(
        description="Configure a new connector instance (admin).", extensions=[requires(CONFIGURE, to=TO_CONFIGURE)]
    )
    async def create_connector(self, info: Info, input: CreateConnectorInput) -> ConnectorInstance:
        principal = principal_of(info)
        ctx = info.context
        return await _write(
            info,
            lambda s: admin.create_instance(
                s,
                principal=principal,
                cipher=ctx.cipher,
                name=input.name,
                kind=input.kind,
                config=_object(input.config),
                secrets=_object(input.secrets),
                schedule_seconds=input.schedule_seconds,
                enabled=input.enabled,
            ),
        )

    @strawberry.mutation(
        description="Change a connector's config, secrets or schedule (admin).",
        extensions=[requires(CONFIGURE, to=TO_CONFIGURE)],
    )
    async def update_connector(self, info: Info, id: strawberry.ID, input: UpdateConnectorInput) -> ConnectorInstance:
        principal = principal_of(info)
        pk = _pk(id, m.ConnectorInstance, field="id")
        ctx = info.context
        return await _write(
            info,
            lambda s: admin.update_instance(
                s,
                principal=principal,
                cipher=ctx.cipher,
                instance=admin.get_instance(s, pk),
                config=_object(input.config) if input.config else None,
                secrets=_object(input.secrets) if input.secrets else None,
                schedule_seconds=input.schedule_seconds,
            ),
        )

    @strawberry.mutation(
        description="Enable (also un-pausing) or disable a connector (admin).",
        extensions=[requires(CONFIGURE, to=TO_CONFIGURE)],
    )
    async def set_connector_enabled(self, info: Info, id: strawberry.ID, enabled: bool) -> ConnectorInstance:
        principal = principal_of(info)
        pk = _pk(id, m.ConnectorInstance, field="id")
        return await _write(
            info,
            lambda s: admin.set_enabled(s, principal=principal, instance=admin.get_instance(s, pk), enabled=enabled),
        )

    @strawberry.mutation(
        description="Test the connection and credentials of a connector (admin).",
        extensions=[requires(CONFIGURE, to=TO_CONFIGURE)],
    )
    async def test_connector(self, info: Info, id: strawberry.ID) -> ConnectorCheck:
        pk = _pk(id, m.ConnectorInstance, field="id")
        instance = await info.context.session.run_sync(lambda s: admin.get_instance(s, pk))
        result = await asyncio.to_thread(admin.check_instance, instance, cipher=info.context.cipher)
        return ConnectorCheck(ok=result.ok, message=result.message)

    @strawberry.mutation(
        description="Queue a sync now (admin); `fullRefresh` reads every stream from the beginning.",
        extensions=[requires(CONFIGURE, to=TO_CONFIGURE)],
    )
    async def sync_connector_now(self, info: Info, id: strawberry.ID, full_refresh: bool = False) -> ConnectorInstance:
        pk = _pk(id, m.ConnectorInstance, field="id")
        instance = await info.context.session.run_sync(lambda s: admin.get_instance(s, pk))
        sync_connector.send(instance.id, full_refresh)
        return instance

    @strawberry.mutation(
        description="Forget a stream's bookmark so that its next sync starts over (admin).",
        extensions=[requires(CONFIGURE, to=TO_CONFIGURE)],
    )
    async def reset_connector_stream(self, info: Info, id: strawberry.ID, stream: str) -> ConnectorInstance:
        principal = principal_of(info)
        pk = _pk(id, m.ConnectorInstance, field="id")
        ctx = info.context
        return await _write(
            info,
            lambda s: admin.reset_stream(
                s, principal=principal, cipher=ctx.cipher, instance=admin.get_instance(s, pk), stream=stream
            ),
        )

    @strawberry.mutation(
        description="Normalise quarantined records again from the archive, without calling the upstream (admin).",
        extensions=[requires(CONFIGURE, to=TO_CONFIGURE)],
    )
    async def replay_quarantine(
        self, info: Info, ids: list[strawberry.ID] | None = None, connector_id: strawberry.ID | None = None
    ) -> ReplayResult:
        q_ids = [_pk(i, m.Quarantine, field="ids") for i in ids] if ids else None
        inst = db_id(connector_id, m.ConnectorInstance, field="connectorId")
        engine = info.context.sync_engine
        counts = await asyncio.to_thread(
            lambda: SyncEngine(engine, cipher=info.context.cipher).replay(q_ids, instance_id=inst)
        )
        return ReplayResult(replayed=counts["replayed"], still_failing=counts["still_failing"])
