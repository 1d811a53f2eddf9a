"""The sync engine: the loop every connector runs in.

For one connector instance: take the lease (so that two workers or schedulers never run the same
sync), then for each stream read pages after the stored bookmark; each page is one transaction —
raw payloads archived with their hash, normalised records upserted (``hub.ingest``), events written,
rejected records quarantined, the new bookmark stored. A crash repeats at most one page, and the
repeat changes nothing (upserts by natural key; the archive is unique per payload hash).

Retriable upstream errors back off exponentially and resume from the last committed bookmark;
fatal ones end the run with the upstream's message. A SyncRun row records what happened.

A full refresh forgets its streams' bookmarks when it starts, in the transaction that records its
run as a full refresh. When its worker dies, whoever takes the lease over sees the abandoned full
refresh and finishes it: streams not yet reached from the beginning, the one in progress from its
last stored page; its own run is recorded as a full refresh too. A full refresh requested again
starts over. One that fails (a fatal upstream error) leaves the streams it had not finished to be
read from the beginning by the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from connectors import registry
from connectors.base import Connector, Page, Rejection, Stream, UpstreamError
from hub import bulk
from hub import models as m
from hub.archive import Sealer, unseal
from hub.connector_config import load_config
from hub.crypto import Cipher
from hub.db import session_factory
from hub.identifiers import is_business_key, mask_text
from hub.ingest import Ingestor
from hub.models import utcnow
from hub.records import Item, Problem, Touched

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

log = logging.getLogger(__name__)

LEASE_SECONDS = 120
#: Pages of at least this many records are written through COPY on PostgreSQL (``hub.bulk``);
#: ``HUB_INGEST_COPY_MIN_ROWS``.
COPY_MIN_ROWS = 200
#: After this many consecutive failed runs an instance is paused, with the reason shown.
PAUSE_AFTER_FAILURES = 5


ABANDONED = "the worker running this sync stopped (crash or kill); the next run resumed from the last stored page"
ABANDONED_FULL_REFRESH = (
    "the worker running this full refresh stopped (crash or kill); the next run finished the "
    "full refresh from the last stored page"
)


class LeaseHeld(RuntimeError):
    """Another worker is running this connector instance's sync."""


@dataclass
class RetryPolicy:
    """Exponential back-off for retriable upstream errors."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))


@dataclass
class StreamStats:
    """What one stream of a run did so far; ``total`` only when the upstream said how many records
    the read holds (``Page.total``)."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    pages: int = 0
    retries: int = 0
    total: int | None = None

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class SyncResult:
    run_id: int
    status: str
    stats: dict[str, StreamStats] = field(default_factory=dict)
    error: str | None = None


def payload_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON (sorted keys)."""
    return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()


def worker_id() -> str:
    """Who holds a lease: host, process and a per-engine nonce (threads of one worker are distinct owners)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lease(session: Session, instance_id: int, *, owner: str, seconds: int = LEASE_SECONDS) -> bool:
    """Take or renew the instance's lease; ``False`` when another owner holds a live one."""
    now = utcnow()
    result = session.execute(
        update(m.ConnectorInstance)
        .where(
            m.ConnectorInstance.id == instance_id,
            or_(
                m.ConnectorInstance.lease_until.is_(None),
                m.ConnectorInstance.lease_until < now,
                m.ConnectorInstance.lease_owner == owner,
            ),
        )
        .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=seconds))
    )
    return cast("CursorResult[Any]", result).rowcount == 1  # an UPDATE's result is a cursor's


