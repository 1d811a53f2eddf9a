"""Credit evidence and consequences: administrative penalties (行政处罚) and the arrears blacklist.

The ratings themselves (``CreditRating``) live with the clue pool (``hub.models.clues``); the rules
that compute them are ``hub.credit`` (docs/domain.md, "Credit").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, IdMixin, RegionScoped, created_at_column


class Penalty(IdMixin, RegionScoped, Base):
    """An administrative penalty or order (行政处罚 / 责令改正) decided against an enterprise.

    ``region_code`` is the region that issued it (its labour-inspection authority): an inspector
    sees the penalties of their jurisdiction. ``document_no`` (处罚决定书文号) identifies it: entering
    or importing the same number again changes nothing.
    """

    __tablename__ = "penalties"
    __table_args__ = (Index("ix_penalties_enterprise_decided", "enterprise_id", "decided_on"),)

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    document_no: Mapped[str] = mapped_column(String(100), unique=True)
    decided_on: Mapped[dt.date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(24))  # hub.vocab.PenaltyKind
    violation: Mapped[str] = mapped_column(Text)  # free text: may name workers, so masked when read
    amount: Mapped[Decimal | None]
    source: Mapped[str] = mapped_column(String(10))  # hub.vocab.PenaltySource
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at_column()


class BlacklistEntry(IdMixin, RegionScoped, Base):
    """One listing of an enterprise on the 失信联合惩戒名单 (人社部令第45号), with its decision.

    ``region_code`` is the region whose authority decided the listing. It ends on ``ends_on`` (three
    years from ``decided_on``) by itself, or earlier when removed after correction and a credit promise.
    """

    __tablename__ = "blacklist_entries"
    __table_args__ = (Index("ix_blacklist_entries_enterprise_status", "enterprise_id", "status"),)

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    document_no: Mapped[str] = mapped_column(String(100), unique=True)  # 列入决定书文号
    decided_on: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    ends_on: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)  # hub.vocab.BlacklistStatus
    corrected_on: Mapped[dt.date | None] = mapped_column(Date)  # 改正之日
    promise_no: Mapped[str | None] = mapped_column(String(100))  # 信用承诺书 number
    removal_reason: Mapped[str | None] = mapped_column(Text)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at_column()
    ended_by: Mapped[str | None] = mapped_column(String(100))
