"""Errors raised by the geospatial core.

Every error carries an English message id and its parameters. ``str(err)`` is the English
message; the application translates ``err.msgid`` through its catalogue (Dutch first) and
interpolates ``err.params``. ``N_`` marks message ids for extraction without translating them,
so ``geo`` stays free of Flask and of any locale.
"""

from __future__ import annotations

from typing import Any


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction by Babel; return it unchanged."""
    return msgid


class GeoError(ValueError):
    """Invalid geospatial input. The message is meant for the person who supplied it."""

    def __init__(self, msgid: str, **params: Any) -> None:
        self.msgid = msgid
        self.params = params
        super().__init__(msgid % params if params else msgid)


class FileFormatError(GeoError):
    """The file cannot be read at all, or is not of a supported kind."""


class ColumnError(GeoError):
    """A required column is missing or a column holds values of the wrong kind."""


class CRSError(GeoError):
    """The coordinate reference system is missing or cannot be used."""


class CoordinateError(GeoError):
    """Coordinates are missing, not finite, or outside the Netherlands."""


class GeometryError(GeoError):
    """A geometry is empty, invalid or of the wrong type."""


class ParameterError(GeoError):
    """A keyword option has an impossible value (for example a non-positive distance)."""


def format_labels(index: object, limit: int = 5) -> str:
    """The first ``limit`` labels of ``index`` for a message, with ``...`` when there are more."""
    values = [str(v) for v in list(index)[: limit + 1]]  # type: ignore[call-overload]
    text = ", ".join(values[:limit])
    return text + (", ..." if len(values) > limit else "")
