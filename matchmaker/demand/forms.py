from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from matchmaker.demand.models import Stage
from matchmaker.web.forms import choices


class OverviewFilterForm(FlaskForm):
    """Filters in the query string (GET, nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)],
                    render_kw={"placeholder": _l("company, street or postcode")})
    product = SelectField(_l("Product"), default="")
    kring_id = SelectField(_l("Kring"), coerce=int, default=0)
    area_id = SelectField(_l("Area"), coerce=int, default=0)
    stage = SelectField(_l("Stage"), default="", choices=choices([
        ("", _l("all except withdrawn")),
        (Stage.INTEREST.value, _l("interested")),
        (Stage.COMMITTED.value, _l("committed")),
        (Stage.WITHDRAWN.value, _l("withdrawn")),
    ]))
