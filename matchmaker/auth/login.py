"""Flask-Login wiring: sessions carry the user's session version so they can be ended."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from matchmaker.auth.models import User
from matchmaker.extensions import db, login_manager

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    ident, _, version = user_id.partition(":")
    if not ident.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or user.session_version != int(version):
        return None
    return user if user.may_act(demo_mode=current_app.config["DEMO_MODE"]) else None
