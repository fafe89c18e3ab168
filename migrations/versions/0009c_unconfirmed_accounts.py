"""Users: a self-registered account waits for its owner to confirm the e-mail address
(registration answers the same for known and new addresses, so the address is proved by a
link); None for every existing account.

Revision ID: 0009c
Revises: 0009b
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


revision = '0009c'
down_revision = '0009b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unconfirmed_since', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('unconfirmed_since')
