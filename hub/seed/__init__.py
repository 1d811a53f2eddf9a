"""Deterministic, coherent demo data for the hub at three scales (``tiny``, ``city``, ``province``).

Usage::

    from hub.credit_sweep import sweep
from hub.crypto import Cipher
from hub.db import session_scope
    from hub.db import make_engine
    from hub.seed import seed_database

    summary = seed_database(make_engine(url), scale="city", cipher=Cipher(secret_key))
    summary.counts["payroll_records"], summary.highlights["multi_channel_clue"]["clue_no"]

The same ``seed`` and ``today`` always give the same rows (Fernet ciphertexts aside: they carry a
random IV, so compare decrypted values or the keyed ``*_hash`` columns). Generation is streamed in
blocks with per-block RNGs, so memory stays flat even at province scale (millions of payroll rows).

Every scale contains the special situations in :attr:`SeedSummary.highlights` (ids and codes):

- ``stopped_allocation_project``: labour cost stopped ≥ 3 months before ``today`` (条例 Art. 24)
  while workers keep working unpaid (pay_status 0): the engine raises W03, W05 and W10 on it;
- ``multi_channel_clue``: one clue reached through 12345 and the national platform (two channel
  records, same phone, full name vs abbreviation, match rule ``phone``) on a project with payroll;
- ``repeat_enterprise``: a labour company with ≥ 10 clues in the last 90 days and three penalties this
  year (rated C from them), W15;
- ``blacklisted_enterprise`` (on the 失信联合惩戒名单) and ``expiring_listing`` (a listing whose three
  years end within the month).

The generator writes the credit *evidence* (penalties, listings), never a rating: the ratings and
``Enterprise.credit_level`` are what ``hub.credit`` computes over the seeded world at the end of
seeding (the last four evaluation years).
- ``group_case_clue`` (≥ 10 workers) and ``large_amount_clue`` (≥ ¥500,000), both red;
- ``expired_guarantee`` and ``expiring_guarantee`` (保函 expired / expiring within 30 days), W12;
- ``warning_situations``: the projects that fire W01 (no account; one whose account opened after the
  warning, which resolves it), W02, W04, W07, W08, W11, and the boundaries that must not fire (an
  account not yet due, exactly ¥50,000 to one worker in a month, a letter expiring in 31 days); and,
  with their own attendance, exits and output values (``hub.seed._engine_cases``), the projects that
  fire W06, W09, W13, W14 and W16, each with a boundary (an unpaid record that still puts the worker on
  the sheet, an exit 3 days ago, a site idle 14 days, output up 19 %, pay to an unregistered worker 3
  days ago);
- ``escalated_warning_clue``: the clue the stopped project's red warnings escalated into;
- ``warnings``: what the engine left active, by rule and level.

The generator writes no warning: after loading, :func:`seed_database` runs the rules engine as the
hub would have — on a day ``HUB_WARNING_ESCALATE_AFTER_WORKING_DAYS + 1`` working days back, then
today — so that the demo holds warnings raised, changed, resolved and (red, unacknowledged)
escalated into the clue pool through the matcher.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from hub import models as m
from hub.credit_sweep import sweep
from hub.crypto import Cipher
from hub.db import session_scope
from hub.models import Project, utcnow
from hub.rules import RULES, evaluate
from hub.seed._base import SCALES, ScalePlan, canonical_json, payload_hash
from hub.seed._generate import Generation
from hub.seed._load import TABLE_ORDER, Loader, Progress, load_regions, table_counts
from hub.settings import get_settings
from hub.workdays import CST, add_working_days, local_date

__all__ = [
    "SCALES",
    "TABLE_ORDER",
    "ScalePlan",
    "SeedError",
    "SeedSummary",
    "canonical_json",
    "load_regions",
    "payload_hash",
    "seed_database",
    "table_counts",
]


class SeedError(RuntimeError):
    """The database cannot be seeded (it is not empty, or the options are wrong)."""


@dataclass
class SeedSummary:
    """What :func:`seed_database` wrote: row counts per table and the ids of the special situations."""

    scale: str
    seed: int
    today: dt.date
    region: str
    counts: dict[str, int]
    highlights: dict[str, Any] = field(default_factory=dict)
    regions_loaded: int = 0
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def _rate(engine: Engine, *, today: dt.date, now: dt.datetime) -> tuple[int, int]:
    """Rate the seeded world from its evidence (``hub.credit_sweep``: the last four evaluation years, so
    that the deposit rate finds a record of clean years); returns the ratings and the events written."""
    with session_scope(engine) as session:
        report = sweep(session, today=today, years=range(today.year - 3, today.year + 1), now=now)
    events = sum(r.level_changed for r in report.ratings) + len(report.expired)
    return sum(r.created for r in report.ratings), events


def seed_database(
    engine: Engine,
    *,
    scale: str = "city",
    seed: int = 20261121,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    cipher: Cipher,
    region: str = "370800",
    progress: Progress | None = None,
    batch_size: int = 20_000,
) -> SeedSummary:
    """Fill an empty, migrated database with demo data and return what was written.

    ``scale`` is ``tiny`` (tests: 3 counties, ~30 projects), ``city`` (the city ``region`` and its
    counties: ~1,000 projects, ~26,000 workers, ~245k payroll records, 5,000 clues) or ``province``
    (the province of ``region``: 20,000 projects, ~550,000 workers, > 5M payroll records, 200,000
    clues). Each project also gets its real-name teams, entries and exits, and attendance: the last full
    month and the current one at ``tiny``, the last week at ``city``, five days at ``province``
    (attendance is a row per worker and day: ``ScalePlan.attendance_months`` / ``attendance_days``).
    ``today`` (default: the current date in China) anchors the 12 months of payroll, the clue year
    and every deadline; ``now`` (default: the end of ``today``, or the current time when ``today`` is not
    given) is the latest time any seeded row carries, so that a demo seeded in the morning has no clue
    received in the afternoon. ``progress(table, done, total)`` is called after each batch (``total`` is an
    estimate until the final call, which passes ``done == total``). Regions are loaded first
    (:func:`load_regions`). Raises :class:`SeedError` when ``projects`` already has rows.
    """
    if scale not in SCALES:
        raise SeedError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    started = time.perf_counter()
    with engine.connect() as conn:
        if conn.scalar(select(func.count()).select_from(Project.__table__)):
            raise SeedError("the database already has projects: seed_database only fills an empty database")
    loaded = load_regions(engine)
    if today is None:
        now = now or utcnow()
        today = local_date(now)
    try:
        gen = Generation(plan=SCALES[scale], seed=seed, today=today, cipher=cipher, region=region, now=now)
    except ValueError as exc:
        raise SeedError(str(exc)) from exc
    loader = Loader(engine, batch_size=batch_size, progress=progress, totals=gen.estimated_totals())
    counts = loader.load(gen.rows())
    stopped = gen.highlights["stopped_allocation_project"]["project_id"]
    gen.highlights.update(run_warnings(engine, today=today, now=gen.world.now, cipher=cipher, project_id=stopped))
    counts["credit_ratings"], events = _rate(engine, today=today, now=gen.world.now)
    counts["events"] += events
    if progress:
        for table in ("credit_ratings", "events"):
            progress(table, counts[table], counts[table])
    return SeedSummary(
        scale=scale,
        seed=seed,
        today=today,
        region=region,
        counts=counts,
        highlights=gen.highlights,
        regions_loaded=loaded,
        seconds=time.perf_counter() - started,
    )


def run_warnings(
    engine: Engine, *, today: dt.date, now: dt.datetime, cipher: Cipher, project_id: int
) -> dict[str, Any]:
    """The demo's warnings, as the engine computes them over the seeded world: a sweep on the day that
    lets a red warning go unhandled long enough to escalate, then today's (with escalation).

    Returns the highlights: the clue the warnings of ``project_id`` (the stopped project) escalated
    into, and the active warnings by rule and level.
    """
    after = get_settings().warning_escalate_after_working_days
    earlier = add_working_days(today, -(after + 1))
    earlier_now = min(now, dt.datetime.combine(earlier, dt.time(9), CST).astimezone(dt.UTC))
    with session_scope(engine) as session:
        evaluate(session, today=earlier, now=earlier_now, rules=[r.code for r in RULES if r.dated])
    with session_scope(engine) as session:
        report = evaluate(session, today=today, now=now, cipher=cipher)
        out: dict[str, Any] = {}
        active = session.execute(
            select(m.Warning.rule_code, m.Warning.level, func.count())
            .where(m.Warning.status.in_(("active", "escalated")))
            .group_by(m.Warning.rule_code, m.Warning.level)
            .order_by(m.Warning.rule_code, m.Warning.level)
        ).all()
        out["warnings"] = {}
        for code, level, n in active:
            out["warnings"].setdefault(code, {})[level] = n
        escalated = session.execute(
            select(m.Warning.id, m.Clue.id, m.Clue.clue_no)
            .join(m.Clue, m.Clue.id == m.Warning.clue_id)
            .where(m.Warning.id.in_(sorted(report.escalated)), m.Warning.project_id == project_id)
            .order_by(m.Warning.id)
        ).all()
        if escalated:
            out["escalated_warning_clue"] = {
                "clue_id": escalated[0][1],
                "clue_no": escalated[0][2],
                "project_id": project_id,
                "warning_ids": [wid for wid, cid, _ in escalated if cid == escalated[0][1]],
            }
    return out
