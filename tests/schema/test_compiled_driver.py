"""Kept statements run as the driver's SQL, on async psycopg and on sqlite3 (schema/compiled/_driver.py):
the same rows as SQLAlchemy's execution, its events, and its handling of errors — the time limit,
hidden parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Integer, Text, bindparam, column, event, func, literal, select, table, text
from sqlalchemy.exc import DBAPIError

import hub.db
from hub.errors import QueryTimeout
from schema.compiled._driver import Kept, driver_of, driver_sql, run

#: A value that must never reach an error message (hide_parameters).
SECRET = "110101199003077777"


#: A statement that would run for seconds.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) SELECT count(*) AS count FROM c",
    "postgres": "SELECT count(*) AS count FROM (SELECT pg_sleep(1) FROM generate_series(1, :n)) AS s",
}


class Read:
    """The read engine of compiled plans, and a way to run a synchronous function on one of its connections."""

    def __init__(self, engine: Any) -> None:
        self.engine = hub.db.sync_engine_of(engine)
        self.async_engine = engine if engine is not self.engine else None

    async def run(self, work: Callable[[Connection], Any]) -> Any:
        if self.async_engine is not None:
            async with self.async_engine.connect() as conn:
                return await conn.run_sync(work)
        with self.engine.connect() as conn:
            return work(conn)


@pytest.fixture
async def read(demo) -> AsyncIterator[Read]:  # type: ignore[no-untyped-def]
    engine = hub.db.make_read_engine(demo.url, statement_timeout=0.3)
    yield Read(engine)
    await hub.db.dispose(engine)


def kept_rows(connection: Connection, kept: Kept, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    made = driver_sql(kept, connection)
    assert made is not None
    sql, compiled, bind = made
    driver = driver_of(connection)
    assert driver is not None
    rows, _ = run(connection, driver, sql, compiled, bind, params)
    return [tuple(r) for r in rows]


async def test_a_kept_statement_gives_sqlalchemys_rows_and_fires_its_events(read: Read) -> None:
    # Given a statement with a value of its own and one bound at each run, and a listener on the engine
    stmt = select(literal("a") + bindparam("x", type_=Text()), func.abs(bindparam("n", type_=Integer())))
    seen: list[str] = []
    event.listen(read.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))

    def work(c: Connection) -> list[Any]:
        expected = [tuple(r) for r in c.execute(stmt, {"x": "b", "n": -3}).all()]
        # When it runs as the driver's SQL, twice with other values
        return [expected, kept_rows(c, Kept(stmt), {"x": "b", "n": -3}), kept_rows(c, Kept(stmt), {"x": "c", "n": 4})]

    expected, *got = await read.run(work)
    # Then the rows are SQLAlchemy's, and the listener saw every statement
    assert got == [expected, [("ac", 4)]]
    assert len(seen) == 3


async def test_a_kept_statement_over_the_time_limit_is_query_timeout_and_the_connection_serves_on(
    read: Read, backend: str
) -> None:
    # Given a statement that would run for seconds under a limit of 0.3 s, with a personal value beside it
    slow = Kept(select(text(SLOW[backend]).columns(column("count", Integer())).subquery(), literal(SECRET)))

    def work(c: Connection) -> Any:
        # When it runs as the driver's SQL
        with pytest.raises(QueryTimeout) as raised:
            kept_rows(c, slow, {"n": 10**12 if backend == "sqlite" else 60})
        return raised.value, kept_rows(c, Kept(select(literal(42))), {})

    error, after = await read.run(work)
    # Then the time limit's error, which names no value
    assert "longer than the limit of 0.3 s" in str(error)
    assert SECRET not in repr(error) and SECRET not in str(error.__cause__)
    # And the connection answered the next statement
    assert after == [(42,)]


async def test_a_failing_kept_statement_raises_sqlalchemys_error_without_its_values(read: Read) -> None:
    # Given a statement the database refuses (no such table) with a personal value among its parameters
    bad = Kept(
        select(column("x")).select_from(table("no_such_table")).where(column("who") == bindparam("who", type_=Text()))
    )
    # When it runs as the driver's SQL
    with pytest.raises(DBAPIError) as raised:
        await read.run(lambda c: kept_rows(c, bad, {"who": SECRET}))
    # Then SQLAlchemy's error, parameters hidden
    assert "no_such_table" in str(raised.value)
    assert SECRET not in str(raised.value)
