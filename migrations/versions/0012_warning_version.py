"""Warning handling as compare-and-set on warnings.version: of two people acknowledging or resolving the
same warning at once, one wins and the other is told (CONFLICT), as for clues (0003). And an index on
payroll_records.enterprise_id: an incremental warnings run (W08) finds the people an enterprise paid
without reading all payroll.

Revision ID: 0012_warning_version
Revises: 0011_users_sessions
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_warning_version"
down_revision: str | None = "0011_users_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))

    with op.batch_alter_table("payroll_records", schema=None) as batch_op:
        batch_op.create_index("ix_payroll_enterprise_id", ["enterprise_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payroll_records", schema=None) as batch_op:
        batch_op.drop_index("ix_payroll_enterprise_id")

    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.drop_column("version")
