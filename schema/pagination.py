"""Relay-style connections with keyset pagination.

A cursor is the sort key of the last row seen (opaque, base64 JSON), so a page is one indexed range
scan however deep the reader goes: ``WHERE (received_at, id) < (:t, :id) ORDER BY received_at DESC,
id DESC LIMIT first + 1``. Offsets are never used.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
import strawberry
from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from hub.errors import InvalidCursor, QueryTooComplex

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20


#: SortSpec → its ORDER BY clauses (the orderings are the schema's, a few dozen).
_ORDER_BY: dict[Any, tuple[Any, ...]] = {}


@dataclass(frozen=True, slots=True)
class SortSpec:
    """An ordering: columns with their direction; the last one must be unique (the primary key)."""

    columns: tuple[InstrumentedAttribute, ...]
    descending: bool = False

    def order_by(self) -> list[Any]:
        """The ORDER BY clauses (made once per ordering: SQL expressions are immutable and shared)."""
        clauses = _ORDER_BY.get(self)
        if clauses is None:
            clauses = _ORDER_BY[self] = tuple(c.desc() if self.descending else c.asc() for c in self.columns)
        return list(clauses)

    def key_of(self, row: Any) -> list[Any]:
        return [jsonable(getattr(row, c.key)) for c in self.columns]

    def after(self, values: Sequence[Any]) -> Any:
        """The condition "comes after ``values`` in this order": a row-value comparison,
        ``(received_at, id) < (:t, :id)``, which both databases serve as one index range."""
        return self.beyond([literal(v, c.type) for c, v in zip(self.columns, self.cursor_values(values), strict=True)])

    def cursor_values(self, values: Sequence[Any]) -> list[Any]:
        """A cursor's ``values`` as the sort columns hold them (``InvalidCursor`` when they do not fit)."""
        if len(values) != len(self.columns):
            raise InvalidCursor(
                "the cursor given as `after` belongs to another sort order",
                field="after",
                suggestion="restart without `after`",
            )
        try:
            return [_from_json(c, v) for c, v in zip(self.columns, values, strict=True)]
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise InvalidCursor(
                "the cursor given as `after` does not fit this connection",
                field="after",
                suggestion="restart without `after`",
            ) from exc

    def beyond(self, bounds: Sequence[Any]) -> Any:
        """The row-value comparison of ``after`` against SQL expressions ``bounds`` (one per column)."""
        cols = self.columns
        if len(cols) == 1:
            return cols[0] < bounds[0] if self.descending else cols[0] > bounds[0]
        left, right = tuple_(*cols), tuple_(*bounds)
        return left < right if self.descending else left > right


def jsonable(value: Any) -> Any:
    """A sort key's value as a cursor holds it (dates as ISO strings, decimals as strings)."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


#: Keys are BIGINT: a larger number in a cursor would overflow in the database driver (an INTERNAL).
_INT64 = (-(2**63), 2**63 - 1)


def _from_json(col: InstrumentedAttribute, value: Any) -> Any:
    """The cursor's JSON value as the column's Python type; ``ValueError`` when it cannot be one
    (a cursor is user input: an object, a 20-digit number or a bad date must not reach the driver)."""
    sql_type = getattr(col.type, "impl", col.type)  # a TypeDecorator (UtcDateTime) → its implementation
    try:
        py = sql_type.python_type
    except NotImplementedError:  # pragma: no cover - custom types
        return value
    if value is None:
        return None
    if py is int:
        if type(value) is not int or not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(f"expected a 64-bit integer, got {type(value).__name__}")
        return value
    if py in (dt.datetime, dt.date, Decimal, str) and not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    if py is dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed  # OverflowError is an ArithmeticError
    if py is dt.date:
        return dt.date.fromisoformat(value)
    if py is Decimal:
        number = Decimal(value)  # decimal.InvalidOperation is an ArithmeticError
        if not number.is_finite():
            raise ValueError("expected a finite number")
        return number
    if not isinstance(value, (str, int, float, bool)):
        raise ValueError(f"unexpected {type(value).__name__}")
    return value


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message, shortened: a 1 MB cursor is not echoed whole."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def decode_cursor(cursor: str) -> list[Any]:
    """The sort key in ``cursor`` (the `after` argument); ``InvalidCursor`` naming it otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidCursor(
            f"cursor {_shown(cursor)} is not one this API issued",
            field="after",
            suggestion="use pageInfo.endCursor from a previous page",
        ) from exc
    if not isinstance(values, list):
        raise InvalidCursor(
            f"cursor {_shown(cursor)} is not one this API issued",
            field="after",
            suggestion="use pageInfo.endCursor from a previous page",
        )
    return values


def check_first(first: int | None, *, limit: int) -> int:
    """The page size asked for, validated against the configured maximum."""
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0:
        raise QueryTooComplex(f"first must be ≥ 0, got {first}")
    if first > limit:
        raise QueryTooComplex(
            f"first={first} exceeds the maximum page size {limit}",
            suggestion=f"ask for at most {limit} and follow pageInfo.endCursor",
        )
    return first


@strawberry.type(description="Where a page ends, and whether more follow.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    start_cursor: str | None


@strawberry.type(description="A node and the cursor to continue after it.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of results (keyset pagination: pass pageInfo.endCursor as `after`).")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(description="The nodes of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]

    @strawberry.field(description="How many rows match in all (one extra COUNT query; ask only when needed).")
    async def total_count(self) -> int:
        if self._count is None:
            return len(self.edges)
        return await self._count()


def make_connection(
    rows: Sequence[Any], *, first: int, sort: SortSpec, count: Callable[[], Awaitable[int]] | None
) -> Connection:
    has_next = len(rows) > first
    rows = rows[:first]
    edges = [Edge(cursor=encode_cursor(sort.key_of(r)), node=r) for r in rows]
    info = PageInfo(
        has_next_page=has_next,
        end_cursor=edges[-1].cursor if edges else None,
        start_cursor=edges[0].cursor if edges else None,
    )
    return Connection(edges=edges, page_info=info, _count=count)


async def paginate(
    session: Any,
    stmt: Select,
    *,
    sort: SortSpec,
    first: int,
    after: str | None,
) -> Connection:
    """One page of ``stmt`` (a ``select(Model)`` with its filters) in ``sort`` order."""
    page = stmt
    if after:
        page = page.where(sort.after(decode_cursor(after)))
    page = page.order_by(*sort.order_by()).limit(first + 1)
    rows = (await session.execute(page)).scalars().all()

    async def count() -> int:
        return (await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()

    return make_connection(rows, first=first, sort=sort, count=count)
