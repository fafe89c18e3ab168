from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from geo.profiles import CATEGORIES
from matchmaker.energy.models import AssetKind, Direction, ExpansionKind
from matchmaker.energy.services import DEFAULT_DISTANCE_M, MAX_DISTANCE_M
from matchmaker.web.forms import (
    InRange,
    LocalFloatField,
    OptionalIntegerField,
    choices,
    number_required,
)
from matchmaker.web.validators import plausible_date

CATEGORY_LABELS = {
    "g0": _l("Business in general"),
    "g1": _l("Office or workshop, weekdays 8–18"),
    "g2": _l("Mainly in the evening"),
    "g3": _l("Around the clock"),
    "g4": _l("Shop or hairdresser"),
    "g5": _l("Bakery with a bakehouse"),
    "g6": _l("Mainly at weekends"),
    "l0": _l("Farm"),
    "l1": _l("Dairy farm"),
    "l2": _l("Other farm"),
}


class ElectricityForm(FlaskForm):
    pv_kwp = LocalFloatField(_l("Installed solar power (kWp)"), validators=[Optional()],
                             description=_l("Leave empty when you have no solar panels."))
    pv_planned = BooleanField(_l("We plan solar panels: estimate them from our flat roof"))
    tilt_deg = LocalFloatField(_l("Tilt of the panels (°)"), validators=[Optional()],
                               description=_l("15° is usual on a flat roof."))
    azimuth_deg = LocalFloatField(_l("Orientation (°, 180 = south)"), validators=[Optional()])
    feed_in_limit_kw = LocalFloatField(
        _l("Feed-in limit (kW)"), validators=[Optional()],
        description=_l("The most your connection may deliver to the grid, if limited."))
    annual_use_kwh = LocalFloatField(_l("Electricity use per year (kWh)"),
                                     validators=[Optional()])
    profile_category = SelectField(_l("When do you use electricity?"), default="g0",
                                   choices=choices((c, CATEGORY_LABELS[c]) for c in CATEGORIES))
    share_name = BooleanField(
        _l("Matching partners may see our company name (otherwise: 'a company at 350 m')"))


class MeterUploadForm(FlaskForm):
    kind = SelectField(_l("What was measured"), choices=choices([
        (AssetKind.CONSUMPTION.value, _l("electricity use")),
        (AssetKind.PV.value, _l("solar production")),
    ]))
    file = FileField(_l("Meter data (CSV)"), validators=[
        FileRequired(_l("Choose a file.")),
        FileAllowed(["csv", "txt"], _l("Upload a CSV file.")),
    ], description=_l("Columns timestamp and kwh, one row per 15 minutes or per hour."))


#: The time steps of a run, by ``geo.profiles`` mode.
MODE_LABELS = {
    "typical_day": _l("typical day per month (12 × 24 hours)"),
    "annual": _l("yearly amounts"),
    "hourly": _l("every hour of the year (8,760 steps)"),
}


class RunForm(FlaskForm):
    mode = SelectField(_l("Time steps"), default="typical_day",
                       choices=choices(MODE_LABELS.items()))
    max_distance_m = LocalFloatField(_l("Maximum distance (m)"), default=DEFAULT_DISTANCE_M,
                                     validators=[number_required,
                                                 InRange(1, MAX_DISTANCE_M)])


# --- energy hubs: the grid connection ----------------------------------------------------------

KIND_LABELS = {
    ExpansionKind.TRUCKS.value: _l("Charging trucks or vans"),
    ExpansionKind.HEAT_PUMP.value: _l("Heat pump"),
    ExpansionKind.PROCESS.value: _l("Machine or process"),
    ExpansionKind.SOLAR.value: _l("Solar panels"),
    ExpansionKind.OTHER.value: _l("Other"),
}
DIRECTION_LABELS = {
    Direction.TAKE.value: _l("more take from the grid"),
    Direction.FEED.value: _l("more feed-in to the grid"),
}
SHAPE_LABELS = {
    "day": _l("daytime on weekdays (7–19 h)"),
    "night": _l("at night (19–7 h)"),
    "evening": _l("in the evening (17–23 h)"),
    "continuous": _l("around the clock"),
    "heat_pump": _l("around the clock, most in winter"),
    "solar": _l("with the sun"),
}


class GridContractForm(FlaskForm):
    contracted_take_kw = LocalFloatField(
        _l("Contracted take capacity (kW)"), validators=[Optional()],
        description=_l("The transport capacity for taking power in your contract with the grid "
                       "operator (gecontracteerd transportvermogen, afname)."))
    contracted_feed_kw = LocalFloatField(
        _l("Contracted feed-in capacity (kW)"), validators=[Optional()],
        description=_l("The same for feeding power into the grid (invoeding); 0 without."))
    shiftable_percent = LocalFloatField(
        _l("Share of daily use you could shift (%)"), validators=[Optional()],
        description=_l("For example cooling, charging or a batch process that could run at "
                       "another time of the same day."))
    shift_start_hour = OptionalIntegerField(_l("It may run from (hour)"))
    shift_end_hour = OptionalIntegerField(_l("until (hour)"))


class QuarterHourUploadForm(FlaskForm):
    """Prefixed: the Energie page shows the meter upload form with a ``file`` field too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "quarter")
        super().__init__(*args, **kwargs)

    file = FileField(_l("Quarter-hour data (CSV)"), validators=[
        FileRequired(_l("Choose a file.")),
        FileAllowed(["csv", "txt"], _l("Upload a CSV file.")),
    ], description=_l("A year of 15-minute values from your grid operator's portal: columns "
                      "tijdstip and afname_kwh, and invoeding_kwh if you feed in."))


class ExpansionPlanForm(FlaskForm):
    """Prefixed: the Energie page shows the meter upload form with a ``kind`` field too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "plan")
        super().__init__(*args, **kwargs)

    kind = SelectField(_l("What"), choices=choices(KIND_LABELS.items()))
    direction = SelectField(_l("Direction (for other)"), choices=choices(DIRECTION_LABELS.items()))
    kw = LocalFloatField(_l("Extra power (kW)"), validators=[InputRequired()])
    from_year = OptionalIntegerField(_l("From the year"))
    shape = SelectField(_l("When in the day"), default="", choices=choices(
        [("", _l("as usual for this kind"))] + list(SHAPE_LABELS.items())))
    waiting_since = DateField(_l("Applied at the grid operator on"),
                              validators=[Optional(), plausible_date],
                              description=_l("Leave empty if you have not applied yet."))
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
