"""What the permit / project system (工改) knows beyond the permit: the contract chain, the progress
payments (工程款拨付) and the monthly output value (工程量产值).

保障农民工工资支付条例 第二十四条 ties the labour cost to the progress payments (人工费用 allocated with
each 工程款 at the agreed share); 第三十条 makes the 总包 answer for its 分包's wages, so the chain of who
contracted whom is evidence too.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, IdMixin, RegionScoped, created_at_column


class ProjectContract(IdMixin, RegionScoped, Base):
    """One link of a project's contract chain: ``enterprise`` holds a contract of ``role``
    (:class:`hub.vocab.ContractRole`: 总包 / 专业分包 / 劳务分包) from ``parent`` (the 建设单位 for the 总包)."""

    __tablename__ = "project_contracts"
    __table_args__ = (UniqueConstraint("project_id", "enterprise_id", "role", name="uq_project_contracts_party"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    parent_enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    contract_no: Mapped[str | None] = mapped_column(String(60))
    contract_value: Mapped[Decimal | None]
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = created_at_column()


class ProgressPayment(IdMixin, RegionScoped, Base):
    """A progress payment (工程款拨付) from the builder to the 总包."""

    __tablename__ = "progress_payments"
    __table_args__ = (
        UniqueConstraint("project_id", "payment_no", name="uq_progress_payments_project_no"),
        Index("ix_progress_payments_project_day", "project_id", "paid_on"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    payment_no: Mapped[str] = mapped_column(String(40))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal]
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    created_at: Mapped[dt.datetime] = created_at_column()


class OutputValue(IdMixin, RegionScoped, Base):
    """A project's output value (工程量产值) for one month, as the project reports it."""

    __tablename__ = "output_values"
    __table_args__ = (UniqueConstraint("project_id", "month", name="uq_output_values_project_month"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    amount: Mapped[Decimal]
    reported_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = created_at_column()
