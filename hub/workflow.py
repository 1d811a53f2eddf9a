"""The clue lifecycle (docs/domain.md "Clues and their workflow"): states, side paths, deadlines, colour, dispatch.

States and the actions that move between them::

    received ──dispatch──▶ dispatched ──accept──▶ in_progress ──close──▶ closed ──record_callback──▶ called_back
       │  ▲                   │  ▲                    │
       │  └──── dispatch ─────┤  └──── dispatch ───── returned ◀──return── (dispatched)
       └──accept (handle it here)                     │
    any open state ──escalate──▶ escalated (the level above decides: dispatch or accept)
    closed / called_back ──reopen (重办: the complainant is not satisfied)──▶ in_progress, with a new deadline

Side paths that keep the state: ``extend`` (延期, moves the deadline by working days), ``supervise``
(督办 / 挂牌督办, and 催办 which turns an overdue clue red), ``merge`` / ``split`` (hub.clue_merge).

Every action writes a CaseAction (who, when, from → to, note) and an Event in the caller's
transaction, with the clue's region code and its handling region, so that pulls and subscriptions
of both see exactly what was done. Services take keyword-only arguments and raise :mod:`hub.errors`
with stable codes.

Concurrency: every action is a compare-and-set on ``clues.version`` (the ORM writes
``UPDATE clues SET …, version = version + 1 WHERE id = :id AND version = :read``), so of two actions
that read the same clue only one is written, on SQLite (where reading takes no lock) as on
PostgreSQL (where :func:`get_clue` also locks the row, and :func:`get_clues` locks several in
ascending id order, so that two merges in opposite directions cannot deadlock). :func:`run_action`
is the boundary: it commits, and turns a lost race — a version that moved, a deadlock or a
serialisation failure — into :class:`~hub.errors.Conflict` naming the clue and its state now, after
rolling the loser's CaseAction and Event back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from sqlalchemy import ColumnElement, Table, case, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from hub import deadlines
from hub import models as m
from hub.access import SYSTEM, Action, allowed, audit, require
from hub.errors import Conflict, Forbidden, IllegalTransition, InvalidIdentifier, InvalidInput, NotFound
from hub.identifiers import (
    IdentifierError,
    region_ancestors,
    region_level,
    validate_region_code,
)
from hub.models import utcnow
from hub.outbox import clue_event, emit
from hub.vocab import ClueStatus, Satisfaction
from hub.workdays import add_working_days, china_today, working_days_between
from hub.writeback import queue_writebacks

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult
    from sqlalchemy.orm import Session

    from hub.access import Principal

S = ClueStatus
OPEN_STATES = frozenset({S.RECEIVED, S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.ESCALATED})
CLOSED_STATES = frozenset({S.CLOSED, S.CALLED_BACK})

#: action → (states it may start from, state it leads to; None keeps the state).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "dispatch": (frozenset({S.RECEIVED, S.RETURNED, S.ESCALATED}), S.DISPATCHED),
    "accept": (frozenset({S.RECEIVED, S.DISPATCHED, S.RETURNED, S.ESCALATED}), S.IN_PROGRESS),
    "return": (frozenset({S.DISPATCHED}), S.RETURNED),
    "escalate": (OPEN_STATES, S.ESCALATED),
    "extend": (OPEN_STATES, None),
    "supervise": (OPEN_STATES, None),
    "urge": (OPEN_STATES, None),
    "close": (frozenset({S.IN_PROGRESS}), S.CLOSED),
    "record_callback": (frozenset({S.CLOSED}), S.CALLED_BACK),
    "reopen": (CLOSED_STATES, S.IN_PROGRESS),
    "merge": (OPEN_STATES | CLOSED_STATES, None),
    "split": (OPEN_STATES | CLOSED_STATES, None),
}
#: The actions a user starts by hand (the console's buttons), and the policy action each needs; ``urge``
#: is a second ``supervise`` and ``reopen`` has no mutation, so neither is offered on its own.
MANUAL_ACTIONS: dict[str, Action] = {
    "accept": Action.WORK_CLUES,
    "dispatch": Action.WORK_CLUES,
    "return": Action.WORK_CLUES,
    "escalate": Action.WORK_CLUES,
    "extend": Action.WORK_CLUES,
    "supervise": Action.WORK_CLUES,
    "close": Action.WORK_CLUES,
    "record_callback": Action.WORK_CLUES,
    "merge": Action.MERGE_CLUES,
    "split": Action.MERGE_CLUES,
}


def available_actions(*, status: str, role: str) -> list[str]:
    """The manual actions a clue in ``status`` allows a ``role`` now: its state (``TRANSITIONS``) and the
    policy table (hub.access) both say yes. A front-end shows these as buttons; the action itself still
    checks everything again (jurisdiction, version), so a stale button gets the API's refusal."""
    return [
        action for action, needs in MANUAL_ACTIONS.items() if status in TRANSITIONS[action][0] and allowed(role, needs)
    ]


