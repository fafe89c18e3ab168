from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from matchmaker.auth.models import Role
from matchmaker.register.models import AreaKind
from matchmaker.web.forms import AREA_KIND_LABELS, choices


def role_choices() -> list[SelectChoice]:
    labels = {Role.MEMBER: _l("member"), Role.COORDINATOR: _l("coordinator"),
              Role.PROVIDER: _l("provider"), Role.ADMIN: _l("admin")}
    return choices((r.value, labels[r]) for r in Role)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"))


class ActiveForm(FlaskForm):
    """Only the CSRF token: the action is in the URL."""


class TokenForm(FlaskForm):
    user_id = SelectField(_l("Provider account"), coerce=int)
    name = StringField(_l("What the token is for"), validators=[Optional(), Length(max=100)],
                       description=_l("For example: planning system of the provider."))


def staff_role_choices() -> list[SelectChoice]:
    return [c for c in role_choices() if c.value != Role.MEMBER.value]


class NewAccountForm(FlaskForm):
    """A staff or provider account; its owner chooses the password through an e-mailed link."""

    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Role"), default=Role.COORDINATOR.value)


class UserSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)],
                    description=_l("Part of an e-mail address, name or company name."))
    role = SelectField(_l("Role"), default="", validators=[Optional()])


class AddressImportForm(FlaskForm):
    file = FileField(_l("Register file (CSV or GeoPackage)"),
                     validators=[FileRequired(_l("Choose a file."))])
    layer = StringField(_l("GeoPackage layer (optional)"), validators=[Optional(), Length(max=100)])
    crs = StringField(_l("CRS when the file declares none (optional)"),
                      validators=[Optional(), Length(max=40)], description="EPSG:28992")
    prune = BooleanField(_l("Delete register records that are not in this file (full "
                            "re-import)"))


class AreaImportForm(FlaskForm):
    file = FileField(_l("Areas file (GeoJSON or GeoPackage)"),
                     validators=[FileRequired(_l("Choose a file."))])
    area_kind = SelectField(_l("Kind of areas"), default=AreaKind.PARK.value,
                            choices=choices(AREA_KIND_LABELS.items()))
    name_column = StringField(_l("Column with the name (optional)"),
                              validators=[Optional(), Length(max=100)],
                              description=_l("Default: name, naam, statnaam, buurtnaam, ..."))
    code_column = StringField(_l("Column with a code (optional)"),
                              validators=[Optional(), Length(max=100)])
    layer = StringField(_l("GeoPackage layer (optional)"), validators=[Optional(), Length(max=100)])
    crs = StringField(_l("CRS when the file declares none (optional)"),
                      validators=[Optional(), Length(max=40)], description="EPSG:28992")
