"""Match surplus energy producers with nearby consumers: maximal energy, then minimal distance.

The problem, per time step, is a transportation problem on the bipartite graph of candidate
pairs (a producer and a consumer at most ``max_distance_m`` apart): maximise the matched energy
and, among the maximal solutions, minimise the sum of energy x distance. Producers are limited
by their surplus (and feed-in limit), consumers by their demand, in each step.

This module is the entry point (:func:`match_energy`, :func:`summarise`, the what-if
:func:`marginal_gain`); the parts live beside it:

- :mod:`geo.match_problem`: candidate pairs and the integer instance (units and rounding);
- :mod:`geo.match_solve`: the solvers (stars by greedy, OR-Tools max flow + LEMON network
  simplex for the rest);
- :mod:`geo.certificate`: the exact duality certificate and its independent checker;
- :mod:`geo.match_highs`: the optional HiGHS cross-check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.certificate import CertificateError, Checker, Instance, StepProofs, Verdict
from geo.errors import N_, ParameterError
from geo.match_highs import CrossCheck, cross_check, reference_solve
from geo.match_problem import (
    COST_UNITS_PER_M,
    FloatArray,
    MatchProblem,
    StepFlows,
    build_problem,
    candidate_pairs,
    component_problem,
    site_xy,
    to_wh,
)
from geo.match_solve import Prover, solve
from geo.profiles import Profile, step_hours


@dataclass(frozen=True)
class MatchTotals:
    matched_kwh: float
    surplus_kwh: float
    demand_kwh: float
    surplus_used_share: float
    demand_covered_share: float
    energy_distance_kwh_m: float
    #: The integer objectives the solvers optimise, weighted over the year (Wh; Wh x dm).
    matched_wh: int
    cost_wh_dm: int


@dataclass(frozen=True)
class MatchResult:
    """What :func:`match_energy` returns.

    ``flows``: one row per matched pair with ``producer_id, consumer_id, kwh`` (per year),
    ``distance_m``, ``hours`` (hours per year in which the pair shares energy; profile modes)
    and ``component``. ``step_flows`` (profile modes): ``step, producer_id, consumer_id, kwh``
    per occurrence of the step. ``components``: per connected component the sites, arcs and
    energies. ``solution`` and ``problem`` allow re-checking and what-if questions.
    """

    mode: str
    max_distance_m: float
    flows: pd.DataFrame
    step_flows: pd.DataFrame | None
    totals: MatchTotals
    components: pd.DataFrame
    certificate: Verdict | None
    problem: MatchProblem = field(repr=False)
    solution: StepFlows = field(repr=False)
    seconds: float = 0.0
    cross_check: CrossCheck | None = None


# --- the public entry point ------------------------------------------------------------------


def match_energy(
    producers: gpd.GeoDataFrame,
    consumers: gpd.GeoDataFrame,
    *,
    max_distance_m: float,
    mode: str = "annual",
    producer_profile: Profile | npt.ArrayLike | None = None,
    consumer_profile: Profile | npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    pair_same_id: bool = False,
    certify_solution: bool = True,
    cross_check_steps: int = 0,
    seed: int | None = None,
    prove: Prover | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> MatchResult:
    """Match producers' surplus with consumers' demand within ``max_distance_m`` metres.

    ``producers``/``consumers`` are GeoDataFrames of points in RD New with a unique ``id``. In
    ``annual`` mode the amounts come from ``surplus_kwh`` and ``demand_kwh``. In ``typical_day``
    (288 steps) and ``hourly`` (8760 steps) mode pass ``producer_profile``/``consumer_profile``:
    a :class:`geo.profiles.Profile` with one row per site, or an array (sites x steps) of kWh per
    occurrence of each step, with ``weights`` (occurrences per year; default
    :func:`geo.profiles.step_weights`). An optional ``feed_in_kw`` column caps what a producer
    delivers in a step at ``feed_in_kw x hours`` (8760 hours in annual mode). The same id in
    both tables is taken to be the same site, which is not paired with itself unless
    ``pair_same_id``.

    The matched energy is maximal and, among maximal solutions, the energy x distance is
    minimal. With ``certify_solution`` (the default) every step is proven so by an exact
    duality certificate, checked by :mod:`geo.certificate` as the solver goes; a step it does
    not prove raises :class:`CertificateError`. ``prove`` is also told the proofs (to write
    them to a file). ``cross_check_steps`` > 0 also solves that many active steps again with
    HiGHS (:func:`geo.match_highs.cross_check`; steps drawn with ``seed``, new per run when
    ``None``); a disagreement raises :class:`CertificateError` too. ``progress(stage,
    share)`` is told how far the solving (stage ``"solving"``, with the certificate) and the
    cross-check (``"certifying"``) are.

    >>> from shapely.geometry import Point
    >>> p = gpd.GeoDataFrame({"id": ["a"], "surplus_kwh": [100.0]},
    ...                      geometry=[Point(0, 0)], crs="EPSG:28992")
    >>> c = gpd.GeoDataFrame({"id": ["x", "y"], "demand_kwh": [70.0, 70.0]},
    ...                      geometry=[Point(500, 0), Point(100, 0)], crs="EPSG:28992")
    >>> r = match_energy(p, c, max_distance_m=1000)
    >>> r.flows[["producer_id", "consumer_id", "kwh", "distance_m"]].values.tolist()
    [['a', 'x', 30.0, 500.0], ['a', 'y', 70.0, 100.0]]
    >>> r.totals.matched_kwh, r.certificate.ok
    (100.0, True)
    """
    started = time.perf_counter()
    problem = build_problem(
        producers, consumers, max_distance_m=max_distance_m, mode=mode,
        producer_profile=producer_profile, consumer_profile=consumer_profile, weights=weights,
        pair_same_id=pair_same_id,
    )
    report = progress or (lambda stage, share: None)
    checker = Checker(instance_of(problem, producers, consumers)) if certify_solution else None
    provers = [p for p in (checker.check if checker else None, prove) if p is not None]
    solution = solve(problem, progress=lambda share: report("solving", share),
                     prove=_tee(provers) if provers else None)
    verdict = checker.verdict() if checker is not None else None
    if verdict is not None and not verdict.ok:
        raise CertificateError("The matching is not proven optimal: " + verdict.summary(),
                               verdict)
    second = None
    if cross_check_steps > 0:
        second = cross_check(problem, solution, sample=cross_check_steps, seed=seed,
                             progress=lambda share: report("certifying", share))
        if not second.ok:
            raise CertificateError("HiGHS disagrees with the matching: "
                                   + "; ".join(second.problems[:5]), second)
    result = summarise(problem, solution, certificate=verdict,
                       seconds=time.perf_counter() - started)
    return replace(result, cross_check=second)


def instance_of(problem: MatchProblem, producers: gpd.GeoDataFrame,
                consumers: gpd.GeoDataFrame) -> Instance:
    """What the checker is told: the sites' coordinates from the input frames, their ids and
    limits per step, and the distance rule (never the solver's pairs)."""
    return Instance(
        producer_ids=problem.producer_ids, consumer_ids=problem.consumer_ids,
        producer_xy=site_xy(producers), consumer_xy=site_xy(consumers),
        supply_wh=problem.supply_wh, demand_wh=problem.demand_wh,
        max_distance_m=problem.max_distance_m, pair_same_id=problem.pair_same_id,
    )


def _tee(provers: list[Prover]) -> Prover:
    def tell(proofs: StepProofs) -> None:
        for prover in provers:
            prover(proofs)

    return tell


def summarise(
    problem: MatchProblem, solution: StepFlows, *, certificate: Verdict | None = None,
    seconds: float = 0.0,
) -> MatchResult:
    """Turn a solution into flows per pair, per step, totals and per-component statistics."""
    w = problem.weights
    wh_year = solution.wh * w[solution.step]  # Wh per year carried in that step
    per_arc_wh = np.bincount(solution.arc, wh_year, minlength=problem.n_arcs).astype(float)
    profile_mode = problem.mode != "annual"
    hours = np.bincount(solution.arc, w[solution.step] * step_hours(problem.mode),
                        minlength=problem.n_arcs)
    used = np.flatnonzero(per_arc_wh > 0)
    comp = problem.arc_component
    flows = pd.DataFrame({
        "producer_id": pd.array(problem.producer_ids[problem.arc_producer[used]], dtype="string"),
        "consumer_id": pd.array(problem.consumer_ids[problem.arc_consumer[used]], dtype="string"),
        "kwh": per_arc_wh[used] / 1000.0,
        "distance_m": problem.distance_m[used],
    })
    if profile_mode:
        flows["hours"] = hours[used]
    flows["component"] = comp[used]
    step_flows = None
    if profile_mode:
        order = np.lexsort((solution.arc, solution.step))
        arcs = solution.arc[order]
        step_flows = pd.DataFrame({
            "step": solution.step[order],
            "producer_id": pd.array(problem.producer_ids[problem.arc_producer[arcs]],
                                    dtype="string"),
            "consumer_id": pd.array(problem.consumer_ids[problem.arc_consumer[arcs]],
                                    dtype="string"),
            "kwh": solution.wh[order] / 1000.0,
        })
    surplus = float((problem.surplus_kwh @ w).sum())
    demand = float((problem.demand_kwh @ w).sum())
    matched_wh = float(per_arc_wh.sum())
    energy_distance = float(per_arc_wh @ problem.distance_m) / 1000.0
    totals = MatchTotals(
        matched_kwh=matched_wh / 1000.0,
        surplus_kwh=surplus,
        demand_kwh=demand,
        surplus_used_share=matched_wh / 1000.0 / surplus if surplus > 0 else 0.0,
        demand_covered_share=matched_wh / 1000.0 / demand if demand > 0 else 0.0,
        energy_distance_kwh_m=energy_distance,
        matched_wh=round(matched_wh),
        cost_wh_dm=round(float(per_arc_wh @ problem.arc_cost)),
    )
    return MatchResult(
        mode=problem.mode, max_distance_m=problem.max_distance_m, flows=flows,
        step_flows=step_flows, totals=totals, components=_component_table(problem, per_arc_wh),
        certificate=certificate, problem=problem, solution=solution, seconds=seconds,
    )


def _component_table(problem: MatchProblem, per_arc_wh: FloatArray) -> pd.DataFrame:
    comp = problem.arc_component
    with_arcs = np.unique(comp)
    n = int(max(problem.producer_component.max(initial=-1),
                problem.consumer_component.max(initial=-1))) + 1
    w = problem.weights
    surplus = np.bincount(problem.producer_component, problem.surplus_kwh @ w, minlength=n)
    demand = np.bincount(problem.consumer_component, problem.demand_kwh @ w, minlength=n)
    table = pd.DataFrame({
        "component": with_arcs,
        "producers": np.bincount(problem.producer_component, minlength=n)[with_arcs],
        "consumers": np.bincount(problem.consumer_component, minlength=n)[with_arcs],
        "arcs": np.bincount(comp, minlength=n)[with_arcs],
        "surplus_kwh": surplus[with_arcs],
        "demand_kwh": demand[with_arcs],
        "matched_kwh": np.bincount(comp, per_arc_wh, minlength=n)[with_arcs] / 1000.0,
        "energy_distance_kwh_m": np.bincount(
            comp, per_arc_wh * problem.distance_m, minlength=n)[with_arcs] / 1000.0,
    })
    return table


# --- what if ---------------------------------------------------------------------------------


def marginal_gain(
    problem: MatchProblem,
    *,
    producer_id: str | None = None,
    consumer_id: str | None = None,
    extra_kwh: npt.ArrayLike,
) -> float:
    """Extra matched kWh per year if one producer had ``extra_kwh`` more surplus (or one
    consumer more demand), all else equal.

    ``extra_kwh`` is a yearly amount in annual mode, or kWh per step (for example
    ``pv_profile(lon=..., lat=..., kwp=10, mode=...).values`` for an extra 10 kWp). Only the
    site's component is solved again, with and without the change; the feed-in limit stays.

    >>> from shapely.geometry import Point
    >>> p = gpd.GeoDataFrame({"id": ["a"], "surplus_kwh": [50.0]},
    ...                      geometry=[Point(0, 0)], crs="EPSG:28992")
    >>> c = gpd.GeoDataFrame({"id": ["x"], "demand_kwh": [80.0]},
    ...                      geometry=[Point(10, 0)], crs="EPSG:28992")
    >>> problem = build_problem(p, c, max_distance_m=100)
    >>> marginal_gain(problem, producer_id="a", extra_kwh=50.0)
    30.0
    """
    if (producer_id is None) == (consumer_id is None):
        raise ParameterError(N_("Name either a producer or a consumer."))
    is_producer = producer_id is not None
    ids = problem.producer_ids if is_producer else problem.consumer_ids
    wanted = str(producer_id if is_producer else consumer_id)
    where = np.flatnonzero(ids == wanted)
    if len(where) == 0:
        raise ParameterError(N_("Unknown id %(id)s."), id=wanted)
    site = int(where[0])
    extra = np.broadcast_to(np.asarray(extra_kwh, dtype=float), (problem.n_steps,)).copy()
    if not np.all(np.isfinite(extra)) or np.any(extra < 0):
        raise ParameterError(N_("extra_kwh must be finite and not negative."))
    component = (problem.producer_component if is_producer else problem.consumer_component)[site]
    sub = component_problem(problem, int(component))
    local_ids = sub.producer_ids if is_producer else sub.consumer_ids
    local = int(np.flatnonzero(local_ids == wanted)[0])
    if is_producer:
        surplus = sub.surplus_kwh.copy()
        surplus[local] += extra
        changed = replace(sub, surplus_kwh=surplus, supply_wh=to_wh(
            np.minimum(surplus, sub.feed_in_kwh[:, None])))
    else:
        demand = sub.demand_kwh.copy()
        demand[local] += extra
        changed = replace(sub, demand_kwh=demand, demand_wh=to_wh(demand))
    before = solve(sub)
    after = solve(changed)
    w = problem.weights
    gain_wh = float(after.wh @ w[after.step]) - float(before.wh @ w[before.step])
    return gain_wh / 1000.0



__all__ = [
    "COST_UNITS_PER_M", "CertificateError", "CrossCheck", "MatchProblem", "MatchResult",
    "MatchTotals", "StepFlows", "Verdict", "build_problem", "candidate_pairs", "cross_check",
    "instance_of", "marginal_gain", "match_energy", "reference_solve", "solve", "summarise",
]
