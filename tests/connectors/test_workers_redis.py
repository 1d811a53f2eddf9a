"""The production shape: the Redis broker, two `hub worker` processes, PostgreSQL.

Syncs of two connector instances are enqueued several times each; the database lease lets one run
per instance at a time, duplicate messages are harmless, and the rows equal an undisturbed run's.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from connectors.sandbox.faults import Faults
from hub.db import make_engine
from hub.models import ConnectorInstance, SyncRun
from tests.conftest import POSTGRES_URL, SECRET, create_pg_database, drop_pg_database, unavailable
from tests.connectors.conftest import create_instance, serve_asgi
from tests.connectors.test_sync_crash import snapshot

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/14"


@pytest.fixture
def redis_broker_url() -> str:
    from hub.broker import check_broker

    try:
        check_broker(REDIS_URL)
    except Exception as exc:
        unavailable(f"Redis at {REDIS_URL} is unreachable: {exc.__class__.__name__}")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


@pytest.fixture
def pg_url(postgres_server, request) -> str:  # type: ignore[no-untyped-def]
    from hub.migrate import upgrade

    url = create_pg_database(POSTGRES_URL)
    request.addfinalizer(lambda: drop_pg_database(url))
    upgrade(url)
    return url


@pytest.mark.slow
def test_two_workers_on_redis_sync_without_overlap_or_duplicates(
    world, pg_url, redis_broker_url, tmp_path, sync_engine, request
) -> None:
    from connectors.permits.sandbox import DEMO_CREDENTIALS, create_app
    from hub.actors import sync_connector
    from hub.broker import setup_broker

    frozen = dt.datetime.combine(world.today, dt.time(), dt.timezone(dt.timedelta(hours=8)))
    faults = Faults()
    faults.set(latency_ms=40)
    with serve_asgi(create_app(world=world, faults=faults, clock=lambda: frozen)) as base:
        config = {"base_url": base + "/", "app_id": DEMO_CREDENTIALS["app_id"], "page_size": 5}
        secrets = {"api_key": DEMO_CREDENTIALS["api_key"]}
        # Two instances reading the same upstream: they write the same entities concurrently
        instances = [
            create_instance(pg_url, kind="permits", name=f"permits-{n}", config=config, secrets=secrets) for n in "ab"
        ]
        env = {
            **os.environ,
            "HUB_DATABASE_URL": pg_url,
            "HUB_BROKER_URL": redis_broker_url,
            "HUB_SECRET_KEY": SECRET,
            "HUB_DATA_DIR": str(tmp_path),
            "HUB_LOG_LEVEL": "WARNING",
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "worker", "--processes", "1", "--threads", "2"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        try:
            broker = setup_broker(redis_broker_url)
            for _ in range(3):
                for instance in instances:
                    sync_connector.send(instance)
            deadline = time.monotonic() + 120
            engine = make_engine(pg_url)
            while True:
                with engine.connect() as conn:
                    runs = conn.execute(
                        select(SyncRun.connector_instance_id, SyncRun.status, SyncRun.started_at, SyncRun.finished_at)
                    ).all()
                    leases = conn.execute(select(ConnectorInstance.lease_owner)).scalars().all()
                done = {i for i, status, *_ in runs if status == "succeeded"}
                if (
                    done == set(instances)
                    and not any(s == "running" for _, s, *_ in runs)
                    and not any(leases)
                    and broker.client.llen(f"{broker.namespace}:sync") == 0
                ):
                    break
                for w in workers:
                    assert w.poll() is None, w.stdout.read().decode()
                assert time.monotonic() < deadline, f"syncs did not finish: {runs}"
                time.sleep(0.2)
            engine.dispose()
            broker.close()
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                try:
                    w.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    w.kill()
        # Reference: one undisturbed run into a fresh database
        from hub.migrate import upgrade

        reference = create_pg_database(POSTGRES_URL)
        request.addfinalizer(lambda: drop_pg_database(reference))
        upgrade(reference)
        ref_instance = create_instance(reference, kind="permits", name="permits-a", config=config, secrets=secrets)
        faults.set(latency_ms=0)
        assert sync_engine(reference).run(ref_instance).status == "succeeded"
    assert [s for _, s, *_ in runs if s not in ("succeeded",)] == []
    # No two runs of the same instance overlapped in time
    for instance in instances:
        spans = sorted((start, end) for i, _, start, end in runs if i == instance)
        assert all(prev_end <= start for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False)), spans
    assert snapshot(pg_url)["projects"] == snapshot(reference)["projects"]
    assert snapshot(pg_url)["enterprises"] == snapshot(reference)["enterprises"]
