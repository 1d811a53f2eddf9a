"""Clue actions as compare-and-set on clues.version; events reach the clue's handling region too.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handling_region_code', sa.String(length=12), nullable=True))
        batch_op.create_index('ix_events_handling_region_id', ['handling_region_code', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_handling_region_id')
        batch_op.drop_column('handling_region_code')

    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.drop_column('version')
