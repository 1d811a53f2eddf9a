"""Re-match the whole clue pool in memory: what the matcher would decide today (a dry run).

After a change of the rules, the threshold or the window, an operator wants to know which records the
matcher would now put on another clue. Replaying :class:`hub.cluepool.ClueIntake` record by record
costs one indexed lookup per record; :func:`rematch_pool` streams ``channel_records`` in receipt order
(``received_at``, then ``id``) with a server-side cursor and keeps the blocking index in memory:

- for every blocking key (:func:`hub.matching.blocking_keys` of the stored ``match_features``), the
  records of the last ``window`` that carry it, oldest first; a record that falls out of the window is
  evicted from each of its keys, so the index holds one window of records, not the pool;
- each record is scored (:func:`hub.matching.score`) against the earlier records sharing a key with it
  — the newest :data:`hub.matching.MAX_CANDIDATES` key rows, as ``find_candidates`` takes them — and
  joins the cluster of the best one at or above ``threshold`` (:func:`hub.matching.match`; among equal
  scores the newest), else starts a cluster;
- a record stored with rule ``linked`` (the upstream's own link, 12345 ``oldOrderNum``) joins the
  cluster of the first record of its clue today: the link itself is not stored, only the clue it put
  the record on.

This is what the incremental matcher decides when records arrive in receipt order. Records that
arrived out of order were matched, live, against later records already in the pool too (its window
is ± around ``received_at``); the re-match only looks back. Records an operator moved (rule
``manual``) are re-matched like any other, so the report lists them.

Which earlier record is a record's best candidate depends only on the records before it, not on the
clusters, so the pool is cut into time segments scanned in parallel (``workers``), each first loading
the window before its start; the clusters are then formed in one cheap sequential pass.

Scores are memoised. :func:`hub.matching.score` uses the complainant's fields (phone, ID hash, name)
only by equality, so between two records that share none of them the score depends on the rest —
the respondent and the project, which recur across the pool — and is computed once per pair of those
(``tests/hub/test_rematch.py`` holds ``score`` to this). Memory: one window of records per scan, the
memo (bounded by :data:`MAX_MEMO`), and two 8-byte integers per clue id in the final pass.

A cluster is named by the clue of its first record when that record is also the first of its clue
today; otherwise it would be a new clue. A record is *changed* when its cluster's clue is not its clue
today. Nothing is written.
"""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing as mp
import os
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from itertools import islice
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

import orjson
from sqlalchemy import Text, func, select

from hub import models as m
from hub.db import make_engine
from hub.matching import (
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW,
    MAX_CANDIDATES,
    Features,
    Match,
    blocking_keys,
    phone_key,
    score,
)

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.engine import Connection, Engine

__all__ = ["Change", "RematchReport", "rematch_pool"]

#: Rows fetched per round trip from the server-side cursor.
BATCH = 10_000
#: Fewer records than this per worker are scanned in one process (starting a process costs more).
MIN_SEGMENT = 10_000
#: Signatures whose memoised scores are kept at most (cleared when full).
MAX_MEMO = 200_000
_ORDER = attrgetter("at", "id")


@dataclass(frozen=True, slots=True)
class Change:
    """A record the re-match would put on another clue (``proposed_clue_id`` None: on a new clue)."""

    channel_record_id: int
    current_clue_id: int
    proposed_clue_id: int | None
    #: The first record of the proposed cluster (it names a new clue).
    cluster_record_id: int
    rule: str
    score: float | None


