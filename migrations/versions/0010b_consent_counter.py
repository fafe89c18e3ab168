"""A change counter for providers' consents: the fibre progress of a provider is computed again
when any consent changes, without reading every consent on each view.

Revision ID: 0010b
Revises: 0010
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


revision = '0010b'
down_revision = '0010'
branch_labels = None
depends_on = None

NAME = 'consents'
TABLES = ('provider_consents',)
EVENTS = ('INSERT', 'UPDATE', 'DELETE')


def upgrade():
    op.execute(sa.text("INSERT INTO change_counters (name, version) VALUES (:name, 1)")
               .bindparams(name=NAME))
    # As in 0010: a version that never comes back, not even after a rollback.
    dialect = op.get_bind().dialect.name
    value = "nextval('change_counter_versions')" if dialect == 'postgresql' else "random()"
    bump = f"UPDATE change_counters SET version = {value} WHERE name = '{NAME}'"
    if dialect == 'postgresql':
        op.execute(f"CREATE OR REPLACE FUNCTION bump_{NAME}_counter() RETURNS trigger "
                   f"LANGUAGE plpgsql AS $$ BEGIN {bump}; RETURN NULL; END $$")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_{NAME}_counter AFTER INSERT OR UPDATE OR DELETE "
                       f"OR TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION "
                       f"bump_{NAME}_counter()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"CREATE TRIGGER {table}_{NAME}_counter_{event.lower()} AFTER {event} "
                           f"ON {table} BEGIN {bump}; END")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{NAME}_counter ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS bump_{NAME}_counter()")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{NAME}_counter_{event.lower()}")
    op.execute(sa.text("DELETE FROM change_counters WHERE name = :name").bindparams(name=NAME))
