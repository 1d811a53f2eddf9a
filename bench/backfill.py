"""``python -m bench.backfill [--backend postgres|sqlite|all] [--scale city|tiny] [--warnings off|on|both] [--out FILE]``

A first sync (backfill) into an empty hub through the whole connector path, against PostgreSQL COPY
of the same rows. The permits and bank_rest sandboxes serve one world (history only: live records
off, clock frozen at the world's today) from a separate process; the hub side runs in a fresh
subprocess per measurement (so that its peak RSS is its own): a permits sync (enterprises,
projects) then a bank_rest sync (accounts, bills, pay details, guarantees) through
``hub.sync.SyncEngine`` — HTTP → connector → raw archive → normalise → validate/resolve → upsert →
events — into a fresh, migrated database holding only the regions.

On PostgreSQL the rows the pipeline left (canonical tables, and separately the raw archive) are read
back and COPYed into another fresh database in one transaction; only the COPY is timed. The
pipeline archives every raw record too, so "canonical + raw" is the like-for-like baseline.

Each measurement is verified before it is reported: both syncs succeeded, nothing was quarantined,
and every table holds exactly what the sandboxes served.

``--warnings on`` runs the warnings engine's incremental path with the syncs: ``hub.rules.evaluate`` over
what the committed pages touched — every N pages, and a backfill once at its run's end
(``hub.actors.evaluate_warnings``'s work),
**in the measuring process, inline** — what a dramatiq worker does on the same two CPUs, charged to
the pipeline's wall time; ``both`` measures off and on and reports on ÷ off throughput.

Internal modes (run by the harness itself): ``--serve-sandboxes`` and ``--pipeline-child``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import pstats
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

#: Same world as the other benchmarks and the demo (bench/datasets.py): seed, day, region.
SEED = 20261121
TODAY = dt.date(2026, 11, 20)
REGION = "370800"
#: Encrypts the personal data the hub receives (generated data only).
SECRET = "bench-backfill-secret-generated-data-only"
#: Page sizes: the bank's maximum (``limit`` ≤ 1000) and the permit system's (``pageSize`` ≤ 100).
BANK_PAGE_SIZE = 1000
PERMITS_PAGE_SIZE = 100
#: RSS sampling period of the measuring process.
RSS_INTERVAL = 0.05
#: Canonical tables the two syncs write, in foreign-key order (the COPY order).
CANONICAL = ("enterprises", "projects", "wage_accounts", "labor_cost_allocations", "workers", "payroll_records",
             "guarantee_deposits")
RAW = "raw_records"
#: Rows the raw archive points at (copied before the timed COPY, not counted).
PRELUDE = ("connector_instances",)
STREAMS = {
    "permits": ("enterprises", "projects", "contracts", "progress_payments", "output_values"),
    "bank_rest": ("accounts", "bills", "pay_details", "guarantees"),
}
#: The cProfile slice: records per bank stream (None: all of it); permits is synced whole (~1.3k).
PROFILE_BUDGETS: dict[str, int | None] = {"accounts": None, "bills": 3000, "pay_details": 15000, "guarantees": None}
SANDBOX_READY = "BACKFILL-SANDBOXES "
CHILD_TIMEOUT = 3600

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ==================================================================================================
# The sandboxes, in their own process
# ==================================================================================================


def _frozen_clock(today: dt.date) -> Callable[[], dt.datetime]:
    """The world's today at 00:00 China Standard Time: both sandboxes' live records start after it."""
    moment = dt.datetime.combine(today, dt.time(0), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return lambda: moment


def _served_and_expected(permits_app: Any, bank_app: Any) -> tuple[dict[str, int], dict[str, int]]:
    """Records each stream serves, and the rows a first sync of them must leave in each table."""
    records = permits_app.state.system.records
    listings = {name: bank_app.state.listings[path].rows for name, path in
                (("accounts", "accounts"), ("bills", "bills"), ("pay_details", "pay-details"), ("guarantees", "guarantees"))}
    permit_streams = ("enterprises", "projects", "contracts", "progress_payments", "output_values")
    served = {**{name: len(records[name]) for name in permit_streams if name in records},
              **{name: len(rows) for name, rows in listings.items()}}
    uscc = set(records["enterprises"])
    for p in records["projects"].values():  # a project carries its parties' registry details (connectors/permits)
        for prefix in ("builder", "contractor"):
            if p.get(f"{prefix}CorpCode") and f"{prefix}LegalMan" in p:
                uscc.add(p[f"{prefix}CorpCode"])
    for c in records.get("contracts", {}).values():  # a 分包 contract carries its holder's registry details
        if "corpLegalMan" in c:
            uscc.add(c["corpCode"])
    pay = listings["pay_details"]
    expected = {
        "enterprises": len(uscc),
        "projects": len(records["projects"]),
        "wage_accounts": len({r["salaryAccount"] for r in listings["accounts"]}),
        "labor_cost_allocations": len({(r["salaryAccount"], r["batchNumber"]) for r in listings["bills"] if r["billType"] == 1}),
        "workers": len({(r["projectCode"], r["idCardNumber"]) for r in pay}),  # made from pay details (hub/ingest.py)
        "payroll_records": len({(r["payRollCode"], r["projectCode"], r["idCardNumber"]) for r in pay}),
        "guarantee_deposits": len({r["guaranteeNo"] for r in listings["guarantees"]}),
        RAW: sum(served.values()),
        "quarantine": 0,
    }
    return served, expected


def serve_sandboxes(scales: Sequence[str], *, seed: int = SEED, region: str = REGION, today: dt.date = TODAY) -> None:
    """Entry of the sandbox process: serve permits + bank_rest per world until stdin closes."""
    import logging

    import uvicorn

    from connectors.bank_rest import sandbox as bank_sandbox
    from connectors.permits import sandbox as permits_sandbox
    from connectors.sandbox.world import build_world

    logging.basicConfig(level=logging.WARNING)
    servers: list[tuple[Any, threading.Thread]] = []
    ready: dict[str, Any] = {}

    def start(app: Any, name: str) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))  # a free port, held from now on: no race with other processes
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                               lifespan="off", timeout_keep_alive=120))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"sandbox {name} did not start on port {port}")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    for scale in scales:
        started = time.perf_counter()
        world = build_world(seed=seed, scale=scale, region=region, today=today)
        clock = _frozen_clock(today)
        permits_app = permits_sandbox.create_app(world=world, clock=clock)
        bank_app = bank_sandbox.create_app(world=world, clock=clock, live=False)
        served, expected = _served_and_expected(permits_app, bank_app)
        ready[scale] = {
            "scale": scale,
            "urls": {"permits": start(permits_app, f"permits-{scale}"), "bank_rest": start(bank_app, f"bank_rest-{scale}")},
            "served": served, "expected": expected, "build_seconds": round(time.perf_counter() - started, 1),
            "credentials": {"permits": dict(permits_sandbox.DEMO_CREDENTIALS), "bank_rest": dict(bank_sandbox.DEMO_CREDENTIALS)},
        }
    print(SANDBOX_READY + json.dumps(ready), flush=True)
    sys.stdin.read()  # until the harness closes our stdin (or dies)
    for server, _ in servers:
        server.should_exit = True
    for _, thread in servers:
        thread.join(timeout=10)


@dataclass
class Served:
    """One world served by the sandbox process: URLs, records per stream, and the rows a sync must leave."""

    scale: str
    urls: dict[str, str]
    served: dict[str, int]
    expected: dict[str, int]
    credentials: dict[str, dict[str, str]]
    build_seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(self.served.values())


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # ``-m bench.backfill`` from the checkout root: ``bench`` is not installed (pyproject packages.find).
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


@contextlib.contextmanager
def sandboxes(scales: Sequence[str], *, timeout: float = 600, say: Say = _quiet) -> Iterator[dict[str, Served]]:
    """Start the sandbox process for ``scales``; yields scale → ``Served``; stops it on exit."""
    cmd = [sys.executable, "-m", "bench.backfill", "--serve-sandboxes", ",".join(scales)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while not line.startswith(SANDBOX_READY):
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise RuntimeError(f"the sandbox process did not come up (exit code {proc.poll()})")
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            if ready:
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    raise RuntimeError(f"the sandbox process exited with code {proc.returncode}")
        info = json.loads(line[len(SANDBOX_READY):])
        served = {scale: Served(**v) for scale, v in info.items()}
        for s in served.values():
            say(f"sandboxes [{s.scale}]: permits {s.urls['permits']}, bank_rest {s.urls['bank_rest']} — "
                f"{s.records:,} records, built in {s.build_seconds:.0f} s (pid {proc.pid})")
        yield served
    finally:
        if proc.stdin:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ==================================================================================================
# Databases
# ==================================================================================================


def postgres_server_url() -> str:
    """The PostgreSQL server of the benchmarks (``HUB_BENCH_POSTGRES_URL``, ``HUB_TEST_POSTGRES_URL``, or local)."""
    return os.environ.get("HUB_BENCH_POSTGRES_URL") or os.environ.get("HUB_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1/test"


def _pg_admin(server_url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    return create_engine(make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")


def check_postgres(server_url: str | None = None) -> str | None:
    """``None`` when the server answers, else why not."""
    from sqlalchemy import text

    try:
        engine = _pg_admin(server_url or postgres_server_url())
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def prepare_database(url: str) -> None:
    """Migrate the empty database at ``url`` and load the regions (nothing else)."""
    from hub.db import make_engine
    from hub.migrate import upgrade
    from hub.seed import load_regions

    upgrade(url)
    engine = make_engine(url)
    try:
        load_regions(engine)
    finally:
        engine.dispose()


class Databases:
    """Fresh, migrated databases with regions loaded: PostgreSQL ``hubbench_backfill_*`` or SQLite files.

    Everything made here is dropped by ``drop`` / ``close`` (a context manager).
    """

    def __init__(self, *, server_url: str | None = None, sqlite_dir: str | Path | None = None) -> None:
        self.server_url = server_url or postgres_server_url()
        self._own_dir = sqlite_dir is None
        self.sqlite_dir = Path(sqlite_dir or tempfile.mkdtemp(prefix="hubbench_backfill_"))
        self.tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.made: list[str] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fresh(self, backend: str, label: str) -> str:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        if backend == "sqlite":
            path = self.sqlite_dir / f"hubbench_backfill_{label}_{uuid.uuid4().hex[:6]}.db"
            url = f"sqlite:///{path}"
        elif backend == "postgres":
            name = f"hubbench_backfill_{self.tag}_{label}"[:63]
            admin = _pg_admin(self.server_url)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = make_url(self.server_url).set(database=name).render_as_string(hide_password=False)
        else:
            raise ValueError(f"unknown backend {backend!r}")
        self.made.append(url)
        prepare_database(url)
        return url

    def drop(self, url: str) -> None:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        u = make_url(url)
        if u.get_backend_name() == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{u.database}{suffix}")
        else:
            admin = _pg_admin(self.server_url)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
            admin.dispose()
        if url in self.made:
            self.made.remove(url)

    def close(self) -> None:
        for url in list(self.made):
            try:
                self.drop(url)
            except Exception as exc:  # noqa: BLE001 - drop the others anyway
                print(f"warning: could not drop {url}: {exc}", file=sys.stderr)
        if self._own_dir:
            shutil.rmtree(self.sqlite_dir, ignore_errors=True)


def create_instances(url: str, sandbox: Served) -> dict[str, int]:
    """The two connector instances on the sandboxes (secrets stored encrypted, as the admin API does)."""
    import orjson

    from hub.crypto import Cipher
    from hub.db import make_engine, session_scope
    from hub.models import ConnectorInstance

    cipher = Cipher(SECRET)
    creds_p, creds_b = sandbox.credentials["permits"], sandbox.credentials["bank_rest"]
    specs = {
        "permits": ({"base_url": sandbox.urls["permits"], "app_id": creds_p["app_id"], "page_size": PERMITS_PAGE_SIZE,
                     "timeout_seconds": 120}, {"api_key": creds_p["api_key"]}),
        "bank_rest": ({"base_url": sandbox.urls["bank_rest"], "client_id": creds_b["client_id"], "page_size": BANK_PAGE_SIZE,
                       "timeout_seconds": 120}, {"client_secret": creds_b["client_secret"]}),
    }
    engine = make_engine(url)
    ids: dict[str, int] = {}
    try:
        with session_scope(engine) as session:
            for kind, (config, secrets) in specs.items():
                row = ConnectorInstance(name=f"{kind} (backfill bench)", kind=kind, config=config,
                                        secrets_enc=cipher.encrypt(orjson.dumps(secrets).decode()), state={},
                                        schedule_seconds=3600, enabled=True)
                session.add(row)
                session.flush()
                ids[kind] = row.id
    finally:
        engine.dispose()
    return ids


def table_counts(url: str, tables: Sequence[str] = (*CANONICAL, RAW, "quarantine", "events")) -> dict[str, int]:
    from sqlalchemy import text

    from hub.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()) for t in tables}
    finally:
        engine.dispose()


# ==================================================================================================
# The pipeline, measured in its own process
# ==================================================================================================


class RssSampler(threading.Thread):
    """Samples this process's resident set (``/proc/self/statm``) every ``interval`` seconds."""

    PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def __init__(self, interval: float = RSS_INTERVAL) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()
        self._fd = os.open("/proc/self/statm", os.O_RDONLY)

    def current(self) -> int:
        return int(os.pread(self._fd, 256, 0).split()[1]) * self.PAGE

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.peak = max(self.peak, self.current())
            self.samples += 1

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, self.current())
        os.close(self._fd)
        return self.peak


