from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from matchmaker.campaigns.forms import MultiCheckboxField
from matchmaker.fibre.models import ExclusionReason, Grouping
from matchmaker.web.forms import LocalDecimalField, choices
from matchmaker.web.validators import plausible_date

PERCENT, COUNT = "percent", "count"


def threshold_kind_choices() -> list:
    return choices([(PERCENT, _l("percentage of the addresses in each area")),
                    (COUNT, _l("number of addresses"))])


def grouping_choices() -> list:
    return choices([(Grouping.PER_AREA.value, _l("per area: each area decides on its own")),
                    (Grouping.TOGETHER.value, _l("all areas together"))])


def reason_choices() -> list:
    return choices([
        (ExclusionReason.VACANT.value, _l("vacant")),
        (ExclusionReason.DEMOLISHED.value, _l("demolished")),
        (ExclusionReason.CONNECTED.value, _l("already connected to fibre")),
        (ExclusionReason.OTHER.value, _l("other (say why)")),
    ])


class CheckForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        description=_l("For example: Fibre business parks Assen 2027."))
    provider_id = SelectField(_l("Provider"), coerce=int, validators=[Optional()])
    threshold_kind = RadioField(_l("Threshold as"), default=PERCENT,
                                choices=threshold_kind_choices())
    threshold_value = LocalDecimalField(
        _l("Threshold"), validators=[DataRequired()],
        description=_l("For example 30 (%), or a number of addresses."))
    counted_uses = MultiCheckboxField(
        _l("Addresses that count"),
        description=_l("Nothing ticked: every address from the register that is not only a "
                       "home (the usual count for business parks)."))
    deadline = DateField(_l("Deadline"), validators=[DataRequired(), plausible_date],
                         description=_l("The check runs until the end of this day (Dutch time)."))
    grouping = RadioField(_l("Decision"), default=Grouping.PER_AREA.value,
                          choices=grouping_choices())
    area_ids = MultiCheckboxField(_l("Areas"), coerce=int)
    polygon = HiddenField()


class WhatIfForm(FlaskForm):
    """Query-string options of the what-if (GET, changes nothing: no CSRF token)."""

    class Meta:
        csrf = False

    threshold_kind = SelectField(_l("Threshold as"), choices=threshold_kind_choices(),
                                 validators=[Optional()])
    threshold_value = LocalDecimalField(_l("Threshold"), validators=[Optional()])
    grouping = SelectField(_l("Decision"), choices=grouping_choices(), validators=[Optional()])
    group = MultiCheckboxField(_l("Take these areas together"), coerce=int,
                               validators=[Optional()])

    def validate_threshold_value(self, field: LocalDecimalField) -> None:
        """The same limits as a check's own threshold, said next to the field."""
        value = field.data
        if value is None:
            return
        if self.threshold_kind.data == COUNT:
            if value < 1 or value != value.to_integral_value():
                raise ValidationError(_l("Enter a whole number of addresses from 1."))
        elif not 0 < value <= 100:
            raise ValidationError(_l("Enter a percentage above 0 and at most 100."))


class ExclusionForm(FlaskForm):
    postcode = StringField(_l("Postcode"), validators=[DataRequired(), Length(max=10)])
    house_number = StringField(_l("House number"), validators=[DataRequired(), Length(max=12)])
    reason = SelectField(_l("Reason"), choices=reason_choices())
    note = StringField(_l("Note"), validators=[Optional(), Length(max=300)])


class ConsentForm(FlaskForm):
    provider_id = SelectField(_l("Provider"), coerce=int, validators=[DataRequired()])


class ActionForm(FlaskForm):
    """Only the CSRF token: the action is in the URL."""
