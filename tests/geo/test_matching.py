"""Energy matching: candidate pairs, max-flow min-cost per step, certificate, what-if."""

from __future__ import annotations

import itertools
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from benchmarks.peers import ortools_solve
from geo.certificate import Checker, StepProofs
from geo.errors import ColumnError, CoordinateError, CRSError, GeoError, ParameterError
from geo.matching import (
    CertificateError,
    StepFlows,
    build_problem,
    candidate_pairs,
    cross_check,
    instance_of,
    marginal_gain,
    match_energy,
    reference_solve,
    solve,
)
from geo.profiles import consumption_profile, pv_profile, step_weights

X0, Y0 = 233_000.0, 556_000.0  # Assen, RD New


def sites(rows, amount="surplus_kwh", crs="EPSG:28992", **extra):
    """``rows``: (id, dx, dy, kWh) relative to Assen."""
    frame = gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], amount: [r[3] for r in rows], **extra},
        geometry=[Point(X0 + r[1], Y0 + r[2]) for r in rows], crs=crs,
    )
    return frame


def flows_of(result):
    return {
        (p, c): round(k, 6)
        for p, c, k in result.flows[["producer_id", "consumer_id", "kwh"]].itertuples(index=False)
    }


# --- candidate pairs -------------------------------------------------------------------------


def test_candidate_pairs_inclusive_at_exactly_the_distance():
    p = sites([("a", 0, 0, 1)])
    c = sites([("x", 300, 400, 1), ("y", 0, 500.001, 1), ("z", -1200, -1600, 1)], "demand_kwh")
    i, j, d = candidate_pairs(p, c, max_distance_m=500)
    assert i.tolist() == [0] and j.tolist() == [0] and d.tolist() == [500.0]
    i, j, d = candidate_pairs(p, c, max_distance_m=2000)
    assert j.tolist() == [0, 1, 2] and d[2] == 2000.0


def test_candidate_pairs_are_sorted_and_local():
    rng = np.random.default_rng(0)
    p = gpd.GeoSeries.from_xy(X0 + rng.uniform(0, 20_000, 300), Y0 + rng.uniform(0, 20_000, 300),
                              crs="EPSG:28992")
    c = gpd.GeoSeries.from_xy(X0 + rng.uniform(0, 20_000, 900), Y0 + rng.uniform(0, 20_000, 900),
                              crs="EPSG:28992")
    i, j, d = candidate_pairs(p, c, max_distance_m=700)
    full = np.hypot(p.x.to_numpy()[:, None] - c.x.to_numpy()[None, :],
                    p.y.to_numpy()[:, None] - c.y.to_numpy()[None, :])
    expect = np.argwhere(full <= 700)
    assert np.array_equal(np.column_stack([i, j]), expect)  # row-major = sorted by (i, j)
    np.testing.assert_array_equal(d, full[i, j])


def test_candidate_pairs_validate_inputs():
    p = sites([("a", 0, 0, 1)])
    c = sites([("x", 10, 0, 1)], "demand_kwh")
    for bad in (0, -5, float("nan"), float("inf"), "100", True, None):
        with pytest.raises(ParameterError) as info:
            candidate_pairs(p, c, max_distance_m=bad)
        # The same rule and words as bundling and heat (geo.validation).
        assert str(info.value) == (
            f"max_distance_m must be a positive number of metres, not {bad}.")
        with pytest.raises(ParameterError, match="must be a positive number of metres"):
            match_energy(p, c, max_distance_m=bad)
    with pytest.raises(CRSError, match="consumers are in geographic coordinates"):
        candidate_pairs(p, c.to_crs("EPSG:4326"), max_distance_m=10)
    with pytest.raises(CRSError, match="producers have no coordinate reference system"):
        candidate_pairs(p.set_crs(None, allow_override=True), c, max_distance_m=10)
    with pytest.raises(CRSError, match="EPSG:3035"):
        candidate_pairs(p.to_crs("EPSG:3035"), c, max_distance_m=10)
    empty = gpd.GeoDataFrame({"id": ["e"]}, geometry=[Point()], crs="EPSG:28992")
    with pytest.raises(CoordinateError, match="without a location"):
        candidate_pairs(empty, c, max_distance_m=10)


