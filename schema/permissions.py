"""Permissions on fields, backed by the one policy table (``hub.access.POLICY``).

A guarded field declares what it needs, ``extensions=[requires(Action.MANAGE_CONNECTORS,
to="configure connectors")]``, and its resolver only resolves. The check runs before the resolver
(a strawberry ``PermissionExtension``), and a refusal is our ``Forbidden`` (code FORBIDDEN) saying
what was refused: "only administrators may configure connectors", "a viewer key may not accept
clues". As an error raised by the resolver would, it nulls the field, and a non-null field's parent.

No schema directive is added (``use_directives=False``): the published SDL stays as it is.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, OperationType
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.utils.await_maybe import await_maybe

from hub.access import READ_REQUIRES, Action, Principal, require
from hub.errors import Forbidden, HubError

if TYPE_CHECKING:
    from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
    from strawberry.types import Info


class Allowed(BasePermission):
    """Lets a field run when the policy table allows the principal's role ``action``.

    ``to`` completes the refusal, "… may not {to}". The refusal is raised from ``has_permission``,
    where the principal is known, so that the message names its role.
    """

    def __init__(self, action: Action, *, to: str) -> None:
        self.action = action
        self.to = to

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        try:
            require(principal_of(info), self.action, what=self.to)
        except HubError as exc:
            if info.operation.operation is OperationType.SUBSCRIPTION:
                # A subscription's errors reach the client without the HTTP view's shaping: carry the code here.
                raise GraphQLError(exc.message, extensions=exc.extensions()) from exc
            raise
        return True

    def on_unauthorized(self) -> None:
        # Not reached (has_permission raises rather than answer False); our error all the same.
        raise Forbidden(f"you may not {self.to}")


class Permissions(PermissionExtension):
    """strawberry's ``PermissionExtension``, for fields with an argument named ``source`` (``rawRecords``).

    strawberry's own passes the field's arguments on as keywords next to its ``source`` parameter,
    and such a field fails with "got multiple values for argument 'source'" (strawberry issue #2139).
    Here the parent and ``info`` are taken positionally, and the permissions are asked without the
    arguments (none of ours needs them).
    """

    def resolve(self, next_: SyncExtensionResolver, *args: Any, **kwargs: Any) -> Any:
        source, info = args  # strawberry passes the parent and info positionally
        for permission in self.permissions:
            if permission.has_permission(source, info) is not True:
                return self._on_unauthorized(permission)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: AsyncExtensionResolver, *args: Any, **kwargs: Any) -> Any:
        source, info = args
        for permission in self.permissions:
            if await await_maybe(permission.has_permission(source, info)) is not True:
                return self._on_unauthorized(permission)
        result = next_(source, info, **kwargs)
        return result if inspect.isasyncgen(result) else await result


def requires(action: Action, *, to: str) -> PermissionExtension:
    """The field extension that refuses, before the resolver runs, a principal the table does not allow ``action``."""
    return Permissions(permissions=[Allowed(action, to=to)], use_directives=False)


def reads(model: type, *, to: str = "read this") -> PermissionExtension:
    """The field extension for a field that lists rows of ``model``: the action ``READ_REQUIRES`` names."""
    return requires(READ_REQUIRES[model], to=to)


def principal_of(info: Info) -> Principal:
    """The request's principal; ``NotAuthenticated`` without one."""
    principal: Principal = info.context.require_principal()
    return principal


def require_to_read(info: Info, model: type, *, what: str = "read this") -> None:
    """Refuse, by the table, a principal that may not read rows of ``model`` (``hub.access.READ_REQUIRES``)."""
    action = READ_REQUIRES.get(model)
    if action is not None:
        require(principal_of(info), action, what=what)
