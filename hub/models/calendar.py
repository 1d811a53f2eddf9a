"""The official holiday calendar as loaded by an admin: one row per exception to Monday–Friday."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base


class CalendarDay(Base):
    """A day of a loaded year's official schedule (国务院办公厅 notice): a holiday (``is_workday`` false)
    or an adjusted workday (调休, true). Days not listed follow Monday–Friday; a year with rows here
    overrides the ``chinesecalendar`` package and the statutory days (hub.workdays). National: no region.
    """

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    is_workday: Mapped[bool]
    name: Mapped[str | None] = mapped_column(String(40))  # 春节, 国庆节 … as the notice says
    source: Mapped[str] = mapped_column(String(200))  # the notice (国办发明电〔2026〕N号) or the file loaded
    loaded_at: Mapped[dt.datetime]
    loaded_by: Mapped[str] = mapped_column(String(100))
