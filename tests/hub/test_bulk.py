"""The COPY path (hub.bulk) stores what the row-by-row path stores, and counts it the same.

The same upstream pages go through both paths on PostgreSQL (the only database with COPY), each into
its own database: the rows left behind (foreign keys followed to their natural keys, ciphertexts
decrypted, raw payloads unsealed) and the created / updated / unchanged / quarantined counts must be
identical.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, select

from connectors import registry
from connectors.base import EnterpriseIn, ProjectIn, WorkerIn
from connectors.sandbox.faults import Faults
from connectors.sandbox.world import World, build_world
from connectors.testing import Clock, sandbox_factory, serve_asgi
from hub import bulk
from hub import models as m
from hub.archive import unseal
from hub.crypto import Cipher
from hub.db import make_engine, session_scope
from hub.identifiers import make_id_number, make_uscc
from hub.ingest import Ingestor
from hub.migrate import upgrade
from hub.records import Item
from hub.seed import load_regions
from hub.sync import SyncEngine
from tests.conftest import SECRET, TODAY, create_pg_database, drop_pg_database
from tests.connectors.conftest import create_instance

CIPHER = Cipher(SECRET)
#: Connectors whose streams between them write every table the upserts serve.
KINDS = ("permits", "realname", "bank_rest")
PATHS = {"row by row": None, "COPY": 1}
#: Natural keys of the tables other rows point at (foreign keys are compared through them).
NATURAL = {
    "enterprises": ("uscc",),
    "projects": ("project_code",),
    "wage_accounts": ("salary_account",),
    "workers": ("project_id", "id_number_hash"),
    "teams": ("project_id", "team_sys_no"),
    "raw_records": ("source", "stream", "source_key", "payload_hash"),
    "connector_instances": ("kind",),
    "regions": ("code",),
}
COMPARED = (
    "enterprises",
    "projects",
    "project_contracts",
    "progress_payments",
    "output_values",
    "wage_accounts",
    "teams",
    "workers",
    "site_movements",
    "attendance",
    "labor_cost_allocations",
    "account_expenses",
    "payroll_records",
    "guarantee_deposits",
    "raw_records",
    "quarantine",
)
#: Columns that differ by nature between two databases: ids, clocks, and sealing's random IVs.
VOLATILE = {"id", "created_at", "updated_at", "received_at", "replayed_at"}


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(today=TODAY, seed=7, scale="tiny", region="370800")


@pytest.fixture
def pg_databases(postgres_server: str) -> Iterator[dict[str, str]]:
    """One fresh, migrated database per path, holding only the regions."""
    urls = {path: create_pg_database(postgres_server) for path in PATHS}
    for url in urls.values():
        upgrade(url)
        engine = make_engine(url)
        load_regions(engine)
        engine.dispose()
    yield urls
    for url in urls.values():
        drop_pg_database(url)


def _snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every compared table's rows, sorted, with foreign keys replaced by the natural keys they point at."""
    meta = MetaData()
    meta.reflect(engine)
    keys: dict[str, dict[int, tuple]] = {}

    def natural(table: str, row_id: Any) -> Any:
        if row_id is None:
            return None
        if table not in keys:
            t = meta.tables[table]
            with engine.connect() as conn:
                rows = conn.execute(select(t.c.id, *(t.c[c] for c in NATURAL[table]))).all()
            keys[table] = {r[0]: r[1:] for r in rows}
            # a natural key that is itself a foreign key (a worker's project) is followed too
            for i, col in enumerate(NATURAL[table]):
                fk = next(iter(t.c[col].foreign_keys), None)
                if fk is not None:
                    keys[table] = {
                        k: (*v[:i], natural(fk.column.table.name, v[i]), *v[i + 1 :]) for k, v in keys[table].items()
                    }
        return keys[table][row_id]

    out: dict[str, list[tuple]] = {}
    for name in COMPARED:
        t: Table = meta.tables[name]
        cols = [c for c in t.c if c.name not in VOLATILE]
        with engine.connect() as conn:
            rows = conn.execute(select(*cols)).all()
        snap = []
        for row in rows:
            values = []
            for col, value in zip(cols, row, strict=True):
                fk = next(iter(col.foreign_keys), None)
                if fk is not None:
                    value = natural(fk.column.table.name, value)
                elif col.name.endswith("_enc") and value is not None:
                    value = CIPHER.decrypt(value)
                elif col.name == "payload":
                    value = unseal(value, CIPHER)
                values.append((col.name, repr(value)))
            snap.append(tuple(values))
        out[name] = sorted(snap)
    return out


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables written through COPY so far (one entry per statement)."""
    seen: list[str] = []
    for name in ("upsert", "insert_new"):
        real = getattr(bulk, name)

        def spy(session: Any, model: Any, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            seen.append(model.__tablename__)
            return _real(session, model, *args, **kwargs)

        monkeypatch.setattr(bulk, name, spy)
    return seen


def test_a_sync_through_copy_leaves_the_rows_and_counts_of_the_row_by_row_path(
    world: World, pg_databases: dict[str, str], copies: list[str]
) -> None:
    # Given the permit, real-name and bank sandboxes on one world, and an empty hub per path
    clock = Clock(dt.datetime.combine(TODAY, dt.time(9), tzinfo=dt.UTC))
    stats: dict[str, list[dict[str, Any]]] = {path: [] for path in PATHS}
    with _sandboxes(world, clock) as urls:
        instances = {
            path: {kind: _instance(url, kind, urls[kind]) for kind in KINDS} for path, url in pg_databases.items()
        }
        engines = {path: make_engine(url) for path, url in pg_databases.items()}
        try:
            # When each hub syncs them (a backfill), again after the upstreams moved on (live records),
            # and once more as a full refresh (everything read again: unchanged, ciphertexts aside)
            for step in ("backfill", "incremental", "full refresh"):
                if step == "incremental":
                    clock.advance(3 * 3600)
                for path, copy_min_rows in PATHS.items():
                    before = len(copies)
                    sync = SyncEngine(engines[path], cipher=CIPHER, copy_min_rows=copy_min_rows)
                    for kind in KINDS:
                        result = sync.run(instances[path][kind], full_refresh=step == "full refresh")
                        assert result.status == "succeeded", result.error
                        stats[path].append(
                            {f"{kind}/{step}/{s}": v.as_dict() | {"retries": 0} for s, v in result.stats.items()}
                        )
                    # (the row-by-row path never COPYs; the COPY path wrote the archive and the upserts so)
                    assert (len(copies) > before) == (copy_min_rows is not None), path
            # Then every stream counted the same, and the hubs hold the same rows
            assert stats["COPY"] == stats["row by row"]
            totals = [v for run in stats["COPY"] for v in run.values()]
            assert sum(s["created"] for s in totals) > 10_000
            assert sum(s["unchanged"] for s in totals) > 10_000
            assert _snapshot(engines["COPY"]) == _snapshot(engines["row by row"])
            assert {"raw_records", "workers", "payroll_records", "attendance", "projects"} <= set(copies)
            # And an ID number was encrypted once: the worker row holds the token its raw record was sealed with
            for engine in engines.values():
                with engine.connect() as conn:
                    tokens = set(conn.execute(select(m.Worker.id_number_enc)).scalars())
                    payloads = conn.execute(
                        select(m.RawRecord.payload).where(m.RawRecord.stream.in_(["workers", "pay_details"]))
                    ).scalars()
                    sealed = {p["idCardNumber"]["$enc"] for p in payloads}
                assert tokens and tokens <= sealed
        finally:
            for engine in engines.values():
                engine.dispose()


def test_copy_counts_created_updated_and_unchanged_like_the_row_by_row_path(pg_databases: dict[str, str]) -> None:
    # Given 30 enterprises stored, and a page that renames ten, repeats ten and adds ten
    rng = random.Random(3)
    usccs = [make_uscc(rng, region_code="370811") for _ in range(40)]
    first = [
        EnterpriseIn(uscc=u, name=f"济宁市第{i}建筑劳务有限公司", kind="labour_service")
        for i, u in enumerate(usccs[:30])
    ]
    second = [
        EnterpriseIn(uscc=u, name=f"济宁市第{i}建筑{'工程' if i < 10 else '劳务'}有限公司", kind="labour_service")
        for i, u in enumerate(usccs[:10] + usccs[10:20] + usccs[30:40])
    ]
    counts: dict[str, list[tuple[int, int, int, int]]] = {}
    snapshots = {}
    for path, copy_min_rows in PATHS.items():
        engine = make_engine(pg_databases[path])
        try:
            counts[path] = []
            for page in (first, second):
                # When each page is applied through this path
                with session_scope(engine) as session:
                    ingestor = Ingestor(session, cipher=CIPHER, source="test", copy_min_rows=copy_min_rows)
                    result = ingestor.apply([Item(e, None) for e in page])
                    touched = ingestor.touched()
                counts[path].append((result.created, result.updated, result.unchanged, len(result.problems)))
                assert touched.tables == frozenset({"enterprises"})
            with engine.connect() as conn:
                snapshots[path] = sorted(conn.execute(select(m.Enterprise.uscc, m.Enterprise.name)).all())
        finally:
            engine.dispose()
    # Then: 30 created; then 10 updated, 10 unchanged, 10 created — and the same names stored
    assert counts["row by row"] == [(30, 0, 0, 0), (10, 10, 10, 0)]
    assert counts["COPY"] == counts["row by row"]
    assert snapshots["COPY"] == snapshots["row by row"]


def test_a_worker_sent_again_is_unchanged_although_its_ciphertexts_are_new(pg_databases: dict[str, str]) -> None:
    # Given a roster of workers stored through COPY
    engine = make_engine(pg_databases["COPY"])
    try:
        uscc = make_uscc(random.Random(1), region_code="370811")
        with session_scope(engine) as session:
            Ingestor(session, cipher=CIPHER, source="test").apply(
                [
                    Item(EnterpriseIn(uscc=uscc, name="济宁市甲建筑劳务有限公司", kind="general_contractor"), None),
                    Item(ProjectIn("P1", "甲工地", "370811", "住建", "in_progress", contractor_uscc=uscc), None),
                ]
            )
        rng = random.Random(2)
        page = [
            Item(
                WorkerIn(
                    "P1",
                    uscc,
                    make_id_number(rng, region_code="370811", birth=dt.date(1980, 1, 1)),
                    f"工人{n}",
                    bank_card="6228480012345678903",
                ),
                None,
            )
            for n in range(2)
        ]
        results = []
        for _ in range(2):
            # When the same roster arrives twice (ciphertexts get new IVs each time)
            with session_scope(engine) as session:
                results.append(Ingestor(session, cipher=CIPHER, source="test", copy_min_rows=1).apply(page))
        # Then the second time nothing is counted as changed
        assert [(r.created, r.updated, r.unchanged) for r in results] == [(2, 0, 0), (0, 0, 2)]
    finally:
        engine.dispose()


# -- helpers ----------------------------------------------------------------------------------------


class _sandboxes:
    """The KINDS' sandboxes served on one world and clock: kind → base URL."""

    def __init__(self, world: World, clock: Clock) -> None:
        self.world, self.clock = world, clock
        self._stack: list[Any] = []

    def __enter__(self) -> dict[str, str]:
        urls = {}
        for kind in KINDS:
            create_app, _ = sandbox_factory(registry.get(kind))
            app = create_app(world=self.world, faults=Faults(), clock=self.clock, live_interval_seconds=600)
            cm = serve_asgi(app)
            urls[kind] = cm.__enter__()
            self._stack.append(cm)
        return urls

    def __exit__(self, *exc: object) -> None:
        for cm in reversed(self._stack):
            cm.__exit__(None, None, None)


def _instance(url: str, kind: str, base_url: str) -> int:
    connector = registry.get(kind)
    _, credentials = sandbox_factory(connector)
    secret_names = set(connector.config_model.secret_fields())
    page_size = {"permits": 100, "realname": 500}.get(kind, 1000)
    config = {"base_url": base_url, "page_size": page_size, "timeout_seconds": 30}
    config |= {k: v for k, v in credentials.items() if k not in secret_names}
    return create_instance(
        url, kind=kind, config=config, secrets={k: v for k, v in credentials.items() if k in secret_names}
    )