@dataclass
class RematchReport:
    """What a re-match of the pool would change (a dry run: nothing was written)."""

    window: dt.timedelta
    threshold: float
    records: int = 0
    clues: int = 0  # distinct clues the records are on today
    clusters: int = 0  # clues the re-match would make
    changed: int = 0  # records on a different clue than today
    to_existing: int = 0  # … of which onto another existing clue (merges)
    to_new: int = 0  # … of which onto a new clue (splits)
    clues_affected: int = 0  # today's clues losing or gaining a record
    linked: int = 0  # records kept with their clue by the upstream's link
    workers: int = 1
    seconds: float = 0.0
    max_window_records: int = 0  # the most records one scan held in its window
    changes: list[Change] = field(default_factory=list)  # the first ``max_changes``

    def as_json(self) -> dict[str, Any]:
        return {
            "window_days": self.window.total_seconds() / 86400,
            "threshold": self.threshold,
            "records": self.records,
            "clues": self.clues,
            "clusters": self.clusters,
            "changed": self.changed,
            "to_existing": self.to_existing,
            "to_new": self.to_new,
            "clues_affected": self.clues_affected,
            "linked": self.linked,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "max_window_records": self.max_window_records,
            "changes": [
                {
                    "channel_record_id": c.channel_record_id,
                    "current_clue_id": c.current_clue_id,
                    "proposed_clue_id": c.proposed_clue_id,
                    "cluster_record_id": c.cluster_record_id,
                    "rule": c.rule,
                    "score": c.score,
                }
                for c in self.changes
            ],
        }


