"""API keys: create, list and revoke them, each change audited.

A key is shown once, when it is created; only its hash (``hub.crypto.api_key_hash``) and a short
prefix, for recognising it in a list, are stored. Revoking keeps the row (the audit log and the key's
history point at it) and sets ``revoked_at``: ``hub.access.authenticate`` refuses the key from then
on, and open subscriptions holding it are closed at their next re-validation.

Managing keys is an admin's action by the policy table (``Action.MANAGE_KEYS``); the CLI acts as an
admin principal named after the operating-system user who ran it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.access import KEY_PREFIX, NATIONAL, ROLES, SECTORS, SYSTEM, Action, Principal, Role, audit, require
from hub.crypto import api_key_hash
from hub.errors import Conflict, Forbidden, NotFound
from hub.identifiers import IdentifierError, validate_region_code
from hub.models import ApiKey, utcnow


def create_api_key(
    session: Session,
    *,
    name: str,
    role: str,
    region_code: str,
    can_unmask: bool = False,
    sector: str | None = None,
    principal: Principal = SYSTEM,
) -> tuple[ApiKey, str]:
    """Create an API key; returns the row and the key itself (shown once, stored only as a hash).

    A key of the sector role (a 行业主管部门's system) names its sector, and only such a key does.
    ``ValueError`` for an unknown role, a malformed region code or a missing / unexpected sector.
    """
    require(principal, Action.MANAGE_KEYS, what="create API keys")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if role == Role.SECTOR and sector not in SECTORS:
        raise ValueError(f"a sector key needs a sector, one of {', '.join(SECTORS)}; got {sector!r}")
    if role != Role.SECTOR and sector is not None:
        raise ValueError(f"only sector keys have a sector; a {role} key got {sector!r}")
    if region_code != NATIONAL:
        try:
            region_code = validate_region_code(region_code, field="region")
        except IdentifierError as exc:
            raise ValueError(str(exc)) from exc
    # A key never reaches further than the one who made it (the console lets a city's admin make keys)
    if not principal.covers(region_code):
        raise Forbidden(
            f"cannot create a key for region {region_code}: outside your jurisdiction {principal.region_code}",
            suggestion="create keys at or below your own region",
        )
    if can_unmask and not principal.can_unmask:
        raise Forbidden(
            "cannot create a key that unmasks personal data: you may not unmask it yourself",
            suggestion="leave the unmask permission off",
        )
    key = KEY_PREFIX + secrets.token_urlsafe(24)
    row = ApiKey(
        name=name,
        prefix=key[:10],
        key_hash=api_key_hash(key),
        role=role,
        region_code=region_code,
        sector=sector,
        can_unmask=can_unmask,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        principal=principal,
        action="api_key.create",
        entity_type="api_key",
        entity_id=row.id,
        region_code=region_code,
        detail={"name": name, "role": role, **({"sector": sector} if sector else {})},
    )
    return row, key


def list_api_keys(session: Session, *, principal: Principal) -> list[ApiKey]:
    """Every API key, revoked ones included, by id (the rows hold hashes, never the keys)."""
    require(principal, Action.MANAGE_KEYS, what="list API keys")
    return list(session.execute(select(ApiKey).order_by(ApiKey.id)).scalars())


def find_api_key(session: Session, *, key: str) -> ApiKey | None:
    """The row of ``key`` (revoked or not), or ``None`` when the hub never issued it."""
    return session.execute(select(ApiKey).where(ApiKey.key_hash == api_key_hash(key))).scalar_one_or_none()


def revoke_api_key(
    session: Session, *, principal: Principal, key_id: int, clock: Callable[[], dt.datetime] = utcnow
) -> ApiKey:
    """Revoke key ``key_id`` from now on and audit it as ``api_key.revoke``.

    ``NotFound`` for an id the hub never issued; ``Conflict`` for a key revoked already (its first
    revocation stands, and is what the audit log shows).
    """
    require(principal, Action.MANAGE_KEYS, what="revoke API keys")
    row = session.get(ApiKey, key_id)
    if row is None or not principal.covers(row.region_code):
        raise NotFound(f"no API key with id {key_id}", suggestion="list them with `hub api-key list`")
    if row.revoked_at is not None:
        raise Conflict(
            f"API key {key_id} ({row.name}) was revoked already, at {row.revoked_at.isoformat()}",
            suggestion="nothing to do: a revoked key stays revoked",
        )
    row.revoked_at = clock()
    audit(
        session,
        principal=principal,
        action="api_key.revoke",
        entity_type="api_key",
        entity_id=row.id,
        region_code=row.region_code,
        detail={"name": row.name, "prefix": row.prefix, "role": row.role},
        at=row.revoked_at,
    )
    return row
