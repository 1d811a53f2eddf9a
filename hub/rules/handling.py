"""What people do with a warning: acknowledge it, record a 核查 note, resolve it by hand with a reason,
or mark it a false positive. Each is checked against the policy table (``Action.HANDLE_WARNINGS``),
written as a ``WarningAction``, announced by an outbox event and audited, in the caller's transaction.

Acknowledging is what "handled" means for escalation: an acknowledged red warning does not go into
the clue pool by itself. A warning resolved by hand or marked a false positive is closed for good:
the engine does not raise it again for the same period.

Two people handling the same warning at once: :func:`get_warning` reads it for an action (locked on
PostgreSQL, so the second waits and then sees the first's result — ILLEGAL_TRANSITION naming the
state), and every change is a compare-and-set on ``warnings.version`` (SQLite takes no lock when
reading: the second write matches no row). :func:`run_handling` turns that lost race into
:class:`~hub.errors.Conflict` naming the warning's state now, never an internal error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import insert, select

from hub import models as m
from hub.access import Action, audit, require
from hub.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from hub.models import utcnow
from hub.outbox import warning_event
from hub.vocab import WarningStatus
from hub.workflow import for_action, lost_race

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.access import Principal

__all__ = ["acknowledge", "add_note", "get_warning", "mark_false_positive", "resolve", "run_handling"]

OPEN = (WarningStatus.ACTIVE, WarningStatus.ESCALATED)
#: The longest note or reason accepted.
MAX_TEXT = 2000
#: ``session.info`` key: the warnings this transaction read for an action, and the version it read.
_READ = "hub.rules.handling.read"
T = TypeVar("T")


def get_warning(session: Session, *, warning_id: int, shown: str | None = None) -> m.Warning:
    """The warning ``warning_id`` within the session's jurisdiction, read fresh for an action (locked on
    PostgreSQL); ``NotFound`` naming ``shown`` (its ID as the caller gave it) otherwise."""
    stmt = for_action(session, select(m.Warning).where(m.Warning.id == warning_id))
    warning = session.execute(stmt).scalar_one_or_none()
    if warning is None:
        raise NotFound(f"no warning {shown or warning_id} in your jurisdiction")
    session.info.setdefault(_READ, {})[warning.id] = (shown or str(warning.id), warning.version)
    return warning


def run_handling(session: Session, fn: Callable[[Session], T]) -> T:
    """Run ``fn(session)`` and commit: the boundary of one handling action.

    A lost race (another action changed the warning between this one's read and its write) rolls
    everything back — the WarningAction, the event and the audit row included — and raises
    :class:`Conflict` naming the warning and its state now; any other error is re-raised after the rollback.
    """
    session.info[_READ] = {}
    try:
        result = fn(session)
        session.commit()
    except Exception as exc:
        session.rollback()
        if lost_race(exc):
            error = _conflict(session)
            session.rollback()
            raise error from exc
        raise
    return result


def _conflict(session: Session) -> Conflict:
    read: dict[int, tuple[str, int]] = session.info.get(_READ) or {}
    if not read:
        return Conflict(
            "another action changed the same warning at the same time: nothing was done; reload and try again"
        )
    warning_id, (shown, _version) = next(iter(read.items()))
    now = session.execute(
        select(m.Warning.rule_code, m.Warning.status, m.Warning.acknowledged_by, m.Warning.resolved_by).where(
            m.Warning.id == warning_id
        )
    ).first()
    if now is None:
        return Conflict(f"warning {shown} was changed by another action: it is no longer in your jurisdiction")
    if now.status in OPEN:
        state = now.status + (f", acknowledged by {now.acknowledged_by}" if now.acknowledged_by else "")
    else:
        state = now.status + (f" by {now.resolved_by}" if now.resolved_by else "")
    return Conflict(
        f"warning {now.rule_code}/{warning_id} was changed by another action: it is now {state}; "
        "reload it and try again",
        warningId=shown,
        state=now.status,
        suggestion="reload the warning, check what was done, and repeat the action if it still applies",
    )


def acknowledge(
    session: Session,
    *,
    warning: m.Warning,
    principal: Principal,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> m.Warning:
    """签收: someone has taken the warning in hand (it then no longer escalates by itself)."""
    _may(principal, "acknowledge warnings")
    _must_be_open(warning, "acknowledge")
    if warning.acknowledged_at is not None:
        raise IllegalTransition(
            f"warning {_name(warning)} was acknowledged already, by {warning.acknowledged_by}",
            state=warning.status,
            action="acknowledge",
        )
    at = at or utcnow()
    warning.acknowledged_at, warning.acknowledged_by = at, principal.name
    _record(session, warning, principal, "acknowledged", note=_text(note, "note", required=False), at=at)
    return warning


def add_note(
    session: Session, *, warning: m.Warning, principal: Principal, note: str, at: dt.datetime | None = None
) -> m.Warning:
    """核查: what an inspector found when checking the warning (any state)."""
    _may(principal, "record notes on warnings")
    _record(session, warning, principal, "noted", note=_text(note, "note"), at=at or utcnow())
    return warning


def resolve(
    session: Session, *, warning: m.Warning, principal: Principal, reason: str, at: dt.datetime | None = None
) -> m.Warning:
    """Resolve by hand, with the reason (the engine leaves it resolved for this period)."""
    return _close(session, warning, principal, WarningStatus.RESOLVED, reason, at, verb="resolve")


def mark_false_positive(
    session: Session, *, warning: m.Warning, principal: Principal, reason: str, at: dt.datetime | None = None
) -> m.Warning:
    """误报: the rule fired on data that does not mean what it seemed to (the reason says why)."""
    return _close(session, warning, principal, WarningStatus.FALSE_POSITIVE, reason, at, verb="mark false positive")


def _close(
    session: Session,
    warning: m.Warning,
    principal: Principal,
    status: WarningStatus,
    reason: str,
    at: dt.datetime | None,
    *,
    verb: str,
) -> m.Warning:
    _may(principal, f"{verb} warnings" if status is WarningStatus.RESOLVED else "mark warnings false positives")
    _must_be_open(warning, verb)
    text = _text(reason, "reason")
    at = at or utcnow()
    warning.status, warning.resolved_at, warning.resolved_by, warning.resolution = (
        status.value,
        at,
        principal.name,
        text,
    )
    action = "resolved" if status is WarningStatus.RESOLVED else "false_positive"
    _record(session, warning, principal, action, note=text, at=at)
    return warning


def _record(
    session: Session, warning: m.Warning, principal: Principal, action: str, *, note: str | None, at: dt.datetime
) -> None:
    session.add(
        m.WarningAction(
            warning_id=warning.id,
            action=action,
            actor=principal.name,
            to_level=warning.level,
            note=note,
            at=at,
            region_code=warning.region_code,
        )
    )
    type_ = {"acknowledged": "warning.acknowledged", "noted": "warning.noted"}.get(action)
    type_ = type_ or ("warning.resolved" if action == "resolved" else "warning.false_positive")
    session.execute(insert(m.Event), [warning_event(warning, type_, at=at, by=principal.name)])
    audit(
        session,
        principal=principal,
        action=f"warning.{action}",
        entity_type="warning",
        entity_id=warning.id,
        region_code=warning.region_code,
        detail={"rule": warning.rule_code, "note": note} if note else {"rule": warning.rule_code},
        at=at,
    )
    session.flush()


def _may(principal: Principal, what: str) -> None:
    require(principal, Action.HANDLE_WARNINGS, what=what)


def _must_be_open(warning: m.Warning, verb: str) -> None:
    if warning.status not in OPEN:
        raise IllegalTransition(
            f"cannot {verb} warning {_name(warning)}: it is {warning.status}",
            state=warning.status,
            action=verb.replace(" ", "_"),
        )


def _text(value: str | None, field: str, *, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(
                f"{field} must not be empty", suggestion=f"say in the {field} what you found", field=field
            )
        return None
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            f"{field} is {len(text)} characters long; at most {MAX_TEXT}",
            suggestion="shorten it",
            field=field,
        )
    return text


def _name(warning: m.Warning) -> str:
    return f"{warning.rule_code}/{warning.id}"
