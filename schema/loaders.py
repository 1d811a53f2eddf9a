"""Batched loads: whatever the size of a page, each relation costs one SQL statement.

Three shapes cover every relation of the graph:

- ``by_id(Model)`` — to-one (clue → project);
- ``children(Model, fk)`` — small to-many lists (clue → channel records);
- ``child_pages(Model, fk, sort, first, after)`` — large to-many relations as keyset pages per
  parent, all parents in one statement with ``row_number() OVER (PARTITION BY fk …)``.

Whatever fits none of them (an aggregate per parent, a composite key) is a ``batched(key, load)``:
a loader of its own, still one statement per batch and cached for the request.

Every statement is an ORM select on the request's session, so the jurisdiction filter of
``hub.access`` applies to these as to the query roots.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from strawberry.dataloader import DataLoader

from schema.pagination import Connection, SortSpec, decode_cursor, make_connection

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import InstrumentedAttribute
    from sqlalchemy.sql.elements import ColumnElement


class Loaders:
    """The data loaders of one request (never shared between requests: they cache)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._loaders: dict[Any, DataLoader] = {}

    def by_id(self, model: type[Any], key_attr: str = "id") -> DataLoader[Any, Any]:
        """Rows of ``model`` by primary key (or another unique column), ``None`` when absent."""
        key = ("id", model, key_attr)
        if key not in self._loaders:
            col = getattr(model, key_attr)

            async def load(ids: Sequence[Any]) -> list[Any]:
                rows: Iterable[Any] = (await self._session.execute(select(model).where(col.in_(set(ids))))).scalars()
                found = {getattr(r, key_attr): r for r in rows}
                return [found.get(i) for i in ids]

            self._loaders[key] = DataLoader(load_fn=load)
        return self._loaders[key]

    def batched(
        self, key: Any, load: Callable[[AsyncSession, Sequence[Any]], Awaitable[list[Any]]]
    ) -> DataLoader[Any, Any]:
        """The request's loader named ``key``: ``load(session, keys)`` answers a batch of keys in order."""
        name = ("batched", key)
        if name not in self._loaders:
            session = self._session

            async def run(keys: Sequence[Any]) -> list[Any]:
                return await load(session, keys)

            self._loaders[name] = DataLoader(load_fn=run)
        return self._loaders[name]

    def children(
        self,
        model: type[Any],
        fk: InstrumentedAttribute[Any],
        *,
        order: ColumnElement[Any] | InstrumentedAttribute[Any] | None = None,
        limit: int | None = None,
    ) -> DataLoader[Any, list[Any]]:
        """The rows of ``model`` whose ``fk`` is the key, in ``order``: all of them (for small, bounded
        relations), or the first ``limit`` per key — counted in SQL, so that a parent with thousands
        of rows costs no more than one with ``limit``."""
        order_by = order if order is not None else model.id
        key = ("children", model, fk.key, str(order_by), limit)
        if key not in self._loaders:

            async def load(parent_keys: Sequence[Any]) -> list[list[Any]]:
                stmt: Select[Any]
                if limit is None:
                    stmt = select(model).where(fk.in_(set(parent_keys))).order_by(order_by)
                else:
                    rn = func.row_number().over(partition_by=fk, order_by=order_by).label("rn")
                    sub = select(model, rn).where(fk.in_(set(parent_keys))).subquery()
                    stmt = select(aliased(model, sub)).where(sub.c.rn <= limit).order_by(sub.c[fk.key], sub.c.rn)
                grouped: dict[Any, list[Any]] = defaultdict(list)
                for row in (await self._session.execute(stmt)).scalars():
                    grouped[getattr(row, fk.key)].append(row)
                return [grouped.get(k, []) for k in parent_keys]

            self._loaders[key] = DataLoader(load_fn=load)
        return self._loaders[key]

    def child_pages(
        self,
        model: type[Any],
        fk: InstrumentedAttribute[Any],
        *,
        sort: SortSpec,
        first: int,
        after: str | None,
        where: tuple[Any, ...] = (),
        where_key: Any = None,
    ) -> DataLoader[int, Connection]:
        """A keyset page of ``model`` rows per parent, for many parents in one statement."""
        key = ("pages", model, fk.key, sort, first, after, where_key)
        if key not in self._loaders:

            async def load(parent_ids: Sequence[int]) -> list[Connection]:
                rn = func.row_number().over(partition_by=fk, order_by=sort.order_by()).label("rn")
                inner = select(model, rn).where(fk.in_(set(parent_ids)), *where)
                if after:
                    inner = inner.where(sort.after(decode_cursor(after)))
                sub = inner.subquery()
                entity = aliased(model, sub)
                stmt = select(entity).where(sub.c.rn <= first + 1).order_by(sub.c[fk.key], sub.c.rn)
                grouped: dict[int, list[Any]] = defaultdict(list)
                for row in (await self._session.execute(stmt)).scalars():
                    grouped[getattr(row, fk.key)].append(row)
                return [
                    make_connection(
                        grouped.get(pid, []),
                        first=first,
                        sort=sort,
                        count=self._counter(model, fk, pid, where, where_key),
                    )
                    for pid in parent_ids
                ]

            self._loaders[key] = DataLoader(load_fn=load)
        return self._loaders[key]

    def _counter(
        self, model: type[Any], fk: InstrumentedAttribute[Any], parent_id: int, where: tuple[Any, ...], where_key: Any
    ) -> Callable[[], Awaitable[int]]:
        loader = self.child_counts(model, fk, where=where, where_key=where_key)

        async def count() -> int:
            return await loader.load(parent_id)

        return count

    def child_counts(
        self, model: type[Any], fk: InstrumentedAttribute[Any], *, where: tuple[Any, ...] = (), where_key: Any = None
    ) -> DataLoader[int, int]:
        """How many ``model`` rows each parent has (one GROUP BY for all parents)."""
        key = ("counts", model, fk.key, where_key)
        if key not in self._loaders:

            async def load(parent_ids: Sequence[int]) -> list[int]:
                stmt = select(fk, func.count()).where(fk.in_(set(parent_ids)), *where).group_by(fk)
                found = {row[0]: row[1] for row in await self._session.execute(stmt)}
                return [found.get(pid, 0) for pid in parent_ids]

            self._loaders[key] = DataLoader(load_fn=load)
        return self._loaders[key]
