"""The owner's answer through a consent link: agreed, declined or "not my building"
(``used_at`` is when). Links used before this revision were all consents.

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


def downgrade():
    with op.batch_alter_table('owner_consent_tokens') as batch:
        batch.drop_column('answer')