def _reset_hwm() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; ``False`` when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _vm_hwm() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _mb(n: float | None) -> float | None:
    return None if n is None else round(n / 2**20, 1)


def _run_slice(sync: Any, instance_id: int, budgets: dict[str, int | None]) -> dict[str, Any]:
    """The bank streams cut to ``budgets`` records each, page by page through ``SyncEngine.store_page``."""
    from connectors import registry
    from hub import models as m
    from hub.connector_config import load_config
    from hub.sync import StreamStats

    with sync.sessions() as session:
        inst = session.get(m.ConnectorInstance, instance_id)
        connector = registry.get(inst.kind)
        config = load_config(connector, inst, sync.cipher)
    out: dict[str, Any] = {}
    for stream in connector.streams(config):
        budget = budgets.get(stream.name)
        stats = StreamStats()
        pages = stream.read({})
        try:
            for page in pages:
                sync.store_page(instance_id, connector, stream, page, stats)
                if budget is not None and stats.read >= budget:
                    break
        finally:
            pages.close()
        out[stream.name] = stats.as_dict()
    return out


def pipeline_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Entry of a measuring process: the syncs of ``spec["instances"]`` with wall time and peak RSS."""
    import gc

    from connectors import registry
    from hub.crypto import Cipher
    from hub.db import make_engine
    from hub.sync import RetryPolicy, SyncEngine

    label = spec.get("label", "")
    engine = make_engine(spec["url"])
    cipher = Cipher(SECRET)
    evaluations: Counter[str] = Counter()
    on_page = _incremental_warnings(engine, cipher, evaluations) if spec.get("warnings") else None
    sync = SyncEngine(
        engine,
        cipher=cipher,
        retry=RetryPolicy(max_attempts=4, base_delay=0.5),
        on_page=on_page,
        pages_per_evaluation=spec.get("pages_per_evaluation") or 1,
    )
    for kind in spec["instances"]:
        registry.get(kind)  # import the plugins (and their HTTP stack) before the baseline
    import httpx  # noqa: F401

    with engine.connect() as conn:  # open the pool's connection before the baseline
        conn.exec_driver_sql("SELECT 1")
    profile = spec.get("profile")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    gc.collect()
    sampler = RssSampler()
    hwm_reset = _reset_hwm()
    baseline = sampler.current()
    sampler.start()
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    reads: dict[tuple[str, str], int] = {}
    next_say = [50_000]

    for kind, instance_id in spec["instances"].items():
        streams: dict[str, dict[str, float]] = {}
        t0 = time.perf_counter()
        last = [t0]

        def progress(name: str, stats: Any, kind: str = kind, streams: dict[str, dict[str, float]] = streams,
                     last: list[float] = last) -> None:
            now = time.perf_counter()
            streams.setdefault(name, {"started": last[0]})["finished"] = last[0] = now
            reads[(kind, name)] = stats.read
            if (done := sum(reads.values())) >= next_say[0]:
                print(f"  [{label}] {kind}/{name}: {stats.read:,} read, {done:,} in all, {now - started:.0f} s", flush=True)
                next_say[0] += 50_000

        if profiler:
            profiler.enable()
        if profile and kind == "bank_rest":
            stats = _run_slice(sync, instance_id, profile["budgets"])
            status, error = "succeeded", None
        else:
            result = sync.run(instance_id, progress=progress)
            stats = {name: s.as_dict() for name, s in result.stats.items()}
            status, error = result.status, result.error
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - t0
        for name, s in stats.items():
            timing = streams.get(name, {})
            s["seconds"] = round(timing["finished"] - timing["started"], 3) if "finished" in timing else None
        runs.append({"kind": kind, "status": status, "error": error, "seconds": round(seconds, 3),
                     "read": sum(s["read"] for s in stats.values()), "streams": stats})
    seconds = time.perf_counter() - started
    peak = sampler.stop()
    hwm = _vm_hwm() if hwm_reset else None
    if profiler:
        profiler.dump_stats(profile["path"])
    engine.dispose()
    return {
        "label": label, "runs": runs, "seconds": round(seconds, 3), "records": sum(r["read"] for r in runs),
        "rss_baseline_mb": _mb(baseline), "rss_peak_mb": _mb(peak), "rss_peak_delta_mb": _mb(peak - baseline),
        "rss_samples": sampler.samples, "vm_hwm_mb": _mb(hwm), "vm_hwm_delta_mb": _mb(hwm - baseline) if hwm else None,
        "warnings": dict(evaluations),
    }


def _incremental_warnings(engine: Any, cipher: Any, counts: Counter[str]) -> Callable[[Any], None]:
    """The engine's incremental path, inline: after a page commits, the rules for what it touched, in
    their own transaction, as ``hub.actors.evaluate_warnings`` runs them (as of the world's day)."""
    from hub.db import session_scope
    from hub.rules import Scope, evaluate

    now = _frozen_clock(TODAY)

    def on_page(touched: Any) -> None:
        scope = Scope.of(project_ids=touched.project_ids, enterprise_ids=touched.enterprise_ids)
        started = time.perf_counter()
        with session_scope(engine) as session:
            report = evaluate(session, scope=scope, tables=touched.tables, today=TODAY, now=now(), cipher=cipher)
        counts["evaluations"] += 1
        counts["milliseconds"] += round((time.perf_counter() - started) * 1000)
        counts.update(report.counts)
        for code, seconds in report.seconds.items():  # which rules cost what
            counts[f"ms {code}"] += round(seconds * 1000)
            counts[f"runs {code}"] += 1

    return on_page


@dataclass
class PipelineRun:
    backend: str
    scale: str
    records: int
    seconds: float
    rss_baseline_mb: float
    rss_peak_mb: float
    rss_peak_delta_mb: float
    vm_hwm_delta_mb: float | None
    runs: list[dict[str, Any]]
    counts: dict[str, int]
    expected: dict[str, int]
    served: dict[str, int]
    problems: list[str] = field(default_factory=list)
    profile_path: str | None = None
    #: The warnings engine ran incrementally after each page (``--warnings on``): what it did.
    warnings: dict[str, int] | None = None

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds else float("nan")

    @property
    def verified(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "records_per_s": round(self.records_per_s, 1), "verified": self.verified}


def verify(result: dict[str, Any], counts: dict[str, int], sandbox: Served) -> list[str]:
    """What differs from a complete, clean first sync of what the sandboxes served (empty: all good)."""
    problems = [f"{r['kind']} sync {r['status']}: {r['error']}" for r in result["runs"] if r["status"] != "succeeded"]
    read = {name: s["read"] for r in result["runs"] for name, s in r["streams"].items()}
    for name, n in sandbox.served.items():
        if read.get(name) != n:
            problems.append(f"stream {name}: read {read.get(name)}, the sandbox serves {n}")
    quarantined = sum(s.get("quarantined", 0) for r in result["runs"] for s in r["streams"].values())
    if quarantined:
        problems.append(f"{quarantined} records quarantined")
    for table, n in sandbox.expected.items():
        if counts.get(table) != n:
            problems.append(f"table {table}: {counts.get(table)} rows, expected {n}")
    return problems


def run_child(spec: dict[str, Any], *, timeout: float = CHILD_TIMEOUT) -> dict[str, Any]:
    """Run ``pipeline_child(spec)`` in a fresh interpreter; its result comes back through a file."""
    with tempfile.TemporaryDirectory(prefix="hubbench_backfill_") as tmp:
        out = Path(tmp) / "result.json"
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps({**spec, "result_path": str(out)}))
        proc = subprocess.run([sys.executable, "-m", "bench.backfill", "--pipeline-child", str(spec_path)], cwd=ROOT,
                              env=_child_env(), timeout=timeout, check=False)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"the measuring process failed (exit code {proc.returncode})")
        return json.loads(out.read_text())


