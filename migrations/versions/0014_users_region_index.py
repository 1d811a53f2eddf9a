"""Users are region-scoped: an administrator lists and manages the users within its jurisdiction, read
through the same range filter as every other region-scoped table, which an index on region_code serves.

Revision ID: 0014_users_region_index
Revises: 0013_registered_operations
Create Date: 2026-11-30 14:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_users_region_index"
down_revision: str | None = "0013_registered_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_region_code"), ["region_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_region_code"))
