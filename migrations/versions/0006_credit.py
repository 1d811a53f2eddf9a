"""Credit evidence: administrative penalties (行政处罚) and the arrears blacklist (失信联合惩戒名单).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 07:43:41.161602
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blacklist_entries",
        sa.Column("enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("document_no", sa.String(length=100), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("corrected_on", sa.Date(), nullable=True),
        sa.Column("promise_no", sa.String(length=100), nullable=True),
        sa.Column("removal_reason", sa.Text(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("ended_by", sa.String(length=100), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_blacklist_entries_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blacklist_entries")),
        sa.UniqueConstraint("document_no", name=op.f("uq_blacklist_entries_document_no")),
    )
    with op.batch_alter_table("blacklist_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blacklist_entries_ends_on"), ["ends_on"], unique=False)
        batch_op.create_index("ix_blacklist_entries_enterprise_status", ["enterprise_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_blacklist_entries_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_blacklist_entries_status"), ["status"], unique=False)

    op.create_table(
        "penalties",
        sa.Column("enterprise_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("document_no", sa.String(length=100), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("violation", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_penalties_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_penalties")),
        sa.UniqueConstraint("document_no", name=op.f("uq_penalties_document_no")),
    )
    with op.batch_alter_table("penalties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_penalties_decided_on"), ["decided_on"], unique=False)
        batch_op.create_index("ix_penalties_enterprise_decided", ["enterprise_id", "decided_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_penalties_region_code"), ["region_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("penalties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_penalties_region_code"))
        batch_op.drop_index("ix_penalties_enterprise_decided")
        batch_op.drop_index(batch_op.f("ix_penalties_decided_on"))

    op.drop_table("penalties")
    with op.batch_alter_table("blacklist_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blacklist_entries_status"))
        batch_op.drop_index(batch_op.f("ix_blacklist_entries_region_code"))
        batch_op.drop_index("ix_blacklist_entries_enterprise_status")
        batch_op.drop_index(batch_op.f("ix_blacklist_entries_ends_on"))

    op.drop_table("blacklist_entries")