def measure_pipeline(url: str, backend: str, sandbox: Served, *, say: Say = _quiet,
                     profile: dict[str, Any] | None = None, warnings: bool = False,
                     pages_per_evaluation: int = 1) -> PipelineRun:
    """Both syncs into the fresh database at ``url``, in a fresh measuring process; verified. With
    ``warnings``, the warnings engine evaluates each page's scope after it commits (inline)."""
    instances = create_instances(url, sandbox)
    label = f"{backend}/{sandbox.scale}" + ("/profile" if profile else "") + ("/warnings" if warnings else "")
    say(f"[{label}] pipeline: {sandbox.records:,} upstream records (permits page {PERMITS_PAGE_SIZE}, bank page {BANK_PAGE_SIZE})")
    result = run_child({"url": url, "instances": instances, "label": label, "profile": profile, "warnings": warnings,
                        "pages_per_evaluation": pages_per_evaluation})
    counts = table_counts(url)
    problems = [] if profile else verify(result, counts, sandbox)
    run = PipelineRun(
        backend=backend, scale=sandbox.scale, records=result["records"], seconds=result["seconds"],
        rss_baseline_mb=result["rss_baseline_mb"], rss_peak_mb=result["rss_peak_mb"],
        rss_peak_delta_mb=result["rss_peak_delta_mb"], vm_hwm_delta_mb=result["vm_hwm_delta_mb"], runs=result["runs"],
        counts=counts, expected=sandbox.expected, served=sandbox.served, problems=problems,
        profile_path=profile["path"] if profile else None, warnings=result["warnings"] if warnings else None,
    )
    if not profile:
        say(f"[{label}] {run.records:,} records in {run.seconds:.1f} s = {run.records_per_s:,.0f} records/s, "
            f"peak RSS +{run.rss_peak_delta_mb:.0f} MB; " + ("verified" if run.verified else "NOT VERIFIED: " + "; ".join(problems)))
    return run


