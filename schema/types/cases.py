"""The clue pool: clues, channel records, case actions, warnings, credit ratings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub import models as m
from hub.identifiers import mask_phone, mask_text
from schema.prefetch import resolve
from schema.types._common import Node, Reveal, node_type, reveal_or_mask
from schema.types.refs import EnterpriseRef, ProjectRef, RawRecordRef, RegionRef


def free_text(type_name: str, attr: str, *, entity_type: str, nullable: bool = True, description: str | None = None) -> Any:
    """A free-text field (a complaint, a summary, a note): people write phones, ID numbers and bank
    cards into it, so it is masked (``hub.identifiers.mask_text``) unless ``reveal`` is asked by a
    principal with the unmask permission, and that read is audited like any other unmasked read."""
    graphql_name = "".join(w.capitalize() if i else w for i, w in enumerate(attr.split("_")))

    def resolve(self, info: Info, reveal: Reveal = False) -> Any:  # type: ignore[no-untyped-def]
        value = getattr(self, attr)
        if value is None:
            return None
        return reveal_or_mask(
            info, reveal=reveal, masked=None, plain=value, mask=mask_text, field=f"{type_name}.{graphql_name}",
            entity_type=entity_type, entity_id=self.id, region_code=self.region_code,
        )

    resolve.__annotations__ = {"info": Info, "reveal": Reveal, "return": str | None if nullable else str}
    return strawberry.field(resolver=resolve, description=f"{description or 'Free text'}; masked unless `reveal` (audited).")


@strawberry.enum(description="A clue's state: 受理 → 分办 → 办理中 → 办结 → 回访, or 退回.")
class ClueStatus(Enum):
    RECEIVED = "received"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    CALLED_BACK = "called_back"
    RETURNED = "returned"
    ESCALATED = "escalated"
    MERGED = "merged"


@strawberry.enum(description="督办 level: SUPERVISED (督办) or LISTED (挂牌督办, major cases).")
class SupervisionLevel(Enum):
    SUPERVISED = "supervised"
    LISTED = "listed"


@strawberry.enum(description="Where a clue came from.")
class Channel(Enum):
    NATIONAL_PLATFORM = "national_platform"
    HOTLINE12345 = "hotline12345"
    HOTLINE12333 = "hotline12333"
    PETITION = "petition"
    WALK_IN = "walk_in"
    SUPERIOR = "superior"
    LEADER = "leader"
    PUBLIC_OPINION = "public_opinion"
    ONLINE = "online"
    GRID = "grid"
    WARNING = "warning"


@strawberry.enum(description="Supervision colour: blue = due within a working day, yellow = overdue, red = serious.")
class Colour(Enum):
    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"


@node_type(m.ChannelRecord, name="ChannelRecord", description="One source record of a clue, and why it was joined to the clue.")
class ChannelRecord(Node):
    source_id: str = strawberry.field(description="The record's id upstream (12345 orderNum, platform clue id …).")
    received_at: dt.datetime
    complainant_name: str | None
    respondent_name: str | None
    summary: str | None = free_text("ChannelRecord", "summary", entity_type="channel_record",
                                    description="The record's text as the channel sent it")
    match_rule: str = strawberry.field(description="new / phone / id_number / uscc+project / name+county / manual")
    match_score: float | None
    writeback_status: str | None = strawberry.field(
        description="Write-back of the outcome to this channel: pending / acknowledged / failing (null: nothing to write back).")
    writeback_attempts: int
    writeback_error: str | None = free_text("ChannelRecord", "writeback_error", entity_type="channel_record",
                                            description="Why the last write-back attempt failed (upstream's words)")
    writeback_next_at: dt.datetime | None = strawberry.field(description="When the next write-back attempt is due.")
    writeback_done_at: dt.datetime | None = strawberry.field(description="When the channel acknowledged the outcome.")
    region_code: str

    @strawberry.field
    def channel(self) -> Channel:
        return Channel(self.channel)  # type: ignore[attr-defined]

    @strawberry.field(description="The channel's Chinese name.")
    def channel_name(self) -> str:
        return m.CHANNELS.get(self.channel, self.channel)  # type: ignore[attr-defined]

    @strawberry.field(description="Complainant phone as the channel sent it, masked unless `reveal` (audited).")
    def complainant_phone(self, info: Info, reveal: Reveal = False) -> str | None:
        if self.complainant_phone is None:  # type: ignore[attr-defined]
            return None
        return reveal_or_mask(
            info, reveal=reveal, masked=None, plain=self.complainant_phone, mask=mask_phone,  # type: ignore[attr-defined]
            field="ChannelRecord.complainantPhone", entity_type="channel_record", entity_id=self.id,  # type: ignore[attr-defined]
            region_code=self.region_code,
        )

    @strawberry.field
    def clue(self, info: Info) -> Clue | None:
        return resolve(info.context.loaders, self, m.ChannelRecord, "clue")

    @strawberry.field(description="The upstream payload as received (archived with its hash).")
    def raw_record(self, info: Info) -> RawRecordRef | None:
        return resolve(info.context.loaders, self, m.ChannelRecord, "rawRecord")


@node_type(m.CaseAction, name="CaseAction", description="A step taken on a clue (dispatch, return, close …).")
class CaseAction(Node):
    action: str
    actor: str
    from_status: str | None
    to_status: str | None
    from_region_code: str | None
    to_region_code: str | None
    note: str | None = free_text("CaseAction", "note", entity_type="case_action", description="The handler's note")
    at: dt.datetime
    region_code: str


@node_type(m.Clue, name="Clue", description="One wage-arrears matter, with every channel it arrived through.")
class Clue(Node):
    clue_no: str
    title: str = free_text("Clue", "title", entity_type="clue", nullable=False, description="The clue's title")
    content: str = free_text("Clue", "content", entity_type="clue", nullable=False, description="The complaint as written")
    handling_region_code: str = strawberry.field(description="The region working the clue now.")
    sector: str = strawberry.field(description="工程建设 / 非工程")
    complainant_name: str | None
    respondent_name: str
    respondent_uscc: str | None
    respondent_address: str | None = free_text("Clue", "respondent_address", entity_type="clue", description="Where the respondent is")
    amount: Decimal | None = strawberry.field(description="Amount in arrears (yuan).")
    headcount: int | None = strawberry.field(description="Workers concerned.")
    arrears_from: dt.date | None
    arrears_to: dt.date | None
    public_opinion: bool = strawberry.field(description="舆情 involved.")
    received_at: dt.datetime
    deadline: dt.date | None = strawberry.field(description="Due date (working days, official holiday calendar).")
    closed_at: dt.datetime | None
    conclusion: str | None = free_text("Clue", "conclusion", entity_type="clue", description="核处结论")
    recovered_amount: Decimal | None
    workers_paid: int | None
    satisfaction: str | None
    project_name: str | None = free_text("Clue", "project_name", entity_type="clue",
                                         description="The project as the complaint named it (name or address)")
    urged_count: int = strawberry.field(description="催办 so far.")
    extended_days: int = strawberry.field(description="Working days of 延期 granted so far.")
    region_code: str = strawberry.field(description="Where the arrears happened.")
    version: int = strawberry.field(description="Counts the changes to the clue: an action that loses a race with "
                                                "another answers CONFLICT; reload to see the new version.")

    @strawberry.field
    def status(self) -> ClueStatus:
        return ClueStatus(self.status)  # type: ignore[attr-defined]

    @strawberry.field(description="督办 level, if supervised.")
    def supervision(self) -> SupervisionLevel | None:
        return SupervisionLevel(self.supervision) if self.supervision else None  # type: ignore[attr-defined]

    @strawberry.field(description="Open and past its deadline.")
    def overdue(self) -> bool:
        from hub.workdays import china_today
        from hub.workflow import is_overdue

        return is_overdue(self, today=china_today())  # type: ignore[arg-type]

    @strawberry.field(description="Working days from today to the deadline (negative when overdue); null when closed.")
    def working_days_left(self) -> int | None:
        from hub.workdays import local_date, working_days_between
        from hub.workflow import OPEN_STATES

        if self.status not in OPEN_STATES or self.deadline is None:  # type: ignore[attr-defined]
            return None
        return working_days_between(local_date(m.utcnow()), self.deadline)  # type: ignore[attr-defined]

    @strawberry.field(description="The clue this one was merged into, if merged.")
    async def merged_into(self, info: Info) -> Clue | None:
        if self.merged_into_id is None:  # type: ignore[attr-defined]
            return None
        return await info.context.loaders.by_id(m.Clue).load(self.merged_into_id)  # type: ignore[attr-defined]

    @strawberry.field(description="Clues in your jurisdiction that the matcher finds alike (within its window), best first, "
                                  "with the rule and score; those at or above the threshold would have been joined.")
    async def similar_clues(self, info: Info, first: int = 5) -> list[SimilarClue]:
        from schema.similar import similar_clues

        return await similar_clues(info, self, first=first)

    @strawberry.field
    def colour(self) -> Colour | None:
        return Colour(self.colour) if self.colour else None  # type: ignore[attr-defined]

    @strawberry.field(description="Complainant phone, masked unless `reveal` (audited).")
    def complainant_phone(self, info: Info, reveal: Reveal = False) -> str | None:
        if self.complainant_phone is None:  # type: ignore[attr-defined]
            return None
        return reveal_or_mask(
            info, reveal=reveal, masked=None, plain=self.complainant_phone, mask=mask_phone,  # type: ignore[attr-defined]
            field="Clue.complainantPhone", entity_type="clue", entity_id=self.id, region_code=self.region_code,  # type: ignore[attr-defined]
        )

    @strawberry.field(description="Complainant 居民身份证号, masked unless `reveal` (audited).")
    def complainant_id_number(self, info: Info, reveal: Reveal = False) -> str | None:
        if self.complainant_id_enc is None:  # type: ignore[attr-defined]
            return None
        return reveal_or_mask(
            info, reveal=reveal, masked=self.complainant_id_masked, encrypted=self.complainant_id_enc,  # type: ignore[attr-defined]
            field="Clue.complainantIdNumber", entity_type="clue", entity_id=self.id, region_code=self.region_code,  # type: ignore[attr-defined]
        )

    @strawberry.field
    def region(self, info: Info) -> RegionRef | None:
        return resolve(info.context.loaders, self, m.Clue, "region")

    @strawberry.field
    def handling_region(self, info: Info) -> RegionRef | None:
        return resolve(info.context.loaders, self, m.Clue, "handlingRegion")

    @strawberry.field(description="The respondent enterprise, when identified.")
    def enterprise(self, info: Info) -> EnterpriseRef | None:
        return resolve(info.context.loaders, self, m.Clue, "enterprise")

    @strawberry.field(description="The project, when identified.")
    def project(self, info: Info) -> ProjectRef | None:
        return resolve(info.context.loaders, self, m.Clue, "project")

    @strawberry.field(description="Every source record of this clue (one per channel record).")
    def channel_records(self, info: Info) -> list[ChannelRecord]:
        return resolve(info.context.loaders, self, m.Clue, "channelRecords")

    @strawberry.field(description="The action history, oldest first.")
    def actions(self, info: Info) -> list[CaseAction]:
        return resolve(info.context.loaders, self, m.Clue, "actions")


@strawberry.type(description="A clue like another one, and how the matcher scores the pair.")
class SimilarClue:
    clue: Clue
    rule: str = strawberry.field(description="The matching rule that applies, or `none` below the threshold.")
    score: float


@node_type(m.Warning, name="Warning", description="An arrears warning (预警), once per rule, object and period.")
class Warning(Node):
    rule_code: str = strawberry.field(description="W01 … W15 (see docs/domain.md, Warnings).")
    level: str = strawberry.field(description="blue / yellow / red")
    subject_type: str
    subject_id: int
    period: str
    status: str = strawberry.field(description="active / resolved / escalated")
    message: str = free_text("Warning", "message", entity_type="warning", nullable=False, description="What the warning found")
    rule_cite: str = strawberry.field(description="The regulation the rule rests on.")
    detected_at: dt.datetime
    resolved_at: dt.datetime | None
    region_code: str

    @strawberry.field
    def project(self, info: Info) -> ProjectRef | None:
        return resolve(info.context.loaders, self, m.Warning, "project")

    @strawberry.field
    def enterprise(self, info: Info) -> EnterpriseRef | None:
        return resolve(info.context.loaders, self, m.Warning, "enterprise")

    @strawberry.field(description="The clue it escalated into, if any.")
    async def clue(self, info: Info) -> Clue | None:
        if self.clue_id is None:  # type: ignore[attr-defined]
            return None
        return await info.context.loaders.by_id(m.Clue).load(self.clue_id)  # type: ignore[attr-defined]


@node_type(m.CreditRating, name="CreditRating", description="劳动保障守法诚信等级 for a year (人社部规〔2016〕1号), with evidence.")
class CreditRating(Node):
    year: int
    level: str = strawberry.field(description="A / B / C")
    blacklisted: bool
    blacklisted_until: dt.date | None
    evidence: JSON = strawberry.field(description="The cases, warnings and penalties the rating rests on.")
    rated_at: dt.datetime
    region_code: str

    @strawberry.field
    async def enterprise(self, info: Info) -> EnterpriseRef | None:
        return await info.context.loaders.by_id(m.Enterprise).load(self.enterprise_id)  # type: ignore[attr-defined]
