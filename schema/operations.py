"""The registry of named operations in the graph: list them (anyone), register and retire them (admin).

The mutations delegate to ``hub.operations``, which validates against this schema, checks the policy
table (``MANAGE_OPERATIONS``) and audits; the serving process reads the registry again at once."""

from __future__ import annotations

import datetime as dt
from typing import cast

import strawberry
from sqlalchemy.orm import Session
from strawberry.types import Info

from hub import models as m
from hub import operations
from hub.access import Action
from schema.permissions import principal_of, requires
from schema.types._common import plain_type


@plain_type(
    m.RegisteredOperation,
    name="RegisteredOperation",
    description="A named operation front-end teams registered: send its document, or only its hash "
    "(extensions.persistedQuery = {version: 1, sha256Hash}). Roles in allow-list mode run only these.",
)
class RegisteredOperation:
    name: str = strawberry.field(description="The operation's name, unique in the registry.")
    sha256: str = strawberry.field(description="SHA-256 (lowercase hex) of the document's exact UTF-8 text.")
    document: str = strawberry.field(description="The text to send, byte for byte.")
    operation_type: str = strawberry.field(description="query, mutation or subscription.")
    registered_by: str
    registered_at: dt.datetime
    retired: bool = strawberry.field(description="Retired: no longer found by its hash, nor allowed.")
    retired_at: dt.datetime | None


@strawberry.type
class OperationQueries:
    @strawberry.field(description="The registered operations by name (retired ones when asked).")
    async def registered_operations(self, info: Info, include_retired: bool = False) -> list[RegisteredOperation]:
        principal_of(info)
        rows = await info.context.session.run_sync(
            lambda s: operations.list_operations(s, include_retired=include_retired)
        )
        return cast(list[RegisteredOperation], rows)


@strawberry.type
class OperationMutations:
    @strawberry.mutation(
        description="Register a named operation (admin): one operation, validated against the schema, named "
        "`name`. The same text again changes nothing; another text for the name needs `replace`.",
        extensions=[requires(Action.MANAGE_OPERATIONS, to="manage registered operations")],
    )
    async def register_operation(
        self, info: Info, name: str, document: str, replace: bool = False
    ) -> RegisteredOperation:
        principal = principal_of(info)
        graphql_schema = info.schema._schema

        def register(s: Session) -> m.RegisteredOperation:
            return operations.register_operation(
                s, principal=principal, name=name, document=document, schema=graphql_schema, replace=replace
            ).operation

        row = await info.context.session.run_sync(register)
        await info.context.session.commit()
        _registry_changed(info)
        return cast(RegisteredOperation, row)

    @strawberry.mutation(
        description="Retire a registered operation (admin): its hash is no longer found, nor allowed.",
        extensions=[requires(Action.MANAGE_OPERATIONS, to="manage registered operations")],
    )
    async def retire_operation(self, info: Info, name: str) -> RegisteredOperation:
        principal = principal_of(info)
        row = await info.context.session.run_sync(
            lambda s: operations.retire_operation(s, principal=principal, name=name)
        )
        await info.context.session.commit()
        _registry_changed(info)
        return cast(RegisteredOperation, row)


def _registry_changed(info: Info) -> None:
    """This process serves the change from its next request (others within HUB_OPERATIONS_REFRESH_SECONDS)."""
    registry = info.context.operations
    if registry is not None:
        registry.invalidate()
