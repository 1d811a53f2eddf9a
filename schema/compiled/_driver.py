"""The statements a plan keeps between runs, run as the driver's SQL (async psycopg, SQLite's sqlite3).

A plan keeps its root page's statement and its relations' (``schema.compiled._run``: the cursor, the page
size and the keys are bound parameters, so the same statement object serves every run). SQLAlchemy still
compiles each one — once, with the principal's criteria (``hub.access.limiting_options``) — and its
events still fire: ``before_cursor_execute`` / ``after_cursor_execute`` on the engine, and an error is
handled as SQLAlchemy handles its own (``handle_error``: the request's time limit becomes
``QueryTimeout``, a dead connection is invalidated, parameters never reach the message). What is left
out is SQLAlchemy's work per execution: the execution context, the result's metadata and, on the async
PostgreSQL driver, its asyncio adaptation of the cursor — which there costs more than the round trip
itself (``bench/README.md``). On any other driver, and for a statement whose SQL changes with its
parameters (an expanding ``IN``), SQLAlchemy executes it as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.util import await_only


@dataclass(slots=True)
class Kept:
    """A statement a plan keeps, limited to a principal's jurisdiction, and the driver's SQL for it by
    dialect, once compiled: (SQL, the compiled form, its bind processors), or ``None`` when it must be
    executed by SQLAlchemy. ``driver=False``: always executed by SQLAlchemy (made for one run only)."""

    stmt: Any
    driver: dict[Any, tuple[str, Any, Mapping[str, Callable[[Any], Any]]] | None] | bool = True


@dataclass(frozen=True, slots=True)
class Driver:
    """The DBAPI connection under a SQLAlchemy ``Connection``, and whether its calls are awaited (async
    psycopg, run in a greenlet of ``AsyncConnection.run_sync`` or ``greenlet_spawn``)."""

    connection: Any
    awaited: bool


def driver_of(connection: Connection) -> Driver | None:
    """The driver under ``connection`` when it is one this module runs SQL on (async psycopg, sqlite3),
    else ``None``."""
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg" and dialect.is_async:
        return Driver(connection.connection.driver_connection, awaited=True)
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        return Driver(connection.connection.driver_connection, awaited=False)
    return None


def driver_sql(kept: Kept, connection: Connection) -> tuple[str, Any, Mapping[str, Callable[[Any], Any]]] | None:
    """``kept``'s driver SQL for ``connection``'s dialect, compiled on first use; ``None`` when SQLAlchemy
    must execute it (made for one run, its SQL depends on its parameters, or names them in a way the
    driver would not)."""
    if kept.driver is False:
        return None
    if kept.driver is True:
        kept.driver = {}
    dialect = connection.dialect
    try:
        return kept.driver[dialect]
    except KeyError:
        compiled = kept.stmt.compile(dialect=dialect)
        plain = not (compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names)
        made = (compiled.string, compiled, compiled._bind_processors) if plain else None
        kept.driver[dialect] = made
        return made


def run(
    connection: Connection,
    driver: Driver,
    sql: str,
    compiled: Any,
    processors: Mapping[str, Callable[[Any], Any]],
    params: Mapping[str, Any],
) -> tuple[Sequence[Any], Sequence[Any]]:
    """Rows and description of compiled statement ``sql`` with ``params`` (over the values it binds itself),
    as SQLAlchemy's execution would send them (``DefaultExecutionContext``: every bound value through its
    type's bind processor, in the compiled order for a positional driver)."""
    values = compiled.construct_params(params, escape_names=False, _check=False)
    bound = {k: (processors[k](v) if k in processors else v) for k, v in values.items()}
    if compiled.positional:
        return run_sql(connection, driver, sql, tuple(bound[k] for k in compiled.positiontup))
    return run_sql(connection, driver, sql, bound)


def run_sql(
    connection: Connection, driver: Driver, sql: str, bound: Mapping[str, Any] | Sequence[Any]
) -> tuple[Sequence[Any], Sequence[Any]]:
    """Rows and description of driver SQL ``sql`` with ``bound`` (the driver's values), with the engine's
    cursor events and SQLAlchemy's error handling (see the module docstring)."""
    cursor = driver.connection.cursor()
    events = connection._has_events or connection.engine._has_events
    try:
        if events:
            connection.dispatch.before_cursor_execute(connection, cursor, sql, bound, None, False)
        if driver.awaited:  # one switch to the event loop for the whole exchange, the cursor closed in it
            rows, description = await_only(_exchange(cursor, sql, bound))
        else:
            try:
                cursor.execute(sql, bound)
                rows, description = cursor.fetchall(), cursor.description
            finally:
                cursor.close()
        if events:
            connection.dispatch.after_cursor_execute(connection, cursor, sql, bound, None, False)
    except connection.dialect.loaded_dbapi.Error as exc:
        connection._handle_dbapi_exception(exc, sql, bound, None, None)  # (the cursor is closed)
        raise  # (never: the call above raises SQLAlchemy's exception for it)
    return rows, description


async def _exchange(cursor: Any, sql: str, bound: Mapping[str, Any] | Sequence[Any]) -> tuple[list[Any], Any]:
    try:
        await cursor.execute(sql, bound)
        return await cursor.fetchall(), cursor.description
    finally:
        await cursor.close()
