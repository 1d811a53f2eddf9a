"""The hub's own tables: connectors, sync runs, the raw archive, quarantine, events, access, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, BigId, IdMixin, RegionScoped, created_at_column


class ConnectorInstance(IdMixin, Base):
    """A configured connector: plugin kind, config, encrypted secrets, schedule and sync state."""

    __tablename__ = "connector_instances"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(64))  # entry-point name in the hub.connectors group
    config: Mapped[dict[str, Any]]
    secrets_enc: Mapped[str | None] = mapped_column(Text)  # Fernet token of a JSON object; never returned
    schedule_seconds: Mapped[int] = mapped_column(default=300)
    enabled: Mapped[bool] = mapped_column(default=True)
    state: Mapped[dict[str, Any]]  # per-stream bookmarks
    health: Mapped[str] = mapped_column(String(12), default="unknown")  # healthy / failing / paused / unknown
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    last_run_at: Mapped[dt.datetime | None]
    next_run_at: Mapped[dt.datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()


class SyncRun(IdMixin, Base):
    """One run of a connector instance: when, outcome, per-stream counts, error, duration."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_instance_id", "connector_instance_id", "id"),)

    connector_instance_id: Mapped[int] = mapped_column(ForeignKey("connector_instances.id"))
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(12))  # running / succeeded / failed
    full_refresh: Mapped[bool] = mapped_column(default=False)
    stats: Mapped[dict[str, Any]]  # {stream: {read, created, updated, unchanged, quarantined}}
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None]


class RawRecord(IdMixin, Base):
    """The archive of every upstream record as received, with the hash of its payload."""

    __tablename__ = "raw_records"
    __table_args__ = (
        UniqueConstraint("source", "stream", "source_key", "payload_hash", name="uq_raw_records_version"),
        Index("ix_raw_records_source_key", "source", "stream", "source_key"),
    )

    connector_instance_id: Mapped[int | None] = mapped_column(ForeignKey("connector_instances.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))  # connector kind or 'seed' / 'manual'
    stream: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    payload_hash: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    received_at: Mapped[dt.datetime]


class Quarantine(IdMixin, Base):
    """A record that failed normalisation: reason and payload kept, replayable after a mapping fix."""

    __tablename__ = "quarantine"

    connector_instance_id: Mapped[int | None] = mapped_column(ForeignKey("connector_instances.id"), index=True)
    raw_record_id: Mapped[int | None] = mapped_column(ForeignKey("raw_records.id"))
    stream: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    field: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open / replayed / discarded
    created_at: Mapped[dt.datetime] = created_at_column()
    replayed_at: Mapped[dt.datetime | None]


class Event(RegionScoped, Base):
    """The transactional outbox: every change a subscriber could care about, in commit order."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_region_id", "region_code", "id"),
        Index("ix_events_handling_region_id", "handling_region_code", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int]
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = created_at_column()
    #: A clue event's handling region (分办 across regions): it reaches that region as well as ``region_code``.
    handling_region_code: Mapped[str | None] = mapped_column(String(12))


class User(IdMixin, RegionScoped, Base):
    """A person who signs in (``hub.users``): a role, a jurisdiction, for a 行业主管部门 its sector.

    Region-scoped by the jurisdiction it works in: an administrator lists and manages the users at or
    below its own region, by the same session event as every other read (``hub.access``).

    ``disabled`` keeps the row (the audit log names it) while refusing every sign-in and every open
    session. ``failed_attempts`` counts wrong passwords since the last success or lockout; at the
    setting's limit the account is locked until ``locked_until`` (等保 2.0: 登录失败处理).
    """

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    sector: Mapped[str | None] = mapped_column(String(10))  # 住建 / 交通 / 水利, for the sector role only
    can_unmask: Mapped[bool] = mapped_column(default=False)
    disabled: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    failed_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None]
    password_changed_at: Mapped[dt.datetime | None]
    last_sign_in_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()


class UserSession(Base):
    """A signed-in browser: the cookie's token is stored only as its hash, ``id``.

    It ends at ``expires_at`` (the absolute timeout), after the idle timeout since ``last_seen_at``,
    or when ``revoked_at`` is set (sign-out, the user disabled or their password reset).
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ApiKey(IdMixin, Base):
    """A key for a front-end app or a regional system: role, jurisdiction, and whether it may unmask."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # hub.access.Role
    region_code: Mapped[str] = mapped_column(String(12))
    sector: Mapped[str | None] = mapped_column(String(10))  # a 行业主管部门's system: 住建 / 交通 / 水利
    can_unmask: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = created_at_column()
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class AuditLog(IdMixin, Base):
    """Who did or saw what: unmasked reads, merges, config changes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    at: Mapped[dt.datetime] = created_at_column()
    principal: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    region_code: Mapped[str | None] = mapped_column(String(12))
    detail: Mapped[dict[str, Any]]
