"""Users in the graph (admin): create one, change one, disable or enable one, reset a password.

The console's 系统 page uses them. They delegate to ``hub.users``, which checks the policy table
(``MANAGE_USERS``), keeps a user within the acting administrator's jurisdiction and unmask
permission, checks the password policy, and audits under the acting principal's name.

Each runs on a thread, in a session of its own bound to the principal: a new password is hashed with
argon2id, slow on purpose (most of a second on a busy machine), and on the event loop it would hold up
every other request meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar, cast

import strawberry
from sqlalchemy.orm import Session
from strawberry.types import Info

from hub import models as m
from hub.access import Action, bind_principal
from hub.db import session_scope
from hub.users import create_user, reset_password, set_disabled, update_user
from schema.filters import db_id
from schema.permissions import principal_of, requires
from schema.types.platform import User

T = TypeVar("T")


@strawberry.input(description="A new user who signs in with a password.")
class CreateUserInput:
    username: str = strawberry.field(description="The sign-in name: 3 to 64 of a-z, 0-9, '.', '_', '-'.")
    display_name: str = strawberry.field(description="The person's name as shown, e.g. 张三.")
    role: str = strawberry.field(description="admin | inspector | viewer | regional | town | leader | sector")
    region_code: str = strawberry.field(
        description="Its jurisdiction, at or below yours; a town handler's is a town (9 digits)."
    )
    password: str = strawberry.field(
        description="At least the hub's minimum length, 3 of 4 kinds of character, not containing the username."
    )
    sector: str | None = strawberry.field(default=None, description="A sector user's sector: 住建 | 交通 | 水利.")
    can_unmask: bool = strawberry.field(default=False, description="May read personal data unmasked (audited).")


@strawberry.input(description="Changes to a user; a field left out (null) stays as it is.")
class UpdateUserInput:
    display_name: str | None = None
    role: str | None = None
    region_code: str | None = None
    sector: str | None = strawberry.field(default=None, description="A sector user's sector (住建 | 交通 | 水利).")
    can_unmask: bool | None = None


def _user_id(id: strawberry.ID) -> int:
    pk = db_id(id, m.User, field="id")
    assert pk is not None  # a non-null ID argument
    return pk


async def _run(info: Info, work: Callable[[Session], T]) -> T:
    """Run a service on a thread, in a session limited to the principal's jurisdiction, and commit.

    The rows it returns keep their loaded values (the hub's sessions do not expire them at commit)."""
    principal = principal_of(info)
    engine = info.context.sync_engine

    def run() -> T:
        with session_scope(engine) as session:
            bind_principal(session, principal)
            return work(session)

    return await asyncio.to_thread(run)


@strawberry.type
class UserMutations:
    @strawberry.mutation(
        description="Create a user (admin) within your jurisdiction; errors name the field (`extensions.field`).",
        extensions=[requires(Action.MANAGE_USERS, to="manage users")],
    )
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        principal = principal_of(info)
        min_length = info.context.settings.password_min_length
        row = await _run(
            info,
            lambda s: create_user(
                s,
                principal=principal,
                username=input.username,
                display_name=input.display_name,
                role=input.role,
                region_code=input.region_code,
                password=input.password,
                sector=input.sector or None,
                can_unmask=input.can_unmask,
                min_length=min_length,
            ),
        )
        return cast(User, row)

    @strawberry.mutation(
        description="Change a user's display name, role, region, sector or unmask permission (admin).",
        extensions=[requires(Action.MANAGE_USERS, to="manage users")],
    )
    async def update_user(self, info: Info, id: strawberry.ID, input: UpdateUserInput) -> User:
        principal = principal_of(info)
        pk = _user_id(id)
        row = await _run(
            info,
            lambda s: update_user(
                s,
                principal=principal,
                user_id=pk,
                display_name=input.display_name,
                role=input.role,
                region_code=input.region_code,
                sector=input.sector or None,
                can_unmask=input.can_unmask,
            ),
        )
        return cast(User, row)

    @strawberry.mutation(
        description="Disable a user (its sessions end at once, sign-in is refused) or enable it again (admin).",
        extensions=[requires(Action.MANAGE_USERS, to="manage users")],
    )
    async def set_user_disabled(self, info: Info, id: strawberry.ID, disabled: bool) -> User:
        principal = principal_of(info)
        pk = _user_id(id)
        row = await _run(info, lambda s: set_disabled(s, principal=principal, user_id=pk, disabled=disabled))
        return cast(User, row)

    @strawberry.mutation(
        description="Give a user a new password (admin): its sessions end and a lockout lifts.",
        extensions=[requires(Action.MANAGE_USERS, to="manage users")],
    )
    async def reset_user_password(self, info: Info, id: strawberry.ID, password: str) -> User:
        principal = principal_of(info)
        pk = _user_id(id)
        min_length = info.context.settings.password_min_length
        row = await _run(
            info,
            lambda s: reset_password(s, principal=principal, user_id=pk, password=password, min_length=min_length),
        )
        return cast(User, row)
