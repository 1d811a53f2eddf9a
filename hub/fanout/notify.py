"""``NOTIFY hub_events`` from every transaction that inserts events (PostgreSQL), without a trigger.

Two session events cover the ways the hub writes the outbox: a flush that inserts ``Event`` objects
(``session.add``) and an ORM bulk ``insert(Event)``. The notification is sent inside the writing
transaction; PostgreSQL delivers it on commit only, once per transaction (identical notifications
are folded), so listeners never wake for a rolled-back write. On SQLite these listeners do nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from hub.models import Event

#: The channel the outbox readers LISTEN on.
CHANNEL = "hub_events"
_installed = False


def _notify(connection: Any) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"NOTIFY {CHANNEL}")


def _after_flush(session: Session, _context: Any) -> None:
    if any(isinstance(obj, Event) for obj in session.new):
        _notify(session.connection())


def _on_execute(state: ORMExecuteState) -> None:
    if not state.is_insert:
        return
    # (the statement's table is an annotated copy of Event.__table__: compare names)
    if getattr(getattr(state.statement, "table", None), "name", None) == Event.__tablename__:
        _notify(state.session.connection())


def install_notify() -> None:
    """Install the listeners on every Session (idempotent; ``hub.db`` calls it for PostgreSQL)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _on_execute)
    _installed = True
