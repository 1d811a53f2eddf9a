"""The warnings engine: evaluates the rules and keeps the ``warnings`` table in step with what they find.

For each rule, its one SELECT gives the warnings that hold today; the engine then, in the caller's
transaction:

- raises a warning for a (rule, subject, period) seen for the first time — ``warning.raised``;
- changes the level of one whose level moved (yellow → red …), recording the step — ``warning.changed``;
- resolves an open warning whose row no longer comes back, with the fact that clears it —
  ``warning.resolved``; and raises it again (``reopened``) should the condition come back;
- leaves alone what people closed by hand (resolved with a reason, or a false positive);
- escalates into the clue pool (``hub.cluepool.escalate_warning``, channel 预警) a red warning of a
  rule that escalates, when nobody acknowledged it within ``HUB_WARNING_ESCALATE_AFTER_WORKING_DAYS``.

Each step writes a ``WarningAction`` (the warning's history) and an outbox event. Evaluating twice on
the same day changes nothing the second time. ``scope`` limits a run to the warnings of some projects
and enterprises (the incremental path after a sync page); without it, a run is the full sweep.

Two runs at once (a sync page's and the sweep, or two pages' about one project) may both change or
raise the same warning: the compare-and-set on ``warnings.version`` (and the unique key of a
warning) lets one commit and makes the other fail. :func:`evaluate_committed` runs the loser again
from a fresh read; see there why again, rather than its writes re-applied.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, tuple_, union
from sqlalchemy.exc import IntegrityError

from hub import models as m
from hub.access import SYSTEM
from hub.cluepool import escalate_warning
from hub.models import utcnow
from hub.outbox import warning_event
from hub.rules.base import Context, Rule
from hub.rules.catalogue import RULES
from hub.settings import Settings, get_settings
from hub.vocab import Colour, WarningStatus
from hub.workdays import CST, add_working_days, china_today
from hub.workflow import lost_race

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from hub.crypto import Cipher

__all__ = ["SYSTEM_ACTOR", "Report", "Scope", "evaluate", "evaluate_committed", "rules_enabled", "thresholds_for"]

log = logging.getLogger(__name__)

#: Who the engine's own steps are recorded as (``Warning.resolved_by``, ``WarningAction.actor``).
SYSTEM_ACTOR = "system"
OPEN = (WarningStatus.ACTIVE.value, WarningStatus.ESCALATED.value)
#: The most people an incremental run names to the rules as literals (more: they narrow by a subquery).
MAX_PEOPLE = 20_000
#: How many times :func:`evaluate_committed` runs an evaluation that keeps losing races (then it fails).
ATTEMPTS = 3
#: The unique key of a warning: a second run raising the same warning at once fails on it.
_WARNING_KEY = "uq_warnings_rule_subject_period"


@dataclass(frozen=True)
class Scope:
    """The projects and enterprises an incremental run is about (their warnings, and only theirs)."""

    project_ids: frozenset[int] = frozenset()
    enterprise_ids: frozenset[int] = frozenset()

    @classmethod
    def of(cls, *, project_ids: Iterable[int] = (), enterprise_ids: Iterable[int] = ()) -> Scope:
        return cls(frozenset(project_ids), frozenset(enterprise_ids))

    def __bool__(self) -> bool:
        return bool(self.project_ids or self.enterprise_ids)

    def condition(self, project_id: Any, enterprise_id: Any) -> ColumnElement[bool]:
        """Rows about one of the scope's projects or enterprises."""
        return or_(project_id.in_(sorted(self.project_ids)), enterprise_id.in_(sorted(self.enterprise_ids)))


@dataclass
class Report:
    """What one evaluation did, per rule and in total."""

    counts: Counter[str] = field(default_factory=Counter)
    by_rule: dict[str, Counter[str]] = field(default_factory=dict)
    #: Ids of the warnings escalated into the clue pool, and the clues they went into.
    escalated: dict[int, int] = field(default_factory=dict)
    #: Seconds each rule evaluated took (its SELECT and the engine's writes): what a run cost, per rule.
    seconds: dict[str, float] = field(default_factory=dict)
    #: Times the evaluation lost a race to a concurrent one and ran again (:func:`evaluate_committed`).
    reruns: int = 0

    def add(self, code: str, what: str, n: int = 1) -> None:
        if n:
            self.counts[what] += n
            self.by_rule.setdefault(code, Counter())[what] += n

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)


