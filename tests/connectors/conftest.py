"""Fixtures for connector tests: the sandboxes' world, seeded databases, and the ``hub`` the
conformance suite (``connectors.testing``) syncs into."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox.world import World, build_world
from connectors.testing import Hub, free_port, serve_asgi
from hub.crypto import Cipher
from tests.conftest import TODAY

# free_port and serve_asgi live in connectors.testing (the conformance suite serves sandboxes); other
# test packages import them from here.
__all__ = ["SECRET", "WORLD", "clone_database", "create_instance", "free_port", "serve_asgi"]

#: Same seed / scale / region / day as the ``demo`` fixture, so sandboxes and seeded databases agree.
WORLD: dict[str, Any] = {"seed": 7, "scale": "tiny", "region": "370800"}
SECRET = "test-secret-key-not-for-production"


@pytest.fixture(scope="session")
def world() -> World:
    """The sandboxes' world, matching the demo database of tests/conftest.py (seed 7, tiny, TODAY)."""
    return build_world(today=TODAY, seed=WORLD["seed"], scale=WORLD["scale"], region=WORLD["region"])


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """One database seeded like the demo per session; tests get copies (seeding once is the cost)."""
    from hub.db import make_engine
    from hub.migrate import upgrade
    from hub.seed import seed_database
    from tests.conftest import TODAY, _fresh_url

    url = _fresh_url(tmp_path_factory.mktemp("template"), request)
    upgrade(url)
    engine = make_engine(url)
    seed_database(
        engine, scale=WORLD["scale"], seed=WORLD["seed"], today=TODAY, cipher=Cipher(SECRET), region=WORLD["region"]
    )
    engine.dispose()
    return url


def clone_database(template_url: str, directory: Path, request: pytest.FixtureRequest) -> str:
    """A writable copy of ``template_url``: a SQLite backup, or ``CREATE DATABASE … TEMPLATE`` (dropped after)."""
    import sqlite3
    import uuid
    from contextlib import closing

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.conftest import _pg_admin_url, drop_pg_database

    source = make_url(template_url)
    if source.get_backend_name() == "sqlite":
        target = directory / "hub.db"
        with closing(sqlite3.connect(source.database)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)  # a consistent copy, WAL included
        return f"sqlite:///{target}"
    name = f"hubtest_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    admin.dispose()
    url = source.set(database=name).render_as_string(hide_password=False)
    request.addfinalizer(lambda: drop_pg_database(url))
    return url


@pytest.fixture
def hub(seeded_template: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Hub]:
    """Fresh databases seeded like the sandboxes' world, for the conformance suite."""
    n = itertools.count(1)

    def new_database() -> str:
        directory = tmp_path / f"hub-{next(n)}"
        directory.mkdir()
        return clone_database(seeded_template, directory, request)

    harness = Hub(new_database=new_database, cipher=Cipher(SECRET))
    yield harness
    harness.close()


@pytest.fixture
def seeded_db_url(seeded_template: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh database seeded like the demo (writable: each test gets its own copy of the template)."""
    return clone_database(seeded_template, tmp_path, request)


def create_instance(
    url: str,
    *,
    kind: str,
    name: str | None = None,
    config: dict[str, Any],
    secrets: dict[str, str] | None = None,
    state: dict[str, Any] | None = None,
) -> int:
    """A connector instance row (config public part + encrypted secrets), as the admin API creates it."""
    import orjson

    from hub.db import make_engine, session_scope
    from hub.models import ConnectorInstance

    engine = make_engine(url)
    with session_scope(engine) as session:
        row = ConnectorInstance(
            name=name or kind,
            kind=kind,
            config=config,
            secrets_enc=Cipher(SECRET).encrypt(orjson.dumps(secrets).decode()) if secrets else None,
            state=state or {},
            schedule_seconds=60,
            enabled=True,
        )
        session.add(row)
        session.flush()
        instance_id = row.id
    engine.dispose()
    return instance_id
