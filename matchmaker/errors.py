"""Errors that services raise for the edge (view, CLI) to show to the user.

Like :class:`geo.errors.GeoError`, a ``ServiceError`` carries an English message id and its
parameters; the edge translates it into the user's language and picks the HTTP status. A refusal dooms
the request's transaction: the web edge rolls back even when the view catches the error and
redirects, so nothing a service flushed before refusing is kept. Construct one only to raise it.
"""

from __future__ import annotations

from typing import Any

from geo.errors import N_
from matchmaker.database import mark_refused

__all__ = ["N_", "Conflict", "NotAllowed", "NotFound", "ServiceError", "TooMany"]  # N_: the one extraction marker


class ServiceError(Exception):
    """A request the service refuses; ``field`` names the form field it concerns, if any."""

    status = 400

    def __init__(self, msgid: str, *, field: str | None = None, **params: Any) -> None:
        self.msgid = msgid
        self.params = params
        self.field = field
        mark_refused()  # the edge rolls back, whatever response it then gives
        super().__init__(msgid % params if params else msgid)


class NotAllowed(ServiceError):
    status = 403


class NotFound(ServiceError):
    """Not there, or not the actor's to see: the edge answers 404 (existence does not leak)."""

    status = 404


class Conflict(ServiceError):
    """The object changed or exists already (duplicate KvK, stale version, ...)."""

    status = 409


class TooMany(ServiceError):
    """A limit on how often something may be done was reached (answered with 429)."""

    status = 429


class InvalidValue(ServiceError):
    """A value no column can hold (too long, not finite, out of range): answered with 422.

    Raised before a flush by ``models`` (one check for every table), so SQLite refuses what
    PostgreSQL refuses; ``params["field"]`` is filled in by the edge's translation.
    """

    status = 422
