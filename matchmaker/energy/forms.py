from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, SelectField
from wtforms.validators import Optional

from geo.profiles import CATEGORIES
from matchmaker.energy.models import AssetKind
from matchmaker.energy.services import DEFAULT_DISTANCE_M, MAX_DISTANCE_M
from matchmaker.web.forms import InRange, LocalFloatField, choices, number_required

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
