"""Members' what-ifs stored with the run: computed by the run's job, read by the page.

Runs made before this migration have none (``explained`` false); the members' page shows their
matches without what-ifs and asks for a new run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('match_what_ifs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('extra_pv_kwh', sa.Double(), nullable=True),
    sa.Column('shift_kwh', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['match_runs.id'], name=op.f('fk_match_what_ifs_run_id_match_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_match_what_ifs_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_what_ifs')),
    sa.UniqueConstraint('run_id', 'site_id', name=op.f('uq_match_what_ifs_run_id_site_id'))
    )
    with op.batch_alter_table('match_what_ifs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_what_ifs_site_id'), ['site_id'], unique=False)

    with op.batch_alter_table('match_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('explained', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('match_runs', schema=None) as batch_op:
        batch_op.drop_column('explained')

    with op.batch_alter_table('match_what_ifs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_what_ifs_site_id'))

    op.drop_table('match_what_ifs')
