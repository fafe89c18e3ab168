"""The matching instance: candidate pairs and the integer problem the solvers see.

Candidate pairs come from a k-d tree (:func:`candidate_pairs`), never from all pairs; the
instance (:class:`MatchProblem`) holds them with the limits per step in whole Wh and the
distances as integer costs in decimetres, split into connected components.

Units and rounding
    The solvers work in integers: energy in whole Wh, **rounded down** per step (so a flow can
    never exceed a real limit; each producer and consumer loses less than 1 Wh per step), and
    distance in whole decimetres (rounded to nearest, so the cost of a Wh is off by at most
    0.05 m). Reported kWh and kWh x m use the exact distances.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.crs import require_finite_points, require_rd
from geo.errors import N_, ColumnError, ParameterError, format_labels
from geo.profiles import MODES, Profile, step_hours, step_weights
from geo.validation import (
    column_numbers,
    positive_metres,
    require_amounts,
    require_columns,
    require_frame,
    unique_ids,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
#: Told the fraction (0 to 1) of the work done so far.
Progress = Callable[[float], None]

#: Distances become integer costs in decimetres.
COST_UNITS_PER_M = 10


@dataclass(frozen=True)
class MatchProblem:
    """The integer instance the solvers see.

    ``supply_wh`` (producers x steps) and ``demand_wh`` (consumers x steps) are the limits per
    occurrence of each step in whole Wh; ``weights`` tell how often each step occurs per year.
    Arcs are candidate pairs, sorted by producer then consumer; ``arc_cost`` is the distance in
    decimetres. ``surplus_kwh``/``demand_kwh`` keep the exact inputs (before the feed-in limit)
    and ``feed_in_kwh`` the feed-in limit per step (``inf`` for none).
    """

    mode: str
    max_distance_m: float
    pair_same_id: bool
    producer_ids: npt.NDArray[np.object_]
    consumer_ids: npt.NDArray[np.object_]
    arc_producer: IntArray
    arc_consumer: IntArray
    distance_m: FloatArray
    arc_cost: IntArray
    supply_wh: IntArray
    demand_wh: IntArray
    weights: FloatArray
    surplus_kwh: FloatArray
    demand_kwh: FloatArray
    feed_in_kwh: FloatArray
    producer_component: IntArray
    consumer_component: IntArray
    #: Position of each site along a Hilbert curve over all sites (producers and consumers on
    #: one curve): the solver numbers its nodes in this order, so neighbours sit close in memory.
    producer_curve: IntArray
    consumer_curve: IntArray

    @property
    def n_producers(self) -> int:
        return int(self.supply_wh.shape[0])

    @property
    def n_consumers(self) -> int:
        return int(self.demand_wh.shape[0])

    @property
    def n_arcs(self) -> int:
        return int(self.arc_producer.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.weights.shape[0])

    @property
    def arc_component(self) -> IntArray:
        return self.producer_component[self.arc_producer]

    def active_steps(self) -> IntArray:
        """Steps in which at least one pair has both a surplus and a demand."""
        if self.n_arcs == 0:
            return np.zeros(0, dtype=np.int64)
        active = np.zeros(self.n_steps, dtype=bool)
        for chunk in chunks(self.n_steps, self.n_arcs):
            cap = np.minimum(
                self.supply_wh[self.arc_producer, chunk], self.demand_wh[self.arc_consumer, chunk]
            )
            active[chunk] = (cap > 0).any(axis=0)
        return np.flatnonzero(active)


@dataclass(frozen=True)
class StepFlows:
    """A solution in sparse form: ``wh[k]`` Wh over arc ``arc[k]`` in step ``step[k]``
    (positive flows only; one occurrence of the step)."""

    step: IntArray
    arc: IntArray
    wh: IntArray

    @classmethod
    def empty(cls) -> StepFlows:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z.copy(), z.copy())

    @classmethod
    def concat(cls, parts: Sequence[StepFlows]) -> StepFlows:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.step for p in parts]),
            np.concatenate([p.arc for p in parts]),
            np.concatenate([p.wh for p in parts]),
        )

    def dense(self, step: int, n_arcs: int) -> IntArray:
        """The flow on every arc in ``step``."""
        out = np.zeros(n_arcs, dtype=np.int64)
        mask = self.step == step
        np.add.at(out, self.arc[mask], self.wh[mask])
        return out



# --- candidate pairs -------------------------------------------------------------------------


def candidate_pairs(
    producers: gpd.GeoDataFrame | gpd.GeoSeries,
    consumers: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_distance_m: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Positions of producer/consumer pairs at most ``max_distance_m`` apart, and the distance.

    Distances are straight lines in RD New metres (``hypot(dx, dy)``); a pair at exactly
    ``max_distance_m`` is included. A k-d tree finds the pairs, so the work grows with the
    number of pairs, not with producers x consumers. Sorted by producer, then consumer.

    >>> from shapely.geometry import Point
    >>> p = gpd.GeoSeries([Point(0, 0)], crs="EPSG:28992")
    >>> c = gpd.GeoSeries([Point(300, 400), Point(301, 400)], crs="EPSG:28992")
    >>> i, j, d = candidate_pairs(p, c, max_distance_m=500)
    >>> i.tolist(), j.tolist(), d.tolist()
    ([0], [0], [500.0])
    """
    max_distance_m = positive_metres(max_distance_m, name="max_distance_m")
    require_rd(producers, name="producers")
    require_rd(consumers, name="consumers")
    require_finite_points(producers, name="producers")
    require_finite_points(consumers, name="consumers")
    return _pairs_xy(site_xy(producers), site_xy(consumers), float(max_distance_m))


