"""Settings, read from ``HUB_*`` environment variables (pydantic-settings).

Every setting is documented in the README; keep the two in step.
"""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.vocab import ROLES, Role

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret.key"


class Settings(BaseSettings):
    """The hub's configuration. Defaults give the embedded mode: SQLite, in-process broker."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=None, extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Directory for the SQLite file and the generated secret key."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: sqlite:///<data_dir>/hub.db. Production: postgresql://user@host/db.",
    )
    broker_url: str = Field(
        default="memory://",
        description="dramatiq broker: memory:// (in-process, embedded), redis://host:6379/0 or amqp://user:pass@host:5672/.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key for encrypting personal data and connector secrets. Generated into <data_dir>/secret.key when absent.",
    )
    host: str = Field(default="127.0.0.1", description="Address `hub serve` listens on.")
    port: int = Field(default=8000, description="Port `hub serve` listens on.")
    auto_migrate: bool = Field(default=True, description="Apply migrations when `hub serve` starts.")
    seed_on_start: bool = Field(default=True, description="Seed demo data on first start when the database is empty.")
    seed_scale: Literal["tiny", "city", "province"] = Field(default="city", description="Scale of the demo data.")
    seed: int = Field(default=20261121, description="Random seed of the demo data (same seed, same data).")
    demo_region: str = Field(default="370800", description="Region (GB/T 2260) where the demo city lies (济宁市).")
    sandboxes: bool = Field(
        default=True,
        description="On a demo (a database `hub serve` seeded), mount the simulated upstreams at /sandbox/<kind> and "
        "configure a demo connector for each. Set false in production.",
    )
    max_page_size: int = Field(default=500, description="Largest `first` a connection accepts.")
    max_query_depth: int = Field(default=12, description="Deepest GraphQL selection accepted.")
    sync_lease_seconds: int = Field(
        default=120,
        description="How long a sync holds its connector's lease without progress before another worker may take over.",
    )
    match_window_days: int = Field(
        default=30,
        ge=1,
        description="Clue matching: how far apart (days) two records of one complaint may be received.",
    )
    match_threshold: float = Field(
        default=0.8,
        ge=0.5,
        le=1.0,
        description="Clue matching: the lowest score that joins a record to an existing clue.",
    )
    close_within_working_days: int = Field(
        default=13,
        ge=1,
        description="12345 complaints: working days (official holiday calendar) from receipt to 办结 when the "
        "work order carries no deadlineDate (the hotline's rule, about 13; other deadlines: docs/domain.md).",
    )
    webhook_allow_local_http: bool = Field(
        default=False,
        description="Accept plain-http webhook endpoints on 127.0.0.1 / localhost (tests, the demo); "
        "every other endpoint must be https://.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long a webhook POST waits for the receiver's answer."
    )
    webhook_batch_size: int = Field(default=100, ge=1, le=1000, description="Most events in one webhook POST.")
    webhook_interval_seconds: float = Field(
        default=10.0, gt=0, description="How often the scheduler sends the deliver_webhooks actor."
    )
    credit_refresh_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the scheduler sends the refresh_credit_levels actor."
    )
    warning_thresholds: dict[str, dict[str, float]] = Field(
        default={},
        description="Warning rules: thresholds overriding a rule's defaults, as JSON by rule code, e.g. "
        '`{"W07": {"minimum_wage": 2100}, "W01": {"yellow_from_days": 15}}` (docs/domain.md lists each rule\'s).',
    )
    warning_rules_disabled: str = Field(
        default="", description="Warning rules: comma-separated codes (e.g. `W04,W10`) the engine does not evaluate."
    )
    warning_escalate_after_working_days: int = Field(
        default=5,
        ge=1,
        description="A red warning nobody has acknowledged within this many working days escalates into the clue "
        "pool (预警转线索).",
    )
    warning_sweep_interval_seconds: float = Field(
        default=86400.0, gt=0, description="How often the scheduler sends the full sweep of every warning rule."
    )
    warnings_incremental: bool = Field(
        default=True,
        description="Evaluate the warning rules for the projects a sync page touched, after the page commits "
        "(false: only the scheduled sweep).",
    )
    warnings_pages_per_evaluation: int = Field(
        default=10,
        ge=1,
        description="The incremental path evaluates once per this many sync pages (and at the end of each run), "
        "over what they touched together; a crash in between leaves at most this many pages to the daily sweep.",
    )
    ingest_copy_min_rows: int = Field(
        default=200,
        ge=1,
        description="On PostgreSQL, a sync page's batch of at least this many rows (of one kind, or raw records) is "
        "written through COPY into a staging table and one INSERT … SELECT … ON CONFLICT; smaller ones row by row.",
    )
    subscription_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Subscriptions on SQLite: seconds between the outbox reader's polls (one query per "
        "hub process, however many subscribe).",
    )
    subscription_notify_fallback_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Subscriptions on PostgreSQL: the outbox reader wakes on NOTIFY, and reads at the "
        "latest after this many seconds without one.",
    )
    subscription_queue_size: int = Field(
        default=256,
        ge=1,
        description="Messages buffered per subscription; a subscriber that falls further behind is "
        "closed (4008, slow consumer) and resumes from its last cursor.",
    )
    subscription_max_per_key: int = Field(
        default=20,
        ge=1,
        description="Concurrent subscriptions one API key may hold on one hub process.",
    )
    subscription_recheck_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the keys of open subscriptions are re-validated: a revoked or expired "
        "key is disconnected (4403) within this time.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    introspection_roles: str = Field(
        default=",".join(ROLES),
        description="Comma-separated roles whose keys may introspect the GraphQL schema (`__schema`, `__type`). "
        "Production: leave out `regional`, whose keys belong to other systems.",
    )
    operations_allowlist_roles: str = Field(
        default="",
        description="Comma-separated roles that may run only registered operations (`hub operations register`), "
        "by hash or by a text whose hash is registered; anything else is refused with OPERATION_NOT_REGISTERED.",
    )
    apq_cache_size: int = Field(
        default=1000,
        ge=1,
        description="Automatic persisted queries one hub process remembers by hash (least recently used "
        "forgotten first); registered operations are always found.",
    )
    operations_refresh_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How often a hub process re-reads the registry of named operations: a registration or "
        "retirement made elsewhere (the CLI, another process) counts within this time.",
    )
    compiled_operations: bool = Field(
        default=True,
        description="Run registered queries from their compiled plans (schema/compiled: no resolver per field, "
        "the same answers); false interprets every operation.",
    )
    api_key_touch_seconds: int = Field(
        default=300, ge=1, description="An API key's lastUsedAt is written at most once per this many seconds."
    )

    @field_validator("introspection_roles", "operations_allowlist_roles")
    @classmethod
    def _known_roles(cls, value: str, info: ValidationInfo) -> str:
        roles = [r.strip() for r in value.split(",") if r.strip()]
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            variable = f"HUB_{(info.field_name or '').upper()}"
            raise ValueError(f"unknown role {unknown[0]!r} in {variable}: use some of {', '.join(ROLES)}")
        return ",".join(roles)

    def introspection_role_set(self) -> frozenset[str]:
        """The roles that may introspect the schema."""
        return frozenset(r for r in self.introspection_roles.split(",") if r)

    def allowlist_role_set(self) -> frozenset[str]:
        """The roles that may run registered operations only."""
        return frozenset(r for r in self.operations_allowlist_roles.split(",") if r)

    query_cost_limits: dict[str, int] = Field(
        # Every role named: readers of a region or a town (viewer, leader, town) the least; systems and
        # people who pull or work a whole region, a sector's department among them, twice that.
        default={
            Role.VIEWER.value: 50_000,
            Role.LEADER.value: 50_000,
            Role.TOWN.value: 50_000,
            Role.REGIONAL.value: 100_000,
            Role.INSPECTOR.value: 100_000,
            Role.SECTOR.value: 100_000,
            Role.ADMIN.value: 250_000,
        },
        min_length=1,
        description="Largest cost (rows a GraphQL operation may return, nested connections multiplied) per role, as JSON; "
        "a role not named gets the smallest.",
    )
    max_root_fields: int = Field(
        default=10, ge=1, description="Most root fields (aliases included) one GraphQL operation may select."
    )
    max_request_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="Largest GraphQL request body; a larger one is refused (413, REQUEST_TOO_LARGE) "
        "before it is read whole.",
    )
    max_response_bytes: int = Field(
        default=10_000_000,
        ge=1024,
        description="Largest serialised GraphQL response; a larger one is replaced by RESPONSE_TOO_LARGE.",
    )
    request_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Longest a GraphQL request may spend in the database (SQLite: from its first statement; "
        "PostgreSQL: per statement) before it answers QUERY_TIMEOUT.",
    )
    rate_limit: str = Field(
        default="600/minute", description="Requests to /graphql allowed per API key (or client address without one)."
    )
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// (one process) or redis://host:6379/1 (shared).",
    )

    public_url: str | None = Field(
        default=None,
        description="The hub's address as browsers reach it (e.g. https://hub.example.gov.cn behind a proxy): "
        "session cookies are Secure when it is https, and a signed-in browser's Origin must match it.",
    )
    password_min_length: int = Field(
        default=10, ge=8, description="Users' passwords: the fewest characters (and 3 of 4 kinds of character)."
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, description="A signed-in session ends after this many minutes without a request."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, description="A signed-in session ends this many hours after sign-in, however busy."
    )
    sign_in_max_failures: int = Field(
        default=5, ge=1, description="Wrong passwords in a row after which an account is locked."
    )
    sign_in_lockout_minutes: int = Field(
        default=15, ge=1, description="How long an account stays locked after too many wrong passwords."
    )
    sign_in_rate_limit: str = Field(
        default="20/minute", description="Sign-in attempts allowed per client address (POST /admin/api/sign-in)."
    )

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hub.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The secret key; generated and persisted in the data directory when not configured."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / SECRET_KEY_FILE
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key)
        path.chmod(0o600)
        log.warning(
            "HUB_SECRET_KEY is not set: generated one in %s. Keep this file: personal data is encrypted with it.",
            path,
        )
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache with ``get_settings.cache_clear()``)."""
    return Settings()