# --- hand-checked instances ------------------------------------------------------------------


def test_maximal_energy_comes_before_short_distances():
    # Nearest-first would send a's 10 kWh to x and leave b without a partner (10 kWh matched).
    p = sites([("a", 0, 0, 10.0), ("b", 500, 0, 10.0)])
    c = sites([("x", 0, 100, 10.0), ("y", 0, -900, 10.0)], "demand_kwh")
    r = match_energy(p, c, max_distance_m=1000)
    assert flows_of(r) == {("a", "y"): 10.0, ("b", "x"): 10.0}
    b_x = float(np.hypot(500, 100))
    assert r.totals.matched_kwh == 20.0
    assert r.totals.energy_distance_kwh_m == pytest.approx(10 * 900 + 10 * b_x)
    assert r.totals.surplus_used_share == 1.0 and r.totals.demand_covered_share == 1.0
    assert r.certificate is not None and r.certificate.ok


def test_among_maximal_solutions_the_shortest_wins():
    p = sites([("a", 0, 0, 10.0), ("b", 1000, 0, 10.0)])
    c = sites([("x", 100, 0, 8.0), ("y", 900, 0, 8.0), ("z", 500, 0, 4.0)], "demand_kwh")
    r = match_energy(p, c, max_distance_m=1000)
    assert flows_of(r) == {("a", "x"): 8.0, ("a", "z"): 2.0, ("b", "y"): 8.0, ("b", "z"): 2.0}
    assert r.totals.energy_distance_kwh_m == pytest.approx(8 * 100 * 2 + 4 * 500)
    assert list(r.flows.columns) == ["producer_id", "consumer_id", "kwh", "distance_m",
                                     "component"]
    assert r.flows["producer_id"].dtype == "string"


def test_totals_components_and_unmatched_sites():
    p = sites([("a", 0, 0, 10.0), ("far", 50_000, 0, 7.0)])
    c = sites([("x", 10, 0, 4.0), ("y", 20, 0, 0.0)], "demand_kwh")
    r = match_energy(p, c, max_distance_m=100)
    assert flows_of(r) == {("a", "x"): 4.0}
    t = r.totals
    assert (t.matched_kwh, t.surplus_kwh, t.demand_kwh) == (4.0, 17.0, 4.0)
    assert t.surplus_used_share == pytest.approx(4 / 17) and t.demand_covered_share == 1.0
    comps = r.components
    assert comps[["producers", "consumers", "arcs"]].values.tolist() == [[1, 2, 2]]
    assert comps["matched_kwh"].tolist() == [4.0] and comps["surplus_kwh"].tolist() == [10.0]


def test_nothing_to_match():
    p = sites([("a", 0, 0, 10.0)])
    c = sites([("x", 5000, 0, 4.0)], "demand_kwh")
    r = match_energy(p, c, max_distance_m=100)
    assert r.flows.empty and r.totals.matched_kwh == 0.0 and r.certificate.ok


def test_energy_is_rounded_down_to_whole_wh():
    p = sites([("a", 0, 0, 0.0019)])
    c = sites([("x", 10, 0, 5.0)], "demand_kwh")
    assert flows_of(match_energy(p, c, max_distance_m=100)) == {("a", "x"): 0.001}
    p = sites([("a", 0, 0, 0.3)])
    assert flows_of(match_energy(p, c, max_distance_m=100)) == {("a", "x"): 0.3}


def test_feed_in_limit_caps_a_producer():
    p = sites([("a", 0, 0, 100.0)], feed_in_kw=[0.001])  # 1 W all year: 8.76 kWh
    c = sites([("x", 10, 0, 50.0)], "demand_kwh")
    assert flows_of(match_energy(p, c, max_distance_m=100)) == {("a", "x"): 8.76}
    p = sites([("a", 0, 0, 100.0)], feed_in_kw=[np.nan])  # no limit given
    assert flows_of(match_energy(p, c, max_distance_m=100)) == {("a", "x"): 50.0}