#: What the action is called in an error message and in the history.
ACTION_NAMES = {
    "receive": "受理",
    "dispatch": "分办",
    "accept": "签收办理",
    "return": "退回",
    "escalate": "上报",
    "extend": "延期",
    "supervise": "督办",
    "urge": "催办",
    "close": "办结",
    "record_callback": "回访",
    "reopen": "重办",
    "merge": "合并",
    "split": "拆分",
}

#: Red on severity (docs/domain.md, supervision colour, our proposal): a group case, a large amount, 舆情.
GROUP_CASE_HEADCOUNT = 10
LARGE_AMOUNT = Decimal(500_000)
#: 延期: at most this many working days in all (one city's rule: one extension of up to 15 days).
MAX_EXTENSION_DAYS = 30
SATISFACTION = tuple(Satisfaction)
#: The clues table: the colour sweep updates rows it never loads (Core), moving their version itself.
CLUES = cast(Table, m.Clue.__table__)


def is_severe(clue: m.Clue) -> bool:
    """A group case (≥ 10 workers), ≥ ¥500,000, or 舆情 involved."""
    return bool(
        clue.public_opinion
        or (clue.headcount or 0) >= GROUP_CASE_HEADCOUNT
        or Decimal(str(clue.amount or 0)) >= LARGE_AMOUNT
    )


def colour_for(clue: m.Clue, *, today: dt.date) -> str | None:
    """The supervision colour of a clue on ``today`` (docs/domain.md, our proposal).

    red: severe (see :func:`is_severe`), or overdue after 催办; yellow: overdue; blue: due within one
    working day; none otherwise. A closed or merged clue has no colour.
    """
    if clue.status not in OPEN_STATES:
        return None
    if is_severe(clue):
        return "red"
    if clue.deadline is None:
        return None
    if is_overdue(clue, today=today):
        return "red" if (clue.urged_count or 0) > 0 else "yellow"
    return "blue" if working_days_between(today, clue.deadline) <= 1 else None


def is_overdue(clue: m.Clue, *, today: dt.date) -> bool:
    """Open and past its deadline on ``today`` (China's day: :func:`hub.workdays.china_today`).

    The one definition of "overdue": the clue's ``overdue`` field, the supervision colour and, as SQL
    (:func:`overdue_clause`), the ``overdue`` filter and the colour sweep all follow it.
    """
    return clue.status in OPEN_STATES and clue.deadline is not None and clue.deadline < today


def overdue_clause(*, today: dt.date) -> ColumnElement[bool]:
    """:func:`is_overdue` as SQL over ``clues``, for filters and sweeps (a clue without deadline is not overdue)."""
    return (m.Clue.deadline < today) & m.Clue.status.in_(sorted(OPEN_STATES))


def touch(clue: m.Clue) -> None:
    """Make the next flush write ``clue`` (and so bump its version) even when no column changed.

    A merge target or a split clue keeps its columns, but the action must still be a compare-and-set:
    two merges of the same pair in opposite directions must not both be written.
    """
    flag_modified(clue, "status")


