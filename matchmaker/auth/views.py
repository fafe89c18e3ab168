from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from matchmaker.auth import services
from matchmaker.auth.forms import (
    AccountForm,
    ForgotPasswordForm,
    LoginForm,
    PasswordForm,
    ReauthenticateForm,
    RegisterForm,
    ResetPasswordForm,
    legal_form_choices,
)
from matchmaker.auth.passwords import verify_password
from matchmaker.errors import ServiceError
from matchmaker.extensions import limiter
from matchmaker.i18n import translate_error
from matchmaker.members.services import kringen, register_member
from matchmaker.security import login_is_recent, mark_login
from matchmaker.web.forms import apply_service_error, choices

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths, so a login link cannot send users elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 100 per hour", methods=["POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data,
                                     demo_mode=current_app.config["DEMO_MODE"])
        if user is not None:
            session.clear()  # a fresh session at login (no fixation)
            login_user(user, remember=form.remember.data)
            mark_login()
            session["lang"] = user.locale
            return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
        form.password.errors.append(_("Unknown e-mail address or wrong password."))
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    services.end_sessions(current_user._get_current_object())
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("main.index"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("5 per minute; 30 per hour", methods=["POST"])
def register() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    form.legal_form.choices = legal_form_choices()
    form.kring_id.choices = choices([(0, _("— choose your kring —"))] + [(k.id, k.name) for k in kringen()])
    if form.validate_on_submit():
        try:
            user = register_member(
                email=form.email.data, password=form.password.data, name=form.name.data,
                locale=session.get("lang", "nl"),
                organisation={
                    "name": form.organisation_name.data, "kvk_number": form.kvk_number.data,
                    "legal_form": form.legal_form.data, "kring_id": form.kring_id.data or None,
                    "contact_phone": form.contact_phone.data or "",
                },
            )
        except ServiceError as err:
            field = {"name": "organisation_name"}.get(err.field or "", err.field)
            err.field = field
            if not apply_service_error(form, err, translate_error(err)):
                flash(translate_error(err), "error")
            return render_template("auth/register.html", form=form), err.status
        session.clear()
        login_user(user)
        mark_login()
        flash(_("Welcome! Add your first site (pand) to register demand."), "success")
        return redirect(url_for("members.new_site"))
    return render_template("auth/register.html", form=form), 422 if form.errors else 200


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> str | Response | tuple[str, int]:
    form = AccountForm(obj=current_user, prefix="account")
    password_form = PasswordForm(prefix="pw")
    if request.method == "POST" and not login_is_recent():
        # Changing the e-mail address or password needs a recent proof of the password.
        return redirect(url_for("auth.reauthenticate", next=url_for("auth.account")))
    user = current_user._get_current_object()
    if request.method == "POST" and "account-name" in request.form and form.validate():
        try:
            services.change_email(user, form.email.data, actor=user)
        except ServiceError as err:
            apply_service_error(form, err, translate_error(err))
        else:
            user.name = form.name.data.strip()
            services.set_locale(user, form.locale.data)
            session["lang"] = form.locale.data
            login_user(user)  # this session continues; others end when the e-mail changed
            flash(_("Your settings are saved."), "success")
            return redirect(url_for("auth.account"))
    if request.method == "POST" and "pw-new_password" in request.form and password_form.validate():
        if not verify_password(user.password_hash, password_form.current_password.data):
            password_form.current_password.errors.append(_("This is not your current password."))
        else:
            try:
                services.set_password(user, password_form.new_password.data, actor=user)
            except ServiceError as err:
                apply_service_error(password_form, err, translate_error(err))
            else:
                login_user(user)  # this session continues with the new version; others end
                flash(_("Your password is changed; other sessions are logged out."), "success")
                return redirect(url_for("auth.account"))
    status = 422 if (form.errors or password_form.errors) else 200
    return render_template("auth/account.html", form=form, password_form=password_form), status


@bp.route("/reauthenticate", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def reauthenticate() -> str | Response | tuple[str, int]:
    """Confirm the password before a sensitive action (export, consent, account changes)."""
    form = ReauthenticateForm()
    if form.validate_on_submit():
        if verify_password(current_user.password_hash, form.password.data):
            mark_login()
            return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
        form.password.errors.append(_("This is not your current password."))
    return render_template("auth/reauthenticate.html", form=form), 422 if form.errors else 200


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per minute; 20 per hour", methods=["POST"])
def forgot_password() -> str | Response | tuple[str, int]:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data,
                                        demo_mode=current_app.config["DEMO_MODE"])
        flash(_("If an account exists for this address, we sent a link to choose a new "
                "password. It works for one hour."), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def reset_password(token: str) -> str | Response | tuple[str, int]:
    try:
        services.user_for_reset(token, demo_mode=current_app.config["DEMO_MODE"])
    except ServiceError as err:
        flash(translate_error(err), "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data,
                                    demo_mode=current_app.config["DEMO_MODE"])
        except ServiceError as err:
            if not apply_service_error(form, err, translate_error(err)):
                flash(translate_error(err), "error")
            return render_template("auth/reset.html", form=form), err.status
        flash(_("Your password is changed. Log in with the new one."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form), 422 if form.errors else 200