def test_a_site_is_not_paired_with_itself():
    p = sites([("s1", 0, 0, 10.0)])
    c = sites([("s1", 0, 0, 10.0), ("s2", 50, 0, 3.0)], "demand_kwh")
    assert flows_of(match_energy(p, c, max_distance_m=100)) == {("s1", "s2"): 3.0}
    both = match_energy(p, c, max_distance_m=100, pair_same_id=True)
    assert flows_of(both) == {("s1", "s1"): 10.0}


# --- brute force -----------------------------------------------------------------------------


def brute_force(problem, step=0):
    """Enumerate every integer flow (tiny instances only): best (matched, -cost)."""
    sup = problem.supply_wh[:, step]
    dem = problem.demand_wh[:, step]
    caps = [min(sup[p], dem[c]) for p, c in zip(problem.arc_producer, problem.arc_consumer,
                                                  strict=True)]
    best = (0, 0)
    for flow in itertools.product(*[range(int(k) + 1) for k in caps]):
        f = np.array(flow, dtype=np.int64)
        out = np.bincount(problem.arc_producer, f, minlength=problem.n_producers)
        inn = np.bincount(problem.arc_consumer, f, minlength=problem.n_consumers)
        if (out <= sup).all() and (inn <= dem).all():
            best = max(best, (int(f.sum()), -int(f @ problem.arc_cost)))
    return best[0], -best[1]


@st.composite
def tiny_instances(draw):
    n_p = draw(st.integers(1, 3))
    n_c = draw(st.integers(1, 3))
    coord = st.integers(0, 600)
    wh = st.integers(0, 3)
    p = sites([(f"p{i}", draw(coord), draw(coord), draw(wh) / 1000) for i in range(n_p)])
    c = sites([(f"c{i}", draw(coord), draw(coord), draw(wh) / 1000) for i in range(n_c)],
              "demand_kwh")
    return p, c, draw(st.integers(50, 900))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_instances())
def test_equals_brute_force_on_tiny_instances(instance):
    p, c, distance = instance
    problem = build_problem(p, c, max_distance_m=distance)
    flow = solve(problem).dense(0, problem.n_arcs)
    assert (int(flow.sum()), int(flow @ problem.arc_cost)) == brute_force(problem)


# --- properties ------------------------------------------------------------------------------


@st.composite
def instances(draw, mode="annual"):
    n_p = draw(st.integers(1, 6))
    n_c = draw(st.integers(1, 10))
    coord = st.floats(0, 3000, allow_nan=False)
    amount = st.floats(0, 1000, allow_nan=False)
    p = sites([(f"p{i}", draw(coord), draw(coord), draw(amount)) for i in range(n_p)])
    c = sites([(f"c{i}", draw(coord), draw(coord), draw(amount)) for i in range(n_c)],
              "demand_kwh")
    return p, c


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.floats(10, 2000), st.floats(0, 2000))
def test_a_larger_distance_never_lowers_matched_energy(instance, near, extra):
    p, c = instance
    small = match_energy(p, c, max_distance_m=near, certify_solution=False)
    large = match_energy(p, c, max_distance_m=near + extra, certify_solution=False)
    assert large.totals.matched_wh >= small.totals.matched_wh


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.floats(10, 3000), st.integers(0, 2**32 - 1))
def test_limits_distance_and_solvers_agree_in_every_step(instance, distance, seed):
    p, c = instance
    rng = np.random.default_rng(seed)
    n_steps = 288
    supply = rng.random((len(p), n_steps)) * (rng.random((len(p), n_steps)) < 0.6) * 5
    demand = rng.random((len(c), n_steps)) * (rng.random((len(c), n_steps)) < 0.6) * 5
    r = match_energy(p, c, max_distance_m=distance, mode="typical_day",
                     producer_profile=supply, consumer_profile=demand, cross_check_steps=3)
    assert r.certificate.ok and r.certificate.steps_checked == n_steps
    pr, sol = r.problem, r.solution
    out = np.zeros((pr.n_producers, n_steps), dtype=np.int64)
    inn = np.zeros((pr.n_consumers, n_steps), dtype=np.int64)
    np.add.at(out, (pr.arc_producer[sol.arc], sol.step), sol.wh)
    np.add.at(inn, (pr.arc_consumer[sol.arc], sol.step), sol.wh)
    assert (out <= np.floor(supply * 1000 + 1e-6)).all()
    assert (inn <= np.floor(demand * 1000 + 1e-6)).all()
    assert (r.flows["distance_m"] <= distance).all()
    assert (sol.wh > 0).all()
    # Every step against OR-Tools on the whole graph (ours restarts each step from the last).
    whole = ortools_solve(pr)
    for step in range(n_steps):
        a, b = sol.dense(step, pr.n_arcs), whole.dense(step, pr.n_arcs)
        assert (a.sum(), a @ pr.arc_cost) == (b.sum(), b @ pr.arc_cost)
    assert r.totals.matched_kwh == pytest.approx(
        (r.step_flows["kwh"] * step_weights("typical_day")[r.step_flows["step"]]).sum())


