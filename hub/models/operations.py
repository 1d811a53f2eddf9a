"""The registry of named GraphQL operations that front-end teams register (``hub.operations``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from hub.models._base import Base, IdMixin, created_at_column


class RegisteredOperation(IdMixin, Base):
    """One named operation: its document exactly as clients send it, and that text's SHA-256.

    A retired operation keeps its row (the audit log points at it) but is no longer found by its hash,
    so a role in allow-list mode can no longer run it.
    """

    __tablename__ = "registered_operations"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # lowercase hex of the UTF-8 document
    document: Mapped[str] = mapped_column(Text)
    operation_type: Mapped[str] = mapped_column(String(12))  # query / mutation / subscription
    registered_by: Mapped[str] = mapped_column(String(100))  # the principal's name, as in the audit log
    registered_at: Mapped[dt.datetime] = created_at_column()
    retired: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    retired_at: Mapped[dt.datetime | None]
