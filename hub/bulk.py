"""Bulk writes on PostgreSQL: a page's rows COPYed into a staging table, then one statement per table.

A large page (``hub.ingest.Ingestor``'s ``copy_min_rows``) is written this way instead of row by row:

1. ``CREATE TEMP TABLE … ON COMMIT DROP AS SELECT <columns> FROM <table> WITH NO DATA`` — the
   target's column types, none of its constraints; it disappears with the page's transaction, so a
   rolled-back page leaves nothing behind and per-page atomicity is the caller's transaction as before;
2. ``COPY … FROM STDIN`` of the rows (values through the columns' SQLAlchemy bind processors, so a
   ``UtcDateTime`` or a JSON document is stored as the ORM path stores it);
3. one ``INSERT … SELECT … ON CONFLICT (natural key)``: ``DO UPDATE`` only where a compared column
   differs, ``RETURNING`` which rows were inserted (``xmax = 0``) and which updated; the rows it does
   not return were unchanged.

SQLite has no COPY; it keeps the executemany path (``hub.ingest``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Table, column, literal, literal_column, or_, select, table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Written:
    """A row an upsert inserted or updated: its id, whether it is new, its project (if it has one)."""

    id: int
    inserted: bool
    project_id: int | None = None


def supported(session: Session) -> bool:
    """Whether the session's database takes the COPY path (PostgreSQL through psycopg 3)."""
    return session.get_bind().dialect.name == "postgresql"


def _defaults(target: Table, given: set[str]) -> dict[str, Any]:
    """Python-side column defaults of the columns ``given`` lacks (INSERT … SELECT does not apply them)."""
    out: dict[str, Any] = {}
    for col in target.columns:
        if col.name in given or col.primary_key or col.default is None:
            continue
        default: Any = col.default
        if default.is_scalar:
            out[col.name] = default.arg
        elif default.is_callable:
            out[col.name] = default.arg(None)
    return out


def _stage(session: Session, target: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Any:
    """A temporary table of ``columns`` (the target's types) holding ``rows``; its lightweight ``table()``."""
    # One name per table and set of columns, so that every page sends the same statements (SQLAlchemy's
    # compiled cache and psycopg's prepared statements hit, instead of filling up with one-off texts);
    # an earlier stage of the same name in this transaction has been consumed already.
    name = f"_stage_{target.name}_{zlib.crc32(','.join(columns).encode()):08x}"
    quote = session.get_bind().dialect.identifier_preparer.quote
    col_list = ", ".join(quote(c) for c in columns)
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{name}"))
    session.execute(
        text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS SELECT {col_list} FROM {quote(target.name)} WITH NO DATA")
    )
    dialect = session.get_bind().dialect
    processors: list[Callable[[Any], Any] | None] = [
        target.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns
    ]
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cur, cur.copy(f"COPY {name} ({col_list}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in rows:
            values = [row[c] for c in columns]
            copy.write_row(
                [p(v) if p is not None and v is not None else v for p, v in zip(processors, values, strict=True)]
            )
    return table(name, *(column(c, target.c[c].type) for c in columns))


def upsert(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    key_cols: Sequence[str],
    *,
    volatile: frozenset[str] = frozenset(),
    project: bool = False,
) -> list[Written]:
    """Insert ``rows`` (one set of columns, unique natural keys) into ``model``'s table, or update those that differ.

    The semantics of ``hub.ingest.Ingestor._upsert``: a row whose natural key exists is updated only
    when a compared column differs; ``volatile`` columns (ciphertexts, a new IV each time) are written
    with such a change and never compared; columns a row does not carry are left as they are.
    ``project``: return each written row's ``project_id`` too.
    """
    if not rows:
        return []
    target: Table = model.__table__
    columns = list(rows[0])
    defaults = _defaults(target, set(columns))
    stage = _stage(session, target, columns, rows)
    select_list: list[Any] = [stage.c[c] for c in columns]
    select_list += [literal(v, type_=target.c[c].type).label(c) for c, v in defaults.items()]
    stmt = pg_insert(target).from_select([*columns, *defaults], select(*select_list))
    settable = [c for c in columns if c not in key_cols]
    compared = [c for c in settable if c not in volatile]
    if compared:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key_cols),
            set_={c: stmt.excluded[c] for c in settable},
            where=or_(*(target.c[c].is_distinct_from(stmt.excluded[c]) for c in compared)),
        )
    else:  # nothing to compare: an existing row is unchanged whatever its ciphertexts
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key_cols))
    # xmax is 0 on a row version this statement inserted, the updating transaction's id on one it updated.
    inserted = literal_column("(xmax = 0)", Boolean)
    if project:
        returning = stmt.returning(target.c.id, inserted, target.c.project_id)
        return [Written(r[0], bool(r[1]), r[2]) for r in session.execute(returning)]
    return [Written(r[0], bool(r[1])) for r in session.execute(stmt.returning(target.c.id, inserted))]


def insert_new(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    conflict_cols: Sequence[str],
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Insert the ``rows`` whose ``conflict_cols`` are not stored yet; ``returning`` of those inserted."""
    if not rows:
        return []
    target: Table = model.__table__
    columns = list(rows[0])
    stage = _stage(session, target, columns, rows)
    stmt = (
        pg_insert(target)
        .from_select(columns, select(*(stage.c[c] for c in columns)))
        .on_conflict_do_nothing(index_elements=list(conflict_cols))
        .returning(*(target.c[c] for c in returning))
    )
    return [tuple(r) for r in session.execute(stmt)]