# --- profile modes ---------------------------------------------------------------------------


def test_solve_and_cross_check_report_progress_step_by_step():
    p = sites([("a", 0, 0, 0.0), ("b", 300, 0, 0.0)])
    c = sites([("x", 100, 0, 0.0), ("y", 200, 0, 0.0), ("z", 400, 0, 0.0)], "demand_kwh")
    rng = np.random.default_rng(7)
    seen = []
    r = match_energy(p, c, max_distance_m=500, mode="typical_day",
                     producer_profile=rng.random((2, 288)) * 3,
                     consumer_profile=rng.random((3, 288)), cross_check_steps=5,
                     progress=lambda stage, share: seen.append((stage, share)))
    solving = [share for stage, share in seen if stage == "solving"]
    certifying = [share for stage, share in seen if stage == "certifying"]
    assert [stage for stage, _ in seen] == ["solving"] * len(solving) + ["certifying"] * 5
    assert len(solving) == r.problem.n_steps + 1  # each step, then done
    assert solving == sorted(solving) and solving[0] == 0 and solving[-1] == 1
    assert certifying == [0, 0.2, 0.4, 0.6, 0.8]


def test_typical_day_noon_surplus_cannot_serve_night_demand():
    p = sites([("pv", 0, 0, 0.0)])
    c = sites([("night", 10, 0, 0.0), ("day", 20, 0, 0.0)], "demand_kwh")
    supply = np.zeros((1, 288))
    supply[0, 12::24] = 3.0  # 3 kWh at noon every day
    demand = np.zeros((2, 288))
    demand[0, 0::24] = 5.0  # midnight
    demand[1, 12::24] = 1.0  # noon
    r = match_energy(p, c, max_distance_m=100, mode="typical_day",
                     producer_profile=supply, consumer_profile=demand)
    assert flows_of(r) == {("pv", "day"): 365.0}
    assert r.flows["hours"].tolist() == [365.0]
    assert r.totals.surplus_kwh == 3 * 365 and r.totals.demand_kwh == 6 * 365
    assert r.step_flows["step"].tolist() == [12 + 24 * m for m in range(12)]
    assert r.certificate.ok and r.certificate.steps_checked == 288


