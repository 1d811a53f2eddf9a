"""Who and where: enterprises, projects and the workers registered on them (实名制)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Numeric, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, IdMixin, RegionScoped, created_at_column


class Enterprise(IdMixin, Base):
    """An enterprise identified by its 统一社会信用代码 (USCC).

    Enterprises are public registry data, so they are not limited by jurisdiction; their
    ``region_code`` is where they are registered (chars 3–8 of the USCC).
    """

    __tablename__ = "enterprises"

    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    short_name: Mapped[str | None] = mapped_column(String(100))
    legal_representative: Mapped[str | None] = mapped_column(String(50))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    # general_contractor 总包 / subcontractor 分包 / labour_service 劳务 / builder 建设单位
    kind: Mapped[str] = mapped_column(String(24), index=True)
    qualification: Mapped[str | None] = mapped_column(String(100))
    # Current 劳动保障守法诚信等级 (A/B/C), denormalised from the latest CreditRating.
    credit_level: Mapped[str | None] = mapped_column(String(1))
    blacklisted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = created_at_column()


class Project(IdMixin, RegionScoped, Base):
    """A construction project (工程项目), with its permit (施工许可) and contract."""

    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_region_id", "region_code", "id"),)

    project_code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    sector: Mapped[str] = mapped_column(String(10))  # 住建 / 交通 / 水利
    status: Mapped[str] = mapped_column(String(16), index=True)  # in_progress / stopped / completed
    permit_no: Mapped[str | None] = mapped_column(String(18), unique=True)
    permit_date: Mapped[dt.date | None] = mapped_column(Date)
    contract_value: Mapped[Decimal | None]
    contract_signed_on: Mapped[dt.date | None] = mapped_column(Date)
    # How often labour cost is allocated into the 专户 (条例 Art. 24: at least monthly).
    labour_cost_cycle_days: Mapped[int] = mapped_column(default=30)
    labour_cost_ratio: Mapped[Decimal | None] = mapped_column(
        Numeric(6, 4)
    )  # agreed share of progress payments that is labour cost
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    planned_end_date: Mapped[dt.date | None] = mapped_column(Date)
    contractor_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    builder_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    created_at: Mapped[dt.datetime] = created_at_column()


class Worker(IdMixin, RegionScoped, Base):
    """A worker's real-name registration (实名制) on a project.

    The ID number is stored encrypted (``id_number_enc``), with a keyed hash for lookups and a
    masked form for display; it is decrypted only for principals allowed to see it, and audited.
    """

    __tablename__ = "workers"
    __table_args__ = (
        UniqueConstraint("project_id", "id_number_hash", name="uq_workers_project_person"),
        Index("ix_workers_project_id_id", "project_id", "id"),
    )

    name: Mapped[str] = mapped_column(String(50), index=True)
    id_card_type: Mapped[str] = mapped_column(String(4), default="01")  # 01 居民身份证
    id_number_enc: Mapped[str] = mapped_column(String(200))
    id_number_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)  # corpCode
    team_sys_no: Mapped[str | None] = mapped_column(String(40))
    work_type: Mapped[str | None] = mapped_column(String(20))
    work_role: Mapped[str | None] = mapped_column(String(10))  # 管理人员 / 建筑工人
    is_team_leader: Mapped[bool] = mapped_column(default=False)
    bank_card_enc: Mapped[str | None] = mapped_column(String(200))
    bank_card_masked: Mapped[str | None] = mapped_column(String(19))
    bank_code: Mapped[str | None] = mapped_column(String(12))  # 联行号 bankLinkNumber
    entry_date: Mapped[dt.date | None] = mapped_column(Date)
    exit_date: Mapped[dt.date | None] = mapped_column(Date)
    # True once the real-name platform's roster lists the worker; a worker first seen in a bank's pay
    # detail is kept (the pay must not be lost) but is not on the roster, and that is a warning
    # (保障农民工工资支付条例 第二十八条).
    on_roster: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = created_at_column()
