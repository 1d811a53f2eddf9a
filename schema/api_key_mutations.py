"""API keys in the graph (admin): create one — its secret shown this once — and revoke one.

The console's 系统 page uses them; they delegate to ``hub.api_keys``, which checks the policy table
(``MANAGE_KEYS``), keeps a key within its creator's jurisdiction and unmask permission, and audits.
"""

from __future__ import annotations

from typing import cast

import strawberry
from sqlalchemy.orm import Session
from strawberry.types import Info

from hub import models as m
from hub.access import ROLES, SECTORS, Action, Role
from hub.api_keys import create_api_key, revoke_api_key
from hub.errors import InvalidInput
from schema.filters import db_id
from schema.permissions import principal_of, requires
from schema.types.platform import ApiKey


@strawberry.input(description="A new API key for a system or a screen.")
class CreateApiKeyInput:
    name: str = strawberry.field(description="Who the key is for, e.g. 济宁市指挥中心大屏.")
    role: str = strawberry.field(description="admin | inspector | viewer | regional | town | leader | sector")
    region_code: str = strawberry.field(description="Its jurisdiction, at or below yours (000000: the whole country).")
    can_unmask: bool = strawberry.field(default=False, description="May read personal data unmasked (audited).")
    sector: str | None = strawberry.field(
        default=None,
        description="A sector key's 行业主管部门: 住建 | 交通 | 水利 (required for the sector role, refused for others).",
    )


def _culprit(input: CreateApiKeyInput) -> dict[str, str | None]:
    """The field (and its value) a ``ValueError`` of ``create_api_key`` was about, checked in its order."""
    if input.role not in ROLES:
        return {"field": "role", "value": input.role}
    if (input.role == Role.SECTOR and input.sector not in SECTORS) or (input.role != Role.SECTOR and input.sector):
        return {"field": "sector", "value": input.sector}
    return {"field": "regionCode", "value": input.region_code}


@strawberry.type(description="A new API key and the key itself, shown this once (only its hash is stored).")
class CreatedApiKey:
    api_key: ApiKey
    key: str


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(
        description="Create an API key (admin); the key is in the answer, and nowhere else, ever.",
        extensions=[requires(Action.MANAGE_KEYS, to="create API keys")],
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreatedApiKey:
        principal = principal_of(info)
        name = input.name.strip()
        if not name:
            raise InvalidInput("name is required", field="name")
        session = info.context.session

        def create(s: Session) -> tuple[m.ApiKey, str]:
            try:
                return create_api_key(
                    s,
                    principal=principal,
                    name=name,
                    role=input.role,
                    region_code=input.region_code,
                    can_unmask=input.can_unmask,
                    sector=input.sector,
                )
            except ValueError as exc:  # the service's words for the CLI: a bad role, region code or sector
                raise InvalidInput(str(exc), **_culprit(input)) from exc

        row, key = await session.run_sync(create)
        await session.commit()
        return CreatedApiKey(api_key=cast(ApiKey, row), key=key)

    @strawberry.mutation(
        description="Revoke an API key from now on (admin); a revoked key stays revoked.",
        extensions=[requires(Action.MANAGE_KEYS, to="revoke API keys")],
    )
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        principal = principal_of(info)
        pk = db_id(id, m.ApiKey, field="id")
        assert pk is not None  # a non-null ID argument
        session = info.context.session
        row = await session.run_sync(lambda s: revoke_api_key(s, principal=principal, key_id=pk))
        await session.commit()
        return cast(ApiKey, row)
