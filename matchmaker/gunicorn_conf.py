"""Gunicorn settings for the production stack (``matchmaker serve`` passes this file).

Every value comes from the environment so one file serves every installation:

- ``WEB_CONCURRENCY``: worker processes (also read by ``matchmaker check --deploy``); about one
  per core, more when pages wait on the database.
- ``MATCHMAKER_WEB_THREADS`` (4): threads per worker (``gthread``): requests mostly wait on
  PostgreSQL, and threads share one process's memory.
- ``MATCHMAKER_WEB_TIMEOUT`` (60 s): a worker silent this long is killed and replaced.
- ``MATCHMAKER_GRACEFUL_TIMEOUT`` (30 s): on TERM or HUP, requests in flight may finish this long.
- ``MATCHMAKER_MAX_REQUESTS`` (2000, jitter 10 %): a worker is replaced after this many requests,
  staggered so the workers do not restart at once (bounds slow memory growth).
- ``MATCHMAKER_BIND`` (127.0.0.1:8000): the address; the TLS proxy connects here.

Gunicorn's access log is off: the app writes one JSON line per request with its request id
(``matchmaker.ops.requestlog``) to stdout; Gunicorn's own messages and the app's errors go to
stderr as JSON lines too.
"""

from __future__ import annotations

import os

from matchmaker.security import app_workers


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("MATCHMAKER_BIND", "127.0.0.1:8000")
workers = app_workers()
worker_class = "gthread"
threads = _int("MATCHMAKER_WEB_THREADS", 4)
timeout = _int("MATCHMAKER_WEB_TIMEOUT", 60)
graceful_timeout = _int("MATCHMAKER_GRACEFUL_TIMEOUT", 30)
keepalive = 5
max_requests = _int("MATCHMAKER_MAX_REQUESTS", 2000)
max_requests_jitter = max(max_requests // 10, 1) if max_requests else 0
# Each worker imports the app itself: a HUP then loads new code, and no database connection
# is shared across a fork.
preload_app = False
proc_name = "matchmaker-web"
# No control socket (Gunicorn 25+): several stacks on one host would share its default path.
control_socket_disable = True
accesslog = None
errorlog = "-"
loglevel = os.environ.get("MATCHMAKER_LOG_LEVEL", "info")

_JSON = {"()": "matchmaker.ops.requestlog.JsonFormatter"}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": _JSON},
    "handlers": {
        "requests": {"class": "logging.StreamHandler", "formatter": "json",
                     "stream": "ext://sys.stdout"},
        "errors": {"class": "logging.StreamHandler", "formatter": "json",
                   "stream": "ext://sys.stderr"},
    },
    "root": {"level": "WARNING", "handlers": ["errors"]},
    "loggers": {
        "matchmaker.requests": {"level": "INFO", "handlers": ["requests"], "propagate": False},
        "matchmaker": {"level": "INFO", "handlers": ["errors"], "propagate": False},
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["errors"],
                           "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
}
