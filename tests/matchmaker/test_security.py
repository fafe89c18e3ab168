"""Sessions, password reset, recent login, rate limits, headers and the deployment check."""

import re

import pytest
import sqlalchemy as sa

from matchmaker import create_app
from matchmaker.auth.models import Role, User
from matchmaker.config import DEFAULT_SECRET_KEY
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind, Outbox
from matchmaker.security import deploy_findings, secure_enough

from .conftest import PASSWORD, app_config


def reset_link(user):
    mail = db.session.scalar(sa.select(Outbox).where(Outbox.kind == MailKind.ACCOUNT,
                                                      Outbox.recipient == user.email)
                             .order_by(Outbox.id.desc()))
    return re.search(r"http://[^\s]+/password/reset/(\S+)", mail.body_text).group(1)


def test_password_reset_link_works_once_and_ends_other_sessions(app, make, auth, client):
    user = make.user(Role.MEMBER)
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": PASSWORD})
    response = client.post("/password/forgot", data={"email": user.email.upper()})
    assert response.status_code == 302
    unknown = client.post("/password/forgot", data={"email": "nobody@example.org"})
    assert unknown.status_code == 302  # the same answer: no account enumeration
    token = reset_link(user)
    assert client.post(f"/password/reset/{token}", data={
        "new_password": "Glasvezel-Assen-9", "new_password_confirm": "Glasvezel-Assen-9",
    }).status_code == 302
    assert other.get("/dashboard").status_code == 302  # the other session has ended
    assert auth.login(user, "Glasvezel-Assen-9").status_code == 302
    auth.logout()
    reused = client.post(f"/password/reset/{token}", data={
        "new_password": "Nog-een-keer-77", "new_password_confirm": "Nog-een-keer-77"})
    assert reused.status_code == 302 and "/password/forgot" in reused.headers["Location"]
    assert auth.login(user, "Nog-een-keer-77").status_code == 422
    tampered = client.get(f"/password/reset/{token[:-2]}xx")
    assert "/password/forgot" in tampered.headers["Location"]


def test_sensitive_actions_ask_for_the_password_again_after_a_while(make, auth, client):
    coordinator = make.user(Role.COORDINATOR)
    auth.login(coordinator)
    assert client.get("/coordinator/demand.csv").status_code == 200
    with client.session_transaction() as session:
        session["auth_at"] = 0  # logged in long ago
    response = client.get("/coordinator/demand.csv")
    assert response.status_code == 302 and "/reauthenticate" in response.headers["Location"]
    wrong = client.post(response.headers["Location"], data={"password": "nope"})
    assert wrong.status_code == 422
    right = client.post(response.headers["Location"], data={"password": PASSWORD})
    assert right.headers["Location"].startswith("/coordinator/demand.csv")
    assert client.get("/coordinator/demand.csv").status_code == 200


def test_changing_the_email_needs_a_recent_login_and_ends_other_sessions(app, make, auth,
                                                                        client):
    user = make.user(Role.MEMBER)
    auth.login(user)
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as session:
        session["auth_at"] = 0
    stale = client.post("/account", data={"account-name": "A", "account-email": "a@x.example",
                                           "account-locale": "nl"})
    assert "/reauthenticate" in stale.headers["Location"]
    client.post("/reauthenticate", data={"password": PASSWORD})
    changed = client.post("/account", data={"account-name": "A", "account-email": "A@X.example",
                                             "account-locale": "nl"})
    assert changed.status_code == 302
    # The new address is the user's only once its owner opens the link sent there.
    assert db.session.get(User, user.id).email != "a@x.example"
    mail = db.session.scalar(sa.select(Outbox).where(Outbox.recipient == "a@x.example"))
    link = re.search(r"http://[^\s]+(/confirm/\S+)", mail.body_text).group(1)
    assert client.post(link).status_code == 302
    assert db.session.get(User, user.id).email == "a@x.example"
    assert client.get("/dashboard").status_code == 200
    assert other.get("/dashboard").status_code == 302
    assert client.post(link).status_code == 400  # the link worked once


@pytest.fixture(params=["memory://", "redis://127.0.0.1:6379/14"])
def rate_limited_app(request, database_url, tmp_path):
    """An app with rate limits on, counting in memory (the embedded default) and in Redis (with
    several workers). The limiter is one object shared by every app in this process, so it is
    switched off and emptied again afterwards."""
    from matchmaker.extensions import limiter

    app = create_app(app_config(database_url, str(tmp_path), RATELIMIT_ENABLED=True,
                                RATELIMIT_STORAGE_URI=request.param))
    try:
        yield app
    finally:
        limiter.reset()
        limiter.enabled = False
        with app.app_context():
            db.engine.dispose()


def test_login_is_rate_limited_before_the_cpu_saturates(rate_limited_app):
    client = rate_limited_app.test_client()
    statuses = [client.post("/login", data={"email": "x@example.org", "password": "guess-1234"}
                            ).status_code for _ in range(12)]
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]
    assert "Te veel" in client.post("/login", data={}).get_data(as_text=True)


def test_the_sixth_registration_within_a_minute_keeps_what_was_typed(rate_limited_app):
    client = rate_limited_app.test_client()
    typed = {"email": "eigenaar@bakkerij.example", "name": "Anna de Vries",
             "organisation_name": "Bakkerij De Korenbloem", "kvk_number": "12345678",
             "password": "kort", "password_confirm": "kort"}
    statuses = [client.post("/register", data=typed).status_code for _ in range(6)]
    assert statuses[:5] == [422] * 5 and statuses[5] == 429
    page = client.post("/register", data=typed).get_data(as_text=True)
    assert "Te veel aanmeldingen" in page
    for value in ("eigenaar@bakkerij.example", "Anna de Vries", "Bakkerij De Korenbloem",
                  "12345678"):
        assert f'value="{value}"' in page


