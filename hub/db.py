"""Engines and sessions for SQLite (embedded) and PostgreSQL (production).

One URL configures both the synchronous engine (CLI, migrations, seeding, services run in worker
threads) and the asynchronous one (the GraphQL app). ``sqlite:///path`` and ``postgresql://...``
are accepted as given; the driver is chosen here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from hub.errors import QueryTimeout

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

T = TypeVar("T")


def sync_url(url: str) -> URL:
    """The URL with the synchronous driver (pysqlite / psycopg 3)."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return u.set(drivername="sqlite+pysqlite")
    if backend == "postgresql":
        return u.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://user@host/db")


def async_url(url: str) -> URL:
    """The URL with the asynchronous driver (aiosqlite / psycopg 3 async)."""
    u = sync_url(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite+aiosqlite")
    return u


def is_sqlite(url: str | URL) -> bool:
    return make_url(str(url) if isinstance(url, URL) else url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the GraphQL readers run while a sync writes; foreign keys are off by default in SQLite.
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _notify_outbox_readers() -> None:
    # Every process that may write events on PostgreSQL wakes the subscriptions' outbox readers.
    # Imported on use: hub.fanout's backends read through this module's engines.
    from hub.fanout.notify import install_notify

    install_notify()


def make_engine(url: str, *, statement_timeout: float | None = None, **kwargs: Any) -> Engine:
    """A synchronous engine for ``url``; its SQL parameters never reach a log or an error message. With
    ``statement_timeout`` (seconds) its statements are limited as the GraphQL app's (``make_async_engine``):
    the engine compiled operations read with (``schema.compiled``)."""
    kwargs["hide_parameters"] = True  # parameters carry ID numbers, phones and cards
    u = sync_url(url)
    sqlite = u.get_backend_name() == "sqlite"
    if sqlite:
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        _notify_outbox_readers()
        engine = create_engine(u, **_pg_options(kwargs, statement_timeout))
    if statement_timeout is not None:
        _install_statement_timeout(engine, statement_timeout, sqlite=sqlite)
    return engine


def make_read_engine(url: str, *, statement_timeout: float) -> Engine | AsyncEngine:
    """The engine compiled operations read with (``schema.compiled``), its statements time-limited as the
    GraphQL app's.

    On SQLite it is synchronous: a plan's statements run on a worker thread, one hop for all of them
    (aiosqlite would hop once per cursor call) — or on the event loop's thread, leashed, when the plan is
    known to be quick (``schema.compiled._run._in_read_connection``, ``leash``). On PostgreSQL it is
    asynchronous: psycopg waits for the server on the event loop like any other I/O, and the checkout,
    the plan's statements and the checkin run in one greenlet, with no thread hop each way — a thread's
    two wake-ups and the GIL handed back and forth cost more than the round trips themselves
    (``bench/README.md``). Its connections
    are in autocommit: a plan only reads, and under READ COMMITTED each statement of a transaction takes
    its own snapshot anyway, so the transaction would add nothing but a BEGIN and a ROLLBACK — two round
    trips per request. SQLite's driver begins no transaction for a SELECT: each statement reads its own
    snapshot there too, and nothing is sent to save."""
    if sync_url(url).get_backend_name() == "sqlite":
        return make_engine(url, statement_timeout=statement_timeout)
    # No ping before each checkout (a round trip per request): a connection found dead is invalidated by
    # its first statement, and the plan, which only reads, runs again on a new one (schema.compiled).
    return make_async_engine(
        url, statement_timeout=statement_timeout, isolation_level="AUTOCOMMIT", pool_pre_ping=False
    )


def sync_engine_of(engine: Engine | AsyncEngine) -> Engine:
    """The synchronous ``Engine`` events are listened on: ``engine`` itself, or an async engine's."""
    return engine.sync_engine if isinstance(engine, AsyncEngine) else engine


async def dispose(engine: Engine | AsyncEngine) -> None:
    """Close ``engine``'s pooled connections, whichever kind it is."""
    if isinstance(engine, AsyncEngine):
        await engine.dispose()
    else:
        engine.dispose()


def _pg_options(kwargs: dict[str, Any], statement_timeout: float | None) -> dict[str, Any]:
    """A PostgreSQL engine's options: a connection is pinged before use, and with ``statement_timeout``
    (seconds) the server stops a statement running longer (a connect option, in milliseconds, ≥ 1)."""
    kwargs.setdefault("pool_pre_ping", True)
    if statement_timeout is not None:
        option = f"-c statement_timeout={max(1, round(statement_timeout * 1000))}"
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "options": option}
    return kwargs


#: The clock SQLite's deadlines are measured on (tests replace it).
clock: Callable[[], float] = time.monotonic

#: SQLite calls the progress handler every this many virtual-machine instructions (about a
#: millisecond): often enough to stop a runaway statement promptly, rarely enough to cost nothing.
PROGRESS_STEPS = 100_000

_DEADLINE = "hub_statement_deadline"
_TIMED_OUT = "hub_timed_out"
_LEASHED = "hub_leashed"


class Leashed(Exception):
    """A SQLite statement ran past the short limit ``leash`` set on its connection, and was stopped."""


def leash(connection: Any, seconds: float) -> None:
    """Stop the statements of ``connection`` (a SQLite connection of an engine with a statement timeout)
    that run past ``seconds`` from now with ``Leashed`` rather than ``QueryTimeout``: for work that may
    only take a moment (``schema.compiled`` runs a plan known to be quick on the event loop's thread,
    and runs it again on a worker thread, under the request's own limit, when it is not)."""
    connection.info[_DEADLINE] = clock() + seconds
    connection.info[_LEASHED] = True


#: PostgreSQL SQLSTATEs: query_canceled (statement_timeout), in_failed_sql_transaction (what follows it).
_PG_CANCELED, _PG_ABORTED = "57014", "25P02"


def _install_statement_timeout(engine: Engine, seconds: float, *, sqlite: bool) -> None:
    """Stop the statements of ``engine`` that run past ``seconds`` with ``QueryTimeout``.

    PostgreSQL enforces its own ``statement_timeout`` (a connect option, see ``make_async_engine``),
    per statement; the statement it cancels aborts the transaction, so the request's later statements
    fail at once and the request ends there too. SQLite has no such setting: a progress handler on
    each connection interrupts whatever runs once the deadline set when the connection was checked
    out has passed. A GraphQL request holds one connection from authentication to its end, so there
    the limit is the request's. Either error becomes ``QueryTimeout``; the connection goes back to the
    pool usable (the session rolls back as after any error).
    """

    if sqlite:

        @event.listens_for(engine, "connect")
        def _progress_handler(dbapi_connection: Any, record: Any) -> None:
            info = record.info

            def past_deadline() -> int:
                deadline = info.get(_DEADLINE)
                return 1 if deadline is not None and clock() > deadline else 0

            run_async = getattr(dbapi_connection, "run_async", None)
            if run_async is None:  # pysqlite: the connection of the synchronous engine
                dbapi_connection.set_progress_handler(past_deadline, PROGRESS_STEPS)
            else:  # aiosqlite runs the connection on its own thread: set the handler there.
                run_async(lambda conn: conn.set_progress_handler(past_deadline, PROGRESS_STEPS))

        @event.listens_for(engine.pool, "checkout")
        def _start(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            record.info[_DEADLINE] = clock() + seconds

    @event.listens_for(engine, "handle_error")
    def _timeout(context: Any) -> None:
        orig = context.original_exception
        info = context.connection.info if context.connection is not None else {}
        state = getattr(orig, "sqlstate", None)
        timed_out = (sqlite and str(orig) == "interrupted") or state == _PG_CANCELED
        if timed_out and info.get(_LEASHED):
            raise Leashed("the statement ran past its connection's short limit") from orig
        if timed_out or (state == _PG_ABORTED and info.get(_TIMED_OUT)):
            info[_TIMED_OUT] = True
            raise QueryTimeout(
                f"the query ran longer than the limit of {seconds:g} s and was stopped",
                suggestion="ask for fewer rows (first), a narrower filter or fewer nested connections",
                limitSeconds=seconds,
            ) from orig

    @event.listens_for(engine.pool, "checkin")
    def _forget(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info.pop(_DEADLINE, None)
            record.info.pop(_TIMED_OUT, None)
            record.info.pop(_LEASHED, None)


def make_async_engine(url: str, *, statement_timeout: float | None = None, **kwargs: Any) -> AsyncEngine:
    """An asynchronous engine for ``url`` (the GraphQL app's). With ``statement_timeout`` (seconds),
    SQL running longer is stopped and raises ``QueryTimeout`` (see ``_install_statement_timeout``); the
    synchronous engine of syncs, migrations and the CLI has no such limit."""
    kwargs["hide_parameters"] = True  # SQL parameters never reach a log or an error message
    u = async_url(url)
    if u.get_backend_name() == "sqlite":
        engine = create_async_engine(u, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        kwargs.setdefault("pool_size", 10)
        _notify_outbox_readers()
        engine = create_async_engine(u, **_pg_options(kwargs, statement_timeout))
    if statement_timeout is not None:
        _install_statement_timeout(engine.sync_engine, statement_timeout, sqlite=u.get_backend_name() == "sqlite")
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class RequestSession(AsyncSession):
    """An ``AsyncSession`` whose database calls a cancelled caller cannot interrupt.

    When a non-null field fails, graphql-core cancels the sibling resolvers still running; a query
    cancelled in the middle leaves its connection broken (aiosqlite: "Cannot operate on a closed
    database", then a pool that cannot reconnect), and the next requests fail. Each call runs as a
    shielded task instead: a cancelled resolver stops waiting, the call finishes, and ``close``
    waits for such calls before it releases the connection.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inflight: set[asyncio.Future[Any]] = set()

    async def _shielded(self, call: Awaitable[T]) -> T:
        task = asyncio.ensure_future(call)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._shielded(super().execute(*args, **kwargs))

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await self._shielded(super().scalar(*args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._shielded(super().get(*args, **kwargs))

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        return await self._shielded(super().run_sync(*args, **kwargs))

    async def close(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        await super().close()


class LazySession:
    """A request's session, made on first use: a request that may never need one (a compiled operation
    reads on its own connection, ``schema.compiled``) does not pay for making and closing it. Whatever is
    asked of it is asked of the session, made by ``factory`` and handed to ``prepare`` (which binds the
    principal) the first time; ``close`` closes it only if it was made."""

    def __init__(self, factory: Callable[[], AsyncSession], prepare: Callable[[AsyncSession], None]) -> None:
        self._factory, self._prepare = factory, prepare
        self._session: AsyncSession | None = None

    def __getattr__(self, name: str) -> Any:
        session = self._session
        if session is None:
            session = self._session = self._factory()
            self._prepare(session)
        return getattr(session, name)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False, class_=RequestSession)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with session_factory(engine)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
