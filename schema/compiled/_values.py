"""Rows as the driver gives them, and each value turned into its answer in one step.

A plan's statements run on the DBAPI cursor behind SQLAlchemy's connection: SQLAlchemy compiles them
(its statement cache, bound parameters, the principal's criteria), and the rows are the driver's own
tuples — no ``Row`` objects and no type processing on the way. A column's result processor (the one
SQLAlchemy would have run: ``TypeEngine.result_processor`` for the dialect and the cursor's type code)
is applied by whoever reads the value, once, fused with the GraphQL serializer where the answer is a
leaf (``answer``). For the few (type, serializer) pairs that make most of a page, ``answer`` goes from
the driver's value straight to the serialized one, checked against the composed path by
``tests/schema/test_compiled_values.py``:

- SQLite ``UtcDateTime`` (stored as ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC) → ``isoformat()`` of the
  aware value: ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00``, without parsing a datetime;
- an aware ``datetime`` already at offset zero (PostgreSQL's ``timestamptz`` in a UTC session) →
  its ``isoformat()`` without ``astimezone``;
- SQLite ``Date`` (``YYYY-MM-DD``) → itself;
- SQLite ``Numeric(scale=n)`` (a float or an integer) → ``"%.nf"``, what ``str`` of SQLAlchemy's
  ``Decimal`` gives;
- an ``int`` inside GraphQL's 32-bit range → itself (``serialize_int`` for the rest, errors included).

Any other value (a string in another layout, a naive datetime …) takes the composed path.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphql.type.scalars import serialize_int
from sqlalchemy import Date, Numeric
from sqlalchemy.engine import Dialect

from hub.models._base import UtcDateTime

Processor = Callable[[Any], Any]

_ISOFORMAT = operator.methodcaller("isoformat")
_ZERO = dt.timedelta(0)
_INT32 = (-(2**31), 2**31 - 1)

#: (type, dialect, DBAPI type code) → the type's result processor (``None``: the value is the driver's).
_PROCESSORS: dict[tuple[Any, Any, Any], Processor | None] = {}


def processors(dialect: Dialect, types: Sequence[Any], coltypes: Sequence[Any]) -> tuple[Processor | None, ...]:
    """Each column's result processor, as SQLAlchemy's result would apply it (memoized per type)."""
    out: list[Processor | None] = []
    for sql_type, coltype in zip(types, coltypes, strict=True):
        key = (sql_type, dialect, coltype)
        try:
            out.append(_PROCESSORS[key])
        except KeyError:
            proc = sql_type.dialect_impl(dialect).result_processor(dialect, coltype) if sql_type is not None else None
            if len(_PROCESSORS) < 4096:
                _PROCESSORS[key] = proc
            out.append(proc)
    return tuple(out)


def process_at(
    rows: Sequence[Any], procs: Sequence[Processor | None], indexes: Iterable[int]
) -> tuple[Sequence[Any], tuple[Processor | None, ...]]:
    """``rows`` with the values at ``indexes`` processed, and the processors left to apply (``None`` at
    those indexes). The rows are copied only when one of those columns has a processor (keys rarely do)."""
    todo = [(i, procs[i]) for i in dict.fromkeys(indexes) if procs[i] is not None]
    if not todo:
        return rows, tuple(procs)
    out = []
    for row in rows:
        values = list(row)
        for i, proc in todo:
            if values[i] is not None:
                values[i] = proc(values[i])  # type: ignore[misc]
        out.append(tuple(values))
    left = list(procs)
    for i, _ in todo:
        left[i] = None
    return out, tuple(left)


def answer(sql_type: Any, dialect_name: str, proc: Processor | None, serialize: Processor | None) -> Processor | None:
    """A function from the driver's value (never ``None``: the builder tests that) to the field's
    answer — ``serialize(proc(value))``, shortened where the module docstring says — or ``None`` when
    the value is its own answer."""
    if proc is None and serialize is None:
        return None
    if serialize is not None and _is_isoformat(serialize):
        if dialect_name == "sqlite" and isinstance(sql_type, UtcDateTime) and proc is not None:
            return _sqlite_utc(proc, serialize)
        if isinstance(sql_type, UtcDateTime) and proc is not None:
            return _aware_utc(proc, serialize)
        if dialect_name == "sqlite" and isinstance(sql_type, Date) and proc is not None:
            return _sqlite_date(proc, serialize)
    if (
        serialize is str
        and dialect_name == "sqlite"
        and isinstance(sql_type, Numeric)
        and sql_type.asdecimal
        and sql_type.scale is not None
        and proc is not None
    ):
        return _sqlite_decimal(proc, sql_type.scale)
    if serialize is serialize_int and proc is None:
        return _int
    if proc is None:
        return serialize
    if serialize is None:
        return proc
    composed_proc, composed_serialize = proc, serialize

    def composed(value: Any) -> Any:
        return composed_serialize(composed_proc(value))

    return composed


def _is_isoformat(serialize: Any) -> bool:
    """True for strawberry's ``DateTime`` / ``Date`` serializer (``methodcaller('isoformat')``)."""
    return isinstance(serialize, operator.methodcaller) and repr(serialize) == repr(_ISOFORMAT)


def _int(value: Any) -> Any:
    if type(value) is int and _INT32[0] <= value <= _INT32[1]:
        return value
    return serialize_int(value)


def _sqlite_utc(proc: Processor, serialize: Processor) -> Processor:
    def utc(value: Any) -> Any:
        # SQLAlchemy's storage format for SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff', in UTC (UtcDateTime).
        if type(value) is str and len(value) == 26 and value[10] == " " and value[19] == ".":
            if value.endswith(".000000"):
                return f"{value[:10]}T{value[11:19]}+00:00"
            return f"{value[:10]}T{value[11:]}+00:00"
        return serialize(proc(value))

    return utc


def _aware_utc(proc: Processor, serialize: Processor) -> Processor:
    def utc(value: Any) -> Any:
        if type(value) is dt.datetime and value.tzinfo is not None and value.utcoffset() == _ZERO:
            return value.isoformat()
        return serialize(proc(value))

    return utc


def _sqlite_date(proc: Processor, serialize: Processor) -> Processor:
    def date(value: Any) -> Any:
        if (
            type(value) is str
            and len(value) == 10
            and value[4] == "-"
            and value[7] == "-"
            and (value[:4] + value[5:7] + value[8:]).isdecimal()
            and value.isascii()
        ):
            return value
        return serialize(proc(value))

    return date


def _sqlite_decimal(proc: Processor, scale: int) -> Processor:
    layout = f"%.{scale}f"

    def decimal(value: Any) -> Any:
        if type(value) is float or type(value) is int:
            return layout % value
        return str(proc(value))

    return decimal
