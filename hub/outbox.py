"""The outbox's one event constructor: every ``events`` row the hub writes is built here.

A change a subscriber could care about writes an event in the same transaction as the change
(docs/architecture.md, "The outbox"). Services build it with :func:`event_values` (a row for a bulk
``insert(Event)``), :func:`clue_event` (an ``Event`` about a clue known by its id and regions) or
:func:`emit` (an event about a clue row, added to the caller's session) or :func:`warning_event` (a row about a
warning, for a bulk insert).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from hub import models as m
from hub.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["clue_event", "emit", "event_values", "warning_event"]


def event_values(
    *,
    type_: str,
    region_code: str,
    entity_type: str,
    entity_id: int,
    payload: dict[str, Any],
    handling_region_code: str | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The column values of one outbox event (``at``: when it happened, now by default).

    With ``handling_region_code`` it reaches the region working a clue as well as the one where the
    arrears happened (hub.access limits events to a principal covering either).
    """
    return {
        "type": type_,
        "region_code": region_code,
        "handling_region_code": handling_region_code,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "payload": payload,
        "created_at": at if at is not None else utcnow(),
    }


def clue_event(
    *,
    clue_id: int,
    region_code: str,
    type_: str,
    payload: dict[str, Any],
    handling_region_code: str | None = None,
    at: dt.datetime | None = None,
) -> m.Event:
    """An outbox Event about a clue (for callers that have its id and regions, not the row)."""
    return m.Event(
        **event_values(
            type_=type_,
            region_code=region_code,
            handling_region_code=handling_region_code,
            entity_type="clue",
            entity_id=clue_id,
            payload=payload,
            at=at,
        )
    )


def emit(session: Session, clue: m.Clue, type_: str, payload: dict[str, Any], *, at: dt.datetime | None = None) -> None:
    """Add an outbox Event about ``clue`` to the caller's transaction (``at``: when, now by default)."""
    session.add(
        clue_event(
            clue_id=clue.id,
            region_code=clue.region_code,
            type_=type_,
            payload=payload,
            handling_region_code=clue.handling_region_code,
            at=at,
        )
    )


def warning_event(warning: m.Warning, type_: str, *, at: dt.datetime | None = None, **extra: Any) -> dict[str, Any]:
    """The column values of an event about a warning (``warning.raised`` / ``changed`` / ``resolved`` …).

    The payload says which rule, object and period at which level and state, never the message (it
    may name a worker): a subscriber reads the warning through the graph, within its jurisdiction.
    """
    payload: dict[str, Any] = {
        "ruleCode": warning.rule_code,
        "level": warning.level,
        "status": warning.status,
        "subjectType": warning.subject_type,
        "subjectId": warning.subject_id,
        "period": warning.period,
        "projectId": warning.project_id,
        "enterpriseId": warning.enterprise_id,
        **extra,
    }
    return event_values(
        type_=type_,
        region_code=warning.region_code,
        entity_type="warning",
        entity_id=warning.id,
        payload=payload,
        at=at,
    )
