"""HTTP security headers, recent-login checks and the production-readiness report.

Headers follow OWASP ASVS level 2 where it applies: a strict Content Security Policy (no
inline scripts or styles; map tiles are the only third-party content), no MIME sniffing, no
framing, a narrow referrer policy, and HSTS when the request came over HTTPS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, request, session, url_for
from flask_login import current_user

from matchmaker.config import DEFAULT_SECRET_KEY
from matchmaker.errors import N_

#: How long a login counts as recent for sensitive actions (seconds).
RECENT_LOGIN_SECONDS = 15 * 60
HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(tile_url: str) -> str:
    tiles = urlsplit(tile_url)
    tile_origin = f"{tiles.scheme}://{tiles.netloc}" if tiles.scheme and tiles.netloc else ""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data: {tile_origin}".strip(),
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def register_headers(app: Flask) -> None:
    policy = content_security_policy(app.config["MAP_TILE_URL"])

    @app.after_request
    def security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), "
                                                 "payment=(), usb=()")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if current_user and current_user.is_authenticated:
            # Pages with company data must not linger in shared caches or the back button.
            headers.setdefault("Cache-Control", "no-store")
        return response


def mark_login() -> None:
    """Remember when this session last proved its password (login or re-authentication)."""
    session["auth_at"] = int(time.time())


def login_is_recent() -> bool:
    return time.time() - float(session.get("auth_at", 0)) <= RECENT_LOGIN_SECONDS


def recent_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Ask for the password again before sensitive actions when the login is not recent."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.is_authenticated and not login_is_recent():
            return redirect(url_for("auth.reauthenticate", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


@dataclass(frozen=True)
class Finding:
    severity: str  # "error": do not deploy like this; "warning": check it
    message: str  # a message id
    params: dict[str, Any]


#: A random key of 32 characters has far more different characters than this.
MIN_SECRET_VARIETY = 10


def secret_key_problem(secret: str) -> bool:
    """Whether a secret key is unfit: the development default, shorter than 32 characters
    (spaces and line ends around it do not count), or made of a few characters repeated
    (32 spaces, "aaaa...")."""
    core = secret.strip()
    return (secret == DEFAULT_SECRET_KEY or len(core) < 32 or core != secret
            or len(set(core)) < MIN_SECRET_VARIETY)


def deploy_findings(config: dict[str, Any], *, workers: int = 1,
                    workers_setting: str | None = None) -> list[Finding]:
    """What is unsafe about running this configuration in production (``workers_setting``:
    WEB_CONCURRENCY as written, when set)."""
    found: list[Finding] = []

    def add(severity: str, message: str, **params: Any) -> None:
        found.append(Finding(severity, message, params))

    if config.get("DEBUG"):
        add("error", N_("Debug mode is on: never run the debugger in production."))
    if secret_key_problem(str(config.get("SECRET_KEY") or "")):
        add("error", N_("SECRET_KEY is the development default, shorter than 32 characters, "
                        "padded with spaces or made of a few repeated characters; set a long "
                        "random value."))
    if workers_setting is not None and not (workers_setting.strip().isdigit()
                                            and int(workers_setting) > 0):
        add("error", N_("WEB_CONCURRENCY is %(value)r, not a number of workers above 0; the "
                        "service would start with one worker and this check would count "
                        "one."), value=workers_setting)
    if config.get("DEMO_MODE"):
        add("error", N_("Demo mode is on: the published demo accounts can log in."))
    database = str(config.get("SQLALCHEMY_DATABASE_URI", ""))
    if database.startswith("sqlite"):
        add("error" if workers > 1 else "warning",
            N_("The database is SQLite (%(workers)s worker(s)); use PostgreSQL for a service "
               "with several workers or processes."), workers=workers)
    storage = str(config.get("RATELIMIT_STORAGE_URI", "memory://"))
    if storage.startswith("memory"):
        add("error" if workers > 1 else "warning",
            N_("Rate limits are kept in memory: each worker counts on its own and a restart "
               "forgets them; set REDIS_URL."))
    if not config.get("SESSION_COOKIE_SECURE") or not config.get("REMEMBER_COOKIE_SECURE"):
        add("error", N_("Cookies are not marked Secure: serve over HTTPS and set "
                        "MATCHMAKER_SECURE_COOKIES=1."))
    base_url = str(config.get("BASE_URL") or "")
    if not base_url.startswith("https://"):
        add("error", N_("MATCHMAKER_BASE_URL is not an https:// address; links in e-mails "
                        "would be wrong or insecure."))
    if not config.get("SMTP_HOST"):
        add("warning", N_("SMTP_HOST is not set: e-mail stays in the outbox."))
    if config.get("JOB_QUEUE") != "rq":
        add("warning", N_("Jobs run inline in the web request; set MATCHMAKER_JOB_QUEUE=rq "
                          "and run `matchmaker worker` for large matching runs."))
    return found


def secure_enough(findings: list[Finding]) -> bool:
    return not any(f.severity == "error" for f in findings)


def report_lines(findings: list[Finding]) -> list[str]:
    """The findings as lines for the command line, in its language."""
    from matchmaker.cli_support import _

    labels = {"error": _("ERROR"), "warning": _("warning")}
    return [f"{labels[f.severity]}: {_(f.message, **f.params)}" for f in findings]


def app_workers() -> int:
    """Workers as deployed: WEB_CONCURRENCY (the Gunicorn/Heroku convention), else 1."""
    import os

    try:
        return max(int(os.environ.get("WEB_CONCURRENCY", "1")), 1)
    except ValueError:
        return 1


def current_findings() -> list[Finding]:
    import os

    return deploy_findings(dict(current_app.config), workers=app_workers(),
                           workers_setting=os.environ.get("WEB_CONCURRENCY"))
