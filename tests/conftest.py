"""Shared fixtures: a database per backend, a seeded demo database, the app and API keys.

The backend is chosen by ``HUB_TEST_BACKEND`` (``sqlite``, the default, or ``postgres``); the
PostgreSQL server by ``HUB_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1/test``).
A fixture for a real service skips when the service is absent, except under CI (``CI=true``),
where it fails.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.crypto import Cipher

BACKEND = os.environ.get("HUB_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
SECRET = "test-secret-key-not-for-production"
#: The seeded data is relative to this day, so that tests do not drift with the calendar.
TODAY = dt.date(2026, 11, 20)


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI: a missing real service must not pass silently in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: real services are required)")
    pytest.skip(reason)


def _pg_admin_url() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a reachable PostgreSQL server (skips locally / fails in CI when there is none)."""
    try:
        engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc.__class__.__name__}")
    return POSTGRES_URL


def create_pg_database(server_url: str) -> str:
    name = f"hubtest_{uuid.uuid4().hex[:10]}"
    engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


def _fresh_url(tmp: Path, request: pytest.FixtureRequest) -> str:
    if BACKEND == "postgres":
        request.getfixturevalue("postgres_server")
        url = create_pg_database(POSTGRES_URL)
        request.addfinalizer(lambda: drop_pg_database(url))
        return url
    return f"sqlite:///{tmp / 'hub.db'}"


@pytest.fixture
def empty_db_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated, empty database of the selected backend."""
    from hub.migrate import upgrade

    url = _fresh_url(tmp_path, request)
    upgrade(url)
    return url


@dataclass
class Demo:
    url: str
    highlights: dict
    counts: dict
    keys: dict[str, str]


def seed_demo(url: str) -> Demo:
    """Migrate and seed ``url`` at ``tiny`` scale (seed 7, ``TODAY``) and create the test API keys."""
    from hub.access import NATIONAL
    from hub.api_keys import create_api_key
    from hub.db import make_engine, session_scope
    from hub.migrate import upgrade
    from hub.seed import seed_database

    upgrade(url)
    engine = make_engine(url)
    summary = seed_database(engine, scale="tiny", seed=7, today=TODAY, cipher=Cipher(SECRET), region="370800")
    highlights = dict(summary.highlights)
    highlights["two_channel_clue_no"] = highlights["multi_channel_clue"]["clue_no"]
    with engine.connect() as conn:
        # The county of the two-channel complaint's project: a jurisdiction below the city for tests
        highlights["county_code"] = conn.execute(
            text("SELECT region_code FROM projects WHERE id = :id"),
            {"id": highlights["multi_channel_clue"]["project_id"]},
        ).scalar_one()
    keys: dict[str, str] = {}
    with session_scope(engine) as session:
        for name, role, region, unmask, sector in [
            ("admin", "admin", NATIONAL, True, None),
            ("city", "inspector", "370800", False, None),
            ("county", "inspector", highlights["county_code"], False, None),
            ("other-province", "regional", "320000", False, None),
            ("unmasker", "inspector", "370800", True, None),
            ("viewer", "viewer", "370800", False, None),
            ("town-handler", "town", "370811002", False, None),  # 许庄街道 of 任城区
            ("leader", "leader", "370800", False, None),
            ("zhujian", "sector", "370800", False, "住建"),
        ]:
            _, keys[name] = create_api_key(
                session, name=name, role=role, region_code=region, can_unmask=unmask, sector=sector
            )
    engine.dispose()
    return Demo(url=url, highlights=highlights, counts=summary.counts, keys=keys)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Demo]:
    """A migrated database seeded at ``tiny`` scale with API keys (shared, read-only)."""
    yield seed_demo(_fresh_url(tmp_path_factory.mktemp("demo"), request))


@pytest.fixture(scope="module")
def writable_demo(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Demo:
    """Like ``demo``, but one per test module, for tests that change data."""
    return seed_demo(_fresh_url(tmp_path_factory.mktemp("writable"), request))


@pytest.fixture(scope="session")
def settings_for(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from hub.settings import Settings

    def make(url: str, **overrides) -> Settings:  # type: ignore[no-untyped-def]
        return Settings(
            data_dir=tmp_path_factory.mktemp("data"),
            database_url=url,
            secret_key=SECRET,
            broker_url="memory://",
            **overrides,
        )

    return make


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its cheapest (1 pass, 1 MiB) instead of 64 MiB × 3: the same code, in milliseconds."""
    from argon2 import PasswordHasher

    from hub import users

    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def sync_engine():  # type: ignore[no-untyped-def]
    """Factory: a ``hub.sync.SyncEngine`` on a database URL, with fast retries for tests."""
    from typing import Any

    from hub.db import make_engine
    from hub.sync import RetryPolicy, SyncEngine

    engines = []

    def make(url: str, **kwargs: Any) -> SyncEngine:
        engine = make_engine(url)
        engines.append(engine)
        return SyncEngine(engine, cipher=Cipher(SECRET), retry=RetryPolicy(max_attempts=4, base_delay=0.01), **kwargs)

    yield make
    for e in engines:
        e.dispose()
