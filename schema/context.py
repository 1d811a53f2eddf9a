"""The per-request context: the principal, its session, the data loaders, and pending audits.

The principal is an API key's (``X-API-Key`` / ``Authorization: Bearer``) or, without a key, the
user of a signed-in browser's session cookie (``hub.users``; found in ``hub.app``, which has already
refused a cookie-authenticated POST without its CSRF token). Either way the same policy table and
the same jurisdiction (and, for a 行业主管部门, sector) apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.errors import NotAuthenticated

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
    #: The synchronous engine compiled operations read with (``schema.compiled``): its statements are
    #: time-limited as the request's (``HUB_REQUEST_TIMEOUT_SECONDS``). ``None``: ``sync_engine``.
    read_engine: Any = None
    #: Unmasked reads to write to the audit log when the operation ends.
    audits: list[dict[str, Any]] = field(default_factory=list)
    request: Any = None
    response: Any = None
    #: Makes new sessions (subscriptions open one per poll rather than hold the request's).
    session_factory: Any = None
    #: The graphql-transport-ws connection_init payload (set by strawberry on WebSocket connections).
    connection_params: dict[str, Any] | None = None
    #: The registry of named operations as this process serves it (``hub.operations.OperationRegistry``).
    operations: Any = None

    def require_principal(self) -> Principal:
        """The principal of the request; the authentication error (``NotAuthenticated``) without one.

        What the principal may do is the policy table's answer (``schema.permissions``)."""
        if self.principal is None:
            raise self.auth_error or NotAuthenticated("no API key: send it in the X-API-Key header")
        return self.principal
