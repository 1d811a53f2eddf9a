"""The hub's own objects: connectors, sync runs, the raw archive, quarantine, events, keys, audit."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub import models as m
from hub.access import require_unmask
from hub.archive import unseal
from hub.identifiers import mask_personal_data
from schema.prefetch import to_many, to_one
from schema.types._common import Node, Reveal, node_type
from schema.types.refs import SyncRunRef

#: How many runs ``ConnectorInstance.runs`` shows.
LATEST_RUNS = 20


@node_type(m.RawRecord, name="RawRecord", description="An upstream record exactly as received, with its SHA-256.")
class RawRecord(Node):
    source: str
    stream: str
    source_key: str
    payload_hash: str
    region_code: str | None
    received_at: dt.datetime

    @strawberry.field(
        description="The payload; ID numbers, phones and bank cards in it are masked unless `reveal` (audited)."
    )
    @staticmethod
    def payload(parent: strawberry.Parent[m.RawRecord], info: Info, reveal: Reveal = False) -> JSON:
        ctx = info.context
        plain = unseal(parent.payload, ctx.cipher)
        if not reveal:
            return mask_personal_data(plain)
        require_unmask(ctx.require_principal(), field="RawRecord.payload")
        ctx.audits.append(
            {
                "action": "unmask",
                "entity_type": "raw_record",
                "entity_id": parent.id,
                "region_code": parent.region_code,
                "detail": {"field": "payload"},
            }
        )
        return plain


@node_type(
    m.ConnectorInstance,
    name="ConnectorInstance",
    description="A configured connector (secrets are write-only: never returned).",
)
class ConnectorInstance(Node):
    name: str
    kind: str
    config: JSON
    schedule_seconds: int
    enabled: bool
    state: JSON = strawberry.field(description="Per-stream bookmarks.")
    health: str
    consecutive_failures: int
    paused_reason: str | None
    last_run_at: dt.datetime | None
    next_run_at: dt.datetime | None

    @strawberry.field(description="Whether secrets are configured (their values are never returned).")
    @staticmethod
    def has_secrets(parent: strawberry.Parent[m.ConnectorInstance]) -> bool:
        return parent.secrets_enc is not None

    runs = to_many(
        SyncRunRef,
        m.SyncRun.connector_instance_id,
        order=m.SyncRun.id.desc(),
        limit=LATEST_RUNS,
        description="The latest runs, newest first.",
    )


@node_type(
    m.SyncRun, name="SyncRun", description="One run of a connector: outcome, per-stream counts, error, duration."
)
class SyncRun(Node):
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    full_refresh: bool
    stats: JSON
    error: str | None
    duration_ms: int | None


@node_type(
    m.Quarantine, name="QuarantinedRecord", description="A record that failed normalisation, kept with its reason."
)
class QuarantinedRecord(Node):
    stream: str
    reason: str
    field: str | None
    status: str
    created_at: dt.datetime
    replayed_at: dt.datetime | None

    raw_record = to_one(RawRecord, m.RawRecord, key="raw_record_id")


@node_type(m.Event, name="Event", description="An entry of the outbox: a change a subscriber could care about.")
class Event(Node):
    type: str
    region_code: str
    entity_type: str
    entity_id: int
    payload: JSON
    created_at: dt.datetime


@node_type(m.ApiKey, name="ApiKey", description="An API key (the key itself is shown once, at creation).")
class ApiKey(Node):
    name: str
    prefix: str
    role: str
    region_code: str
    sector: str | None = strawberry.field(description="A sector key's 行业主管部门 (住建 / 交通 / 水利).")
    can_unmask: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


@node_type(
    m.User,
    name="User",
    description="A person who signs in (admin): role, jurisdiction, lockout. The password hash is never exposed.",
)
class User(Node):
    username: str
    display_name: str
    role: str
    region_code: str
    sector: str | None
    can_unmask: bool
    disabled: bool
    locked_until: dt.datetime | None = strawberry.field(
        description="Until when sign-in is refused after too many wrong passwords (null: not locked, or the lock is over)."
    )
    last_sign_in_at: dt.datetime | None
    password_changed_at: dt.datetime | None
    created_at: dt.datetime


@node_type(m.AuditLog, name="AuditEntry", description="Who did or saw what.")
class AuditEntry(Node):
    at: dt.datetime
    principal: str
    action: str
    entity_type: str
    entity_id: int | None
    region_code: str | None
    detail: JSON
