from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from matchmaker.admin.forms import ActiveForm, RoleForm, TokenForm, role_choices
from matchmaker.api import services as api_services
from matchmaker.api.models import ApiToken
from matchmaker.auth import services
from matchmaker.auth.decorators import admin_required
from matchmaker.auth.models import Role, User
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.i18n import translate_error
from matchmaker.members.models import Organisation
from matchmaker.register.models import Area
from matchmaker.register.services import register_stats
from matchmaker.web.forms import choices
from matchmaker.web.paging import page_number

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _user(user_id: int) -> User:
    return db.get_or_404(User, user_id)


@bp.route("/users")
@admin_required
def users() -> str:
    """Every account, a page at a time (a province has tens of thousands)."""
    result = db.paginate(
        sa.select(User).order_by(User.role, User.email)
        .options(joinedload(User.organisation).load_only(Organisation.name)),
        page=page_number(), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    rows = list(result.items)
    forms = {}
    for user in rows:
        form = RoleForm(prefix=f"u{user.id}")
        form.role.choices = role_choices()
        form.role.data = user.role.value
        forms[user.id] = form
    return render_template("admin/users.html", users=rows, forms=forms, active_form=ActiveForm(),
                           page=result.page, pages=max(result.pages, 1), count=result.total)


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


def _token_form() -> TokenForm:
    form = TokenForm()
    form.user_id.choices = choices(
        (u.id, f"{u.name} <{u.email}>" if u.name else u.email)
        for u in db.session.scalars(sa.select(User).where(
            User.role == Role.PROVIDER, User.active.is_(True)).order_by(User.email)))
    return form


@bp.route("/tokens", methods=["GET", "POST"])
@admin_required
def tokens() -> str | tuple[str, int]:
    """API tokens for providers: issue (the token is shown once) and revoke."""
    form = _token_form()
    issued = None
    status = 200
    if form.validate_on_submit():
        user = db.session.get(User, form.user_id.data)
        try:
            if user is None:
                abort(400)
            row, token = api_services.issue_token(user, actor=current_user,
                                                  name=form.name.data or "")
        except ServiceError as err:
            flash(translate_error(err), "error")
            status = err.status
        else:
            issued = (row, token)
    elif form.errors:
        status = 422
    return render_template("admin/tokens.html", form=form, tokens=api_services.tokens(),
                           issued=issued, action_form=ActiveForm()), status


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@admin_required
def revoke_token(token_id: int) -> Response:
    row = db.get_or_404(ApiToken, token_id)
    if not ActiveForm().validate_on_submit():
        abort(400)
    api_services.revoke_token(row, actor=current_user)
    flash(_("The token %(prefix)s… is revoked; it no longer works.", prefix=row.prefix), "success")
    return redirect(url_for("admin.tokens"))
