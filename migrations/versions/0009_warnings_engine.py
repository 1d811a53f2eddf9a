"""The warnings engine: what a rule measured, the level history and the handling of a warning.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 07:42:56.559324
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warning_actions",
        sa.Column("warning_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("from_level", sa.String(length=8), nullable=True),
        sa.Column("to_level", sa.String(length=8), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "facts", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(["warning_id"], ["warnings.id"], name=op.f("fk_warning_actions_warning_id_warnings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_actions")),
    )
    with op.batch_alter_table("warning_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warning_actions_region_code"), ["region_code"], unique=False)
        batch_op.create_index("ix_warning_actions_warning_id", ["warning_id", "id"], unique=False)

    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "facts", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )
        batch_op.add_column(sa.Column("level_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.Text(), nullable=True))
        batch_op.alter_column(
            "status", existing_type=sa.VARCHAR(length=12), type_=sa.String(length=16), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=16), type_=sa.VARCHAR(length=12), existing_nullable=False
        )
        batch_op.drop_column("resolution")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("level_changed_at")
        batch_op.drop_column("facts")

    with op.batch_alter_table("warning_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_warning_actions_warning_id")
        batch_op.drop_index(batch_op.f("ix_warning_actions_region_code"))

    op.drop_table("warning_actions")
