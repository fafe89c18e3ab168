from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField
from wtforms.validators import Optional

from matchmaker.heat.services import DEFAULT_GAP_M
from matchmaker.web.forms import InRange, LocalFloatField, choices, number_required

MONTHS = [_l("January"), _l("February"), _l("March"), _l("April"), _l("May"), _l("June"),
          _l("July"), _l("August"), _l("September"), _l("October"), _l("November"),
          _l("December")]


class HeatForm(FlaskForm):
    source_mwh = LocalFloatField(_l("Waste heat you could give (MWh per year)"),
                                 validators=[Optional()],
                                 description=_l("From cooling, processes or servers."))
    source_temperature_c = LocalFloatField(_l("Temperature of that heat (°C)"),
                                           validators=[Optional()])
    source_months = SelectMultipleField(_l("Months it is available"), coerce=int,
                                        choices=choices((i + 1, m) for i, m in enumerate(MONTHS)),
                                        description=_l("Leave empty for the whole year."))
    sink_mwh = LocalFloatField(_l("Heat you use (MWh per year)"), validators=[Optional()])
    sink_gas_m3 = LocalFloatField(
        _l("…or your gas use (m³ per year)"), validators=[Optional()],
        description=_l("Converted with 31.65 MJ/m³ and a boiler efficiency of 90 %: "
                       "about 7.9 kWh of heat per m³."))
    sink_temperature_class = SelectField(_l("Temperature your building needs"),
                                         default="medium", choices=choices([
                                             ("low", _l("low (about 40 °C, floor heating)")),
                                             ("medium", _l("medium (about 55 °C)")),
                                             ("high", _l("high (about 70 °C, old radiators)")),
                                         ]))
    share_name = BooleanField(_l("Others in a candidate network may see our company name"))


class HeatFilterForm(FlaskForm):
    class Meta:
        csrf = False

    gap = LocalFloatField(_l("Maximum gap (m)"), default=DEFAULT_GAP_M,
                          validators=[number_required, InRange(10, 5000)])
    detour = LocalFloatField(_l("Street detour factor"), default=1.3,
                             validators=[number_required, InRange(1, 3)],
                             description=_l("Trench length = minimum spanning tree × this "
                                            "factor, because pipes follow streets."))
