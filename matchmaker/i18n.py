"""Language selection and translation of errors raised below the edge."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, has_request_context, request, session
from flask_babel import gettext
from flask_login import current_user

from geo.errors import GeoError
from matchmaker.errors import ServiceError
from matchmaker.web import formatting


def select_locale() -> str:
    """Dutch first: the user's saved choice, else the session's, else Dutch.

    In the web pages the browser's Accept-Language is deliberately not consulted: the
    association works in Dutch and English is an explicit choice (footer switch, account
    page). An API client has no session and no footer: there the request's Accept-Language
    decides when it names a language we have, else the token owner's saved choice, else Dutch.
    """
    languages = current_app.config["LANGUAGES"]
    if has_request_context() and request.path.startswith("/api/"):
        asked = request.accept_languages.best_match(languages)
        owner = g.get("api_user")
        saved = owner.locale if owner is not None else None
        return str(asked or (saved if saved in languages else None)
                   or current_app.config["BABEL_DEFAULT_LOCALE"])
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return str(current_user.locale)
    chosen = session.get("lang")
    if chosen in languages:
        return str(chosen)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def localized(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters for a message in the user's notation (:func:`formatting.localized`)."""
    return {k: formatting.localized(v) for k, v in params.items()}


def translate(msgid: str, params: dict[str, Any] | None = None) -> str:
    """Translate a message id from a service or ``geo`` with its parameters."""
    return gettext(msgid, **localized(params or {}))


def translate_error(err: GeoError | ServiceError) -> str:
    """The error's message in the current language, parameters filled in."""
    return translate(err.msgid, err.params)
