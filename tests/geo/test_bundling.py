"""Tests for geo.bundling: tiny hand-built geometries plus property tests against brute force."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from geo import bundling
from geo.bundling import bundle_by_area, bundle_by_distance, summarize_bundles
from geo.errors import ColumnError, CoordinateError, CRSError, GeometryError, ParameterError

RD = "EPSG:28992"
# A place in Assen, so coordinates have the magnitude of real RD New data.
X0, Y0 = 233_900.0, 556_800.0


def sites(xy: list[tuple[float, float]], index: list[object] | None = None, **columns: object
          ) -> gpd.GeoDataFrame:
    xs = [p[0] for p in xy]
    ys = [p[1] for p in xy]
    return gpd.GeoDataFrame(
        dict(columns), geometry=gpd.points_from_xy(xs, ys), index=index, crs=RD
    )


def partition(labels: pd.Series | list[int] | np.ndarray) -> set[frozenset[int]]:
    """The grouping of row positions, independent of how the groups are numbered."""
    groups: dict[object, set[int]] = {}
    for pos, label in enumerate(list(labels)):
        groups.setdefault(label, set()).add(pos)
    return {frozenset(g) for g in groups.values()}


def brute_force_bundles(xy: list[tuple[float, float]], gap: float) -> set[frozenset[int]]:
    """Independent reference: GEOS point distances for every pair, then union-find."""
    parent = list(range(len(xy)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    geoms = shapely.points(np.asarray(xy, dtype=float).reshape(-1, 2))
    close = shapely.distance(geoms[:, None], geoms[None, :]) <= gap
    for i, j in zip(*np.nonzero(np.triu(close, 1)), strict=True):
        parent[find(int(i))] = find(int(j))
    return partition([find(i) for i in range(len(xy))])


# --------------------------------------------------------------------------------------------
# bundle_by_distance


def test_chain_of_sites_100_m_apart_is_one_bundle_at_gap_100() -> None:
    points = sites([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0)])
    assert bundle_by_distance(points, max_gap_m=100).tolist() == [0, 0, 0]


def test_chain_breaks_just_below_the_spacing() -> None:
    points = sites([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0)])
    assert bundle_by_distance(points, max_gap_m=99.99).tolist() == [0, 1, 2]


def test_chain_is_single_linkage_not_diameter() -> None:
    # Ends are 400 m apart; every step is 80 m.
    points = sites([(X0 + 80 * i, Y0 + (i % 2) * 0.5) for i in range(6)])
    assert bundle_by_distance(points, max_gap_m=81).nunique() == 1


def test_pair_at_exactly_the_gap_is_joined() -> None:
    points = sites([(X0, Y0), (X0 + 30, Y0 + 40)])  # a 3-4-5 triangle: exactly 50 m
    assert bundle_by_distance(points, max_gap_m=50).tolist() == [0, 0]
    assert bundle_by_distance(points, max_gap_m=np.nextafter(50.0, 0.0)).tolist() == [0, 1]


def test_diagonal_pair_at_exactly_the_gap_is_joined() -> None:
    # Exactly representable diagonal: 0.5*sqrt(2) is not, so use a 5-12-13 triangle in cm.
    points = sites([(X0, Y0), (X0 + 0.05, Y0 + 0.12)])
    gap = float(shapely.distance(points.geometry.iloc[0], points.geometry.iloc[1]))
    assert bundle_by_distance(points, max_gap_m=gap).tolist() == [0, 0]
    assert bundle_by_distance(points, max_gap_m=np.nextafter(gap, 0.0)).tolist() == [0, 1]


@pytest.mark.parametrize(
    ("x1", "gap"),
    [(0.3, 0.1 + 0.2), (0.1 + 0.2, 0.3), (0.1 + 0.2, 0.1 + 0.2), (0.3, 0.3)],
)
def test_float_edge_cases_follow_geos_distance(x1: float, gap: float) -> None:
    points = sites([(0.0, 0.0), (x1, 0.0)])
    expected = [0, 0] if shapely.dwithin(Point(0, 0), Point(x1, 0), gap) else [0, 1]
    assert bundle_by_distance(points, max_gap_m=gap).tolist() == expected


def test_float_edge_cases_explicitly() -> None:
    # 0.1 + 0.2 == 0.30000000000000004 > 0.3
    assert bundle_by_distance(sites([(0, 0), (0.3, 0)]), max_gap_m=0.1 + 0.2).tolist() == [0, 0]
    assert bundle_by_distance(sites([(0, 0), (0.1 + 0.2, 0)]), max_gap_m=0.3).tolist() == [0, 1]


def test_lattice_at_exactly_the_gap_is_one_bundle_and_splits_below_it() -> None:
    xy = [(X0 + 25.0 * i, Y0 + 25.0 * j) for i in range(12) for j in range(9)]
    points = sites(xy)
    assert bundle_by_distance(points, max_gap_m=25).nunique() == 1
    assert bundle_by_distance(points, max_gap_m=24.999).nunique() == len(xy)


def test_duplicate_points_share_a_bundle() -> None:
    points = sites([(X0, Y0), (X0 + 500, Y0), (X0, Y0), (X0, Y0), (X0 + 500, Y0)])
    assert bundle_by_distance(points, max_gap_m=1).tolist() == [0, 1, 0, 0, 1]


def test_single_point_keeps_its_label() -> None:
    result = bundle_by_distance(sites([(X0, Y0)], index=["site-7"]), max_gap_m=250)
    assert result.to_dict() == {"site-7": 0}
    assert result.name == "bundle_id"
    assert result.dtype == np.int64


def test_empty_input_gives_empty_int64_series() -> None:
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=RD), crs=RD)
    result = bundle_by_distance(empty, max_gap_m=250)
    assert result.empty
    assert result.dtype == np.int64
    assert result.name == "bundle_id"
    assert result.index.equals(empty.index)


def test_ids_follow_first_appearance_and_index_labels_are_kept() -> None:
    # Row order: far cluster first, then the near one, then the far one again.
    points = sites(
        [(X0 + 5000, Y0), (X0, Y0), (X0 + 5010, Y0), (X0 + 5, Y0), (X0 + 9000, Y0)],
        index=["z", "a", "m", "b", "q"],
    )
    result = bundle_by_distance(points, max_gap_m=20)
    assert result.index.tolist() == ["z", "a", "m", "b", "q"]
    assert result.tolist() == [0, 1, 0, 1, 2]


def test_ids_are_deterministic_under_reordering_of_equal_input() -> None:
    rng = np.random.default_rng(7)
    xy = [(X0 + float(a), Y0 + float(b)) for a, b in rng.uniform(0, 2000, size=(300, 2))]
    first = bundle_by_distance(sites(xy), max_gap_m=90)
    again = bundle_by_distance(sites(xy), max_gap_m=90)
    assert first.equals(again)
    assert first.iloc[0] == 0
    # Ids appear in increasing order of first appearance: 0, 1, 2, ...
    seen = pd.unique(first.to_numpy())
    assert seen.tolist() == list(range(len(seen)))


def test_pair_across_a_grid_cell_diagonal() -> None:
    # Two points a hair more than the gap apart along a diagonal, and two at exactly the gap.
    gap = 100.0
    step = gap / math.sqrt(2) * (1 + 1e-9)
    apart = sites([(X0, Y0), (X0 + step, Y0 + step)])
    assert bundle_by_distance(apart, max_gap_m=gap).tolist() == [0, 1]
    close = sites([(X0, Y0), (X0 + 60, Y0 + 80)])
    assert bundle_by_distance(close, max_gap_m=gap).tolist() == [0, 0]


# Positions in grid units (a cell is just under gap/sqrt(2) wide); an anchor far away at (0, 0)
# fixes the grid's origin. Each layout has two groups joined only by the pair p-q, whose cells
# are two rows (and zero or one column) apart while the cells in between are occupied.
_UNIT = 100.0 / math.sqrt(2)
_SAME_COLUMN_TWO_ROWS_UP = [  # p, q, then a filler next to q only
    (10.0, 10.6), (10.0, 10.6 + 99.9 / _UNIT), (10.99, 11.99),
]
_NEXT_COLUMN_TWO_ROWS_UP = [  # p, q, then fillers in the next column, rows -2..+1
    (10.98, 10.98), (11.0, 12.0), (11.99, 11.99), (11.99, 10.01), (11.99, 9.01), (11.99, 8.01),
]


@pytest.mark.parametrize("layout", [_SAME_COLUMN_TWO_ROWS_UP, _NEXT_COLUMN_TWO_ROWS_UP])
@pytest.mark.parametrize("mirror", [False, True])
def test_cells_two_rows_apart_are_neighbours(
    layout: list[tuple[float, float]], mirror: bool
) -> None:
    units = [(a, 40.0 - b if mirror else b) for a, b in layout]
    xy = [(X0, Y0)] + [(X0 + a * _UNIT, Y0 + b * _UNIT) for a, b in units]
    assert brute_force_bundles(xy, 100.0) == {frozenset({0}), frozenset(range(1, len(xy)))}
    assert partition(bundle_by_distance(sites(xy), max_gap_m=100)) == brute_force_bundles(
        xy, 100.0
    )


def test_many_dense_configurations_match_brute_force() -> None:
    # Few points per gap-sized square in every arrangement: exercises every neighbour offset,
    # the witness test and the exhaustive check of undecided cell pairs.
    rng = np.random.default_rng(2024)
    for trial in range(300):
        gap = float(rng.choice([1.0, 7.5, 50.0, 250.0]))
        n = int(rng.integers(2, 120))
        side = gap * float(rng.uniform(1.5, 8.0))
        pts = rng.uniform(0, side, size=(n, 2))
        if trial % 3 == 0:  # snap to a lattice so that distances tie with the gap
            pts = np.round(pts / (gap / 4)) * (gap / 4)
        xy = [(X0 + a, Y0 + b) for a, b in pts]
        got = partition(bundle_by_distance(sites(xy), max_gap_m=gap))
        assert got == brute_force_bundles(xy, gap), (trial, gap, n)


def test_dense_clusters_just_over_the_gap_apart_stay_apart() -> None:
    # Two dense blobs whose closest points are 100.5 m apart: many cell pairs between them
    # are tried and must all be refused.
    rng = np.random.default_rng(3)
    left = rng.uniform(0, 1, size=(400, 2)) * [300, 300]
    left[:, 0] = np.minimum(left[:, 0], 300.0)
    right = rng.uniform(0, 1, size=(400, 2)) * [300, 300] + [400.5, 0]
    left[0] = [300.0, 150.0]
    right[0] = [400.5, 150.0]
    xy = [(X0 + a, Y0 + b) for a, b in np.vstack([left, right])]
    points = sites(xy)
    assert partition(bundle_by_distance(points, max_gap_m=100)) == brute_force_bundles(xy, 100)
    assert bundle_by_distance(points, max_gap_m=100.5).nunique() == 1


def test_tiny_gap_at_huge_coordinates_uses_the_exact_fallback() -> None:
    # At 1e12 m a float moves in steps of 1.2e-4 m: too coarse for a grid of 0.7 mm cells.
    base = 1e12
    xy = [(base, 5.0), (base + 2.0**-10, 5.0), (base + 0.01, 5.0), (base + 0.01, 5.0 + 2.0**-10)]
    result = bundle_by_distance(sites(xy), max_gap_m=0.001)
    assert result.tolist() == [0, 0, 1, 1]
    assert partition(result) == brute_force_bundles(xy, 0.001)


def test_delaunay_path_matches_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force the exact fallback for undecided cell pairs (normally used when they are many).
    monkeypatch.setattr(bundling, "_BRUTE_FORCE_BUDGET", 0)
    rng = np.random.default_rng(11)
    centres = rng.uniform(0, 3000, size=(8, 2))
    pts = centres[rng.integers(0, 8, 250)] + rng.normal(0, 60, size=(250, 2))
    xy = [(X0 + a, Y0 + b) for a, b in pts]
    for gap in (5.0, 25.0, 60.0, 140.0):
        got = partition(bundle_by_distance(sites(xy), max_gap_m=gap))
        assert got == brute_force_bundles(xy, gap), gap


def test_delaunay_path_with_collinear_and_duplicate_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bundling, "_BRUTE_FORCE_BUDGET", 0)
    xy = [(X0 + 7.0 * i, Y0) for i in range(40)] + [(X0, Y0)] * 5 + [(X0 + 500, Y0)] * 3
    for gap in (6.999, 7.0, 14.0):
        got = partition(bundle_by_distance(sites(xy), max_gap_m=gap))
        assert got == brute_force_bundles(xy, gap), gap


coordinate = st.floats(min_value=0, max_value=600, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    xy=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=60),
    gap=st.floats(min_value=0.01, max_value=300, allow_nan=False),
)
def test_partition_matches_brute_force(xy: list[tuple[float, float]], gap: float) -> None:
    shifted = [(X0 + a, Y0 + b) for a, b in xy]
    result = bundle_by_distance(sites(shifted), max_gap_m=gap)
    assert partition(result) == brute_force_bundles(shifted, gap)
    # Numbered by first appearance.
    assert pd.unique(result.to_numpy()).tolist() == list(range(result.nunique()))


@settings(max_examples=150, deadline=None)
@given(
    xy=st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=60
    ),
    gap=st.sampled_from([5.0, 10.0, 12.5, 14.142135623730951, 20.0, 25.0, 50.0]),
)
def test_partition_matches_brute_force_with_ties(
    xy: list[tuple[int, int]], gap: float
) -> None:
    # A 5 m lattice: many pairs lie at exactly the gap (5, 10, 20, 25, 50 m).
    shifted = [(X0 + 5.0 * a, Y0 + 5.0 * b) for a, b in xy]
    result = bundle_by_distance(sites(shifted), max_gap_m=gap)
    assert partition(result) == brute_force_bundles(shifted, gap)


@settings(max_examples=60, deadline=None)
@given(
    xy=st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=60),
    gap=st.floats(min_value=1, max_value=200, allow_nan=False),
    seed=st.integers(0, 2**32 - 1),
)
def test_partition_does_not_depend_on_row_order(
    xy: list[tuple[float, float]], gap: float, seed: int
) -> None:
    points = sites([(X0 + a, Y0 + b) for a, b in xy])
    perm = np.random.default_rng(seed).permutation(len(xy))
    shuffled = points.iloc[perm]
    original = bundle_by_distance(points, max_gap_m=gap)
    reordered = bundle_by_distance(shuffled, max_gap_m=gap).loc[points.index]
    assert partition(original) == partition(reordered)


# ---- invalid input


def test_refuses_points_without_crs() -> None:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([X0], [Y0]))
    with pytest.raises(CRSError) as err:
        bundle_by_distance(points, max_gap_m=100)
    assert str(err.value) == (
        "points have no coordinate reference system; set RD New (EPSG:28992)."
    )


def test_refuses_geographic_points() -> None:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([6.56], [52.99]), crs="EPSG:4326")
    with pytest.raises(CRSError) as err:
        bundle_by_distance(points, max_gap_m=100)
    assert "geographic coordinates (EPSG:4326)" in str(err.value)
    assert err.value.params == {"name": "points", "crs": "EPSG:4326"}


def test_refuses_other_projected_crs() -> None:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([1.0], [2.0]), crs="EPSG:3857")
    with pytest.raises(CRSError, match="EPSG:3857"):
        bundle_by_distance(points, max_gap_m=100)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_refuses_non_finite_coordinates(bad: float) -> None:
    points = sites([(X0, Y0), (bad, Y0), (X0, Y0 + 1)], index=["a", "b", "c"])
    with pytest.raises(CoordinateError) as err:
        bundle_by_distance(points, max_gap_m=100)
    assert str(err.value) == "points with NaN or infinite coordinates: b."


def test_refuses_non_point_geometries() -> None:
    points = gpd.GeoDataFrame(
        geometry=[Point(X0, Y0), LineString([(X0, Y0), (X0 + 1, Y0)])], index=[10, 11], crs=RD
    )
    with pytest.raises(CoordinateError) as err:
        bundle_by_distance(points, max_gap_m=100)
    assert str(err.value) == "points must be points; other geometries at 11."


def test_refuses_missing_geometries() -> None:
    points = gpd.GeoDataFrame(geometry=[Point(X0, Y0), None], index=["a", "b"], crs=RD)
    with pytest.raises(CoordinateError, match="without a location: b"):
        bundle_by_distance(points, max_gap_m=100)


@pytest.mark.parametrize(
    ("gap", "shown"),
    [(0, "0"), (-5, "-5"), (-0.5, "-0.5"), (math.nan, "nan"), (math.inf, "inf"),
     ("100", "100"), (True, "True"), (None, "None")],
)
def test_refuses_impossible_gaps(gap: object, shown: str) -> None:
    with pytest.raises(ParameterError) as err:
        bundle_by_distance(sites([(X0, Y0)]), max_gap_m=gap)  # type: ignore[arg-type]
    assert str(err.value) == f"max_gap_m must be a positive number of metres, not {shown}."
    assert err.value.msgid == "%(name)s must be a positive number of metres, not %(value)s."


def test_gap_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        bundle_by_distance(sites([(X0, Y0)]), 100)  # type: ignore[misc]


def test_refuses_a_geoseries() -> None:
    with pytest.raises(ParameterError, match="points must be a GeoDataFrame, not GeoSeries"):
        bundle_by_distance(sites([(X0, Y0)]).geometry, max_gap_m=1)  # type: ignore[arg-type]


def test_gap_is_checked_before_the_data() -> None:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([math.nan], [Y0]), crs=RD)
    with pytest.raises(ParameterError):
        bundle_by_distance(points, max_gap_m=0)


# --------------------------------------------------------------------------------------------
# bundle_by_area

A = box(0, 0, 100, 100)
B = box(100, 0, 200, 100)
C = box(50, 50, 150, 150)  # overlaps both A and B


def areas(geoms: list[object], names: list[object], **kw: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": names, **kw}, geometry=geoms, crs=RD)


def test_point_inside_an_area() -> None:
    result = bundle_by_area(sites([(20, 20), (180, 20)]), areas([A, B], ["A", "B"]))
    assert result.tolist() == ["A", "B"]
    assert result.name == "area"


def test_point_on_a_shared_edge_goes_to_the_first_area() -> None:
    points = sites([(100, 20)])
    assert bundle_by_area(points, areas([A, B], ["A", "B"])).tolist() == ["A"]
    assert bundle_by_area(points, areas([B, A], ["B", "A"])).tolist() == ["B"]


def test_point_on_a_vertex_belongs_to_the_area() -> None:
    result = bundle_by_area(sites([(0, 0), (200, 0), (200, 100)]), areas([A, B], ["A", "B"]))
    assert result.tolist() == ["A", "B", "B"]


def test_interior_beats_boundary_even_when_listed_later() -> None:
    # (100, 75) is on the edge of A and of B but inside C.
    result = bundle_by_area(sites([(100, 75)]), areas([A, B, C], ["A", "B", "C"]))
    assert result.tolist() == ["C"]


def test_overlapping_areas_first_one_wins() -> None:
    result = bundle_by_area(sites([(75, 75), (120, 75)]), areas([A, B, C], ["A", "B", "C"]))
    assert result.tolist() == ["A", "B"]
    result = bundle_by_area(sites([(75, 75), (120, 75)]), areas([C, A, B], ["C", "A", "B"]))
    assert result.tolist() == ["C", "C"]


def test_points_outside_every_area_are_missing() -> None:
    points = sites([(500, 500), (20, 20), (-0.001, 50)], index=["x", "y", "z"])
    result = bundle_by_area(points, areas([A], ["A"]))
    assert result.index.tolist() == ["x", "y", "z"]
    assert result.isna().tolist() == [True, False, True]
    assert result["y"] == "A"


def test_hole_is_outside_but_its_ring_is_inside() -> None:
    donut = Polygon(
        [(0, 0), (100, 0), (100, 100), (0, 100)], [[(40, 40), (60, 40), (60, 60), (40, 60)]]
    )
    result = bundle_by_area(sites([(50, 50), (40, 50), (10, 10)]), areas([donut], ["D"]))
    assert result.isna().tolist() == [True, False, False]


def test_multipolygon_area_and_custom_name_column() -> None:
    parks = gpd.GeoDataFrame(
        {"park": ["twin"]}, geometry=[MultiPolygon([A, box(300, 0, 400, 100)])], crs=RD
    )
    result = bundle_by_area(sites([(350, 50), (250, 50)]), parks, name_column="park")
    assert result.iloc[0] == "twin"
    assert pd.isna(result.iloc[1])


def test_integer_area_codes_stay_integers() -> None:
    result = bundle_by_area(sites([(10, 10), (900, 900)]), areas([A], [9401]))
    assert result.iloc[0] == 9401
    assert pd.isna(result.iloc[1])
    assert pd.api.types.is_integer_dtype(result.dtype)


def test_no_areas_or_no_points() -> None:
    empty_areas = areas([], [])
    assert bundle_by_area(sites([(1, 1)]), empty_areas).isna().all()
    empty_points = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=RD), crs=RD)
    result = bundle_by_area(empty_points, areas([A], ["A"]))
    assert result.empty and result.name == "area"


def test_refuses_a_bow_tie() -> None:
    bow_tie = Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    with pytest.raises(GeometryError) as err:
        bundle_by_area(sites([(1, 1)]), areas([A, bow_tie], ["A", "tie"]))
    assert str(err.value).startswith("areas with an invalid polygon at 1 (Self-intersection")
    assert err.value.params["labels"] == "1"


def test_refuses_non_polygon_areas() -> None:
    with pytest.raises(GeometryError) as err:
        bundle_by_area(sites([(1, 1)]), areas([A, LineString([(0, 0), (1, 1)])], ["A", "L"]))
    assert str(err.value) == "areas must be polygons; other geometries at 1."


def test_refuses_empty_area_geometries() -> None:
    with pytest.raises(GeometryError) as err:
        bundle_by_area(sites([(1, 1)]), areas([Polygon(), A], ["E", "A"]))
    assert str(err.value) == "areas without a polygon: 0."


def test_refuses_missing_name_column_and_missing_names() -> None:
    with pytest.raises(ColumnError) as err:
        bundle_by_area(sites([(1, 1)]), areas([A], ["A"]), name_column="naam")
    assert str(err.value) == "areas have no column naam to name them by."
    with pytest.raises(ColumnError) as err:
        bundle_by_area(sites([(1, 1)]), areas([A, B], ["A", None]))
    assert str(err.value) == "areas without a name in column name: 1."


def test_refuses_areas_in_another_crs() -> None:
    wgs = areas([box(6.5, 52.9, 6.6, 53.0)], ["A"]).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(CRSError, match="^areas are in geographic coordinates"):
        bundle_by_area(sites([(1, 1)]), wgs)
    no_crs = gpd.GeoDataFrame({"name": ["A"]}, geometry=[A])
    with pytest.raises(CRSError, match="^areas have no coordinate reference system"):
        bundle_by_area(sites([(1, 1)]), no_crs)


def test_area_points_are_validated() -> None:
    with pytest.raises(CoordinateError, match="NaN or infinite"):
        bundle_by_area(sites([(math.nan, 1)]), areas([A], ["A"]))


# --------------------------------------------------------------------------------------------
# summarize_bundles


def test_summary_of_one_site_is_a_buffered_polygon() -> None:
    points = sites([(X0, Y0)], index=["s1"], organisation_id=["org-1"], kwp=[12.5])
    summary = summarize_bundles(points, bundle_by_distance(points, max_gap_m=100), quantity="kwp")
    assert summary.index.tolist() == [0]
    row = summary.iloc[0]
    assert (row.n_sites, row.n_organisations, row.total_quantity) == (1, 1, 12.5)
    assert row.span_m == 0.0
    assert (row.centroid_x, row.centroid_y) == (X0, Y0)
    hull = summary.geometry.iloc[0]
    assert hull.geom_type == "Polygon"
    assert hull.contains(Point(X0, Y0))
    # A regular 16-gon inscribed in the 25 m circle.
    assert hull.area == pytest.approx(8 * math.sin(math.pi / 8) * 25**2, rel=1e-9)
    ring = shapely.get_coordinates(hull.exterior)
    assert np.hypot(ring[:, 0] - X0, ring[:, 1] - Y0) == pytest.approx(np.full(17, 25.0))
    assert summary.crs.equals(RD)


def test_summary_of_two_sites_is_a_polygon_around_the_segment() -> None:
    points = sites([(X0, Y0), (X0 + 30, Y0 + 40)])
    summary = summarize_bundles(points, bundle_by_distance(points, max_gap_m=100), buffer_m=10)
    hull = summary.geometry.iloc[0]
    assert hull.geom_type == "Polygon"
    assert summary.span_m.iloc[0] == 50.0
    # A 50 x 20 m band with half 16-gons of radius 10 m at both ends.
    assert hull.area == pytest.approx(50 * 20 + 8 * math.sin(math.pi / 8) * 10**2, rel=1e-9)
    for site in points.geometry:  # every site lies 10 m (less the polygon's flats) inside
        assert hull.contains(site)
        assert hull.exterior.distance(site) >= 10 * math.cos(math.pi / 16) - 1e-9
    assert summary.centroid_x.iloc[0] == X0 + 15
    assert summary.centroid_y.iloc[0] == Y0 + 20


def test_summary_of_collinear_sites() -> None:
    points = sites([(X0, Y0), (X0 + 10, Y0), (X0 + 70, Y0), (X0 + 10, Y0)])
    summary = summarize_bundles(points, pd.Series([3, 3, 3, 3], index=points.index))
    assert summary.geometry.iloc[0].geom_type == "Polygon"
    assert summary.span_m.iloc[0] == 70.0
    assert summary.n_sites.iloc[0] == 4


def test_summary_of_a_square_is_the_square() -> None:
    corners = [(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100)]
    points = sites(corners + [(X0 + 50, Y0 + 50)],
                   organisation_id=["a", "b", "a", None, "c"], kwp=[1.0, 2.0, 3.0, 4.0, 5.0])
    summary = summarize_bundles(points, bundle_by_distance(points, max_gap_m=80),
                                quantity=points["kwp"])
    assert len(summary) == 1
    row = summary.iloc[0]
    assert shapely.equals(summary.geometry.iloc[0], box(X0, Y0, X0 + 100, Y0 + 100))
    assert row.span_m == pytest.approx(100 * math.sqrt(2), rel=1e-12)
    assert (row.n_sites, row.n_organisations, row.total_quantity) == (5, 3, 15.0)
    assert (row.centroid_x, row.centroid_y) == (X0 + 50, Y0 + 50)


def test_summary_rows_are_sorted_by_bundle_and_typed() -> None:
    points = sites([(X0, Y0), (X0 + 1000, Y0), (X0 + 5, Y0)], kwp=[1, 2, 3])
    bundles = pd.Series([7, 2, 7], index=points.index, name="bundle_id")
    summary = summarize_bundles(points, bundles, quantity="kwp")
    assert summary.index.tolist() == [2, 7]
    assert summary.index.name == "bundle_id"
    assert summary.n_sites.tolist() == [1, 2]
    assert summary.total_quantity.tolist() == [2.0, 4.0]
    assert summary.n_organisations.tolist() == [1, 2]  # no organisation column
    assert summary.dtypes[["n_sites", "n_organisations"]].tolist() == [np.int64, np.int64]
    assert summary.dtypes[["total_quantity", "centroid_x", "centroid_y", "span_m"]].tolist() == [
        np.float64] * 4
    assert list(summary.columns) == [
        "n_sites", "n_organisations", "total_quantity", "centroid_x", "centroid_y", "span_m",
        "geometry",
    ]


def test_summary_without_quantity_and_without_organisations() -> None:
    points = sites([(X0, Y0), (X0 + 5, Y0)], organisation_id=["a", "a"])
    bundles = pd.Series([0, 0], index=points.index)
    summary = summarize_bundles(points, bundles)
    assert summary.total_quantity.tolist() == [0.0]
    assert summary.n_organisations.tolist() == [1]
    assert summarize_bundles(points, bundles, organisation=None).n_organisations.tolist() == [2]


def test_summary_by_area_leaves_out_sites_outside_every_area() -> None:
    points = sites([(10, 10), (20, 20), (150, 50), (900, 900)], kwp=[1.0, 2.0, 4.0, 8.0])
    by_area = bundle_by_area(points, areas([A, B], ["Noord", "Zuid"]))
    summary = summarize_bundles(points, by_area, quantity="kwp")
    assert summary.index.tolist() == ["Noord", "Zuid"]
    assert summary.index.name == "area"
    assert summary.total_quantity.tolist() == [3.0, 4.0]


def test_summary_of_empty_input_has_columns_and_dtypes() -> None:
    empty = gpd.GeoDataFrame({"kwp": pd.Series([], dtype=float)},
                             geometry=gpd.GeoSeries([], crs=RD), crs=RD)
    summary = summarize_bundles(empty, bundle_by_distance(empty, max_gap_m=10), quantity="kwp")
    assert summary.empty
    assert list(summary.columns) == [
        "n_sites", "n_organisations", "total_quantity", "centroid_x", "centroid_y", "span_m",
        "geometry",
    ]
    assert summary.n_sites.dtype == np.int64
    assert summary.span_m.dtype == np.float64
    assert summary.crs.equals(RD)


def test_summary_refuses_bad_input() -> None:
    points = sites([(X0, Y0), (X0 + 1, Y0)], kwp=["1", "2"], n=[1.0, math.nan])
    aligned = pd.Series([0, 0], index=points.index)
    with pytest.raises(ParameterError, match="same index as the points"):
        summarize_bundles(points, pd.Series([0, 0], index=[5, 6]))
    with pytest.raises(ColumnError) as err:
        summarize_bundles(points, aligned, quantity="kwh")
    assert str(err.value) == "points have no column kwh."
    with pytest.raises(ColumnError, match="kwp is not numeric"):
        summarize_bundles(points, aligned, quantity="kwp")
    with pytest.raises(ColumnError, match="n is missing or not finite for 1"):
        summarize_bundles(points, aligned, quantity="n")
    with pytest.raises(ParameterError, match="buffer_m must be a positive number"):
        summarize_bundles(points, aligned, buffer_m=0)
    with pytest.raises(ParameterError, match="same index"):
        summarize_bundles(points, aligned, quantity=pd.Series([1.0]))
    with pytest.raises(CRSError):
        summarize_bundles(points.set_crs("EPSG:4326", allow_override=True), aligned)


@settings(max_examples=120, deadline=None)
@given(
    xy=st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=60),
    n_groups=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_span_and_counts_match_brute_force(
    xy: list[tuple[float, float]], n_groups: int, seed: int
) -> None:
    groups = np.random.default_rng(seed).integers(0, n_groups, len(xy))
    points = sites([(X0 + a, Y0 + b) for a, b in xy])
    summary = summarize_bundles(points, pd.Series(groups, index=points.index))
    arr = np.array([(X0 + a, Y0 + b) for a, b in xy])
    for g in np.unique(groups):
        members = arr[groups == g]
        diff = members[:, None, :] - members[None, :, :]
        span = np.sqrt((diff**2).sum(axis=2)).max()
        assert summary.loc[g, "span_m"] == pytest.approx(span, rel=1e-12, abs=1e-9)
        assert summary.loc[g, "n_sites"] == len(members)
        hull = summary.geometry.loc[g]
        assert hull.geom_type == "Polygon"
        assert shapely.covers(hull.buffer(1e-6), shapely.multipoints(members))
        exact = shapely.convex_hull(shapely.multipoints(members))
        if exact.geom_type == "Polygon":  # real hulls are exactly the convex hull
            assert shapely.equals(hull, exact)


def test_hull_of_a_big_bundle_is_its_convex_hull() -> None:
    rng = np.random.default_rng(5)
    pts = np.vstack([rng.normal(0, 300, size=(5000, 2)), rng.uniform(-900, 900, size=(500, 2))])
    xy = pts + [X0, Y0]
    points = sites([tuple(p) for p in xy])
    summary = summarize_bundles(points, pd.Series(0, index=points.index))
    assert shapely.equals(summary.geometry.iloc[0], shapely.convex_hull(shapely.multipoints(xy)))
    hull_xy = shapely.get_coordinates(shapely.convex_hull(shapely.multipoints(xy)))
    diff = hull_xy[:, None, :] - hull_xy[None, :, :]
    assert summary.span_m.iloc[0] == pytest.approx(np.sqrt((diff**2).sum(axis=2)).max(), rel=1e-12)
    assert summary.centroid_x.iloc[0] == pytest.approx(xy[:, 0].mean(), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 400), radius=st.floats(1, 5000), turn=st.floats(0, 2 * math.pi))
def test_span_of_many_sites_on_a_circle(n: int, radius: float, turn: float) -> None:
    angles = turn + np.linspace(0, 2 * math.pi, n, endpoint=False)
    xy = np.column_stack([X0 + radius * np.cos(angles), Y0 + radius * np.sin(angles)])
    points = sites([tuple(p) for p in xy])
    summary = summarize_bundles(points, pd.Series(0, index=points.index))
    diff = xy[:, None, :] - xy[None, :, :]
    assert summary.span_m.iloc[0] == pytest.approx(
        np.sqrt((diff**2).sum(axis=2)).max(), rel=1e-12
    )