# ==================================================================================================
# The COPY baseline
# ==================================================================================================


@dataclass
class TableRows:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def read_back(url: str, tables: Sequence[str] = (*PRELUDE, *CANONICAL, RAW)) -> dict[str, TableRows]:
    """Every row of ``tables`` as stored (JSON columns as their text), ordered by id; SQLite or PostgreSQL."""
    from sqlalchemy import JSON, Text, cast, select

    from hub.db import make_engine
    from hub.models import Base

    engine = make_engine(url)
    out: dict[str, TableRows] = {}
    try:
        with engine.connect() as conn:
            for name in tables:
                table = Base.metadata.tables[name]
                cols = [cast(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in table.columns]
                rows = [tuple(r) for r in conn.execute(select(*cols).order_by(table.c.id))]
                out[name] = TableRows([c.name for c in table.columns], rows)
    finally:
        engine.dispose()
    return out


@dataclass
class CopyRun:
    tables: list[str]
    rows: int
    seconds: float
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _psycopg_conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def copy_baseline(url: str, data: dict[str, TableRows], tables: Sequence[str]) -> CopyRun:
    """COPY ``data[t]`` for ``tables`` (FK order) into the fresh PostgreSQL database at ``url``, one transaction.

    Only the COPY (and its commit) is timed; the rows the archive points at (``PRELUDE``) go in
    before, the sequences are moved past the copied ids and the rows counted after.
    """
    import psycopg

    def copy(cur: Any, name: str) -> None:
        t = data[name]
        cols = ", ".join(f'"{c}"' for c in t.columns)
        with cur.copy(f'COPY "{name}" ({cols}) FROM STDIN') as cp:
            for row in t.rows:
                cp.write_row(row)

    with psycopg.connect(_psycopg_conninfo(url)) as conn:
        with conn.cursor() as cur:
            for name in PRELUDE:
                if name in data:
                    copy(cur, name)
        conn.commit()
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for name in tables:
                copy(cur, name)
        seconds = time.perf_counter() - started
        counts: dict[str, int] = {}
        with conn.cursor() as cur:
            for name in (*PRELUDE, *tables):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
                            f'FROM "{name}"')
                counts[name] = cur.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        conn.commit()
    return CopyRun(tables=list(tables), rows=sum(len(data[t].rows) for t in tables), seconds=round(seconds, 3), counts=counts)


