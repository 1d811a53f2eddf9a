"""Declarative base, shared column types and the region-scoped mixin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, Numeric, String, TypeDecorator, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Constraint names must be stable across SQLite and PostgreSQL for alembic to compare them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
#: Money in yuan with fen precision.
Money = Numeric(16, 2)
#: JSON documents: JSONB on PostgreSQL.
Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator):
    """Timestamps in UTC, aware on the way out on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones and would hand back naive values, so
    values are stored there as UTC and read back with UTC attached — the API then says
    ``2026-03-04T01:02:03+00:00`` whichever database is behind it. A naive value given to the
    database is taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        int: Integer(),
        Decimal: Money,
        dict[str, Any]: Json,
        list[Any]: Json,
        dt.datetime: UtcDateTime(),
    }


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


class RegionScoped:
    """Rows that belong to a region: every read is limited to the principal's jurisdiction.

    ``region_code`` (GB/T 2260, 6 digits, or 9 for a town) is on every large table so that it can
    also serve as the distribution key when the store is partitioned by province.
    """

    region_code: Mapped[str] = mapped_column(String(12), index=True)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def created_at_column() -> Mapped[dt.datetime]:
    return mapped_column(UtcDateTime(), default=utcnow, server_default=func.now())
