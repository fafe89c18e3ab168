"""Energy profiles over one reference year: PV generation, standard business loads, meter data.

Every profile lives on the same time axis so that producers and consumers can be matched hour by
hour (a PV surplus at noon cannot serve a demand at night).

Time axis
    The reference year is :data:`REFERENCE_YEAR` (2023, not a leap year): 8760 consecutive real
    hours starting 2023-01-01 00:00 in Europe/Amsterdam (:func:`hourly_index`). Local time is
    chosen because load profiles follow the wall clock (an office opens at 8:00 local time, in
    summer as in winter) while the sun follows the real instant; with a time-zone-aware index
    both are evaluated at the same instants. The spring-forward hour does not exist and the
    fall-back hour occurs twice, so the year still has exactly 8760 hours.

Modes
    ``annual``: one step, the yearly amount. ``typical_day``: 12 months x 24 local clock hours
    (288 steps), each step standing for ``days`` hours (the days in that month, 365 in all).
    ``hourly``: the 8760 hours. A :class:`Profile` holds ``values`` (kWh in one occurrence of
    each step: the yearly kWh, the kWh in one typical hour, or the kWh in that hour) and
    ``weights`` (occurrences per year: 1, days in the month, 1), so that
    ``values @ weights`` is always the yearly total.

Sources of the shapes
    PV: pvlib's Ineichen/Perez clear-sky model with the Linke turbidity climatology shipped with
    pvlib (``LinkeTurbidities.h5``, read through h5py, no download), transposed to the plane of
    array (Hay-Davies), then scaled so that the year yields ``kwp x annual_yield_kwh_per_kwp``.
    Clear sky overstates the sunny hours relative to real weather; the yearly total is right by
    construction, the hourly shape is an estimate and marked ``estimated``.

    Business loads: the BDEW standard load profiles (VDEW 1999; g0-g6, l0-l2) from the data file
    that ships with demandlib (``demandlib/bdew/bdew_data/selp_series.csv``), applied with the
    published BDEW method as demandlib 0.2.2's ``ElecSlp`` does (periods winter / transition /
    summer, day types workday / Saturday / Sunday, public holidays as Sundays), with Dutch public
    holidays from ``holidays.Netherlands``. ``ElecSlp`` itself is not called: on pandas 3.1 it
    fails (it passes ``inplace=True``, deprecated by PDEP-8, right after calling
    ``warnings.simplefilter("error")``, which also turns every later warning of the whole
    process into an exception). The values equal ``ElecSlp(2023).get_scaled_profiles`` (checked
    with demandlib 0.2.2 on pandas 2.3.3 and 3.0.6) up to the DST mapping described above.
"""

from __future__ import annotations

import calendar
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

import holidays as holidays_lib
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.errors import N_, ColumnError, ParameterError, format_labels
from geo.validation import finite_non_negative

Mode = Literal["annual", "typical_day", "hourly"]
MODES: tuple[str, ...] = ("annual", "typical_day", "hourly")

#: A non-leap reference year: every profile has 8760 hours.
REFERENCE_YEAR = 2023
TIME_ZONE = "Europe/Amsterdam"
HOURS_PER_YEAR = 8760

#: Yearly PV yield in the north of the Netherlands, kWh per kWp. Source: CBS (measured range
#: 840-950 kWh/kWp; long-term Hoogeveen 839-892), see DESIGN.md section 5.
PV_YIELD_KWH_PER_KWP = 875.0
#: Flat business roofs carry low-tilt racks facing south; only the shape depends on these.
PV_TILT_DEG = 15.0
PV_AZIMUTH_DEG = 180.0
#: Sites in one cell of this many degrees (about 22 km north-south, 13 km east-west) share one
#: PV shape: within a cell the sun's timing differs by under a minute, far less than the gap
#: between a clear-sky year and real weather, and each shape costs pvlib about 0.1 s.
PV_GRID_DEG = 0.2

