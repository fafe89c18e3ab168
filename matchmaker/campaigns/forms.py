from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from matchmaker.campaigns.models import InviteBy
from matchmaker.campaigns.pricing import Tier
from matchmaker.web.forms import (
    InRange,
    LocalDecimalField,
    OptionalIntegerField,
    choices,
    greater_than_zero,
    number_required,
)
from matchmaker.web.validators import plausible_date

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")


def to_utc(local: datetime) -> datetime:
    """A wall-clock time in Amsterdam (as typed) as an aware UTC datetime."""
    return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def to_local(moment: datetime) -> datetime:
    """An aware datetime as naive Amsterdam wall-clock time (for form fields)."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None)


def end_of_day_utc(day: Any) -> datetime:
    """The last moment of a calendar day in Amsterdam, as UTC (validity "until 31 May")."""
    start = datetime.combine(day, time(0, 0), tzinfo=LOCAL_TZ) + timedelta(days=1)
    return (start - timedelta(seconds=1)).astimezone(UTC)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TierForm(Form):
    """One row of a tier table; both cells empty means no tier."""

    min_volume = LocalDecimalField(_l("From volume"), validators=[Optional()])
    unit_price = LocalDecimalField(_l("Unit price (€)"), validators=[Optional()])


def tiers_from(entries: FieldList) -> tuple[list[Tier], str | None]:
    """The filled rows as tiers, or an error message for a half-filled row."""
    tiers = []
    for entry in entries:
        low, price = entry.form.min_volume.data, entry.form.unit_price.data
        if low is None and price is None:
            continue
        if low is None or price is None:
            return [], str(_l("Fill in both the volume and the unit price of each tier."))
        tiers.append(Tier(Decimal(low), Decimal(price)))
    return tiers, None


def fill_tiers(entries: FieldList, tiers: list[Tier]) -> None:
    for entry, tier in zip(entries, tiers, strict=False):
        entry.form.min_volume.data = tier.min_volume.normalize()
        entry.form.unit_price.data = tier.unit_price.normalize()


class CampaignForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        description=_l("For example: Solar roofs Messchenveld 2027."))
    product = SelectField(_l("Product"), validators=[DataRequired()])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)],
                                description=_l("What is bought, for whom, and how it works."))
    area_ids = MultiCheckboxField(_l("Areas"), coerce=int)
    polygon = HiddenField()
    registration_deadline = DateTimeLocalField(
        _l("Registration deadline"), format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(), plausible_date],
        description=_l("Dutch time. Members can join, change and withdraw until then."))
    decision_days = IntegerField(
        _l("Decision window (days)"), default=14, validators=[number_required, InRange(1, 90)],
        description=_l("How long members have to accept their personal offer."))
    threshold_quantity = LocalDecimalField(
        _l("Threshold: minimum total quantity"), validators=[Optional()],
        description=_l("The group buy goes ahead only when the accepted quantity reaches it."))
    threshold_sites = OptionalIntegerField(_l("Threshold: minimum number of sites"),
                                           validators=[Optional(), InRange(1, 100000)])
    capacity_quantity = LocalDecimalField(
        _l("Maximum capacity (optional)"), validators=[Optional()],
        description=_l("No more registrations once this total quantity is reached."))
    allow_late_joiners = BooleanField(
        _l("Allow late joiners after the deadline (marked as late)"))
    invite_by = RadioField(_l("Invite"), default=InviteBy.AREA.value, choices=choices([
        (InviteBy.AREA.value, _l("every member with a site in the areas")),
        (InviteBy.DEMAND.value, _l("members who registered demand for this product there")),
        (InviteBy.LABEL_C.value, _l("sites there flagged \"label C required\"")),
    ]))
    tiers = FieldList(FormField(TierForm), min_entries=4, max_entries=10)


class ExtendForm(FlaskForm):
    """An open campaign: a later deadline, late joiners, the description."""

    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    registration_deadline = DateTimeLocalField(
        _l("Registration deadline"), format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(), plausible_date])
    allow_late_joiners = BooleanField(
        _l("Allow late joiners after the deadline (marked as late)"))


class JoinForm(FlaskForm):
    quantity = LocalDecimalField(_l("Quantity"), validators=[number_required, greater_than_zero])
    quantity_min = LocalDecimalField(_l("At least"), validators=[Optional()])
    quantity_max = LocalDecimalField(_l("At most"), validators=[Optional()])


class ActionForm(FlaskForm):
    """Only the CSRF token: the action is in the URL."""


class CloseEarlyForm(FlaskForm):
    close_early = BooleanField(_l("Close registration now"))


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason (sent to everyone taking part)"),
                           validators=[DataRequired(), Length(max=500)])


class SupplierForm(FlaskForm):
    supplier_id = SelectField(_l("Supplier"), coerce=int, validators=[DataRequired()])


class BidForm(FlaskForm):
    tiers = FieldList(FormField(TierForm), min_entries=5, max_entries=10)
    fixed_cost_per_site = LocalDecimalField(
        _l("Fixed cost per site (€)"), default=Decimal(0), validators=[Optional()],
        description=_l("For example survey, scaffolding or connection, per site."))
    conditions = TextAreaField(_l("Conditions"), validators=[Optional(), Length(max=5000)],
                               description=_l("Delivery time, warranty, what is included."))
    valid_until = DateField(_l("Valid until"), validators=[InputRequired(), plausible_date])


class ConsentRequestForm(FlaskForm):
    kvk_number = StringField(_l("Owner's KvK number (if the owner is a member)"),
                             validators=[Optional(), Length(max=20)])
    owner_email = StringField(_l("Or the owner's e-mail address"),
                              validators=[Optional(), Length(max=254)])