def test_matching_with_standard_profiles():
    p = sites([("a", 0, 0, 0.0), ("b", 800, 0, 0.0)])
    c = sites([("x", 100, 0, 0.0), ("y", 700, 0, 0.0), ("z", 400, 300, 0.0)], "demand_kwh")
    supply = pv_profile(lon=6.56, lat=52.99, kwp=np.array([30.0, 10.0]), mode="typical_day")
    demand = consumption_profile(annual_kwh=[20_000.0, 5_000.0, 9_000.0],
                                 category=["g1", "g0", "g3"], mode="typical_day")
    r = match_energy(p, c, max_distance_m=1000, mode="typical_day",
                     producer_profile=supply, consumer_profile=demand)
    assert 0 < r.totals.matched_kwh < min(r.totals.surplus_kwh, r.totals.demand_kwh)
    assert r.totals.surplus_kwh == pytest.approx(40 * 875)
    assert r.certificate.ok and r.certificate.steps_checked == 288
    annual = match_energy(p.assign(surplus_kwh=[26_250.0, 8_750.0]),
                          c.assign(demand_kwh=[20_000.0, 5_000.0, 9_000.0]), max_distance_m=1000)
    # Matching hour by hour can never match more than matching the yearly sums.
    assert r.totals.matched_kwh <= annual.totals.matched_kwh + 1e-9


def test_hourly_mode_runs_on_a_year():
    p = sites([("a", 0, 0, 0.0)])
    c = sites([("x", 10, 0, 0.0)], "demand_kwh")
    supply = pv_profile(lon=6.56, lat=52.99, kwp=np.array([5.0]), mode="hourly")
    demand = consumption_profile(annual_kwh=[3000.0], category="g1", mode="hourly")
    r = match_energy(p, c, max_distance_m=50, mode="hourly", producer_profile=supply,
                     consumer_profile=demand)
    assert r.certificate.ok and r.certificate.steps_checked == 8760
    expected = np.minimum(np.floor(supply.values[0] * 1000 + 1e-9),
                          np.floor(demand.values[0] * 1000 + 1e-9)).sum() / 1000
    assert r.totals.matched_kwh == pytest.approx(expected, abs=0.01)
    assert r.flows["hours"].iloc[0] == (r.step_flows["kwh"] > 0).sum()


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        (lambda p, c: (p.assign(surplus_kwh=[-1.0, 2.0]), c), ColumnError,
         "producers: surplus_kwh is negative for id(s) a."),
        (lambda p, c: (p, c.assign(demand_kwh=[np.nan])), ColumnError,
         "consumers: demand_kwh is missing or not a finite number for id(s) x."),
        (lambda p, c: (p.assign(id=["a", "a"]), c), ColumnError,
         "producers: duplicate id(s) a."),
        (lambda p, c: (p.drop(columns="surplus_kwh"), c), ColumnError,
         "producers: missing column(s) surplus_kwh."),
        (lambda p, c: (p, c.drop(columns="id")), ColumnError, "consumers: missing column(s) id."),
        (lambda p, c: (p.to_crs("EPSG:4326"), c), CRSError, "producers are in geographic"),
        (lambda p, c: (p.assign(feed_in_kw=[1.0, -2.0]), c), ColumnError,
         "producers: feed_in_kw is negative for id(s) b."),
    ],
)
def test_inputs_are_validated_with_exact_messages(change, error, text):
    p = sites([("a", 0, 0, 1.0), ("b", 5, 0, 2.0)])
    c = sites([("x", 10, 0, 1.0)], "demand_kwh")
    p, c = change(p, c)
    with pytest.raises(error) as info:
        match_energy(p, c, max_distance_m=100)
    assert text in str(info.value)
    assert isinstance(info.value, GeoError) and info.value.msgid


def test_profile_inputs_are_validated():
    p = sites([("a", 0, 0, 0.0)])
    c = sites([("x", 10, 0, 0.0)], "demand_kwh")
    good = np.ones((1, 288))
    with pytest.raises(ParameterError, match="typical_day mode needs a profile for the producers"):
        match_energy(p, c, max_distance_m=100, mode="typical_day", consumer_profile=good)
    with pytest.raises(ParameterError, match=r"shape \(1, 24\); typical_day mode needs \(1, 288\)"):
        match_energy(p, c, max_distance_m=100, mode="typical_day",
                     producer_profile=np.ones((1, 24)), consumer_profile=good)
    bad = good.copy()
    bad[0, 5] = -1
    with pytest.raises(ColumnError, match="consumers: profile is negative for id"):
        match_energy(p, c, max_distance_m=100, mode="typical_day", producer_profile=good,
                     consumer_profile=bad)
    hourly = consumption_profile(annual_kwh=[1.0], mode="hourly")
    with pytest.raises(ParameterError, match="A hourly profile cannot be matched in typical_day"):
        match_energy(p, c, max_distance_m=100, mode="typical_day", producer_profile=good,
                     consumer_profile=hourly)
    with pytest.raises(ParameterError, match="mode must be one of"):
        match_energy(p, c, max_distance_m=100, mode="daily")
    with pytest.raises(ParameterError, match="weights must be 288"):
        match_energy(p, c, max_distance_m=100, mode="typical_day", producer_profile=good,
                     consumer_profile=good, weights=np.ones(3))


