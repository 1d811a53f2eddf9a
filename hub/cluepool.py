"""The clue pool's intake: every clue-bearing record becomes a new clue or joins an existing one.

The matcher here is deliberately simple and explicit — exact blocking keys within a time window, in
priority order, each with a fixed score — and records which rule joined a record to a clue:

============  ==========================================================  =====
rule          condition (within ``WINDOW`` of the existing clue)            score
============  ==========================================================  =====
linked        the upstream itself links it (12345 ``oldOrderNum``)          1.00
id_number     same complainant 居民身份证号                                  0.98
phone         same complainant mobile phone                                 0.95
uscc+project  same respondent USCC and same project code                    0.90
name+county   same normalised respondent name in the same county            0.85
============  ==========================================================  =====

(DOMAIN.md "Clue lifecycle", keys marked *proposal*.) Fuzzy scoring of names and addresses is the
clue-pool issue's work; it replaces ``_match`` and keeps this interface.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from hub import models as m
from hub.identifiers import IdentifierError, mask_id_number, normalise_phone, validate_id_number, validate_region_code, validate_uscc
from hub.models import utcnow
from hub.workdays import add_working_days

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.crypto import Cipher
    from hub.ingest import Item, Outcome

WINDOW = dt.timedelta(days=30)
#: One city's target for wage clues: closed within 15 working days (DOMAIN.md).
CLOSE_WITHIN_WORKING_DAYS = 15
#: Red on severity (DOMAIN.md supervision colour, proposal): a group case or a large amount.
GROUP_CASE_HEADCOUNT = 10
LARGE_AMOUNT = 500_000

_SUFFIXES = ("有限责任公司", "股份有限公司", "有限公司", "分公司", "公司", "集团")


def normalise_company_name(name: str) -> str:
    """Full-width → half-width, no spaces or bracketed parts, no legal-form suffix."""
    text = unicodedata.normalize("NFKC", name).strip()
    text = re.sub(r"[\(（][^\)）]*[\)）]", "", text)
    text = re.sub(r"\s+", "", text)
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            text = text[: -len(suffix)]
            break
    return text


def severity_colour(*, headcount: int | None, amount: Any, public_opinion: bool) -> str | None:
    """Red for a group case (≥ 10 workers), ≥ ¥500,000, or 舆情; otherwise no colour yet."""
    if public_opinion or (headcount or 0) >= GROUP_CASE_HEADCOUNT or (amount or 0) >= LARGE_AMOUNT:
        return "red"
    return None


class ClueIntake:
    """Turns ``ClueIn`` items into clues and channel records, in the caller's transaction."""

    def __init__(self, session: Session, *, cipher: Cipher) -> None:
        self.session = session
        self.cipher = cipher

    def ingest(self, batch: Sequence[Item]) -> Outcome:
        from hub.ingest import Outcome, Problem

        out = Outcome(problems=[])
        for item in batch:
            try:
                result = self._one(item)
            except _Invalid as exc:
                out.problems.append(Problem(item.raw_record_id, exc.reason, exc.field))  # type: ignore[union-attr]
                continue
            setattr(out, result, getattr(out, result) + 1)
        return out

    def _one(self, item: Item) -> str:
        c = item.entity
        region = _check(validate_region_code, c.region_code, "regionCode")
        phone = _check(normalise_phone, c.complainant_phone, "complainantPhone") if c.complainant_phone else None
        id_number = _check(validate_id_number, c.complainant_id_number, "complainantIdNumber") if c.complainant_id_number else None
        uscc = _check(validate_uscc, c.respondent_uscc, "respondentUscc") if c.respondent_uscc else None
        existing = self.session.execute(
            select(m.ChannelRecord).where(m.ChannelRecord.channel == c.channel, m.ChannelRecord.source_id == c.source_id)
        ).scalar_one_or_none()
        if existing is not None:
            changes = {"summary": c.content, "respondent_name": c.respondent_name, "complainant_name": c.complainant_name,
                       "complainant_phone": phone}
            changed = {k: v for k, v in changes.items() if getattr(existing, k) != v}
            for k, v in changed.items():
                setattr(existing, k, v)
            if item.raw_record_id is not None and existing.raw_record_id != item.raw_record_id:
                # Point at the newest archived version; a new payload alone is not a change of the clue.
                existing.raw_record_id = item.raw_record_id
            return "updated" if changed else "unchanged"
        id_hash = self.cipher.lookup_hash(id_number) if id_number else None
        name_norm = normalise_company_name(c.respondent_name)
        clue, rule, score = self._match(c, region=region, phone=phone, id_hash=id_hash, uscc=uscc, name_norm=name_norm)
        now = utcnow()
        if clue is None:
            clue = self._new_clue(c, region=region, phone=phone, id_number=id_number, id_hash=id_hash, uscc=uscc, name_norm=name_norm)
            rule, score = "new", None
            event_type = "clue.created"
        else:
            event_type = "clue.channel_added"
        self.session.add(m.ChannelRecord(
            clue_id=clue.id, channel=c.channel, source_id=c.source_id, raw_record_id=item.raw_record_id,
            received_at=c.received_at, complainant_name=c.complainant_name, complainant_phone=phone,
            respondent_name=c.respondent_name, summary=c.content, match_rule=rule, match_score=score,
            region_code=clue.region_code,
        ))
        self.session.add(m.Event(
            type=event_type, region_code=clue.region_code, entity_type="clue", entity_id=clue.id, created_at=now,
            payload={"clueNo": clue.clue_no, "channel": c.channel, "sourceId": c.source_id, "matchRule": rule},
        ))
        self.session.flush()
        return "created"

    def _match(self, c: Any, *, region: str, phone: str | None, id_hash: str | None, uscc: str | None,
               name_norm: str) -> tuple[m.Clue | None, str, float | None]:
        lo, hi = c.received_at - WINDOW, c.received_at + WINDOW
        in_window = and_(m.Clue.received_at >= lo, m.Clue.received_at <= hi)
        candidates: list[tuple[str, float, Any]] = []
        if c.related_source_id:
            candidates.append(("linked", 1.0, select(m.Clue).join(m.ChannelRecord, m.ChannelRecord.clue_id == m.Clue.id).where(
                m.ChannelRecord.channel == c.channel, m.ChannelRecord.source_id == c.related_source_id)))
        if id_hash:
            candidates.append(("id_number", 0.98, select(m.Clue).where(m.Clue.complainant_id_hash == id_hash, in_window)))
        if phone:
            candidates.append(("phone", 0.95, select(m.Clue).where(m.Clue.complainant_phone == phone, in_window)))
        if uscc and c.project_code:
            candidates.append(("uscc+project", 0.90, select(m.Clue).join(m.Project, m.Project.id == m.Clue.project_id).where(
                m.Clue.respondent_uscc == uscc, m.Project.project_code == c.project_code, in_window)))
        candidates.append(("name+county", 0.85, select(m.Clue).where(
            m.Clue.respondent_name_norm == name_norm, m.Clue.region_code == region, in_window)))
        for rule, score, stmt in candidates:
            found = self.session.execute(stmt.order_by(m.Clue.received_at.desc()).limit(1)).scalar_one_or_none()
            if found is not None:
                return found, rule, score
        return None, "new", None

    def _new_clue(self, c: Any, *, region: str, phone: str | None, id_number: str | None, id_hash: str | None,
                  uscc: str | None, name_norm: str) -> m.Clue:
        enterprise_id = None
        if uscc:
            enterprise_id = self.session.execute(select(m.Enterprise.id).where(m.Enterprise.uscc == uscc)).scalar_one_or_none()
        project_id = None
        if c.project_code:
            project_id = self.session.execute(select(m.Project.id).where(m.Project.project_code == c.project_code)).scalar_one_or_none()
        elif c.project_name:
            # Channels name the project; take it when the name is unambiguous within the city.
            found = self.session.execute(select(m.Project.id).where(
                m.Project.name == c.project_name, m.Project.region_code.startswith(region[:4])).limit(2)).scalars().all()
            project_id = found[0] if len(found) == 1 else None
        digest = hashlib.sha1(f"{c.channel}:{c.source_id}".encode()).hexdigest()[:6].upper()
        received_local = c.received_at.date()
        clue = m.Clue(
            clue_no=f"XS{region}{received_local:%Y%m%d}{digest}", title=c.title, content=c.content, status="received",
            colour=severity_colour(headcount=c.headcount, amount=c.amount, public_opinion=c.public_opinion),
            handling_region_code=region, sector=c.sector, complainant_name=c.complainant_name, complainant_phone=phone,
            complainant_id_enc=self.cipher.encrypt(id_number) if id_number else None, complainant_id_hash=id_hash,
            complainant_id_masked=mask_id_number(id_number) if id_number else None, respondent_name=c.respondent_name,
            respondent_name_norm=name_norm, respondent_uscc=uscc, respondent_address=c.respondent_address,
            enterprise_id=enterprise_id, project_id=project_id, amount=c.amount, headcount=c.headcount,
            arrears_from=c.arrears_from, arrears_to=c.arrears_to, public_opinion=c.public_opinion,
            received_at=c.received_at, deadline=add_working_days(received_local, CLOSE_WITHIN_WORKING_DAYS),
            region_code=region,
        )
        self.session.add(clue)
        self.session.flush()
        self.session.add(m.CaseAction(
            clue_id=clue.id, action="receive", actor=f"system:{c.channel}", to_status="received",
            to_region_code=region, note=f"{m.CHANNELS.get(c.channel, c.channel)} {c.source_id}", at=utcnow(), region_code=region,
        ))
        return clue


class _Invalid(Exception):
    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _check(fn: Any, value: str, field: str) -> str:
    try:
        return fn(value, field=field)
    except IdentifierError as exc:
        raise _Invalid(str(exc), exc.field) from exc
