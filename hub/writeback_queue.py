"""The write-back queue as an operator sees it: which channel records wait, fail or were acknowledged.

The read-only side of ``hub.writeback`` (which queues and delivers write-backs), for ``hub writebacks``:
what the queue holds, and whether one record has anything to deliver now.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import models as m
from hub.access import Action, Principal, require
from hub.errors import InvalidInput, NotFound
from hub.writeback import RETRYABLE_STATUSES

#: A write-back's statuses, in the order it moves through them (``hub.writeback``).
STATUSES = ("pending", "delivering", "failing", "acknowledged")


def list_writebacks(
    session: Session, *, principal: Principal, status: str | None = None, limit: int = 100
) -> list[tuple[m.ChannelRecord, str]]:
    """Channel records with a write-back (only ``status`` ones if given) and their clue numbers, the
    longest waiting first; ``InvalidInput`` for an unknown status."""
    require(principal, Action.READ_ADMIN, what="read the write-back queue")
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            f"unknown status {status!r}", field="status", value=status, suggestion=f"use one of {', '.join(STATUSES)}"
        )
    r = m.ChannelRecord
    stmt = (
        select(r, m.Clue.clue_no)
        .join(m.Clue, m.Clue.id == r.clue_id)
        .where(r.writeback_status == status if status else r.writeback_status.is_not(None))
        .order_by(r.writeback_next_at.asc().nulls_first(), r.id)
        .limit(limit)
    )
    return [(record, clue_no) for record, clue_no in session.execute(stmt).all()]


def retryable_record(session: Session, *, principal: Principal, record_id: int) -> m.ChannelRecord:
    """Channel record ``record_id`` when its write-back can be delivered now (pending or failing);
    ``NotFound`` or ``InvalidInput`` saying why not."""
    require(principal, Action.READ_ADMIN, what="read the write-back queue")
    record = session.get(m.ChannelRecord, record_id)
    if record is None:
        raise NotFound(f"no channel record {record_id}", suggestion="see `hub writebacks list`")
    if record.writeback_status not in RETRYABLE_STATUSES:
        raise InvalidInput(
            f"channel record {record_id} has nothing to retry: its write-back is "
            f"{record.writeback_status or 'not queued'}",
            field="id",
            value=record_id,
        )
    return record