def record(
    session: Session,
    clue: m.Clue,
    *,
    action: str,
    actor: str,
    from_status: str | None,
    from_region: str | None = None,
    note: str | None = None,
    extra: dict[str, Any] | None = None,
) -> m.CaseAction:
    """The CaseAction and the Event of one step, in the caller's transaction; bumps the clue's version."""
    touch(clue)
    step = m.CaseAction(
        clue_id=clue.id,
        action=action,
        actor=actor,
        from_status=from_status,
        to_status=clue.status,
        from_region_code=from_region,
        to_region_code=clue.handling_region_code,
        note=note,
        at=utcnow(),
        region_code=clue.region_code,
    )
    session.add(step)
    emit(
        session,
        clue,
        f"clue.{action}",
        {
            "clueNo": clue.clue_no,
            "action": action,
            "actor": actor,
            "fromStatus": from_status,
            "toStatus": clue.status,
            "handlingRegionCode": clue.handling_region_code,
            "colour": clue.colour,
            **({"note": note} if note else {}),
            **(extra or {}),
        },
    )
    return step


#: ``session.info`` key: {clue id: (clue number, version read)} of the clues the current action read.
_READ = "hub.workflow.clues_read"


def for_action(session: Session, stmt: Any) -> Any:
    """``stmt`` reading fresh rows, locked on PostgreSQL (the version check guards SQLite)."""
    stmt = stmt.execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        # Serialise actions on one clue. NO KEY UPDATE, so that a sync adding a channel record to the
        # clue (a foreign-key share lock) does not wait on, or deadlock with, an operator's action.
        stmt = stmt.with_for_update(key_share=True)
    return stmt


def _remember(session: Session, clue: m.Clue) -> None:
    """Note the version this transaction read, so that a lost race can say which clue moved."""
    session.info.setdefault(_READ, {})[clue.id] = (clue.clue_no, clue.version)


def get_clue(session: Session, *, clue_no: str | None = None, clue_id: int | None = None) -> m.Clue:
    """A clue by number or id within the session's jurisdiction, locked for an action; NotFound otherwise."""
    stmt = select(m.Clue).where(m.Clue.clue_no == clue_no) if clue_no else select(m.Clue).where(m.Clue.id == clue_id)
    clue = session.execute(for_action(session, stmt)).scalar_one_or_none()
    if clue is None:
        raise NotFound(f"no clue {clue_no or clue_id} in your jurisdiction", suggestion="check the clue number")
    _remember(session, clue)
    return clue


def get_clues(session: Session, *, clue_nos: Sequence[str]) -> list[m.Clue]:
    """Several clues by number (in the order given), locked in ascending id order; NotFound for a missing one.

    One order for every transaction that locks two clues (a merge either way round), so that two of
    them wait for each other instead of deadlocking.
    """
    stmt = select(m.Clue).where(m.Clue.clue_no.in_(list(clue_nos))).order_by(m.Clue.id)
    found = {c.clue_no: c for c in session.execute(for_action(session, stmt)).scalars()}
    for no in clue_nos:
        if no not in found:
            raise NotFound(f"no clue {no} in your jurisdiction", suggestion="check the clue number")
        _remember(session, found[no])
    return [found[no] for no in clue_nos]


#: PostgreSQL's deadlock_detected and serialization_failure: the transaction lost a race.
LOST_RACE_SQLSTATES = frozenset({"40P01", "40001"})
T = TypeVar("T")


def lost_race(exc: BaseException) -> bool:
    """True for an error that means another transaction changed the same rows first."""
    if isinstance(exc, StaleDataError):
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) in LOST_RACE_SQLSTATES


