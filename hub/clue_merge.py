"""Manual merge and split of clues: both audited, both reversible.

``merge(target, source)`` moves every channel record of ``source`` (with its blocking keys) onto
``target``, remembers where each came from (``origin_clue_id``) and marks ``source`` as merged.
``split(clue, records)`` moves records off a clue: records that came from a merged clue go back to it
(the merge is undone and the clue returns to the state it had), others start a new clue. So a merge
is undone by splitting its records off, and a split by merging the new clue back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from hub import deadlines, workflow
from hub import models as m
from hub.access import audit
from hub.errors import Forbidden, IllegalTransition, InvalidInput
from hub.models import utcnow
from hub.workdays import china_today, local_date
from hub.writeback import queue_writebacks

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.access import Principal


def _records(session: Session, clue: m.Clue) -> list[m.ChannelRecord]:
    return list(
        session.execute(
            select(m.ChannelRecord).where(m.ChannelRecord.clue_id == clue.id).order_by(m.ChannelRecord.id)
        ).scalars()
    )


def _move(session: Session, records: Sequence[m.ChannelRecord], to: m.Clue) -> None:
    ids = [r.id for r in records]
    for r in records:
        r.clue_id = to.id
        r.region_code = to.region_code
    session.execute(update(m.ClueMatchKey).where(m.ClueMatchKey.channel_record_id.in_(ids)).values(clue_id=to.id))


def merge(session: Session, *, target: m.Clue, source: m.Clue, principal: Principal, reason: str) -> m.Clue:
    """合并: ``source`` is the same matter as ``target``; its channel records join ``target``."""
    reason = workflow.note_text(reason, "reason", required=True)
    if target.id == source.id:
        raise InvalidInput(
            f"cannot merge clue {target.clue_no} into itself", field="sourceClueNo", value=source.clue_no
        )
    for clue in (target, source):
        if clue.status == "merged":
            raise IllegalTransition(
                f"cannot merge clue {clue.clue_no}: it is merged (已合并) into another clue already",
                state=clue.status,
                action="merge",
            )
        workflow.check(clue, "merge", principal)
    moved = _records(session, source)
    for r in moved:
        if r.origin_clue_id is None:
            r.origin_clue_id = source.id
    _move(session, moved, target)
    before = source.status
    source.status, source.merged_into_id, source.colour = "merged", target.id, None
    detail = {
        "target": target.clue_no,
        "source": source.clue_no,
        "sourceStatus": before,
        "reason": reason,
        "channelRecords": [f"{r.channel}:{r.source_id}" for r in moved],
    }
    workflow.record(
        session,
        source,
        action="merge",
        actor=principal.name,
        from_status=before,
        from_region=source.handling_region_code,
        note=f"并入 {target.clue_no}：{reason}",
        extra=detail,
    )
    workflow.record(
        session,
        target,
        action="merge",
        actor=principal.name,
        from_status=target.status,
        from_region=target.handling_region_code,
        note=f"合并 {source.clue_no}：{reason}",
        extra=detail,
    )
    audit(
        session,
        principal=principal,
        action="clue.merge",
        entity_type="clue",
        entity_id=target.id,
        region_code=target.region_code,
        detail=detail,
    )
    if target.status in workflow.CLOSED_STATES:
        queue_writebacks(session, target, records=moved)  # the duplicate's channels get the outcome too
    session.flush()
    return target


def split(
    session: Session, *, clue: m.Clue, channel_record_ids: Sequence[int], principal: Principal, reason: str
) -> list[m.Clue]:
    """拆分: move channel records off ``clue``; returns the clues they now belong to.

    Records merged in from another clue go back to it (that clue is restored); the others start one
    new clue together.
    """
    reason = workflow.note_text(reason, "reason", required=True)
    if clue.status == "merged":
        raise IllegalTransition(
            f"cannot split clue {clue.clue_no}: it is merged (已合并); split the clue it was merged into",
            state=clue.status,
            action="split",
        )
    workflow.check(clue, "split", principal)
    records = _records(session, clue)
    by_id = {r.id: r for r in records}
    wanted = list(dict.fromkeys(channel_record_ids))
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise InvalidInput(
            f"channel records {unknown} are not on clue {clue.clue_no}", field="channelRecordIds", value=unknown
        )
    if not wanted:
        raise InvalidInput("channelRecordIds is empty: name the records to split off", field="channelRecordIds")
    if len(wanted) == len(records):
        raise InvalidInput(
            f"cannot split every channel record off clue {clue.clue_no}: at least one must stay",
            field="channelRecordIds",
            value=wanted,
        )
    groups: dict[int | None, list[m.ChannelRecord]] = {}
    for i in wanted:
        r = by_id[i]
        origin = r.origin_clue_id if r.origin_clue_id not in (None, clue.id) else None
        groups.setdefault(origin, []).append(r)
    # Every clue to restore is checked and locked before anything is written (ascending ids, like merges).
    origins = {oid: _origin(session, oid, groups[oid], principal=principal) for oid in sorted(k for k in groups if k)}
    out: list[m.Clue] = []
    for origin_id, moved in groups.items():
        if origin_id is not None:
            out.append(_restore(session, origins[origin_id], moved, principal=principal, reason=reason, from_clue=clue))
        else:
            out.append(_new_from(session, clue, moved, principal=principal, reason=reason))
    detail = {
        "clue": clue.clue_no,
        "into": [c.clue_no for c in out],
        "reason": reason,
        "channelRecords": [f"{by_id[i].channel}:{by_id[i].source_id}" for i in wanted],
    }
    workflow.record(
        session,
        clue,
        action="split",
        actor=principal.name,
        from_status=clue.status,
        from_region=clue.handling_region_code,
        note=f"拆出 {', '.join(c.clue_no for c in out)}：{reason}",
        extra=detail,
    )
    audit(
        session,
        principal=principal,
        action="clue.split",
        entity_type="clue",
        entity_id=clue.id,
        region_code=clue.region_code,
        detail=detail,
    )
    session.flush()
    return out


def _origin(session: Session, origin_id: int, moved: list[m.ChannelRecord], *, principal: Principal) -> m.Clue:
    """The clue records were merged in from, locked; ``Forbidden`` when the principal may not act on it.

    Splitting them off restores that clue (it comes back to its state), so the principal must be able
    to work it: a county that received a record merged in from another county's clue cannot.
    """
    restored = session.execute(
        workflow.for_action(session, select(m.Clue).where(m.Clue.id == origin_id))
    ).scalar_one_or_none()
    if restored is None or not principal.covers(restored.handling_region_code):
        names = ", ".join(f"{r.id} ({m.CHANNELS.get(r.channel, r.channel)} {r.source_id})" for r in moved)
        raise Forbidden(
            f"channel record {names} was merged in from a clue outside your jurisdiction {principal.region_code}: "
            f"splitting it off would restore that clue",
            suggestion="ask the level that covers both clues (the one that merged them) to split it",
            value=[r.id for r in moved],
        )
    return restored


def _restore(
    session: Session,
    restored: m.Clue,
    moved: list[m.ChannelRecord],
    *,
    principal: Principal,
    reason: str,
    from_clue: m.Clue,
) -> m.Clue:
    """Undo a merge: the records go back and the clue returns to the state it had before."""
    before = session.execute(
        select(m.CaseAction.from_status)
        .where(m.CaseAction.clue_id == restored.id, m.CaseAction.action == "merge")
        .order_by(m.CaseAction.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    _move(session, moved, restored)
    for r in moved:
        r.origin_clue_id = None
    if restored.status == "merged":
        restored.status, restored.merged_into_id = before or "received", None
        restored.colour = workflow.colour_for(restored, today=china_today())
    workflow.record(
        session,
        restored,
        action="split",
        actor=principal.name,
        from_status="merged",
        from_region=restored.handling_region_code,
        note=f"自 {from_clue.clue_no} 拆回：{reason}",
    )
    return restored


def _new_from(
    session: Session, clue: m.Clue, moved: list[m.ChannelRecord], *, principal: Principal, reason: str
) -> m.Clue:
    """A new clue for records the matcher joined wrongly: their own facts, the rest copied from ``clue``."""
    first = min(moved, key=lambda r: r.received_at)
    feats = first.match_features or {}
    received = local_date(first.received_at)
    digest = (
        hashlib.sha1(f"{first.channel}:{first.source_id}:split:{utcnow().isoformat()}".encode()).hexdigest()[:6].upper()
    )
    new = m.Clue(
        clue_no=f"XS{clue.region_code}{received:%Y%m%d}{digest}",
        title=f"{first.complainant_name or '反映人'}反映{first.respondent_name or clue.respondent_name}拖欠工资",
        content=first.summary or clue.content,
        status="received",
        colour=None,
        handling_region_code=clue.region_code,
        sector=clue.sector,
        complainant_name=first.complainant_name,
        complainant_phone=first.complainant_phone,
        respondent_name=first.respondent_name or clue.respondent_name,
        respondent_name_norm=feats.get("name"),
        respondent_uscc=feats.get("uscc"),
        respondent_address=None,
        project_name=None,
        received_at=first.received_at,
        channel=first.channel,
        request_type=clue.request_type if first.channel == clue.channel else None,
        region_code=clue.region_code,
        public_opinion=False,
        urged_count=0,
        extended_days=0,
    )
    deadlines.refresh(new)
    session.add(new)
    session.flush()
    _move(session, moved, new)
    new.colour = workflow.colour_for(new, today=china_today())
    workflow.record(
        session,
        new,
        action="split",
        actor=principal.name,
        from_status=None,
        from_region=clue.handling_region_code,
        note=f"自 {clue.clue_no} 拆分：{reason}",
    )
    return new
