"""``/health`` (the process is alive) and ``/ready`` (it can serve: database, Redis, schema).

A load balancer or supervisor restarts a process whose ``/health`` fails and sends traffic only
to processes whose ``/ready`` answers 200. ``/health`` touches nothing outside the process, so
a database outage does not make every worker look dead. ``/ready`` answers 503 with JSON that
says which check failed (without connection details: the page is public).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import Blueprint, Response, current_app, jsonify

from matchmaker.extensions import db

bp = Blueprint("ops", __name__)

REDIS_TIMEOUT_S = 2.0


@cache
def migration_heads(directory: str) -> frozenset[str]:
    """The head revisions of the migration scripts (read once per process)."""
    config = Config()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _migrations_directory() -> str:
    migrate = current_app.extensions["migrate"]
    return str(Path(migrate.directory))


def check_database() -> tuple[bool, str, set[str]]:
    try:
        rows = db.session.execute(sa.text("SELECT version_num FROM alembic_version"))
        revisions = {r[0] for r in rows}
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        if isinstance(exc, sa.exc.ProgrammingError | sa.exc.OperationalError) and (
                "alembic_version" in str(exc)):
            return True, "ok", set()  # reachable, but never migrated
        return False, "unreachable", set()
    return True, "ok", revisions


def check_redis(url: str) -> tuple[bool, str]:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        client = Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S,
                                socket_timeout=REDIS_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    except (RedisError, OSError):
        return False, "unreachable"
    return True, "ok"


def readiness() -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    database_ok, checks["database"], revisions = check_database()
    ready = database_ok
    if database_ok:
        heads = migration_heads(_migrations_directory())
        if revisions == heads:
            checks["migrations"] = "ok"
        else:
            ready = False
            checks["migrations"] = {
                "status": "not at head",
                "database": sorted(revisions), "heads": sorted(heads),
            }
    else:
        checks["migrations"] = "unknown"
    redis_url = current_app.config.get("REDIS_URL") or ""
    if redis_url:
        redis_ok, checks["redis"] = check_redis(redis_url)
        ready = ready and redis_ok
    else:
        checks["redis"] = "not used"  # the embedded default: memory rate limits, inline jobs
    return ready, checks


@bp.route("/health")
def health() -> Response:
    """Alive: the process answers. No database, no Redis."""
    return Response("ok", mimetype="text/plain", headers={"Cache-Control": "no-store"})


@bp.route("/ready")
def ready() -> tuple[Response, int]:
    ok, checks = readiness()
    response = jsonify({"ready": ok, "checks": checks})
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if ok else 503
