"""Energy hubs: sites that share grid capacity under one group transport agreement (Groeps-TO).

Since 1 January 2026 a group of companies may contract its combined load with the grid
operator instead of each its own connection. Because they do not peak at the same moment, the
group needs less capacity than the sum of their contracts; what is freed can serve members who
wait for a heavier connection. This module computes what a grid operator asks for, from the
take and feed-in of every participant per quarter hour (:class:`geo.hub_profiles.HubProfiles`).

Numbers (DESIGN.md, "Energy hubs")
    kW = kWh per quarter hour x 4. The group's net load per quarter hour is its total take
    minus its total feed-in (positive: the group takes from the grid). Its peak take is the
    largest net load, its peak feed-in the largest negative one. Energy exchanged inside the hub
    in a quarter hour is min(total take, total feed-in): feed-in of one participant used by
    another (or by itself, when its meter registers both in that quarter hour). Simultaneity
    (gelijktijdigheid) is the group's peak divided by the sum of the participants' own peaks.

Curtailment
    A group may accept to be curtailed a few hours a year. The capacity it needs for ``N`` hours
    is read from the load-duration curve (the net loads sorted from high to low): the load that
    is exceeded in at most ``4 N`` quarter hours.

Expansion plans
    Plans (extra kW of take or feed-in, with a daily shape) are tried in the coordinator's
    order; a plan fits when the group, with it and the plans that fitted before, still needs no
    more than the sum of the participants' contracts (for the accepted curtailment hours).

The shared battery and shifting use are linear programmes in :mod:`geo.hub_lp`; quarter-hour
profiles, the time axis and long-form files in :mod:`geo.hub_profiles`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.errors import N_, ColumnError, ParameterError, format_labels
from geo.hub_profiles import KW_PER_KWH, STEP_HOURS, HubProfiles, local_clock
from geo.validation import finite_non_negative, positive_metres

FloatArray = npt.NDArray[np.float64]

#: Curtailment hours per year shown by default (0 h is the plain peak).
DEFAULT_CURTAIL_HOURS: tuple[float, ...] = (0.0, 10.0, 50.0, 100.0, 200.0, 500.0)
#: Orders in which expansion plans are tried.
PLAN_ORDERS: tuple[str, ...] = ("waiting", "size", "year")
PLAN_DIRECTIONS: tuple[str, ...] = ("take", "feed")


# --- sites -------------------------------------------------------------------------------------


def check_sites(frame: pd.DataFrame, *, name: str = "sites", first_line: int = 2) -> pd.DataFrame:
    """Validate a sites table: a unique ``id`` and contracted take and feed-in in kW.

    Returns ``id`` (text), ``contracted_take_kw`` and ``contracted_feed_kw`` (floats), in the
    file's order, with the geometry when the frame has one. Errors name the lines.

    >>> check_sites(pd.DataFrame({"id": ["7"], "contracted_take_kw": ["80"],
    ...                           "contracted_feed_kw": [0]})).values.tolist()
    [['7', 80.0, 0.0]]
    """
    columns = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in ("id", "contracted_take_kw", "contracted_feed_kw") if c not in columns]
    if missing:
        raise ColumnError(N_("%(name)s: missing column(s) %(columns)s."), name=name,
                          columns=", ".join(missing))
    ids = frame[columns["id"]].astype("string").str.strip()
    empty = (ids.isna() | (ids == "")).to_numpy()
    if empty.any():
        raise ColumnError(N_("%(name)s: empty id on line(s) %(lines)s."), name=name,
                          lines=_lines(np.flatnonzero(empty), first_line))
    duplicate = ids.duplicated().to_numpy()
    if duplicate.any():
        raise ColumnError(N_("%(name)s: duplicate id on line(s) %(lines)s."), name=name,
                          lines=_lines(np.flatnonzero(duplicate), first_line))
    out = pd.DataFrame({"id": ids.to_numpy(dtype=object)})
    for column in ("contracted_take_kw", "contracted_feed_kw"):
        raw = frame[columns[column]]
        text = raw if pd.api.types.is_numeric_dtype(raw) else raw.astype("string").str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ColumnError(
                N_("%(name)s: %(column)s is missing or not a number on line(s) %(lines)s."),
                name=name, column=column, lines=_lines(np.flatnonzero(bad), first_line))
        if (values < 0).any():
            raise ColumnError(
                N_("%(name)s: %(column)s is negative on line(s) %(lines)s."),
                name=name, column=column, lines=_lines(np.flatnonzero(values < 0), first_line))
        out[column] = values
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry is not None:
        return gpd.GeoDataFrame(out, geometry=frame.geometry.to_numpy(), crs=frame.crs)
    return out


def _lines(positions: npt.ArrayLike, first_line: int, limit: int = 5) -> str:
    return format_labels(np.asarray(positions, dtype=np.int64).ravel()[: limit + 1] + first_line,
                         limit)


# --- the group's load --------------------------------------------------------------------------


def net_load_kw(take_kwh: npt.ArrayLike, feed_kwh: npt.ArrayLike) -> FloatArray:
    """The group's net load per quarter hour in kW (take positive, feed-in negative).

    >>> net_load_kw([[1.0, 0.0], [2.0, 0.0]], [[0.0, 5.0], [0.0, 0.0]]).tolist()
    [12.0, -20.0]
    """
    take = np.asarray(take_kwh, dtype=float)
    feed = np.asarray(feed_kwh, dtype=float)
    return np.asarray((take.sum(axis=0) - feed.sum(axis=0)) * KW_PER_KWH, dtype=np.float64)


def exchanged_kwh(take_kwh: npt.ArrayLike, feed_kwh: npt.ArrayLike) -> float:
    """Energy exchanged inside the hub: the sum over quarter hours of min(total take, total
    feed-in).

    >>> take = [[3.0, 1.0], [0.0, 0.0]]  # kWh per quarter hour: two sites, two quarter hours
    >>> feed = [[0.0, 0.0], [1.0, 4.0]]
    >>> exchanged_kwh(take, feed)  # 1 of the 3 taken, then all of the 1 taken
    2.0
    """
    take = np.asarray(take_kwh, dtype=float).sum(axis=0)
    feed = np.asarray(feed_kwh, dtype=float).sum(axis=0)
    return float(np.minimum(take, feed).sum())


def duration_curve(load_kw: npt.ArrayLike) -> FloatArray:
    """The load-duration curve: loads sorted from the highest to the lowest.

    >>> duration_curve([1.0, 5.0, 3.0]).tolist()
    [5.0, 3.0, 1.0]
    """
    return -np.sort(-np.asarray(load_kw, dtype=float))


def capacity_for_curtailment(load_kw: npt.ArrayLike, hours: float | npt.ArrayLike, *,
                             step_hours: float = STEP_HOURS) -> FloatArray:
    """The capacity (kW) a group needs when it accepts ``hours`` of curtailment a year.

    It is the smallest capacity that the load exceeds in at most ``hours / step_hours`` steps:
    the value at that position of the load-duration curve (never below 0). One value per
    number of hours.

    >>> load = [10.0, 9.0, 8.0, 4.0]  # kW per quarter hour
    >>> capacity_for_curtailment(load, [0, 0.25, 0.5, 2]).tolist()
    [10.0, 9.0, 8.0, 0.0]
    """
    hours_a = np.atleast_1d(np.asarray(hours, dtype=float))
    finite_non_negative(hours_a, name="hours")
    curve = duration_curve(load_kw)
    allowed = np.floor(hours_a / step_hours + 1e-9).astype(np.int64)
    values = np.where(allowed < len(curve), curve[np.minimum(allowed, len(curve) - 1)], 0.0)
    return np.clip(values, 0.0, None)


def curtailed_kwh(load_kw: npt.ArrayLike, capacity_kw: float, *,
                  step_hours: float = STEP_HOURS) -> float:
    """Energy above ``capacity_kw`` in a year (what curtailment must take away or shift).

    >>> curtailed_kwh([10.0, 9.0, 8.0], 8.0)
    0.75
    """
    load = np.asarray(load_kw, dtype=float)
    return float(np.clip(load - capacity_kw, 0.0, None).sum() * step_hours)


# --- the analysis ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubAnalysis:
    """What a group transport agreement would mean for a set of sites."""

    index: pd.DatetimeIndex
    net_kw: FloatArray  # per step
    take_kwh: FloatArray  # the group's total take per step
    feed_kwh: FloatArray  # the group's total feed-in per step
    group_peak_take_kw: float
    group_peak_feed_kw: float
    group_peak_take_at: pd.Timestamp
    group_peak_feed_at: pd.Timestamp | None
    sum_contracted_take_kw: float
    sum_contracted_feed_kw: float
    sum_own_peak_take_kw: float
    sum_own_peak_feed_kw: float
    exchanged_kwh: float
    total_take_kwh: float
    total_feed_kwh: float
    curtailment: pd.DataFrame  # hours, capacity_take_kw, freed_take_kw, curtailed_kwh, capacity_feed_kw
    participants: pd.DataFrame  # per site, see :func:`analyse`

    @property
    def freed_take_kw(self) -> float:
        """Take capacity a group contract frees: the sum of the contracts minus the group peak."""
        return self.sum_contracted_take_kw - self.group_peak_take_kw

    @property
    def freed_feed_kw(self) -> float:
        return self.sum_contracted_feed_kw - self.group_peak_feed_kw

    @property
    def simultaneity_take(self) -> float | None:
        """The group's peak take divided by the sum of the participants' own peaks."""
        if self.sum_own_peak_take_kw <= 0:
            return None
        return self.group_peak_take_kw / self.sum_own_peak_take_kw

    @property
    def simultaneity_feed(self) -> float | None:
        if self.sum_own_peak_feed_kw <= 0:
            return None
        return self.group_peak_feed_kw / self.sum_own_peak_feed_kw


def analyse(
    profiles: HubProfiles,
    *,
    contracted_take_kw: npt.ArrayLike,
    contracted_feed_kw: npt.ArrayLike,
    curtail_hours: Sequence[float] = DEFAULT_CURTAIL_HOURS,
) -> HubAnalysis:
    """Peaks, simultaneity, freed capacity, curtailment and exchange of a hub.

    ``contracted_take_kw``/``contracted_feed_kw`` hold one contract per site of ``profiles``.
    The participants table has per site: ``site_id``, the contracts, ``own_peak_take_kw``,
    ``own_peak_feed_kw``, ``take_kwh``, ``feed_kwh`` and ``share_of_group_peak`` (its net load
    at the moment of the group's peak take, divided by that peak; the shares add up to 1).

    >>> from geo.hub_profiles import HubProfiles, quarter_hours
    >>> idx = quarter_hours()[:2]
    >>> p = HubProfiles(np.array(["a", "b"], dtype=object), idx,
    ...                 np.array([[10.0, 0.0], [0.0, 10.0]]), np.zeros((2, 2)))
    >>> a = analyse(p, contracted_take_kw=[50, 50], contracted_feed_kw=[0, 0], curtail_hours=[0])
    >>> a.group_peak_take_kw, a.sum_own_peak_take_kw, a.freed_take_kw, a.simultaneity_take
    (40.0, 80.0, 60.0, 0.5)
    """
    take = np.asarray(profiles.take_kwh, dtype=float)
    feed = np.asarray(profiles.feed_kwh, dtype=float)
    n_sites = take.shape[0]
    contract_take = _contracts(contracted_take_kw, n_sites, "contracted_take_kw")
    contract_feed = _contracts(contracted_feed_kw, n_sites, "contracted_feed_kw")
    total_take = take.sum(axis=0)
    total_feed = feed.sum(axis=0)
    net = (total_take - total_feed) * KW_PER_KWH
    peak_step = int(np.argmax(net))
    peak_take = max(float(net[peak_step]), 0.0)
    low_step = int(np.argmin(net))
    peak_feed = max(-float(net[low_step]), 0.0)
    own_take = take.max(axis=1) * KW_PER_KWH
    own_feed = feed.max(axis=1) * KW_PER_KWH
    at_peak = (take[:, peak_step] - feed[:, peak_step]) * KW_PER_KWH
    share = at_peak / peak_take if peak_take > 0 else np.zeros(n_sites)
    hours = np.asarray(sorted({float(h) for h in curtail_hours}), dtype=float)
    capacity_take = capacity_for_curtailment(net, hours)
    capacity_feed = capacity_for_curtailment(-net, hours)
    curtailment = pd.DataFrame({
        "hours": hours,
        "capacity_take_kw": capacity_take,
        "freed_take_kw": contract_take.sum() - capacity_take,
        "curtailed_kwh": [curtailed_kwh(net, c) for c in capacity_take],
        "capacity_feed_kw": capacity_feed,
        "freed_feed_kw": contract_feed.sum() - capacity_feed,
    })
    participants = pd.DataFrame({
        "site_id": profiles.site_ids,
        "contracted_take_kw": contract_take,
        "contracted_feed_kw": contract_feed,
        "own_peak_take_kw": own_take,
        "own_peak_feed_kw": own_feed,
        "take_kwh": take.sum(axis=1),
        "feed_kwh": feed.sum(axis=1),
        "share_of_group_peak": share,
    })
    return HubAnalysis(
        index=profiles.index, net_kw=net, take_kwh=total_take, feed_kwh=total_feed,
        group_peak_take_kw=peak_take, group_peak_feed_kw=peak_feed,
        group_peak_take_at=profiles.index[peak_step],
        group_peak_feed_at=profiles.index[low_step] if peak_feed > 0 else None,
        sum_contracted_take_kw=float(contract_take.sum()),
        sum_contracted_feed_kw=float(contract_feed.sum()),
        sum_own_peak_take_kw=float(own_take.sum()), sum_own_peak_feed_kw=float(own_feed.sum()),
        exchanged_kwh=float(np.minimum(total_take, total_feed).sum()),
        total_take_kwh=float(total_take.sum()), total_feed_kwh=float(total_feed.sum()),
        curtailment=curtailment, participants=participants,
    )


def _contracts(values: npt.ArrayLike, n_sites: int, name: str) -> FloatArray:
    array = np.asarray(values, dtype=float).ravel()
    if array.shape != (n_sites,):
        raise ParameterError(N_("%(name)s needs one value per site (%(sites)s)."), name=name,
                             sites=n_sites)
    finite_non_negative(array, name=name)
    return array


# --- expansion plans ---------------------------------------------------------------------------


def order_plans(plans: pd.DataFrame, *, by: str = "waiting") -> pd.DataFrame:
    """Expansion plans in the order they are tried.

    ``waiting``: who has waited longest for the grid operator first (``waiting_since``, a date;
    a plan without one after those with one), then the smaller plan first; ``size``: the smaller
    plan first, then the longer wait; ``year``: the earliest ``from_year`` first, then size.
    Ties keep the table's order.

    >>> plans = pd.DataFrame({"id": [1, 2, 3], "kw": [50.0, 20.0, 20.0], "from_year": [2027] * 3,
    ...                       "waiting_since": pd.to_datetime(["2024-01-01", None, "2023-05-01"])})
    >>> order_plans(plans)["id"].tolist(), order_plans(plans, by="size")["id"].tolist()
    ([3, 1, 2], [3, 2, 1])
    """
    if by not in PLAN_ORDERS:
        raise ParameterError(N_("Unknown order %(order)s; use one of %(orders)s."), order=by,
                             orders=", ".join(PLAN_ORDERS))
    keys = {"waiting": ["waiting_since", "kw"], "size": ["kw", "waiting_since"],
            "year": ["from_year", "kw"]}[by]
    return plans.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def fit_plans(
    net_kw: npt.ArrayLike,
    plans: pd.DataFrame,
    plan_kw: npt.ArrayLike,
    *,
    capacity_take_kw: float,
    capacity_feed_kw: float,
    curtail_hours: float = 0.0,
) -> pd.DataFrame:
    """Which expansion plans fit in the group's contracted capacity, tried in table order.

    ``plans`` has ``direction`` (``take`` or ``feed``); ``plan_kw`` holds each plan's extra load
    per step (plans x steps, kW, never negative). A plan fits when the group's net load with it
    and the plans that fitted before needs at most ``capacity_take_kw`` of take and
    ``capacity_feed_kw`` of feed-in, allowing ``curtail_hours`` of curtailment. A plan that does
    not fit is skipped; later, smaller plans may still fit. Adds ``fits``, ``take_needed_kw``
    and ``feed_needed_kw`` (what the group needs with this plan on top of the fitted ones).

    >>> net = np.array([50.0, 80.0, 20.0])
    >>> plans = pd.DataFrame({"id": [1, 2], "direction": ["take", "take"]})
    >>> extra = np.array([[0.0, 30.0, 0.0], [10.0, 10.0, 10.0]])
    >>> fit_plans(net, plans, extra, capacity_take_kw=100.0, capacity_feed_kw=0.0)[
    ...     ["id", "fits", "take_needed_kw"]].values.tolist()
    [[1, False, 110.0], [2, True, 90.0]]
    """
    load = np.asarray(net_kw, dtype=float).copy()
    extra = np.asarray(plan_kw, dtype=float).reshape(len(plans), -1)
    if extra.shape[1] != load.shape[0]:
        raise ParameterError(N_("Each plan needs one value per step."))
    finite_non_negative(extra, name="plan_kw")
    directions = plans["direction"].astype(str).to_numpy()
    unknown = ~np.isin(directions, PLAN_DIRECTIONS)
    if unknown.any():
        raise ParameterError(N_("Unknown direction %(direction)s; use take or feed."),
                             direction=directions[unknown][0])
    fits, take_needed, feed_needed = [], [], []
    for row in range(len(plans)):
        sign = 1.0 if directions[row] == "take" else -1.0
        trial = load + sign * extra[row]
        need_take = float(capacity_for_curtailment(trial, curtail_hours)[0])
        need_feed = float(capacity_for_curtailment(-trial, curtail_hours)[0])
        ok = need_take <= capacity_take_kw + 1e-9 and need_feed <= capacity_feed_kw + 1e-9
        if ok:
            load = trial
        fits.append(ok)
        take_needed.append(need_take)
        feed_needed.append(need_feed)
    return plans.assign(fits=fits, take_needed_kw=take_needed, feed_needed_kw=feed_needed)


# --- exchange against the distance-limited matching ---------------------------------------------


def matched_within_distance(
    sites: gpd.GeoDataFrame,
    take_kwh: npt.ArrayLike,
    feed_kwh: npt.ArrayLike,
    *,
    max_distance_m: float,
    progress: Callable[[float], None] | None = None,
) -> float:
    """Energy (kWh) the distance-limited matching of :mod:`geo.matching` exchanges between the
    same sites, quarter hour by quarter hour: a site's feed-in serves other sites' take within
    ``max_distance_m`` (never its own, which nets behind its meter).

    The matching solves 8760 steps per call (its hourly mode); the quarter hours are passed in
    blocks of 8760 with weight 1, so the comparison is at the hub's own resolution.

    >>> from shapely.geometry import Point
    >>> sites = gpd.GeoDataFrame({"id": ["a", "b", "c"]}, crs="EPSG:28992",
    ...     geometry=[Point(0, 0), Point(100, 0), Point(5000, 0)])
    >>> take = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 0.0]])
    >>> feed = np.array([[2.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    >>> matched_within_distance(sites, take, feed, max_distance_m=500)  # b takes from a; c too far
    2.0
    """
    from geo.matching import match_energy

    max_distance_m = positive_metres(max_distance_m, name="max_distance_m")
    take = np.asarray(take_kwh, dtype=float)
    feed = np.asarray(feed_kwh, dtype=float)
    block = 8760
    n_steps = take.shape[1]
    producing = feed.max(axis=1) > 0
    consuming = take.max(axis=1) > 0
    if not producing.any() or not consuming.any():
        return 0.0
    producers = sites.loc[producing, ["id", "geometry"]].reset_index(drop=True)
    consumers = sites.loc[consuming, ["id", "geometry"]].reset_index(drop=True)
    blocks = range(0, n_steps, block)
    total = 0.0
    for number, start in enumerate(blocks):
        stop = min(start + block, n_steps)
        supply = np.zeros((int(producing.sum()), block))
        demand = np.zeros((int(consuming.sum()), block))
        supply[:, : stop - start] = feed[producing, start:stop]
        demand[:, : stop - start] = take[consuming, start:stop]

        def report(stage: str, share: float, number: int = number) -> None:
            if progress is not None and stage == "solving":
                progress((number + share) / len(blocks))

        result = match_energy(producers, consumers, max_distance_m=max_distance_m,
                              mode="hourly", producer_profile=supply, consumer_profile=demand,
                              certify_solution=False, progress=report)
        total += result.totals.matched_kwh
    return total


# --- the year as a heat map --------------------------------------------------------------------


def heat_map(load_kw: npt.ArrayLike, index: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, FloatArray]:
    """The load as a matrix of local dates (rows) by local clock quarter hours (96 columns).

    The quarter hours skipped on the spring daylight-saving day are NaN; the repeated autumn
    quarter hours show the larger of their two loads (a heat map is read for its peaks).

    >>> from geo.hub_profiles import quarter_hours
    >>> idx = quarter_hours()
    >>> dates, grid = heat_map(np.ones(len(idx)), idx)
    >>> grid.shape, int(np.isnan(grid).sum())
    ((365, 96), 4)
    """
    load = np.asarray(load_kw, dtype=float)
    clock = local_clock(index)
    grid = np.full((len(clock.dates), 96), -np.inf)
    np.maximum.at(grid, (clock.day, clock.quarter), load)
    grid[np.isneginf(grid)] = np.nan
    return clock.dates, grid