#: BDEW categories available from demandlib's data file (VDEW 1999 profiles).
CATEGORIES: tuple[str, ...] = ("g0", "g1", "g2", "g3", "g4", "g5", "g6", "l0", "l1", "l2")
CATEGORY_NAMES: dict[str, str] = {
    "g0": "business in general",
    "g1": "business on weekdays 8-18",
    "g2": "business mainly in the evening",
    "g3": "business around the clock",
    "g4": "shop, hairdresser",
    "g5": "bakery with a bakehouse",
    "g6": "business at weekends",
    "l0": "farm in general",
    "l1": "farm with dairy or part-time farming",
    "l2": "other farm",
}

#: BDEW periods (first month, first day, last month, last day), as in demandlib.
_PERIODS: tuple[tuple[str, int, int, int, int], ...] = (
    ("winter", 1, 1, 3, 20),
    ("transition", 3, 21, 5, 14),
    ("summer", 5, 15, 9, 14),
    ("transition", 9, 15, 10, 31),
    ("winter", 11, 1, 12, 31),
)
_PERIOD_NAMES = ("winter", "transition", "summer")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Profile:
    """Energy per time step for one site (1-D ``values``) or many (2-D, one row per site).

    ``values[..., s]`` is the kWh in one occurrence of step ``s``; ``weights[s]`` is how often the
    step occurs in a year; ``values @ weights`` is the yearly kWh (:attr:`annual_kwh`).
    ``source`` is ``"estimated"`` (a standard shape scaled to a yearly amount) or ``"measured"``
    (meter data). ``kind`` names the shape (``"pv"``, a BDEW category, ``"measured"``).
    """

    values: FloatArray
    weights: FloatArray
    mode: str
    source: Literal["estimated", "measured"]
    kind: str
    #: Measured data only: the missing intervals ``(first missing, first present again)``.
    gaps: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = field(default=())
    #: Measured data only: reference-year hours filled with the month x hour mean.
    filled_hours: int = 0

    @property
    def n_steps(self) -> int:
        return int(self.weights.shape[0])

    @property
    def annual_kwh(self) -> FloatArray | float:
        total = self.values @ self.weights
        return float(total) if np.ndim(total) == 0 else np.asarray(total, dtype=float)


# --- time axes -------------------------------------------------------------------------------


def days_per_month(year: int = REFERENCE_YEAR) -> npt.NDArray[np.int64]:
    """Days in each month of ``year``.

    >>> days_per_month().tolist()[:3], int(days_per_month().sum())
    ([31, 28, 31], 365)
    """
    return np.array([calendar.monthrange(year, m)[1] for m in range(1, 13)], dtype=np.int64)


def typical_day_steps() -> pd.DataFrame:
    """The 288 steps of a typical-day profile: ``month`` (1-12), ``hour`` (0-23), ``days``.

    Step ``s`` is month ``s // 24 + 1`` at local clock hour ``s % 24``; it stands for ``days``
    hours of the reference year, so the weights add up to 8760 hours.

    >>> steps = typical_day_steps()
    >>> len(steps), int(steps["days"].sum()), steps.iloc[25].tolist()
    (288, 8760, [2, 1, 28])
    """
    month = np.repeat(np.arange(1, 13), 24)
    hour = np.tile(np.arange(24), 12)
    return pd.DataFrame({"month": month, "hour": hour, "days": days_per_month()[month - 1]})


def hourly_index(year: int = REFERENCE_YEAR) -> pd.DatetimeIndex:
    """The hours of ``year`` in Europe/Amsterdam, each labelled by its start (8760 if not leap).

    >>> idx = hourly_index()
    >>> len(idx), str(idx[0]), str(idx[-1])
    (8760, '2023-01-01 00:00:00+01:00', '2023-12-31 23:00:00+01:00')
    """
    start = pd.Timestamp(year=year, month=1, day=1, tz=TIME_ZONE)
    end = pd.Timestamp(year=year + 1, month=1, day=1, tz=TIME_ZONE)
    return pd.date_range(start, end, freq="h", inclusive="left", name="hour")


