"""Backup and restore: a round trip keeps every row of every table, across databases too."""

import uuid

import psycopg
import pytest
from flask_migrate import upgrade

from matchmaker import create_app
from matchmaker.backup import backup, restore, table_snapshot
from matchmaker.database import write_intent
from matchmaker.demo import load_demo
from matchmaker.errors import ServiceError
from matchmaker.extensions import db

from .conftest import PG_ADMIN_URL, Cli, app_config


def fresh_app(kind, tmp_path, name):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    else:
        database = f"matchmaker_bak_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] \
            + "/" + database
    app = create_app(app_config(url, str(tmp_path / name)))
    with app.app_context():
        upgrade(revision="heads")
    return app, url


def drop(url):
    if url.startswith("postgresql"):
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.mark.parametrize("source, target", [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_round_trip_keeps_every_table(source, target, tmp_path):
    origin, origin_url = fresh_app(source, tmp_path, "origin")
    copy, copy_url = fresh_app(target, tmp_path, "copy")
    archive = tmp_path / "backup.zip"
    try:
        with origin.app_context(), write_intent():
            load_demo()
            db.session.commit()
            before = table_snapshot()
            counts = backup(archive)
            db.session.remove()
            db.engine.dispose()
        assert counts["organisations"] > 100 and counts["address_records"] > 1000
        assert counts["matches"] > 0 and counts["outbox"] > 0 and counts["fibre_snapshots"] > 0
        result = Cli(copy).invoke("restore", str(archive), "--yes")
        assert result.exit_code == 0, result.output
        with copy.app_context():
            after = table_snapshot()
            assert after.keys() == before.keys()
            for name in before:
                assert after[name] == before[name], f"table {name} differs after restore"
            # New rows continue after the restored ids (PostgreSQL sequences are reset).
            from shapely.geometry import box

            from matchmaker.register.models import Area
            with write_intent():
                area = Area(name="Nieuw", kind="park")
                area.geometry = box(233000, 556000, 233100, 556100)
                db.session.add(area)
                db.session.commit()
            assert area.id > max(a["id"] for a in before["areas"])
            db.session.remove()
            db.engine.dispose()
    finally:
        drop(origin_url)
        drop(copy_url)


def test_restore_refuses_foreign_files_and_asks_for_confirmation(app, tmp_path, runner):
    not_a_backup = tmp_path / "photo.zip"
    not_a_backup.write_bytes(b"PK not really")
    with pytest.raises(ServiceError):
        restore(not_a_backup)
    archive = tmp_path / "b.zip"
    assert runner.invoke("backup", str(archive)).exit_code == 0
    unconfirmed = runner.invoke("restore", str(archive))
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
