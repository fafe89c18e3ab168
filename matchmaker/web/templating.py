"""Template globals and filters: languages, numbers, amounts and moments in the user's locale,
roles, and the disclosure rule's numbers for the texts that explain it."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from flask_babel import get_locale

from matchmaker.auth.forms import LanguageForm
from matchmaker.auth.models import Role
from matchmaker.demand.models import Stage
from matchmaker.i18n import translate
from matchmaker.privacy import MAX_DOMINANCE, MIN_MEMBERS
from matchmaker.web import formatting
from matchmaker.web.forms import area_kind_label


def register(app: Flask) -> None:
    app.jinja_env.filters.update(formatting.FILTERS)
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
