"""Engines and sessions for SQLite (embedded) and PostgreSQL (production).

One URL configures both the synchronous engine (CLI, migrations, seeding, services run in worker
threads) and the asynchronous one (the GraphQL app). ``sqlite:///path`` and ``postgresql://...``
are accepted as given; the driver is chosen here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


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
    from hub.fanout.notify import install_notify

    install_notify()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A synchronous engine for ``url``."""
    u = sync_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            from pathlib import Path

            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    _notify_outbox_readers()
    return create_engine(u, **kwargs)


def make_async_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An asynchronous engine for ``url``."""
    u = async_url(url)
    if u.get_backend_name() == "sqlite":
        engine = create_async_engine(u, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    _notify_outbox_readers()
    return create_async_engine(u, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


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