def measure_copy(dbs: Databases, data: dict[str, TableRows], scale: str, *, say: Say = _quiet) -> dict[str, CopyRun]:
    """The two baselines, each into its own fresh database: canonical tables, and canonical + raw archive."""
    out: dict[str, CopyRun] = {}
    for variant, tables in (("canonical", CANONICAL), ("canonical_raw", (*CANONICAL, RAW))):
        url = dbs.fresh("postgres", f"copy_{variant}_{scale}")
        try:
            run = copy_baseline(url, data, tables)
        finally:
            dbs.drop(url)
        expected = {t: len(data[t].rows) for t in tables}
        if {t: run.counts[t] for t in tables} != expected:
            raise RuntimeError(f"COPY {variant}: counts {run.counts} differ from the rows read back {expected}")
        say(f"[postgres/{scale}] COPY {variant}: {run.rows:,} rows in {run.seconds:.2f} s")
        out[variant] = run
    return out


# ==================================================================================================
# Profile
# ==================================================================================================

#: (label, file suffix, function): cumulative time of these entry points (nested, so they overlap).
ENTRY_POINTS: list[tuple[str, str, str]] = [
    ("sync: store_page (one page: archive + normalise + ingest + commit)", "hub/sync.py", "store_page"),
    ("  archive: SyncEngine._archive", "hub/sync.py", "_archive"),
    ("    seal (encrypt IDs/cards in payloads)", "hub/archive.py", "seal"),
    ("    payload_hash (orjson + sha256)", "hub/sync.py", "payload_hash"),
    ("    _raw_ids (archive id lookups, SQL)", "hub/sync.py", "_raw_ids"),
    ("  normalise (bank_rest)", "connectors/bank_rest/__init__.py", "normalise"),
    ("  normalise (permits)", "connectors/permits/__init__.py", "normalise"),
    ("  ingest: Ingestor.apply", "hub/ingest.py", "apply"),
    ("    _apply_payroll", "hub/ingest.py", "_apply_payroll"),
    ("    _ident (identifier validation in ingest)", "hub/ingest.py", "_ident"),
    ("    _worker_values (Fernet of new workers)", "hub/ingest.py", "_worker_values"),
    ("    Cipher.lookup_hash (HMAC)", "hub/crypto.py", "lookup_hash"),
    ("    _upsert (existing SELECT + INSERT)", "hub/ingest.py", "_upsert"),
    ("    _lookup (reference SELECTs)", "hub/ingest.py", "_lookup"),
    ("    load_workers (worker SELECTs)", "hub/ingest.py", "load_workers"),
    ("    _events (re-SELECT + INSERT events)", "hub/ingest.py", "_events"),
    ("  commit", "sqlalchemy/orm/session.py", "commit"),
    ("SQLAlchemy Session.execute (all ORM SQL)", "sqlalchemy/orm/session.py", "execute"),
    ("Cipher.encrypt (Fernet), all callers", "hub/crypto.py", "encrypt"),
    ("hub.identifiers validate_id_number, all callers", "hub/identifiers.py", "validate_id_number"),
    ("hub.identifiers validate_bank_card, all callers", "hub/identifiers.py", "validate_bank_card"),
    ("read: bank_rest _Api.get (HTTP + orjson.loads)", "connectors/bank_rest/__init__.py", "get"),
    ("read: permits _Api.fetch (HTTP + json)", "connectors/permits/__init__.py", "fetch"),
    ("httpx Client.send (HTTP round trips)", "httpx/_client.py", "send"),
]

