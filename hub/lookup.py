"""Rows a request names, looked up within the session's jurisdiction: ``NotFound`` saying what was asked.

A row outside the jurisdiction is not there for the principal (``hub.access`` limits every read),
so "not found" and "not yours" answer alike and reveal nothing. Clues are looked up, locked for an
action, by ``hub.workflow.get_clue``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import models as m
from hub.errors import NotFound


def get_warning(session: Session, *, warning_id: int, shown: str | None = None) -> m.Warning:
    """The warning ``warning_id`` within the session's jurisdiction; ``NotFound`` naming ``shown`` (its ID as given)."""
    warning = session.execute(select(m.Warning).where(m.Warning.id == warning_id)).scalar_one_or_none()
    if warning is None:
        raise NotFound(f"no warning {shown or warning_id} in your jurisdiction")
    return warning
