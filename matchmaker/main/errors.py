"""Error pages in the user's language, never a stack trace."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from geo.errors import GeoError
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.i18n import translate_error

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Check what you entered.")),
    403: (_l("No access"), _l("You do not have access to this page.")),
    404: (_l("Page not found"), _l("This page does not exist (any more), or it is not yours.")),
    405: (_l("Not allowed"), _l("This action is not possible here.")),
    409: (_l("Conflict"), _l("Someone else changed this in the meantime. Please try again.")),
    413: (_l("File too large"), _l("The file is larger than allowed. Split it or compress it.")),
    422: (_l("Not processed"), _l("The data could not be processed.")),
    429: (_l("Too many attempts"), _l("Too many requests in a short time. Wait a minute and "
                                       "try again.")),
    500: (_l("Something went wrong"), _l("An unexpected error occurred. It has been logged; "
                                          "please try again later.")),
    503: (_l("Temporarily unavailable"), _l("The service is temporarily unavailable. Please try "
                                             "again in a few minutes.")),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


#: The stable machine code of each status in JSON errors (``message`` is the translated text).
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large",
               422: "invalid", 429: "rate_limited", 500: "server_error", 503: "unavailable"}
#: For API clients a 404 is about a resource, not a page.
API_MESSAGES = {404: _l("There is no such resource, or it is not yours: %(path)s")}


def error_code(status: int) -> str:
    return ERROR_CODES.get(status, "server_error" if status >= 500 else "bad_request")


def render_error(status: int, detail: str | None = None) -> tuple[Any, int]:
    db.session.rollback()
    title, message = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    if _wants_json():
        if detail is None and status in API_MESSAGES:
            detail = str(API_MESSAGES[status]) % {"path": request.path}
        return {"error": error_code(status), "message": detail or str(message)}, status
    return render_template("errors/error.html", status=status, title=title,
                           message=detail or message), status


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Any:
        if err.response is not None:  # a page of its own (e.g. a form kept over a rate limit)
            db.session.rollback()
            return err.response
        return render_error(err.code or 500)

    @app.errorhandler(ServiceError)
    def service_error(err: ServiceError) -> tuple[Any, int]:
        return render_error(err.status, translate_error(err))

    @app.errorhandler(GeoError)
    def geo_error(err: GeoError) -> tuple[Any, int]:
        return render_error(400, translate_error(err))

    @app.errorhandler(OperationalError)
    def database_down(err: OperationalError) -> tuple[Any, int]:
        app.logger.error("database error: %s", err)
        return render_error(503)

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> tuple[Any, int]:
        if isinstance(err, HTTPException):
            return http_error(err)
        app.logger.exception("unhandled error")
        return render_error(500, _("An unexpected error occurred. It has been logged; please "
                                   "try again later."))
