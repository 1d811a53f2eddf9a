"""The shared clue pool: clues, their channel records, case actions, warnings and credit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, BigId, IdMixin, RegionScoped, created_at_column
from hub.vocab import Channel, ClueStatus, SupervisionLevel, WarningStatus

#: Stored value → Chinese name of each vocabulary (the terms themselves live in ``hub.vocab``).
CHANNELS = Channel.labels()
CLUE_STATUSES = ClueStatus.labels()
SUPERVISION_LEVELS = SupervisionLevel.labels()
WARNING_STATUSES = WarningStatus.labels()


class Clue(IdMixin, RegionScoped, Base):
    """One wage-arrears matter, however many channels it arrived through.

    ``region_code`` is where the arrears happened; ``handling_region_code`` is who works it now.
    ``version`` counts the changes: every action is a compare-and-set on it (``UPDATE … WHERE
    version = :read``), so that of two actions on what each read as the same clue only one wins,
    whatever the database (SQLite takes no lock when reading).
    """

    __tablename__ = "clues"
    __table_args__ = (
        Index("ix_clues_received_id", "received_at", "id"),
        Index("ix_clues_region_received", "region_code", "received_at"),
    )

    clue_no: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # hub.vocab.ClueStatus
    colour: Mapped[str | None] = mapped_column(String(8), index=True)  # hub.vocab.Colour
    handling_region_code: Mapped[str] = mapped_column(String(12), index=True)
    sector: Mapped[str] = mapped_column(String(10))  # 工程建设 / 非工程
    complainant_name: Mapped[str | None] = mapped_column(String(50))
    complainant_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    complainant_id_enc: Mapped[str | None] = mapped_column(String(200))
    complainant_id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    complainant_id_masked: Mapped[str | None] = mapped_column(String(18))
    respondent_name: Mapped[str] = mapped_column(String(200))
    respondent_name_norm: Mapped[str | None] = mapped_column(String(200), index=True)
    respondent_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    respondent_address: Mapped[str | None] = mapped_column(String(300))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    project_name: Mapped[str | None] = mapped_column(String(200))  # as the complaint named it (name or address)
    amount: Mapped[Decimal | None]
    headcount: Mapped[int | None]
    arrears_from: Mapped[dt.date | None] = mapped_column(Date)
    arrears_to: Mapped[dt.date | None] = mapped_column(Date)
    public_opinion: Mapped[bool] = mapped_column(default=False)  # 舆情
    received_at: Mapped[dt.datetime]
    #: The current stage's deadline (hub.deadlines): 签收 / 受理 until accepted, then 办结 / 调查.
    deadline: Mapped[dt.date | None] = mapped_column(Date, index=True)
    #: The deadline was counted across a year with no official holiday schedule (recomputed on load).
    deadline_provisional: Mapped[bool] = mapped_column(default=False, server_default=sa_false(), index=True)
    #: The channel it first arrived through: its deadlines follow that channel's rules (hub.deadlines).
    channel: Mapped[str | None] = mapped_column(String(24))  # hub.vocab.Channel
    request_type: Mapped[str | None] = mapped_column(String(16))  # hub.vocab.RequestType (12345's reflectName)
    #: The channel's own deadline for the clue (12345's deadlineDate), which overrides the table's.
    upstream_deadline: Mapped[dt.date | None] = mapped_column(Date)
    accepted_at: Mapped[dt.datetime | None]  # the first 签收 / 受理 (the stage that follows counts from it)
    #: The last 重办 (hub.workflow.reopen): the last stage counts again from that day.
    reopened_at: Mapped[dt.datetime | None]
    #: The deadline the system last urged (催办) the clue for: one automatic urge per missed deadline.
    urged_deadline: Mapped[dt.date | None] = mapped_column(Date)
    closed_at: Mapped[dt.datetime | None]
    conclusion: Mapped[str | None] = mapped_column(Text)  # 核处结论
    recovered_amount: Mapped[Decimal | None]
    workers_paid: Mapped[int | None]
    satisfaction: Mapped[str | None] = mapped_column(String(16))  # hub.vocab.Satisfaction
    supervision: Mapped[str | None] = mapped_column(String(12))  # hub.vocab.SupervisionLevel
    urged_count: Mapped[int] = mapped_column(default=0, server_default="0")  # 催办: an overdue clue urged once is red
    extended_days: Mapped[int] = mapped_column(default=0, server_default="0")  # working days granted by 延期
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("clues.id"))
    created_at: Mapped[dt.datetime] = created_at_column()
    #: Bumped by every change (the ORM adds ``version = version + 1 … WHERE version = :read``).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class ChannelRecord(IdMixin, RegionScoped, Base):
    """One source record of a clue, with the rule and score that joined it to the clue."""

    __tablename__ = "channel_records"
    __table_args__ = (UniqueConstraint("channel", "source_id", name="uq_channel_records_source"),)

    clue_id: Mapped[int] = mapped_column(ForeignKey("clues.id"), index=True)
    channel: Mapped[str] = mapped_column(String(24), index=True)  # hub.vocab.Channel
    source_id: Mapped[str] = mapped_column(String(64))  # orderNum, platform clue id, ...
    raw_record_id: Mapped[int | None] = mapped_column(ForeignKey("raw_records.id"), index=True)
    received_at: Mapped[dt.datetime]
    complainant_name: Mapped[str | None] = mapped_column(String(50))
    complainant_phone: Mapped[str | None] = mapped_column(String(20))
    respondent_name: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    match_rule: Mapped[str] = mapped_column(String(40))  # new / phone / id_number / uscc+project / name+county / manual
    match_score: Mapped[float | None]
    #: What the matcher compares (hub.matching.Features as a dict): normalised names, phone, project …
    match_features: Mapped[dict[str, Any] | None]
    #: The clue this record belonged to before an operator merged it elsewhere (so a split can restore it).
    origin_clue_id: Mapped[int | None] = mapped_column(ForeignKey("clues.id"))
    writeback_status: Mapped[str | None] = mapped_column(String(16))  # pending / delivering / acknowledged / failing
    writeback_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    writeback_error: Mapped[str | None] = mapped_column(Text)
    writeback_next_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    writeback_done_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()


class ClueMatchKey(Base):
    """A blocking key of a channel record (phone, ID hash, USCC, project, name or address in a county).

    The matcher looks candidates up by ``(key, received_at)`` within its time window; keys follow their
    channel record when an operator merges or splits, so candidates always point at the right clue.
    """

    __tablename__ = "clue_match_keys"
    # Covering (channel_record_id too): PostgreSQL answers the candidate lookup from the index alone
    # (p99 of one match on a 1M-clue pool 12.4 → 5.9 ms, bench/README.md).
    __table_args__ = (Index("ix_clue_match_keys_key_received", "key", "received_at", "channel_record_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160))
    clue_id: Mapped[int] = mapped_column(ForeignKey("clues.id"), index=True)
    channel_record_id: Mapped[int | None] = mapped_column(ForeignKey("channel_records.id"), index=True)
    received_at: Mapped[dt.datetime]


class CaseAction(IdMixin, RegionScoped, Base):
    """Every step taken on a clue: accept, dispatch, return, extend, supervise, close, call back."""

    __tablename__ = "case_actions"
    __table_args__ = (Index("ix_case_actions_clue_id", "clue_id", "id"),)

    clue_id: Mapped[int] = mapped_column(ForeignKey("clues.id"))
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(16))  # hub.vocab.ClueStatus
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_region_code: Mapped[str | None] = mapped_column(String(12))
    to_region_code: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime]


class Warning(IdMixin, RegionScoped, Base):
    """An arrears warning (预警): once per (rule, object, period); resolves when the condition clears.

    Raised, changed and resolved by the rules engine (``hub.rules``); handled by people (acknowledged,
    noted, resolved by hand, marked a false positive). Each step is a ``WarningAction``.
    """

    __tablename__ = "warnings"
    __table_args__ = (
        UniqueConstraint("rule_code", "subject_type", "subject_id", "period", name="uq_warnings_rule_subject_period"),
    )

    rule_code: Mapped[str] = mapped_column(String(8), index=True)  # W01 … W16
    level: Mapped[str] = mapped_column(String(8), index=True)  # hub.vocab.Colour
    subject_type: Mapped[str] = mapped_column(String(20))  # project / wage_account / worker / enterprise / deposit
    subject_id: Mapped[int]
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    period: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16), index=True)  # hub.vocab.WarningStatus
    message: Mapped[str] = mapped_column(Text)
    rule_cite: Mapped[str] = mapped_column(String(100))
    detected_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    clue_id: Mapped[int | None] = mapped_column(ForeignKey("clues.id"))
    #: What the rule measured (days elapsed, amounts, counts …), as the rule's SELECT returned it.
    facts: Mapped[dict[str, Any] | None]
    #: When the warning took its present level (a red one unhandled for N working days escalates).
    level_changed_at: Mapped[dt.datetime | None]
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    #: Who resolved it: ``system`` when its condition cleared, else the principal who closed it by hand.
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    #: Why it was resolved: the fact that cleared it, or the reason given by hand.
    resolution: Mapped[str | None] = mapped_column(Text)
    #: Bumped by every change, the engine's and people's (the ORM adds ``version = version + 1 … WHERE
    #: version = :read``): of two people handling the same warning at once only one wins (CONFLICT).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class WarningAction(IdMixin, RegionScoped, Base):
    """One step in a warning's life: raised, level changed, resolved, reopened (by the engine);
    acknowledged, a 核查 note, resolved by hand, false positive (by people); escalated (预警转线索)."""

    __tablename__ = "warning_actions"
    __table_args__ = (Index("ix_warning_actions_warning_id", "warning_id", "id"),)

    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"))
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    from_level: Mapped[str | None] = mapped_column(String(8))
    to_level: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[dict[str, Any] | None]
    at: Mapped[dt.datetime]


class CreditRating(IdMixin, Base):
    """劳动保障守法诚信等级 (人社部规〔2016〕1号) for one enterprise and year, with its evidence."""

    __tablename__ = "credit_ratings"
    __table_args__ = (UniqueConstraint("enterprise_id", "year", name="uq_credit_ratings_enterprise_year"),)

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    year: Mapped[int]
    level: Mapped[str] = mapped_column(String(1))  # A / B / C
    blacklisted: Mapped[bool] = mapped_column(default=False)
    blacklisted_until: Mapped[dt.date | None] = mapped_column(Date)
    evidence: Mapped[list[Any]]
    rated_at: Mapped[dt.datetime]
    region_code: Mapped[str] = mapped_column(String(12), index=True)
