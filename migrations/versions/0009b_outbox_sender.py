"""Outbox: the member organisation that made the service send a message (limits on mail sent
on a member's behalf).

Revision ID: 0009b
Revises: 0009
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


revision = '0009b'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_organisation_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_sender_organisation_id'),
                              ['sender_organisation_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_outbox_sender_organisation_id_organisations'), 'organisations',
            ['sender_organisation_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_sender_organisation_id_organisations'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_sender_organisation_id'))
        batch_op.drop_column('sender_organisation_id')