# --- certificate -----------------------------------------------------------------------------


@pytest.fixture
def solved():
    p = sites([("a", 0, 0, 10.0), ("b", 500, 0, 10.0), ("c", 2000, 0, 5.0)])
    c = sites([("x", 0, 100, 10.0), ("y", 0, -900, 10.0), ("z", 2100, 0, 6.0)], "demand_kwh")
    return p, c, match_energy(p, c, max_distance_m=1000)


def proofs_of(problem):
    blocks = []
    solve(problem, prove=blocks.append)
    assert len(blocks) == 1
    return blocks[0]


def with_flows(proofs, problem, changes, drop=()):
    """``proofs`` with ``changes[(producer, consumer)]`` Wh added in every step and the pairs in
    ``drop`` removed; the cut and the potentials stay the solver's."""
    flows = {(int(p), int(c), int(r)): int(w) for p, c, r, w in zip(
        proofs.flow_producer, proofs.flow_consumer, proofs.flow_row, proofs.flow_wh,
        strict=True)}
    pid = {v: i for i, v in enumerate(problem.producer_ids)}
    cid = {v: i for i, v in enumerate(problem.consumer_ids)}
    for (p, c), delta in changes.items():
        key = (pid[p], cid[c], 0)
        flows[key] = flows.get(key, 0) + delta
    for p, c in drop:
        flows.pop((pid[p], cid[c], 0))
    keys = [k for k, w in flows.items() if w]
    return replace(
        proofs, flow_producer=np.array([k[0] for k in keys], dtype=np.int64),
        flow_consumer=np.array([k[1] for k in keys], dtype=np.int64),
        flow_row=np.array([k[2] for k in keys], dtype=np.int64),
        flow_wh=np.array([flows[k] for k in keys], dtype=np.int64))


def checked(p, c, problem, proofs):
    checker = Checker(instance_of(problem, p, c))
    checker.check(proofs)
    return checker.verdict()


def test_certificate_proves_the_solution(solved):
    p, c, r = solved
    cert = r.certificate
    assert cert.ok and cert.steps_checked == cert.steps_total == 1 and cert.problems == 0
    # Max flow = min cut, primal = dual, in whole Wh and Wh x dm.
    assert cert.matched_wh == cert.cut_wh == 25_000 == r.totals.matched_wh
    assert cert.cost == cert.dual_cost == r.totals.cost_wh_dm
    assert cert.summary().startswith("proven optimal: exact duality certificate on 1 of 1")
    # The same proofs, checked again from scratch, from the sites alone.
    assert checked(p, c, r.problem, proofs_of(r.problem)).ok


def test_moving_one_wh_from_a_10_m_to_a_1000_m_arc_is_rejected():
    # The optimum is 10 kWh over 10 m: 1,000,000 Wh x dm. One Wh over 1000 m instead costs
    # 1,009,900; the old HiGHS comparison with a tolerance of one Wh over the longest arc
    # passed it.
    p = sites([("a", 0, 0, 10.0)])
    c = sites([("x", 10, 0, 10.0), ("y", 1000, 0, 10.0)], "demand_kwh")
    r = match_energy(p, c, max_distance_m=1000)
    assert r.certificate.cost == 1_000_000
    proofs = with_flows(proofs_of(r.problem), r.problem, {("a", "x"): -1, ("a", "y"): 1})
    verdict = checked(p, c, r.problem, proofs)
    assert not verdict.ok
    assert "1 pair arc(s) carry energy at a positive reduced cost" in verdict.summary()
    moved = StepFlows(np.zeros(2, dtype=np.int64), np.array([0, 1]), np.array([9_999, 1]))
    highs = cross_check(r.problem, moved)
    assert not highs.ok and highs.problems == (
        "step 0: energy x distance 1009900, HiGHS 1000000 (Wh x dm)",)


