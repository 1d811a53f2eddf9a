"""Seeded databases for the benchmarks, built once and re-used between runs.

SQLite: ``bench/.data/hub-<scale>.db`` (gitignored). PostgreSQL: a database ``hubbench_<scale>`` on the
server of ``HUB_BENCH_POSTGRES_URL`` (default: ``HUB_TEST_POSTGRES_URL``, else
``postgresql://postgres@127.0.0.1/test``; that URL's database is only used to create and drop ours).

A database is re-used when its marker row (table ``bench_dataset``, written last, in the same
database) says it was completely built with the same scale, region, seed and day. When the seed
generator's source changed since, it is re-used with a warning (rebuild with ``--rebuild``): building
province scale takes a long time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
#: Encrypts the seeded personal data of the bench databases (they hold generated data only).
BENCH_SECRET = "bench-secret-key-generated-data-only"
#: Seeded data is relative to this day (same day, same data — as in the tests).
TODAY = dt.date(2026, 11, 20)
SEED = 20261121
#: Bump when the way a dataset is built changes (forces a rebuild of cached datasets).
FORMAT = 1

SCALES: dict[str, dict[str, Any]] = {
    "tiny": {"region": "370800"},  # for the harness test only
    "city": {"region": "370800"},  # 济宁市
    "province": {"region": "370000"},  # 山东省
}
MARKER_TABLE = "bench_dataset"

Say = Callable[[str], None]


def postgres_server_url() -> str:
    return os.environ.get("HUB_BENCH_POSTGRES_URL") or os.environ.get("HUB_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1/test"


def seed_code_hash() -> str:
    """A hash of the seed generator's source: tells a dataset built by older generator code."""
    h = hashlib.sha256()
    import hub.seed  # (not ``hub``: under pytest, tests/hub/ makes ``hub`` a namespace package without __file__)

    seed_dir = Path(hub.seed.__file__).resolve().parent
    for p in sorted(seed_dir.glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Dataset:
    backend: str  # sqlite / postgres
    scale: str
    url: str
    region: str
    seed: int
    today: dt.date
    api_key: str  # an admin key of this database (generated data, bench only)
    counts: dict[str, int] = field(default_factory=dict)
    build_seconds: float | None = None
    built_at: str | None = None
    reused: bool = False
    seed_code: str | None = None
    stale_seed_code: bool = False

    @property
    def sqlite_path(self) -> str:
        return str(make_url(self.url).database)

    def describe(self) -> dict[str, Any]:
        """What the results file records about the dataset (no key)."""
        return {
            "backend": self.backend, "scale": self.scale, "region": self.region, "seed": self.seed,
            "today": self.today.isoformat(), "counts": self.counts, "build_seconds": self.build_seconds,
            "built_at": self.built_at, "reused": self.reused, "seed_code": self.seed_code,
            "stale_seed_code": self.stale_seed_code,
            "location": self.sqlite_path if self.backend == "sqlite" else make_url(self.url).database,
        }


# --------------------------------------------------------------------------------------------------
# Markers
# --------------------------------------------------------------------------------------------------


def _wanted(scale: str, seed: int, today: dt.date) -> dict[str, Any]:
    return {"format": FORMAT, "scale": scale, "region": SCALES[scale]["region"], "seed": seed, "today": today.isoformat()}


def read_marker(url: str) -> dict[str, Any] | None:
    """The marker of the database at ``url``; ``None`` when absent (missing, incomplete or foreign)."""
    from hub.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT v FROM {MARKER_TABLE} WHERE k = 'marker'")).first()
    except Exception:  # noqa: BLE001 - no table, no database: not a complete dataset
        return None
    finally:
        engine.dispose()
    return orjson.loads(row[0]) if row else None


def _write_marker(url: str, marker: dict[str, Any]) -> None:
    from hub.db import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (k VARCHAR(32) PRIMARY KEY, v TEXT NOT NULL)"))
            conn.execute(text(f"DELETE FROM {MARKER_TABLE} WHERE k = 'marker'"))
            conn.execute(text(f"INSERT INTO {MARKER_TABLE} (k, v) VALUES ('marker', :v)"), {"v": orjson.dumps(marker).decode()})
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# Locations
# --------------------------------------------------------------------------------------------------


def sqlite_url(scale: str, data_dir: Path | None = None) -> str:
    return f"sqlite:///{(data_dir or DATA_DIR) / f'hub-{scale}.db'}"


def postgres_url(scale: str, server: str | None = None) -> str:
    return make_url(server or postgres_server_url()).set(database=f"hubbench_{scale}").render_as_string(hide_password=False)


def _pg_admin_engine(server: str):  # type: ignore[no-untyped-def]
    from hub.db import sync_url

    return create_engine(sync_url(server), isolation_level="AUTOCOMMIT")


def check_postgres(server: str | None = None) -> str | None:
    """``None`` when the PostgreSQL server answers, else why not."""
    try:
        engine = _pg_admin_engine(server or postgres_server_url())
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def _reset_sqlite(url: str) -> None:
    path = Path(str(make_url(url).database))
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _reset_postgres(url: str, server: str) -> None:
    name = make_url(url).database
    engine = _pg_admin_engine(server)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------


def _seed_with_progress(url: str, *, scale: str, seed: int, today: dt.date, console: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from hub.crypto import Cipher
    from hub.db import make_engine
    from hub.seed import seed_database

    engine = make_engine(url)
    tasks: dict[str, Any] = {}
    try:
        if console is not None and not console.is_terminal:
            # a log file (nohup): a line per table every 30 s instead of a live display
            started = time.perf_counter()
            last: dict[str, float] = {}

            def log(table: str, done: int, total: int) -> None:
                now = time.perf_counter()
                if done >= total or now - last.get(table, -1e9) >= 30:
                    last[table] = now
                    console.print(f"  {table:<24} {done:>12,} / {total:,}  ({now - started:,.0f} s)", highlight=False)

            return seed_database(
                engine, scale=scale, seed=seed, today=today, cipher=Cipher(BENCH_SECRET), region=SCALES[scale]["region"],
                progress=log,
            )
        with Progress(
            TextColumn("  {task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, transient=False, disable=console is None,
        ) as progress:

            def report(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = progress.add_task(table, total=total)
                progress.update(tasks[table], completed=done, total=max(total, done))

            return seed_database(
                engine, scale=scale, seed=seed, today=today, cipher=Cipher(BENCH_SECRET), region=SCALES[scale]["region"],
                progress=report,
            )
    finally:
        engine.dispose()


def _finish(url: str, backend: str) -> str:
    """An admin API key, fresh planner statistics, and (SQLite) the WAL folded into the file."""
    from hub.access import NATIONAL
    from hub.api_keys import create_api_key
    from hub.db import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            _, key = create_api_key(session, name="bench-admin", role="admin", region_code=NATIONAL)
    finally:
        engine.dispose()
    if backend == "postgres":
        from hub.db import sync_url

        e = create_engine(sync_url(url), isolation_level="AUTOCOMMIT")
        with e.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        e.dispose()
    else:
        e = make_engine(url)
        with e.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        e.dispose()
    return key


def _counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from hub.db import make_engine
    from hub.models import Base

    engine = make_engine(url)
    out: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            for name in ("clues", "channel_records", "enterprises", "projects", "workers", "payroll_records"):
                out[name] = conn.execute(select(func.count()).select_from(Base.metadata.tables[name])).scalar_one()
    finally:
        engine.dispose()
    return out


def prepare(
    backend: str,
    scale: str,
    *,
    console: Any = None,
    rebuild: bool = False,
    data_dir: Path | None = None,
    server: str | None = None,
    seed: int = SEED,
    today: dt.date = TODAY,
) -> Dataset:
    """The seeded database of ``backend`` × ``scale``: re-used when complete, else (re)built."""
    from hub.migrate import upgrade

    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: use one of {', '.join(SCALES)}")
    say: Say = (lambda msg: console.print(msg)) if console is not None else (lambda _msg: None)
    server = server or postgres_server_url()
    url = sqlite_url(scale, data_dir) if backend == "sqlite" else postgres_url(scale, server)
    wanted = _wanted(scale, seed, today)
    code = seed_code_hash()
    where = str(make_url(url).database) if backend == "sqlite" else f"database {make_url(url).database}"

    marker = None if rebuild else read_marker(url)
    if marker is not None and all(marker.get(k) == v for k, v in wanted.items()):
        stale = marker.get("seed_code") != code
        if stale:
            say(f"[yellow]{backend}/{scale}: re-using {where}, built by older seed code "
                f"({marker.get('seed_code')} ≠ {code}); pass --rebuild to rebuild it[/]")
        else:
            say(f"{backend}/{scale}: re-using {where} (built {marker.get('built_at')} in {marker.get('build_seconds', 0):.0f} s)")
        return Dataset(
            backend=backend, scale=scale, url=url, region=wanted["region"], seed=seed, today=today, api_key=marker["api_key"],
            counts=marker.get("counts", {}), build_seconds=marker.get("build_seconds"), built_at=marker.get("built_at"),
            reused=True, seed_code=marker.get("seed_code"), stale_seed_code=stale,
        )

    reason = "--rebuild" if rebuild else ("absent or incomplete" if marker is None else "built with other parameters")
    say(f"[bold]{backend}/{scale}: building {where}[/] ({reason}; seed {seed}, region {wanted['region']}, day {today})")
    started = time.perf_counter()
    if backend == "sqlite":
        _reset_sqlite(url)
    else:
        _reset_postgres(url, server)
    upgrade(url)
    t_seed = time.perf_counter()
    summary = _seed_with_progress(url, scale=scale, seed=seed, today=today, console=console)
    seeded = time.perf_counter() - t_seed
    key = _finish(url, backend)
    counts = dict(getattr(summary, "counts", {}) or {}) or _counts(url)
    build_seconds = time.perf_counter() - started
    built_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _write_marker(url, {
        **wanted, "seed_code": code, "api_key": key, "counts": counts, "build_seconds": round(build_seconds, 1),
        "seed_seconds": round(seeded, 1), "built_at": built_at,
    })
    say(f"{backend}/{scale}: built in [bold]{build_seconds:.0f} s[/] (seeding {seeded:.0f} s, migrations, key and "
        f"ANALYZE the rest): {counts.get('clues', 0):,} clues, {counts.get('payroll_records', 0):,} payroll records")
    return Dataset(
        backend=backend, scale=scale, url=url, region=wanted["region"], seed=seed, today=today, api_key=key, counts=counts,
        build_seconds=round(build_seconds, 1), built_at=built_at, reused=False, seed_code=code,
    )
