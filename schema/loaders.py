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

Every loader is a ``SharedLoader``: a load several fields wait for survives the cancellation of one of
them (graphql-core cancels the siblings of a failed field), see its docstring.
"""

from __future__ import annotations

from asyncio import Future
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from strawberry.dataloader import DataLoader

from schema.pagination import Connection, SortSpec, decode_cursor, make_connection

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import InstrumentedAttribute
    from sqlalchemy.sql.elements import ColumnElement

K = TypeVar("K")
V = TypeVar("V")


class SharedLoader(DataLoader[K, V]):
    """A ``DataLoader`` whose pending load each caller awaits through a future of its own.

    strawberry's loader hands every caller of ``load(key)`` the same cached future. When a field fails,
    graphql-core cancels the sibling fields still running, and cancelling a task cancels the future it
    awaits: the shared one, so every other field waiting for that key, elsewhere in the query, got a
    ``CancelledError`` that no error handler catches (it is not an ``Exception``) and the request ended
    without a response. Here each caller gets its own future, fed from the shared one: cancelling it
    leaves the load to the others. Only when every caller of a pending load has gone is the shared
    future cancelled, so that, as in strawberry, a batch nobody waits for is not run (or is stopped).
    A load already done is returned as is: a done future cannot be cancelled.

    strawberry stops a batch nobody waits for by cancelling its dispatch task, and a task cancelled
    before it started leaves its batch open for ever (later loads join it and never end). That cannot
    happen here: the shared future is cancelled from a callback of the callers' futures, which runs
    after the dispatch task's first step, where the batch is closed.
    """

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[Sequence[V]]]) -> None:
        super().__init__(load_fn=load_fn)
        #: Pending shared future → how many callers' futures still wait for it.
        self._waiting: dict[Future[V], int] = {}

    def load(self, key: K) -> Awaitable[V]:
        shared = super().load(key)
        if not isinstance(shared, Future) or shared.done():
            return shared
        if shared not in self._waiting:
            self._waiting[shared] = 0
            shared.add_done_callback(self._settled)
        self._waiting[shared] += 1
        mine: Future[V] = self.loop.create_future()
        shared.add_done_callback(partial(_pass_on, mine))
        mine.add_done_callback(partial(self._left, shared))
        return mine

    def _settled(self, shared: Future[V]) -> None:
        self._waiting.pop(shared, None)

    def _left(self, shared: Future[V], mine: Future[V]) -> None:
        """One caller's future is done: if it was cancelled and nobody else waits, drop the load."""
        if not mine.cancelled() or shared.done():
            return
        self._waiting[shared] -= 1
        if self._waiting[shared] == 0:
            shared.cancel()


def _pass_on(mine: Future[Any], shared: Future[Any]) -> None:
    """Give a caller's future the outcome of the shared load (unless the caller has gone)."""
    if mine.done():
        return
    if shared.cancelled():
        mine.cancel()
    elif (exc := shared.exception()) is not None:
        mine.set_exception(exc)
    else:
        mine.set_result(shared.result())


class Loaders:
    """The data loaders of one request (never shared between requests: they cache)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._loaders: dict[Any, SharedLoader[Any, Any]] = {}

    def by_id(self, model: type[Any], key_attr: str = "id") -> DataLoader[Any, Any]:
        """Rows of ``model`` by primary key (or another unique column), ``None`` when absent."""
        key = ("id", model, key_attr)
        if key not in self._loaders:
            col = getattr(model, key_attr)

            async def load(ids: Sequence[Any]) -> list[Any]:
                rows: Iterable[Any] = (await self._session.execute(select(model).where(col.in_(set(ids))))).scalars()
                found = {getattr(r, key_attr): r for r in rows}
                return [found.get(i) for i in ids]

            self._loaders[key] = SharedLoader(load_fn=load)
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

            self._loaders[name] = SharedLoader(load_fn=run)
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

            self._loaders[key] = SharedLoader(load_fn=load)
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

            self._loaders[key] = SharedLoader(load_fn=load)
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

            self._loaders[key] = SharedLoader(load_fn=load)
        return self._loaders[key]
