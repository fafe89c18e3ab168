"""Operations on the web side: health and readiness, request logs with request ids,
fingerprinted static files, ProxyFix, and the scheduled commands as the RQ worker runs them."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from croniter import croniter

from matchmaker import create_app
from matchmaker.audit.models import AuditLog
from matchmaker.audit.services import record
from matchmaker.extensions import db
from matchmaker.fibre.models import FibreSnapshot
from matchmaker.fibre.services import today
from matchmaker.models import utcnow
from matchmaker.ops.requestlog import JsonFormatter
from matchmaker.ops.schedule import SCHEDULE, ScheduledCommandFailed, run_command
from tests.matchmaker.conftest import app_config

CLOSED_PORT = 5319  # in this suite's port range; nothing listens there


def test_health_is_alive_without_the_database_and_ready_checks_it(base_app, client):
    assert client.get("/health").get_data(as_text=True) == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json == {"ready": True, "checks": {"database": "ok", "migrations": "ok",
                                                    "redis": "not used"}}


def test_ready_is_503_when_the_schema_is_behind_the_migrations(client):
    db.session.execute(sa.text("DELETE FROM alembic_version"))  # one row per head
    db.session.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
    db.session.commit()  # a savepoint of the test's transaction: rolled back afterwards
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json["ready"] is False
    migrations = ready.json["checks"]["migrations"]
    assert migrations["status"] == "not at head" and migrations["database"] == ["0001"]
    assert "0001" not in migrations["heads"]


def test_ready_is_503_when_redis_is_unreachable(database_url, tmp_path):
    app = create_app(app_config(database_url, str(tmp_path),
                                REDIS_URL=f"redis://127.0.0.1:{CLOSED_PORT}/0"))
    try:
        ready = app.test_client().get("/ready")
        assert ready.status_code == 503
        assert ready.json["checks"] == {"database": "ok", "migrations": "ok",
                                        "redis": "unreachable"}
    finally:
        with app.app_context():
            db.engine.dispose()


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records
            if r.name == "matchmaker.requests"]


def test_each_request_is_one_json_line_with_its_request_id(client, auth, make, caplog):
    caplog.set_level(logging.INFO, logger="matchmaker.requests")
    member = make.user()
    auth.login(member)
    caplog.clear()
    response = client.get("/dashboard", headers={"X-Request-ID": "proxy-7f3a"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "proxy-7f3a"
    forged = client.get("/dashboard", headers={"X-Request-ID": 'x" "status": 200 <script>'})
    generated = forged.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    first, second = _request_lines(caplog)
    assert first["request_id"] == "proxy-7f3a" and second["request_id"] == generated
    assert {k: first[k] for k in ("method", "path", "status", "user_id")} == {
        "method": "GET", "path": "/dashboard", "status": 200, "user_id": member.id}
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] > 0
    caplog.clear()
    auth.logout()
    client.get("/login")
    assert _request_lines(caplog)[-1]["user_id"] is None


def test_static_files_have_fingerprinted_names_and_long_lifetimes(client):
    page = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.([0-9a-f]{12})\.css)"', page)
    assert css, "the stylesheet link is not fingerprinted"
    with client.get(css.group(1)) as response:
        assert response.status_code == 200 and b"{" in response.data
        assert response.cache_control.immutable and response.cache_control.max_age == 31536000
        with client.get("/static/css/app.css") as plain:
            assert plain.data == response.data and plain.cache_control.max_age == 300
            assert not plain.cache_control.immutable
    assert client.get("/static/css/app.000000000000.css").status_code == 404


@pytest.mark.parametrize("hops", [0, 1])
def test_proxy_headers_count_only_when_proxy_fix_is_on(database_url, tmp_path, hops, caplog):
    caplog.set_level(logging.INFO, logger="matchmaker.requests")
    app = create_app(app_config(database_url, str(tmp_path), PROXY_FIX_HOPS=hops))
    try:
        response = app.test_client().get("/login", headers={
            "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        assert ("Strict-Transport-Security" in response.headers) is bool(hops)
        remote = _request_lines(caplog)[-1]["remote_addr"]
        assert remote == ("203.0.113.9" if hops else "127.0.0.1")
    finally:
        with app.app_context():
            db.engine.dispose()


def test_the_schedule_names_existing_commands_at_valid_times(base_app):
    assert {e.command for e in SCHEDULE} == {"send-mail", "send-reminders", "snapshot-fibre",
                                             "purge"}
    for entry in SCHEDULE:
        assert entry.command in base_app.cli.commands
        assert croniter.is_valid(entry.cron), entry


def test_each_scheduled_command_runs_as_the_worker_runs_it(app, make):
    old = record(None, "test.old", ("organisations", "1"))
    old.at = utcnow() - timedelta(days=4000)
    db.session.commit()
    old_id = old.id
    outputs = {entry.command: run_command(app, entry.command) for entry in SCHEDULE}
    assert "0 herinnering(en)" in outputs["send-reminders"]
    assert "SMTP_HOST" in outputs["send-mail"]
    assert today().isoformat() in outputs["snapshot-fibre"]
    assert db.session.scalar(sa.select(FibreSnapshot.id).where(FibreSnapshot.day == today()))
    assert "1 logboekregels" in outputs["purge"]
    assert db.session.scalar(sa.select(AuditLog.id).where(AuditLog.id == old_id)) is None


def test_a_scheduled_command_that_fails_fails_its_job(app):
    """A user error (exit code 2 on the command line) must fail the RQ job, not pass as done."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from matchmaker.mail.models import MailKind
    from matchmaker.mail.services import queue_mail

    queue_mail("a@example.org", kind=MailKind.REMINDER, dedupe_key="ops:1",
               template="reminder_registration",
               subject="Reminder: registration for %(title)s closes soon", title="Zon",
               campaign=SimpleNamespace(title="Zon", id=1), days=7, link="http://x/1",
               deadline=datetime(2027, 3, 1, 12, tzinfo=UTC), user=None)
    db.session.commit()
    saved = {k: app.config[k] for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_TIMEOUT")}
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=CLOSED_PORT, SMTP_TIMEOUT=2.0)
    try:
        with pytest.raises(ScheduledCommandFailed, match="send-mail: .*127.0.0.1"):
            run_command(app, "send-mail")
    finally:
        app.config.update(saved)
