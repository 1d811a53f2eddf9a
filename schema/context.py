"""The per-request context: the principal, its session, the data loaders, and pending audits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.access import Principal
    from hub.crypto import Cipher
    from hub.settings import Settings
    from schema.loaders import Loaders


@dataclass
class Context:
    """What every resolver gets as ``info.context``."""

    session: AsyncSession
    principal: Principal | None
    loaders: Loaders
    cipher: Cipher
    settings: Settings
    auth_error: Exception | None = None
    #: A synchronous engine for services that run in worker threads (sync engine, replay).
    sync_engine: Any = None
    #: Unmasked reads to write to the audit log when the operation ends.
    audits: list[dict[str, Any]] = field(default_factory=list)
    request: Any = None
    response: Any = None
    #: Makes new sessions (subscriptions open one per poll rather than hold the request's).
    session_factory: Any = None
    #: The graphql-transport-ws connection_init payload (set by strawberry on WebSocket connections).
    connection_params: dict[str, Any] | None = None

    def require_principal(self) -> Principal:
        if self.principal is None:
            from hub.errors import NotAuthenticated

            raise self.auth_error or NotAuthenticated("no API key: send it in the X-API-Key header")
        return self.principal

    def require_admin(self, *, to: str) -> Principal:
        """The principal, when it has the admin role; ``Forbidden`` saying what only admins may do."""
        from hub.errors import Forbidden

        principal = self.require_principal()
        if not principal.is_admin:
            raise Forbidden(f"only administrators may {to}", suggestion="use an API key with the admin role")
        return principal
