"""Progress of jobs whose work is one transaction (imports).

Such a job cannot commit its progress to its own row halfway, so it reports here: in this
process for the app's worker thread, or in Redis (for an hour) when ``REDIS_URL`` is set or
jobs go to RQ, so that every web process sees it. Kept apart from :mod:`matchmaker.jobs`
(which builds whole apps in its workers) so that services can report without importing that.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from flask import current_app

PREFIX = "matchmaker:progress:"
TTL_S = 3600
_progress: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def _redis() -> Any:
    url = current_app.config.get("REDIS_URL")
    if not url and current_app.config.get("JOB_QUEUE") != "rq":
        return None
    from redis import Redis

    return Redis.from_url(url or "redis://127.0.0.1:6379/0")


def set_progress(key: str, *, done: int, total: int, stage: str = "") -> None:
    """Record that ``done`` of ``total`` units of the job ``key`` are done."""
    value = {"done": int(done), "total": int(total), "stage": stage}
    redis = _redis()
    if redis is None:
        with _lock:
            _progress[key] = value
        return
    redis.set(PREFIX + key, json.dumps(value), ex=TTL_S)


def progress(key: str) -> dict[str, Any] | None:
    """What :func:`set_progress` last recorded for ``key`` (``None``: not started)."""
    redis = _redis()
    if redis is None:
        with _lock:
            return _progress.get(key)
    raw = redis.get(PREFIX + key)
    return None if raw is None else dict(json.loads(raw))
