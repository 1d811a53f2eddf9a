"""Kept statements run as the driver's SQL on async psycopg (schema/compiled/_driver.py): the same rows
as SQLAlchemy's execution, its events, and its handling of errors — the time limit, hidden parameters."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, Float, Integer, Text, bindparam, event, func, literal, select
from sqlalchemy.exc import DBAPIError

import hub.db
from hub.errors import QueryTimeout
from schema.compiled._driver import Kept, async_psycopg, driver_sql, run

#: A value that must never reach an error message (hide_parameters).
SECRET = "110101199003077777"


@pytest.fixture
async def read(demo, backend):  # type: ignore[no-untyped-def]
    if backend != "postgres":
        pytest.skip("the driver's SQL path serves async psycopg; SQLite's statements run through SQLAlchemy")
    engine = hub.db.make_read_engine(demo.url, statement_timeout=0.3)
    yield engine
    await hub.db.dispose(engine)


def kept_rows(connection: Connection, kept: Kept, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    made = driver_sql(kept, connection)
    assert made is not None
    sql, compiled, bind = made
    rows, _ = run(connection, async_psycopg(connection), sql, compiled, bind, params)
    return [tuple(r) for r in rows]


async def test_a_kept_statement_gives_sqlalchemys_rows_and_fires_its_events(read) -> None:  # type: ignore[no-untyped-def]
    # Given a statement with a value of its own and one bound at each run, and a listener on the engine
    stmt = select(literal("a") + bindparam("x", type_=Text()), func.abs(bindparam("n", type_=Integer())))
    seen: list[str] = []
    event.listen(read.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    async with read.connect() as conn:
        expected = [tuple(r) for r in (await conn.execute(stmt, {"x": "b", "n": -3})).all()]
        # When it runs as the driver's SQL, twice with other values
        got = await conn.run_sync(
            lambda c: [kept_rows(c, Kept(stmt), {"x": "b", "n": -3}), kept_rows(c, Kept(stmt), {"x": "c", "n": 4})]
        )
    # Then the rows are SQLAlchemy's, and the listener saw every statement
    assert got == [expected, [("ac", 4)]]
    assert len(seen) == 3


async def test_a_kept_statement_over_the_time_limit_is_query_timeout_and_the_connection_serves_on(read) -> None:  # type: ignore[no-untyped-def]
    # Given a statement that would run for seconds under a limit of 0.3 s
    slow = Kept(select(func.pg_sleep(bindparam("s", type_=Float())), literal(SECRET)))
    async with read.connect() as conn:
        # When it runs as the driver's SQL
        with pytest.raises(QueryTimeout) as raised:
            await conn.run_sync(lambda c: kept_rows(c, slow, {"s": 5.0}))
        # Then the time limit's error, which names no value
        assert "longer than the limit of 0.3 s" in str(raised.value)
        assert SECRET not in repr(raised.value) and SECRET not in str(raised.value.__cause__)
        # And the connection answers the next statement
        assert await conn.run_sync(lambda c: kept_rows(c, Kept(select(literal(42))), {})) == [(42,)]


async def test_a_failing_kept_statement_raises_sqlalchemys_error_without_its_values(read) -> None:  # type: ignore[no-untyped-def]
    # Given a statement the server refuses (a division by zero) with a personal value among its parameters
    bad = Kept(select(literal(1) / bindparam("zero", type_=Integer()), bindparam("who", type_=Text())))
    async with read.connect() as conn:
        # When it runs as the driver's SQL
        with pytest.raises(DBAPIError) as raised:
            await conn.run_sync(lambda c: kept_rows(c, bad, {"zero": 0, "who": SECRET}))
    # Then SQLAlchemy's error, parameters hidden
    assert "division by zero" in str(raised.value)
    assert SECRET not in str(raised.value)
