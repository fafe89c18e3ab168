from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from matchmaker.energy.forms import KIND_LABELS
from matchmaker.hub.models import HubSource, PlanOrder
from matchmaker.web.forms import LocalFloatField, OptionalIntegerField, choices

SOURCE_LABELS = {
    HubSource.PARK.value: _l("a business park"),
    HubSource.KRING.value: _l("a kring"),
    HubSource.BUNDLE.value: _l("the sites near one site (distance bundle)"),
    HubSource.AREA.value: _l("an area drawn on the map"),
    HubSource.MANUAL.value: _l("site by site"),
}
ORDER_LABELS = {
    PlanOrder.WAITING.value: _l("longest waiting first, then the smaller plan"),
    PlanOrder.SIZE.value: _l("the smaller plan first, then the longest waiting"),
    PlanOrder.YEAR.value: _l("the earliest year first, then the smaller plan"),
}

PROFILE_SOURCES = {"measured": _l("measured"), "estimated": _l("estimated")}
CONTRACT_SOURCES = {"contract": _l("contract"), "connection": _l("connection size"),
                    "own_peak": _l("own peak (no contract given)")}


def result_labels() -> dict[str, dict[str, object]]:
    """The words the result tables use (the hub page, the printable summary)."""
    return {"kind_labels": KIND_LABELS, "profile_sources": PROFILE_SOURCES,
            "contract_sources": CONTRACT_SOURCES}


class NewHubForm(FlaskForm):
    name = StringField(_l("Name of the hub"), validators=[DataRequired(), Length(max=200)])
    source = RadioField(_l("Sites from"), default=HubSource.PARK.value,
                        choices=choices(SOURCE_LABELS.items()))
    park_id = SelectField(_l("Business park"), coerce=int, validators=[Optional()])
    kring_id = SelectField(_l("Kring"), coerce=int, validators=[Optional()])
    postcode = StringField(_l("Postcode of a site in the bundle"),
                           validators=[Optional(), Length(max=10)])
    house_number = OptionalIntegerField(_l("House number"))
    max_gap_m = LocalFloatField(_l("Largest step between neighbouring sites (m)"), default=250.0,
                                validators=[Optional()])
    polygon = HiddenField()


class AddSiteForm(FlaskForm):
    postcode = StringField(_l("Postcode"), validators=[DataRequired(), Length(max=10)])
    house_number = OptionalIntegerField(_l("House number"), validators=[InputRequired()])


class ParametersForm(FlaskForm):
    curtail_hours = LocalFloatField(
        _l("Hours a year the group accepts to be curtailed"), default=0.0,
        validators=[InputRequired()],
        description=_l("With a capacity-limitation contract the grid operator may cap the group "
                       "for this many hours; the group then needs less capacity."))
    target_take_kw = LocalFloatField(
        _l("Target peak for a shared battery (kW)"), validators=[Optional()],
        description=_l("Empty: 0.9 × the group's peak."))
    battery_efficiency_percent = LocalFloatField(_l("Battery round-trip efficiency (%)"),
                                                 default=90.0, validators=[InputRequired()])
    plan_order = SelectField(_l("Order of the expansion plans"),
                             choices=choices(ORDER_LABELS.items()))
    max_distance_m = LocalFloatField(
        _l("Compare with energy matching within (m)"), default=1000.0, validators=[Optional()],
        description=_l("Empty: no comparison (it takes longest)."))


class ConsentForm(FlaskForm):
    consent_profile = BooleanField()
    consent_name = BooleanField()


class ActionForm(FlaskForm):
    """A button (CSRF only)."""
