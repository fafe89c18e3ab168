from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField

from matchmaker.bundles.services import DEFAULT_GAP_M, MAX_GAP_M, MIN_GAP_M
from matchmaker.demand.models import Stage
from matchmaker.register.models import AreaKind
from matchmaker.web.forms import (
    AREA_KIND_LABELS,
    InRange,
    LocalFloatField,
    choices,
    number_required,
)


class BundleFilterForm(FlaskForm):
    """Query-string filters of the bundles page (GET, changes nothing: no CSRF token)."""

    class Meta:
        csrf = False

    product = SelectField(_l("Product"), default="solar_roof")
    gap = LocalFloatField(
        _l("Maximum gap (m)"), default=DEFAULT_GAP_M,
        validators=[number_required, InRange(MIN_GAP_M, MAX_GAP_M)],
        description=_l("Sites belong to one bundle when a chain of neighbours, each at most "
                       "this far from the next, connects them."),
    )
    stage = SelectField(_l("Stage"), default="", choices=choices([
        ("", _l("all except withdrawn")),
        (Stage.INTEREST.value, _l("interested")),
        (Stage.COMMITTED.value, _l("committed")),
    ]))
    kring_id = SelectField(_l("Kring"), coerce=int, default=0)
    area_kind = SelectField(_l("Totals per"), default=AreaKind.PARK.value,
                            choices=choices(AREA_KIND_LABELS.items()))


class MultiProductForm(FlaskForm):
    class Meta:
        csrf = False

    gap = LocalFloatField(_l("Maximum gap (m)"), default=DEFAULT_GAP_M,
                          validators=[number_required, InRange(MIN_GAP_M, MAX_GAP_M)])
