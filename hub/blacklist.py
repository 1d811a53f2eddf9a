"""The arrears blacklist (拖欠农民工工资失信联合惩戒对象名单, 人社部令第45号; docs/domain.md, "Credit").

An enterprise is listed by a decision (document number, date, reason) for three years from the
decision; it leaves the list by itself when they are over (:func:`expire_listings`, run by the hourly
credit sweep), or earlier when an administrator removes it at its request (:func:`remove_early`):
no sooner than six months after it corrected the arrears, with a credit promise (信用承诺), and with no
new arrears since the correction. Every change writes an event (``blacklist.listed`` /
``blacklist.removed`` / ``blacklist.expired``) that reaches the deciding region and the enterprise's
own, so that regional systems learn of it, and keeps ``Enterprise.blacklisted`` in step.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import insert, or_, select, update

from hub.access import ALL_REGIONS, Action, require
from hub.access import audit as audit_row
from hub.credit import CLOSED, sync_enterprises
from hub.errors import (
    Conflict,
    DuplicateDocument,
    Forbidden,
    IllegalTransition,
    InvalidIdentifier,
    InvalidInput,
    NotFound,
    TooEarly,
)
from hub.identifiers import IdentifierError, mask_text, validate_region_code, validate_uscc
from hub.models import BlacklistEntry, Clue, Enterprise, Event, Penalty, utcnow
from hub.outbox import event_values
from hub.vocab import BlacklistStatus
from hub.workdays import CST

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult
    from sqlalchemy.orm import Session

    from hub.access import Principal

__all__ = ["LISTING_YEARS", "REMOVAL_WAIT_MONTHS", "add_months", "expire_listings", "list_enterprise", "remove_early"]

#: 人社部令第45号: a listing lasts three years from the decision.
LISTING_YEARS = 3
#: 人社部令第45号: early removal no sooner than six months after the correction.
REMOVAL_WAIT_MONTHS = 6
MAX_DOCUMENT_NO = 100
MAX_REASON_CHARS = 2_000


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months; the 31st becomes the last day of a shorter month (29 Feb → 28 Feb)."""
    n = day.year * 12 + day.month - 1 + months
    year, month = divmod(n, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _text(value: str | None, name: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{name} is required", field=name)
    if len(text) > limit:
        raise InvalidInput(f"{name} is {len(text):,} characters long: at most {limit:,}", field=name)
    return text


def _event(entry: BlacklistEntry, enterprise: Enterprise, type_: str, at: dt.datetime) -> dict[str, Any]:
    return event_values(
        type_=type_,
        region_code=entry.region_code,
        # The enterprise's own region learns of it too (a principal covering either sees the event).
        handling_region_code=enterprise.region_code,
        entity_type="blacklist_entry",
        entity_id=entry.id,
        payload={
            "enterprise_id": enterprise.id,
            "uscc": enterprise.uscc,
            "name": enterprise.name,
            "document_no": entry.document_no,
            "decided_on": entry.decided_on.isoformat(),
            "ends_on": entry.ends_on.isoformat(),
            "status": entry.status,
            "ended_on": entry.ended_on.isoformat() if entry.ended_on else None,
            "reason": mask_text(entry.reason),
        },
        at=at,
    )


def _in_force(session: Session, enterprise_id: int, today: dt.date) -> BlacklistEntry | None:
    return session.execute(
        select(BlacklistEntry)
        .where(
            BlacklistEntry.enterprise_id == enterprise_id,
            BlacklistEntry.status == BlacklistStatus.LISTED,
            BlacklistEntry.ends_on > today,
        )
        .execution_options(**{ALL_REGIONS: True})
    ).scalar_one_or_none()


def list_enterprise(
    session: Session,
    *,
    principal: Principal,
    uscc: str,
    document_no: str,
    decided_on: dt.date,
    reason: str,
    region_code: str,
    today: dt.date,
    now: dt.datetime | None = None,
) -> BlacklistEntry:
    """List an enterprise by the decision ``document_no`` of ``decided_on`` (admin; audited; an event)."""
    require(principal, Action.MANAGE_BLACKLIST, what="list enterprises on the blacklist")
    try:
        code = validate_uscc(uscc, field="uscc")
        region = validate_region_code(region_code, field="regionCode")
    except IdentifierError as exc:
        raise InvalidIdentifier(str(exc), field=exc.field, value=exc.value) from exc
    if not principal.covers(region):
        raise Forbidden(f"regionCode {region} is outside your jurisdiction {principal.region_code}")
    enterprise = session.execute(select(Enterprise).where(Enterprise.uscc == code)).scalar_one_or_none()
    if enterprise is None:
        raise NotFound(f"no enterprise with 统一社会信用代码 {code} in the hub")
    number = _text(document_no, "documentNo", MAX_DOCUMENT_NO)
    why = _text(reason, "reason", MAX_REASON_CHARS)
    ends_on = add_months(decided_on, 12 * LISTING_YEARS)
    if decided_on > today:
        raise InvalidInput(f"decidedOn {decided_on} is in the future (today is {today})", field="decidedOn")
    if ends_on <= today:
        raise InvalidInput(
            f"decidedOn {decided_on}: a listing decided then ended on {ends_on}, three years later",
            field="decidedOn",
        )
    taken = session.execute(
        select(BlacklistEntry.id).where(BlacklistEntry.document_no == number).execution_options(**{ALL_REGIONS: True})
    ).first()
    if taken is not None:
        raise DuplicateDocument(f"listing decision {number} is already recorded")
    current = _in_force(session, enterprise.id, today)
    if current is not None:
        raise Conflict(
            f"{enterprise.name} is already listed by decision {current.document_no} until {current.ends_on}",
            suggestion="one listing at a time: the one in force runs its course or is removed first",
        )
    at = now or utcnow()
    entry = BlacklistEntry(
        enterprise_id=enterprise.id,
        document_no=number,
        decided_on=decided_on,
        reason=why,
        ends_on=ends_on,
        status=BlacklistStatus.LISTED.value,
        region_code=region,
        created_by=principal.name,
        created_at=at,
    )
    session.add(entry)
    session.flush()
    session.execute(insert(Event), [_event(entry, enterprise, "blacklist.listed", at)])
    audit_row(
        session,
        principal=principal,
        action="blacklist.list",
        entity_type="blacklist_entry",
        entity_id=entry.id,
        region_code=region,
        detail={"document_no": number, "enterprise_id": enterprise.id, "ends_on": ends_on.isoformat()},
        at=at,
    )
    sync_enterprises(session, today=today, enterprise_ids=[enterprise.id])
    return entry


def get_entry(session: Session, *, entry_id: int, shown: str | None = None) -> BlacklistEntry:
    """The listing ``entry_id`` within the session's jurisdiction; ``NotFound`` naming ``shown``."""
    entry = session.execute(select(BlacklistEntry).where(BlacklistEntry.id == entry_id)).scalar_one_or_none()
    if entry is None:
        raise NotFound(f"no blacklist entry {shown or entry_id} in your jurisdiction")
    return entry


def remove_early(
    session: Session,
    *,
    principal: Principal,
    entry: BlacklistEntry,
    corrected_on: dt.date,
    promise_no: str,
    reason: str,
    today: dt.date,
    now: dt.datetime | None = None,
) -> BlacklistEntry:
    """Remove a listing before its three years (admin; audited; an event).

    人社部令第45号: the enterprise corrected the arrears at least six months ago (``TOO_EARLY`` naming
    the first allowed day otherwise), has had no new arrears since, and made a credit promise.
    """
    require(principal, Action.MANAGE_BLACKLIST, what="remove enterprises from the blacklist")
    if entry.status != BlacklistStatus.LISTED or entry.ends_on <= today:
        state = BlacklistStatus.labels()[entry.status] if entry.status != BlacklistStatus.LISTED else "期满"
        raise IllegalTransition(f"listing {entry.document_no} has already ended ({state}): nothing to remove")
    promise = _text(promise_no, "promiseNo", MAX_DOCUMENT_NO)
    why = _text(reason, "reason", MAX_REASON_CHARS)
    if not entry.decided_on <= corrected_on <= today:
        raise InvalidInput(
            f"correctedOn {corrected_on} must lie between the listing on {entry.decided_on} and today, {today}",
            field="correctedOn",
        )
    earliest = add_months(corrected_on, REMOVAL_WAIT_MONTHS)
    if today < earliest:
        raise TooEarly(
            f"listing {entry.document_no} may be removed early from {earliest}, "
            f"{REMOVAL_WAIT_MONTHS} months after the correction on {corrected_on}",
            suggestion=f"apply again on or after {earliest}",
        )
    since = dt.datetime(corrected_on.year, corrected_on.month, corrected_on.day, tzinfo=CST) + dt.timedelta(days=1)
    relapse = session.execute(
        select(Penalty.document_no, Penalty.decided_on)
        .where(Penalty.enterprise_id == entry.enterprise_id, Penalty.decided_on > corrected_on)
        .order_by(Penalty.decided_on)
        .limit(1)
        .execution_options(**{ALL_REGIONS: True})
    ).first()
    if relapse is not None:
        raise IllegalTransition(
            f"listing {entry.document_no} cannot be removed early: penalty {relapse.document_no} "
            f"of {relapse.decided_on} came after the correction on {corrected_on}"
        )
    clue = session.execute(
        select(Clue.clue_no, Clue.closed_at)
        .where(
            Clue.enterprise_id == entry.enterprise_id,
            Clue.status.in_(CLOSED),
            Clue.closed_at >= since,
            or_(Clue.recovered_amount > 0, Clue.workers_paid > 0),
        )
        .limit(1)
        .execution_options(**{ALL_REGIONS: True})
    ).first()
    if clue is not None:
        raise IllegalTransition(
            f"listing {entry.document_no} cannot be removed early: clue {clue.clue_no} found arrears "
            f"after the correction on {corrected_on}"
        )
    at = now or utcnow()
    entry.status = BlacklistStatus.REMOVED.value
    entry.corrected_on = corrected_on
    entry.promise_no = promise
    entry.removal_reason = why
    entry.ended_on = today
    entry.ended_by = principal.name
    session.flush()
    enterprise = session.get_one(Enterprise, entry.enterprise_id)
    session.execute(insert(Event), [_event(entry, enterprise, "blacklist.removed", at)])
    audit_row(
        session,
        principal=principal,
        action="blacklist.remove",
        entity_type="blacklist_entry",
        entity_id=entry.id,
        region_code=entry.region_code,
        detail={"document_no": entry.document_no, "corrected_on": corrected_on.isoformat(), "promise_no": promise},
        at=at,
    )
    sync_enterprises(session, today=today, enterprise_ids=[entry.enterprise_id])
    return entry


def expire_listings(session: Session, *, today: dt.date, now: dt.datetime | None = None) -> list[int]:
    """End every listing whose three years are over on ``today`` (an event each); returns their ids."""
    at = now or utcnow()
    due = (
        session.execute(
            select(BlacklistEntry)
            .where(BlacklistEntry.status == BlacklistStatus.LISTED, BlacklistEntry.ends_on <= today)
            .order_by(BlacklistEntry.id)
            .execution_options(**{ALL_REGIONS: True})
        )
        .scalars()
        .all()
    )
    if not due:
        return []
    enterprises = {
        e.id: e
        for e in session.execute(
            select(Enterprise).where(Enterprise.id.in_({entry.enterprise_id for entry in due}))
        ).scalars()
    }
    ended: list[BlacklistEntry] = []
    for entry in due:
        # Conditional: of two sweeps racing, one ends the listing and writes its event.
        won = session.execute(
            update(BlacklistEntry)
            .where(BlacklistEntry.id == entry.id, BlacklistEntry.status == BlacklistStatus.LISTED)
            .values(status=BlacklistStatus.EXPIRED.value, ended_on=entry.ends_on, ended_by="system")
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", won).rowcount == 1:
            session.refresh(entry)
            ended.append(entry)
    if ended:
        session.execute(
            insert(Event), [_event(e, enterprises[e.enterprise_id], "blacklist.expired", at) for e in ended]
        )
    sync_enterprises(session, today=today, enterprise_ids=list(enterprises))
    return [entry.id for entry in ended]
