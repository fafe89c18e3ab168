"""Province scale: indexes for the filters and joins of the main pages, change counters with
their triggers (exact cached totals), and the fibre progress computed once a day.

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa



revision = '0010'
down_revision = '0005'
branch_labels = None
depends_on = None

# Counter name -> the tables whose changes move it (matchmaker.caching.COUNTED_TABLES then).
COUNTED_TABLES = {'demand': ('demands', 'sites', 'organisations', 'areas')}
EVENTS = ('INSERT', 'UPDATE', 'DELETE')


def bump_statement(dialect, name):
    """A new version that never comes back, not even after a rollback: the next value of a
    sequence (PostgreSQL; sequences are not rolled back), a random 64-bit number (SQLite)."""
    value = "nextval('change_counter_versions')" if dialect == 'postgresql' else "random()"
    return f"UPDATE change_counters SET version = {value} WHERE name = '{name}'"


def trigger_statements(dialect, name, tables):
    """PostgreSQL: a trigger per statement; SQLite: per row (all it has). A batch migration
    that recreates one of these tables on SQLite must create its triggers again."""
    bump = bump_statement(dialect, name)
    if dialect == 'postgresql':
        return [f"CREATE OR REPLACE FUNCTION bump_{name}_counter() RETURNS trigger "
                f"LANGUAGE plpgsql AS $$ BEGIN {bump}; RETURN NULL; END $$",
                *(f"CREATE TRIGGER {table}_{name}_counter AFTER INSERT OR UPDATE OR DELETE "
                  f"OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION "
                  f"bump_{name}_counter()" for table in tables)]
    return [f"CREATE TRIGGER {table}_{name}_counter_{event.lower()} AFTER {event} ON {table} "
            f"BEGIN {bump}; END" for table in tables for event in EVENTS]


def drop_trigger_statements(dialect, name, tables):
    if dialect == 'postgresql':
        return [*(f"DROP TRIGGER IF EXISTS {table}_{name}_counter ON {table}" for table in tables),
                f"DROP FUNCTION IF EXISTS bump_{name}_counter()"]
    return [f"DROP TRIGGER IF EXISTS {table}_{name}_counter_{event.lower()}"
            for table in tables for event in EVENTS]


def upgrade():
    dialect = op.get_bind().dialect.name

    with op.batch_alter_table('demands', schema=None) as batch_op:
        batch_op.create_index('ix_demands_updated_at_id', ['updated_at', 'id'], unique=False)
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index('ix_sites_x_y', ['x', 'y'], unique=False)
    with op.batch_alter_table('address_records', schema=None) as batch_op:
        batch_op.create_index('ix_address_records_x_y', ['x', 'y'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_role_email', ['role', 'email'], unique=False)

    op.create_table('change_counters',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_change_counters'))
    )
    if dialect == 'postgresql':
        op.execute("CREATE SEQUENCE change_counter_versions")
    for name, tables in COUNTED_TABLES.items():
        op.execute(sa.text("INSERT INTO change_counters (name, version) VALUES (:name, 1)")
                   .bindparams(name=name))
        for statement in trigger_statements(dialect, name, tables):
            op.execute(statement)

    with op.batch_alter_table('fibre_regions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tried_on', sa.Date(), nullable=True))
    with op.batch_alter_table('fibre_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settled_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('fibre_publications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fibre_publications_day'), ['day'], unique=False)

    op.create_table('fibre_progress_cache',
    sa.Column('check_id', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['check_id'], ['fibre_checks.id'], name=op.f('fk_fibre_progress_cache_check_id_fibre_checks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('check_id', name=op.f('pk_fibre_progress_cache'))
    )
    op.create_table('fibre_provider_cache',
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=64), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.Column('hidden', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['users.id'], name=op.f('fk_fibre_provider_cache_provider_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('provider_id', name=op.f('pk_fibre_provider_cache'))
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    op.drop_table('fibre_provider_cache')
    op.drop_table('fibre_progress_cache')
    with op.batch_alter_table('fibre_publications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fibre_publications_day'))
    with op.batch_alter_table('fibre_snapshots', schema=None) as batch_op:
        batch_op.drop_column('settled_at')
    with op.batch_alter_table('fibre_regions', schema=None) as batch_op:
        batch_op.drop_column('tried_on')

    for name, tables in COUNTED_TABLES.items():
        for statement in drop_trigger_statements(dialect, name, tables):
            op.execute(statement)
    op.drop_table('change_counters')
    if dialect == 'postgresql':
        op.execute("DROP SEQUENCE IF EXISTS change_counter_versions")

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_role_email')
    with op.batch_alter_table('address_records', schema=None) as batch_op:
        batch_op.drop_index('ix_address_records_x_y')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index('ix_sites_x_y')
    with op.batch_alter_table('demands', schema=None) as batch_op:
        batch_op.drop_index('ix_demands_updated_at_id')
