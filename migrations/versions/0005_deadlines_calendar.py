"""Deadlines by statute: the loaded holiday calendar, and a clue's channel, request type, upstream
deadline, acceptance day, provisional flag and the deadline last urged for.

Existing clues get the channel of their first channel record and the day of their first 签收 / 受理
(from their case actions), so that their stage deadlines count from the right days.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 07:44:20.290487
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_days")),
    )
    with op.batch_alter_table("calendar_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_days_year"), ["year"], unique=False)

    with op.batch_alter_table("clues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline_provisional", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("channel", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("request_type", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("upstream_deadline", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("urged_deadline", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_clues_deadline_provisional"), ["deadline_provisional"], unique=False)

    op.execute(
        "UPDATE clues SET channel = (SELECT r.channel FROM channel_records r WHERE r.clue_id = clues.id "
        "ORDER BY r.received_at, r.id LIMIT 1)"
    )
    op.execute(
        "UPDATE clues SET accepted_at = (SELECT MIN(a.at) FROM case_actions a WHERE a.clue_id = clues.id "
        "AND a.action = 'accept')"
    )


def downgrade() -> None:
    with op.batch_alter_table("clues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clues_deadline_provisional"))
        batch_op.drop_column("urged_deadline")
        batch_op.drop_column("accepted_at")
        batch_op.drop_column("upstream_deadline")
        batch_op.drop_column("request_type")
        batch_op.drop_column("channel")
        batch_op.drop_column("deadline_provisional")

    with op.batch_alter_table("calendar_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_days_year"))

    op.drop_table("calendar_days")
