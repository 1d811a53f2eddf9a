"""The registry of named GraphQL operations (persisted operations): front-end teams register their
documents by name; a role in allow-list mode may run only these, and clients may send only a hash.

Revision ID: 0013_registered_operations
Revises: 0012_warning_version
Create Date: 2026-11-30 14:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_registered_operations"
down_revision: str | None = "0012_warning_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registered_operations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("operation_type", sa.String(length=12), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("retired", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registered_operations")),
        sa.UniqueConstraint("name", name=op.f("uq_registered_operations_name")),
        sa.UniqueConstraint("sha256", name=op.f("uq_registered_operations_sha256")),
    )


def downgrade() -> None:
    op.drop_table("registered_operations")