def step_weights(mode: str) -> FloatArray:
    """How often each step of ``mode`` occurs in the reference year.

    >>> step_weights("annual").tolist(), int(step_weights("typical_day").sum())
    ([1.0], 8760)
    """
    _check_mode(mode)
    if mode == "annual":
        return np.ones(1)
    if mode == "typical_day":
        return np.asarray(typical_day_steps()["days"].to_numpy(dtype=float), dtype=np.float64)
    return np.ones(HOURS_PER_YEAR)


def step_hours(mode: str) -> float:
    """Hours in one occurrence of a step: 8760 for ``annual``, else 1 (a feed-in limit in kW
    times this is the most a producer can deliver in one step)."""
    _check_mode(mode)
    return float(HOURS_PER_YEAR) if mode == "annual" else 1.0


def aggregate(hourly: npt.ArrayLike, *, mode: str) -> FloatArray:
    """Aggregate kWh per reference-year hour (last axis 8760) to the steps of ``mode``.

    The yearly total is kept exactly: a typical-day step is the month's energy in that clock
    hour divided by the days in the month (in March and October the DST hour has one sample
    fewer or more than the month has days, so this is not quite the mean of the samples).

    >>> ones = np.ones(8760)
    >>> float(aggregate(ones, mode="annual")[0]), aggregate(ones, mode="typical_day").shape
    (8760.0, (288,))
    """
    _check_mode(mode)
    values = np.asarray(hourly, dtype=float)
    if values.shape[-1] != HOURS_PER_YEAR:
        raise ParameterError(
            N_("An hourly profile needs %(expected)s values per site; got %(got)s."),
            expected=HOURS_PER_YEAR, got=values.shape[-1],
        )
    if mode == "hourly":
        return values.copy()
    if mode == "annual":
        return np.asarray(values.sum(axis=-1, keepdims=True), dtype=np.float64)
    step = _typical_day_step_of_hour()
    flat = values.reshape(-1, HOURS_PER_YEAR)
    order = np.argsort(step, kind="stable")
    bounds = np.searchsorted(step[order], np.arange(289))
    out = np.add.reduceat(flat[:, order], bounds[:-1], axis=1)
    out /= step_weights("typical_day")
    return out.reshape(values.shape[:-1] + (288,))


@cache
def _typical_day_step_of_hour() -> npt.NDArray[np.int64]:
    idx = hourly_index()
    return np.asarray((idx.month.to_numpy() - 1) * 24 + idx.hour.to_numpy(), dtype=np.int64)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ParameterError(
            N_("mode must be one of %(modes)s; got %(mode)s."), modes=", ".join(MODES), mode=mode
        )


# --- PV --------------------------------------------------------------------------------------


def pv_profile(
    *,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    kwp: npt.ArrayLike,
    annual_yield_kwh_per_kwp: float = PV_YIELD_KWH_PER_KWP,
    tilt: float = PV_TILT_DEG,
    azimuth: float = PV_AZIMUTH_DEG,
    mode: str = "hourly",
) -> Profile:
    """PV generation of installations of ``kwp`` at ``lon``/``lat`` (WGS84 degrees).

    Scalars give a 1-D profile, arrays one row per installation. The yearly total is exactly
    ``kwp * annual_yield_kwh_per_kwp``; the shape comes from a clear-sky year (see the module
    docstring), computed once per cell of :data:`PV_GRID_DEG` degrees.

    >>> p = pv_profile(lon=6.56, lat=52.99, kwp=10.0, mode="typical_day")
    >>> round(p.annual_kwh, 6), p.values.shape, p.source
    (8750.0, (288,), 'estimated')
    >>> float(p.values[0]) == 0.0 and float(p.values[12]) > 0  # January, midnight and noon
    True
    """
    _check_mode(mode)
    kwp_a = np.asarray(kwp, dtype=float)
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    scalar = kwp_a.ndim == 0 and lon_a.ndim == 0
    kwp_a, lon_a, lat_a = np.broadcast_arrays(np.atleast_1d(kwp_a), np.atleast_1d(lon_a),
                                              np.atleast_1d(lat_a))
    finite_non_negative(kwp_a, name="kwp")
    if not (np.isfinite(annual_yield_kwh_per_kwp) and annual_yield_kwh_per_kwp >= 0):
        raise ParameterError(
            N_("annual_yield_kwh_per_kwp must be a non-negative number; got %(value)s."),
            value=annual_yield_kwh_per_kwp,
        )
    if not (np.all(np.isfinite(lon_a)) and np.all(np.isfinite(lat_a))
            and np.all(np.abs(lat_a) <= 90) and np.all(np.abs(lon_a) <= 180)):
        raise ParameterError(N_("PV sites need finite longitude and latitude in degrees."))
    cells = np.round(np.column_stack([lon_a, lat_a]) / PV_GRID_DEG).astype(np.int64)
    unique, inverse = np.unique(cells, axis=0, return_inverse=True)
    shapes = np.vstack([
        aggregate(_pv_shape(int(c[0]), int(c[1]), float(tilt), float(azimuth)), mode=mode)
        for c in unique
    ])
    values = (kwp_a * annual_yield_kwh_per_kwp)[:, None] * shapes[inverse.ravel()]
    return Profile(
        values=values[0] if scalar else values, weights=step_weights(mode), mode=mode,
        source="estimated", kind="pv",
    )