#: Self-time categories: (label, test on (file, function)).
def _category(file: str, func: str) -> str:
    f = file.replace("\\", "/")
    if f == "~":  # C functions: by name
        if "orjson.loads" in func or "json" in func and "decode" in func:
            return "JSON decode"
        if "orjson.dumps" in func:
            return "raw archive (seal walk, payload hash)"
        if "_socket" in func or "select" in func or "ssl" in func:
            return "HTTP (client + waiting for the sandbox)"
        if "psycopg" in func or "sqlite3" in func:
            return "DB driver + SQL (waiting for the database)"
        if "_hashlib" in func or "hmac" in func or "urandom" in func or "binascii" in func or "_cffi" in func or "openssl" in func.lower():
            return "crypto (Fernet, HMAC, SHA-256)"
        if "re.Pattern" in func:
            return "raw archive (seal walk, payload hash)"
        return "other (builtins)"
    for needle, label in (
        ("/httpx/", "HTTP (client + waiting for the sandbox)"), ("/httpcore/", "HTTP (client + waiting for the sandbox)"),
        ("/h11/", "HTTP (client + waiting for the sandbox)"), ("/socket.py", "HTTP (client + waiting for the sandbox)"),
        ("/selectors.py", "HTTP (client + waiting for the sandbox)"), ("/json/", "JSON decode"),
        ("/connectors/", "connector (paging, normalise)"), ("hub/identifiers.py", "identifier validation"),
        ("/cryptography/", "crypto (Fernet, HMAC, SHA-256)"), ("hub/crypto.py", "crypto (Fernet, HMAC, SHA-256)"),
        ("/hmac.py", "crypto (Fernet, HMAC, SHA-256)"), ("/base64.py", "crypto (Fernet, HMAC, SHA-256)"),
        ("hub/archive.py", "raw archive (seal walk, payload hash)"), ("hub/ingest.py", "ingest (hub/ingest.py itself)"),
        ("hub/sync.py", "sync engine (hub/sync.py itself)"), ("/sqlalchemy/", "SQLAlchemy (Core + ORM)"),
        ("/psycopg/", "DB driver + SQL (waiting for the database)"), ("/sqlite3/", "DB driver + SQL (waiting for the database)"),
        ("/pydantic", "pydantic"),
    ):
        if needle in f:
            return label
    return "other (stdlib: decimal, datetime, dataclasses…)"


def profile_breakdown(path: str, *, top: int = 25) -> dict[str, Any]:
    """Self time by layer, cumulative time of the pipeline's entry points, and the top functions."""
    st = pstats.Stats(path)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, dict]] = st.stats  # type: ignore[attr-defined]
    total = st.total_tt  # type: ignore[attr-defined]
    cats: Counter[str] = Counter()
    for (file, _line, func), (_cc, _nc, tt, _ct, _callers) in raw.items():
        cats[_category(file, func)] += tt
    entries = []
    for label, suffix, func in ENTRY_POINTS:
        ct = sum(v[3] for (f, _l, fn), v in raw.items() if fn == func and f.replace("\\", "/").endswith(suffix))
        calls = sum(v[1] for (f, _l, fn), v in raw.items() if fn == func and f.replace("\\", "/").endswith(suffix))
        entries.append({"what": label, "seconds": round(ct, 3), "share": round(ct / total, 4) if total else None, "calls": calls})
    # Fernet encryption split by caller: the archive (seal) vs new workers (ingest)
    enc_by_caller: Counter[str] = Counter()
    for (f, _l, fn), v in raw.items():
        if fn == "encrypt" and f.replace("\\", "/").endswith("hub/crypto.py"):
            for (cf, _cl, cfn), cv in v[4].items():
                enc_by_caller[f"{Path(cf).name}:{cfn}"] += cv[3]
    top_self = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return {
        "total_seconds": round(total, 3),
        "self_time_by_layer": [{"layer": k, "seconds": round(v, 3), "share": round(v / total, 4)} for k, v in cats.most_common()],
        "entry_points": entries,
        "encrypt_by_caller": {k: round(v, 3) for k, v in enc_by_caller.most_common()},
        "top_self": [{"function": f"{_short(f)}:{line}({fn})", "calls": v[1], "self_s": round(v[2], 3), "cum_s": round(v[3], 3)}
                     for (f, line, fn), v in top_self],
    }


def _short(file: str) -> str:
    f = file.replace("\\", "/")
    for anchor in ("/site-packages/", "/work/main/", "/lib/python3"):
        if anchor in f:
            return f.split(anchor, 1)[1]
    return f


def measure_profile(dbs: Databases, backend: str, sandbox: Served, *, say: Say = _quiet) -> dict[str, Any]:
    """cProfile of a ~20k-record slice: permits whole, then the bank streams cut to ``PROFILE_BUDGETS``."""
    url = dbs.fresh(backend, f"profile_{sandbox.scale}")
    prof = Path(tempfile.gettempdir()) / f"hubbench_backfill_{os.getpid()}.prof"
    try:
        run = measure_pipeline(url, backend, sandbox, say=say, profile={"path": str(prof), "budgets": PROFILE_BUDGETS})
        breakdown = profile_breakdown(str(prof))
    finally:
        dbs.drop(url)
        with contextlib.suppress(FileNotFoundError):
            prof.unlink()
    say(f"[{backend}/{sandbox.scale}/profile] {run.records:,} records in {run.seconds:.1f} s under cProfile")
    return {"backend": backend, "scale": sandbox.scale, "records": run.records, "seconds_under_profile": run.seconds,
            "streams": {name: s for r in run.runs for name, s in r["streams"].items()}, **breakdown}


# ==================================================================================================
# Report
# ==================================================================================================


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    env: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()}
    for dist in ("SQLAlchemy", "psycopg", "httpx", "uvicorn", "starlette", "orjson", "cryptography", "uvloop", "httptools"):
        try:
            env[dist] = version(dist)
        except Exception:  # noqa: BLE001
            env[dist] = None
    return env


