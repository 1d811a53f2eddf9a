"""The clue pool: clues, channel records, case actions, warnings, credit ratings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from hub import models as m
from hub.deadlines import StageDeadline as StageRow
from hub.deadlines import stages as stage_deadlines
from hub.identifiers import mask_phone, mask_text
from hub.vocab import (
    Channel,
    ClueStatus,
    Colour,
    CreditLevel,
    DeadlineStage,
    RequestType,
    Satisfaction,
    StageOutcome,
    SupervisionLevel,
    WarningStatus,
)
from hub.workdays import china_today, working_days_between
from hub.workflow import OPEN_STATES, available_actions, is_overdue
from schema import similar
from schema.permissions import principal_of
from schema.prefetch import to_many, to_one
from schema.types._common import Node, Reveal, node_type, plain_type, reveal_or_mask
from schema.types.refs import ClueRef, EnterpriseRef, ProjectRef, RawRecordRef, RegionRef


def free_text(
    type_name: str, attr: str, *, entity_type: str, nullable: bool = True, description: str | None = None
) -> Any:
    """A free-text field (a complaint, a summary, a note): people write phones, ID numbers and bank
    cards into it, so it is masked (``hub.identifiers.mask_text``) unless ``reveal`` is asked by a
    principal with the unmask permission, and that read is audited like any other unmasked read."""
    graphql_name = "".join(w.capitalize() if i else w for i, w in enumerate(attr.split("_")))

    def resolve(parent: strawberry.Parent[Any], info: Info, reveal: Reveal = False) -> Any:
        value = getattr(parent, attr)
        if value is None:
            return None
        return reveal_or_mask(
            info,
            reveal=reveal,
            masked=None,
            plain=value,
            mask=mask_text,
            field=f"{type_name}.{graphql_name}",
            entity_type=entity_type,
            entity_id=parent.id,
            region_code=parent.region_code,
        )

    resolve.__annotations__["return"] = str | None if nullable else str
    return strawberry.field(
        resolver=resolve, description=f"{description or 'Free text'}; masked unless `reveal` (audited)."
    )


# The vocabularies of hub.vocab are the GraphQL enums (strawberry.enum marks the classes in place):
# a term's name is what the API shows, its value what the database stores, so a stored value
# serialises to its name as it is.
strawberry.enum(ClueStatus, description="A clue's state: 受理 → 分办 → 办理中 → 办结 → 回访, or 退回.")
strawberry.enum(SupervisionLevel, description="督办 level: SUPERVISED (督办) or LISTED (挂牌督办, major cases).")
strawberry.enum(Channel, description="Where a clue came from.")
strawberry.enum(
    Colour, description="Supervision colour: blue = due within a working day, yellow = overdue, red = serious."
)
strawberry.enum(Satisfaction, description="The complainant's satisfaction at the call-back (回访).")
strawberry.enum(RequestType, description="What a 12345 caller asked for (reflectName): it sets the answer deadline.")
strawberry.enum(
    DeadlineStage,
    description="A stage with its own deadline: SIGN (签收) and ANSWER (办结) on 12345, ACCEPT (受理) and "
    "INVESTIGATE (调查处理) in labour inspection.",
)
strawberry.enum(
    StageOutcome, description="A stage against its deadline: PENDING, MET (done in time), MISSED (late or overdue)."
)


@plain_type(
    StageRow,
    name="StageDeadline",
    description="One stage of a clue and its deadline, by channel, request type and statute (docs/domain.md).",
)
class StageDeadline:
    stage: DeadlineStage
    provisional: bool = strawberry.field(
        description="Counted across a year with no official holiday schedule: recounted when the year is loaded."
    )
    outcome: StageOutcome
    done_on: dt.date | None = strawberry.field(description="The day the stage was done (accepted, closed).")
    current: bool = strawberry.field(description="The stage the clue is in now (its `deadline`).")
    cite: str = strawberry.field(description="The rule the deadline comes from.")

    @strawberry.field(description="Due date (working days); null until the stage starts (调查 counts from 受理).")
    @staticmethod
    def due_date(parent: strawberry.Parent[StageRow]) -> dt.date | None:
        return parent.due


strawberry.enum(CreditLevel, description="劳动保障守法诚信等级 (人社部规〔2016〕1号): A, B or C.")
strawberry.enum(
    WarningStatus,
    description="A warning's state: ACTIVE, ESCALATED (预警转线索), RESOLVED (its condition cleared, or by hand), "
    "FALSE_POSITIVE (误报).",
)


@node_type(
    m.ChannelRecord, name="ChannelRecord", description="One source record of a clue, and why it was joined to the clue."
)
class ChannelRecord(Node):
    source_id: str = strawberry.field(description="The record's id upstream (12345 orderNum, platform clue id …).")
    received_at: dt.datetime
    complainant_name: str | None
    respondent_name: str | None
    summary: str | None = free_text(
        "ChannelRecord", "summary", entity_type="channel_record", description="The record's text as the channel sent it"
    )
    match_rule: str = strawberry.field(description="new / phone / id_number / uscc+project / name+county / manual")
    match_score: float | None
    writeback_status: str | None = strawberry.field(
        description="Write-back of the outcome to this channel: pending / acknowledged / failing (null: nothing to write back)."
    )
    writeback_attempts: int
    writeback_error: str | None = free_text(
        "ChannelRecord",
        "writeback_error",
        entity_type="channel_record",
        description="Why the last write-back attempt failed (upstream's words)",
    )
    writeback_next_at: dt.datetime | None = strawberry.field(description="When the next write-back attempt is due.")
    writeback_done_at: dt.datetime | None = strawberry.field(description="When the channel acknowledged the outcome.")
    region_code: str
    channel: Channel

    @strawberry.field(description="The channel's Chinese name.")
    @staticmethod
    def channel_name(parent: strawberry.Parent[m.ChannelRecord]) -> str:
        return m.CHANNELS.get(parent.channel, parent.channel)

    @strawberry.field(description="Complainant phone (mobile or landline) in E.164, masked unless `reveal` (audited).")
    @staticmethod
    def complainant_phone(parent: strawberry.Parent[m.ChannelRecord], info: Info, reveal: Reveal = False) -> str | None:
        if parent.complainant_phone is None:
            return None
        return reveal_or_mask(
            info,
            reveal=reveal,
            masked=None,
            plain=parent.complainant_phone,
            mask=mask_phone,
            field="ChannelRecord.complainantPhone",
            entity_type="channel_record",
            entity_id=parent.id,
            region_code=parent.region_code,
        )

    clue = to_one(ClueRef, m.Clue, key="clue_id")
    raw_record = to_one(
        RawRecordRef,
        m.RawRecord,
        key="raw_record_id",
        description="The upstream payload as received (archived with its hash).",
    )


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


@plain_type(
    similar.Similar, name="SimilarClue", description="A clue like another one, and how the matcher scores the pair."
)
class SimilarClue:
    clue: ClueRef
    rule: str = strawberry.field(description="The matching rule that applies, or `none` below the threshold.")
    score: float


@node_type(m.Clue, name="Clue", description="One wage-arrears matter, with every channel it arrived through.")
class Clue(Node):
    clue_no: str
    title: str = free_text("Clue", "title", entity_type="clue", nullable=False, description="The clue's title")
    content: str = free_text(
        "Clue", "content", entity_type="clue", nullable=False, description="The complaint as written"
    )
    handling_region_code: str = strawberry.field(description="The region working the clue now.")
    sector: str = strawberry.field(description="工程建设 / 非工程")
    complainant_name: str | None
    respondent_name: str
    respondent_uscc: str | None
    respondent_address: str | None = free_text(
        "Clue", "respondent_address", entity_type="clue", description="Where the respondent is"
    )
    amount: Decimal | None = strawberry.field(description="Amount in arrears (yuan).")
    headcount: int | None = strawberry.field(description="Workers concerned.")
    arrears_from: dt.date | None
    arrears_to: dt.date | None
    public_opinion: bool = strawberry.field(description="舆情 involved.")
    received_at: dt.datetime
    deadline: dt.date | None = strawberry.field(
        description="The current stage's due date (working days, official holiday calendar; see `deadlines`)."
    )
    deadline_provisional: bool = strawberry.field(
        description="The deadline was counted across a year with no official holiday schedule (weekends and "
        "statutory holidays only): recounted when an admin loads that year."
    )
    closed_at: dt.datetime | None
    conclusion: str | None = free_text("Clue", "conclusion", entity_type="clue", description="核处结论")
    recovered_amount: Decimal | None
    workers_paid: int | None
    satisfaction: str | None
    project_name: str | None = free_text(
        "Clue",
        "project_name",
        entity_type="clue",
        description="The project as the complaint named it (name or address)",
    )
    urged_count: int = strawberry.field(description="催办 so far.")
    extended_days: int = strawberry.field(description="Working days of 延期 granted so far.")
    region_code: str = strawberry.field(description="Where the arrears happened.")
    reopened_at: dt.datetime | None = strawberry.field(
        default=None,
        description="When the clue was last reopened (重办: the complainant not satisfied, or the matter not "
        "solved); its last stage's deadline counts from then.",
    )
    version: int = strawberry.field(
        description="Counts the changes to the clue: an action that loses a race with "
        "another answers CONFLICT; reload to see the new version."
    )

    status: ClueStatus
    supervision: SupervisionLevel | None = strawberry.field(description="督办 level, if supervised.")
    request_type: RequestType | None = strawberry.field(
        description="What the 12345 caller asked for, when the channel says (sets the answer deadline)."
    )

    @strawberry.field(
        graphql_type=list[StageDeadline],
        description="Each stage's deadline by channel, request type and statute, with its outcome today.",
    )
    @staticmethod
    def deadlines(parent: strawberry.Parent[m.Clue]) -> list[StageRow]:
        return stage_deadlines(parent, today=china_today())

    @strawberry.field(description="Open and past its deadline.")
    @staticmethod
    def overdue(parent: strawberry.Parent[m.Clue]) -> bool:
        return is_overdue(parent, today=china_today())

    @strawberry.field(description="Working days from today to the deadline (negative when overdue); null when closed.")
    @staticmethod
    def working_days_left(parent: strawberry.Parent[m.Clue]) -> int | None:
        if parent.status not in OPEN_STATES or parent.deadline is None:
            return None
        return working_days_between(china_today(), parent.deadline)

    @strawberry.field(
        description="The actions (accept, dispatch, return, escalate, extend, supervise, close, record_callback, "
        "merge, split) the clue's state and your role allow now; each is checked again when taken."
    )
    @staticmethod
    def available_actions(parent: strawberry.Parent[m.Clue], info: Info) -> list[str]:
        return available_actions(status=parent.status, role=principal_of(info).role)

    merged_into = to_one(
        ClueRef, m.Clue, key="merged_into_id", description="The clue this one was merged into, if merged."
    )

    @strawberry.field(
        graphql_type=list[SimilarClue],
        description="Clues in your jurisdiction that the matcher finds alike (within its window), best first, "
        "with the rule and score; those at or above the threshold would have been joined.",
    )
    @staticmethod
    async def similar_clues(parent: strawberry.Parent[m.Clue], info: Info, first: int = 5) -> list[similar.Similar]:
        return await similar.similar_clues(info, parent, first=first)

    @strawberry.field
    @staticmethod
    def colour(parent: strawberry.Parent[m.Clue]) -> Colour | None:
        return Colour(parent.colour) if parent.colour else None

    @strawberry.field(description="Complainant phone in E.164 (+86…), masked unless `reveal` (audited).")
    @staticmethod
    def complainant_phone(parent: strawberry.Parent[m.Clue], info: Info, reveal: Reveal = False) -> str | None:
        if parent.complainant_phone is None:
            return None
        return reveal_or_mask(
            info,
            reveal=reveal,
            masked=None,
            plain=parent.complainant_phone,
            mask=mask_phone,
            field="Clue.complainantPhone",
            entity_type="clue",
            entity_id=parent.id,
            region_code=parent.region_code,
        )

    @strawberry.field(description="Complainant 居民身份证号, masked unless `reveal` (audited).")
    @staticmethod
    def complainant_id_number(parent: strawberry.Parent[m.Clue], info: Info, reveal: Reveal = False) -> str | None:
        if parent.complainant_id_enc is None:
            return None
        return reveal_or_mask(
            info,
            reveal=reveal,
            masked=parent.complainant_id_masked,
            encrypted=parent.complainant_id_enc,
            field="Clue.complainantIdNumber",
            entity_type="clue",
            entity_id=parent.id,
            region_code=parent.region_code,
        )

    region = to_one(RegionRef, m.Region, key="region_code", by="code")
    handling_region = to_one(RegionRef, m.Region, key="handling_region_code", by="code")
    enterprise = to_one(
        EnterpriseRef, m.Enterprise, key="enterprise_id", description="The respondent enterprise, when identified."
    )
    project = to_one(ProjectRef, m.Project, key="project_id", description="The project, when identified.")
    channel_records = to_many(
        ChannelRecord, m.ChannelRecord.clue_id, description="Every source record of this clue (one per channel record)."
    )
    actions = to_many(CaseAction, m.CaseAction.clue_id, description="The action history, oldest first.")


@node_type(
    m.WarningAction,
    name="WarningAction",
    description="A step in a warning's life: raised, level changed, resolved, reopened, escalated (by the engine); "
    "acknowledged, noted (核查), resolved by hand, false positive (by people).",
)
class WarningAction(Node):
    action: str = strawberry.field(
        description="raised / level_changed / resolved / reopened / escalated / acknowledged / noted / false_positive"
    )
    actor: str = strawberry.field(description="`system` for the engine, else who did it.")
    from_level: Colour | None
    to_level: Colour | None
    note: str | None = free_text(
        "WarningAction", "note", entity_type="warning_action", description="The note, reason or cleared fact"
    )
    facts: JSON | None = strawberry.field(description="What the rule measured at this step.")
    at: dt.datetime
    region_code: str


@node_type(m.Warning, name="Warning", description="An arrears warning (预警), once per rule, object and period.")
class Warning(Node):
    rule_code: str = strawberry.field(description="W01 … W16 (see docs/domain.md, Warnings).")
    level: str = strawberry.field(description="blue / yellow / red")
    subject_type: str = strawberry.field(description="project / wage_account / worker / enterprise / deposit")
    subject_id: int
    period: str
    status: WarningStatus
    message: str = free_text(
        "Warning", "message", entity_type="warning", nullable=False, description="What the warning found"
    )
    rule_cite: str = strawberry.field(description="The regulation the rule rests on.")
    facts: JSON | None = strawberry.field(description="What the rule measured (days, amounts, counts …).")
    detected_at: dt.datetime
    level_changed_at: dt.datetime | None = strawberry.field(description="When it took its present level.")
    acknowledged_at: dt.datetime | None = strawberry.field(description="When someone took it in hand (签收).")
    acknowledged_by: str | None
    resolved_at: dt.datetime | None
    resolved_by: str | None = strawberry.field(description="`system` when its condition cleared, else who closed it.")
    resolution: str | None = free_text(
        "Warning", "resolution", entity_type="warning", description="The fact that cleared it, or the reason given"
    )
    region_code: str
    version: int = strawberry.field(
        description="Counts the changes to the warning (the engine's and people's): a handling action that "
        "loses a race with another answers CONFLICT; reload to see the new version."
    )

    project = to_one(ProjectRef, m.Project, key="project_id")
    enterprise = to_one(EnterpriseRef, m.Enterprise, key="enterprise_id")
    clue = to_one(Clue, m.Clue, key="clue_id", description="The clue it escalated into, if any.")
    history = to_many(
        WarningAction,
        m.WarningAction.warning_id,
        description="Every step: level changes, notes, resolution, oldest first.",
    )


@node_type(
    m.CreditRating,
    name="CreditRating",
    description="劳动保障守法诚信等级 for a year (人社部规〔2016〕1号), with evidence.",
)
class CreditRating(Node):
    year: int
    level: CreditLevel = strawberry.field(description="A / B / C")
    blacklisted: bool
    blacklisted_until: dt.date | None
    evidence: JSON = strawberry.field(description="The cases, warnings and penalties the rating rests on.")
    rated_at: dt.datetime
    region_code: str

    enterprise = to_one(EnterpriseRef, m.Enterprise, key="enterprise_id")