def test_mutated_flows_are_rejected(solved):
    p, c, r = solved
    proofs = proofs_of(r.problem)
    # One Wh moved between two arcs: still feasible, same energy, dearer.
    moved = with_flows(proofs, r.problem, {("a", "y"): -1, ("a", "x"): 1, ("b", "x"): -1,
                                           ("b", "y"): 0})
    verdict = checked(p, c, r.problem, moved)
    assert not verdict.ok and "matched 24999 Wh but the cut holds 25000 Wh" in verdict.summary()
    # One arc dropped: less energy than the cut proves possible.
    dropped = with_flows(proofs, r.problem, {}, drop=[("c", "z")])
    verdict = checked(p, c, r.problem, dropped)
    assert not verdict.ok and "matched 20000 Wh but the cut holds 25000 Wh" in verdict.summary()
    # One limit exceeded.
    over = with_flows(proofs, r.problem, {("a", "y"): 1})
    verdict = checked(p, c, r.problem, over)
    assert not verdict.ok
    assert "step 0: 1 producer(s) deliver more than their supply" in verdict.summary()


def test_a_pair_missing_from_the_problem_is_caught():
    # A fault in building the problem (a candidate pair lost) leaves a solution that is
    # optimal for the wrong problem; the checker rebuilds the pairs from the sites.
    p = sites([("a", 0, 0, 10.0)])
    c = sites([("x", 100, 0, 5.0), ("y", 200, 0, 5.0)], "demand_kwh")
    problem = build_problem(p, c, max_distance_m=500)
    keep = np.array([0])
    faulty = replace(problem, arc_producer=problem.arc_producer[keep],
                     arc_consumer=problem.arc_consumer[keep],
                     distance_m=problem.distance_m[keep], arc_cost=problem.arc_cost[keep],
                     consumer_component=np.array([0, 1]))
    verdict = checked(p, c, problem, proofs_of(faulty))
    assert not verdict.ok and "pair arc(s) leave the cut" in verdict.summary()


def test_sites_at_one_spot_and_the_same_site_are_handled():
    p = sites([("a", 0, 0, 10.0), ("s", 0, 0, 4.0)])
    c = sites([("s", 0, 0, 8.0), ("x", 0, 0, 8.0)], "demand_kwh")
    r = match_energy(p, c, max_distance_m=10)
    assert r.certificate.ok and r.certificate.matched_wh == 14_000  # s is not paired with s
    assert r.certificate.cost == 0 == r.certificate.dual_cost


def test_a_gap_of_one_cost_unit_fails_the_highs_cross_check():
    p = sites([("a", 0, 0, 10.0)])
    c = sites([("x", 10, 0, 10.0), ("y", 10.1, 0, 10.0)], "demand_kwh")
    r = match_energy(p, c, max_distance_m=100, cross_check_steps=1)
    assert r.cross_check.ok and r.cross_check.cost == r.cross_check.reference_cost == 1_000_000
    moved = StepFlows(np.zeros(2, dtype=np.int64), np.array([0, 1]), np.array([9_999, 1]))
    highs = cross_check(r.problem, moved)
    assert not highs.ok and highs.feasible
    assert highs.problems == ("step 0: energy x distance 1000001, HiGHS 1000000 (Wh x dm)",)
    with pytest.raises(CertificateError, match="positive reduced cost"):
        proofs = with_flows(proofs_of(r.problem), r.problem, {("a", "x"): -1, ("a", "y"): 1})
        verdict = checked(p, c, r.problem, proofs)
        raise CertificateError(verdict.summary(), verdict)


