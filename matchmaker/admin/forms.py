from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from matchmaker.auth.models import Role
from matchmaker.web.forms import choices


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
