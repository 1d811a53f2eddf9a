"""A compiled plan turns the driver's values into answers in one step (schema/compiled/_values.py).

Each shortened path must give exactly what SQLAlchemy's result processor followed by the GraphQL
serializer gives — the path the interpreter takes — for the values the databases hand back, and send
anything else down that composed path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from graphql import GraphQLError
from graphql.type.scalars import serialize_int
from sqlalchemy import Boolean, Date, Integer, Numeric, String
from sqlalchemy.dialects import postgresql, sqlite

from hub.models._base import UtcDateTime
from schema.build import build_schema
from schema.compiled._values import answer, process_at, processors

SQLITE = sqlite.pysqlite.dialect()
POSTGRES = postgresql.psycopg.dialect()
#: psycopg's type codes (OIDs) as the cursor's description gives them.
TIMESTAMPTZ, NUMERIC = 1184, 1700

_GRAPHQL = build_schema()._schema
DATETIME = _GRAPHQL.type_map["DateTime"].serialize
DATE = _GRAPHQL.type_map["Date"].serialize
DECIMAL = _GRAPHQL.type_map["Decimal"].serialize


def composed(sql_type: Any, dialect: Any, coltype: Any, serialize: Any, value: Any) -> Any:
    """What the interpreter's path gives: SQLAlchemy's result processor, then the serializer."""
    (proc,) = processors(dialect, [sql_type], [coltype])
    processed = proc(value) if proc is not None else value
    return serialize(processed) if serialize is not None else processed


def fused(sql_type: Any, dialect: Any, coltype: Any, serialize: Any, value: Any) -> Any:
    (proc,) = processors(dialect, [sql_type], [coltype])
    convert = answer(sql_type, dialect.name, proc, serialize)
    return value if convert is None else convert(value)


@pytest.mark.parametrize(
    "stored",
    [
        "2026-11-30 23:59:59.000000",  # whole seconds: isoformat() drops the fraction
        "2026-11-30 00:00:00.000001",
        "2026-02-28 12:34:56.789000",
        "1999-12-31 23:59:59.999999",
        "2026-11-30 08:00:00",  # written by hand, without a fraction: the composed path
        "2026-11-30T08:00:00.500000",  # another layout: the composed path
    ],
)
def test_sqlite_timestamps_answer_as_the_interpreter(stored: str) -> None:
    # Given a UtcDateTime as SQLite stores it, When it is answered, Then it is the aware value's isoformat()
    expected = composed(UtcDateTime(), SQLITE, None, DATETIME, stored)
    assert fused(UtcDateTime(), SQLITE, None, DATETIME, stored) == expected
    assert expected.endswith("+00:00")


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 30, 0, 0, 0, 1, tzinfo=ZoneInfo("UTC")),
        # a session in another time zone: converted to UTC as UtcDateTime does
        dt.datetime(2026, 12, 1, 7, 59, 59, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),
        dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    ],
)
def test_postgresql_timestamps_answer_as_the_interpreter(value: dt.datetime) -> None:
    expected = composed(UtcDateTime(), POSTGRES, TIMESTAMPTZ, DATETIME, value)
    assert fused(UtcDateTime(), POSTGRES, TIMESTAMPTZ, DATETIME, value) == expected
    assert expected.endswith("+00:00")


@pytest.mark.parametrize("stored", ["2026-11-30", "2000-02-29", "1970-01-01"])
def test_sqlite_dates_answer_as_the_interpreter(stored: str) -> None:
    assert fused(Date(), SQLITE, None, DATE, stored) == composed(Date(), SQLITE, None, DATE, stored) == stored


@pytest.mark.parametrize("stored", [12.5, 0.0, 3, 1234567.89, 0.1 + 0.2, 99999999999.99, -7.005])
def test_sqlite_amounts_answer_as_the_interpreter(stored: float) -> None:
    # Given a Numeric(14, 2) as SQLite hands it back (a float, or an integer for a whole amount)
    amount = Numeric(14, 2)
    # Then the answer is str() of the Decimal SQLAlchemy makes of it
    assert fused(amount, SQLITE, None, DECIMAL, stored) == composed(amount, SQLITE, None, DECIMAL, stored)


def test_postgresql_amounts_are_the_drivers_decimals() -> None:
    from decimal import Decimal

    amount = Numeric(14, 2)
    value = Decimal("12.50")
    assert fused(amount, POSTGRES, NUMERIC, DECIMAL, value) == composed(amount, POSTGRES, NUMERIC, DECIMAL, value)
    assert fused(amount, POSTGRES, NUMERIC, DECIMAL, value) == "12.50"


@pytest.mark.parametrize("value", [0, 1, -1, 2**31 - 1, -(2**31), 42])
def test_ints_in_range_are_themselves(value: int) -> None:
    assert fused(Integer(), SQLITE, None, serialize_int, value) == serialize_int(value) == value


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1])
def test_ints_out_of_range_raise_the_interpreters_error(value: int) -> None:
    with pytest.raises(GraphQLError) as expected:
        serialize_int(value)
    with pytest.raises(GraphQLError) as got:
        fused(Integer(), SQLITE, None, serialize_int, value)
    assert got.value.message == expected.value.message


def test_sqlite_booleans_are_processed_even_without_a_serializer() -> None:
    # A Boolean column read as itself (no serializer) is still an int in SQLite: the processor applies
    assert fused(Boolean(), SQLITE, None, None, 1) is True
    assert fused(Boolean(), SQLITE, None, None, 0) is False


def test_a_string_without_processor_is_its_own_answer() -> None:
    (proc,) = processors(SQLITE, [String()], [None])
    assert answer(String(), "sqlite", proc, None) is None


def test_process_at_copies_rows_only_when_a_column_there_has_a_processor() -> None:
    rows = [(1, "2026-11-30", None), (2, None, "x")]
    procs = processors(SQLITE, [Integer(), Date(), String()], [None, None, None])
    # keys without processors: the same rows, the same processors
    same_rows, same_procs = process_at(rows, procs, [0, 2])
    assert same_rows is rows and same_procs == procs
    # a date column read as a value: processed there, and no longer to be processed
    out, left = process_at(rows, procs, [1])
    assert out == [(1, dt.date(2026, 11, 30), None), (2, None, "x")]
    assert left[1] is None and left[0] is procs[0]