def conflict(session: Session) -> Conflict:
    """The :class:`Conflict` for a lost race, naming each clue read that has changed and its state now.

    Call after the rollback: it reads the clues again (within the session's jurisdiction).
    """
    read: dict[int, tuple[str, int]] = session.info.get(_READ) or {}
    if not read:
        return Conflict("another action changed the same data at the same time: nothing was done; reload and try again")
    now = {
        row.id: row
        for row in session.execute(
            select(m.Clue.id, m.Clue.status, m.Clue.version).where(m.Clue.id.in_(list(read))).order_by(m.Clue.id)
        )
    }
    moved = [i for i in read if i not in now or now[i].version != read[i][1]]
    # None moved: PostgreSQL chose this transaction as the victim of a deadlock while the other still runs.
    changed, what = (
        (moved, "was changed by another action") if moved else (list(read), "was being changed by another action")
    )
    parts = []
    for i in changed:
        no = read[i][0]
        if i not in now:
            parts.append(f"clue {no} {what}: it is no longer in your jurisdiction")
        else:
            parts.append(
                f"clue {no} {what}: it is now {now[i].status} ({m.CLUE_STATUSES.get(now[i].status, now[i].status)})"
            )
    first = changed[0]
    return Conflict(
        "; ".join(parts) + "; reload it and try again",
        clueNo=read[first][0],
        state=now[first].status if first in now else None,
        suggestion="reload the clue, check what was done, and repeat the action if it still applies",
    )


def run_action(session: Session, fn: Callable[[Session], T]) -> T:
    """Run ``fn(session)`` and commit: the boundary of one clue action.

    A lost race (the compare-and-set on a clue's version matched no row, or PostgreSQL chose this
    transaction as a deadlock or serialisation victim) rolls everything back — the CaseAction and
    the Event included — and raises :class:`Conflict`; any other error is re-raised after the rollback.
    """
    session.info[_READ] = {}
    try:
        result = fn(session)
        session.commit()
    except Exception as exc:
        session.rollback()
        if lost_race(exc):
            error = conflict(session)
            session.rollback()
            raise error from exc
        raise
    return result


def check(clue: m.Clue, action: str, principal: Principal) -> str:
    """Refuse an action the clue's state does not allow, or a principal who does not handle it."""
    allowed, _ = TRANSITIONS[action]
    if clue.status not in allowed:
        raise IllegalTransition(
            f"cannot {action} ({ACTION_NAMES[action]}) clue {clue.clue_no}: it is {clue.status} "
            f"({m.CLUE_STATUSES.get(clue.status, clue.status)}); {action} is allowed from {', '.join(sorted(allowed))}",
            state=clue.status,
            action=action,
        )
    require(principal, Action.WORK_CLUES, what=f"{action} clues")
    if not principal.covers(clue.handling_region_code):
        raise Forbidden(
            f"clue {clue.clue_no} is handled by {clue.handling_region_code}, outside your jurisdiction {principal.region_code}",
            suggestion="only the handling region or a level above it may act on the clue",
        )
    return clue.status


def _region(session: Session, code: str, field: str) -> str:
    try:
        code = validate_region_code(code, field=field)
    except IdentifierError as exc:
        raise InvalidIdentifier(str(exc), field=field, value=code) from exc
    if session.get(m.Region, code) is None:
        level = region_level(code)
        raise InvalidInput(
            f"{field}: no region {code}",
            field=field,
            value=code,
            suggestion="load the county's towns with `hub regions load FILE`" if level == "town" else None,
        )
    return code


def _refresh_colour(clue: m.Clue) -> None:
    clue.colour = colour_for(clue, today=china_today())


@overload
def note_text(text: str | None, field: str, *, required: Literal[True]) -> str: ...
@overload
def note_text(text: str | None, field: str, *, required: Literal[False]) -> str | None: ...
def note_text(text: str | None, field: str, *, required: bool) -> str | None:
    """A note, reason or conclusion as stored: trimmed, at most 2,000 characters, present when ``required``."""
    text = (text or "").strip() or None
    if required and not text:
        raise InvalidInput(f"{field} is required", field=field)
    if text and len(text) > 2000:
        raise InvalidInput(f"{field} is longer than 2,000 characters", field=field)
    return text


