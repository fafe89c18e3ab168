"""Group buys have a bidding deadline that suppliers see.

Revision ID: 0011c
Revises: 0011b
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


revision = '0011c'
down_revision = '0011b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bidding_deadline', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('bidding_deadline')
