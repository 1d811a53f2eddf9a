"""R2: Redis restarted while dramatiq retries are pending — every message still runs, none is lost.

dramatiq's Redis broker keeps queued, delayed (retrying) and in-flight messages in Redis, so what
survives a Redis restart is what Redis persists. The test runs a real ``redis-server`` (on a free
loopback port, in a temporary directory) with the persistence that docker-compose.yml gives the
production Redis, and restarts it the way ``docker compose restart`` does (SIGTERM, then start):
with the workers stopped around the restart, and with a worker that stays up through it (dramatiq
alone would leave that worker's pending retries in Redis unrun: ``hub.broker`` gives them back).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import unavailable
from tests.connectors.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
N = 20
#: Long enough that every retry is still pending when Redis goes down (dramatiq halves it at random).
BACKOFF_MS = 6000


def compose_redis_args() -> list[str]:
    """The production Redis's server arguments, as docker-compose.yml gives them."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    command = compose["services"]["redis"]["command"]
    assert command[0] == "redis-server", command
    return list(command[1:])


class RedisServer:
    """A redis-server process that can be restarted on the same port and data directory."""

    def __init__(self, directory: Path, args: list[str]) -> None:
        self.port = free_port()
        self.directory = directory
        self.args = args
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *self.args,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, f"redis-server exited with {self.proc.returncode}"
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, "redis-server did not answer within 20 s"
            time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        """SIGTERM, as ``docker stop`` sends: Redis shuts down cleanly (the AOF is flushed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Any]:
    """``start(args)``: a redis-server of our own; skipped locally (failed in CI) without the binary."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    servers: list[RedisServer] = []

    def start(args: list[str]) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", args)
        server.directory.mkdir()
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Ledger:
    """What the actor did, by message number: attempts, and completions (idempotent by number)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: Counter[int] = Counter()
        self.done: set[int] = set()

    def wait(self, what: str, ready: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert time.monotonic() < deadline, f"{what}: attempts {dict(self.attempts)}, done {sorted(self.done)}"
            time.sleep(0.05)


def flaky_actor(broker: Any, ledger: Ledger) -> Any:
    """An actor that fails its first attempt at every message (the retry is then pending in Redis)."""
    import dramatiq

    def flaky(n: int) -> None:
        with ledger.lock:
            ledger.attempts[n] += 1
            first = ledger.attempts[n] == 1
        if first:
            raise RuntimeError(f"message {n}: first attempt fails")
        with ledger.lock:
            ledger.done.add(n)

    return dramatiq.actor(
        flaky,
        broker=broker,
        actor_name="flaky",
        queue_name="r2",
        max_retries=5,
        min_backoff=BACKOFF_MS,
        max_backoff=BACKOFF_MS,
    )


def worker_for(broker: Any) -> Any:
    from dramatiq import Worker

    worker = Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    return worker


@pytest.mark.slow
def test_retries_pending_in_redis_all_run_after_a_redis_restart(redis_server) -> None:
    from hub.broker import make_broker

    args = compose_redis_args()
    assert "--appendonly" in args and args[args.index("--appendonly") + 1] == "yes"
    redis = redis_server(args)
    ledger = Ledger()
    broker = make_broker(redis.url)
    flaky = flaky_actor(broker, ledger)
    # Given N messages whose first attempt failed: their retries wait in the delay queue
    worker = worker_for(broker)
    for n in range(N):
        flaky.send(n)
    ledger.wait("first attempts", lambda: len(ledger.attempts) == N, timeout=30)
    # When the worker is stopped (its delayed retries go back to Redis) and Redis is restarted
    worker.stop(timeout=20_000)
    assert ledger.done == set(), "a retry ran before the restart: the test would not test the restart"
    redis.stop()
    redis.start()
    # Then a new worker runs every message: all of them completed, none lost
    broker = make_broker(redis.url)
    flaky_actor(broker, ledger)
    worker = worker_for(broker)
    try:
        ledger.wait("retries after the restart", lambda: ledger.done == set(range(N)), timeout=60)
    finally:
        worker.stop(timeout=20_000)
        broker.close()
    assert all(ledger.attempts[n] >= 2 for n in range(N)), ledger.attempts


@pytest.mark.slow
def test_without_persistence_the_same_restart_loses_them(redis_server) -> None:
    """Why docker-compose.yml gives Redis ``--appendonly yes``: the same steps, no persistence, nothing runs."""
    from hub.broker import make_broker

    redis = redis_server(["--appendonly", "no", "--save", ""])
    ledger = Ledger()
    broker = make_broker(redis.url)
    flaky = flaky_actor(broker, ledger)
    worker = worker_for(broker)
    for n in range(N):
        flaky.send(n)
    ledger.wait("first attempts", lambda: len(ledger.attempts) == N, timeout=30)
    worker.stop(timeout=20_000)
    redis.stop()
    redis.start()
    import redis as redis_client

    client = redis_client.Redis.from_url(redis.url)
    assert client.dbsize() == 0  # the queues, the delay queue and the acks are gone
    client.close()
    assert ledger.done == set()


@pytest.mark.slow
def test_a_worker_that_stays_up_through_a_redis_restart_runs_every_pending_retry(redis_server) -> None:
    from hub.broker import make_broker

    redis = redis_server(compose_redis_args())
    ledger = Ledger()
    broker = make_broker(redis.url)
    flaky = flaky_actor(broker, ledger)
    worker = worker_for(broker)
    try:
        for n in range(N):
            flaky.send(n)
        ledger.wait("first attempts", lambda: len(ledger.attempts) == N, timeout=30)
        assert ledger.done == set()
        # When Redis restarts under the running worker
        redis.stop()
        redis.start()
        # Then the worker reconnects and every retry still runs
        ledger.wait("retries after the restart", lambda: ledger.done == set(range(N)), timeout=90)
    finally:
        worker.stop(timeout=20_000)
        broker.close()