def site_xy(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> FloatArray:
    geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    return np.column_stack([geoms.x.to_numpy(dtype=float), geoms.y.to_numpy(dtype=float)])


def _pairs_xy(
    pxy: FloatArray, cxy: FloatArray, max_distance_m: float
) -> tuple[IntArray, IntArray, FloatArray]:
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, float))
    if len(pxy) == 0 or len(cxy) == 0:
        return empty
    # Search a hair wider, then decide with the same formula everywhere: exactly inclusive.
    radius = max_distance_m * (1 + 1e-9) + 1e-9
    found = cKDTree(pxy).sparse_distance_matrix(cKDTree(cxy), radius, output_type="ndarray")
    i = found["i"].astype(np.int64)
    j = found["j"].astype(np.int64)
    d = np.hypot(pxy[i, 0] - cxy[j, 0], pxy[i, 1] - cxy[j, 1])
    keep = d <= max_distance_m
    i, j, d = i[keep], j[keep], d[keep]
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]


# --- building the instance -------------------------------------------------------------------


def build_problem(
    producers: gpd.GeoDataFrame,
    consumers: gpd.GeoDataFrame,
    *,
    max_distance_m: float,
    mode: str = "annual",
    producer_profile: Profile | npt.ArrayLike | None = None,
    consumer_profile: Profile | npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    pair_same_id: bool = False,
) -> MatchProblem:
    """Validate the inputs and build the integer instance (see :func:`match_energy`)."""
    max_distance_m = positive_metres(max_distance_m, name="max_distance_m")
    if mode not in MODES:
        raise ParameterError(
            N_("mode must be one of %(modes)s; got %(mode)s."), modes=", ".join(MODES), mode=mode
        )
    for frame, name in ((producers, "producers"), (consumers, "consumers")):
        require_frame(frame, name=name)
        require_rd(frame, name=name)
        require_finite_points(frame, name=name)
    producer_ids = unique_ids(producers, name="producers", as_text=True)
    consumer_ids = unique_ids(consumers, name="consumers", as_text=True)
    n_steps = 1 if mode == "annual" else len(step_weights(mode))
    w = _weights(mode, weights, producer_profile, consumer_profile)
    surplus = _amounts(producers, producer_profile, column="surplus_kwh", name="producers",
                       mode=mode, n_steps=n_steps)
    demand = _amounts(consumers, consumer_profile, column="demand_kwh", name="consumers",
                      mode=mode, n_steps=n_steps)
    feed_in = _feed_in(producers, mode)
    ap, ac, dist = _pairs_xy(site_xy(producers), site_xy(consumers), float(max_distance_m))
    if not pair_same_id:
        # A site that both produces and consumes nets that behind its own meter.
        not_self = producer_ids[ap] != consumer_ids[ac]
        ap, ac, dist = ap[not_self], ac[not_self], dist[not_self]
    return assemble(
        mode=mode, max_distance_m=float(max_distance_m), pair_same_id=pair_same_id,
        producer_ids=producer_ids,
        consumer_ids=consumer_ids, ap=ap, ac=ac, dist=dist, surplus=surplus, demand=demand,
        feed_in=feed_in, weights=w, curve=_curve(producers, consumers),
    )


