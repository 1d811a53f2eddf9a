"""The region hierarchy (GB/T 2260 行政区划代码)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base


class Region(Base):
    """A province, city, county or town. Its ancestors are the prefixes of its code."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(10), index=True)  # province / city / county / town
    kind: Mapped[str | None] = mapped_column(String(20))  # 省 / 地级市 / 市辖区 / 县 / 县级市 ...
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
