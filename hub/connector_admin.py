"""Services for configuring connector instances: create, update, enable, test, reset, replay.

Writes go through here (GraphQL mutations, the CLI and ``hub serve`` call these), so validation,
secret handling and the audit log live in one place. Secrets are split from the config by the
connector's config model (fields marked ``secret()``), stored encrypted, and never returned.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors import registry
from connectors.base import CheckResult, UpstreamError
from hub.access import Principal, audit
from hub.connector_config import load_config
from hub.crypto import Cipher
from hub.errors import InvalidInput, NotFound
from hub.models import ConnectorInstance, utcnow


def _validated(kind: str, config: dict[str, Any], secrets: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        connector = registry.get(kind)
    except registry.UnknownConnector as exc:
        raise InvalidInput(str(exc), field="kind", value=kind) from exc
    try:
        parsed = connector.parse_config({**config, **secrets})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"invalid {kind} config: {field}: {first['msg']}",
            field=field,
            suggestion="see the connector's config schema (connectorKinds { configSchema })",
        ) from exc
    return parsed.public_dict(), parsed.secret_dict()


def create_instance(
    session: Session,
    *,
    principal: Principal,
    cipher: Cipher,
    name: str,
    kind: str,
    config: dict[str, Any],
    secrets: dict[str, Any] | None = None,
    schedule_seconds: int = 300,
    enabled: bool = True,
) -> ConnectorInstance:
    """A new connector instance; ``InvalidInput`` naming the field when the config does not validate."""
    if session.execute(select(ConnectorInstance.id).where(ConnectorInstance.name == name)).first():
        raise InvalidInput(f"a connector named {name!r} exists already", field="name", value=name)
    if schedule_seconds < 10:
        raise InvalidInput(f"scheduleSeconds must be ≥ 10, got {schedule_seconds}", field="scheduleSeconds")
    public, secret = _validated(kind, config, secrets or {})
    row = ConnectorInstance(
        name=name,
        kind=kind,
        config=public,
        secrets_enc=cipher.encrypt(orjson.dumps(secret).decode()) if secret else None,
        schedule_seconds=schedule_seconds,
        enabled=enabled,
        state={},
        health="unknown",
        consecutive_failures=0,
        next_run_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit(
        session,
        principal=principal,
        action="connector.create",
        entity_type="connector_instance",
        entity_id=row.id,
        detail={"name": name, "kind": kind, "config": public, "secrets": sorted(secret)},
    )
    return row


def get_instance(session: Session, instance_id: int | None = None, *, name: str | None = None) -> ConnectorInstance:
    row = (
        session.get(ConnectorInstance, instance_id)
        if instance_id is not None
        else session.execute(select(ConnectorInstance).where(ConnectorInstance.name == name)).scalar_one_or_none()
    )
    if row is None:
        raise NotFound(
            f"no connector instance {name or instance_id!r}", suggestion="list them with `hub connectors list`"
        )
    return row


def update_instance(
    session: Session,
    *,
    principal: Principal,
    cipher: Cipher,
    instance: ConnectorInstance,
    config: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    schedule_seconds: int | None = None,
) -> ConnectorInstance:
    """Change config and/or secrets (secrets not given are kept) and/or the schedule."""
    current_secrets = orjson.loads(cipher.decrypt(instance.secrets_enc)) if instance.secrets_enc else {}
    merged_secrets = {**current_secrets, **(secrets or {})}
    public, secret = _validated(instance.kind, {**instance.config, **(config or {})}, merged_secrets)
    instance.config = public
    instance.secrets_enc = cipher.encrypt(orjson.dumps(secret).decode()) if secret else None
    if schedule_seconds is not None:
        if schedule_seconds < 10:
            raise InvalidInput(f"scheduleSeconds must be ≥ 10, got {schedule_seconds}", field="scheduleSeconds")
        instance.schedule_seconds = schedule_seconds
    audit(
        session,
        principal=principal,
        action="connector.update",
        entity_type="connector_instance",
        entity_id=instance.id,
        detail={"config": public, "secrets_changed": sorted(secrets or {})},
    )
    return instance


def set_enabled(
    session: Session, *, principal: Principal, instance: ConnectorInstance, enabled: bool
) -> ConnectorInstance:
    """Enable (clearing a pause and its failure count) or disable an instance."""
    instance.enabled = enabled
    if enabled:
        instance.consecutive_failures, instance.paused_reason = 0, None
        instance.health = "unknown" if instance.health == "paused" else instance.health
        instance.next_run_at = utcnow()
    audit(
        session,
        principal=principal,
        action="connector.enable" if enabled else "connector.disable",
        entity_type="connector_instance",
        entity_id=instance.id,
        detail={},
    )
    return instance


def reset_stream(
    session: Session, *, principal: Principal, cipher: Cipher, instance: ConnectorInstance, stream: str
) -> ConnectorInstance:
    """Forget a stream's bookmark: its next sync reads it from the beginning (upserts make that safe)."""
    connector = registry.get(instance.kind)
    names = [s.name for s in connector.streams(load_config(connector, instance, cipher))]
    if stream not in names:
        raise InvalidInput(
            f"connector {instance.name!r} has no stream {stream!r} (streams: {', '.join(names)})",
            field="stream",
            value=stream,
        )
    state = dict(instance.state or {})
    state.pop(stream, None)
    instance.state = state
    audit(
        session,
        principal=principal,
        action="connector.reset_stream",
        entity_type="connector_instance",
        entity_id=instance.id,
        detail={"stream": stream},
    )
    return instance


def check_instance(instance: ConnectorInstance, *, cipher: Cipher) -> CheckResult:
    """Can the upstream be reached with the instance's credentials? Never raises for upstream trouble."""
    connector = registry.get(instance.kind)
    try:
        return connector.check(load_config(connector, instance, cipher))
    except UpstreamError as exc:
        return CheckResult(ok=False, message=str(exc))


def list_instances(session: Session) -> list[ConnectorInstance]:
    """Every connector instance, by name (the admin's overview: ``hub connectors list``)."""
    return list(session.execute(select(ConnectorInstance).order_by(ConnectorInstance.name)).scalars())