def postgres_settings(server_url: str | None = None) -> dict[str, Any]:
    """The server's version and the settings that move these figures (autovacuum off: never ANALYZEd during a run)."""
    from sqlalchemy import text

    names = ("autovacuum", "fsync", "synchronous_commit", "shared_buffers", "work_mem", "max_wal_size", "plan_cache_mode", "jit")
    try:
        engine = _pg_admin(server_url or postgres_server_url())
        with engine.connect() as conn:
            out: dict[str, Any] = {"version": conn.execute(text("SHOW server_version")).scalar_one()}
            rows = conn.execute(text("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(:n)"), {"n": list(names)})
            out.update({n: f"{v}{' × ' + u if u else ''}" for n, v, u in rows})
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return {"error": str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__}
    return out


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def summary_rows(pipelines: list[PipelineRun], copies: dict[tuple[str, str], dict[str, CopyRun]]) -> list[dict[str, Any]]:
    rows = []
    for p in pipelines:
        row: dict[str, Any] = {
            "backend": p.backend, "world": p.scale, "warnings": "on" if p.warnings is not None else "off", "records": p.records, "pipeline s": p.seconds,
            "pipeline rec/s": p.records_per_s, "peak RSS MB": p.rss_peak_delta_mb, "verified": p.verified,
        }
        c = copies.get((p.backend, p.scale)) if p.warnings is None else None
        for variant, key in (("canonical", "COPY canon"), ("canonical_raw", "COPY canon+raw")):
            run = c.get(variant) if c else None
            rate = p.records / run.seconds if run and run.seconds else None
            row[f"{key} s"] = run.seconds if run else None
            row[f"{key} rec/s"] = rate
            row[f"ratio vs {key}"] = p.records_per_s / rate if rate else None
        rows.append(row)
    return rows


COLUMNS = ["backend", "world", "warnings", "records", "pipeline s", "pipeline rec/s", "COPY canon s", "COPY canon rec/s", "ratio vs COPY canon",
           "COPY canon+raw s", "COPY canon+raw rec/s", "ratio vs COPY canon+raw", "peak RSS MB", "verified"]


ENGINE_COLUMNS = ["backend", "world", "records", "off rec/s", "on rec/s", "ratio on / off", "evaluations",
                  "engine s", "warnings raised"]


def engine_on_off(pipelines: list[PipelineRun]) -> list[dict[str, Any]]:
    """Per backend and world measured both ways: throughput with the engine on against off."""
    off = {(p.backend, p.scale): p for p in pipelines if p.warnings is None}
    rows = []
    for p in pipelines:
        base = off.get((p.backend, p.scale))
        if p.warnings is None or base is None:
            continue
        rows.append({
            "backend": p.backend, "world": p.scale, "records": p.records, "off rec/s": base.records_per_s,
            "on rec/s": p.records_per_s, "ratio on / off": p.records_per_s / base.records_per_s,
            "evaluations": p.warnings.get("evaluations", 0), "engine s": p.warnings.get("milliseconds", 0) / 1000,
            "warnings raised": p.warnings.get("raised", 0),
        })
    return rows


