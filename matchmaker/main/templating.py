"""Template globals and filters: languages, numbers in the user's locale, roles."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask, current_app
from flask_babel import format_decimal, get_locale

from matchmaker.auth.forms import LanguageForm
from matchmaker.auth.models import Role
from matchmaker.demand.models import Stage
from matchmaker.forms import area_kind_label
from matchmaker.i18n import translate
from matchmaker.privacy import MAX_DOMINANCE, MIN_MEMBERS


def number(value: Any, digits: int = 1) -> str:
    """A number in the user's locale (``1.234,5`` in Dutch), trailing zeros trimmed."""
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        value = value.normalize()
        places = max(-value.as_tuple().exponent, 0)  # type: ignore[operator]
        fmt = "#,##0" + ("." + "#" * min(places, 3) if places else "")
        return format_decimal(value, format=fmt)
    fmt = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=fmt)


def register(app: Flask) -> None:
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["area_kind"] = area_kind_label
    app.jinja_env.globals.update(Role=Role, Stage=Stage, translate=translate)  # also in macros
    # The disclosure rule (matchmaker.privacy), for the texts that explain it.
    app.jinja_env.globals.update(privacy_min=MIN_MEMBERS,
                                 privacy_share=int(MAX_DOMINANCE * 100))

    @app.context_processor
    def globals_() -> dict[str, Any]:
        return {
            # formdata=None: the footer form never reads this request (which may be the
            # too-large upload that an error page is being rendered for).
            "language_form": LanguageForm(formdata=None, lang=str(get_locale())),
            "current_locale": str(get_locale()),
            "demo_mode": current_app.config["DEMO_MODE"],
            "tile_url": current_app.config["MAP_TILE_URL"],
            "map_center": current_app.config["MAP_CENTER"],
        }
