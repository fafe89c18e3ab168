from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from matchmaker.members.models import LegalForm
from matchmaker.web.forms import choices


def legal_form_choices() -> list[SelectChoice]:
    labels = {
        LegalForm.BV: _l("Private limited company (B.V.)"),
        LegalForm.NV: _l("Public limited company (N.V.)"),
        LegalForm.VOF: _l("General partnership (V.O.F.)"),
        LegalForm.CV: _l("Limited partnership (C.V.)"),
        LegalForm.SOLE_TRADER: _l("Sole trader (eenmanszaak)"),
        LegalForm.PARTNERSHIP: _l("Professional partnership (maatschap)"),
        LegalForm.FOUNDATION: _l("Foundation (stichting)"),
        LegalForm.ASSOCIATION: _l("Association (vereniging)"),
        LegalForm.COOPERATIVE: _l("Cooperative (coöperatie)"),
        LegalForm.OTHER: _l("Other"),
    }
    return choices((form.value, labels[form]) for form in LegalForm)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    remember = BooleanField(_l("Keep me logged in on this device"))


class RegisterForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=256)],
        description=_l("At least 8 characters; not a common password."),
    )
    password_confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    organisation_name = StringField(_l("Company name"),
                                    validators=[DataRequired(), Length(max=200)])
    kvk_number = StringField(_l("KvK number"), validators=[DataRequired(), Length(max=20)],
                             description=_l("8 digits, as on the KvK extract."))
    legal_form = SelectField(_l("Legal form"), validators=[DataRequired()])
    kring_id = SelectField(_l("Kring"), coerce=int, validators=[Optional()])
    contact_phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    privacy = BooleanField(
        _l("I agree that the association processes these data to bundle demand."),
        validators=[DataRequired(message=_l("Agree to continue."))],
    )


class AccountForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)],
                       description=_l("Changing it logs out your other sessions."))
    locale = SelectField(_l("Language"), choices=choices([("nl", "Nederlands"), ("en", "English")]))


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    new_password_confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )


class LanguageForm(FlaskForm):
    lang = SelectField(choices=choices([("nl", "Nederlands"), ("en", "English")]))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)],
                                 description=_l("At least 8 characters; not a common password."))
    new_password_confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )


class ReauthenticateForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class ActionForm(FlaskForm):
    """Only the CSRF token: the action is the button (confirming an address)."""