def _fmt(value: Any, column: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if column.startswith("ratio"):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 1000 or column.endswith("rec/s") else f"{value:,.2f}" if column.endswith(" s") else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_report(console: Any, pipelines: list[PipelineRun], copies: dict[tuple[str, str], dict[str, CopyRun]],
                 profile: dict[str, Any] | None) -> None:
    from rich.table import Table

    if pipelines:
        table = Table(title="backfill: permits + bank_rest first sync through SyncEngine vs PostgreSQL COPY of the same rows")
        for col in COLUMNS:
            table.add_column(col, justify="left" if col in ("backend", "world", "warnings", "verified") else "right")
        for row in summary_rows(pipelines, copies):
            table.add_row(*(_fmt(row[c], c) for c in COLUMNS))
        console.print(table)
        console.print(
            "records = upstream records read (both syncs); rec/s of COPY = the same records ÷ COPY seconds. "
            "The pipeline also archives every raw record (sealed), so [bold]ratio vs COPY canon+raw[/] is the like-for-like one. "
            "Peak RSS = max sampled RSS (/proc/self/statm every 50 ms) of the measuring process minus its RSS just before the run. "
            "Goal: pipeline ≥ 20% of COPY.")
        engine_rows = engine_on_off(pipelines)
        if engine_rows:
            onoff = Table(title="the warnings engine's incremental path: backfill with the engine on vs off")
            for col in ENGINE_COLUMNS:
                onoff.add_column(col, justify="left" if col in ("backend", "world") else "right")
            for row in engine_rows:
                onoff.add_row(*(_fmt(row[c], c) for c in ENGINE_COLUMNS))
            console.print(onoff)
            console.print("on = hub.rules.evaluate over what the pages touched (every N pages; a backfill once, at its run's end), inline in "
                          "the measuring process (a worker's job, charged to the pipeline). Goal: on ≥ 90% of off.")
        mem = Table(title="memory of the measuring process: peak RSS (MB) at N records")
        for col in ("backend", "records", "peak RSS Δ MB", "baseline MB", "peak MB", "VmHWM Δ MB"):
            mem.add_column(col, justify="left" if col == "backend" else "right")
        for p in sorted(pipelines, key=lambda p: (p.backend, p.records)):
            mem.add_row(p.backend, f"{p.records:,}", f"{p.rss_peak_delta_mb:.1f}", f"{p.rss_baseline_mb:.1f}", f"{p.rss_peak_mb:.1f}",
                        _fmt(p.vm_hwm_delta_mb, "mb"))
        console.print(mem)
        streams = Table(title="per stream (largest world)")
        for col in ("backend", "stream", "read", "created", "pages", "seconds", "rec/s"):
            streams.add_column(col, justify="left" if col in ("backend", "stream") else "right")
        biggest = max(p.records for p in pipelines)
        for p in pipelines:
            if p.records != biggest:
                continue
            for r in p.runs:
                for name, s in r["streams"].items():
                    secs = s.get("seconds")
                    streams.add_row(p.backend, f"{r['kind']}/{name}", f"{s['read']:,}", f"{s['created']:,}", f"{s['pages']:,}",
                                    f"{secs:.2f}" if secs else "–", f"{s['read'] / secs:,.0f}" if secs else "–")
        console.print(streams)
    if profile:
        t = Table(title=f"cProfile of a {profile['records']:,}-record slice ({profile['backend']}/{profile['scale']}): "
                        f"self time by layer (total {profile['total_seconds']:.1f} s under the profiler)")
        t.add_column("layer")
        t.add_column("seconds", justify="right")
        t.add_column("share", justify="right")
        for c in profile["self_time_by_layer"]:
            t.add_row(c["layer"], f"{c['seconds']:.2f}", f"{c['share']:.1%}")
        console.print(t)
        e = Table(title="cumulative time of the pipeline's steps (nested: children are part of their parent)")
        e.add_column("step")
        e.add_column("calls", justify="right")
        e.add_column("seconds", justify="right")
        e.add_column("share", justify="right")
        for c in profile["entry_points"]:
            e.add_row(c["what"], f"{c['calls']:,}", f"{c['seconds']:.2f}", f"{c['share']:.1%}" if c["share"] is not None else "–")
        console.print(e)
        console.print(f"Fernet encrypt by caller (s): {profile['encrypt_by_caller']}")
        top = Table(title="top functions by self time")
        for col in ("function", "calls", "self s", "cum s"):
            top.add_column(col, justify="left" if col == "function" else "right")
        for f in profile["top_self"][:15]:
            top.add_row(f["function"], f"{f['calls']:,}", f"{f['self_s']:.2f}", f"{f['cum_s']:.2f}")
        console.print(top)


# ==================================================================================================
# Main
# ==================================================================================================


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__.split("\n\n")[1])
    parser.add_argument("--backend", choices=["postgres", "sqlite", "all"], default="all")
    parser.add_argument("--scale", choices=["city", "tiny"], default="city",
                        help="the world to backfill (city: ~270k upstream records); the tiny one (~4k) is measured too, "
                             "for peak RSS at two sizes")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file (default bench/results/backfill-<timestamp>.json)")
    parser.add_argument("--no-save", action="store_true", help="do not write the JSON results")
    parser.add_argument("--profile", action="store_true", help="also cProfile a ~20k-record slice (PostgreSQL when measured)")
    parser.add_argument("--profile-only", action="store_true", help="only the cProfile slice (no measurements)")
    parser.add_argument("--no-copy", action="store_true", help="skip the COPY baseline")
    parser.add_argument("--warnings", choices=["off", "on", "both"], default="off",
                        help="run the warnings engine's incremental path after each page (inline); both: off and on, compared")
    parser.add_argument("--pages-per-evaluation", type=int, default=None, metavar="N",
                        help="with --warnings on: evaluate once per N pages and at each run's end, as the sync actor "
                        "does (default HUB_WARNINGS_PAGES_PER_EVALUATION)")
    parser.add_argument("--serve-sandboxes", metavar="SCALES", help=argparse.SUPPRESS)
    parser.add_argument("--pipeline-child", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pages_per_evaluation is None:
        from hub.settings import get_settings

        args.pages_per_evaluation = get_settings().warnings_pages_per_evaluation

    if args.serve_sandboxes:
        serve_sandboxes(args.serve_sandboxes.split(","))
        return 0
    if args.pipeline_child:
        spec = json.loads(Path(args.pipeline_child).read_text())
        result = pipeline_child(spec)
        Path(spec["result_path"]).write_text(json.dumps(result))
        return 0

    from rich.console import Console

    console = Console()
    if console.width < 160:
        console = Console(width=160)

    def say(message: str) -> None:
        console.print(message, markup=False, highlight=False)

    backends = ["postgres", "sqlite"] if args.backend == "all" else [args.backend]
    if "postgres" in backends and (why := check_postgres()):
        console.print(f"[red]PostgreSQL at {postgres_server_url()} is unreachable ({why}); skipping it[/]")
        backends.remove("postgres")
        if not backends:
            return 2
    worlds = ["tiny"] if args.scale == "tiny" else ["tiny", args.scale]
    if args.profile_only:
        worlds = [args.scale]
    load_before = _loadavg()
    say(f"load average {load_before[0]} / {load_before[1]} / {load_before[2]} on {os.cpu_count()} CPUs")
    started = time.perf_counter()
    pipelines: list[PipelineRun] = []
    copies: dict[tuple[str, str], dict[str, CopyRun]] = {}
    profile: dict[str, Any] | None = None
    with Databases() as dbs, sandboxes(worlds, say=say) as served:
        if not args.profile_only:
            modes = {"off": [False], "on": [True], "both": [False, True]}[args.warnings]
            for backend in backends:
                for scale, warnings in ((sc, w) for sc in worlds for w in modes):
                    url = dbs.fresh(backend, f"pipeline_{scale}")
                    try:
                        run = measure_pipeline(url, backend, served[scale], say=say, warnings=warnings,
                                               pages_per_evaluation=args.pages_per_evaluation)
                        pipelines.append(run)
                        if backend == "postgres" and not args.no_copy and not warnings:
                            data = read_back(url)
                            dbs.drop(url)
                            copies[(backend, scale)] = measure_copy(dbs, data, scale, say=say)
                            del data
                    finally:
                        dbs.drop(url)
        if args.profile or args.profile_only:
            profile = measure_profile(dbs, backends[0], served[worlds[-1]], say=say)
    seconds = time.perf_counter() - started
    load_after = _loadavg()
    console.print()
    console.print(f"load average before {load_before[0]} / {load_before[1]} / {load_before[2]}, after "
                  f"{load_after[0]} / {load_after[1]} / {load_after[2]} on {os.cpu_count()} CPUs "
                  "(other work on the machine inflates the timings, the long pipeline run more than the short COPY)")
    print_report(console, pipelines, copies, profile)
    if not args.no_save:
        path = args.out or RESULTS_DIR / f"backfill-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else argv, "environment": environment(),
            "postgres": postgres_settings() if "postgres" in backends else None,
            "loadavg_1_5_15": {"before": load_before, "after": load_after}, "seconds": round(seconds, 1),
            "world": {"seed": SEED, "today": TODAY.isoformat(), "region": REGION},
            "page_sizes": {"permits": PERMITS_PAGE_SIZE, "bank_rest": BANK_PAGE_SIZE},
            "summary": summary_rows(pipelines, copies),
            "warnings_engine": engine_on_off(pipelines),
            "pipelines": [p.to_json() for p in pipelines],
            "copy": {f"{b}/{s}": {k: v.to_json() for k, v in c.items()} for (b, s), c in copies.items()},
            "profile": profile,
        }
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
        console.print(f"results: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0 if all(p.verified for p in pipelines) else 1


if __name__ == "__main__":
    raise SystemExit(main())
