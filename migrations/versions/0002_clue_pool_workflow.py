"""The clue pool: match keys and features, workflow side paths (督办, 延期, merge), write-back state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:12:07.219189
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The outbox's ids must follow commit order, or a puller that read up to id 11 would never see an id 10
# committed later. On PostgreSQL every statement that inserts events first takes one transaction-scoped
# advisory lock, so event-writing transactions get their ids one after another (SQLite has one writer).
_SERIALISE_EVENTS = """
CREATE OR REPLACE FUNCTION hub_events_in_commit_order() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('hub.events'));
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER events_in_commit_order BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION hub_events_in_commit_order();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_SERIALISE_EVENTS)
    op.create_table('clue_match_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('clue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_record_id'], ['channel_records.id'], name=op.f('fk_clue_match_keys_channel_record_id_channel_records')),
    sa.ForeignKeyConstraint(['clue_id'], ['clues.id'], name=op.f('fk_clue_match_keys_clue_id_clues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clue_match_keys'))
    )
    with op.batch_alter_table('clue_match_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clue_match_keys_channel_record_id'), ['channel_record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clue_match_keys_clue_id'), ['clue_id'], unique=False)
        batch_op.create_index('ix_clue_match_keys_key_received', ['key', 'received_at', 'channel_record_id'], unique=False)

    with op.batch_alter_table('channel_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('match_features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('origin_clue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('writeback_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('writeback_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('writeback_next_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('writeback_done_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_channel_records_writeback_next_at'), ['writeback_next_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_channel_records_origin_clue_id_clues'), 'clues', ['origin_clue_id'], ['id'])

    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('supervision', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('urged_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('extended_days', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('merged_into_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_clues_merged_into_id_clues'), 'clues', ['merged_into_id'], ['id'])



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_in_commit_order ON events; DROP FUNCTION IF EXISTS hub_events_in_commit_order();")
    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_clues_merged_into_id_clues'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('extended_days')
        batch_op.drop_column('urged_count')
        batch_op.drop_column('supervision')
        batch_op.drop_column('project_name')

    with op.batch_alter_table('channel_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_channel_records_origin_clue_id_clues'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_channel_records_writeback_next_at'))
        batch_op.drop_column('writeback_done_at')
        batch_op.drop_column('writeback_next_at')
        batch_op.drop_column('writeback_error')
        batch_op.drop_column('writeback_attempts')
        batch_op.drop_column('origin_clue_id')
        batch_op.drop_column('match_features')

    with op.batch_alter_table('clue_match_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_clue_match_keys_key_received')
        batch_op.drop_index(batch_op.f('ix_clue_match_keys_clue_id'))
        batch_op.drop_index(batch_op.f('ix_clue_match_keys_channel_record_id'))

    op.drop_table('clue_match_keys')
