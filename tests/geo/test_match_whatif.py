"""What-ifs from a run's own flow equal solving the changed component again."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from geo.match_problem import build_problem
from geo.match_solve import solve
from geo.match_whatif import Extra, matched_gains, transfer_flows
from geo.matching import marginal_gain
from geo.profiles import step_weights

X0, Y0 = 233_000.0, 556_000.0


def sites(rng: np.random.Generator, n: int, prefix: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [f"{prefix}{i}" for i in range(n)]},
        geometry=gpd.points_from_xy(X0 + rng.uniform(0, 1500, n), Y0 + rng.uniform(0, 900, n)),
        crs="EPSG:28992")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["annual", "typical_day"])
def test_every_site_gains_what_solving_again_gives(seed, mode):
    rng = np.random.default_rng(seed)
    producers, consumers = sites(rng, 7, "p"), sites(rng, 9, "c")
    # Some sites are on both sides, as a site with PV and use is in a run; some producers have
    # nothing to give and some consumers nothing to take (a what-if adds them like that).
    consumers.loc[:2, "id"] = producers["id"][:3].to_numpy()
    consumers.loc[:2, "geometry"] = producers.geometry[:3].to_numpy()
    steps = 1 if mode == "annual" else len(step_weights(mode))
    surplus = rng.uniform(0, 40, (7, steps)) * (rng.uniform(size=(7, steps)) < 0.6)
    demand = rng.uniform(0, 30, (9, steps)) * (rng.uniform(size=(9, steps)) < 0.7)
    surplus[5] = 0.0
    demand[7] = 0.0
    producers["feed_in_kw"] = np.where(np.arange(7) == 1, 12.0, np.nan)
    kwargs = ({"producer_profile": surplus, "consumer_profile": demand} if steps > 1 else {})
    problem = build_problem(producers.assign(surplus_kwh=surplus.sum(axis=1)),
                            consumers.assign(demand_kwh=demand.sum(axis=1)),
                            max_distance_m=600, mode=mode, **kwargs)
    assert problem.n_arcs > 10
    extras = ([Extra("producer", i, rng.uniform(0, 25, steps)) for i in range(7)]
              + [Extra("consumer", j, rng.uniform(0, 25, steps)) for j in range(9)])
    gains = matched_gains(problem, solve(problem), extras)
    expected = [marginal_gain(problem, producer_id=f"p{i}", extra_kwh=e.kwh)
                for i, e in zip(range(7), extras[:7], strict=True)]
    expected += [marginal_gain(problem, consumer_id=problem.consumer_ids[j], extra_kwh=e.kwh)
                 for j, e in zip(range(9), extras[7:], strict=True)]
    assert gains.tolist() == pytest.approx(expected, abs=1e-9)
    # Not a trivial instance: some extras are matched in full, some only in part or not at all.
    full = [float(np.sum(np.broadcast_to(e.kwh, (steps,)) * problem.weights)) for e in extras]
    assert any(g > 0 for g in expected)
    assert any(g < f - 1 for g, f in zip(expected, full, strict=True))


def test_flows_move_onto_a_problem_with_more_sites():
    rng = np.random.default_rng(7)
    producers, consumers = sites(rng, 4, "p"), sites(rng, 5, "c")
    small = build_problem(producers.assign(surplus_kwh=[30.0, 0.0, 20.0, 10.0]).iloc[[0, 2, 3]],
                          consumers.assign(demand_kwh=[5.0, 9.0, 0.0, 30.0, 12.0]),
                          max_distance_m=800)
    large = build_problem(producers.assign(surplus_kwh=[30.0, 0.0, 20.0, 10.0]),
                          consumers.assign(demand_kwh=[5.0, 9.0, 0.0, 30.0, 12.0]),
                          max_distance_m=800)
    flows = transfer_flows(small, solve(small), large)
    # The same matched energy, so the what-ifs of the larger problem can start from it.
    assert flows.wh.sum() == solve(large).wh.sum()
    site = int(np.flatnonzero(large.producer_ids == "p1")[0])
    assert matched_gains(large, flows, [Extra("producer", site, 15.0)]).tolist() == [
        pytest.approx(marginal_gain(large, producer_id="p1", extra_kwh=15.0))]
