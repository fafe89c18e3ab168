"""Tests for geo.heat: hand-built layouts with known answers, plus properties against brute force."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

from geo.errors import ColumnError, CoordinateError, CRSError, ParameterError
from geo.heat import (
    assign_sites,
    candidate_networks,
    gas_to_heat_mwh,
    sink_temperatures,
    tipping_candidates,
    viability_class,
)

RD = "EPSG:28992"
# A place in Assen, so coordinates have the magnitude of real RD New data.
X0, Y0 = 233_900.0, 556_800.0


def points(ids: list[str], xy: list[tuple[float, float]], mwh: list[float] | None = None,
           **columns: object) -> gpd.GeoDataFrame:
    """Sites at offsets from (X0, Y0)."""
    return gpd.GeoDataFrame(
        {"id": ids, "mwh": mwh if mwh is not None else [10.0] * len(ids), **columns},
        geometry=gpd.points_from_xy([X0 + p[0] for p in xy], [Y0 + p[1] for p in xy]),
        crs=RD,
    )


def no_sinks() -> gpd.GeoDataFrame:
    return points([], [])


def brute_force_mst(xy: np.ndarray) -> float:
    """Independent reference: scipy's MST over all pairs of distinct points.

    As a sparse matrix: a dense one makes scipy drop distances near zero as "no edge".
    """
    unique = np.unique(np.asarray(xy, dtype=float).reshape(-1, 2), axis=0)
    if len(unique) < 2:
        return 0.0
    i, j = np.triu_indices(len(unique), 1)
    d = cdist(unique, unique)[i, j]
    return float(minimum_spanning_tree(coo_matrix((d, (i, j)), shape=(len(unique),) * 2)).sum())


# --------------------------------------------------------------------------------------------
# trench: minimum spanning tree x detour factor


@pytest.mark.parametrize(
    ("layout", "mst"),
    [
        # a line of three sites 100 m apart
        ([(0, 0), (100, 0), (200, 0)], 200.0),
        # an L: 200 m east, then 200 m north
        ([(0, 0), (100, 0), (200, 0), (200, 100), (200, 200)], 400.0),
        # a 100 m square: three sides, not the perimeter (400)
        ([(0, 0), (100, 0), (100, 100), (0, 100)], 300.0),
        # the square with its centre: a star of four half-diagonals, shorter than three sides
        ([(0, 0), (100, 0), (100, 100), (0, 100), (50, 50)], 4 * math.hypot(50, 50)),
    ],
    ids=["line", "L", "square", "square-with-centre"],
)
def test_trench_is_the_minimum_spanning_tree_times_the_detour_factor(
    layout: list[tuple[float, float]], mst: float
) -> None:
    sources = points(["s"], layout[:1], [100.0])
    sinks = points([f"k{i}" for i in range(1, len(layout))], layout[1:])
    nets = candidate_networks(sources, sinks, max_gap_m=150)
    assert len(nets) == 1
    row = nets.loc[0]
    assert row.mst_length_m == pytest.approx(mst)
    assert row.detour_factor == 1.3
    assert row.trench_length_m == pytest.approx(mst * 1.3)
    # The sketch is the tree itself: n - 1 straight edges, as long as the MST, in RD New.
    assert nets.crs.equals(RD)
    assert row.geometry.geom_type == "MultiLineString"
    assert shapely.get_num_geometries(row.geometry) == len(layout) - 1
    assert row.geometry.length == pytest.approx(mst)
    sketch_vertices = {tuple(c) for c in shapely.get_coordinates(row.geometry).round(6)}
    assert sketch_vertices == {(X0 + x, Y0 + y) for x, y in layout}

    wide = candidate_networks(sources, sinks, max_gap_m=150, detour_factor=1.0)
    assert wide.loc[0].trench_length_m == pytest.approx(mst)


def test_sites_on_a_line_that_qhull_calls_flat() -> None:
    # A north-south street whose x differ in the last bit only (near the west edge of RD New,
    # where that bit is small enough for Qhull to find the input flat): sorting by x, then y,
    # would zigzag; the tree must run along the street.
    x = np.where(np.arange(6) % 2 == 0, 1000.0, np.nextafter(1000.0, np.inf))
    y = Y0 + 100.0 * np.array([0, 1, 2, 3, 4, 5])
    sites = gpd.GeoDataFrame({"id": [f"k{i}" for i in range(6)], "mwh": 10.0},
                             geometry=gpd.points_from_xy(x, y), crs=RD)
    nets = candidate_networks(sites.iloc[:1], sites.iloc[1:], max_gap_m=100, detour_factor=1.0)
    assert nets["mst_length_m"].tolist() == [pytest.approx(500.0)]


def test_a_site_that_qhull_leaves_out_is_still_joined() -> None:
    # Two sites 6e-11 m apart: Qhull drops one of them from the triangulation (as coplanar).
    grid = [(233900, 556900), (234000, 556900), (234000, 557300), (234000, 557500),
            (234000, 557700), (234100, 557400), (234100, 557800), (234200, 556900),
            (234200, 557600), (234200, 557800), (234400, 557000), (234400, 557400),
            (234500, 557000), (234500, 557400), (234600, 556900), (234600, 557000),
            (234700, 557100), (234700, 557700), (234700, 557800), (234800, 557000),
            (234800, 557400), (234800, 557800), (234900, 557100)]
    xy = np.array([*grid, (234800.00000000006, 557800.0)], dtype=float)
    sites = gpd.GeoDataFrame({"id": [f"k{i}" for i in range(len(xy))], "mwh": 1.0},
                             geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=RD)
    row = candidate_networks(sites.iloc[:1], sites.iloc[1:], max_gap_m=1000,
                             detour_factor=1.0).loc[0]
    assert row.mst_length_m == pytest.approx(brute_force_mst(xy), abs=1e-6)
    assert shapely.get_num_geometries(row.geometry) == len(xy) - 1


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=25),
    st.integers(1, 4),
    st.sampled_from([20.0, 45.0, 80.0, 1000.0]),
    st.booleans(),
)
def test_mst_matches_brute_force_and_beats_any_spanning_path(
    cells: list[tuple[int, int]], n_sources: int, gap: float, on_a_line: bool
) -> None:
    # Integer cells x 20 m: coincident sites, collinear runs and exact ties all occur.
    xy = np.array([(20.0 * a, 0.0 if on_a_line else 20.0 * b) for a, b in cells])
    k = min(n_sources, len(xy))
    sources = points([f"s{i}" for i in range(k)], [tuple(p) for p in xy[:k]])
    sinks = points([f"k{i}" for i in range(len(xy) - k)], [tuple(p) for p in xy[k:]],
                   [float(i) for i in range(len(xy) - k)])
    nets = candidate_networks(sources, sinks, max_gap_m=gap, detour_factor=1.0)
    sites = assign_sites(sources, sinks, max_gap_m=gap)
    codes = pd.concat([sites.sources.network_id, sites.sinks.network_id]).to_numpy()
    assert set(codes[:k]) == set(nets.index)  # every source is in a network
    for network_id, row in nets.iterrows():
        member = np.array([c == network_id for c in codes], dtype=bool)
        mine = xy[member]
        assert row.mst_length_m == pytest.approx(brute_force_mst(mine), abs=1e-6)
        # Any path through the sites (here in input order) spans them too, so it is no shorter.
        path = float(np.hypot(*np.diff(mine, axis=0).T).sum()) if len(mine) > 1 else 0.0
        assert row.mst_length_m <= path + 1e-6
        assert row.n_sources + row.n_sinks == member.sum()

    # More demand on the same sites never lowers a density.
    richer = sinks.assign(mwh=sinks["mwh"] + 5.0)
    more = candidate_networks(sources, richer, max_gap_m=gap, detour_factor=1.0)
    both = nets["heat_density_mwh_per_m"].notna()
    assert (more["heat_density_mwh_per_m"][both] >= nets["heat_density_mwh_per_m"][both]).all()


# --------------------------------------------------------------------------------------------
# density, viability, coverage


@pytest.mark.parametrize(
    ("sink_mwh", "viability"),
    [(49.99, "critical"), (50.0, "sufficient"), (150.0, "sufficient"), (150.01, "good")],
)
def test_density_class_boundaries(sink_mwh: float, viability: str) -> None:
    # 100 m of trench: density = sink MWh / 100; exactly 0.5 and exactly 1.5 are sufficient.
    sources = points(["s"], [(0, 0)], [1000.0])
    sinks = points(["k"], [(100, 0)], [sink_mwh])
    row = candidate_networks(sources, sinks, max_gap_m=100, detour_factor=1.0).loc[0]
    assert row.trench_length_m == 100.0
    assert row.heat_density_mwh_per_m == sink_mwh / 100
    assert row.viability == viability
    assert viability_class([sink_mwh / 100]).tolist() == [viability]


def test_coverage_is_the_share_of_demand_the_sources_supply_at_most_one() -> None:
    sources = points(["big", "small", "lone"], [(0, 0), (5000, 0), (10_000, 0)],
                     [900.0, 100.0, 50.0])
    sinks = points(["a", "b", "c"], [(100, 0), (5100, 0), (5200, 0)], [300.0, 250.0, 150.0])
    nets = candidate_networks(sources, sinks, max_gap_m=150)
    assert nets["sink_mwh"].tolist() == [300.0, 400.0, 0.0]
    assert nets["coverage"].iloc[:2].tolist() == [1.0, 0.25]
    assert math.isnan(nets["coverage"].iloc[2])  # no demand: nothing to cover


def test_a_network_without_trench_has_no_density_and_is_critical() -> None:
    # A lone source, and a source with a sink at the very same location (one building).
    sources = points(["lone", "plant"], [(0, 0), (5000, 0)], [100.0, 100.0])
    sinks = points(["plant-office"], [(5000, 0)], [80.0])
    nets = candidate_networks(sources, sinks, max_gap_m=100)
    assert nets["site_ids"].tolist() == [["lone"], ["plant", "plant-office"]]
    assert nets["trench_length_m"].tolist() == [0.0, 0.0]
    assert nets["heat_density_mwh_per_m"].isna().all()
    assert nets["viability"].tolist() == ["critical", "critical"]
    assert nets.geometry.is_empty.all()
    assert nets.geometry.geom_type.tolist() == ["MultiLineString", "MultiLineString"]


# --------------------------------------------------------------------------------------------
# which groups are networks


def test_only_groups_with_a_source_are_networks() -> None:
    sources = points(["s1", "s2"], [(5000, 0), (0, 0)], [100.0, 200.0])
    sinks = points(
        ["near-s2", "alone-1", "alone-2", "near-s1", "chain-s1"],
        [(100, 0), (2000, 0), (2100, 0), (5100, 0), (5200, 0)],
        [1.0, 2.0, 3.0, 4.0, 5.0],
    )
    nets = candidate_networks(sources, sinks, max_gap_m=150)
    # Numbered by their first source; the two sinks at 2 km form a group but no network.
    assert nets.index.tolist() == [0, 1]
    assert nets.index.name == "network_id"
    assert nets["site_ids"].tolist() == [["s1", "near-s1", "chain-s1"], ["s2", "near-s2"]]
    assert nets["source_ids"].tolist() == [["s1"], ["s2"]]
    assert nets["sink_ids"].tolist() == [["near-s1", "chain-s1"], ["near-s2"]]
    assert nets["n_sinks"].tolist() == [2, 1]
    assert nets["sink_mwh"].tolist() == [9.0, 1.0]

    sites = assign_sites(sources, sinks, max_gap_m=150)
    assert sites.sources["network_id"].tolist() == [0, 1]
    assert sites.sinks.index.equals(sinks.index)
    assert sites.sinks["network_id"].tolist() == [1, pd.NA, pd.NA, 0, 0]


def test_a_building_that_is_source_and_sink_is_listed_once() -> None:
    sources = points(["shop"], [(0, 0)], [50.0])
    sinks = points(["shop", "office"], [(0, 0), (100, 0)], [30.0, 40.0])
    row = candidate_networks(sources, sinks, max_gap_m=150).loc[0]
    assert row.site_ids == ["shop", "office"]
    assert row.sink_ids == ["shop", "office"]
    assert (row.n_sinks, row.sink_mwh) == (2, 70.0)


def test_no_sources_no_networks() -> None:
    nets = candidate_networks(points([], []), points(["a"], [(0, 0)]), max_gap_m=100)
    assert len(nets) == 0
    assert "viability" in nets.columns
    assert nets.crs.equals(RD)


# --------------------------------------------------------------------------------------------
# temperatures


def test_heat_pump_needed_above_the_best_source_temperature() -> None:
    sources = points(["cool", "warm", "far"], [(0, 0), (100, 0), (5000, 0)],
                     [100.0, 100.0, 100.0], temperature_c=[45.0, 60.0, np.nan])
    sinks = points(
        ["exact", "high", "low", "medium", "unknown", "given", "far-sink"],
        [(0, 100), (100, 100), (200, 0), (200, 100), (0, -100), (100, -100), (5100, 0)],
        [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
        temperature_c=[60.0, None, None, None, None, 62.0, 40.0],
        temperature_class=[None, "High", "low", " medium ", None, "low", None],
    )
    assert sink_temperatures(sinks).tolist()[:4] == [60.0, 70.0, 40.0, 55.0]
    assert sink_temperatures(sinks).iloc[5] == 62.0  # a measured temperature wins
    sites = assign_sites(sources, sinks, max_gap_m=150)
    # The best source of network 0 gives 60 °C; network 1 has no known source temperature.
    assert sites.sinks["source_temperature_c"].iloc[:6].tolist() == [60.0] * 6
    assert sites.sinks["needs_heat_pump"].tolist() == [
        False, True, False, False, pd.NA, True, pd.NA
    ]
    nets = candidate_networks(sources, sinks, max_gap_m=150)
    assert nets["source_temperature_c"].iloc[0] == 60.0
    assert math.isnan(nets["source_temperature_c"].iloc[1])
    assert nets["sinks_needing_heat_pump"].tolist() == [2, 0]
    assert nets["mwh_needing_heat_pump"].tolist() == [34.0, 0.0]
    assert nets["sinks_temperature_unknown"].tolist() == [1, 1]

    hotter = {"low": 45.0, "medium": 58.0, "high": 75.0}
    custom = assign_sites(sources, sinks, max_gap_m=150, temperature_classes=hotter)
    assert custom.sinks["temperature_c"].iloc[1:4].tolist() == [75.0, 45.0, 58.0]


def test_gas_to_heat_uses_the_stated_factors() -> None:
    # 31.65 MJ/m³ (Groningen gas, lower heating value) / 3600 MJ/MWh x 0.9 boiler efficiency.
    assert gas_to_heat_mwh(10_000) == pytest.approx(10_000 * 31.65 / 3600 * 0.9)
    assert gas_to_heat_mwh(1000, boiler_efficiency=1.0) == pytest.approx(8.7917, abs=1e-4)
    assert gas_to_heat_mwh(1000, heating_value_mj_per_m3=35.17, boiler_efficiency=1.0) == (
        pytest.approx(35.17 / 3.6)
    )
    use = pd.Series([0.0, 2000.0], index=["a", "b"])
    heat = gas_to_heat_mwh(use)
    assert heat.index.tolist() == ["a", "b"]
    assert heat.name == "mwh"
    assert heat.tolist() == pytest.approx([0.0, 15.825])


# --------------------------------------------------------------------------------------------
# what would tip it


def small_network() -> pd.Series:
    """A source with one sink 100 m away: 20 MWh over 100 m (detour 1) = 0.2, critical."""
    sources = points(["S"], [(0, 0)], [1000.0])
    sinks = points(["A"], [(100, 0)], [20.0])
    return candidate_networks(sources, sinks, max_gap_m=100, detour_factor=1.0).loc[0]


def test_tipping_list_is_greedy_by_gain_and_names_the_smallest_n() -> None:
    net = small_network()
    assert (net.viability, net.heat_density_mwh_per_m) == ("critical", 0.2)
    others = points(
        ["A", "B", "C", "D"], [(100, 0), (0, 100), (0, 200), (5000, 0)],
        [20.0, 40.0, 60.0, 1000.0],
    )
    potential = points(["E", "B"], [(0, 300), (0, 100)], [90.0, 999.0])
    tip = tipping_candidates(net, others=others, potential=potential)
    table = tip.candidates
    # A is in the network already; the potential B is the member B (skipped).
    # Step 1: B alone gives 60/200 = 0.3 (C 80/300, E 110/400, D 1020/5100 are lower).
    # Step 2: C, now 100 m from B: 120/300 = 0.4.  Step 3: E, 100 m from C: 210/400 = 0.525.
    # Step 4: D, 4900 m from A: 1210/5300, which falls back below sufficient.
    assert table["id"].tolist() == ["B", "C", "E", "D"]
    assert table["kind"].tolist() == ["member", "member", "potential", "member"]
    assert table.index.tolist() == [1, 2, 3, 4]
    assert table["distance_m"].tolist() == [100.0, 100.0, 100.0, 4900.0]
    assert table["trench_length_m"].tolist() == [200.0, 300.0, 400.0, 5300.0]
    assert table["heat_density_mwh_per_m"].tolist() == pytest.approx(
        [0.3, 0.4, 0.525, 1210 / 5300]
    )
    assert table["gain_mwh_per_m"].tolist() == pytest.approx(
        [0.1, 0.1, 0.125, 1210 / 5300 - 0.525]
    )
    assert table["viability"].tolist() == ["critical", "critical", "sufficient", "critical"]
    assert table["reaches_target"].tolist() == [False, False, True, False]
    assert (tip.n_needed, tip.mwh_needed, tip.density_after, tip.trench_length_after_m) == (
        3, 190.0, pytest.approx(0.525), 400.0
    )
    assert tip.reached and tip.viability_now == "critical" and tip.threshold_mwh_per_m == 0.5
    assert table.crs.equals(RD)
    assert table.geometry.x.tolist() == [X0, X0, X0, X0 + 5000]

    shorter = tipping_candidates(net, others=others, potential=potential, limit=2)
    assert shorter.candidates["id"].tolist() == ["B", "C"]
    assert shorter.n_needed is None and not shorter.reached


def test_tipping_trench_is_an_upper_bound_of_the_exact_tree() -> None:
    # The big joiner far out comes first (5 MWh/m), then the small one halfway: the estimate
    # adds 200 + 100 m, the exact tree runs S - half - far: 200 m.
    net = small_network()
    others = points(["far", "half"], [(-200, 0), (-100, 0)], [1000.0, 10.0])
    tip = tipping_candidates(net, others=others, target="good")
    assert tip.candidates["id"].tolist() == ["far", "half"]
    assert tip.candidates["trench_length_m"].tolist() == [300.0, 400.0]
    exact = candidate_networks(
        points(["S"], [(0, 0)]), points(["A", "far", "half"], [(100, 0), (-200, 0), (-100, 0)]),
        max_gap_m=1e6, detour_factor=1.0,
    ).loc[0]
    assert exact.trench_length_m == 300.0 < tip.candidates["trench_length_m"].iloc[-1]
    assert tip.n_needed == 1 and tip.density_after == pytest.approx(1020 / 300)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)), min_size=1, max_size=4),
    st.lists(
        st.tuples(st.integers(-40, 40), st.integers(-40, 40), st.integers(0, 500)),
        min_size=1, max_size=8,
    ),
    st.sampled_from([1.0, 1.3]),
)
def test_tipping_estimate_never_undercuts_the_exact_trench(
    sites: list[tuple[int, int]], joiners: list[tuple[int, int, int]], detour: float
) -> None:
    xy = [(25.0 * a, 25.0 * b) for a, b in sites]
    sources = points(["S"], xy[:1], [100.0])
    sinks = points([f"k{i}" for i in range(len(xy) - 1)], xy[1:])
    net = candidate_networks(sources, sinks, max_gap_m=1e6, detour_factor=detour).loc[0]
    jxy = [(25.0 * a, 25.0 * b) for a, b, _m in joiners]
    others = points([f"j{i}" for i in range(len(joiners))], jxy, [float(m) for *_xy, m in joiners])
    tip = tipping_candidates(net, others=others, limit=len(joiners))
    assert len(tip.candidates) == len(joiners)
    gained = np.diff(np.r_[0.0, np.nan_to_num(tip.candidates["heat_density_mwh_per_m"])])
    assert tip.candidates["gain_mwh_per_m"].iloc[1:].to_numpy() == pytest.approx(gained[1:])
    for n in range(1, len(joiners) + 1):
        chosen = tip.candidates.iloc[:n]
        joined = pd.concat([sinks, others.set_index("id").loc[chosen["id"]].reset_index()])
        exact = candidate_networks(sources, gpd.GeoDataFrame(joined, crs=RD),
                                   max_gap_m=1e6, detour_factor=detour).loc[0]
        assert exact.trench_length_m <= chosen["trench_length_m"].iloc[-1] + 1e-6
        assert exact.sink_mwh == pytest.approx(chosen["sink_mwh"].iloc[-1])


def test_tipping_for_a_lone_source_and_for_a_network_that_is_viable_already() -> None:
    lone = candidate_networks(points(["S"], [(0, 0)]), no_sinks(), max_gap_m=100).loc[0]
    others = points(["a", "b"], [(0, 0), (100, 0)], [5.0, 100.0])
    tip = tipping_candidates(lone, others=others)
    assert math.isnan(tip.density_now)
    # The neighbour at the source itself is free (no trench, density still undefined).
    assert tip.candidates["id"].tolist() == ["a", "b"]
    assert tip.candidates["trench_length_m"].tolist() == [0.0, 130.0]
    assert math.isnan(tip.candidates["heat_density_mwh_per_m"].iloc[0])
    assert tip.candidates["heat_density_mwh_per_m"].iloc[1] == pytest.approx(105 / 130)
    assert tip.n_needed == 2

    good = candidate_networks(points(["S"], [(0, 0)]), points(["k"], [(10, 0)], [500.0]),
                              max_gap_m=100).loc[0]
    done = tipping_candidates(good, others=others)
    assert (done.n_needed, done.mwh_needed, done.viability_now) == (0, 0.0, "good")


# --------------------------------------------------------------------------------------------
# invalid input: exact messages


def test_missing_columns() -> None:
    sources = points(["s"], [(0, 0)]).drop(columns="mwh")
    with pytest.raises(ColumnError) as err:
        candidate_networks(sources, no_sinks(), max_gap_m=100)
    assert str(err.value) == "sources: missing column(s) mwh."


def test_negative_and_missing_mwh() -> None:
    sinks = points(["a", "b", "c"], [(0, 0), (1, 0), (2, 0)], [1.0, -2.0, -3.0])
    with pytest.raises(ColumnError) as err:
        candidate_networks(points(["s"], [(0, 0)]), sinks, max_gap_m=100)
    assert str(err.value) == "sinks: mwh is negative for id(s) b, c."
    sinks = points(["a"], [(0, 0)], [np.nan])
    with pytest.raises(ColumnError) as err:
        candidate_networks(points(["s"], [(0, 0)]), sinks, max_gap_m=100)
    assert str(err.value) == "sinks: mwh is missing or not a finite number for id(s) a."


def test_nan_coordinates() -> None:
    sinks = gpd.GeoDataFrame({"id": ["a"], "mwh": [1.0]},
                             geometry=gpd.points_from_xy([np.nan], [Y0]), crs=RD)
    with pytest.raises(CoordinateError) as err:
        candidate_networks(points(["s"], [(0, 0)]), sinks, max_gap_m=100)
    assert str(err.value) == "sinks with NaN or infinite coordinates: 0."


@pytest.mark.parametrize("gap", [0, -5.0, math.nan, math.inf, "500"])
def test_non_positive_gap(gap: object) -> None:
    with pytest.raises(ParameterError) as err:
        candidate_networks(points(["s"], [(0, 0)]), no_sinks(), max_gap_m=gap)  # type: ignore[arg-type]
    assert str(err.value) == f"max_gap_m must be a positive number of metres, not {gap}."


@pytest.mark.parametrize("factor", [0.99, 0, math.nan])
def test_detour_factor_below_one(factor: float) -> None:
    with pytest.raises(ParameterError) as err:
        candidate_networks(points(["s"], [(0, 0)]), no_sinks(), max_gap_m=100,
                           detour_factor=factor)
    assert str(err.value) == (
        "detour_factor must be a number of at least 1 (a street route is never shorter than "
        f"the straight line), not {factor}."
    )


def test_wrong_crs() -> None:
    wgs84 = points(["s"], [(0, 0)]).to_crs("EPSG:4326")
    with pytest.raises(CRSError) as err:
        candidate_networks(wgs84, no_sinks(), max_gap_m=100)
    assert str(err.value) == (
        "sources are in geographic coordinates (EPSG:4326); convert them to RD New "
        "(EPSG:28992) first, distances in degrees are meaningless."
    )


def test_bad_temperatures_and_months() -> None:
    sinks = points(["a", "b"], [(0, 0), (1, 0)], temperature_class=["low", "lukewarm"])
    with pytest.raises(ColumnError) as err:
        candidate_networks(points(["s"], [(0, 0)]), sinks, max_gap_m=100)
    assert str(err.value) == (
        "sinks: unknown temperature_class for id(s) b; use one of low, medium, high."
    )
    sources = points(["s", "t"], [(0, 0), (1, 0)], months=[12.0, 13.0])
    with pytest.raises(ColumnError) as err:
        candidate_networks(sources, no_sinks(), max_gap_m=100)
    assert str(err.value) == "sources: months must be between 0 and 12 for id(s) t."
    sources = points(["s"], [(0, 0)], temperature_c=["hot"])
    with pytest.raises(ColumnError) as err:
        candidate_networks(sources, no_sinks(), max_gap_m=100)
    assert str(err.value) == "sources: temperature_c is not a finite number for id(s) s."


def test_duplicate_ids() -> None:
    with pytest.raises(ColumnError) as err:
        candidate_networks(points(["s", "s"], [(0, 0), (5, 0)]), no_sinks(), max_gap_m=100)
    assert str(err.value) == "sources: duplicate id(s) s."


def test_bad_gas_and_tipping_options() -> None:
    with pytest.raises(ParameterError) as err:
        gas_to_heat_mwh([100.0, -1.0])
    assert str(err.value) == "gas_m3 must not be negative."
    with pytest.raises(ParameterError) as err:
        gas_to_heat_mwh(100.0, boiler_efficiency=90)
    assert str(err.value) == "boiler_efficiency must be above 0 and at most 1.1, not 90."
    net = small_network()
    others = points(["b"], [(0, 100)])
    with pytest.raises(ParameterError) as err:
        tipping_candidates(net, others=others, target="critical")
    assert str(err.value) == "target must be one of sufficient, good, not critical."
    with pytest.raises(ParameterError) as err:
        tipping_candidates(net, others=others, limit=0)
    assert str(err.value) == "limit must be a positive whole number, not 0."
    with pytest.raises(ParameterError) as err:
        tipping_candidates(net.drop(["site_points", "sink_mwh"]), others=others)
    assert str(err.value) == (
        "network must be one row of candidate_networks(); it lacks a valid sink_mwh, site_points."
    )
    with pytest.raises(CRSError):
        tipping_candidates(net, others=others.to_crs("EPSG:4326"))