def thresholds_for(rule: Rule, settings: Settings) -> dict[str, Any]:
    """The rule's thresholds: its defaults overlaid with ``HUB_WARNING_THRESHOLDS``."""
    overrides = settings.warning_thresholds.get(rule.code, {})
    unknown = sorted(set(overrides) - set(rule.thresholds))
    if unknown:
        raise ValueError(
            f"HUB_WARNING_THRESHOLDS names {unknown[0]!r} for {rule.code}, which has "
            f"{', '.join(rule.thresholds) or 'no thresholds'}"
        )
    return {**rule.thresholds, **overrides}


def rules_enabled(settings: Settings, *, codes: Sequence[str] | None = None) -> list[Rule]:
    """The rules to evaluate: ``codes`` (default: all) less ``HUB_WARNING_RULES_DISABLED``."""
    known = {r.code for r in RULES}
    unknown = sorted(set(settings.warning_thresholds) - known)
    disabled = {c.strip() for c in settings.warning_rules_disabled.split(",") if c.strip()}
    unknown += sorted(disabled - known) + sorted(set(codes or ()) - known)
    if unknown:
        raise ValueError(f"no warning rule {unknown[0]!r}: the rules are {', '.join(sorted(known))}")
    return [r for r in RULES if r.code not in disabled and (codes is None or r.code in codes)]


def evaluate(
    session: Session,
    *,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    rules: Sequence[str] | None = None,
    scope: Scope | None = None,
    tables: Collection[str] | None = None,
    cipher: Cipher | None = None,
    settings: Settings | None = None,
) -> Report:
    """Evaluate ``rules`` (codes; default: every enabled rule) as of ``today`` (China's, by default) in
    the caller's transaction; with ``scope``, only for its projects and enterprises; with ``tables``
    (what a sync page wrote), only the rules reading one of them (``Rule.inputs``) — the others'
    results cannot have changed, save by the passing of time, which the daily sweep judges. ``now``
    stamps what is written. Red warnings of the rules evaluated escalate when a ``cipher`` is given
    (escalation writes a clue)."""
    settings = settings or get_settings()
    now = now or utcnow()
    today = today or china_today(now)
    report = Report()
    chosen = rules_enabled(settings, codes=rules)
    if tables is not None:
        written = frozenset(tables)
        chosen = [r for r in chosen if r.input_tables() & written]
        if not chosen:
            return report
    projects, enterprises, people = scope_sets(session, scope, by_person=any(r.by_person for r in chosen))
    for rule in chosen:
        ctx = Context(
            today=today,
            thresholds=thresholds_for(rule, settings),
            scope_projects=projects,
            scope_enterprises=enterprises,
            scope_people=people,
        )
        started = time.perf_counter()
        _evaluate_rule(session, rule, ctx, scope=scope, now=now, report=report)
        report.seconds[rule.code] = time.perf_counter() - started
    if cipher is not None:
        _escalate(
            session,
            [r for r in chosen if r.escalates],
            today=today,
            now=now,
            after=settings.warning_escalate_after_working_days,
            scope=scope,
            cipher=cipher,
            report=report,
        )
    session.flush()
    return report


def evaluate_committed(
    sessions: Callable[[], Session], evaluation: Callable[[Session], Report], *, attempts: int = ATTEMPTS
) -> Report:
    """Run ``evaluation`` (an :func:`evaluate` call) in a session of ``sessions`` and commit; when it lost
    a race to a concurrent evaluation — or to a person handling a warning — over the same warning, roll
    it back and run it again in a new session, up to ``attempts`` times in all.

    Why again, from a fresh read, rather than re-reading the one warning and re-applying this run's
    change to it: what a run writes is decided by its rules' SELECT, and the run that committed first
    may have read newer data (the wages paid, so it resolved the warning); re-applying the loser's
    older decision would undo that (reopen it). Running again reads what the winner committed and the
    data it judged, and, evaluation being idempotent, changes only what is still to change — nothing,
    when both judged the same data. The lost run's writes (actions, events, an escalation's clue) are
    rolled back with it, so nothing is recorded twice. On PostgreSQL the loser's UPDATE waited for the
    winner's commit, on SQLite its write lock did: the next attempt reads the winner's result at once.
    """
    for attempt in range(1, attempts + 1):
        with sessions() as session:
            try:
                report = evaluation(session)
                session.commit()
            except Exception as exc:
                session.rollback()
                if attempt < attempts and _lost_to_another(exc):
                    log.info("a warnings evaluation lost a race to a concurrent one; evaluating again")
                    continue
                raise
        report.reruns = attempt - 1
        return report
    raise AssertionError("unreachable: the last attempt returns or raises")