def _curve(producers: gpd.GeoDataFrame, consumers: gpd.GeoDataFrame) -> IntArray:
    """Hilbert-curve distance of every producer, then every consumer, over their joint bounds."""
    if len(producers) == 0 or len(consumers) == 0:
        return np.zeros(len(producers) + len(consumers), dtype=np.int64)
    bounds = np.r_[np.minimum(producers.total_bounds[:2], consumers.total_bounds[:2]),
                   np.maximum(producers.total_bounds[2:], consumers.total_bounds[2:])]
    return np.concatenate([
        frame.geometry.hilbert_distance(total_bounds=tuple(bounds)).to_numpy(dtype=np.int64)
        for frame in (producers, consumers)
    ])


def assemble(
    *, mode: str, max_distance_m: float, pair_same_id: bool, producer_ids: npt.NDArray[np.object_],
    consumer_ids: npt.NDArray[np.object_], ap: IntArray, ac: IntArray, dist: FloatArray,
    surplus: FloatArray, demand: FloatArray, feed_in: FloatArray, weights: FloatArray,
    curve: IntArray,
) -> MatchProblem:
    n_p, n_c = surplus.shape[0], demand.shape[0]
    graph = sparse.coo_matrix(
        (np.ones(len(ap), dtype=np.int8), (ap, n_p + ac)), shape=(n_p + n_c, n_p + n_c)
    )
    _, labels = connected_components(graph, directed=False)
    labels = labels.astype(np.int64)
    return MatchProblem(
        mode=mode, max_distance_m=max_distance_m, pair_same_id=pair_same_id,
        producer_ids=producer_ids,
        consumer_ids=consumer_ids, arc_producer=ap, arc_consumer=ac, distance_m=dist,
        arc_cost=np.rint(dist * COST_UNITS_PER_M).astype(np.int64),
        supply_wh=to_wh(np.minimum(surplus, feed_in[:, None])), demand_wh=to_wh(demand),
        weights=weights, surplus_kwh=surplus, demand_kwh=demand, feed_in_kwh=feed_in,
        producer_component=labels[:n_p], consumer_component=labels[n_p:],
        producer_curve=curve[:n_p], consumer_curve=curve[n_p:],
    )


def to_wh(kwh: FloatArray) -> IntArray:
    # Round down (never promise energy that is not there); the rint first absorbs binary
    # noise such as 0.3 * 1000 = 299.99999999999994.
    return np.floor(np.round(kwh * 1000.0, 6)).astype(np.int64)


def _weights(
    mode: str, weights: npt.ArrayLike | None, *profiles: Profile | npt.ArrayLike | None
) -> FloatArray:
    expected = step_weights(mode)
    if weights is not None:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape != expected.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ParameterError(
                N_("weights must be %(steps)s non-negative numbers for %(mode)s mode."),
                steps=expected.shape[0], mode=mode,
            )
        expected = w
    for profile in profiles:
        if isinstance(profile, Profile):
            if profile.mode != mode:
                raise ParameterError(
                    N_("A %(profile_mode)s profile cannot be matched in %(mode)s mode."),
                    profile_mode=profile.mode, mode=mode,
                )
            if not np.allclose(profile.weights, expected):
                raise ParameterError(N_("The profiles have different step weights."))
    return expected


def _amounts(
    frame: gpd.GeoDataFrame, profile: Profile | npt.ArrayLike | None, *, column: str,
    name: str, mode: str, n_steps: int,
) -> FloatArray:
    n = len(frame)
    if profile is None:
        if mode != "annual":
            raise ParameterError(
                N_("%(mode)s mode needs a profile for the %(name)s (kWh per step)."),
                mode=mode, name=name,
            )
        require_columns(frame, (column,), name=name)
        values = column_numbers(frame[column])
        labels = frame["id"].astype(str).to_numpy()
        require_amounts(values, labels, name=name, column=column)
        return values.reshape(n, 1)
    values = np.asarray(profile.values if isinstance(profile, Profile) else profile, dtype=float)
    if values.ndim == 1 and n_steps == 1:
        values = values.reshape(-1, 1)
    if values.shape != (n, n_steps):
        raise ParameterError(
            N_("The %(name)s profile has shape %(shape)s; %(mode)s mode needs "
               "(%(rows)s, %(steps)s): one row per site, one column per step."),
            name=name, shape=tuple(values.shape), mode=mode, rows=n, steps=n_steps,
        )
    finite = np.asarray(np.isfinite(values).all(axis=1), dtype=bool)
    if not finite.all() or (values < 0).any():
        labels = frame["id"].astype(str).to_numpy()
        worst = np.where(finite, np.where(finite[:, None], values, 0.0).min(axis=1), np.nan)
        require_amounts(worst, labels, name=name, column="profile")
    return values