@lru_cache(maxsize=512)  # 70 kB each
def _pv_shape(cell_lon: int, cell_lat: int, tilt: float, azimuth: float) -> FloatArray:
    """Clear-sky plane-of-array irradiation per reference hour at a grid cell, summing to 1."""
    import pvlib  # imported here: only PV profiles need it (and it takes a while to import)

    lon = cell_lon * PV_GRID_DEG
    lat = cell_lat * PV_GRID_DEG
    # Evaluate each hour at its middle so that the hour's energy is its mean power.
    times = hourly_index() + pd.Timedelta(minutes=30)
    doy = times.tz_convert("UTC").day_of_year.to_numpy()
    solpos = pvlib.solarposition.get_solarposition(times, lat, lon)
    with warnings.catch_warnings():
        # pvlib 0.16's turbidity interpolation reads DatetimeIndex.dayofyear, deprecated in
        # pandas 3.1; harmless (same numbers), and only this message is silenced.
        warnings.filterwarnings(
            "ignore", message=r"DatetimeIndex\.dayofyear is deprecated", category=DeprecationWarning
        )
        turbidity = pvlib.clearsky.lookup_linke_turbidity(times, lat, lon).to_numpy()
    altitude = float(pvlib.location.lookup_altitude(lat, lon))
    dni_extra = np.asarray(pvlib.irradiance.get_extra_radiation(doy), dtype=float)
    zenith = solpos["apparent_zenith"].to_numpy()
    airmass = pvlib.atmosphere.get_absolute_airmass(
        pvlib.atmosphere.get_relative_airmass(zenith), pvlib.atmosphere.alt2pres(altitude)
    )
    with np.errstate(divide="ignore", invalid="ignore"):  # night: cos(zenith) = 0, NaN airmass
        clear = pvlib.clearsky.ineichen(zenith, airmass, turbidity, altitude, dni_extra)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt, azimuth, zenith, solpos["azimuth"].to_numpy(),
        np.nan_to_num(clear["dni"]), np.nan_to_num(clear["ghi"]), np.nan_to_num(clear["dhi"]),
        dni_extra=dni_extra, model="haydavies",
    )
    power = np.clip(np.nan_to_num(np.asarray(poa["poa_global"], dtype=float)), 0.0, None)
    return np.asarray(power / power.sum(), dtype=np.float64)


# --- business loads --------------------------------------------------------------------------