def test_pages_carry_strict_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here
    secure = client.get("/login", base_url="https://energie.example")
    assert "max-age=" in secure.headers["Strict-Transport-Security"]
    html = response.get_data(as_text=True)
    assert "<script>" not in html and ' style="' not in html  # nothing inline for the CSP
    # The icon comes from our own origin too (no request for a missing /favicon.ico).
    icon = re.search(r'<link rel="icon" href="([^"]+)"', html).group(1)
    with client.get(icon) as served:
        assert served.status_code == 200 and served.mimetype == "image/svg+xml"


def test_every_template_avoids_inline_scripts_and_styles():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.html")
                 if not p.name.startswith("layout") and (
                     re.search(r"<script(?![^>]*\bsrc=)", p.read_text())
                     or re.search(r'\sstyle="', p.read_text()))]
    assert offenders == []


def test_json_in_attributes_is_quoted_so_that_scripts_can_read_it():
    """``|tojson`` escapes ``'`` but not ``"``: JSON lives in single-quoted attributes only."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = [f"{p.relative_to(root)}: {m.group(0)}" for p in root.rglob("*.html")
                 for m in re.finditer(r'=\s*"\{\{[^}]*\btojson\b[^}]*\}\}"', p.read_text())]
    assert offenders == []


def test_deploy_check_flags_the_default_and_passes_a_hardened_setup(app, monkeypatch, runner):
    default = deploy_findings(dict(app.config) | {
        "SECRET_KEY": DEFAULT_SECRET_KEY, "SQLALCHEMY_DATABASE_URI": "sqlite:///instance/x.db",
    }, workers=4)
    assert not secure_enough(default)
    messages = " ".join(f.message for f in default)
    for word in ("SECRET_KEY", "SQLite", "memory", "Secure", "https"):
        assert word in messages
    hardened = dict(app.config) | {
        "SECRET_KEY": "k7Qm2vX9pLw4Zr8Tn3Jd6Hs1Fy5Bc0Ga", "DEMO_MODE": False, "DEBUG": False,
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://app@db/matchmaker",
        "RATELIMIT_STORAGE_URI": "redis://redis:6379/0", "SESSION_COOKIE_SECURE": True,
        "REMEMBER_COOKIE_SECURE": True, "BASE_URL": "https://energie.example",
        "SMTP_HOST": "smtp.example", "JOB_QUEUE": "rq",
    }
    assert deploy_findings(hardened, workers=4, workers_setting="4") == []
    result = runner.invoke("check", "--deploy")
    assert result.exit_code == 1 and "SECRET_KEY" in result.output
    # Keys that only look long enough, and a worker count that is no number (issue 13).
    for weak in (" " * 32, "x" * 48, "\t" + hardened["SECRET_KEY"] + "\n", "ab" * 20):
        found = deploy_findings(hardened | {"SECRET_KEY": weak}, workers=4, workers_setting="4")
        assert [f.message.split(" ")[0] for f in found] == ["SECRET_KEY"], repr(weak)
    for setting in ("abc", "0", "-2", "2.5", ""):
        found = deploy_findings(hardened, workers=1, workers_setting=setting)
        assert [f.params for f in found] == [{"value": setting}], setting
    monkeypatch.setenv("WEB_CONCURRENCY", "abc")
    result = runner.invoke("check", "--deploy")
    assert result.exit_code == 1 and "WEB_CONCURRENCY is 'abc'" in result.output


def test_behind_a_proxy_the_app_uses_the_forwarded_client(base_app, database_url, tmp_path):
    """With MATCHMAKER_PROXY_FIX=1 (issue 13, class 7): HSTS, redirects back to our own pages
    and the per-client rate limits (login, and the API for unknown tokens) all use what the
    TLS proxy forwarded."""
    from matchmaker.extensions import db as database
    from matchmaker.extensions import limiter

    app = create_app(app_config(database_url, str(tmp_path), PROXY_FIX_HOPS=1,
                                RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://",
                                API_RATE_LIMIT="3 per minute"))
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "energie.example"}

    def client_at(address):
        return {**proxy, "X-Forwarded-For": address}

    try:
        client = app.test_client()
        page = client.get("/login", headers=client_at("203.0.113.1"))
        assert "Strict-Transport-Security" in page.headers
        back = client.post("/language", data={"lang": "en"}, headers={
            **client_at("203.0.113.1"), "Referer": "https://energie.example/login"})
        assert back.headers["Location"] == "https://energie.example/login"
        wrong = {"email": "nobody@example.org", "password": "x" * 12}
        statuses = [client.post("/login", data=wrong, headers=client_at("203.0.113.1")
                                ).status_code for _ in range(11)]
        assert statuses[:10] == [422] * 10 and statuses[10] == 429
        other = client.post("/login", data=wrong, headers=client_at("203.0.113.2"))
        assert other.status_code == 422  # another client behind the same proxy
        # Guessing API tokens: every guess counts against the client, not a fresh token bucket.
        guesses = [client.get("/api/v1/checks", headers={
            **client_at("198.51.100.7"), "Authorization": f"Bearer mmf_guess{n}"}).status_code
            for n in range(4)]
        assert guesses == [401, 401, 401, 429]
        assert client.get("/api/v1/checks", headers=client_at("198.51.100.7")).status_code == 429
        assert client.get("/api/v1/checks", headers={
            **client_at("198.51.100.8"), "Authorization": "Bearer mmf_other"}).status_code == 401
    finally:
        limiter.reset()  # one limiter serves every app in this process
        limiter.enabled = False
        with app.app_context():
            database.engine.dispose()
