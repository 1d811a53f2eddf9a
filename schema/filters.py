"""Filter inputs of the query roots, and how each becomes SQL conditions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import strawberry
from sqlalchemy import func, or_, select

from hub import models as m
from hub.access import jurisdiction_bounds
from hub.errors import Forbidden, InvalidIdentifier, InvalidInput
from hub.identifiers import IdentifierError, normalise_phone, validate_region_code, validate_uscc
from hub.matching import phone_key
from hub.stats import period_bounds
from hub.workflow import overdue_clause
from schema.types._common import NODE_MODELS, from_global_id
from schema.types.cases import Channel, ClueStatus, Colour, WarningStatus


def region_condition(column: Any, region_code: str | None, *, field: str = "regionCode") -> list[Any]:
    """Rows at or below ``region_code`` (the region itself and everything under it)."""
    if region_code is None:
        return []
    try:
        code = validate_region_code(region_code, field=field)
    except IdentifierError as exc:
        raise InvalidIdentifier(str(exc), field=exc.field, value=exc.value) from exc
    bounds = jurisdiction_bounds(code)
    if bounds is None:
        return []
    return [column >= bounds[0], column < bounds[1]]


def db_id(global_id: strawberry.ID | None, model: type, *, field: str) -> int | None:
    """The primary key inside a global ID, checking that it names a ``model``."""
    if global_id is None:
        return None
    type_name, pk = from_global_id(str(global_id), field=field)
    if NODE_MODELS.get(type_name) is not model or not pk.isdigit():
        raise InvalidInput(f"{field} {global_id!r} is not the ID of a {model.__name__}", field=field)
    return int(pk)


#: What a search by a key without unmask may not hold: enough digits to probe a masked phone or ID number.
DIGIT_RUN = re.compile(r"\d{4,}")
#: The longest text a filter accepts: a name, a code or a search term is far shorter, while a 50,000-character
#: search makes every LIKE comparison scan the pattern (three of them kept SQLite busy for minutes).
MAX_FILTER_TEXT = 200


#: The values a SMALLINT column holds (a pay status is one).
SMALLINT = (-(2**15), 2**15 - 1)


def check_text_lengths(filter_input: Any) -> None:
    """Refuse a filter whose text fields are longer than ``MAX_FILTER_TEXT``, naming the field."""
    for f in dataclasses.fields(filter_input):
        value = getattr(filter_input, f.name)
        if isinstance(value, str) and len(value) > MAX_FILTER_TEXT:
            head, *rest = f.name.split("_")
            name = head + "".join(w.title() for w in rest)
            raise InvalidInput(
                f"{name} is {len(value):,} characters long; at most {MAX_FILTER_TEXT} are accepted",
                field=name,
            )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@strawberry.input(description="Filters on clues; all given conditions must hold.")
class ClueFilter:
    region_code: str | None = strawberry.field(default=None, description="This region and everything below it.")
    status: list[ClueStatus] | None = None
    colour: list[Colour] | None = None
    channel: Channel | None = strawberry.field(
        default=None, description="Clues with at least one record from this channel."
    )
    enterprise_id: strawberry.ID | None = None
    respondent_uscc: str | None = None
    project_id: strawberry.ID | None = None
    received_from: dt.date | None = strawberry.field(default=None, description="China day (UTC+8), inclusive.")
    received_to: dt.date | None = strawberry.field(default=None, description="China day (UTC+8), inclusive.")
    closed_from: dt.date | None = strawberry.field(
        default=None, description="Closed (办结) on or after this China day (the dashboard's 本月办结)."
    )
    closed_to: dt.date | None = strawberry.field(default=None, description="Closed on or before this China day.")
    overdue: bool | None = strawberry.field(default=None, description="Past its deadline and not closed.")
    handling_region_code: str | None = strawberry.field(
        default=None, description="Clues handled now by exactly this region (a unit's work queue)."
    )
    supervised: bool | None = strawberry.field(default=None, description="Under 督办 / 挂牌督办.")
    multi_channel: bool | None = strawberry.field(default=None, description="Arrived through two or more channels.")
    search: str | None = strawberry.field(
        default=None,
        description="Substring of the title, respondent or complainant name; a phone number, in any writing "
        "('0593-7856234', '+86 593 785 6234'), also finds the clues its complainant called about (unmask only).",
    )

    def conditions(self, *, today: dt.date, may_unmask: bool) -> list[Any]:
        """The filter as SQL conditions; ``today`` is China's day, ``may_unmask`` whether the caller may
        read personal data in clear (and so search by it)."""
        check_text_lengths(self)
        if self.search and not may_unmask and DIGIT_RUN.search(self.search):
            # The search runs over the unmasked title: four digits of a phone or an ID number would tell
            # a key without unmask what its answers mask (138****5678 hides exactly four).
            raise Forbidden(
                "search: four or more digits in a row may be part of a phone, ID or card number, and you may not "
                "search by personal data",
                field="search",
                suggestion="search by a name, or ask an administrator for a key with the unmask permission",
            )
        c = m.Clue
        out: list[Any] = region_condition(c.region_code, self.region_code)
        if self.status:
            out.append(c.status.in_([s.value for s in self.status]))
        if self.colour:
            out.append(c.colour.in_([x.value for x in self.colour]))
        if self.channel:
            out.append(c.id.in_(select(m.ChannelRecord.clue_id).where(m.ChannelRecord.channel == self.channel.value)))
        if (eid := db_id(self.enterprise_id, m.Enterprise, field="enterpriseId")) is not None:
            out.append(c.enterprise_id == eid)
        if self.respondent_uscc:
            try:
                out.append(c.respondent_uscc == validate_uscc(self.respondent_uscc, field="respondentUscc"))
            except IdentifierError as exc:
                raise InvalidIdentifier(str(exc), field=exc.field, value=exc.value) from exc
        if (pid := db_id(self.project_id, m.Project, field="projectId")) is not None:
            out.append(c.project_id == pid)
        # China days, as `stats` counts them: a dashboard figure and the list it links to hold the same clues
        lo, hi = period_bounds(self.received_from, self.received_to)
        if lo is not None:
            out.append(c.received_at >= lo)
        if hi is not None:
            out.append(c.received_at < hi)
        lo, hi = period_bounds(self.closed_from, self.closed_to)
        if lo is not None:
            out.append(c.closed_at >= lo)
        if hi is not None:
            out.append(c.closed_at < hi)
        if self.overdue is not None:
            late = overdue_clause(today=today)
            out.append(late if self.overdue else ~late)
        if self.handling_region_code:
            out.append(c.handling_region_code == self.handling_region_code)
        if self.supervised is not None:
            out.append(c.supervision.is_not(None) if self.supervised else c.supervision.is_(None))
        if self.multi_channel is not None:
            multi = select(m.ChannelRecord.clue_id).group_by(m.ChannelRecord.clue_id).having(func.count() > 1)
            out.append(c.id.in_(multi) if self.multi_channel else c.id.not_in(multi))
        if self.search:
            pat = _like(self.search)
            found = [
                c.title.like(pat, escape="\\"),
                c.respondent_name.like(pat, escape="\\"),
                c.complainant_name.like(pat, escape="\\"),
            ]
            if may_unmask and (phone := _phone_term(self.search)):
                # Any channel record of the clue from that number, by its E.164 blocking key (indexed).
                found.append(c.id.in_(select(m.ClueMatchKey.clue_id).where(m.ClueMatchKey.key == phone_key(phone))))
            out.append(or_(*found))
        return out


def _phone_term(search: str) -> str | None:
    """The search term as an E.164 phone number, or None when it is not one (a name, a word)."""
    try:
        return normalise_phone(search, field="search")
    except IdentifierError:
        return None


@strawberry.input(description="Filters on projects.")
class ProjectFilter:
    region_code: str | None = strawberry.field(default=None, description="This region and everything below it.")
    status: str | None = None
    sector: str | None = None
    contractor_id: strawberry.ID | None = None
    project_code: str | None = None
    permit_no: str | None = None
    search: str | None = strawberry.field(default=None, description="Substring of the name or address.")

    def conditions(self) -> list[Any]:
        check_text_lengths(self)
        p = m.Project
        out: list[Any] = region_condition(p.region_code, self.region_code)
        if self.status:
            out.append(p.status == self.status)
        if self.sector:
            out.append(p.sector == self.sector)
        if (cid := db_id(self.contractor_id, m.Enterprise, field="contractorId")) is not None:
            out.append(p.contractor_id == cid)
        if self.project_code:
            out.append(p.project_code == self.project_code)
        if self.permit_no:
            out.append(p.permit_no == self.permit_no)
        if self.search:
            pat = _like(self.search)
            out.append(or_(p.name.like(pat, escape="\\"), p.address.like(pat, escape="\\")))
        return out


@strawberry.input(description="Filters on enterprises.")
class EnterpriseFilter:
    region_code: str | None = strawberry.field(default=None, description="Registered in this region or below.")
    uscc: str | None = None
    kind: str | None = None
    credit_level: str | None = None
    blacklisted: bool | None = None
    search: str | None = strawberry.field(default=None, description="Substring of the name.")

    def conditions(self) -> list[Any]:
        check_text_lengths(self)
        e = m.Enterprise
        out: list[Any] = region_condition(e.region_code, self.region_code)
        if self.uscc:
            try:
                out.append(e.uscc == validate_uscc(self.uscc, field="uscc"))
            except IdentifierError as exc:
                raise InvalidIdentifier(str(exc), field=exc.field, value=exc.value) from exc
        if self.kind:
            out.append(e.kind == self.kind)
        if self.credit_level:
            out.append(e.credit_level == self.credit_level)
        if self.blacklisted is not None:
            out.append(e.blacklisted == self.blacklisted)
        if self.search:
            out.append(e.name.like(_like(self.search), escape="\\"))
        return out


@strawberry.input(description="Filters on warnings.")
class WarningFilter:
    region_code: str | None = None
    rule_code: str | None = None
    level: list[Colour] | None = None
    status: WarningStatus | None = None
    project_id: strawberry.ID | None = None

    def conditions(self) -> list[Any]:
        check_text_lengths(self)
        w = m.Warning
        out: list[Any] = region_condition(w.region_code, self.region_code)
        if self.rule_code:
            out.append(w.rule_code == self.rule_code)
        if self.level:
            out.append(w.level.in_([x.value for x in self.level]))
        if self.status:
            out.append(w.status == self.status.value)
        if (pid := db_id(self.project_id, m.Project, field="projectId")) is not None:
            out.append(w.project_id == pid)
        return out


#: A month as the records carry it (``YYYY-MM``).
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_month(value: str, *, field: str) -> str:
    """``value`` when it is a month (``YYYY-MM``), else ``InvalidInput`` naming the field: a month no record
    can carry is a mistake to tell, not an empty list."""
    if not _MONTH.match(value):
        shown = repr(value) if len(value) <= 20 else "given"
        raise InvalidInput(f"{field} {shown} is not a month (YYYY-MM)", field=field)
    return value


@strawberry.input(description="Filters on pay records.")
class PayrollFilter:
    region_code: str | None = None
    project_id: strawberry.ID | None = None
    pay_month: str | None = strawberry.field(default=None, description="YYYY-MM")
    pay_status: int | None = strawberry.field(
        default=None, description="0 未发放, 20 已发放, 30 发放失败, 40 重新发放中"
    )

    def conditions(self) -> list[Any]:
        check_text_lengths(self)
        r = m.PayrollRecord
        out: list[Any] = region_condition(r.region_code, self.region_code)
        if (pid := db_id(self.project_id, m.Project, field="projectId")) is not None:
            out.append(r.project_id == pid)
        if self.pay_month:
            out.append(r.pay_month == check_month(self.pay_month, field="payMonth"))
        if self.pay_status is not None:
            if not SMALLINT[0] <= self.pay_status <= SMALLINT[1]:  # the column's range: no status lies beyond
                raise InvalidInput(
                    f"payStatus {self.pay_status} is not a pay status: use 0 (未发放), 20 (已发放), 30 (发放失败) "
                    "or 40 (重新发放中)",
                    field="payStatus",
                )
            out.append(r.pay_status == self.pay_status)
        return out