def _feed_in(producers: gpd.GeoDataFrame, mode: str) -> FloatArray:
    """Feed-in limit per step in kWh (``feed_in_kw`` x hours in a step); ``inf`` when absent."""
    n = len(producers)
    if "feed_in_kw" not in producers.columns:
        return np.full(n, np.inf)
    kw = column_numbers(producers["feed_in_kw"])
    given = ~pd.isna(producers["feed_in_kw"]).to_numpy()
    unreadable = given & ~np.isfinite(kw)
    labels = producers["id"].astype(str).to_numpy()
    if unreadable.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is missing or not a finite number for id(s) %(ids)s."),
            name="producers", column="feed_in_kw", ids=format_labels(labels[unreadable]),
        )
    if (kw[given] < 0).any():
        bad = given & (np.nan_to_num(kw) < 0)
        raise ColumnError(
            N_("%(name)s: %(column)s is negative for id(s) %(ids)s."),
            name="producers", column="feed_in_kw", ids=format_labels(labels[bad]),
        )
    return np.where(given, kw * step_hours(mode), np.inf)


def component_problem(problem: MatchProblem, component: int) -> MatchProblem:
    prods = np.flatnonzero(problem.producer_component == component)
    cons = np.flatnonzero(problem.consumer_component == component)
    arcs = np.flatnonzero(problem.arc_component == component)
    p_map = np.full(problem.n_producers, -1, dtype=np.int64)
    p_map[prods] = np.arange(len(prods))
    c_map = np.full(problem.n_consumers, -1, dtype=np.int64)
    c_map[cons] = np.arange(len(cons))
    return assemble(
        mode=problem.mode, max_distance_m=problem.max_distance_m,
        pair_same_id=problem.pair_same_id,
        producer_ids=problem.producer_ids[prods], consumer_ids=problem.consumer_ids[cons],
        ap=p_map[problem.arc_producer[arcs]], ac=c_map[problem.arc_consumer[arcs]],
        dist=problem.distance_m[arcs], surplus=problem.surplus_kwh[prods],
        demand=problem.demand_kwh[cons], feed_in=problem.feed_in_kwh[prods],
        weights=problem.weights,
        curve=np.r_[problem.producer_curve[prods], problem.consumer_curve[cons]],
    )



def packs(comp: IntArray, limit: int) -> list[tuple[int, int]]:
    """Cut arcs sorted by component into runs: a component of ``limit`` arcs or more alone,
    smaller whole components packed together up to ``limit`` arcs (a disjoint union)."""
    if len(comp) == 0:
        return []
    cuts = np.flatnonzero(np.r_[True, comp[1:] != comp[:-1], True])
    packs: list[tuple[int, int]] = []
    begin = None
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        if b - a >= limit:
            if begin is not None:
                packs.append((begin, a))
                begin = None
            packs.append((a, b))
            continue
        if begin is None:
            begin = a
        elif b - begin > limit:
            packs.append((begin, a))
            begin = a
    if begin is not None:
        packs.append((begin, len(comp)))
    return packs


def _side(problem: MatchProblem, side: str, arcs: IntArray, steps: IntArray) -> IntArray:
    if side == "producer":
        return problem.supply_wh[problem.arc_producer[arcs][:, None], steps[None, :]]
    return problem.demand_wh[problem.arc_consumer[arcs][:, None], steps[None, :]]


def chunks(n_steps: int, n_rows: int, budget: int = 20_000_000) -> list[slice]:
    size = max(1, budget // max(1, n_rows))
    return [slice(a, min(a + size, n_steps)) for a in range(0, n_steps, size)]



def ignore(fraction: float) -> None:
    """A progress callback that listens to nothing."""


__all__ = [
    "COST_UNITS_PER_M",
    "MatchProblem",
    "Progress",
    "StepFlows",
    "assemble",
    "build_problem",
    "candidate_pairs",
    "chunks",
    "component_problem",
    "ignore",
    "packs",
    "site_xy",
    "to_wh",
]
