"""Settings, read from the environment (``MATCHMAKER_*`` and a few conventional names).

The embedded default needs nothing: an SQLite file under ``instance/``, memory rate limits and
mail kept in the outbox. Production sets ``DATABASE_URL`` (PostgreSQL), ``SECRET_KEY``,
``REDIS_URL`` and ``SMTP_*``; ``matchmaker check --deploy`` reports what is missing.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-only-not-secret"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _decimal(name: str, default: str) -> Decimal:
    value = os.environ.get(name)
    return Decimal(value if value not in (None, "") else default)


def load_config(instance_path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration mapping for ``create_app``; ``overrides`` win over the environment."""
    instance = Path(instance_path)
    sqlite_default = f"sqlite:///{instance / 'matchmaker.sqlite3'}"
    config: dict[str, Any] = {
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", sqlite_default),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Demo accounts (documented in the README) can log in only while this is on.
        "DEMO_MODE": _bool("MATCHMAKER_DEMO", False),
        "BABEL_DEFAULT_LOCALE": "nl",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
        "LANGUAGES": ("nl", "en"),
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "MAX_CONTENT_LENGTH": int(os.environ.get("MATCHMAKER_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("MATCHMAKER_SECURE_COOKIES", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("MATCHMAKER_SECURE_COOKIES", False),
        "REMEMBER_COOKIE_DURATION": 14 * 24 * 3600,
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Argon2id cost (argon2-cffi's RFC 9106 "low memory" profile: t=3, 64 MiB, p=4).
        "PASSWORD_TIME_COST": int(os.environ.get("MATCHMAKER_PASSWORD_TIME_COST", "3")),
        "PASSWORD_MEMORY_COST_KIB": int(os.environ.get("MATCHMAKER_PASSWORD_MEMORY_KIB", "65536")),
        # Numbers we use (DESIGN.md section 5), each with its source.
        # Zonatlas: 1.23 kWp per 8 m² of flat roof ≈ 0.15 kWp/m² usable.
        "PV_KWP_PER_M2": _float("MATCHMAKER_PV_KWP_PER_M2", 0.15),
        # CBS; long-term measurements in Hoogeveen 839–892 kWh/kWp/yr.
        "PV_YIELD_KWH_PER_KWP": _float("MATCHMAKER_PV_YIELD", 875.0),
        # Label C office obligation (Bouwbesluit art. 5.11, since 1 January 2023).
        "LABEL_C_MIN_OFFICE_M2": 100.0,
        "LABEL_C_MIN_OFFICE_SHARE": 0.5,
        "MAP_CENTER": (52.9925, 6.5625),  # Assen
        "MAP_TILE_URL": os.environ.get(
            "MATCHMAKER_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        ),
        "PAGE_SIZE": 50,
        # Electricity CO₂ factor, production and chain (CO2emissiefactoren.nl, 2021).
        "ELECTRICITY_CO2_KG_PER_KWH": _float("MATCHMAKER_CO2_KG_PER_KWH", 0.374),
        # Matching runs carry an exact duality certificate on every step; this many sampled
        # steps are also solved again with HiGHS as a cross-check (0: none).
        "MATCH_CROSS_CHECK_STEPS": int(os.environ.get("MATCHMAKER_CROSS_CHECK_STEPS", "0")),
        # Long work (matching runs): "inline" after the request, or "rq" on REDIS_URL.
        "JOB_QUEUE": os.environ.get("MATCHMAKER_JOB_QUEUE", "inline"),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        # The RQ queue's name (one Redis can carry several installations or test runs).
        "JOB_QUEUE_NAME": os.environ.get("MATCHMAKER_JOB_QUEUE_NAME", "matchmaker"),
        # Behind a TLS proxy: trust X-Forwarded-* from this many proxies (0: none).
        "PROXY_FIX_HOPS": int(os.environ.get("MATCHMAKER_PROXY_FIX", "0") or 0),
        # Group buys (matchmaker/campaigns). Electricity price per kWh that a kWh of own solar
        # power saves a small business (supply plus energy tax, excl. VAT), used only for the
        # savings estimate on solar offers. Assumption at the 2025 level of the CBS averages
        # ("Gemiddelde energietarieven", StatLine); the source is shown next to the estimate.
        # Set the association's own figure and source with the two variables.
        "ELECTRICITY_PRICE_EUR_PER_KWH": _decimal("MATCHMAKER_ELECTRICITY_PRICE_EUR_PER_KWH",
                                                  "0.25"),
        "ELECTRICITY_PRICE_SOURCE": os.environ.get(
            "MATCHMAKER_ELECTRICITY_PRICE_SOURCE",
            "CBS StatLine, gemiddelde energietarieven 2025 (aanname)",
        ),
        # A tenant's roof or building work needs the owner's consent for these products.
        "OWNER_CONSENT_PRODUCTS": ("solar_roof", "insulation"),
        # One-time consent links for building owners expire after this many days.
        "OWNER_CONSENT_LINK_DAYS": int(os.environ.get("MATCHMAKER_CONSENT_LINK_DAYS", "14")),
        # Distance bundles in the negotiation export (metres between neighbouring sites).
        "CAMPAIGN_BUNDLE_GAP_M": _float("MATCHMAKER_BUNDLE_GAP_M", 250.0),
        # E-mail: without SMTP_HOST mail stays queued in the outbox (see `matchmaker send-mail`).
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "587")),
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_FROM": os.environ.get("SMTP_FROM", "Samen energie <noreply@example.org>"),
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", True),
        "SMTP_TIMEOUT": _float("SMTP_TIMEOUT", 30.0),
        # Links in e-mails start with this (e.g. https://energie.example.nl); when empty,
        # http://127.0.0.1:5000 (the address of `make run`).
        "BASE_URL": os.environ.get("MATCHMAKER_BASE_URL", ""),
        # Retention (days; 0 keeps forever), applied by `matchmaker purge`. The audit log
        # holds who did what, provider access to addresses included; three years lets a
        # member ask about it later. Sent e-mail only documents what was said.
        "AUDIT_RETENTION_DAYS": int(os.environ.get("MATCHMAKER_AUDIT_RETENTION_DAYS", "1095")),
        "MAIL_RETENTION_DAYS": int(os.environ.get("MATCHMAKER_MAIL_RETENTION_DAYS", "365")),
        # Provider API (/api/v1): requests per token (Flask-Limiter notation).
        "API_RATE_LIMIT": os.environ.get("MATCHMAKER_API_RATE_LIMIT", "120 per minute"),
    }
    if overrides:
        config.update(overrides)
    return config
