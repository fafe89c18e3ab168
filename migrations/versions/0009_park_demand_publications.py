"""Demand per business park as published to providers, decided once a day (the disclosure
rule over time, matchmaker/disclosure.py).

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('park_demand_publications',
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('members', sa.Integer(), nullable=True),
    sa.Column('volume', sa.BigInteger(), nullable=True),
    sa.Column('state', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_park_demand_publications_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_park_demand_publications_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('area_id', 'product_id', 'day', name=op.f('pk_park_demand_publications'))
    )


def downgrade():
    op.drop_table('park_demand_publications')
