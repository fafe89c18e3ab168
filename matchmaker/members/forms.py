from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import HiddenInput

from matchmaker.demand.models import Stage
from matchmaker.members.models import ENERGY_LABELS, Tenure
from matchmaker.web.forms import (
    InRange,
    LocalDecimalField,
    LocalFloatField,
    OptionalIntegerField,
    choices,
    greater_than_zero,
    not_negative,
    number_required,
)


class OrganisationForm(FlaskForm):
    name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    kvk_number = StringField(_l("KvK number"), validators=[DataRequired(), Length(max=20)])
    legal_form = SelectField(_l("Legal form"), validators=[DataRequired()])
    kring_id = SelectField(_l("Kring"), coerce=int, validators=[Optional()])
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=120)])
    contact_email = StringField(_l("Contact e-mail"), validators=[Optional(), Length(max=254)])
    contact_phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])


class SiteAttributesForm(FlaskForm):
    label = StringField(_l("Name of the site"), validators=[Optional(), Length(max=120)],
                        description=_l("For example: main building, warehouse."))
    floor_area_m2 = LocalFloatField(_l("Floor area (m²)"), validators=[Optional(), not_negative])
    office_area_m2 = LocalFloatField(_l("Office area (m²)"), validators=[Optional(), not_negative])
    flat_roof_area_m2 = LocalFloatField(_l("Flat roof area (m²)"),
                                        validators=[Optional(), not_negative])
    energy_label = SelectField(_l("Energy label"),
                               choices=choices([("", _l("unknown"))] + [(v, v) for v in ENERGY_LABELS]))
    year_built = OptionalIntegerField(
        _l("Year of construction"), validators=[Optional(), InRange(1500, 2100, grouping=False)]
    )
    tenure = SelectField(_l("Owner or tenant"), choices=choices([
        (Tenure.OWNER.value, _l("We own the building")),
        (Tenure.TENANT.value, _l("We rent the building")),
    ]))
    grid_connection = StringField(_l("Grid connection"), validators=[Optional(), Length(max=20)],
                                  description=_l("For example 3x80A or 160 kVA."))


class NewSiteForm(SiteAttributesForm):
    postcode = StringField(_l("Postcode"), validators=[DataRequired(), Length(max=10)])
    house_number = StringField(_l("House number"), validators=[DataRequired(), Length(max=12)])
    addition = StringField(_l("Addition"), validators=[Optional(), Length(max=10)])
    street = StringField(_l("Street"), validators=[Optional(), Length(max=200)])
    city = StringField(_l("Town"), validators=[Optional(), Length(max=100)])
    lat = HiddenField()
    lon = HiddenField()


class DemandForm(FlaskForm):
    quantity = LocalDecimalField(_l("Quantity"), validators=[number_required, greater_than_zero])
    quantity_min = LocalDecimalField(_l("At least"), validators=[Optional()])
    quantity_max = LocalDecimalField(_l("At most"), validators=[Optional()])
    stage = SelectField(_l("Stage"), choices=choices([
        (Stage.INTEREST.value, _l("Interested (not binding)")),
        (Stage.COMMITTED.value, _l("Committed")),
    ]))
    consent_providers = BooleanField(
        _l("Providers may see my company name and address for this demand")
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=500)])
    # The version the member saw (optimistic locking); only tampering makes it invalid.
    version = OptionalIntegerField(widget=HiddenInput(), validators=[Optional()])


class EraseForm(FlaskForm):
    confirm_name = StringField(_l("Type the company name to confirm"),
                               validators=[DataRequired(), Length(max=200)])
