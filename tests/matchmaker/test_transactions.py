"""One transaction per request: a refusal that a view catches still rolls back."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect

from matchmaker import create_app
from matchmaker.audit.models import AuditLog
from matchmaker.audit.services import record
from matchmaker.errors import N_, ServiceError
from matchmaker.extensions import db

from .conftest import app_config, new_database


def _flush_then(refuse: bool) -> None:
    """A service that writes an audit entry, flushes, and then (maybe) refuses."""
    record(None, "test.step", ("probe", 1), note="flushed before the refusal")
    db.session.flush()
    if refuse:
        raise ServiceError(N_("Enter a number."))


def test_a_caught_refusal_rolls_back_what_was_flushed(database_url, tmp_path):
    with new_database(database_url, tmp_path, "refusal") as url:
        app = create_app(app_config(url, str(tmp_path)))
        probe = Blueprint("probe", __name__)

        @probe.post("/probe/<any(refuse,succeed):how>")
        def step(how: str):  # the pattern of many views: catch, flash, redirect (302)
            try:
                _flush_then(how == "refuse")
            except ServiceError:
                return redirect("/")
            return redirect("/")

        app.register_blueprint(probe)
        app.config["WTF_CSRF_ENABLED"] = False
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(revision="heads")
        client = app.test_client()
        assert client.post("/probe/refuse").status_code == 302
        assert client.post("/probe/succeed").status_code == 302
        with app.app_context():
            kept = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                                     .where(AuditLog.action == "test.step"))
            db.session.remove()
            db.engine.dispose()
        assert kept == 1  # the successful request's entry only
