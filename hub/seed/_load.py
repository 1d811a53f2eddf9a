"""Write generated rows to the database fast: Core executemany on SQLite, COPY on PostgreSQL.

Rows arrive as one stream of ``(table, row)`` with parents before children. They are buffered per
table; when the buffer holds ``batch_size`` rows, every table's buffer is written in foreign-key
order in one transaction, so a child row never reaches the database before its parent and memory
stays bounded. Both backends receive the same Python values and store the same data.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

from sqlalchemy import JSON, Table, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from hub.models import Base, Region
from hub.regions import bundled_towns, iter_regions

#: Tables the seed writes, parents first.
TABLE_ORDER = (
    "enterprises",
    "projects",
    "wage_accounts",
    "labor_cost_allocations",
    "workers",
    "payroll_records",
    "teams",
    "attendance",
    "site_movements",
    "project_contracts",
    "progress_payments",
    "account_expenses",
    "output_values",
    "guarantee_deposits",
    "raw_records",
    "clues",
    "channel_records",
    "clue_match_keys",
    "case_actions",
    "penalties",
    "blacklist_entries",
    "events",
)

Progress = Callable[[str, int, int], None]
Batch = list[tuple[str, list[dict[str, Any]]]]


def load_regions(engine: Engine) -> int:
    """Load the GB/T 2260 region hierarchy from :func:`hub.regions.iter_regions`, and the towns of the
    checked-in town files (:func:`hub.regions.bundled_towns`: the demo city's); returns rows added.

    Idempotent: regions already present are skipped, so a second call adds nothing.
    """
    table: Table = Base.metadata.tables[Region.__tablename__]
    with engine.begin() as conn:
        have = set(conn.scalars(select(table.c.code)))
        rows = [
            {
                "code": r.code,
                "name": r.name,
                "full_name": r.full_name,
                "level": r.level,
                "kind": r.kind,
                "parent_code": r.parent_code,
            }
            for r in chain(iter_regions(), bundled_towns())
            if r.code not in have
        ]
        if rows:
            conn.execute(insert(table), rows)  # parents before children: counties before their towns
    return len(rows)


class _Columns:
    """Column order, scalar defaults and JSON columns of one table."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.names = [c.name for c in table.columns]
        self.defaults: dict[str, Any] = {
            c.name: c.default.arg for c in table.columns if isinstance(c.default, ScalarElementColumnDefault)
        }
        self.json = {c.name for c in table.columns if isinstance(c.type, JSON)}
        self.checked = False

    def complete(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row with every column present (scalar defaults or NULL for the missing ones)."""
        if not self.checked:
            unknown = set(row) - set(self.names)
            if unknown:
                raise KeyError(f"{self.table.name}: unknown columns {sorted(unknown)}")
            self.checked = True
        if len(row) == len(self.names):
            return row
        return {n: row[n] if n in row else self.defaults.get(n) for n in self.names}


class Loader:
    """Buffers rows and writes them in batches, parents first; counts what it wrote."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 20_000,
        progress: Progress | None = None,
        totals: dict[str, int] | None = None,
        threaded: bool = True,
    ) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.batch_size = batch_size
        self.progress = progress
        self.totals = dict(totals or {})
        self.threaded = threaded
        tables = Base.metadata.tables
        self.columns = {name: _Columns(tables[name]) for name in TABLE_ORDER}
        self.buffers: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLE_ORDER}
        self.counts: dict[str, int] = dict.fromkeys(TABLE_ORDER, 0)
        self.pending = 0
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=2)
        self._written: queue.Queue[Batch] = queue.Queue()
        self._error: BaseException | None = None

    def load(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, int]:
        """Write every row of the stream; returns the row count per table.

        With ``threaded`` (the default) a writer thread writes batch N while the stream generates
        batch N+1: the database works (index upkeep, foreign-key checks) while Python generates.
        Batches are still written one after another, in stream order.
        """
        writer = threading.Thread(target=self._writer, name="seed-writer", daemon=True) if self.threaded else None
        if writer:
            writer.start()
        try:
            for table, row in rows:
                self.buffers[table].append(row)  # flush() swaps in fresh lists: no local alias
                self.pending += 1
                if self.pending >= self.batch_size:
                    self.flush()
            self.flush()
        finally:
            if writer:
                self._put(None)
                writer.join()
        self._report()
        if self._error:
            raise self._error
        if self.postgres:
            self._reset_sequences()
        if self.progress:
            for name in TABLE_ORDER:
                self.progress(name, self.counts[name], self.counts[name])  # final: totals are now exact
        return dict(self.counts)

    def flush(self) -> None:
        """Hand every buffered row to the writer (parents first, one transaction)."""
        if not self.pending:
            return
        batch = [(n, self.buffers[n]) for n in TABLE_ORDER if self.buffers[n]]
        self.buffers = {name: [] for name in TABLE_ORDER}
        self.pending = 0
        if self.threaded:
            self._put(batch)
            self._report()
        else:
            self._write(batch)
            self._written.put(batch)
            self._report()

    def _put(self, batch: Batch | None) -> None:
        while True:
            if self._error and batch is not None:
                raise self._error
            try:
                self._queue.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def _writer(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error:
                continue  # keep draining so that the producer never blocks
            try:
                self._write(batch)
                self._written.put(batch)
            except BaseException as exc:  # re-raised in the producer's thread
                self._error = exc

    def _report(self) -> None:
        """Count written batches and tell ``progress`` (always from the caller's thread)."""
        while True:
            try:
                batch = self._written.get_nowait()
            except queue.Empty:
                return
            for name, rows in batch:
                self.counts[name] += len(rows)
                if self.progress:
                    self.progress(name, self.counts[name], max(self.totals.get(name, 0), self.counts[name]))

    def _write(self, batch: Batch) -> None:
        """Write one batch, parents first, in one transaction."""
        batch = [(n, [self.columns[n].complete(r) for r in rows]) for n, rows in batch]
        if self.postgres:
            self._copy(batch)
        else:
            with self.engine.begin() as conn:
                for name, rows in batch:
                    conn.execute(insert(self.columns[name].table), rows)

    def _copy(self, batches: list[tuple[str, list[dict[str, Any]]]]) -> None:
        """PostgreSQL: ``COPY ... FROM STDIN`` per table through psycopg 3, one transaction."""
        raw = self.engine.raw_connection()
        conn = raw.driver_connection
        if conn is None:  # a connection fresh from the pool always has its driver connection
            raw.close()
            raise RuntimeError("the pool gave a connection without a driver connection")
        try:
            with conn.cursor() as cur:
                for name, rows in batches:
                    cols = self.columns[name]
                    names = cols.names
                    jsons = [i for i, n in enumerate(names) if n in cols.json]
                    quoted = ", ".join(f'"{n}"' for n in names)
                    with cur.copy(f'COPY "{name}" ({quoted}) FROM STDIN') as copy:
                        for row in rows:
                            values = [row[n] for n in names]
                            for i in jsons:  # jsonb takes its text form
                                if values[i] is not None:
                                    values[i] = json.dumps(values[i], ensure_ascii=False)
                            copy.write_row(values)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            raw.close()

    def _reset_sequences(self) -> None:
        """Explicit ids bypass the sequences: move each to the table's max(id)."""
        with self.engine.begin() as conn:
            for name in TABLE_ORDER:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
                    f"FROM {name}"
                )


def table_counts(engine: Engine, tables: Iterable[str] = TABLE_ORDER) -> dict[str, int]:
    """Row count per table."""
    meta = Base.metadata.tables
    with engine.connect() as conn:
        return {t: conn.scalar(select(func.count()).select_from(meta[t])) or 0 for t in tables}
