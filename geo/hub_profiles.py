"""Quarter-hour profiles for energy hubs: the time axis, long-form meter files, estimates.

Everything about an energy hub is counted per quarter hour, the settlement period of the Dutch
grid. This module turns input into two arrays per hub, ``take_kwh`` and ``feed_kwh`` (sites x
quarter hours, kWh taken from and fed into the grid in each quarter hour), on one time axis of
UTC instants; :mod:`geo.hub` analyses them.

Time axis
    A year in Europe/Amsterdam has 35,040 quarter hours: 96 a day, 92 on the spring
    daylight-saving day (02:00-03:00 does not exist) and 100 on the autumn one (02:00-03:00
    happens twice). The axis holds UTC instants, so every quarter hour is exactly one element
    and no clock time is ambiguous; local time is derived for what follows the wall clock
    (office hours, a heat map by day and clock time). :func:`quarter_hours` is the reference
    year of :mod:`geo.profiles` (2023) at this resolution.

Long form
    Meter files list ``timestamp, site_id, take_kwh, feed_kwh`` per quarter hour (timestamps
    in ISO 8601 with a UTC offset, marking the start of the quarter hour). :func:`long_profiles`
    validates them first, naming the lines: readable times, numbers that are finite and not
    negative, known sites, times on a quarter hour, no duplicates, and no missing quarter hours
    for any site between the first and the last time of the file.

Reference year
    Profiles of different sites must share one axis. Estimated profiles are built on the
    reference year; metered data of another year is laid on it by local calendar date and clock
    time (:func:`to_reference_year`, as :func:`geo.profiles.measured_profile` does for hours),
    so that office hours stay office hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.errors import N_, ColumnError, ParameterError, format_labels
from geo.profiles import (
    CATEGORIES,
    REFERENCE_YEAR,
    TIME_ZONE,
    bdew_quarter_hours,
    hourly_index,
    pv_profile,
)
from geo.validation import finite_non_negative, plausible_meter_times, plausible_meter_values

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Hours in one step; kW = kWh per quarter hour x 4.
STEP_HOURS = 0.25
KW_PER_KWH = 1.0 / STEP_HOURS
QUARTER_NS = 15 * 60 * 10**9
#: The most quarter hours a hub analysis takes: a leap year (366 days).
MAX_STEPS = 366 * 96
#: Column names accepted for long-form profiles (Dutch names from grid operators' portals too).
ALIASES = {
    "timestamp": ("timestamp", "tijdstip", "datum_tijd", "time"),
    "site_id": ("site_id", "id", "site", "aansluiting"),
    "take_kwh": ("take_kwh", "afname_kwh", "afname"),
    "feed_kwh": ("feed_kwh", "invoeding_kwh", "teruglevering_kwh", "invoeding"),
}


def quarter_hours(year: int = REFERENCE_YEAR) -> pd.DatetimeIndex:
    """The quarter hours of ``year`` in Europe/Amsterdam as UTC instants (their starts).

    >>> idx = quarter_hours()
    >>> len(idx), str(idx[0]), str(idx[-1])
    (35040, '2022-12-31 23:00:00+00:00', '2023-12-31 22:45:00+00:00')
    >>> per_day = idx.tz_convert("Europe/Amsterdam").normalize().value_counts()
    >>> sorted(set(per_day.tolist()))
    [92, 96, 100]
    """
    start = pd.Timestamp(year=year, month=1, day=1, tz=TIME_ZONE).tz_convert("UTC")
    end = pd.Timestamp(year=year + 1, month=1, day=1, tz=TIME_ZONE).tz_convert("UTC")
    return pd.date_range(start, end, freq="15min", inclusive="left",
                         name="quarter_hour").as_unit("ns")


@dataclass(frozen=True)
class LocalClock:
    """Local calendar and clock of each step: what follows the wall clock, not the sun."""

    day: IntArray  # 0 for the first local date of the axis, 1 for the next, ...
    dates: pd.DatetimeIndex  # the local dates, one per day number
    quarter: IntArray  # quarter of the local clock day, 0 (00:00) to 95 (23:45)
    hour: FloatArray  # local clock time in hours (10.25 = 10:15)
    weekday: IntArray  # Monday 0 ... Sunday 6
    month: IntArray  # 1-12


def local_clock(index: pd.DatetimeIndex) -> LocalClock:
    """The local date, clock quarter, weekday and month of every instant of ``index``.

    >>> clock = local_clock(quarter_hours())
    >>> int(clock.day.max()) + 1, int(clock.quarter[0]), float(clock.hour[41])
    (365, 0, 10.25)
    """
    local = index.tz_convert(TIME_ZONE)
    dates = local.normalize().tz_localize(None)
    unique, day = np.unique(dates.asi8, return_inverse=True)
    quarter = (local.hour.to_numpy() * 4 + local.minute.to_numpy() // 15).astype(np.int64)
    return LocalClock(
        day=day.astype(np.int64).ravel(), dates=pd.DatetimeIndex(unique.astype("datetime64[ns]")),
        quarter=quarter, hour=quarter / 4.0, weekday=local.day_of_week.to_numpy().astype(np.int64),
        month=local.month.to_numpy().astype(np.int64),
    )


# --- long-form files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HubProfiles:
    """Take and feed-in of each site per quarter hour (kWh), on one axis of UTC instants."""

    site_ids: npt.NDArray[np.object_]
    index: pd.DatetimeIndex
    take_kwh: FloatArray  # sites x steps
    feed_kwh: FloatArray  # sites x steps

    @property
    def n_sites(self) -> int:
        return int(self.take_kwh.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.take_kwh.shape[1])


def resolve_columns(columns: Sequence[str], *, name: str,
                    required: Sequence[str] = ("timestamp", "site_id", "take_kwh", "feed_kwh"),
                    ) -> dict[str, str]:
    """Map the canonical column names to the file's own (case-insensitive, Dutch aliases).

    >>> resolve_columns(["Tijdstip", "site_id", "afname_kwh", "invoeding_kwh"], name="f")
    {'timestamp': 'Tijdstip', 'site_id': 'site_id', 'take_kwh': 'afname_kwh', 'feed_kwh': 'invoeding_kwh'}
    """
    lower = {str(c).strip().lower(): str(c) for c in columns}
    found: dict[str, str] = {}
    for canonical in required:
        for alias in ALIASES[canonical]:
            if alias in lower:
                found[canonical] = lower[alias]
                break
    missing = [c for c in required if c not in found]
    if missing:
        raise ColumnError(N_("%(name)s: missing column(s) %(columns)s."), name=name,
                          columns=", ".join(missing))
    return found


def parse_instants(values: pd.Series, *, name: str, column: str = "timestamp",
                   first_line: int = 2, allow_local: bool = False) -> pd.DatetimeIndex:
    """ISO 8601 times as UTC instants; a time without a UTC offset is refused (which of the two
    02:30s in October?) unless ``allow_local``: then rows in time order are read as
    Europe/Amsterdam clock times, the repeated autumn hour told apart by its order.

    >>> when = parse_instants(pd.Series(["2025-03-30T01:45+01:00", "2025-03-30T03:00+02:00"]),
    ...                       name="f")
    >>> [str(t) for t in when]  # a quarter hour apart: 02:00-03:00 did not happen
    ['2025-03-30 00:45:00+00:00', '2025-03-30 01:00:00+00:00']
    """
    plausible_meter_times(values, name=name, column=column, first_line=first_line,
                          refuse_mixed=allow_local)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values).tz_convert("UTC").as_unit("ns")
    text = values.astype("string").str.strip()
    if allow_local:
        # Clock times without an offset repeat in the autumn: read them all, in file order.
        codes = np.arange(len(text))
    else:
        # A hub file repeats every time once per site: parse each distinct text once.
        codes, uniques = pd.factorize(text, use_na_sentinel=True)
        text = pd.Series(uniques, dtype="string")
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False)
    parsed = pd.Series(pd.to_datetime(text.where(has_offset), format="ISO8601",
                                      errors="coerce", utc=True))
    local = (~has_offset & text.notna()).to_numpy()
    if allow_local and local.any():
        naive = pd.to_datetime(text[local], format="ISO8601", errors="coerce")
        if naive.isna().any():
            bad_rows = np.flatnonzero(local)[np.asarray(naive.isna())]
            raise ColumnError(
                N_("%(name)s: %(column)s is not an ISO 8601 date and time on line(s) "
                   "%(lines)s."),
                name=name, column=column, lines=_lines(bad_rows, first_line),
            )
        try:
            localised = pd.DatetimeIndex(naive).tz_localize(
                TIME_ZONE, ambiguous="infer", nonexistent="raise")
        except (ValueError, TypeError) as exc:  # zoneinfo's errors are ValueError subclasses
            raise ColumnError(
                N_("%(name)s: local times in %(column)s do not fit the daylight saving time "
                   "changes (%(reason)s); give times with a UTC offset."),
                name=name, column=column, reason=str(exc).splitlines()[0],
            ) from exc
        parsed[local] = localised.tz_convert("UTC")
    elif local.any():
        rows = np.flatnonzero(np.isin(codes, np.flatnonzero(local)))
        raise ColumnError(
            N_("%(name)s: %(column)s has no UTC offset on line(s) %(lines)s; write times as "
               "2025-01-01T00:00+01:00."),
            name=name, column=column, lines=_lines(rows, first_line),
        )
    bad = (codes < 0) | np.isin(codes, np.flatnonzero(np.asarray(parsed.isna())))
    if bad.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is not an ISO 8601 date and time on line(s) %(lines)s."),
            name=name, column=column, lines=_lines(np.flatnonzero(bad), first_line),
        )
    instants = np.asarray(pd.DatetimeIndex(parsed).as_unit("ns").asi8)[codes]
    return pd.DatetimeIndex(instants, tz="UTC").as_unit("ns")


def read_amounts(values: pd.Series, *, name: str, column: str, first_line: int = 2,
                 decimal_comma: bool = False) -> FloatArray:
    """kWh values as floats: numbers, finite and not negative, or an error naming the lines."""
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=float)
        unreadable = ~np.isfinite(numbers)
    else:
        text = values.astype("string").str.strip()
        if decimal_comma:
            text = text.str.replace(",", ".", regex=False)
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        unreadable = ~np.isfinite(numbers)
    if unreadable.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is missing or not a number on line(s) %(lines)s."),
            name=name, column=column, lines=_lines(np.flatnonzero(unreadable), first_line),
        )
    negative = numbers < 0
    if negative.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is negative on line(s) %(lines)s; give take and feed-in "
               "as separate positive columns."),
            name=name, column=column, lines=_lines(np.flatnonzero(negative), first_line),
        )
    plausible_meter_values(numbers, name=name, column=column, first_line=first_line)
    return np.asarray(numbers, dtype=np.float64)


def long_profiles(
    frame: pd.DataFrame,
    *,
    site_ids: Sequence[str],
    name: str = "profiles",
    first_line: int = 2,
    allow_local: bool = False,
    decimal_comma: bool = False,
) -> HubProfiles:
    """Validate a long-form table (one row per site and quarter hour) and pivot it.

    ``site_ids`` are the known sites (every one needs a complete profile); ``first_line`` is the
    file line of the first row (2 for a CSV with a header). Errors name the lines.

    >>> frame = pd.DataFrame({
    ...     "timestamp": ["2025-01-01T00:00+01:00", "2025-01-01T00:15+01:00"] * 2,
    ...     "site_id": ["a", "a", "b", "b"], "take_kwh": [1, 2, 0, 0], "feed_kwh": [0, 0, 3, 1]})
    >>> p = long_profiles(frame, site_ids=["a", "b"])
    >>> p.take_kwh.tolist(), p.feed_kwh.tolist(), str(p.index[0])
    ([[1.0, 2.0], [0.0, 0.0]], [[0.0, 0.0], [3.0, 1.0]], '2024-12-31 23:00:00+00:00')
    """
    columns = resolve_columns(frame.columns, name=name)
    if len(frame) == 0:
        raise ColumnError(N_("%(name)s has no rows."), name=name)
    when = parse_instants(frame[columns["timestamp"]], name=name, first_line=first_line,
                          allow_local=allow_local)
    take = read_amounts(frame[columns["take_kwh"]], name=name, column="take_kwh",
                        first_line=first_line, decimal_comma=decimal_comma)
    feed = read_amounts(frame[columns["feed_kwh"]], name=name, column="feed_kwh",
                        first_line=first_line, decimal_comma=decimal_comma)
    codes, uniques = pd.factorize(frame[columns["site_id"]].astype("string").str.strip())
    known = pd.Index([str(s) for s in site_ids])
    found = known.get_indexer(pd.Index(uniques, dtype=object))
    site = np.where(codes >= 0, found[np.maximum(codes, 0)], -1)
    unknown = site < 0
    if unknown.any():
        raise ColumnError(
            N_("%(name)s: unknown site_id on line(s) %(lines)s (not in the sites file)."),
            name=name, lines=_lines(np.flatnonzero(unknown), first_line),
        )
    ns = when.asi8
    off_grid = ns % QUARTER_NS != 0
    if off_grid.any():
        raise ColumnError(
            N_("%(name)s: times not on a quarter hour (00, 15, 30, 45 minutes) on line(s) "
               "%(lines)s; the data must be per 15 minutes."),
            name=name, lines=_lines(np.flatnonzero(off_grid), first_line),
        )
    start = int(ns.min())
    step = (ns - start) // QUARTER_NS
    n_steps = int(step.max()) + 1
    if n_steps > MAX_STEPS:
        raise ColumnError(
            N_("%(name)s: covers %(days)s days; give at most one year of data."),
            name=name, days=int(np.ceil(n_steps / 96)),
        )
    n_sites = len(known)
    cell = site.astype(np.int64) * n_steps + step
    order = np.argsort(cell, kind="stable")
    repeated = np.flatnonzero(np.diff(cell[order]) == 0)
    if repeated.size:
        lines = np.sort(order[repeated + 1])
        raise ColumnError(
            N_("%(name)s: duplicate time for the same site on line(s) %(lines)s."),
            name=name, lines=_lines(lines, first_line),
        )
    take_grid = np.zeros(n_sites * n_steps)
    feed_grid = np.zeros(n_sites * n_steps)
    present = np.zeros(n_sites * n_steps, dtype=bool)
    take_grid[cell], feed_grid[cell], present[cell] = take, feed, True
    grid = present.reshape(n_sites, n_steps)
    if not grid.all():
        rows = grid.any(axis=1)
        if not rows.all():
            raise ColumnError(N_("%(name)s: no data for site(s) %(sites)s."), name=name,
                              sites=format_labels(known[~rows]))
        where_site, where_step = np.nonzero(~grid)
        index = pd.DatetimeIndex(start + where_step[:6] * QUARTER_NS, tz="UTC")
        missing = [f"{known[s]} {t.tz_convert(TIME_ZONE).isoformat(timespec='minutes')}"
                   for s, t in zip(where_site[:6], index)]
        raise ColumnError(
            N_("%(name)s: %(count)s missing quarter hour(s) between the first and the last time, "
               "for example %(examples)s."),
            name=name, count=int(where_site.size), examples=format_labels(missing),
        )
    index = pd.date_range(pd.Timestamp(start, unit="ns", tz="UTC"), periods=n_steps,
                          freq="15min", name="quarter_hour").as_unit("ns")
    return HubProfiles(
        site_ids=np.asarray(known, dtype=object), index=index,
        take_kwh=take_grid.reshape(n_sites, n_steps),
        feed_kwh=feed_grid.reshape(n_sites, n_steps),
    )


def _lines(positions: npt.ArrayLike, first_line: int, limit: int = 5) -> str:
    values = np.asarray(positions, dtype=np.int64).ravel()[: limit + 1] + first_line
    return format_labels(values, limit)


# --- laying data on the reference year ---------------------------------------------------------


def _clock_keys(index: pd.DatetimeIndex) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """``MMDDhhmm`` per instant and whether it is the second occurrence of that clock time."""
    local = index.tz_convert(TIME_ZONE)
    key = (local.month.to_numpy() * 1_000_000 + local.day.to_numpy() * 10_000
           + local.hour.to_numpy() * 100 + local.minute.to_numpy()).astype(np.int64)
    # ``index`` runs forward in time, so the repeated autumn hour comes second.
    second = pd.Series(key).duplicated(keep="first").to_numpy()
    return key, second


def to_reference_year(index: pd.DatetimeIndex, values: npt.ArrayLike, *, name: str = "data",
                      year: int = REFERENCE_YEAR) -> tuple[FloatArray, int]:
    """Lay quarter-hour ``values`` (last axis along ``index``) on the reference year.

    Each reference quarter hour takes the value of the same local date and clock time (the
    repeated autumn quarter hours pair up in order). Where the data's year shifts clocks on
    another day, a reference quarter hour without a match takes the one an hour earlier; 29
    February is dropped. Returns the values and the number of quarter hours filled in this way.
    Data that does not cover every date of a year is refused.

    >>> data = quarter_hours(2025)
    >>> laid, filled = to_reference_year(data, np.arange(len(data), dtype=float))
    >>> laid.shape, filled  # 2025 changes clocks on 30 March / 26 October, 2023 on 26 / 29
    ((35040,), 8)
    """
    array = np.asarray(values, dtype=float)
    if array.shape[-1] != len(index):
        raise ParameterError(N_("%(name)s: one value per quarter hour is needed."), name=name)
    key, second = _clock_keys(index)
    ref_key, ref_second = _clock_keys(quarter_hours(year))
    combined = key * 2 + second
    if pd.Index(combined).has_duplicates:
        raise ColumnError(
            N_("%(name)s: the same date and time occurs twice; give one year of data."),
            name=name)
    lookup = pd.Index(combined)
    position = lookup.get_indexer(ref_key * 2 + ref_second)
    filled = position < 0
    # No second occurrence in the data's year on this date: the first one.
    position = np.where(filled, lookup.get_indexer(ref_key * 2), position)
    # A clock time that the data's year skipped: the same quarter hour an hour earlier.
    position = np.where(position < 0, lookup.get_indexer((ref_key - 100) * 2), position)
    if (position < 0).any():
        dates = sorted({f"{k // 1_000_000:02d}-{k // 10_000 % 100:02d}"
                        for k in ref_key[position < 0]})
        raise ColumnError(
            N_("%(name)s: no data for %(count)s date(s) of the year, for example %(dates)s; a "
               "hub needs a whole year of quarter hours."),
            name=name, count=len(dates), dates=format_labels(dates),
        )
    return array[..., position], int(filled.sum())


# --- estimated profiles ------------------------------------------------------------------------


@cache
def _bdew_quarter_shape(category: str, year: int) -> FloatArray:
    """The BDEW profile on the quarter hours of ``year`` (wall clock), summing to 1."""
    naive = bdew_quarter_hours(category, year=year)
    clock = local_clock(quarter_hours(year))
    laid = naive[clock.day * 96 + clock.quarter]
    return np.asarray(laid / laid.sum(), dtype=np.float64)


def consumption_quarter_hours(*, annual_kwh: npt.ArrayLike, category: str | Sequence[str] = "g0",
                              year: int = REFERENCE_YEAR) -> FloatArray:
    """Electricity use per quarter hour (kWh) from a yearly amount and a BDEW category.

    BDEW profiles are published per quarter hour, so this is their own resolution. Scalars give
    one row; arrays one row per site.

    >>> use = consumption_quarter_hours(annual_kwh=35040.0, category="g1")
    >>> use.shape, round(float(use.sum()), 6), bool(use[40] > use[8])  # 10:00 vs 02:00
    ((35040,), 35040.0, True)
    """
    amounts = np.asarray(annual_kwh, dtype=float)
    scalar = amounts.ndim == 0
    amounts = np.atleast_1d(amounts)
    finite_non_negative(amounts, name="annual_kwh")
    cats = [category] * len(amounts) if isinstance(category, str) else list(category)
    unknown = sorted(set(cats) - set(CATEGORIES))
    if unknown:
        raise ParameterError(
            N_("Unknown load profile category %(category)s; use one of %(categories)s."),
            category=", ".join(unknown), categories=", ".join(CATEGORIES),
        )
    rows = np.vstack([_bdew_quarter_shape(c, year) for c in cats]) * amounts[:, None]
    return np.asarray(rows[0] if scalar else rows, dtype=np.float64)


def hourly_to_quarter_hours(hourly: npt.ArrayLike) -> FloatArray:
    """Reference-year hours (8760, last axis) spread evenly over their quarter hours.

    >>> hourly_to_quarter_hours(np.ones(8760)).shape
    (35040,)
    """
    values = np.asarray(hourly, dtype=float)
    if values.shape[-1] != len(hourly_index()):
        raise ParameterError(
            N_("An hourly profile needs %(expected)s values per site; got %(got)s."),
            expected=len(hourly_index()), got=values.shape[-1],
        )
    return np.repeat(values / 4.0, 4, axis=-1)


def pv_quarter_hours(*, lon: float, lat: float, kwp: float, annual_yield_kwh_per_kwp: float,
                     tilt: float = 15.0, azimuth: float = 180.0) -> FloatArray:
    """PV generation per reference-year quarter hour (kWh): the hourly clear-sky estimate of
    :func:`geo.profiles.pv_profile` spread evenly over each hour.

    >>> pv = pv_quarter_hours(lon=6.56, lat=52.99, kwp=10.0, annual_yield_kwh_per_kwp=875.0)
    >>> round(float(pv.sum()), 6), float(pv[0])
    (8750.0, 0.0)
    """
    hourly = pv_profile(lon=lon, lat=lat, kwp=kwp,
                        annual_yield_kwh_per_kwp=annual_yield_kwh_per_kwp, tilt=tilt,
                        azimuth=azimuth, mode="hourly").values
    return hourly_to_quarter_hours(hourly)


def take_and_feed(use_kwh: npt.ArrayLike, pv_kwh: npt.ArrayLike,
                  *, feed_limit_kw: float | None = None) -> tuple[FloatArray, FloatArray]:
    """What the meter sees when PV first serves the site's own use: take and feed-in (kWh).

    >>> take, feed = take_and_feed([2.0, 1.0], [0.5, 3.0], feed_limit_kw=4.0)
    >>> take.tolist(), feed.tolist()
    ([1.5, 0.0], [0.0, 1.0])
    """
    use = np.asarray(use_kwh, dtype=float)
    pv = np.asarray(pv_kwh, dtype=float)
    net = use - pv
    take = np.clip(net, 0.0, None)
    feed = np.clip(-net, 0.0, None)
    if feed_limit_kw is not None:
        feed = np.minimum(feed, feed_limit_kw * STEP_HOURS)
    return take, feed


# --- expansion plans ---------------------------------------------------------------------------

#: Daily shapes of an expansion (the share of its kW in use), by local clock.
SHAPES: tuple[str, ...] = ("day", "night", "evening", "continuous", "heat_pump", "solar")
#: Heat pumps follow the heating season: share of the rated power in use per month (Jan-Dec),
#: an assumption after typical heating degree days in the north of the Netherlands.
HEAT_PUMP_MONTHS = np.array([1.0, 0.95, 0.8, 0.6, 0.35, 0.15, 0.1, 0.1, 0.3, 0.55, 0.8, 0.95])


def expansion_shape(shape: str, index: pd.DatetimeIndex, *, lon: float = 6.56,
                    lat: float = 52.99) -> FloatArray:
    """The share (0 to 1) of an expansion's kW in use in each step of ``index``.

    ``day``: weekdays 07:00-19:00 (a process, an office); ``night``: 19:00-07:00 every day
    (charging trucks at the depot); ``evening``: 17:00-23:00; ``continuous``: always;
    ``heat_pump``: always, scaled by the heating season (:data:`HEAT_PUMP_MONTHS`); ``solar``:
    the PV shape of the reference year at ``lon``/``lat``, 1 at its highest quarter hour.

    >>> idx = quarter_hours()
    >>> float(expansion_shape("night", idx)[0]), float(expansion_shape("day", idx)[8 * 96 + 40])
    (1.0, 1.0)
    """
    if shape not in SHAPES:
        raise ParameterError(N_("Unknown daily shape %(shape)s; use one of %(shapes)s."),
                             shape=shape, shapes=", ".join(SHAPES))
    clock = local_clock(index)
    hour = clock.hour
    if shape == "day":
        return ((hour >= 7) & (hour < 19) & (clock.weekday < 5)).astype(float)
    if shape == "night":
        return ((hour >= 19) | (hour < 7)).astype(float)
    if shape == "evening":
        return ((hour >= 17) & (hour < 23)).astype(float)
    if shape == "continuous":
        return np.ones(len(index))
    if shape == "heat_pump":
        return HEAT_PUMP_MONTHS[clock.month - 1]
    pv = pv_quarter_hours(lon=lon, lat=lat, kwp=1.0, annual_yield_kwh_per_kwp=1.0)
    ref, ref_second = _clock_keys(quarter_hours())
    first = pd.Index(ref[~ref_second])
    positions = np.flatnonzero(~ref_second)
    key, _ = _clock_keys(index)
    found = first.get_indexer(key)  # the same date and clock time; else an hour earlier
    found = np.where(found < 0, first.get_indexer(key - 100), found)
    laid = np.where(found >= 0, pv[positions[np.maximum(found, 0)]], 0.0)
    return np.asarray(laid / pv.max(), dtype=np.float64)
