"""Money: the wage special account (专户), labour-cost allocations, payroll and deposits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Numeric, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, IdMixin, RegionScoped, created_at_column


class WageAccount(IdMixin, RegionScoped, Base):
    """A project's 农民工工资专用账户 (条例 Art. 26; 人社部发〔2021〕53号)."""

    __tablename__ = "wage_accounts"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    bank_name: Mapped[str] = mapped_column(String(100))
    bank_code: Mapped[str | None] = mapped_column(String(12))  # 联行号
    salary_account: Mapped[str] = mapped_column(String(32), unique=True)
    salary_account_name: Mapped[str] = mapped_column(String(300))
    open_account_date: Mapped[dt.date | None] = mapped_column(Date)
    filed_date: Mapped[dt.date | None] = mapped_column(Date)  # 备案
    account_balance: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open / frozen / closed
    created_at: Mapped[dt.datetime] = created_at_column()


class LaborCostAllocation(IdMixin, RegionScoped, Base):
    """Labour cost (人工费用) received into the 专户: an income bill (billType 1) from the builder."""

    __tablename__ = "labor_cost_allocations"
    __table_args__ = (
        UniqueConstraint("account_id", "batch_number", name="uq_allocations_account_batch"),
        Index("ix_allocations_account_date", "account_id", "bill_date"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("wage_accounts.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    batch_number: Mapped[str] = mapped_column(String(40))
    bill_date: Mapped[dt.date] = mapped_column(Date)
    period_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM the allocation is for
    amount: Mapped[Decimal]
    account_balance: Mapped[Decimal | None]  # balance after the bill
    payer_name: Mapped[str | None] = mapped_column(String(200))
    payer_account: Mapped[str | None] = mapped_column(String(32))
    progress_payment: Mapped[Decimal | None]  # the progress payment it belongs to (for ratio checks)
    created_at: Mapped[dt.datetime] = created_at_column()


class AccountExpense(IdMixin, RegionScoped, Base):
    """Money leaving the 专户: an expense bill (billType 2), wages paid out (actionType 1) or a transfer
    (actionType 2), with its counterparty. The 专户 may pay only the project's workers (人社部发〔2021〕53号),
    so a transfer out is itself worth a look; the counterparty's account is personal data when it is a
    worker's card: stored encrypted, shown masked."""

    __tablename__ = "account_expenses"
    __table_args__ = (
        UniqueConstraint("account_id", "batch_number", name="uq_account_expenses_account_batch"),
        Index("ix_account_expenses_account_date", "account_id", "bill_date"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("wage_accounts.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    batch_number: Mapped[str] = mapped_column(String(40))
    bill_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal]
    action: Mapped[str] = mapped_column(String(10))  # hub.vocab.ExpenseAction (actionType 1 wages / 2 transfer)
    account_balance: Mapped[Decimal | None]  # balance after the bill
    counterparty_name: Mapped[str | None] = mapped_column(String(200))
    counterparty_account_enc: Mapped[str | None] = mapped_column(String(200))
    counterparty_account_masked: Mapped[str | None] = mapped_column(String(32))
    purpose: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = created_at_column()


class PayrollRecord(IdMixin, RegionScoped, Base):
    """One worker's pay for one month (代发 from the 专户), as the bank's pay detail reports it.

    ``pay_status``: 0 未发放, 20 已发放, 30 发放失败, 40 重新发放中.
    """

    __tablename__ = "payroll_records"
    __table_args__ = (
        UniqueConstraint("pay_roll_code", "worker_id", name="uq_payroll_code_worker"),
        Index("ix_payroll_project_id", "project_id", "id"),
        Index("ix_payroll_worker_month", "worker_id", "pay_month"),
        Index("ix_payroll_account_month", "account_id", "pay_month"),
        # An incremental warnings run finds the people an enterprise paid (W08) without reading all payroll.
        Index("ix_payroll_enterprise_id", "enterprise_id"),
    )

    pay_roll_code: Mapped[str] = mapped_column(String(40))  # the wage sheet (工资册) number
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("wage_accounts.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    pay_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    total_pay_amount: Mapped[Decimal]  # 应发
    actual_amount: Mapped[Decimal]  # 实发
    days: Mapped[int | None]
    work_hours: Mapped[Decimal | None]
    balance_date: Mapped[dt.date | None] = mapped_column(Date)
    pay_status: Mapped[int] = mapped_column(SmallInteger)
    is_back_pay: Mapped[bool] = mapped_column(default=False)
    bank_card_masked: Mapped[str | None] = mapped_column(String(19))
    batch_number: Mapped[str | None] = mapped_column(String(40))


class GuaranteeDeposit(IdMixin, RegionScoped, Base):
    """工资保证金 (人社部发〔2021〕65号): cash, or a bank guarantee letter (保函) / insurance."""

    __tablename__ = "guarantee_deposits"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # cash / bank_guarantee / insurance
    amount: Mapped[Decimal]
    rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))  # share of the contract value
    deposited_on: Mapped[dt.date | None] = mapped_column(Date)
    guarantee_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    issuer: Mapped[str | None] = mapped_column(String(100))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active / used / refunded / exempt
    created_at: Mapped[dt.datetime] = created_at_column()
