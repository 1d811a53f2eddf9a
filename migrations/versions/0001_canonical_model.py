"""canonical model

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 23:46:00.857816
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('api_keys',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('can_unmask', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_prefix'), ['prefix'], unique=False)

    op.create_table('audit_log',
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('principal', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_entity', ['entity_type', 'entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_principal'), ['principal'], unique=False)

    op.create_table('connector_instances',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secrets_enc', sa.Text(), nullable=True),
    sa.Column('schedule_seconds', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('health', sa.String(length=12), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('paused_reason', sa.Text(), nullable=True),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connector_instances')),
    sa.UniqueConstraint('name', name=op.f('uq_connector_instances_name'))
    )
    op.create_table('enterprises',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('short_name', sa.String(length=100), nullable=True),
    sa.Column('legal_representative', sa.String(length=50), nullable=True),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('qualification', sa.String(length=100), nullable=True),
    sa.Column('credit_level', sa.String(length=1), nullable=True),
    sa.Column('blacklisted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('uscc', name=op.f('uq_enterprises_uscc'))
    )
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprises_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_region_code'), ['region_code'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_events_region_id', ['region_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_type'), ['type'], unique=False)

    op.create_table('regions',
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('parent_code', sa.String(length=12), nullable=True),
    sa.ForeignKeyConstraint(['parent_code'], ['regions.code'], name=op.f('fk_regions_parent_code_regions')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_regions'))
    )
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regions_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_regions_parent_code'), ['parent_code'], unique=False)

    op.create_table('users',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('can_unmask', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('credit_ratings',
    sa.Column('enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=1), nullable=False),
    sa.Column('blacklisted', sa.Boolean(), nullable=False),
    sa.Column('blacklisted_until', sa.Date(), nullable=True),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_credit_ratings_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_ratings')),
    sa.UniqueConstraint('enterprise_id', 'year', name='uq_credit_ratings_enterprise_year')
    )
    with op.batch_alter_table('credit_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_ratings_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_ratings_region_code'), ['region_code'], unique=False)

    op.create_table('projects',
    sa.Column('project_code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('sector', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('permit_no', sa.String(length=18), nullable=True),
    sa.Column('permit_date', sa.Date(), nullable=True),
    sa.Column('contract_value', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('contract_signed_on', sa.Date(), nullable=True),
    sa.Column('labour_cost_cycle_days', sa.Integer(), nullable=False),
    sa.Column('labour_cost_ratio', sa.Numeric(precision=6, scale=4), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('planned_end_date', sa.Date(), nullable=True),
    sa.Column('contractor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('builder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['builder_id'], ['enterprises.id'], name=op.f('fk_projects_builder_id_enterprises')),
    sa.ForeignKeyConstraint(['contractor_id'], ['enterprises.id'], name=op.f('fk_projects_contractor_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('permit_no', name=op.f('uq_projects_permit_no')),
    sa.UniqueConstraint('project_code', name=op.f('uq_projects_project_code'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_projects_builder_id'), ['builder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_contractor_id'), ['contractor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_projects_region_id', ['region_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_projects_status'), ['status'], unique=False)

    op.create_table('raw_records',
    sa.Column('connector_instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['connector_instance_id'], ['connector_instances.id'], name=op.f('fk_raw_records_connector_instance_id_connector_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raw_records')),
    sa.UniqueConstraint('source', 'stream', 'source_key', 'payload_hash', name='uq_raw_records_version')
    )
    with op.batch_alter_table('raw_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_raw_records_connector_instance_id'), ['connector_instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_raw_records_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_raw_records_source_key', ['source', 'stream', 'source_key'], unique=False)

    op.create_table('sync_runs',
    sa.Column('connector_instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('full_refresh', sa.Boolean(), nullable=False),
    sa.Column('stats', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['connector_instance_id'], ['connector_instances.id'], name=op.f('fk_sync_runs_connector_instance_id_connector_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs'))
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index('ix_sync_runs_instance_id', ['connector_instance_id', 'id'], unique=False)

    op.create_table('clues',
    sa.Column('clue_no', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('colour', sa.String(length=8), nullable=True),
    sa.Column('handling_region_code', sa.String(length=12), nullable=False),
    sa.Column('sector', sa.String(length=10), nullable=False),
    sa.Column('complainant_name', sa.String(length=50), nullable=True),
    sa.Column('complainant_phone', sa.String(length=20), nullable=True),
    sa.Column('complainant_id_enc', sa.String(length=200), nullable=True),
    sa.Column('complainant_id_hash', sa.String(length=64), nullable=True),
    sa.Column('complainant_id_masked', sa.String(length=18), nullable=True),
    sa.Column('respondent_name', sa.String(length=200), nullable=False),
    sa.Column('respondent_name_norm', sa.String(length=200), nullable=True),
    sa.Column('respondent_uscc', sa.String(length=18), nullable=True),
    sa.Column('respondent_address', sa.String(length=300), nullable=True),
    sa.Column('enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('headcount', sa.Integer(), nullable=True),
    sa.Column('arrears_from', sa.Date(), nullable=True),
    sa.Column('arrears_to', sa.Date(), nullable=True),
    sa.Column('public_opinion', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('conclusion', sa.Text(), nullable=True),
    sa.Column('recovered_amount', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('workers_paid', sa.Integer(), nullable=True),
    sa.Column('satisfaction', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_clues_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_clues_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clues')),
    sa.UniqueConstraint('clue_no', name=op.f('uq_clues_clue_no'))
    )
    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clues_colour'), ['colour'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_complainant_id_hash'), ['complainant_id_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_complainant_phone'), ['complainant_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_handling_region_code'), ['handling_region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_clues_received_id', ['received_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_clues_region_received', ['region_code', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_respondent_name_norm'), ['respondent_name_norm'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_respondent_uscc'), ['respondent_uscc'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_status'), ['status'], unique=False)

    op.create_table('guarantee_deposits',
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('rate', sa.Numeric(precision=6, scale=4), nullable=True),
    sa.Column('deposited_on', sa.Date(), nullable=True),
    sa.Column('guarantee_no', sa.String(length=40), nullable=True),
    sa.Column('issuer', sa.String(length=100), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_guarantee_deposits_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_guarantee_deposits_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guarantee_deposits')),
    sa.UniqueConstraint('guarantee_no', name=op.f('uq_guarantee_deposits_guarantee_no'))
    )
    with op.batch_alter_table('guarantee_deposits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guarantee_deposits_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_guarantee_deposits_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_guarantee_deposits_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_guarantee_deposits_valid_to'), ['valid_to'], unique=False)

    op.create_table('quarantine',
    sa.Column('connector_instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('raw_record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('replayed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['connector_instance_id'], ['connector_instances.id'], name=op.f('fk_quarantine_connector_instance_id_connector_instances')),
    sa.ForeignKeyConstraint(['raw_record_id'], ['raw_records.id'], name=op.f('fk_quarantine_raw_record_id_raw_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_connector_instance_id'), ['connector_instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantine_status'), ['status'], unique=False)

    op.create_table('wage_accounts',
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bank_name', sa.String(length=100), nullable=False),
    sa.Column('bank_code', sa.String(length=12), nullable=True),
    sa.Column('salary_account', sa.String(length=32), nullable=False),
    sa.Column('salary_account_name', sa.String(length=300), nullable=False),
    sa.Column('open_account_date', sa.Date(), nullable=True),
    sa.Column('filed_date', sa.Date(), nullable=True),
    sa.Column('account_balance', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_wage_accounts_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_wage_accounts_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wage_accounts')),
    sa.UniqueConstraint('salary_account', name=op.f('uq_wage_accounts_salary_account'))
    )
    with op.batch_alter_table('wage_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wage_accounts_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_wage_accounts_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_wage_accounts_region_code'), ['region_code'], unique=False)

    op.create_table('workers',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('id_card_type', sa.String(length=4), nullable=False),
    sa.Column('id_number_enc', sa.String(length=200), nullable=False),
    sa.Column('id_number_hash', sa.String(length=64), nullable=False),
    sa.Column('id_number_masked', sa.String(length=18), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('team_sys_no', sa.String(length=40), nullable=True),
    sa.Column('work_type', sa.String(length=20), nullable=True),
    sa.Column('work_role', sa.String(length=10), nullable=True),
    sa.Column('is_team_leader', sa.Boolean(), nullable=False),
    sa.Column('bank_card_enc', sa.String(length=200), nullable=True),
    sa.Column('bank_card_masked', sa.String(length=19), nullable=True),
    sa.Column('bank_code', sa.String(length=12), nullable=True),
    sa.Column('entry_date', sa.Date(), nullable=True),
    sa.Column('exit_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_workers_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_workers_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers')),
    sa.UniqueConstraint('project_id', 'id_number_hash', name='uq_workers_project_person')
    )
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workers_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_workers_id_number_hash'), ['id_number_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_workers_name'), ['name'], unique=False)
        batch_op.create_index('ix_workers_project_id_id', ['project_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_workers_region_code'), ['region_code'], unique=False)

    op.create_table('case_actions',
    sa.Column('clue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('from_region_code', sa.String(length=12), nullable=True),
    sa.Column('to_region_code', sa.String(length=12), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['clues.id'], name=op.f('fk_case_actions_clue_id_clues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_actions'))
    )
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.create_index('ix_case_actions_clue_id', ['clue_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_actions_region_code'), ['region_code'], unique=False)

    op.create_table('channel_records',
    sa.Column('clue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=24), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('raw_record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('complainant_name', sa.String(length=50), nullable=True),
    sa.Column('complainant_phone', sa.String(length=20), nullable=True),
    sa.Column('respondent_name', sa.String(length=200), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('match_rule', sa.String(length=40), nullable=False),
    sa.Column('match_score', sa.Double(), nullable=True),
    sa.Column('writeback_status', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['clues.id'], name=op.f('fk_channel_records_clue_id_clues')),
    sa.ForeignKeyConstraint(['raw_record_id'], ['raw_records.id'], name=op.f('fk_channel_records_raw_record_id_raw_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_records')),
    sa.UniqueConstraint('channel', 'source_id', name='uq_channel_records_source')
    )
    with op.batch_alter_table('channel_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_records_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_channel_records_clue_id'), ['clue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_channel_records_raw_record_id'), ['raw_record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_channel_records_region_code'), ['region_code'], unique=False)

    op.create_table('labor_cost_allocations',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('batch_number', sa.String(length=40), nullable=False),
    sa.Column('bill_date', sa.Date(), nullable=False),
    sa.Column('period_month', sa.String(length=7), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('account_balance', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('payer_name', sa.String(length=200), nullable=True),
    sa.Column('payer_account', sa.String(length=32), nullable=True),
    sa.Column('progress_payment', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['wage_accounts.id'], name=op.f('fk_labor_cost_allocations_account_id_wage_accounts')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_labor_cost_allocations_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_labor_cost_allocations')),
    sa.UniqueConstraint('account_id', 'batch_number', name='uq_allocations_account_batch')
    )
    with op.batch_alter_table('labor_cost_allocations', schema=None) as batch_op:
        batch_op.create_index('ix_allocations_account_date', ['account_id', 'bill_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_labor_cost_allocations_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_labor_cost_allocations_region_code'), ['region_code'], unique=False)

    op.create_table('payroll_records',
    sa.Column('pay_roll_code', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('worker_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('pay_month', sa.String(length=7), nullable=False),
    sa.Column('total_pay_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('actual_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('work_hours', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('balance_date', sa.Date(), nullable=True),
    sa.Column('pay_status', sa.SmallInteger(), nullable=False),
    sa.Column('is_back_pay', sa.Boolean(), nullable=False),
    sa.Column('bank_card_masked', sa.String(length=19), nullable=True),
    sa.Column('batch_number', sa.String(length=40), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['wage_accounts.id'], name=op.f('fk_payroll_records_account_id_wage_accounts')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_payroll_records_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_payroll_records_project_id_projects')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_payroll_records_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payroll_records')),
    sa.UniqueConstraint('pay_roll_code', 'worker_id', name='uq_payroll_code_worker')
    )
    with op.batch_alter_table('payroll_records', schema=None) as batch_op:
        batch_op.create_index('ix_payroll_account_month', ['account_id', 'pay_month'], unique=False)
        batch_op.create_index('ix_payroll_project_id', ['project_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payroll_records_region_code'), ['region_code'], unique=False)
        batch_op.create_index('ix_payroll_worker_month', ['worker_id', 'pay_month'], unique=False)

    op.create_table('warnings',
    sa.Column('rule_code', sa.String(length=8), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('enterprise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('rule_cite', sa.String(length=100), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('clue_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['clues.id'], name=op.f('fk_warnings_clue_id_clues')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_warnings_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_warnings_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warnings')),
    sa.UniqueConstraint('rule_code', 'subject_type', 'subject_id', 'period', name='uq_warnings_rule_subject_period')
    )
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warnings_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_warnings_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_warnings_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_warnings_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_warnings_rule_code'), ['rule_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_warnings_status'), ['status'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warnings_status'))
        batch_op.drop_index(batch_op.f('ix_warnings_rule_code'))
        batch_op.drop_index(batch_op.f('ix_warnings_region_code'))
        batch_op.drop_index(batch_op.f('ix_warnings_project_id'))
        batch_op.drop_index(batch_op.f('ix_warnings_level'))
        batch_op.drop_index(batch_op.f('ix_warnings_enterprise_id'))

    op.drop_table('warnings')
    with op.batch_alter_table('payroll_records', schema=None) as batch_op:
        batch_op.drop_index('ix_payroll_worker_month')
        batch_op.drop_index(batch_op.f('ix_payroll_records_region_code'))
        batch_op.drop_index('ix_payroll_project_id')
        batch_op.drop_index('ix_payroll_account_month')

    op.drop_table('payroll_records')
    with op.batch_alter_table('labor_cost_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_labor_cost_allocations_region_code'))
        batch_op.drop_index(batch_op.f('ix_labor_cost_allocations_project_id'))
        batch_op.drop_index('ix_allocations_account_date')

    op.drop_table('labor_cost_allocations')
    with op.batch_alter_table('channel_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_records_region_code'))
        batch_op.drop_index(batch_op.f('ix_channel_records_raw_record_id'))
        batch_op.drop_index(batch_op.f('ix_channel_records_clue_id'))
        batch_op.drop_index(batch_op.f('ix_channel_records_channel'))

    op.drop_table('channel_records')
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_actions_region_code'))
        batch_op.drop_index('ix_case_actions_clue_id')

    op.drop_table('case_actions')
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workers_region_code'))
        batch_op.drop_index('ix_workers_project_id_id')
        batch_op.drop_index(batch_op.f('ix_workers_name'))
        batch_op.drop_index(batch_op.f('ix_workers_id_number_hash'))
        batch_op.drop_index(batch_op.f('ix_workers_enterprise_id'))

    op.drop_table('workers')
    with op.batch_alter_table('wage_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wage_accounts_region_code'))
        batch_op.drop_index(batch_op.f('ix_wage_accounts_project_id'))
        batch_op.drop_index(batch_op.f('ix_wage_accounts_enterprise_id'))

    op.drop_table('wage_accounts')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_status'))
        batch_op.drop_index(batch_op.f('ix_quarantine_connector_instance_id'))

    op.drop_table('quarantine')
    with op.batch_alter_table('guarantee_deposits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guarantee_deposits_valid_to'))
        batch_op.drop_index(batch_op.f('ix_guarantee_deposits_region_code'))
        batch_op.drop_index(batch_op.f('ix_guarantee_deposits_project_id'))
        batch_op.drop_index(batch_op.f('ix_guarantee_deposits_enterprise_id'))

    op.drop_table('guarantee_deposits')
    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clues_status'))
        batch_op.drop_index(batch_op.f('ix_clues_respondent_uscc'))
        batch_op.drop_index(batch_op.f('ix_clues_respondent_name_norm'))
        batch_op.drop_index('ix_clues_region_received')
        batch_op.drop_index(batch_op.f('ix_clues_region_code'))
        batch_op.drop_index('ix_clues_received_id')
        batch_op.drop_index(batch_op.f('ix_clues_project_id'))
        batch_op.drop_index(batch_op.f('ix_clues_handling_region_code'))
        batch_op.drop_index(batch_op.f('ix_clues_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_clues_deadline'))
        batch_op.drop_index(batch_op.f('ix_clues_complainant_phone'))
        batch_op.drop_index(batch_op.f('ix_clues_complainant_id_hash'))
        batch_op.drop_index(batch_op.f('ix_clues_colour'))

    op.drop_table('clues')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_runs_instance_id')

    op.drop_table('sync_runs')
    with op.batch_alter_table('raw_records', schema=None) as batch_op:
        batch_op.drop_index('ix_raw_records_source_key')
        batch_op.drop_index(batch_op.f('ix_raw_records_region_code'))
        batch_op.drop_index(batch_op.f('ix_raw_records_connector_instance_id'))

    op.drop_table('raw_records')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_projects_status'))
        batch_op.drop_index('ix_projects_region_id')
        batch_op.drop_index(batch_op.f('ix_projects_region_code'))
        batch_op.drop_index(batch_op.f('ix_projects_name'))
        batch_op.drop_index(batch_op.f('ix_projects_contractor_id'))
        batch_op.drop_index(batch_op.f('ix_projects_builder_id'))

    op.drop_table('projects')
    with op.batch_alter_table('credit_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_ratings_region_code'))
        batch_op.drop_index(batch_op.f('ix_credit_ratings_enterprise_id'))

    op.drop_table('credit_ratings')
    op.drop_table('users')
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regions_parent_code'))
        batch_op.drop_index(batch_op.f('ix_regions_level'))

    op.drop_table('regions')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_type'))
        batch_op.drop_index('ix_events_region_id')
        batch_op.drop_index(batch_op.f('ix_events_region_code'))

    op.drop_table('events')
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprises_region_code'))
        batch_op.drop_index(batch_op.f('ix_enterprises_name'))
        batch_op.drop_index(batch_op.f('ix_enterprises_kind'))

    op.drop_table('enterprises')
    op.drop_table('connector_instances')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_principal'))
        batch_op.drop_index('ix_audit_log_entity')

    op.drop_table('audit_log')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_prefix'))

    op.drop_table('api_keys')

