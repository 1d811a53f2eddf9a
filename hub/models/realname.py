"""The real-name platform's (实名制) records beyond the roster itself: teams, site entries and exits, and
daily attendance (保障农民工工资支付条例 第二十八条: nobody works on site without a labour contract and
real-name registration; 第三十一条 ties the wage sheet to the attendance).

The roster is :class:`hub.models.registry.Worker`; these tables hang off it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, IdMixin, RegionScoped, created_at_column


class Team(IdMixin, RegionScoped, Base):
    """A 班组 (work team) of a project, under the enterprise that employs it (``corpCode``)."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("project_id", "team_sys_no", name="uq_teams_project_team"),)

    team_sys_no: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    leader_name: Mapped[str | None] = mapped_column(String(50))
    entry_date: Mapped[dt.date | None] = mapped_column(Date)
    exit_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = created_at_column()


class SiteMovement(IdMixin, RegionScoped, Base):
    """A worker's 进场 (entry) or 退场 (exit) on a project; an exit carries its wage settlement (退场结算).

    ``kind`` is :class:`hub.vocab.MovementKind`. ``settled`` is None on entries; on an exit it says
    whether the worker's wages were settled, with the amount and the day when they were.
    """

    __tablename__ = "site_movements"
    __table_args__ = (
        UniqueConstraint("worker_id", "kind", "moved_on", name="uq_site_movements_worker_kind_day"),
        Index("ix_site_movements_project_day", "project_id", "moved_on"),
    )

    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    moved_on: Mapped[dt.date] = mapped_column(Date)
    settled: Mapped[bool | None]
    settlement_amount: Mapped[Decimal | None]
    settlement_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = created_at_column()


class Attendance(IdMixin, RegionScoped, Base):
    """One worker's attendance on one day (考勤): clock-in and -out times and the device."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("worker_id", "day", name="uq_attendance_worker_day"),
        Index("ix_attendance_project_day", "project_id", "day"),
    )

    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    time_in: Mapped[dt.datetime | None]
    time_out: Mapped[dt.datetime | None]
    device_id: Mapped[str | None] = mapped_column(String(40))
