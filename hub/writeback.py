"""Write-back of clue outcomes to the channels they came from (12345 办理结果 / 回访, national 核处结果).

Closing a clue, recording its call-back, or a new channel record joining a closed clue *queues* a
write-back (:func:`queue_writebacks`, in the caller's transaction, no I/O). A worker then *delivers*
what is due (:func:`deliver_due`, the ``deliver_writebacks`` actor, ``hub writebacks retry``).

A channel record's write-back moves through::

    (None) ──queue──▶ pending ──claim──▶ delivering ──ack──▶ acknowledged
                        ▲                    │
                        │                    └──error──▶ failing ──(back-off)──▶ claim …
                        └──────── queue again (a new outcome: call-back, new channel) ────────

Each delivery claims its record by a conditional UPDATE (status and ``writeback_next_at`` as seen),
moving ``writeback_next_at`` forward as a lease, so two workers never deliver the same record at the
same time; a worker that dies mid-way leaves the record ``delivering`` until the lease ends, and the
next worker delivers it again. The upstream call runs outside any transaction; its result is stored
only if the record still holds that claim (a record queued again meanwhile keeps its newer outcome).
Retries never stop: 30 s doubling to one hour; a fatal upstream error (a 4xx) is retried at the cap
while it shows its reason, because an operator can fix its cause (a config, an order number).

Delivering twice is harmless: the 12345 and national-platform interfaces take a repeated result as
an update of the same order / clue (their sandboxes keep every POST, so the tests can count them).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select, update

from connectors import registry
from connectors.base import Outcome, UpstreamError
from hub import models as m
from hub.connector_config import load_config
from hub.db import session_factory
from hub.identifiers import mask_personal_data
from hub.models import utcnow
from hub.outbox import clue_event

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from connectors.base import Connector
    from hub.crypto import Cipher

log = logging.getLogger(__name__)

#: Statuses a worker picks up; ``delivering`` is picked up again once its lease has run out.
DUE_STATUSES = ("pending", "failing", "delivering")
#: Statuses ``hub writebacks retry`` delivers now, whatever their back-off.
RETRYABLE_STATUSES = ("pending", "failing")
#: How long a claim holds a record: longer than a write-back can take (two calls of ≤ 300 s).
LEASE_SECONDS = 660
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600
MAX_ERROR_CHARS = 1000


def backoff(attempts: int, *, fatal: bool = False) -> dt.timedelta:
    """The wait after the ``attempts``-th failure in a row: 30 s doubling, at most an hour (fatal: an hour)."""
    if fatal:
        return dt.timedelta(seconds=MAX_DELAY_SECONDS)
    return dt.timedelta(seconds=min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** max(0, attempts - 1)))


@lru_cache(maxsize=64)
def writes_back(channel: str) -> bool:
    """True when ``channel`` is a connector kind whose plugin can write outcomes back."""
    try:
        return registry.get(channel).supports_write_back
    except registry.UnknownConnector:
        return False


# -- queueing (in the caller's transaction) ---------------------------------------------------------


def queue_writebacks(session: Session, clue: m.Clue, *, records: Sequence[m.ChannelRecord] | None = None) -> list[str]:
    """Queue the clue's current outcome for every channel record (or just ``records``) that can take it.

    Records of channels without write-back are left alone (status None). A record already written
    back — for an earlier outcome, e.g. the closing before the call-back — is queued again, and a
    record being delivered right now loses its claim, so the newer outcome is what gets stored.
    Returns ``channel:sourceId`` of each record queued (for the caller's event).
    """
    if records is None:
        records = (
            session.execute(
                select(m.ChannelRecord).where(m.ChannelRecord.clue_id == clue.id).order_by(m.ChannelRecord.id)
            )
            .scalars()
            .all()
        )
    now = utcnow()
    queued = []
    for record in records:
        if not writes_back(record.channel):
            continue
        record.writeback_status, record.writeback_next_at = "pending", now
        record.writeback_attempts, record.writeback_error, record.writeback_done_at = 0, None, None
        queued.append(f"{record.channel}:{record.source_id}")
    return queued


# -- delivery -------------------------------------------------------------------------------------


@dataclass
class Delivered:
    """What happened to one channel record's write-back in a delivery run."""

    record_id: int
    clue_no: str
    channel: str
    source_id: str
    status: str  # acknowledged / failing / superseded (queued again meanwhile: the newer outcome is due)
    attempts: int = 0
    error: str | None = None
    next_at: dt.datetime | None = None
    connector: str | None = None


@dataclass
class DeliveryReport:
    """One :func:`deliver_due` run: each record it delivered (or tried to), in order."""

    items: list[Delivered] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return sum(1 for d in self.items if d.status == "acknowledged")

    @property
    def failed(self) -> int:
        return sum(1 for d in self.items if d.status == "failing")

    def as_dict(self) -> dict[str, int]:
        return {"acknowledged": self.acknowledged, "failed": self.failed, "delivered": len(self.items)}


@dataclass
class _Job:
    """A claimed record, with everything its delivery needs (read inside the claim's transaction)."""

    record_id: int
    lease: dt.datetime
    clue_id: int
    clue_no: str
    region_code: str
    handling_region_code: str
    channel: str
    source_id: str
    attempts: int
    outcome: Outcome | None = None
    connector: Connector | None = None
    config: Any = None
    instance_name: str | None = None
    problem: str | None = None  # why it cannot be delivered (no connector, clue no longer closed, …)


def due_records(
    session: Session,
    *,
    now: dt.datetime,
    limit: int,
    record_ids: Sequence[int] | None = None,
    ignore_schedule: bool = False,
) -> list[tuple[int, str | None, dt.datetime | None]]:
    """``(id, status, next_at)`` of records due for delivery, the longest waiting first."""
    r = m.ChannelRecord
    stmt = select(r.id, r.writeback_status, r.writeback_next_at)
    if ignore_schedule:
        stmt = stmt.where(r.writeback_status.in_(RETRYABLE_STATUSES))
    else:
        stmt = stmt.where(
            r.writeback_status.in_(DUE_STATUSES), (r.writeback_next_at.is_(None)) | (r.writeback_next_at <= now)
        )
    if record_ids is not None:
        stmt = stmt.where(r.id.in_(list(record_ids)))
    stmt = stmt.order_by(r.writeback_next_at.asc().nulls_first(), r.id).limit(limit)
    return [(rid, status, next_at) for rid, status, next_at in session.execute(stmt).all()]


def deliver_due(
    engine: Engine,
    *,
    cipher: Cipher,
    now: dt.datetime | None = None,
    limit: int = 100,
    record_ids: Sequence[int] | None = None,
    ignore_schedule: bool = False,
    progress: Callable[[Delivered], None] | None = None,
) -> DeliveryReport:
    """Deliver up to ``limit`` due write-backs: claim each, call the connector, store the result.

    ``record_ids`` limits the run to those channel records; ``ignore_schedule`` delivers pending and
    failing records now, whatever their back-off (``hub writebacks retry``). ``progress`` is called
    after each record. Upstream errors never escape: they are stored on the record with its next try.
    """
    sessions = session_factory(engine)
    report = DeliveryReport()
    with sessions() as session:
        candidates = due_records(
            session, now=now or utcnow(), limit=limit, record_ids=record_ids, ignore_schedule=ignore_schedule
        )
    for record_id, seen_status, seen_next in candidates:
        job = _claim(sessions, record_id, seen_status, seen_next, cipher=cipher, now=now or utcnow())
        if job is None:
            continue  # another worker claimed it first, or it changed since we looked
        # A missing connector or config is fixed by an operator: keep trying on the usual back-off.
        error, fatal = job.problem, False
        if error is None:
            error, fatal = _call(job)
        done = _store(sessions, job, error=error, fatal=fatal, now=now or utcnow())
        report.items.append(done)
        if progress:
            progress(done)
    return report


def _claim(
    sessions: Any,
    record_id: int,
    seen_status: str | None,
    seen_next: dt.datetime | None,
    *,
    cipher: Cipher,
    now: dt.datetime,
) -> _Job | None:
    """Take the record for one delivery (a conditional UPDATE first, so SQLite takes its write lock at once)."""
    r = m.ChannelRecord
    lease = now + dt.timedelta(seconds=LEASE_SECONDS)
    with sessions() as session, session.begin():
        claimed = (
            session.execute(
                update(r)
                .where(
                    r.id == record_id,
                    r.writeback_status == seen_status,
                    r.writeback_next_at.is_(None) if seen_next is None else r.writeback_next_at == seen_next,
                )
                .values(writeback_status="delivering", writeback_next_at=lease)
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
        if not claimed:
            return None
        record = session.get(r, record_id)
        clue = session.get(m.Clue, record.clue_id)
        job = _Job(
            record_id=record_id,
            lease=lease,
            clue_id=clue.id,
            clue_no=clue.clue_no,
            region_code=clue.region_code,
            handling_region_code=clue.handling_region_code,
            channel=record.channel,
            source_id=record.source_id,
            attempts=record.writeback_attempts or 0,
        )
        if clue.status not in ("closed", "called_back") or clue.closed_at is None:
            job.problem = f"clue {clue.clue_no} is {clue.status}, not closed: there is no outcome to write back"
            return job
        job.outcome = _outcome(session, clue, record, closed_at=clue.closed_at)
        try:
            connector = registry.get(record.channel)
        except registry.UnknownConnector as exc:
            job.problem = str(exc)
            return job
        instance, job.problem = _instance(session, record)
        if instance is None:
            return job
        job.connector, job.instance_name = connector, instance.name
        try:
            job.config = load_config(connector, instance, cipher)
        except Exception as exc:  # a bad config is shown on the record, not raised
            job.problem = f"the config of connector {instance.name!r} is not valid: {exc.__class__.__name__}: {exc}"
        return job


def _outcome(session: Session, clue: m.Clue, record: m.ChannelRecord, *, closed_at: dt.datetime) -> Outcome:
    extra: dict[str, Any] = {}
    if clue.status == "called_back":
        called_back_at = session.execute(
            select(m.CaseAction.at)
            .where(m.CaseAction.clue_id == clue.id, m.CaseAction.action == "record_callback")
            .order_by(m.CaseAction.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if called_back_at is not None:
            extra["called_back_at"] = called_back_at
    return Outcome(
        source_id=record.source_id,
        clue_no=clue.clue_no,
        status=clue.status,
        conclusion=clue.conclusion or "",
        closed_at=closed_at,
        recovered_amount=clue.recovered_amount,
        workers_paid=clue.workers_paid,
        satisfaction=clue.satisfaction if clue.status == "called_back" else None,
        extra=extra,
    )


def _instance(session: Session, record: m.ChannelRecord) -> tuple[m.ConnectorInstance | None, str | None]:
    """The instance that delivered the record if it is enabled; else the one enabled instance of its kind."""
    ci = m.ConnectorInstance
    delivered_by = None
    if record.raw_record_id is not None:
        raw = session.get(m.RawRecord, record.raw_record_id)
        if raw is not None and raw.connector_instance_id is not None:
            delivered_by = session.get(ci, raw.connector_instance_id)
            if delivered_by is not None and delivered_by.kind == record.channel and delivered_by.enabled:
                return delivered_by, None
    enabled = (
        session.execute(select(ci).where(ci.kind == record.channel, ci.enabled.is_(True)).order_by(ci.id))
        .scalars()
        .all()
    )
    if len(enabled) == 1:
        return enabled[0], None
    if not enabled:
        why = f"no enabled {record.channel} connector to write back to"
        if delivered_by is not None:
            why += f" (connector {delivered_by.name!r}, which delivered the record, is disabled)"
        return None, why + ": enable or add one, then `hub writebacks retry`"
    names = ", ".join(repr(i.name) for i in enabled)
    return None, (
        f"{len(enabled)} enabled {record.channel} connectors ({names}) and the record does not say which one "
        "delivered it: disable all but the right one, then `hub writebacks retry`"
    )


def _call(job: _Job) -> tuple[str | None, bool]:
    """Write the outcome back (no transaction open); the masked error and whether it is fatal, or (None, False)."""
    try:
        if job.connector is None or job.outcome is None:  # _claim named a problem instead: nothing to call
            raise ValueError(f"write-back of {job.channel} {job.source_id} has no connector or outcome")
        job.connector.write_back(job.config, job.outcome)
    except UpstreamError as exc:
        log.warning("write-back of %s %s (clue %s) failed: %s", job.channel, job.source_id, job.clue_no, exc)
        return _masked(str(exc)), not exc.retriable
    except Exception as exc:  # stored on the record; the run goes on with the next one
        log.exception("write-back of %s %s (clue %s) failed", job.channel, job.source_id, job.clue_no)
        return _masked(f"internal error: {exc.__class__.__name__}: {exc}"), False
    return None, False


def _masked(text: str) -> str:
    text = mask_personal_data(text)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _store(sessions: Any, job: _Job, *, error: str | None, fatal: bool, now: dt.datetime) -> Delivered:
    """Store the result and its Event in one transaction — if the record still holds this claim."""
    r = m.ChannelRecord
    done = Delivered(
        record_id=job.record_id,
        clue_no=job.clue_no,
        channel=job.channel,
        source_id=job.source_id,
        status="acknowledged" if error is None else "failing",
        attempts=job.attempts + 1,
        error=error,
        connector=job.instance_name,
    )
    if error is None:
        values: dict[str, Any] = {
            "writeback_status": "acknowledged",
            "writeback_attempts": done.attempts,
            "writeback_error": None,
            "writeback_next_at": None,
            "writeback_done_at": now,
        }
        next_at = None
    else:
        done.next_at = next_at = now + backoff(done.attempts, fatal=fatal)
        values = {
            "writeback_status": "failing",
            "writeback_attempts": done.attempts,
            "writeback_error": error,
            "writeback_next_at": next_at,
        }
    with sessions() as session, session.begin():
        stored = (
            session.execute(
                update(r)
                .where(
                    and_(r.id == job.record_id, r.writeback_status == "delivering", r.writeback_next_at == job.lease)
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
        if not stored:
            # Queued again while we delivered (a newer outcome), or our lease ran out and another
            # worker took over: what is stored there now is newer than what we know.
            done.status, done.next_at = "superseded", None
            return done
        payload: dict[str, Any] = {
            "clueNo": job.clue_no,
            "channel": job.channel,
            "sourceId": job.source_id,
            "channelRecordId": job.record_id,
            "attempts": done.attempts,
            "connector": job.instance_name,
        }
        if error is not None and next_at is not None:
            payload.update(error=error, retryAt=next_at.isoformat(), fatal=fatal)
        session.add(
            clue_event(
                clue_id=job.clue_id,
                region_code=job.region_code,
                handling_region_code=job.handling_region_code,
                payload=payload,
                type_=f"clue.writeback_{'acknowledged' if error is None else 'failed'}",
            )
        )
    return done


__all__ = ["Delivered", "DeliveryReport", "backoff", "deliver_due", "due_records", "queue_writebacks", "writes_back"]