def dispatch(
    session: Session, *, clue: m.Clue, to_region: str, principal: Principal, note: str | None = None
) -> m.Clue:
    """分办: hand the clue to a region at or below the principal's jurisdiction (and below the handler)."""
    before = check(clue, "dispatch", principal)
    target = _region(session, to_region, "toRegion")
    if not principal.covers(target):
        raise Forbidden(
            f"cannot dispatch to {target}: outside your jurisdiction {principal.region_code}",
            suggestion="dispatch within your region, or escalate to the level above",
        )
    handler = clue.handling_region_code
    if target != handler and handler not in region_ancestors(target):
        raise InvalidInput(
            f"toRegion {target} is not below the handling region {handler}: dispatch goes down the hierarchy",
            field="toRegion",
            value=target,
            suggestion="escalate to move a clue up",
        )
    clue.status, clue.handling_region_code = "dispatched", target
    _refresh_colour(clue)
    record(
        session,
        clue,
        action="dispatch",
        actor=principal.name,
        from_status=before,
        from_region=handler,
        note=note_text(note, "note", required=False),
    )
    return clue


def accept(session: Session, *, clue: m.Clue, principal: Principal, note: str | None = None) -> m.Clue:
    """签收: the handling region takes the clue on (办理中)."""
    before = check(clue, "accept", principal)
    clue.status = "in_progress"
    if clue.accepted_at is None:  # 立案: the last stage's working days count from the first acceptance
        clue.accepted_at = m.utcnow()  # the hub's clock, which tests move
    deadlines.refresh(clue)
    _refresh_colour(clue)
    record(
        session,
        clue,
        action="accept",
        actor=principal.name,
        from_status=before,
        from_region=clue.handling_region_code,
        note=note_text(note, "note", required=False),
    )
    return clue