def rematch_pool(
    engine: Engine,
    *,
    window: dt.timedelta = DEFAULT_WINDOW,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
    max_changes: int = 1000,
    workers: int | None = None,
) -> RematchReport:
    """Re-run the matcher over every channel record in receipt order, without writing (see the module).

    ``progress(done, total)`` is called as records are scanned; ``workers`` scans run in parallel
    processes (default: the CPUs, at most 4; 1 scans in this process).
    """
    if window <= dt.timedelta(0):
        raise ValueError(f"window must be positive, got {window}")
    workers = workers or min(4, os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    started = time.perf_counter()
    with engine.connect() as conn:
        total, bounds = _segments(conn, workers)
    if workers == 1 or not bounds:
        scans = [_scan(engine, None, None, window.total_seconds(), threshold, progress=progress, total=total)]
    else:
        scans = _parallel(engine, bounds, window.total_seconds(), threshold, progress=progress, total=total)
    with _gc_paused():  # millions of small tuples, no cycles (see _scan)
        report = _decide(scans, window=window, threshold=threshold, max_changes=max_changes)
    report.workers = len(scans)
    report.seconds = time.perf_counter() - started
    return report


# ----------------------------------------------------------------------------------------------- scanning


@dataclass
class _Scan:
    """One segment's records in receipt order and each one's best earlier record (0: none)."""

    ids: array = field(default_factory=lambda: array("q"))
    clue_ids: array = field(default_factory=lambda: array("q"))
    ats: array = field(default_factory=lambda: array("d"))
    best: array = field(default_factory=lambda: array("q"))
    scores: array = field(default_factory=lambda: array("d"))
    rules: bytearray = field(default_factory=bytearray)  # index into rule_names
    #: ``none``: no candidate at the threshold; ``linked``: the stored rule kept (no matching).
    rule_names: list[str] = field(default_factory=lambda: ["none", "linked"])
    max_window: int = 0

    def code(self, rule: str) -> int:
        try:
            return self.rule_names.index(rule)
        except ValueError:
            self.rule_names.append(rule)
            return len(self.rule_names) - 1


class _Rec:
    """A record within the window: what candidates need."""

    __slots__ = ("at", "features", "id", "keys", "sig")

    def __init__(self, rid: int, at: float, features: Features, sig: tuple[Any, ...], keys: list[str]) -> None:
        self.id = rid
        self.at = at
        self.features = features
        self.sig = sig
        self.keys = keys


def _segments(conn: Connection, workers: int) -> tuple[int, list[dt.datetime]]:
    """The number of records and the ``received_at`` that start each segment after the first."""
    total = conn.execute(select(func.count()).select_from(m.ChannelRecord)).scalar_one()
    bounds: list[dt.datetime] = []
    if workers > 1 and total >= MIN_SEGMENT * workers:
        for i in range(1, workers):
            at = conn.execute(
                select(m.ChannelRecord.received_at)
                .order_by(m.ChannelRecord.received_at)
                .offset(total * i // workers)
                .limit(1)
            ).scalar_one()
            if not bounds or at > bounds[-1]:
                bounds.append(at)
    return total, bounds


def _parallel(
    engine: Engine,
    bounds: list[dt.datetime],
    window_s: float,
    threshold: float,
    *,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> list[_Scan]:
    # fork, not spawn: spawn re-imports the caller's __main__, which a script without the
    # ``if __name__ == "__main__"`` guard cannot take. The forked scans drop the inherited pool unclosed.
    ctx = mp.get_context("fork")
    url = engine.url.render_as_string(hide_password=False)
    edges: list[dt.datetime | None] = [None, *bounds, None]
    counters = [ctx.Value("q", 0, lock=False) for _ in range(len(edges) - 1)]
    with ProcessPoolExecutor(
        max_workers=len(counters), mp_context=ctx, initializer=_init_worker, initargs=(counters, engine)
    ) as pool:
        futures = [
            pool.submit(_scan_worker, url, i, edges[i], edges[i + 1], window_s, threshold) for i in range(len(counters))
        ]
        while not all(f.done() for f in futures):
            time.sleep(0.2)
            if progress is not None:
                progress(min(total, sum(c.value for c in counters)), total)
        scans = [f.result() for f in futures]
    if progress is not None:
        progress(total, total)
    return scans


_COUNTERS: list[Any] = []


def _init_worker(counters: list[Any], parent: Engine) -> None:
    parent.dispose(close=False)  # the parent's connections are the parent's: never use or close them here
    _COUNTERS[:] = counters


def _scan_worker(
    url: str, i: int, start: dt.datetime | None, end: dt.datetime | None, window_s: float, threshold: float
) -> _Scan:
    engine = make_engine(url)
    counter = _COUNTERS[i]

    def report(done: int, _total: int) -> None:
        counter.value = done

    try:
        return _scan(engine, start, end, window_s, threshold, progress=report, total=0)
    finally:
        engine.dispose()


def _stream(engine: Engine, lo: dt.datetime | None, hi: dt.datetime | None) -> Iterator[Sequence[Sequence[Any]]]:
    """Batches of ``(id, clue_id, received_at, match_rule, match_features as text)`` in receipt order."""
    cr = m.ChannelRecord
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # psycopg directly: its C loaders, no ORM type processing per row.
            where = " AND ".join(w for w, v in (("received_at >= %(lo)s", lo), ("received_at < %(hi)s", hi)) if v)
            # (the postgresql dialect's driver is psycopg: its named cursor is a server-side one)
            raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
            with raw.cursor(name="rematch") as cur:
                cur.itersize = BATCH
                cur.execute(
                    "SELECT id, clue_id, received_at, match_rule, match_features::text FROM channel_records"
                    f"{' WHERE ' + where if where else ''} ORDER BY received_at, id",
                    {"lo": lo, "hi": hi},
                )
                while rows := cur.fetchmany(BATCH):
                    yield rows
            raw.rollback()
            return
        q = select(cr.id, cr.clue_id, cr.received_at, cr.match_rule, cr.match_features.cast(Text))
        if lo is not None:
            q = q.where(cr.received_at >= lo)
        if hi is not None:
            q = q.where(cr.received_at < hi)
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(q.order_by(cr.received_at, cr.id))
        yield from result.partitions()


def _scan(
    engine: Engine,
    start: dt.datetime | None,
    end: dt.datetime | None,
    window_s: float,
    threshold: float,
    *,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> _Scan:
    """Each record's best earlier record in ``[start, end)``; the window before ``start`` is loaded first.

    The cyclic garbage collector is paused meanwhile: the window is hundreds of thousands of live
    objects without cycles, and collecting them over and over cost a fifth of the scan.
    """
    with _gc_paused():
        return _scan_records(engine, start, end, window_s, threshold, progress=progress, total=total)


@contextmanager
def _gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _scan_records(
    engine: Engine,
    start: dt.datetime | None,
    end: dt.datetime | None,
    window_s: float,
    threshold: float,
    *,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> _Scan:
    out = _Scan()
    index: dict[str, deque[_Rec]] = {}
    by_name: dict[str, deque[_Rec]] = {}  # the window's records by complainant name (not a blocking key)
    window_recs: deque[_Rec] = deque()
    memo: dict[tuple[Any, ...], dict[tuple[Any, ...], Match]] = {}  # scores between signatures
    loads, intern = orjson.loads, sys.intern
    begin = start.timestamp() if start is not None else None
    lo = start - dt.timedelta(seconds=window_s) if start is not None else None
    done = 0
    linked_code = out.code("linked")
    for part in _stream(engine, lo, end):
        for rid, clue_id, received_at, rule, raw in part:
            at = received_at.timestamp()
            horizon = at - window_s
            while window_recs and window_recs[0].at < horizon:
                old = window_recs.popleft()
                for k in old.keys:
                    dq = index[k]
                    dq.popleft()
                    if not dq:
                        del index[k]
                name = old.features.complainant
                if name:
                    dq = by_name[name]
                    dq.popleft()
                    if not dq:
                        del by_name[name]
            data = loads(raw) if raw else None
            if data:
                # The respondent and project recur across records: one string each, not one per record.
                for k, v in data.items():
                    if isinstance(v, str) and k not in _PERSON:
                        data[k] = intern(v)
                f = Features(**data)
            else:
                f = Features(county="")
            keys = [intern(k) for k in blocking_keys(f)]
            sig = _signature(f)
            if begin is None or at >= begin:  # a record of the segment, not one of the window before it
                best = None
                if rule == "linked":
                    code = linked_code
                elif keys:
                    best = _best(f, sig, keys, index, by_name, threshold, memo)
                    code = out.code(best[1].rule) if best else 0
                else:
                    code = 0
                out.ids.append(rid)
                out.clue_ids.append(clue_id)
                out.ats.append(at)
                out.best.append(best[0].id if best else 0)
                out.scores.append(best[1].score if best else 0.0)
                out.rules.append(code)
                done += 1
            rec = _Rec(rid, at, f, sig, keys)
            window_recs.append(rec)
            for k in keys:
                keyed = index.get(k)
                if keyed is None:
                    index[k] = deque((rec,))
                else:
                    keyed.append(rec)
            if f.complainant:
                named = by_name.get(f.complainant)
                if named is None:
                    by_name[f.complainant] = deque((rec,))
                else:
                    named.append(rec)
        out.max_window = max(out.max_window, len(window_recs))
        if len(memo) > MAX_MEMO:
            memo.clear()  # a memo, not state: bounded
        if progress is not None:
            progress(done, total)
    return out


# ----------------------------------------------------------------------------------------------- deciding


def _decide(scans: list[_Scan], *, window: dt.timedelta, threshold: float, max_changes: int) -> RematchReport:
    """Form the clusters in receipt order from each record's best earlier record, and diff with today."""
    report = RematchReport(window=window, threshold=threshold)
    span = window.total_seconds()
    max_clue = max((max(s.clue_ids) for s in scans if s.clue_ids), default=0)
    first = array("q", bytes(8 * (max_clue + 1)))  # per clue: its first record today
    first_cluster = array("q", bytes(8 * (max_clue + 1)))  # … and that record's cluster (0: a new clue)
    recent: dict[int, tuple[int, int]] = {}  # record → (cluster's first record, cluster's clue), within the window
    order: deque[tuple[float, int]] = deque()
    affected: set[int] = set()
    for s in scans:
        rules = s.rule_names
        report.max_window_records = max(report.max_window_records, s.max_window)
        for rid, clue_id, at, best, sc, code in zip(s.ids, s.clue_ids, s.ats, s.best, s.scores, s.rules, strict=True):
            horizon = at - span
            while order and order[0][0] < horizon:
                del recent[order.popleft()[1]]
            clue_first = first[clue_id]
            if not clue_first:
                report.clues += 1
            rule, found_score = "new", None
            if code == 1 and clue_first:  # linked: with its clue's first record
                root, cluster_clue = clue_first, first_cluster[clue_id]
                rule, found_score = "linked", 1.0
                report.linked += 1
            elif best:
                root, cluster_clue = recent[best]
                rule, found_score = rules[code], sc
            else:
                root, cluster_clue = rid, 0
            if root == rid:
                report.clusters += 1
                cluster_clue = 0 if clue_first else clue_id
            if not clue_first:
                first[clue_id] = rid
                first_cluster[clue_id] = cluster_clue
            if cluster_clue != clue_id:
                report.changed += 1
                if cluster_clue:
                    report.to_existing += 1
                    affected.add(cluster_clue)
                else:
                    report.to_new += 1
                affected.add(clue_id)
                if len(report.changes) < max_changes:
                    report.changes.append(Change(rid, clue_id, cluster_clue or None, root, rule, found_score))
            recent[rid] = (root, cluster_clue)
            order.append((at, rid))
            report.records += 1
    report.clues_affected = len(affected)
    return report


def _best(
    f: Features,
    sig: tuple[Any, ...],
    keys: list[str],
    index: dict[str, deque[_Rec]],
    by_name: dict[str, deque[_Rec]],
    threshold: float,
    memo: dict[tuple[Any, ...], dict[tuple[Any, ...], Match]],
) -> tuple[_Rec, Match] | None:
    """The candidate ``find_candidates`` + ``match`` would pick among the window's records sharing a key."""
    hits: list[_Rec] = []
    sources = 0
    for k in keys:
        dq = index.get(k)
        if dq is not None:
            sources += 1
            # A key's records are in receipt order: no more than the newest MAX_CANDIDATES can count.
            hits.extend(dq if len(dq) <= MAX_CANDIDATES else islice(reversed(dq), MAX_CANDIDATES))
    if not hits:
        return None
    if len(hits) > MAX_CANDIDATES:
        # A hot block: the newest key rows win (ORDER BY received_at DESC LIMIT MAX_CANDIDATES).
        hits.sort(key=_ORDER, reverse=True)
        del hits[MAX_CANDIDATES:]
        hits.reverse()
    elif sources > 1:
        hits.sort(key=_ORDER)
    # Records with a complainant field in common are scored one by one; every other candidate scores
    # what the newest record of its signature scores, and among equal scores the newest wins — so one
    # record per signature, the newest (``hits`` is oldest first), stands for the others.
    person: set[int] = set()
    for key, table in (
        (phone_key(f.phone) if f.phone else None, index),
        (f"i:{f.id_hash}" if f.id_hash else None, index),
        (f.complainant, by_name),
    ):
        if key is not None and (same := table.get(key)):
            person.update(r.id for r in same)
    if person:
        newest = {c.sig: c for c in hits if c.id not in person}
        chosen = [c for c in hits if c.id in person]
    else:
        newest = {c.sig: c for c in hits}
        chosen = []
    row = memo.get(sig)
    if row is None:
        row = memo[sig] = {}
    best: _Rec | None = None
    best_match: Match | None = None
    best_order: tuple[float, float, int] = (-1.0, 0.0, 0)
    for other, cand in newest.items():
        found = row.get(other)
        if found is None:
            found = row[other] = score(f, cand.features)
        if found.score >= best_order[0]:
            order = (found.score, cand.at, cand.id)
            if order > best_order:
                best, best_match, best_order = cand, found, order
    for cand in chosen:
        found = score(f, cand.features)
        order = (found.score, cand.at, cand.id)
        if order > best_order:
            best, best_match, best_order = cand, found, order
    if best is None or best_match is None or best_match.rule == "none" or best_match.score < threshold:
        return None
    return best, best_match


#: The complainant's fields. :func:`hub.matching.score` uses them only through equality (same phone,
#: same ID hash, same name), so between two records that share none of them the score is a function
#: of the other fields — the respondent and the project, which recur across a pool's records.
_PERSON = frozenset({"phone", "id_hash", "complainant"})
_OTHER = tuple(f.name for f in fields(Features) if f.name not in _PERSON)


def _signature(f: Features) -> tuple[Any, ...]:
    """The respondent-and-project part of the features: what the score depends on between strangers."""
    return tuple([getattr(f, n) for n in _OTHER])
