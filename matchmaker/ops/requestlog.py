"""One JSON line per request: request id, method, path, status, duration, user.

The request id is the incoming ``X-Request-ID`` (from the TLS proxy, so its log and ours can be
joined) when it looks like an id, else a new one; it is echoed in the response header. Lines go
to the ``matchmaker.requests`` logger: the Gunicorn configuration sends them to stdout as JSON
(``matchmaker/gunicorn_conf.py``); under ``make run`` nothing handles them and Werkzeug's own
access log speaks instead.

The duration is the server time until the response is handed to the WSGI server (the commit
included); a streamed body may still be flowing after that.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request

LOGGER = "matchmaker.requests"
HEADER = "X-Request-ID"
#: Ids we accept from outside: no spaces, quotes or control characters that could forge lines.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

log = logging.getLogger(LOGGER)


def request_id() -> str:
    """The current request's id (the incoming one when valid, else a new random one)."""
    rid = g.get("request_id")
    if rid is None:
        incoming = request.headers.get(HEADER, "")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        g.request_id = rid
    return str(rid)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message and the record's extras
    (the request fields are passed as ``extra={"request": {...}}``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "request", None) or {})
        if "request_id" not in entry and has_request_context():
            entry["request_id"] = g.get("request_id")  # errors logged during a request
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def register(app: Flask) -> None:
    """Register the hooks; call before any other ``after_request`` hook so that this one runs
    last (Flask runs them in reverse) and the duration includes the commit."""

    @app.before_request
    def start_clock() -> None:
        g.request_started = time.perf_counter()
        request_id()

    @app.after_request
    def log_request(response: Any) -> Any:
        rid = request_id()
        response.headers[HEADER] = rid
        started = g.get("request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started else None
        # The user the request loaded already, by its identity key: reading an attribute
        # after the commit (or loading a user for a static file) would cost a query.
        user = g.get("_login_user")
        state = sa.inspect(user, raiseerr=False) if user is not None else None
        user_id = state.identity[0] if state is not None and state.identity else None
        log.info("%s %s %s", request.method, request.path, response.status_code, extra={
            "request": {
                "request_id": rid, "method": request.method, "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2) if duration_ms is not None else None,
                "user_id": user_id,
                "remote_addr": request.remote_addr,
                # The header only: computing the length of a streamed body would read it
                # all here, before the first byte is sent (an export would wait for its end).
                "bytes": response.content_length,
            },
        })
        return response
