from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response

from matchmaker.admin.forms import (
    ActiveForm,
    AddressImportForm,
    AreaImportForm,
    NewAccountForm,
    RoleForm,
    TokenForm,
    UserSearchForm,
    role_choices,
    staff_role_choices,
)
from matchmaker.api import services as api_services
from matchmaker.api.models import ApiToken
from matchmaker.auth import services
from matchmaker.auth.decorators import admin_required
from matchmaker.auth.models import Role, User
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.i18n import translate_error
from matchmaker.jobs import submit
from matchmaker.members.models import Organisation
from matchmaker.register import services as register_services
from matchmaker.register.models import Area, ImportStatus, RegisterImport
from matchmaker.register.services import register_stats
from matchmaker.web.forms import apply_service_error, choices
from matchmaker.web.paging import page_number

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _user(user_id: int) -> User:
    return db.get_or_404(User, user_id)


USERS_PER_PAGE = 50
IMPORT_STATUS_LABELS = {ImportStatus.QUEUED: _l("waiting"), ImportStatus.RUNNING: _l("running"),
                        ImportStatus.DONE: _l("done"), ImportStatus.FAILED: _l("refused")}


@bp.app_template_filter("import_status")
def import_status_label(status: ImportStatus) -> str:
    return str(IMPORT_STATUS_LABELS.get(status, status))


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users() -> str | Response | tuple[str, int]:
    """Accounts: search and page through them, change roles, (de)activate, and create staff
    and provider accounts (their owners choose a password through an e-mailed link)."""
    new = NewAccountForm(prefix="new")
    new.role.choices = staff_role_choices()
    status = 200
    if new.validate_on_submit():
        try:
            user = services.invite_staff(new.email.data, role=Role(new.role.data),
                                         name=new.name.data or "", actor=current_user)
        except ServiceError as err:
            if not apply_service_error(new, err, translate_error(err)):
                flash(translate_error(err), "error")
            status = err.status
        else:
            flash(_("%(email)s can now choose a password with the link we e-mailed; the link "
                    "works for a week.", email=user.email), "success")
            return redirect(url_for("admin.users", q=user.email))
    elif new.errors:
        status = 422
    search = UserSearchForm(request.args)
    search.role.choices = [*choices([("", _("all roles"))]), *role_choices()]
    query = (sa.select(User).outerjoin(User.organisation).order_by(User.role, User.email)
             .options(contains_eager(User.organisation).load_only(Organisation.name)))
    if search.validate() and search.q.data:
        like = f"%{search.q.data.strip().lower()}%"
        query = query.where(sa.or_(User.email.like(like), sa.func.lower(User.name).like(like),
                                   sa.func.lower(Organisation.name).like(like)))
    if search.role.data:
        query = query.where(User.role == Role(search.role.data))
    page = db.paginate(query, page=page_number(), per_page=USERS_PER_PAGE, error_out=False)
    forms = {}
    for user in page.items:
        form = RoleForm(prefix=f"u{user.id}")
        form.role.choices = role_choices()
        form.role.data = user.role.value
        forms[user.id] = form
    args = {k: v for k, v in (("q", search.q.data), ("role", search.role.data)) if v}
    return render_template("admin/users.html", users=page.items, forms=forms,
                           active_form=ActiveForm(), new=new, search=search, page=page.page,
                           pages=max(page.pages, 1), total=page.total, args=args), status


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
    return _register_page(AddressImportForm(prefix="addr"), AreaImportForm(prefix="areas"))[0]


def _register_page(addresses: AddressImportForm, areas_form: AreaImportForm,
                   status: int = 200) -> tuple[str, int]:
    areas = list(db.session.scalars(sa.select(Area).order_by(Area.kind, Area.name)))
    recent = list(db.session.scalars(
        sa.select(RegisterImport).order_by(RegisterImport.id.desc()).limit(10)))
    return render_template("admin/register.html", stats=register_stats(), areas=areas,
                           addresses_form=addresses, areas_form=areas_form,
                           imports=recent), status


@bp.route("/register/import/<any(addresses,areas):kind>", methods=["POST"])
@admin_required
def start_import(kind: str) -> str | Response | tuple[str, int]:
    """Keep the uploaded file in the instance folder and queue its import as a job."""
    addresses, areas_form = AddressImportForm(prefix="addr"), AreaImportForm(prefix="areas")
    form: Any = addresses if kind == "addresses" else areas_form
    if not form.validate_on_submit():
        return _register_page(addresses, areas_form, 422)
    upload = form.file.data
    filename = Path(upload.filename or "upload").name
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{uuid.uuid4().hex}{Path(filename).suffix.lower()[:10]}"
    options = {"layer": form.layer.data or "", "crs": form.crs.data or ""}
    if kind == "addresses":
        options["prune"] = bool(form.prune.data)
    else:
        options.update(area_kind=form.area_kind.data, name_column=form.name_column.data or "",
                       code_column=form.code_column.data or "")
    try:
        row = register_services.new_import(actor=current_user, kind=kind, filename=filename,
                                           stored_path=str(stored), options=options)
    except ServiceError as err:
        if not apply_service_error(form, err, translate_error(err)):
            flash(translate_error(err), "error")
        return _register_page(addresses, areas_form, err.status)
    upload.save(stored)
    submit(register_services.run_import, row.id)
    return redirect(url_for("admin.import_status", import_id=row.id))


@bp.route("/register/imports/<int:import_id>")
@admin_required
def import_status(import_id: int) -> str:
    row = db.get_or_404(RegisterImport, import_id)
    return render_template("admin/import.html", row=row,
                           state=register_services.import_progress(row),
                           running=row.status in (ImportStatus.QUEUED, ImportStatus.RUNNING))


@bp.route("/register/imports/<int:import_id>/status.json")
@admin_required
def import_status_json(import_id: int) -> Response:
    row = db.get_or_404(RegisterImport, import_id)
    return Response(json.dumps(register_services.import_progress(row)),
                    mimetype="application/json")


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