def test_the_cross_check_samples_other_steps_every_run():
    p = sites([("a", 0, 0, 0.0)])
    c = sites([("x", 10, 0, 0.0)], "demand_kwh")
    ones = np.ones((1, 288))
    problem = build_problem(p, c, max_distance_m=50, mode="typical_day", producer_profile=ones,
                            consumer_profile=ones)
    solution = solve(problem)
    first = cross_check(problem, solution, sample=5)
    again = cross_check(problem, solution, sample=5)
    assert first.ok and again.ok and first.seed != again.seed
    assert len(first.steps) == 5 and first.steps_total == 288
    assert cross_check(problem, solution, sample=5, seed=first.seed).steps == first.steps
    assert f"5 of 288 active steps (seed {first.seed})" in first.summary()


def test_reference_solver_agrees_whole_and_per_component(solved):
    pr = solved[2].problem
    assert reference_solve(pr, 0) == reference_solve(pr, 0, per_component=False)


def test_proofs_keep_their_shape():
    p = sites([("a", 0, 0, 10.0)])
    c = sites([("x", 10, 0, 10.0)], "demand_kwh")
    problem = build_problem(p, c, max_distance_m=100)
    proofs = proofs_of(problem)
    assert isinstance(proofs, StepProofs)
    bad = replace(proofs, producer_potential=np.zeros((2, 1), dtype=np.int64))
    verdict = checked(p, c, problem, bad)
    assert not verdict.ok and "producer_potential has shape (2, 1), not (1, 1)" in verdict.summary()


# --- what if ---------------------------------------------------------------------------------


def test_marginal_gain_of_more_surplus_or_demand():
    p = sites([("a", 0, 0, 10.0), ("b", 5000, 0, 1.0)])
    c = sites([("x", 100, 0, 25.0), ("y", 5100, 0, 0.5)], "demand_kwh")
    problem = build_problem(p, c, max_distance_m=1000)
    assert marginal_gain(problem, producer_id="a", extra_kwh=10.0) == 10.0
    assert marginal_gain(problem, producer_id="a", extra_kwh=100.0) == 15.0
    assert marginal_gain(problem, producer_id="b", extra_kwh=5.0) == 0.0  # y is full
    assert marginal_gain(problem, consumer_id="y", extra_kwh=2.0) == 0.5
    with pytest.raises(ParameterError, match="Unknown id q"):
        marginal_gain(problem, producer_id="q", extra_kwh=1.0)
    with pytest.raises(ParameterError, match="either a producer or a consumer"):
        marginal_gain(problem, extra_kwh=1.0)


def test_marginal_gain_of_ten_extra_kwp_in_typical_day_mode():
    p = sites([("a", 0, 0, 0.0)])
    c = sites([("x", 100, 0, 0.0)], "demand_kwh")
    pv = pv_profile(lon=6.56, lat=52.99, kwp=np.array([5.0]), mode="typical_day")
    load = consumption_profile(annual_kwh=[50_000.0], category="g3", mode="typical_day")
    problem = build_problem(p, c, max_distance_m=500, mode="typical_day",
                            producer_profile=pv, consumer_profile=load)
    extra = pv_profile(lon=6.56, lat=52.99, kwp=10.0, mode="typical_day").values
    gain = marginal_gain(problem, producer_id="a", extra_kwh=extra)
    # The demand around the clock is far above the PV output: nearly all extra energy counts.
    assert gain == pytest.approx(8750.0, rel=0.02) and gain <= 8750.0
    before = solve(problem)
    more = replace(problem, supply_wh=problem.supply_wh * 0)
    assert solve(more).wh.size == 0 and before.wh.size > 0


def test_result_frames_are_consistent(solved):
    r = solved[2]
    assert r.step_flows is None and r.mode == "annual"
    assert r.flows["kwh"].sum() == pytest.approx(r.totals.matched_kwh)
    assert r.components["matched_kwh"].sum() == pytest.approx(r.totals.matched_kwh)
    assert set(r.flows["component"]) <= set(r.components["component"])
    assert isinstance(r.flows, pd.DataFrame)