def _lost_to_another(exc: BaseException) -> bool:
    """Whether ``exc`` says another transaction changed or raised the same warning first."""
    if lost_race(exc):
        return True
    if not isinstance(exc, IntegrityError):
        return False
    orig = exc.orig
    # psycopg names the violated constraint; SQLite names its columns only
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    return constraint == _WARNING_KEY or str(orig).startswith("UNIQUE constraint failed: warnings.rule_code,")


def scope_sets(
    session: Session, scope: Scope | None, *, by_person: bool = True
) -> tuple[frozenset[int] | None, frozenset[int] | None, frozenset[str] | None]:
    """What the rules may narrow their inputs to in an incremental run (``Context.scope_projects`` /
    ``scope_enterprises`` / ``scope_people``): the projects a scoped warning can be about — those named,
    and those of the enterprises named (a project's warnings carry its general contractor) —, the
    enterprises named, and the people paid on those projects or by those enterprises (``None`` when
    there are more than :data:`MAX_PEOPLE`, or when ``by_person`` is false — no rule summing per person
    is evaluated —: the rules then narrow in SQL). All ``None`` for the sweep."""
    if scope is None:
        return None, None, None
    projects = scope.project_ids
    if scope.enterprise_ids:
        query = select(m.Project.id).where(m.Project.contractor_id.in_(sorted(scope.enterprise_ids)))
        projects = projects | frozenset(session.scalars(query))
    if not by_person:
        return projects, scope.enterprise_ids, None
    pr, w = m.PayrollRecord, m.Worker
    # Two index lookups (by project, by enterprise), not one OR, which would read all payroll.
    paid = [select(w.id_number_hash).join(pr, pr.worker_id == w.id).where(pr.project_id.in_(sorted(projects)))]
    if scope.enterprise_ids:
        paid.append(
            select(w.id_number_hash)
            .join(pr, pr.worker_id == w.id)
            .where(pr.enterprise_id.in_(sorted(scope.enterprise_ids)))
        )
    people = frozenset(session.scalars(union(*paid).limit(MAX_PEOPLE + 1)))
    return projects, scope.enterprise_ids, people if len(people) <= MAX_PEOPLE else None


def _fired(session: Session, rule: Rule, ctx: Context, scope: Scope | None) -> dict[tuple[int, str], Any]:
    sub = rule.select(ctx).subquery("fired")
    query = select(sub)
    if scope is not None:
        query = query.where(scope.condition(sub.c.project_id, sub.c.enterprise_id))
    rows = session.execute(query.order_by(sub.c.subject_id, sub.c.period)).mappings()
    return {(int(row["subject_id"]), str(row["period"])): row for row in rows}


