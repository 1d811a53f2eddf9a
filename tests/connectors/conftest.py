"""Fixtures for connector tests: sandboxes served over real HTTP on loopback, and seeded databases."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from hub.crypto import Cipher

#: Same seed / scale / region / day as the ``demo`` fixture, so sandboxes and seeded databases agree.
WORLD = {"seed": 7, "scale": "tiny", "region": "370800"}
SECRET = "test-secret-key-not-for-production"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"sandbox did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def world():  # type: ignore[no-untyped-def]
    """The sandboxes' world, matching the demo database of tests/conftest.py (seed 7, tiny, TODAY)."""
    from connectors.sandbox.world import build_world
    from tests.conftest import TODAY

    return build_world(today=TODAY, **WORLD)


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """One database seeded like the demo per session; each test gets a copy (seeding once is the cost)."""
    from hub.db import make_engine
    from hub.migrate import upgrade
    from hub.seed import seed_database
    from tests.conftest import BACKEND, POSTGRES_URL, TODAY, create_pg_database, drop_pg_database

    if BACKEND == "postgres":
        request.getfixturevalue("postgres_server")
        url = create_pg_database(POSTGRES_URL)
        request.addfinalizer(lambda: drop_pg_database(url))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'hub.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed_database(engine, scale=WORLD["scale"], seed=WORLD["seed"], today=TODAY, cipher=Cipher(SECRET), region=WORLD["region"])
    if BACKEND != "postgres":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return url


@pytest.fixture
def seeded_db_url(_seeded_template: str, tmp_path, request: pytest.FixtureRequest) -> str:  # type: ignore[no-untyped-def]
    """A fresh database seeded like the demo (writable: each test gets its own copy of the template)."""
    import shutil

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.conftest import BACKEND, _pg_admin_url, drop_pg_database

    if BACKEND == "postgres":
        import uuid

        name = f"hubtest_{uuid.uuid4().hex[:10]}"
        engine = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(_seeded_template).database}"'))
        engine.dispose()
        url = make_url(_seeded_template).set(database=name).render_as_string(hide_password=False)
        request.addfinalizer(lambda: drop_pg_database(url))
        return url
    target = tmp_path / "seeded.db"
    shutil.copyfile(make_url(_seeded_template).database, target)
    return f"sqlite:///{target}"


def create_instance(url: str, *, kind: str, name: str | None = None, config: dict[str, Any], secrets: dict[str, str] | None = None,
                    state: dict[str, Any] | None = None) -> int:
    """A connector instance row (config public part + encrypted secrets), as the admin API creates it."""
    import orjson

    from hub.db import make_engine, session_scope
    from hub.models import ConnectorInstance

    engine = make_engine(url)
    with session_scope(engine) as session:
        row = ConnectorInstance(
            name=name or kind, kind=kind, config=config,
            secrets_enc=Cipher(SECRET).encrypt(orjson.dumps(secrets).decode()) if secrets else None,
            state=state or {}, schedule_seconds=60, enabled=True,
        )
        session.add(row)
        session.flush()
        instance_id = row.id
    engine.dispose()
    return instance_id
