"""Settings, read from ``HUB_*`` environment variables (pydantic-settings).

Every setting is documented in the README; keep the two in step.
"""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret.key"


class Settings(BaseSettings):
    """The hub's configuration. Defaults give the embedded mode: SQLite, in-process broker."""

    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Directory for the SQLite file and the generated secret key.")
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
        default=120, description="How long a sync holds its connector's lease without progress before another worker may take over."
    )
    match_window_days: int = Field(
        default=30, ge=1, description="Clue matching: how far apart (days) two records of one complaint may be received."
    )
    match_threshold: float = Field(
        default=0.8, ge=0.5, le=1.0, description="Clue matching: the lowest score that joins a record to an existing clue."
    )
    close_within_working_days: int = Field(
        default=15, ge=1, description="A clue's deadline: working days (official holiday calendar) from receipt to closure."
    )
    subscription_poll_seconds: float = Field(
        default=0.5, gt=0, description="Subscriptions on SQLite: seconds between the outbox reader's polls (one query per "
        "hub process, however many subscribe).",
    )
    subscription_notify_fallback_seconds: float = Field(
        default=5.0, gt=0, description="Subscriptions on PostgreSQL: the outbox reader wakes on NOTIFY, and reads at the "
        "latest after this many seconds without one.",
    )
    subscription_queue_size: int = Field(
        default=256, ge=1, description="Messages buffered per subscription; a subscriber that falls further behind is "
        "closed (4008, slow consumer) and resumes from its last cursor.",
    )
    subscription_max_per_key: int = Field(
        default=20, ge=1, description="Concurrent subscriptions one API key may hold on one hub process.",
    )
    subscription_recheck_seconds: float = Field(
        default=5.0, gt=0, description="How often the keys of open subscriptions are re-validated: a revoked or expired "
        "key is disconnected (4403) within this time.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")

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
