"""Products carry their unit symbol in English too (conn., MWh/yr), not only in Dutch.

Revision ID: 0011b
Revises: 0011
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


revision = '0011b'
down_revision = '0011'
branch_labels = None
depends_on = None

ENGLISH = {'fibre': 'conn.', 'shared_heat': 'MWh/yr'}


def upgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_symbol_en', sa.String(length=20), nullable=False,
                                      server_default=''))
    products = sa.table('products', sa.column('code', sa.String), sa.column('unit_symbol_en', sa.String))
    for code, symbol in ENGLISH.items():
        op.execute(products.update().where(products.c.code == code).values(unit_symbol_en=symbol))


def downgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('unit_symbol_en')