def consumption_profile(
    *,
    annual_kwh: npt.ArrayLike,
    category: str | Sequence[str] | npt.ArrayLike = "g0",
    mode: str = "hourly",
) -> Profile:
    """Electricity use of ``annual_kwh`` per year spread over a BDEW standard load profile.

    ``category`` is one of :data:`CATEGORIES` (default ``g0``, business in general), or one per
    site. Scalars give a 1-D profile, arrays one row per site. The yearly total is exact.

    >>> p = consumption_profile(annual_kwh=[1000.0, 2000.0], category=["g0", "g1"], mode="annual")
    >>> p.values.round(9).tolist()
    [[1000.0], [2000.0]]
    >>> day = consumption_profile(annual_kwh=8760.0, category="g1", mode="typical_day").values
    >>> bool(day[10] > day[3])  # an office uses more at 10:00 than at 3:00
    True
    """
    _check_mode(mode)
    amounts = np.asarray(annual_kwh, dtype=float)
    scalar = amounts.ndim == 0
    amounts = np.atleast_1d(amounts)
    finite_non_negative(amounts, name="annual_kwh")
    cats = np.atleast_1d(np.asarray(category, dtype=object))
    cats = np.array([str(c).strip().lower() for c in cats], dtype=object)
    unknown = sorted(set(cats.tolist()) - set(CATEGORIES))
    if unknown:
        raise ParameterError(
            N_("Unknown load profile category %(category)s; use one of %(categories)s."),
            category=", ".join(unknown), categories=", ".join(CATEGORIES),
        )
    if cats.shape[0] not in (1, amounts.shape[0]):
        raise ParameterError(
            N_("Give one category or one per site (%(sites)s); got %(got)s."),
            sites=amounts.shape[0], got=cats.shape[0],
        )
    unique, inverse = np.unique(cats.astype(str), return_inverse=True)
    shapes = np.vstack([aggregate(_bdew_hourly_shape(str(c)), mode=mode) for c in unique])
    rows = shapes[np.broadcast_to(inverse.ravel(), amounts.shape)]
    values = amounts[:, None] * rows
    return Profile(
        values=values[0] if scalar else values, weights=step_weights(mode), mode=mode,
        source="estimated", kind=str(unique[0]) if unique.size == 1 else "mixed",
    )