def release_lease(session: Session, instance_id: int, *, owner: str) -> None:
    session.execute(
        update(m.ConnectorInstance)
        .where(m.ConnectorInstance.id == instance_id, m.ConnectorInstance.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def _stored_reason(problem: Problem) -> str:
    """A quarantine reason as stored and shown: a connector's reason may quote the value it refused, so
    ID numbers, cards and phones in it are masked — unless the refused field is a business number (a
    permit number is 18 digits too, and the reader needs to see it)."""
    if problem.field and is_business_key(problem.field):
        return problem.reason
    return mask_text(problem.reason)


class SyncEngine:
    """Runs syncs of connector instances against one database."""

    def __init__(
        self,
        engine: Any,
        *,
        cipher: Cipher,
        retry: RetryPolicy | None = None,
        owner: str | None = None,
        lease_seconds: int | None = None,
        on_page: Callable[[Touched], None] | None = None,
        pages_per_evaluation: int = 1,
        copy_min_rows: int | None = COPY_MIN_ROWS,
    ) -> None:
        self.engine = engine
        #: Called with what the pages committed since its last call touched (the actors ask the warnings
        #: engine to look at them again): every ``pages_per_evaluation`` pages that touched something,
        #: and at the end of each run, whatever its outcome. Never for pages that touched nothing.
        #: What a crash between two calls leaves unevaluated (committed pages, at most
        #: ``pages_per_evaluation - 1``) waits for the daily sweep, as a lost message does.
        #: A stream read from no bookmark (its first sync, or a full refresh: a backfill) is evaluated
        #: once, at the end of the run, not every N pages: half-loaded data would raise warnings that
        #: the next pages clear again (events to every subscriber for nothing), and the run's end sees
        #: the whole load at once. A crash mid-backfill leaves it to the daily sweep.
        self.on_page = on_page
        if pages_per_evaluation < 1:
            raise ValueError(f"pages_per_evaluation must be at least 1, not {pages_per_evaluation}")
        self.pages_per_evaluation = pages_per_evaluation
        self._pending = Touched()
        self._pending_pages = 0
        self._backfill = False  # the stream being read started from no bookmark
        self.lease_seconds = lease_seconds or LEASE_SECONDS
        self._known_workers: dict[tuple[int, str], tuple[int, int]] = {}
        self.sessions = session_factory(engine)
        self.cipher = cipher
        #: Encrypts the archive's personal values, each once per engine (a bounded cache).
        self.sealer = Sealer(cipher)
        #: Batches of at least this many rows go through COPY on PostgreSQL (``None``: never).
        self.copy_min_rows = copy_min_rows
        self.retry = retry or RetryPolicy()
        self.owner = owner or worker_id()

    # -- a whole run -------------------------------------------------------------------------

    def run(
        self,
        instance_id: int,
        *,
        full_refresh: bool = False,
        streams: list[str] | None = None,
        progress: Callable[[str, StreamStats], None] | None = None,
    ) -> SyncResult:
        """Sync one instance; raises ``LeaseHeld`` when another worker is running it."""
        with self.sessions() as session, session.begin():
            if not acquire_lease(session, instance_id, owner=self.owner, seconds=self.lease_seconds):
                raise LeaseHeld(f"connector instance {instance_id} is being synced by another worker")
            # A run still "running" now lost its worker (the lease had expired): say so on it. When it
            # was a full refresh (or the continuation of one), this run takes the full refresh over.
            orphans = session.execute(
                select(m.SyncRun.id, m.SyncRun.full_refresh).where(
                    m.SyncRun.connector_instance_id == instance_id, m.SyncRun.status == "running"
                )
            ).all()
            takes_over_full_refresh = not full_refresh and any(f for _, f in orphans)
            for orphan_id, was_full in orphans:
                session.execute(
                    update(m.SyncRun)
                    .where(m.SyncRun.id == orphan_id)
                    .values(
                        status="abandoned",
                        finished_at=utcnow(),
                        error=ABANDONED_FULL_REFRESH if was_full else ABANDONED,
                    )
                )
            instance = session.get(m.ConnectorInstance, instance_id)
            if instance is None:
                raise LookupError(f"no connector instance {instance_id}")
            if takes_over_full_refresh:
                log.info("%s: the previous run, a full refresh, stopped mid-way; this run finishes it", instance.name)
                streams = None  # the interrupted refresh's streams are among all of them (their bookmarks were reset)
            run = m.SyncRun(
                connector_instance_id=instance_id,
                started_at=utcnow(),
                status="running",
                full_refresh=full_refresh or takes_over_full_refresh,
                stats={},
            )
            session.add(run)
            session.flush()
            run_id, kind, name = run.id, instance.kind, instance.name
            connector = registry.get(kind)
            config = load_config(connector, instance, self.cipher)
            state = dict(instance.state or {})
            if full_refresh:
                # Forget the refreshed streams' bookmarks in the same transaction that records the run
                # as a full refresh: whoever takes over after a crash reads the streams not yet done
                # from the beginning and the one in progress from its last stored page, so the full
                # refresh is finished rather than silently turned into an incremental run.
                for stream in connector.streams(config):
                    if not streams or stream.name in streams:
                        state.pop(stream.name, None)
                instance.state = state
        result = SyncResult(run_id=run_id, status="running")
        started = time.perf_counter()
        try:
            for stream in connector.streams(config):
                if streams and stream.name not in streams:
                    continue
                stats = result.stats.setdefault(stream.name, StreamStats())
                self._run_stream(
                    instance_id, name, connector, stream, state.get(stream.name, {}), stats, progress, run_id=run_id
                )
            result.status = "succeeded"
        except UpstreamError as exc:
            result.status, result.error = "failed", str(exc)
            log.warning("sync of %s failed: %s", name, exc)
        except Exception as exc:  # recorded on the run; the worker keeps going
            result.status, result.error = "failed", f"internal error: {exc.__class__.__name__}: {exc}"
            log.exception("sync of %s failed", name)
        finally:
            self._finish(instance_id, run_id, result, int((time.perf_counter() - started) * 1000))
            self._evaluate_pending()
        return result

    def _evaluate_pending(self) -> None:
        """Hand what the pages stored since the last call touched to ``on_page`` (if anything)."""
        pending, self._pending, self._pending_pages = self._pending, Touched(), 0
        if pending and self.on_page:
            self.on_page(pending)

    def _finish(self, instance_id: int, run_id: int, result: SyncResult, duration_ms: int) -> None:
        with self.sessions() as session, session.begin():
            now = utcnow()
            run = session.get_one(m.SyncRun, run_id)
            run.status, run.error, run.finished_at, run.duration_ms = result.status, result.error, now, duration_ms
            run.stats = {k: v.as_dict() for k, v in result.stats.items()}
            inst = session.get_one(m.ConnectorInstance, instance_id)
            inst.last_run_at = now
            inst.next_run_at = now + dt.timedelta(seconds=inst.schedule_seconds)
            if result.status == "succeeded":
                inst.consecutive_failures, inst.health, inst.paused_reason = 0, "healthy", None
            else:
                inst.consecutive_failures += 1
                inst.health = "failing"
                if inst.consecutive_failures >= PAUSE_AFTER_FAILURES:
                    inst.enabled, inst.health = False, "paused"
                    inst.paused_reason = (
                        f"paused after {inst.consecutive_failures} failed runs in a row; last error: {result.error}"
                    )
            release_lease(session, instance_id, owner=self.owner)

    # -- one stream ----------------------------------------------------------------------------

    def _run_stream(
        self,
        instance_id: int,
        name: str,
        connector: Connector,
        stream: Stream,
        state: dict[str, Any],
        stats: StreamStats,
        progress: Callable[[str, StreamStats], None] | None,
        *,
        run_id: int | None = None,
    ) -> None:
        attempt = 0
        self._backfill = not state
        while True:
            pages = stream.read(state)
            try:
                for page in pages:
                    state = self.store_page(instance_id, connector, stream, page, stats, run_id=run_id)
                    attempt = 0
                    if progress:
                        progress(stream.name, stats)
                return
            except (UpstreamError, IntegrityError, OperationalError) as exc:
                if isinstance(exc, UpstreamError):
                    exc.connector, exc.stream = exc.connector or name, exc.stream or stream.name
                    retriable = exc.retriable
                else:
                    # Another sync stored the same entity first (unique key), or the database shed the
                    # transaction (deadlock, lock time-out): the page is retried from the bookmark.
                    retriable = True
                attempt += 1
                if not retriable or attempt >= self.retry.max_attempts:
                    raise
                stats.retries += 1
                delay = self.retry.delay(attempt)
                log.info(
                    "%s/%s: %s; retry %d in %.1fs from the last stored page", name, stream.name, exc, attempt, delay
                )
                self.retry.sleep(delay)
                # Resume from the last committed bookmark (``state`` moves only once a page is stored;
                # a full refresh that fails before its first page starts over): the failed page is read again.
            finally:
                close = getattr(pages, "close", None)
                if close:
                    close()

    def store_page(
        self,
        instance_id: int,
        connector: Connector,
        stream: Stream,
        page: Page,
        stats: StreamStats,
        *,
        run_id: int | None = None,
    ) -> dict[str, Any]:
        """Archive, normalise, upsert, quarantine and move the bookmark — in one transaction.

        With ``run_id``, the run's counts for this stream are written in that transaction too: whoever
        reads a running run (the console's live progress) sees the pages that landed, never counts for
        a page that was rolled back. ``stats`` moves only once the page is committed.
        """
        with self.sessions() as session, session.begin():
            if not acquire_lease(session, instance_id, owner=self.owner, seconds=self.lease_seconds):
                raise LeaseHeld(f"lost the lease on connector instance {instance_id}")
            raw_ids = self._archive(session, instance_id, connector.kind, stream, page.records)
            items: list[Item] = []
            problems: list[Problem] = []
            for record, raw_id in zip(page.records, raw_ids, strict=True):
                try:
                    items += [Item(e, raw_id) for e in connector.normalise(stream.name, record)]
                except Rejection as exc:
                    problems.append(Problem(raw_id, exc.reason, exc.field))
            ingestor = Ingestor(
                session,
                cipher=self.cipher,
                source=connector.kind,
                known_workers=self._known_workers,
                copy_min_rows=self.copy_min_rows,
                encrypt=self.sealer.encrypt,
            )
            stored = ingestor.apply(items)
            problems += stored.problems
            self._quarantine(session, instance_id, stream.name, problems)
            inst = session.get_one(m.ConnectorInstance, instance_id)
            inst.state = {**(inst.state or {}), stream.name: page.state}
            touched = ingestor.touched() if self.on_page else None
            after = replace(
                stats,
                pages=stats.pages + 1,
                read=stats.read + len(page.records),
                created=stats.created + stored.created,
                updated=stats.updated + stored.updated,
                unchanged=stats.unchanged + stored.unchanged,
                quarantined=stats.quarantined + len({p.raw_record_id for p in problems}),
                total=page.total if page.total is not None else stats.total,
            )
            if run_id is not None:
                run = session.get_one(m.SyncRun, run_id)
                run.stats = {**(run.stats or {}), stream.name: after.as_dict()}
        self._known_workers.update(ingestor.seen_workers)  # committed: safe to remember
        if touched and self.on_page:
            self._pending, self._pending_pages = self._pending | touched, self._pending_pages + 1
            if self._pending_pages >= self.pages_per_evaluation and not self._backfill:
                self._evaluate_pending()
        stats.__dict__.update(after.__dict__)  # the caller's object: the run's result reads it
        return page.state

    def _archive(self, session: Session, instance_id: int, source: str, stream: Stream, records: Any) -> list[int]:
        """Raw records as received; a payload seen before (same key and hash) is not stored twice.

        One INSERT … ON CONFLICT DO NOTHING RETURNING for the page (from a COPYed staging table when
        the page is large, on PostgreSQL); only the payloads that were already archived (a repeated
        page, an unchanged record) are looked up, by their unique key.
        """
        now = utcnow()
        # Hash what was received; store it sealed (the stream's personal fields encrypted, hub.archive).
        rows = [
            {
                "connector_instance_id": instance_id,
                "source": source,
                "stream": stream.name,
                "source_key": stream.key_of(r),
                "payload": self.sealer.seal(r, stream.sensitive),
                "payload_hash": payload_hash(r),
                "received_at": now,
            }
            for r in records
        ]
        unique = list({(r["source_key"], r["payload_hash"]): r for r in rows}.values())
        ids: dict[tuple[str, str], int] = {}
        if unique and self._copies(session, len(unique)):
            found = bulk.insert_new(
                session,
                m.RawRecord,
                unique,
                ["source", "stream", "source_key", "payload_hash"],
                ["source_key", "payload_hash", "id"],
            )
            ids = {(k, h): i for k, h, i in found}
        elif unique:
            dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            stmt = (
                dialect_insert(m.RawRecord)
                .on_conflict_do_nothing(index_elements=["source", "stream", "source_key", "payload_hash"])
                .returning(m.RawRecord.source_key, m.RawRecord.payload_hash, m.RawRecord.id)
            )
            ids = {(k, h): i for k, h, i in session.execute(stmt, unique)}
        missing = {(r["source_key"], r["payload_hash"]) for r in unique} - set(ids)
        if missing:
            ids.update(self._raw_ids(session, source, stream.name, missing))
        return [ids[(r["source_key"], r["payload_hash"])] for r in rows]

    def _copies(self, session: Session, rows: int) -> bool:
        return self.copy_min_rows is not None and rows >= self.copy_min_rows and bulk.supported(session)

    @staticmethod
    def _raw_ids(session: Session, source: str, stream: str, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Ids of archived payloads, found through the unique (source, stream, key, hash) index."""
        found: dict[tuple[str, str], int] = {}
        wanted = list(keys)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            stmt = select(m.RawRecord.source_key, m.RawRecord.payload_hash, m.RawRecord.id).where(
                m.RawRecord.source == source,
                m.RawRecord.stream == stream,
                m.RawRecord.source_key.in_({k for k, _ in chunk}),
                m.RawRecord.payload_hash.in_({h for _, h in chunk}),
            )
            found.update({(k, h): i for k, h, i in session.execute(stmt) if (k, h) in keys})
        return found

    @staticmethod
    def _quarantine(session: Session, instance_id: int | None, stream: str, problems: list[Problem]) -> None:
        if not problems:
            return
        ids = [p.raw_record_id for p in problems if p.raw_record_id is not None]
        already = (
            set(
                session.execute(
                    select(m.Quarantine.raw_record_id).where(
                        m.Quarantine.raw_record_id.in_(ids), m.Quarantine.status == "open"
                    )
                ).scalars()
            )
            if ids
            else set()
        )
        for p in problems:
            if p.raw_record_id in already:
                continue  # the same payload failing again (a repeated page) is one quarantine entry
            already.add(p.raw_record_id)
            session.add(
                m.Quarantine(
                    connector_instance_id=instance_id,
                    raw_record_id=p.raw_record_id,
                    stream=stream,
                    reason=_stored_reason(p),
                    field=p.field,
                    status="open",
                )
            )

    # -- replay ----------------------------------------------------------------------------------

    def replay(self, quarantine_ids: list[int] | None = None, *, instance_id: int | None = None) -> Counter:
        """Normalise quarantined records again from the archive (no upstream call) and store them.

        Records that now pass are marked ``replayed``; those that still fail keep their entry with
        the new reason.
        """
        counts: Counter = Counter()
        with self.sessions() as session, session.begin():
            stmt = select(m.Quarantine).where(m.Quarantine.status == "open")
            if quarantine_ids is not None:
                stmt = stmt.where(m.Quarantine.id.in_(quarantine_ids))
            if instance_id is not None:
                stmt = stmt.where(m.Quarantine.connector_instance_id == instance_id)
            entries = session.execute(stmt.order_by(m.Quarantine.id)).scalars().all()
            for entry in entries:
                raw = session.get(m.RawRecord, entry.raw_record_id) if entry.raw_record_id else None
                if raw is None:
                    counts["missing"] += 1
                    continue
                connector = registry.get(raw.source)
                try:
                    items = [Item(e, raw.id) for e in connector.normalise(raw.stream, unseal(raw.payload, self.cipher))]
                except Rejection as exc:
                    entry.reason, entry.field = exc.reason, exc.field
                    counts["still_failing"] += 1
                    continue
                stored = Ingestor(session, cipher=self.cipher, source=raw.source).apply(items)
                if stored.problems:
                    entry.reason, entry.field = stored.problems[0].reason, stored.problems[0].field
                    counts["still_failing"] += 1
                else:
                    entry.status, entry.replayed_at = "replayed", utcnow()
                    counts["replayed"] += 1
        return counts
