"""The migrations are the schema: they build what the models say, and they run both ways."""

import uuid

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from matchmaker import create_app
from matchmaker.extensions import db
from matchmaker.types import render_migration_type

from .conftest import PG_ADMIN_URL, app_config


def test_models_and_migrations_agree(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "render_item": render_migration_type,
        })
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"the models differ from the migrations; add a migration: {diff}"


@pytest.fixture
def empty_database(database_url, tmp_path):
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name = f"matchmaker_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield database_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_upgrade_downgrade_and_upgrade_again(empty_database, tmp_path):
    app = create_app(app_config(empty_database, str(tmp_path)))
    with app.app_context():
        upgrade(revision="heads")
        assert db.session.scalar(sa.text("SELECT count(*) FROM products")) == 5
        db.session.rollback()  # release the read lock before dropping tables
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(revision="heads")
        assert db.session.scalar(sa.text("SELECT count(*) FROM products")) == 5
        db.session.remove()
        db.engine.dispose()
