"""Merge the feature heads; e-mail for accounts (password reset); erased organisations.

Revision ID: 0005
Revises: 0002, 0003, 0004
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = ('0002', '0003', '0004')
branch_labels = None
depends_on = None

OLD_KINDS = ('invitation', 'reminder', 'threshold', 'offer', 'decision', 'cancellation',
             'consent')
NEW_KINDS = OLD_KINDS + ('account',)


def _kinds(kinds):
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_mail_kind'), type_='check')
        batch_op.create_check_constraint('mail_kind', sa.text(_kinds(NEW_KINDS)))
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(), nullable=True))


def downgrade():
    op.execute(sa.text("DELETE FROM outbox WHERE kind = 'account'"))
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_mail_kind'), type_='check')
        batch_op.create_check_constraint('mail_kind', sa.text(_kinds(OLD_KINDS)))
