"""A worker killed with SIGKILL in the middle of a sync, then restarted, ends with exactly the rows
an undisturbed run gives (docs/architecture.md: a page is one transaction; a crash repeats at most one page)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, update

from connectors.sandbox.faults import Faults
from hub.db import make_engine
from hub.models import ConnectorInstance, Enterprise, Project, RawRecord, SyncRun
from tests.conftest import SECRET
from tests.connectors.conftest import create_instance, serve_asgi


def snapshot(url: str) -> dict[str, object]:
    """What a sync leaves behind, independent of row ids and timestamps."""
    engine = make_engine(url)
    with engine.connect() as conn:
        projects = conn.execute(
            select(
                Project.project_code,
                Project.name,
                Project.status,
                Project.permit_no,
                Project.region_code,
                Enterprise.uscc,
            )
            .join(Enterprise, Enterprise.id == Project.contractor_id)
            .order_by(Project.project_code)
        ).all()
        enterprises = conn.execute(
            select(Enterprise.uscc, Enterprise.name, Enterprise.kind).order_by(Enterprise.uscc)
        ).all()
        raw = conn.execute(
            select(RawRecord.stream, RawRecord.source_key, RawRecord.payload_hash).order_by(
                RawRecord.stream, RawRecord.source_key
            )
        ).all()
    engine.dispose()
    return {
        "projects": [tuple(r) for r in projects],
        "enterprises": [tuple(r) for r in enterprises],
        "raw": [tuple(r) for r in raw],
    }


def hub(args: list[str], url: str, tmp: Path, **settings: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_SECRET_KEY": SECRET,
        "HUB_DATA_DIR": str(tmp),
        "HUB_SYNC_LEASE_SECONDS": "2",
        "HUB_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
        **settings,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def committed_pages(url: str, instance: int) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        state = conn.execute(select(ConnectorInstance.state).where(ConnectorInstance.id == instance)).scalar_one()
        n = conn.execute(select(func.count()).select_from(Project)).scalar_one()
    engine.dispose()
    return n if state else 0


@pytest.mark.slow
# On PostgreSQL the killed worker writes its pages through COPY (hub.bulk) too, when every batch is "large"
@pytest.mark.parametrize("copy_min_rows", ["200", "1"], ids=["row-by-row", "copy"])
def test_sigkill_mid_sync_then_restart_gives_the_undisturbed_rows(
    world, empty_db_url, tmp_path, sync_engine, request, copy_min_rows
) -> None:
    from connectors.permits.sandbox import DEMO_CREDENTIALS, create_app

    frozen = dt.datetime.combine(world.today, dt.time(), dt.timezone(dt.timedelta(hours=8)))
    faults = Faults()
    app = create_app(world=world, faults=faults, clock=lambda: frozen)

    with serve_asgi(app) as base:
        config = {"base_url": base + "/", "app_id": DEMO_CREDENTIALS["app_id"], "page_size": 2}
        secrets = {"api_key": DEMO_CREDENTIALS["api_key"]}
        # Given a sync slowed down so that it is certainly mid-way when killed
        instance = create_instance(empty_db_url, kind="permits", name="permits", config=config, secrets=secrets)
        faults.set(latency_ms=150)
        proc = hub(["connectors", "sync", "permits"], empty_db_url, tmp_path, HUB_INGEST_COPY_MIN_ROWS=copy_min_rows)
        deadline = time.monotonic() + 60
        while committed_pages(empty_db_url, instance) < 4:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the sync never got going"
            time.sleep(0.05)
        # When the worker is killed without warning
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        partial = snapshot(empty_db_url)
        assert 0 < len(partial["projects"]) < len(world.projects)
        # And restarted once its lease has expired
        time.sleep(2.5)
        faults.set(latency_ms=0)
        rerun = hub(["connectors", "sync", "permits"], empty_db_url, tmp_path, HUB_INGEST_COPY_MIN_ROWS=copy_min_rows)
        out = rerun.communicate(timeout=120)[0].decode()
        assert rerun.returncode == 0, out
        # The undisturbed reference run, into a fresh database, from the same sandbox
        from hub.migrate import upgrade
        from tests.conftest import BACKEND, POSTGRES_URL, create_pg_database, drop_pg_database

        if BACKEND == "postgres":
            reference_url = create_pg_database(POSTGRES_URL)
            request.addfinalizer(lambda: drop_pg_database(reference_url))
        else:
            reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
        upgrade(reference_url)
        ref_instance = create_instance(reference_url, kind="permits", name="permits", config=config, secrets=secrets)
        assert sync_engine(reference_url).run(ref_instance).status == "succeeded"
    # Then the crashed-and-restarted database holds exactly the reference rows, nothing twice
    assert snapshot(empty_db_url) == snapshot(reference_url)
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        runs = conn.execute(select(SyncRun.status).order_by(SyncRun.id)).scalars().all()
    engine.dispose()
    assert runs == ["abandoned", "succeeded"]


class ServedKeys:
    """ASGI wrapper around the permit sandbox: the keys of the records its listings served, per stream."""

    KEYS = {"enterprises": "corpCode", "projects": "projectCode"}

    def __init__(self, app: Any) -> None:
        self.app = app
        self.served: dict[str, set[str]] = {s: set() for s in self.KEYS}

    def clear(self) -> None:
        for keys in self.served.values():
            keys.clear()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        stream = scope["path"].rstrip("/").rsplit("/", 1)[-1] if scope["type"] == "http" else ""
        if stream not in self.KEYS:
            await self.app(scope, receive, send)
            return
        body: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.body":
                body.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        data = orjson.loads(b"".join(body)).get("data") or {}
        self.served[stream].update(r[self.KEYS[stream]] for r in data.get("records") or [])


@pytest.mark.slow
def test_sigkill_mid_full_refresh_then_the_next_sync_finishes_the_full_refresh(
    world, empty_db_url, tmp_path, sync_engine, request
) -> None:
    from connectors.permits.sandbox import DEMO_CREDENTIALS, create_app

    frozen = dt.datetime.combine(world.today, dt.time(), dt.timezone(dt.timedelta(hours=8)))
    faults = Faults()
    sandbox = ServedKeys(create_app(world=world, faults=faults, clock=lambda: frozen))

    with serve_asgi(sandbox) as base:
        config = {"base_url": base + "/", "app_id": DEMO_CREDENTIALS["app_id"], "page_size": 2}
        secrets = {"api_key": DEMO_CREDENTIALS["api_key"]}
        # Given an instance synced to the end (both streams' bookmarks at the last record)
        instance = create_instance(empty_db_url, kind="permits", name="permits", config=config, secrets=secrets)
        assert sync_engine(empty_db_url).run(instance).status == "succeeded"
        # And a full refresh, slowed down, killed while it is still in its first stream (enterprises)
        sandbox.clear()
        faults.set(latency_ms=150)
        proc = hub(["connectors", "sync", "permits", "--full"], empty_db_url, tmp_path)
        deadline = time.monotonic() + 60
        while len(sandbox.served["enterprises"]) < 6:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the full refresh never got going"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert sandbox.served["projects"] == set()
        # When the next (ordinary, incremental) sync takes the lease over once it has expired
        engine = make_engine(empty_db_url)
        with engine.begin() as conn:
            conn.execute(update(ConnectorInstance).values(lease_until=dt.datetime(2000, 1, 1)))
        engine.dispose()
        faults.set(latency_ms=0)
        rerun = hub(["connectors", "sync", "permits"], empty_db_url, tmp_path)
        out = rerun.communicate(timeout=120)[0].decode()
        assert rerun.returncode == 0, out
        refreshed = {s: set(keys) for s, keys in sandbox.served.items()}
        # The reference: every record a full read serves
        from hub.migrate import upgrade
        from tests.conftest import BACKEND, POSTGRES_URL, create_pg_database, drop_pg_database

        if BACKEND == "postgres":
            reference_url = create_pg_database(POSTGRES_URL)
            request.addfinalizer(lambda: drop_pg_database(reference_url))
        else:
            reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
        upgrade(reference_url)
        ref_instance = create_instance(reference_url, kind="permits", name="permits", config=config, secrets=secrets)
        sandbox.clear()
        assert sync_engine(reference_url).run(ref_instance).status == "succeeded"
    # Then every record of both streams was read again by the full refresh and its taker
    assert refreshed == sandbox.served and len(refreshed["projects"]) == 48  # 30 planned + 18 warning situations
    assert snapshot(empty_db_url) == snapshot(reference_url)
    # And the run that took over is recorded as a full refresh that completed
    engine = make_engine(empty_db_url)
    with engine.connect() as conn:
        runs = conn.execute(select(SyncRun.status, SyncRun.full_refresh).order_by(SyncRun.id)).all()
    engine.dispose()
    assert [tuple(r) for r in runs] == [("succeeded", False), ("abandoned", True), ("succeeded", True)]