def return_(session: Session, *, clue: m.Clue, principal: Principal, reason: str) -> m.Clue:
    """退回: the region it was dispatched to sends it back to the dispatcher, with a reason."""
    before = check(clue, "return", principal)
    reason = note_text(reason, "reason", required=True)
    last = session.execute(
        select(m.CaseAction.from_region_code)
        .where(m.CaseAction.clue_id == clue.id, m.CaseAction.action == "dispatch")
        .order_by(m.CaseAction.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    handler = clue.handling_region_code
    clue.status, clue.handling_region_code = "returned", last or handler
    _refresh_colour(clue)
    record(session, clue, action="return", actor=principal.name, from_status=before, from_region=handler, note=reason)
    return clue


def escalate(session: Session, *, clue: m.Clue, principal: Principal, reason: str) -> m.Clue:
    """上报: a level that cannot solve the clue hands it to the level above."""
    before = check(clue, "escalate", principal)
    reason = note_text(reason, "reason", required=True)
    handler = clue.handling_region_code
    parents = region_ancestors(handler)
    if not parents:
        raise IllegalTransition(
            f"cannot escalate clue {clue.clue_no}: {handler} is the top level", state=clue.status, action="escalate"
        )
    clue.status, clue.handling_region_code = "escalated", parents[-1]
    _refresh_colour(clue)
    record(session, clue, action="escalate", actor=principal.name, from_status=before, from_region=handler, note=reason)
    return clue


def extend(session: Session, *, clue: m.Clue, principal: Principal, working_days: int, reason: str) -> m.Clue:
    """延期: move the deadline by ``working_days`` (official calendar), at most 30 in all, with a reason."""
    before = check(clue, "extend", principal)
    reason = note_text(reason, "reason", required=True)
    if working_days < 1:
        raise InvalidInput(
            f"workingDays must be at least 1, got {working_days}", field="workingDays", value=working_days
        )
    if clue.extended_days + working_days > MAX_EXTENSION_DAYS:
        raise InvalidInput(
            f"workingDays {working_days}: clue {clue.clue_no} already has {clue.extended_days} working days of extension, "
            f"at most {MAX_EXTENSION_DAYS} in all",
            field="workingDays",
            value=working_days,
        )
    old = clue.deadline
    clue.extended_days += working_days
    deadlines.refresh(clue)  # 延期 extends the last stage (hub.deadlines): the current one once accepted
    _refresh_colour(clue)
    record(
        session,
        clue,
        action="extend",
        actor=principal.name,
        from_status=before,
        from_region=clue.handling_region_code,
        note=reason,
        extra={
            "fromDeadline": str(old) if old else None,
            "toDeadline": str(clue.deadline) if clue.deadline else None,
            "deadlineProvisional": clue.deadline_provisional,
            "workingDays": working_days,
        },
    )
    return clue


def supervise(
    session: Session, *, clue: m.Clue, principal: Principal, level: str = "supervised", note: str | None = None
) -> m.Clue:
    """督办 (``supervised``) or 挂牌督办 (``listed``); a supervised clue that is overdue is urged (催办).

    Supervising an already supervised clue is a 催办: it counts, and an overdue clue turns red.
    """
    if level not in m.SUPERVISION_LEVELS:
        raise InvalidInput(
            f"level {level!r} is not one of {', '.join(m.SUPERVISION_LEVELS)}", field="level", value=level
        )
    before = check(clue, "supervise", principal)
    action = "supervise"
    if clue.supervision and (clue.supervision == level or level == "supervised"):
        action = "urge"
        clue.urged_count = (clue.urged_count or 0) + 1
        if is_overdue(clue, today=china_today()):  # a person urged for this missed deadline: the system need not
            clue.urged_deadline = clue.deadline
    if level == "listed" or not clue.supervision:
        clue.supervision = level
    _refresh_colour(clue)
    record(
        session,
        clue,
        action=action,
        actor=principal.name,
        from_status=before,
        from_region=clue.handling_region_code,
        note=note_text(note, "note", required=False),
        extra={"supervision": clue.supervision, "urgedCount": clue.urged_count},
    )
    return clue


def close(
    session: Session,
    *,
    clue: m.Clue,
    principal: Principal,
    conclusion: str,
    recovered_amount: Decimal | None = None,
    workers_paid: int | None = None,
) -> m.Clue:
    """办结 with the 核处结论, the amount recovered and the workers paid; queues write-back to every channel."""
    before = check(clue, "close", principal)
    conclusion = note_text(conclusion, "conclusion", required=True)
    if recovered_amount is not None and (not recovered_amount.is_finite() or recovered_amount < 0):
        raise InvalidInput(
            f"recoveredAmount {recovered_amount} must be a non-negative amount",
            field="recoveredAmount",
            value=str(recovered_amount),
        )
    if workers_paid is not None and workers_paid < 0:
        raise InvalidInput(f"workersPaid {workers_paid} must not be negative", field="workersPaid", value=workers_paid)
    clue.status, clue.conclusion, clue.closed_at = "closed", conclusion, utcnow()
    clue.recovered_amount, clue.workers_paid = recovered_amount, workers_paid
    deadlines.refresh(clue)  # the last stage's date: the one the closing is measured against
    _refresh_colour(clue)
    with session.no_autoflush:  # one write of the clue per action: one version step
        queued = queue_writebacks(session, clue)
    record(
        session,
        clue,
        action="close",
        actor=principal.name,
        from_status=before,
        from_region=clue.handling_region_code,
        note=conclusion,
        extra={
            "recoveredAmount": None if recovered_amount is None else str(recovered_amount),
            "workersPaid": workers_paid,
            "writebacks": queued,
        },
    )
    return clue


def record_callback(
    session: Session,
    *,
    clue: m.Clue,
    principal: Principal,
    satisfaction: str,
    note: str | None = None,
    source: m.ChannelRecord | None = None,
) -> m.Clue:
    """回访: the complainant was called back; satisfaction 满意 / 基本满意 / 不满意. Written back too.

    ``source``: the channel record whose channel made the call-back itself (a 12345 回访): it is not
    written back to that record, so the call-back does not echo back and forth.
    """
    if satisfaction not in SATISFACTION:
        raise InvalidInput(
            f"satisfaction {satisfaction!r} is not one of {', '.join(SATISFACTION)}",
            field="satisfaction",
            value=satisfaction,
        )
    before = check(clue, "record_callback", principal)
    clue.status, clue.satisfaction = "called_back", satisfaction
    with session.no_autoflush:  # one write of the clue per action: one version step
        others = None
        if source is not None:
            others = session.scalars(
                select(m.ChannelRecord)
                .where(m.ChannelRecord.clue_id == clue.id, m.ChannelRecord.id != source.id)
                .order_by(m.ChannelRecord.id)
            ).all()
        queued = queue_writebacks(session, clue, records=others)
    record(
        session,
        clue,
        action="record_callback",
        actor=principal.name,
        from_status=before,
        from_region=clue.handling_region_code,
        note=note_text(note, "note", required=False),
        extra={"satisfaction": satisfaction, "writebacks": queued},
    )
    return clue


def reopen(session: Session, *, clue: m.Clue, principal: Principal, reason: str) -> m.Clue:
    """重办: a closed (or called-back) clue goes back to 办理中, its last stage due again from today.

    The complainant was not satisfied, or says the matter is not solved (docs/domain.md "重办"). The
    last stage's statutory working days count from the reopening, not from the first receipt
    (hub.deadlines); 催办 of the earlier period no longer counts; the clue is no longer closed.
    """
    before = check(clue, "reopen", principal)
    reason = note_text(reason, "reason", required=True)
    old = clue.deadline
    clue.status, clue.closed_at, clue.urged_count = "in_progress", None, 0
    clue.reopened_at = m.utcnow()  # the hub's clock, which tests move
    deadlines.refresh(clue)
    _refresh_colour(clue)
    record(
        session,
        clue,
        action="reopen",
        actor=principal.name,
        from_status=before,
        from_region=clue.handling_region_code,
        note=reason,
        extra={"fromDeadline": str(old) if old else None, "toDeadline": str(clue.deadline)},
    )
    return clue


def reopen_on_request(session: Session, *, clue: m.Clue, principal: Principal, reason: str) -> m.Clue:
    """重办 by an inspector: the complainant says (by phone, at the window) that the matter is not solved.

    The same transition as a 12345 call-back's 不满意 (:func:`reopen`: back to 办理中, the last stage due
    again counted from today), and — being a person's decision rather than a channel's report —
    written to the audit log with the reason and the new deadline.
    """
    reopen(session, clue=clue, principal=principal, reason=reason)
    audit(
        session,
        principal=principal,
        action="clue.reopen",
        entity_type="clue",
        entity_id=clue.id,
        region_code=clue.region_code,
        detail={"clueNo": clue.clue_no, "reason": reason.strip(), "deadline": str(clue.deadline)},
    )
    return clue


def sweep_colours(session: Session, *, today: dt.date, batch: int = 2000) -> int:
    """Bring every clue's supervision colour up to date for ``today``; returns how many changed.

    Run by the ``sweep_clue_colours`` actor (the scheduler, each morning and hourly): a deadline
    passing turns a clue yellow without anyone touching it. One ``clue.colour_changed`` event per
    clue whose colour changed, in the same transaction as the change. The computation mirrors
    :func:`colour_for`, in SQL, so that only changed clues are read.
    """
    soon = add_working_days(today, 1)
    c = m.Clue
    severe = or_(c.public_opinion.is_(True), c.headcount >= GROUP_CASE_HEADCOUNT, c.amount >= LARGE_AMOUNT)
    computed = case(
        (c.status.not_in(OPEN_STATES), None),
        (severe, "red"),
        (overdue_clause(today=today), case((c.urged_count > 0, "red"), else_="yellow")),
        (c.deadline <= soon, "blue"),
        else_=None,
    )
    changed = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(c.id, c.clue_no, c.region_code, c.handling_region_code, c.colour, computed.label("computed"))
            .where(c.id > last_id, c.colour.is_distinct_from(computed))
            .order_by(c.id)
            .limit(batch)
        ).all()
        if not rows:
            return changed
        for clue_id, clue_no, region, handling, old, new in rows:
            # Conditional on the colour read, so that two sweepers never both report one change; the
            # version moves too, so that an action that read the old colour loses (CONFLICT) rather
            # than writing it back.
            done = session.execute(
                update(CLUES)
                .where(m.Clue.id == clue_id, m.Clue.colour.is_not_distinct_from(old))
                .values(colour=new, version=m.Clue.version + 1)
            )
            if cast("CursorResult[Any]", done).rowcount != 1:  # an UPDATE's result is a cursor's
                continue
            changed += 1
            session.add(
                clue_event(
                    clue_id=clue_id,
                    region_code=region,
                    handling_region_code=handling,
                    type_="clue.colour_changed",
                    payload={"clueNo": clue_no, "from": old, "to": new, "on": str(today)},
                )
            )
        last_id = rows[-1][0]
        session.flush()


#: Who the automatic 催办 is recorded as (hub.access.SYSTEM).
SYSTEM_ACTOR = SYSTEM.name


def urge_overdue(session: Session, *, today: dt.date, batch: int = 500) -> int:
    """催办 every open clue whose current deadline passed yesterday or earlier and was not yet urged for.

    The day after a missed deadline (docs/domain.md: 12345 urges the day after), an ``urge``
    CaseAction by the system principal and a ``clue.urge`` event, ``urged_count`` one up and
    ``urged_deadline`` set to the deadline urged for, so that running the sweep twice (or two
    sweepers at once) urges once; a clue that moves on to its next stage is urged again only when
    that stage's deadline passes too. An overdue clue urged is red (:func:`colour_for`). Returns
    how many clues were urged. Run by the ``urge_overdue_clues`` actor (the scheduler, hourly).
    """
    c = m.Clue
    due = overdue_clause(today=today) & or_(c.urged_deadline.is_(None), c.urged_deadline != c.deadline)
    urged = 0
    last_id = 0
    while True:
        rows = session.execute(
            select(
                c.id,
                c.clue_no,
                c.region_code,
                c.handling_region_code,
                c.status,
                c.deadline,
                c.deadline_provisional,
                c.urged_count,
                c.version,
            )
            .where(c.id > last_id, due)
            .order_by(c.id)
            .limit(batch)
        ).all()
        if not rows:
            return urged
        for clue_id, clue_no, region, handling, status, deadline, provisional, count, version in rows:
            # Conditional on the version read: of two sweepers, or a sweeper and an operator's action,
            # one writes; the other's clue is looked at again by the next sweep if it is still due.
            done = session.execute(
                update(CLUES)
                .where(m.Clue.id == clue_id, m.Clue.version == version)
                .values(urged_count=(count or 0) + 1, urged_deadline=deadline, colour="red", version=version + 1)
            )
            if cast("CursorResult[Any]", done).rowcount != 1:  # an UPDATE's result is a cursor's
                continue
            urged += 1
            note = f"超期自动催办：期限 {deadline}{'（暂定）' if provisional else ''} 已过"
            session.add(
                m.CaseAction(
                    clue_id=clue_id,
                    action="urge",
                    actor=SYSTEM_ACTOR,
                    from_status=status,
                    to_status=status,
                    from_region_code=handling,
                    to_region_code=handling,
                    note=note,
                    at=utcnow(),
                    region_code=region,
                )
            )
            session.add(
                clue_event(
                    clue_id=clue_id,
                    region_code=region,
                    handling_region_code=handling,
                    type_="clue.urge",
                    payload={
                        "clueNo": clue_no,
                        "action": "urge",
                        "actor": SYSTEM_ACTOR,
                        "fromStatus": status,
                        "toStatus": status,
                        "handlingRegionCode": handling,
                        "colour": "red",
                        "note": note,
                        "urgedCount": (count or 0) + 1,
                        "deadline": str(deadline),
                        "deadlineProvisional": bool(provisional),
                        "automatic": True,
                        "on": str(today),
                    },
                )
            )
        last_id = rows[-1][0]
        session.flush()
