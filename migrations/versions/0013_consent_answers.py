"""The owner's answer: through a consent link agreed, declined or "not my building"
(``used_at`` is when; links used before this revision were all consents), and a member
owner's "no" in the service on the participation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('owner_consent_tokens') as batch:
        batch.add_column(sa.Column('answer', sa.String(length=12), nullable=False,
                                   server_default=''))
    op.execute("UPDATE owner_consent_tokens SET answer = 'agreed' WHERE used_at IS NOT NULL")
    with op.batch_alter_table('participations') as batch:
        batch.add_column(sa.Column('owner_answer', sa.String(length=12), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('owner_answer_at', sa.DateTime(),
                                   nullable=True))
        batch.add_column(sa.Column('owner_answer_by', sa.String(length=254), nullable=False,
                                   server_default=''))


def downgrade():
    with op.batch_alter_table('participations') as batch:
        batch.drop_column('owner_answer_by')
        batch.drop_column('owner_answer_at')
        batch.drop_column('owner_answer')
    with op.batch_alter_table('owner_consent_tokens') as batch:
        batch.drop_column('answer')
