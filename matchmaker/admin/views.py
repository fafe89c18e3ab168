from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from matchmaker.admin.forms import ActiveForm, RoleForm, role_choices
from matchmaker.auth import services
from matchmaker.auth.decorators import admin_required
from matchmaker.auth.models import Role, User
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.i18n import translate_error
from matchmaker.register.models import Area
from matchmaker.register.services import register_stats

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users")
@admin_required
def users() -> str:
    rows = list(db.session.scalars(sa.select(User).order_by(User.role, User.email)))
    forms = {}
    for user in rows:
        form = RoleForm(prefix=f"u{user.id}")
        form.role.choices = role_choices()
        form.role.data = user.role.value
        forms[user.id] = form
    return render_template("admin/users.html", users=rows, forms=forms, active_form=ActiveForm())


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@admin_required
def set_role(user_id: int) -> Response | tuple[str, int]:
    user = _user(user_id)
    form = RoleForm(prefix=f"u{user.id}")
    form.role.choices = role_choices()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.set_role(user, Role(form.role.data), actor=current_user)
    except ServiceError as err:
        flash(translate_error(err), "error")
        return redirect(url_for("admin.users"))
    flash(_("%(email)s is now %(role)s.", email=user.email, role=form.role.data), "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/<any(activate,deactivate):action>", methods=["POST"])
@admin_required
def set_active(user_id: int, action: str) -> Response:
    user = _user(user_id)
    if not ActiveForm().validate_on_submit():
        abort(400)
    try:
        services.set_active(user, action == "activate", actor=current_user)
    except ServiceError as err:
        flash(translate_error(err), "error")
    else:
        flash(_("%(email)s is activated.", email=user.email) if action == "activate"
              else _("%(email)s is deactivated; their sessions have ended.", email=user.email),
              "success")
    return redirect(url_for("admin.users"))


@bp.route("/register")
@admin_required
def register() -> str:
    areas = list(db.session.scalars(sa.select(Area).order_by(Area.kind, Area.name)))
    return render_template("admin/register.html", stats=register_stats(), areas=areas)