def _evaluate_rule(
    session: Session, rule: Rule, ctx: Context, *, scope: Scope | None, now: dt.datetime, report: Report
) -> None:
    w = m.Warning
    fired = _fired(session, rule, ctx, scope)
    mine = (w.rule_code == rule.code, w.subject_type == rule.subject.value)
    open_query = select(w).where(*mine, w.status.in_(OPEN))
    if scope is not None:
        open_query = open_query.where(scope.condition(w.project_id, w.enterprise_id))
    known: dict[tuple[int, str], m.Warning] = {(x.subject_id, x.period): x for x in session.scalars(open_query)}
    missing = [k for k in fired if k not in known]
    for chunk in _chunks(missing, 500):
        for x in session.scalars(select(w).where(*mine, tuple_(w.subject_id, w.period).in_(chunk))):
            known[(x.subject_id, x.period)] = x

    actions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    new: list[tuple[m.Warning, dict[str, Any]]] = []
    for key, row in fired.items():
        facts = rule.facts(row, ctx)
        message = rule.describe(facts)
        level = str(row["level"])
        found = known.get(key)
        if found is None:
            x = m.Warning(
                rule_code=rule.code,
                level=level,
                subject_type=rule.subject.value,
                subject_id=key[0],
                period=key[1],
                project_id=row["project_id"],
                enterprise_id=row["enterprise_id"],
                region_code=row["region_code"],
                status=WarningStatus.ACTIVE.value,
                message=message,
                rule_cite=rule.cite,
                facts=facts,
                detected_at=now,
                level_changed_at=now,
            )
            new.append((x, facts))
            continue
        x = found
        if x.status in OPEN:
            if x.level != level:
                actions.append(_action(x, "level_changed", from_level=x.level, to_level=level, facts=facts, at=now))
                was = x.level
                x.level, x.level_changed_at = level, now
                events.append(warning_event(x, "warning.changed", at=now, fromLevel=was))
                report.add(rule.code, "changed")
            if x.message != message or x.facts != facts:
                x.message, x.facts = message, facts
                report.add(rule.code, "updated")
        elif x.resolved_by == SYSTEM_ACTOR:
            # The condition is back: the same warning again, not a second one for the same period.
            x.status, x.level, x.level_changed_at = WarningStatus.ACTIVE.value, level, now
            x.resolved_at = x.resolved_by = x.resolution = None
            x.message, x.facts, x.acknowledged_at, x.acknowledged_by = message, facts, None, None
            actions.append(_action(x, "reopened", to_level=level, facts=facts, at=now))
            events.append(warning_event(x, "warning.raised", at=now, reopened=True))
            report.add(rule.code, "reopened")
        # else: closed by hand (resolved with a reason, or a false positive): people decided.

    for x in known.values():
        key = (x.subject_id, x.period)
        if x.status in OPEN and key not in fired and rule.judges(x.period, ctx):
            x.status, x.resolved_at, x.resolved_by = WarningStatus.RESOLVED.value, now, SYSTEM_ACTOR
            x.resolution = f"{rule.cleared}（{ctx.today.isoformat()}复核）"
            actions.append(_action(x, "resolved", to_level=x.level, note=x.resolution, at=now))
            events.append(warning_event(x, "warning.resolved", at=now, resolution=x.resolution))
            report.add(rule.code, "resolved")

    if new:
        session.add_all(x for x, _ in new)
        session.flush()
        for x, facts in new:
            actions.append(_action(x, "raised", to_level=x.level, facts=facts, at=now))
            events.append(warning_event(x, "warning.raised", at=now))
        report.add(rule.code, "raised", len(new))
    session.flush()
    if actions:
        session.execute(insert(m.WarningAction), actions)
    if events:
        session.execute(insert(m.Event), events)


def _action(
    x: m.Warning,
    action: str,
    *,
    at: dt.datetime,
    from_level: str | None = None,
    to_level: str | None = None,
    note: str | None = None,
    facts: Mapping[str, Any] | None = None,
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any]:
    return {
        "warning_id": x.id,
        "action": action,
        "actor": actor,
        "from_level": from_level,
        "to_level": to_level,
        "note": note,
        "facts": dict(facts) if facts is not None else None,
        "at": at,
        "region_code": x.region_code,
    }


def _escalate(
    session: Session,
    rules: Sequence[Rule],
    *,
    today: dt.date,
    now: dt.datetime,
    after: int,
    scope: Scope | None,
    cipher: Cipher,
    report: Report,
) -> None:
    """预警转线索 for red warnings nobody acknowledged within ``after`` working days of turning red."""
    if not rules:
        return
    w = m.Warning
    last_day = add_working_days(today, -after)  # red on this day or before: ``after`` working days unhandled
    before = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), CST).astimezone(dt.UTC)
    query = select(w).where(
        w.rule_code.in_([r.code for r in rules]),
        w.status == WarningStatus.ACTIVE.value,
        w.level == Colour.RED.value,
        w.acknowledged_at.is_(None),
        w.level_changed_at < before,
    )
    if scope is not None:
        query = query.where(scope.condition(w.project_id, w.enterprise_id))
    for x in session.scalars(query.order_by(w.id)).all():
        clue = escalate_warning(session, warning=x, cipher=cipher, principal=SYSTEM, at=now)
        report.escalated[x.id] = clue.id
        report.add(x.rule_code, "escalated")


def _chunks(seq: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