@cache
def _bdew_table() -> npt.NDArray[np.float64]:
    """BDEW values as [category, period (winter, transition, summer), weekday 1-7, quarter]."""
    path = resources.files("demandlib.bdew").joinpath("bdew_data/selp_series.csv")
    with resources.as_file(path) as file:
        raw = pd.read_csv(file, index_col=0)
    when = pd.to_datetime(raw.index)
    quarter = (when.hour * 4 + when.minute // 15).to_numpy()
    period = raw["period"].map({p: i for i, p in enumerate(_PERIOD_NAMES)}).to_numpy()
    weekday = raw["weekday"].to_numpy(dtype=np.int64) - 1
    table = np.full((len(CATEGORIES), 3, 7, 96), np.nan)
    for k, cat in enumerate(CATEGORIES):
        table[k, period, weekday, quarter] = raw[cat].to_numpy(dtype=float)
    if np.isnan(table).any():
        raise RuntimeError("demandlib's BDEW data file is incomplete")  # pragma: no cover
    return table


def bdew_quarter_hours(category: str, *, year: int = REFERENCE_YEAR) -> FloatArray:
    """The BDEW profile of ``category`` on the naive local quarter hours of ``year``, summing
    to 1 (the same numbers as demandlib's ``ElecSlp(year, holidays=...)``)."""
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    weekday = days.day_of_week.to_numpy() + 1
    dutch = holidays_lib.country_holidays("NL", years=year)
    is_holiday = np.array([d in dutch for d in days.date])
    weekday[is_holiday] = 7  # BDEW: public holidays count as Sundays
    month = days.month.to_numpy()
    day = days.day.to_numpy()
    key = month * 100 + day
    period = np.zeros(len(days), dtype=np.int64)
    for name, m0, d0, m1, d1 in _PERIODS:
        inside = (key >= m0 * 100 + d0) & (key <= m1 * 100 + d1)
        period[inside] = _PERIOD_NAMES.index(name)
    table = _bdew_table()[CATEGORIES.index(category)]
    quarters = table[period, weekday - 1, :].ravel()
    return np.asarray(quarters / quarters.sum(), dtype=np.float64)


@cache
def _bdew_hourly_shape(category: str) -> FloatArray:
    naive = bdew_quarter_hours(category).reshape(-1, 4).sum(axis=1)
    # Wall-clock mapping: the skipped spring hour drops out, the repeated autumn hour repeats.
    idx = hourly_index()
    position = (idx.day_of_year.to_numpy() - 1) * 24 + idx.hour.to_numpy()
    hourly = naive[position]
    return np.asarray(hourly / hourly.sum(), dtype=np.float64)


# --- measured data ---------------------------------------------------------------------------


def measured_profile(
    frame: pd.DataFrame,
    *,
    mode: str = "hourly",
    timestamp_column: str = "timestamp",
    value_column: str = "kwh",
    name: str = "meter data",
) -> Profile:
    """A profile from metered energy: one row per 15 minutes or per hour, ``kwh`` per interval.

    Timestamps mark the start of each interval. Time-zone-aware timestamps are converted to
    Europe/Amsterdam; naive ones are read as Europe/Amsterdam local time (the repeated autumn
    hour is told apart by its order). The resolution is the most common step and must be 15 or
    60 minutes. Refused: duplicate or decreasing timestamps, steps that are not a whole number
    of intervals, missing or negative values, more than a year of data, and months without any
    data. Missing intervals are reported in ``gaps``; incomplete hours are left out.

    The data are laid on the reference year by local calendar date and clock hour (29 February
    is dropped); reference hours without data get the mean of the same month and clock hour
    (``filled_hours``). Data for exactly the reference year give back its total exactly.

    >>> idx = pd.date_range("2023-01-01", periods=8760, freq="h", tz="UTC")
    >>> p = measured_profile(pd.DataFrame({"timestamp": idx, "kwh": 0.5}), mode="annual")
    >>> p.values.tolist(), p.source, p.gaps
    ([4380.0], 'measured', ())
    """
    _check_mode(mode)
    missing = [c for c in (timestamp_column, value_column) if c not in frame.columns]
    if missing:
        raise ColumnError(
            N_("%(name)s: missing column(s) %(columns)s."), name=name, columns=", ".join(missing)
        )
    if len(frame) < 2:
        raise ColumnError(N_("%(name)s: needs at least two readings."), name=name)
    stamps = _local_timestamps(frame[timestamp_column], name=name, column=timestamp_column)
    kwh = pd.to_numeric(frame[value_column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(kwh)
    if bad.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is missing or not a number in row(s) %(rows)s."),
            name=name, column=value_column, rows=_rows(np.flatnonzero(bad)),
        )
    negative = kwh < 0
    if negative.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is negative in row(s) %(rows)s; give consumption and "
               "production as separate positive series."),
            name=name, column=value_column, rows=_rows(np.flatnonzero(negative)),
        )
    ns = np.asarray(stamps.as_unit("ns").asi8)
    diff = np.diff(ns)
    if (diff == 0).any():
        raise ColumnError(
            N_("%(name)s: duplicate timestamps in row(s) %(rows)s."),
            name=name, rows=_rows(np.flatnonzero(diff == 0) + 1),
        )
    if (diff < 0).any():
        raise ColumnError(
            N_("%(name)s: timestamps go back in time at row(s) %(rows)s; sort the data."),
            name=name, rows=_rows(np.flatnonzero(diff < 0) + 1),
        )
    minute = 60 * 10**9
    values, counts = np.unique(diff, return_counts=True)
    resolution = int(values[np.argmax(counts)])
    if resolution not in (15 * minute, 60 * minute):
        raise ColumnError(
            N_("%(name)s: readings every %(minutes)s minutes; use 15-minute or hourly data."),
            name=name, minutes=round(resolution / minute, 2),
        )
    irregular = diff % resolution != 0
    if irregular.any():
        raise ColumnError(
            N_("%(name)s: the time step is not a whole number of %(minutes)s-minute intervals "
               "at row(s) %(rows)s."),
            name=name, minutes=resolution // minute, rows=_rows(np.flatnonzero(irregular) + 1),
        )
    span_days = (ns[-1] - ns[0] + resolution) / (24 * 60 * minute)
    if span_days > 366:
        raise ColumnError(
            N_("%(name)s: covers %(days)s days; give at most one year of data."),
            name=name, days=int(np.ceil(span_days)),
        )
    gap_at = np.flatnonzero(diff > resolution)
    step = pd.Timedelta(resolution, unit="ns")
    gaps = tuple((stamps[i] + step, stamps[i + 1]) for i in gap_at)

    # Hourly energy per local hour (an instant, so the two autumn 02:00 hours stay apart).
    per_interval = pd.Series(kwh, index=stamps)
    # Amsterdam is a whole number of hours off UTC, so flooring in UTC floors the local hour too.
    grouped = per_interval.groupby(stamps.tz_convert("UTC").floor("h"))
    energy = grouped.sum()
    complete = grouped.size() == (60 * minute) // resolution
    energy = energy[complete.to_numpy()]
    local = energy.index.tz_convert(TIME_ZONE)
    keep = ~((local.month == 2) & (local.day == 29))
    energy = energy[keep]
    local = local[keep]
    # Lay the hours on the reference year by (month, day, clock hour); repeated keys average.
    key = pd.Index(local.month * 10000 + local.day * 100 + local.hour)
    by_key = pd.Series(energy.to_numpy(), index=key).groupby(level=0).mean()
    ref = hourly_index()
    ref_key = pd.Index(ref.month * 10000 + ref.day * 100 + ref.hour)
    hourly = by_key.reindex(ref_key).to_numpy(dtype=float, copy=True)
    missing_hours = np.isnan(hourly)
    if missing_hours.any():
        month_hour = (ref.month.to_numpy() - 1) * 24 + ref.hour.to_numpy()
        sums = np.bincount(month_hour[~missing_hours], hourly[~missing_hours], minlength=288)
        seen = np.bincount(month_hour[~missing_hours], minlength=288)
        months_without = sorted({int(m) + 1 for m in np.flatnonzero(
            seen.reshape(12, 24).sum(axis=1) == 0)})
        if months_without:
            raise ColumnError(
                N_("%(name)s: no complete hours in month(s) %(months)s; a year profile needs "
                   "data in every month."),
                name=name, months=", ".join(str(m) for m in months_without),
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / seen
        # A clock hour never seen in a month (data with holes) takes that month's hourly mean.
        month_mean = sums.reshape(12, 24).sum(axis=1) / seen.reshape(12, 24).sum(axis=1)
        mean = np.where(seen > 0, mean, np.repeat(month_mean, 24))
        hourly[missing_hours] = mean[month_hour[missing_hours]]
    return Profile(
        values=aggregate(hourly, mode=mode), weights=step_weights(mode), mode=mode,
        source="measured", kind="measured", gaps=gaps, filled_hours=int(missing_hours.sum()),
    )


def _local_timestamps(values: pd.Series, *, name: str, column: str) -> pd.DatetimeIndex:
    """Parse ISO 8601 timestamps (or a datetime column) into a Europe/Amsterdam index."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        parsed = pd.DatetimeIndex(values)
    else:
        text = values.astype("string").str.strip()
        try:
            parsed = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", errors="coerce"))
        except ValueError:  # offsets that differ (summer and winter time): read as instants
            parsed = pd.DatetimeIndex(
                pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
            )
    bad = np.asarray(parsed.isna())
    if bad.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is not an ISO 8601 date and time in row(s) %(rows)s."),
            name=name, column=column, rows=_rows(np.flatnonzero(bad)),
        )
    if parsed.tz is not None:
        return parsed.tz_convert(TIME_ZONE)
    try:
        return parsed.tz_localize(TIME_ZONE, ambiguous="infer", nonexistent="raise")
    except (ValueError, TypeError) as exc:  # pytz/zoneinfo errors are ValueError subclasses
        raise ColumnError(
            N_("%(name)s: local times in %(column)s do not fit the daylight saving time "
               "changes (%(reason)s); give times with a UTC offset."),
            name=name, column=column, reason=str(exc).splitlines()[0],
        ) from exc


def _rows(positions: npt.ArrayLike, limit: int = 5) -> str:
    return format_labels(np.asarray(positions, dtype=np.int64).ravel()[: limit + 1] + 1, limit)
