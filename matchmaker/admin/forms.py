from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField

from matchmaker.auth.models import Role
from matchmaker.forms import choices


def role_choices() -> list[SelectChoice]:
    labels = {Role.MEMBER: _l("member"), Role.COORDINATOR: _l("coordinator"),
              Role.PROVIDER: _l("provider"), Role.ADMIN: _l("admin")}
    return choices((r.value, labels[r]) for r in Role)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"))


class ActiveForm(FlaskForm):
    """Only the CSRF token: the action is in the URL."""
