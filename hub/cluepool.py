"""The clue pool's intake: every clue-bearing record becomes a new clue or joins an existing one.

One path for every channel (connectors' 12345 orders and national-platform clues, manual entries,
warning escalations): validate the identifiers, compute the record's match features, look for the
best candidate with :mod:`hub.matching`, then either add a channel record to that clue (with the rule
and score that joined it) or start a new clue with its deadline and colour. Every outcome writes an
Event in the caller's transaction; a new clue also gets its 受理 CaseAction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from connectors.base import ClueIn
from hub import deadlines, workflow
from hub import models as m
from hub.access import Action, audit, require
from hub.channel_feedback import take_feedback
from hub.errors import Forbidden, IllegalTransition
from hub.identifiers import (
    IdentifierError,
    mask_id_number,
    normalise_phone,
    validate_id_number,
    validate_region_code,
    validate_uscc,
)
from hub.matching import (
    Features,
    Match,
    blocking_keys,
    find_match,
    is_address,
    normalise_address,
    normalise_project_name,
)
from hub.models import utcnow
from hub.outbox import emit, warning_event
from hub.records import IngestResult, Item, Problem
from hub.settings import get_settings
from hub.vocab import WarningStatus
from hub.workdays import china_today, local_date
from hub.writeback import queue_writebacks

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.access import Principal
    from hub.crypto import Cipher


class ClueIntake:
    """Turns ``ClueIn`` items into clues and channel records, in the caller's transaction."""

    def __init__(
        self,
        session: Session,
        *,
        cipher: Cipher,
        window: dt.timedelta | None = None,
        threshold: float | None = None,
        actor: str | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        settings = get_settings()
        self.session = session
        self.cipher = cipher
        self.window = window or dt.timedelta(days=settings.match_window_days)
        self.threshold = settings.match_threshold if threshold is None else threshold
        self.actor = actor  # None: the channel's system account
        #: When the pool takes the records (the rows it writes say so); None: the hub's clock, at each step.
        self.now = now
        self._registry: dict[str, list[tuple[int, str, str, str | None]]] = {}

    def ingest(self, batch: Sequence[Item]) -> IngestResult:
        """Take a page's clue records; a malformed one is a :class:`~hub.records.Problem`, the rest go on."""
        out = IngestResult()
        for item in batch:
            try:
                result = self._one(item.entity, raw_record_id=item.raw_record_id)[0]
            except Invalid as exc:
                out.problems.append(Problem(item.raw_record_id, exc.reason, exc.field))
                continue
            setattr(out, result, getattr(out, result) + 1)
        return out

    def intake(self, c: ClueIn, *, raw_record_id: int | None = None, new_only: bool = False) -> m.ChannelRecord:
        """One record (a manual entry, an escalated warning): its channel record, on a new or matched clue.

        Raises :class:`Invalid` (field and reason) for a malformed identifier; with ``new_only``,
        :class:`SourceTaken` when the record is in the pool already (a manual entry is not an update).
        """
        return self._one(c, raw_record_id=raw_record_id, new_only=new_only)[1]

    def _one(self, c: ClueIn, *, raw_record_id: int | None, new_only: bool = False) -> tuple[str, m.ChannelRecord]:
        region = _check(validate_region_code, c.region_code, "regionCode")
        phone = _check(normalise_phone, c.complainant_phone, "complainantPhone") if c.complainant_phone else None
        id_number = (
            _check(validate_id_number, c.complainant_id_number, "complainantIdNumber")
            if c.complainant_id_number
            else None
        )
        uscc = _check(validate_uscc, c.respondent_uscc, "respondentUscc") if c.respondent_uscc else None
        existing = self.session.execute(
            select(m.ChannelRecord).where(
                m.ChannelRecord.channel == c.channel, m.ChannelRecord.source_id == c.source_id
            )
        ).scalar_one_or_none()
        if existing is not None and new_only:
            raise SourceTaken(f"{c.channel}:{c.source_id}")
        if existing is not None:
            changes = {
                "summary": c.content,
                "respondent_name": c.respondent_name,
                "complainant_name": c.complainant_name,
                "complainant_phone": phone,
            }
            changed = {k: v for k, v in changes.items() if getattr(existing, k) != v}
            for k, v in changed.items():
                setattr(existing, k, v)
            if raw_record_id is not None and existing.raw_record_id != raw_record_id:
                # Point at the newest archived version; a new payload alone is not a change of the clue.
                existing.raw_record_id = raw_record_id
            # The channel's own 督办 / 回访 since the last sync (a 12345 order called back): through the workflow.
            acted = take_feedback(self.session, record=existing, clue_in=c)
            return ("updated" if changed or acted else "unchanged"), existing
        id_hash = self.cipher.lookup_hash(id_number) if id_number else None
        project = self._project(c, region)
        features = Features.build(
            region_code=region,
            respondent_name=c.respondent_name,
            phone=phone,
            id_hash=id_hash,
            uscc=uscc,
            project_code=project[1] if project else c.project_code,
            project_name=c.project_name,
            address=c.respondent_address,
            complainant_name=c.complainant_name,
        )
        matched = self._match(c, features)
        if matched is None:
            clue = self._new_clue(
                c,
                region=region,
                phone=phone,
                id_number=id_number,
                id_hash=id_hash,
                uscc=uscc,
                features=features,
                project_id=project[0] if project else None,
            )
            found = Match("new", 1.0)
        else:
            clue, found = matched
        record = m.ChannelRecord(
            clue_id=clue.id,
            channel=c.channel,
            source_id=c.source_id,
            raw_record_id=raw_record_id,
            received_at=c.received_at,
            complainant_name=c.complainant_name,
            complainant_phone=phone,
            respondent_name=c.respondent_name,
            summary=c.content,
            match_rule=found.rule,
            match_score=None if found.rule == "new" else found.score,
            match_features=features.as_json(),
            region_code=clue.region_code,
        )
        if self.now is not None:
            record.created_at = self.now
        self.session.add(record)
        self.session.flush()
        self.session.add_all(
            m.ClueMatchKey(key=k, clue_id=clue.id, channel_record_id=record.id, received_at=c.received_at)
            for k in blocking_keys(features)
        )
        payload: dict[str, Any] = {
            "clueNo": clue.clue_no,
            "channel": c.channel,
            "sourceId": c.source_id,
            "matchRule": found.rule,
        }
        if found.rule == "new":
            emit(
                self.session,
                clue,
                "clue.created",
                {**payload, "status": clue.status, "colour": clue.colour},
                at=self.now,
            )
        else:
            payload["matchScore"] = found.score
            emit(self.session, clue, "clue.channel_added", payload, at=self.now)
            if clue.status in workflow.CLOSED_STATES:
                # A repeat complaint about a closed matter: its channel gets the outcome too.
                queue_writebacks(self.session, clue, records=[record])
        self.session.flush()
        take_feedback(self.session, record=record, clue_in=c)
        return "created", record

    def _match(self, c: ClueIn, features: Features) -> tuple[m.Clue, Match] | None:
        """The clue the record joins and why: the upstream's own link, else the best candidate; None for a new clue."""
        if c.related_source_id:
            linked = self.session.execute(
                select(m.Clue)
                .join(m.ChannelRecord, m.ChannelRecord.clue_id == m.Clue.id)
                .where(m.ChannelRecord.channel == c.channel, m.ChannelRecord.source_id == c.related_source_id)
            ).scalar_one_or_none()
            if linked is not None:
                return linked, Match("linked", 1.0)
        best = find_match(
            self.session, features, received_at=c.received_at, window=self.window, threshold=self.threshold
        )
        if best is None:
            return None
        clue = self.session.get(m.Clue, best.clue_id)
        return (clue, best.match) if clue is not None else None

    def _project(self, c: ClueIn, region: str) -> tuple[int, str] | None:
        """The registered project the record is about: by code, else by the name or site address it gives.

        Workers name a project by its registered name, a short name, or the street of the site (docs/domain.md);
        the permit registry (施工许可) knows both the name and the address, so two records that name one
        project differently meet on its code. Only an unambiguous answer within the county counts.
        """
        if c.project_code:
            row = self.session.execute(
                select(m.Project.id, m.Project.project_code).where(m.Project.project_code == c.project_code)
            ).first()
            return (row[0], row[1]) if row else None
        if not c.project_name:
            return None
        text = normalise_project_name(c.project_name)
        if len(text) < 3:
            return None
        index = self._projects_in(region[:6])
        if is_address(text):
            hits = {
                (pid, code)
                for pid, code, _name, site in index
                if site and (text in site or site in text) and min(len(text), len(site)) >= 5
            }
        else:
            hits = {
                (pid, code)
                for pid, code, name, _site in index
                if name and (text == name or (min(len(text), len(name)) >= 4 and (text in name or name in text)))
            }
        return hits.pop() if len(hits) == 1 else None

    def _projects_in(self, county: str) -> list[tuple[int, str, str, str | None]]:
        """(id, code, normalised name, normalised site address) of the county's registered projects (cached)."""
        if county not in self._registry:
            rows = self.session.execute(
                select(m.Project.id, m.Project.project_code, m.Project.name, m.Project.address).where(
                    m.Project.region_code == county
                )
            ).all()
            self._registry[county] = [
                (pid, code, normalise_project_name(name), normalise_address(addr) if addr else None)
                for pid, code, name, addr in rows
            ]
        return self._registry[county]

    def _new_clue(
        self,
        c: ClueIn,
        *,
        region: str,
        phone: str | None,
        id_number: str | None,
        id_hash: str | None,
        uscc: str | None,
        features: Features,
        project_id: int | None,
    ) -> m.Clue:
        enterprise_id = None
        if uscc:
            enterprise_id = self.session.execute(
                select(m.Enterprise.id).where(m.Enterprise.uscc == uscc)
            ).scalar_one_or_none()
        if project_id is None and c.project_name:
            # Channels name the project; take it when the name is unambiguous within the city.
            found = (
                self.session.execute(
                    select(m.Project.id)
                    .where(m.Project.name == c.project_name, m.Project.region_code.startswith(region[:4]))
                    .limit(2)
                )
                .scalars()
                .all()
            )
            project_id = found[0] if len(found) == 1 else None
        digest = hashlib.sha1(f"{c.channel}:{c.source_id}".encode()).hexdigest()[:6].upper()
        received_local = local_date(c.received_at)
        clue = m.Clue(
            clue_no=f"XS{region}{received_local:%Y%m%d}{digest}",
            title=c.title,
            content=c.content,
            status="received",
            handling_region_code=region,
            sector=c.sector,
            complainant_name=c.complainant_name,
            complainant_phone=phone,
            complainant_id_enc=self.cipher.encrypt(id_number) if id_number else None,
            complainant_id_hash=id_hash,
            complainant_id_masked=mask_id_number(id_number) if id_number else None,
            respondent_name=c.respondent_name,
            respondent_name_norm=features.name,
            respondent_uscc=uscc,
            respondent_address=c.respondent_address,
            enterprise_id=enterprise_id,
            project_id=project_id,
            project_name=c.project_name,
            amount=c.amount,
            headcount=c.headcount,
            arrears_from=c.arrears_from,
            arrears_to=c.arrears_to,
            public_opinion=c.public_opinion,
            received_at=c.received_at,
            channel=c.channel,
            # A channel that says what the caller asked (12345's reflectName) and its own deadline
            # (deadlineDate) carries them on the record; channels that do not leave the table's.
            request_type=deadlines.request_type_of(getattr(c, "request_type", None)),
            upstream_deadline=deadlines.date_of(getattr(c, "deadline_date", None)),
            region_code=region,
            urged_count=0,
            extended_days=0,
        )
        deadlines.refresh(clue)
        clue.colour = workflow.colour_for(clue, today=china_today(self.now))
        if self.now is not None:
            clue.created_at = self.now
        self.session.add(clue)
        self.session.flush()
        self.session.add(
            m.CaseAction(
                clue_id=clue.id,
                action="receive",
                actor=self.actor or f"system:{c.channel}",
                to_status="received",
                to_region_code=region,
                note=f"{m.CHANNELS.get(c.channel, c.channel)} {c.source_id}",
                at=self.now or utcnow(),
                region_code=region,
            )
        )
        return clue


class Invalid(Exception):
    """A record the pool cannot take: which field, and why (quarantined, or a BAD_USER_INPUT error).

    ``reason`` quotes the value; ``detail`` is the reason alone, for messages that must not repeat
    a personal identifier.
    """

    def __init__(self, reason: str, field: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.detail = detail


class SourceTaken(Exception):
    """The record (channel + source id) is in the pool already and the caller wanted a new one."""


def _check(fn: Any, value: str, field: str) -> str:
    try:
        return fn(value, field=field)
    except IdentifierError as exc:
        raise Invalid(str(exc), exc.field, exc.reason) from exc


def escalate_warning(
    session: Session, *, warning: m.Warning, cipher: Cipher, principal: Principal, at: dt.datetime | None = None
) -> m.Clue:
    """预警转线索: a warning becomes a clue-bearing record and goes through the same matcher.

    A complaint about the same project may already be in the pool; then the warning joins that clue
    (rule ``uscc+project`` / ``name+project``) instead of opening a second one. The warning is marked
    escalated, with its clue (a ``WarningAction`` and a ``warning.escalated`` event); a second call
    returns the same clue. ``at``: when (now by default; the rules engine passes its own clock).
    """
    require(principal, Action.WORK_CLUES, what="escalate warnings")
    if warning.status == WarningStatus.ESCALATED and warning.clue_id is not None:
        return _warning_clue(session, warning, warning.clue_id)
    if warning.status != WarningStatus.ACTIVE:
        raise IllegalTransition(
            f"cannot escalate warning {warning.rule_code}/{warning.id}: it is {warning.status}",
            state=warning.status,
            action="escalate_warning",
        )
    project = session.get(m.Project, warning.project_id) if warning.project_id else None
    enterprise_id = warning.enterprise_id or (project.contractor_id if project else None)
    enterprise = session.get(m.Enterprise, enterprise_id) if enterprise_id else None
    respondent = enterprise.name if enterprise else (project.name if project else warning.message[:50])
    at = at or utcnow()
    clue_in = ClueIn(
        channel="warning",
        source_id=f"YJ-{warning.rule_code}-{warning.id}",
        received_at=at,
        title=f"预警转线索：{project.name if project else respondent}（{warning.rule_code}）",
        content=f"{warning.message}（依据：{warning.rule_cite}）",
        region_code=warning.region_code,
        respondent_name=respondent,
        respondent_uscc=enterprise.uscc if enterprise else None,
        respondent_address=project.address if project else None,
        project_code=project.project_code if project else None,
        project_name=project.name if project else None,
        sector="工程建设" if project else "非工程",
    )
    record = ClueIntake(session, cipher=cipher, actor=principal.name, now=at).intake(clue_in)
    warning.status, warning.clue_id = WarningStatus.ESCALATED, record.clue_id
    session.add(
        m.WarningAction(
            warning_id=warning.id,
            action="escalated",
            actor=principal.name,
            to_level=warning.level,
            note=f"转入线索池（{record.match_rule}）",
            facts={"clueId": record.clue_id, "matchRule": record.match_rule},
            at=at,
            region_code=warning.region_code,
        )
    )
    session.execute(insert(m.Event), [warning_event(warning, "warning.escalated", at=at, clueId=record.clue_id)])
    audit(
        session,
        principal=principal,
        action="warning.escalate",
        entity_type="warning",
        entity_id=warning.id,
        region_code=warning.region_code,
        detail={"rule": warning.rule_code, "clueId": record.clue_id, "matchRule": record.match_rule},
        at=at,
    )
    session.flush()
    return _warning_clue(session, warning, record.clue_id)


def _warning_clue(session: Session, warning: m.Warning, clue_id: int) -> m.Clue:
    """The clue a warning went into; ``Forbidden`` when it lies outside the principal's jurisdiction.

    The matcher may join a warning to a clue about the same project that another region handles.
    """
    clue = session.get(m.Clue, clue_id)
    if clue is None:
        raise Forbidden(
            f"warning {warning.rule_code}/{warning.id} went into a clue outside your jurisdiction",
            suggestion="ask the level above, which sees both, to look at it",
        )
    return clue
