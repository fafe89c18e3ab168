"""Demand bundling by location: which sites can share one group deal.

Three pure functions over GeoDataFrames in RD New (EPSG:28992):

- :func:`bundle_by_distance` groups sites by single linkage: a chain of sites, each within
  ``max_gap_m`` of the next, forms one bundle (an installer can walk from site to site).
- :func:`bundle_by_area` puts each site in the area (business park, kring, postcode) it lies in.
- :func:`summarize_bundles` turns either grouping into one row per bundle for a map or a
  negotiation: counts, total quantity, a hull polygon, the centre and the span.

Distances are Euclidean in metres, computed as ``sqrt(dx*dx + dy*dy)`` in double precision,
exactly as GEOS (shapely's ``distance`` and ``dwithin``) computes them for two points; a pair at
exactly ``max_gap_m`` is joined.

How :func:`bundle_by_distance` stays fast and bounded (no N x N, no list of all neighbour
pairs, which at 1 km in a dense park runs into billions):

1. Points are put in square grid cells of side slightly under ``max_gap_m / sqrt(2)``; every two
   points of one cell are within the gap, so a cell is one bundle without looking at its pairs.
2. Only the 24 cells around a cell can hold a point within the gap. For each such pair of
   non-empty cells one *witness* pair is tried: the points of the two cells that lie furthest
   towards each other. Inside a park that nearly always joins them; between two cells of one
   point each it is the only pair anyway.
3. Cell pairs that are neither joined by a witness nor already in one bundle are decided
   exactly: exhaustively when that is cheap, otherwise from the Delaunay triangulation of their
   points, which holds a path of edges no longer than ``d`` between any two points at distance
   ``d`` (the Gabriel-edge argument), so no neighbour pair is missed.

Work and memory grow with the number of points and occupied cells, not with the number of
neighbour pairs; the sort of the cell keys is the only step above linear.

All edges that join bundles are checked with the distance formula above, so the result is exact,
not approximate; the tests compare it with a brute-force implementation.

Module size: a little over the house limit of about 600 lines because the grid of step 1-3 is
one algorithm whose parts only make sense together; the input checks live in
:mod:`geo.validation`, the Delaunay and k-d tree helpers in :mod:`geo.proximity`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.crs import RD_NEW, require_finite_points, require_rd
from geo.errors import N_, ColumnError, CoordinateError, ParameterError, format_labels
from geo.proximity import components, delaunay_sides, kdtree_pairs, widened, within
from geo.validation import positive_metres, require_frame, require_polygons

__all__ = [
    "DEFAULT_HULL_BUFFER_M",
    "bundle_by_area",
    "bundle_by_distance",
    "bundle_coordinates",
    "summarize_bundles",
]

#: Radius (m) that turns the hull of one site, two sites or sites on one line into a polygon.
#: 25 m is about the half-width of a typical business-park plot, so the shape stays readable on
#: a map without swallowing the neighbours.
DEFAULT_HULL_BUFFER_M: Final = 25.0

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_EPS: Final = float(np.finfo(np.float64).eps)
# Witness directions: east, north-east, north, south-east (as unit-free vectors).
_DIRECTIONS: Final = ((1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, -1.0))


def _direction_of(di: int, dj: int) -> int:
    """Index into ``_DIRECTIONS`` closest to the direction of cell offset (di, dj)."""
    angle = math.atan2(dj, di)
    return int(np.argmin([abs(angle - math.atan2(uy, ux)) for ux, uy in _DIRECTIONS]))


# Witness direction per forward cell offset, indexed [di, dj + 2].
_DIRECTION_OF: Final = np.array(
    [[_direction_of(di, dj) if di > 0 or dj > 0 else -1 for dj in range(-2, 3)]
     for di in range(3)],
    dtype=np.int64,
)
# Extreme directions for the hull pre-filter, counter-clockwise.
_OCTAGON: Final = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
# Buffered hulls approximate circles by 4 * _QUAD_SEGS sides (GEOS would use 32).
_QUAD_SEGS: Final = 4
# Point pairs enumerated per chunk in exhaustive checks (bounds memory to some hundred MB).
_CHUNK: Final = 1 << 22
# Up to this many point pairs the leftover cell pairs are checked exhaustively, not by Delaunay.
_BRUTE_FORCE_BUDGET: Final = 1 << 22


# --------------------------------------------------------------------------------------------
# public functions


def bundle_by_distance(points: gpd.GeoDataFrame, *, max_gap_m: float) -> pd.Series:
    """Bundle sites by single linkage: a chain of sites each within ``max_gap_m`` of the next.

    Returns an ``int64`` Series named ``bundle_id``, aligned to ``points.index``. Bundles are
    numbered 0, 1, 2, ... in the order of their first site in ``points``, so the same input
    always gives the same ids. A pair at exactly ``max_gap_m`` (as GEOS measures it) is joined.
    ``points`` must be RD New points with finite coordinates.

    >>> import geopandas as gpd
    >>> sites = gpd.GeoDataFrame(
    ...     geometry=gpd.points_from_xy([0, 100, 200, 1000], [0, 0, 0, 0]),
    ...     index=["a", "b", "c", "d"], crs="EPSG:28992",
    ... )
    >>> bundle_by_distance(sites, max_gap_m=100).to_dict()
    {'a': 0, 'b': 0, 'c': 0, 'd': 1}
    >>> bundle_by_distance(sites, max_gap_m=99.99).tolist()
    [0, 1, 2, 3]
    """
    require_frame(points, name="points")
    gap = positive_metres(max_gap_m, name="max_gap_m")
    require_rd(points, name="points")
    x, y = _point_xy(points)
    labels = _single_linkage(x, y, gap)
    return pd.Series(labels, index=points.index, name="bundle_id", dtype="int64")


def bundle_coordinates(
    x: npt.ArrayLike, y: npt.ArrayLike, *, max_gap_m: float
) -> IntArray:
    """:func:`bundle_by_distance` on RD New coordinates: the bundle of each point, numbered by
    first appearance, as an ``int64`` array.

    For callers that hold coordinates, not geometries (a file read with
    :func:`geo.io.read_point_table`): building a shapely point per site costs more than the
    bundling itself at a million sites.

    >>> bundle_coordinates([0, 100, 200, 1000], [0, 0, 0, 0], max_gap_m=100).tolist()
    [0, 0, 0, 1]
    """
    gap = positive_metres(max_gap_m, name="max_gap_m")
    xs = np.ascontiguousarray(x, dtype=np.float64)
    ys = np.ascontiguousarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ParameterError(N_("x and y must be two lists of coordinates of the same length."))
    bad = ~(np.isfinite(xs) & np.isfinite(ys))
    if bad.any():
        raise CoordinateError(
            N_("%(name)s with NaN or infinite coordinates: %(labels)s."),
            name="points", labels=format_labels(np.flatnonzero(bad)),
        )
    return _single_linkage(xs, ys, gap)


def bundle_by_area(
    points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *, name_column: str = "name"
) -> pd.Series:
    """The name of the area each site lies in; a Series named ``area`` aligned to ``points``.

    A site on an area's boundary (an edge or a vertex) belongs to that area, as if the
    boundary were part of it (``covered_by``). When several areas contain or touch a site, an
    area that has the site in its interior wins over one whose boundary it only touches; among
    equals the area that comes first in ``areas`` wins. Sites outside every area get a missing
    value. Both frames must be in RD New; ``areas`` must hold valid, non-empty (Multi)Polygons
    and a name for each area in ``name_column``.

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> parks = gpd.GeoDataFrame(
    ...     {"name": ["Zuid-West", "Noord"]},
    ...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs="EPSG:28992",
    ... )
    >>> sites = gpd.GeoDataFrame(
    ...     geometry=gpd.points_from_xy([50, 100, 150, 500], [50, 50, 50, 50]), crs="EPSG:28992"
    ... )
    >>> bundle_by_area(sites, parks).tolist()
    ['Zuid-West', 'Zuid-West', 'Noord', nan]
    """
    require_frame(points, name="points")
    require_frame(areas, name="areas")
    require_rd(points, name="points")
    require_rd(areas, name="areas")
    _point_xy(points)
    if name_column not in areas.columns or name_column == areas.geometry.name:
        raise ColumnError(
            N_("areas have no column %(column)s to name them by."), column=name_column
        )
    require_polygons(areas, name="areas")
    names = areas[name_column]
    no_name = names.isna().to_numpy()
    if no_name.any():
        raise ColumnError(
            N_("areas without a name in column %(column)s: %(labels)s."),
            column=name_column, labels=format_labels(areas.index[no_name]),
        )

    n = len(points)
    best = np.full(n, -1, dtype=np.int64)
    if n and len(areas):
        point_geoms = np.asarray(points.geometry.array)
        area_geoms = np.asarray(areas.geometry.array)
        pt, ar = areas.sindex.query(point_geoms, predicate="intersects")
        if pt.size:
            shapely.prepare(area_geoms)  # caches an index per polygon for the point tests
            interior = shapely.contains_properly(area_geoms[ar], point_geoms[pt])
            # Lower rank wins: interior before boundary, then the order in `areas`.
            rank = np.where(interior, 0, len(areas)).astype(np.int64) + ar
            order = np.lexsort((rank, pt))
            first = _run_starts(pt[order])
            best[pt[order][first]] = ar[order][first]
    values = _nullable(names).array
    taken = pd.api.extensions.take(values, best, allow_fill=True)
    return pd.Series(taken, index=points.index, name="area")


def summarize_bundles(
    points: gpd.GeoDataFrame,
    bundles: pd.Series,
    *,
    quantity: str | pd.Series | None = None,
    organisation: str | None = "organisation_id",
    buffer_m: float = DEFAULT_HULL_BUFFER_M,
) -> gpd.GeoDataFrame:
    """One row per bundle: counts, total quantity, hull polygon, centre and span.

    ``bundles`` holds a bundle id per site, aligned to ``points.index`` (the output of
    :func:`bundle_by_distance` or :func:`bundle_by_area`); sites with a missing id belong to no
    bundle and are left out. The result is indexed by bundle id (sorted) and has columns:

    - ``n_sites``: number of sites;
    - ``n_organisations``: distinct non-missing values of the ``organisation`` column, or
      ``n_sites`` when that column is not there (or ``organisation=None``);
    - ``total_quantity``: sum of ``quantity`` (a column name or a Series aligned to
      ``points``), 0.0 without one;
    - ``centroid_x``, ``centroid_y``: the mean of the sites' coordinates;
    - ``span_m``: the largest distance between two sites of the bundle (found among the
      convex hull's vertices, so big bundles are not compared pair by pair);
    - ``geometry``: the convex hull of the sites. The hull of one site, of two, or of sites on
      one line is not an area, so it is buffered by ``buffer_m`` metres to make it a polygon
      (round ends drawn with 16 sides to a full circle); real polygon hulls are kept as they
      are.

    >>> import geopandas as gpd
    >>> sites = gpd.GeoDataFrame(
    ...     {"organisation_id": ["A", "A", "B", "C"], "kwp": [10.0, 5.0, 20.0, 7.5]},
    ...     geometry=gpd.points_from_xy([0, 30, 0, 5000], [0, 0, 40, 0]), crs="EPSG:28992",
    ... )
    >>> summary = summarize_bundles(sites, bundle_by_distance(sites, max_gap_m=100),
    ...                             quantity="kwp")
    >>> summary.n_sites.tolist(), summary.n_organisations.tolist()
    ([3, 1], [2, 1])
    >>> summary.total_quantity.tolist(), summary.span_m.tolist()
    ([35.0, 7.5], [50.0, 0.0])
    >>> summary.geometry.geom_type.tolist()
    ['Polygon', 'Polygon']
    """
    require_frame(points, name="points")
    require_rd(points, name="points")
    x, y = _point_xy(points)
    if not isinstance(bundles, pd.Series):
        raise ParameterError(
            N_("bundles must be a Series of bundle ids, not %(type)s."),
            type=type(bundles).__name__,
        )
    if not bundles.index.equals(points.index):
        raise ParameterError(
            N_("bundles must have the same index as the points (one bundle id per site).")
        )
    buffer = positive_metres(buffer_m, name="buffer_m")
    amounts = _quantity(points, quantity)
    orgs: pd.Series | None = None
    if organisation is not None and organisation in points.columns:
        orgs = points[organisation]

    keep = bundles.notna().to_numpy()
    ids = bundles[keep]
    index_name = bundles.name if bundles.name is not None else "bundle_id"
    codes, uniques = pd.factorize(ids, sort=True)
    k = len(uniques)
    index = pd.Index(uniques, name=index_name)
    if k == 0:
        index = pd.Index([], dtype=bundles.dtype, name=index_name)

    x, y = x[keep], y[keep]
    n_sites = np.bincount(codes, minlength=k).astype(np.int64)
    cx = np.bincount(codes, weights=x, minlength=k) / np.maximum(n_sites, 1)
    cy = np.bincount(codes, weights=y, minlength=k) / np.maximum(n_sites, 1)
    total = np.bincount(codes, weights=amounts[keep], minlength=k).astype(np.float64)
    if orgs is None:
        n_orgs = n_sites.copy()
    else:
        n_orgs = (
            pd.Series(orgs[keep].to_numpy(), index=codes).groupby(level=0).nunique()
            .reindex(np.arange(k), fill_value=0).to_numpy(dtype=np.int64)
        )

    hulls, span = _hulls_and_spans(x, y, codes, k, buffer)
    return gpd.GeoDataFrame(
        {
            "n_sites": n_sites,
            "n_organisations": n_orgs,
            "total_quantity": total,
            "centroid_x": cx,
            "centroid_y": cy,
            "span_m": span,
        },
        geometry=gpd.GeoSeries(hulls, index=index, crs=RD_NEW),
        index=index,
        crs=RD_NEW,
    )


# --------------------------------------------------------------------------------------------
# validation


def _quantity(points: gpd.GeoDataFrame, quantity: str | pd.Series | None) -> FloatArray:
    if quantity is None:
        return np.zeros(len(points), dtype=np.float64)
    if isinstance(quantity, str):
        if quantity not in points.columns:
            raise ColumnError(N_("points have no column %(column)s."), column=quantity)
        values, label = points[quantity], quantity
    elif isinstance(quantity, pd.Series):
        if not quantity.index.equals(points.index):
            raise ParameterError(
                N_("quantity must have the same index as the points (one value per site).")
            )
        values, label = quantity, str(quantity.name if quantity.name is not None else "quantity")
    else:
        raise ParameterError(
            N_("quantity must be a column name or a Series, not %(type)s."),
            type=type(quantity).__name__,
        )
    if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
        raise ColumnError(N_("quantity column %(column)s is not numeric."), column=label)
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(array)
    if bad.any():
        raise ColumnError(
            N_("quantity column %(column)s is missing or not finite for %(labels)s."),
            column=label, labels=format_labels(points.index[bad]),
        )
    return np.asarray(array, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# single linkage


def _point_xy(points: gpd.GeoDataFrame) -> tuple[FloatArray, FloatArray]:
    """Coordinates of ``points`` after :func:`geo.crs.require_finite_points`."""
    require_finite_points(points, name="points")
    coords = shapely.get_coordinates(np.asarray(points.geometry.array))
    return (
        np.ascontiguousarray(coords[:, 0], dtype=np.float64),
        np.ascontiguousarray(coords[:, 1], dtype=np.float64),
    )


def _single_linkage(x: FloatArray, y: FloatArray, gap: float) -> IntArray:
    """Component labels 0..k-1 numbered by first appearance."""
    n = x.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    grid = _Grid.build(x, y, gap)
    if grid is None:  # coordinates so large that the grid cannot resolve the gap
        i, j = kdtree_pairs(x, y, gap)
        comp = components(n, i, j)
        return _first_appearance(comp, np.arange(n, dtype=np.int64))
    return grid.labels()


class _Grid:
    """Points sorted into square cells small enough that a cell is always one bundle."""

    def __init__(
        self, xs: FloatArray, ys: FloatArray, order: IntArray, keys: IntArray, width: int,
        gap: float,
    ) -> None:
        self.xs, self.ys, self.order, self.width, self.gap = xs, ys, order, width, gap
        self.starts = _run_starts(keys)
        self.n_cells = self.starts.size
        self.counts = np.diff(np.append(self.starts, keys.size))
        self.cell_keys = keys[self.starts]
        self.cell_of = np.repeat(np.arange(self.n_cells, dtype=np.int64), self.counts)

    @classmethod
    def build(cls, x: FloatArray, y: FloatArray, gap: float) -> _Grid | None:
        n = x.size
        x0, y0 = float(x.min()), float(y.min())
        x1, y1 = float(x.max()), float(y.max())
        magnitude = max(abs(x0), abs(y0), abs(x1), abs(y1), 1.0)
        # Shrink the side by more than rounding in the cell computation can move a point, so
        # any two points of one cell are within the gap as `_within` measures it.
        side = gap / math.sqrt(2.0) * (1.0 - 1e-12) - 8.0 * _EPS * magnitude
        if not side > 0.5 * gap / math.sqrt(2.0):
            return None
        nx = int((x1 - x0) // side) + 1
        ny = int((y1 - y0) // side) + 1
        width = ny + 4  # two spare rows each side: neighbour keys never wrap into a column
        if (nx + 3) * width >= 2**62:
            return None
        keys = np.floor((x - x0) / side).astype(np.int64) * width
        keys += np.floor((y - y0) / side).astype(np.int64) + 2
        bits = max(int(n - 1).bit_length(), 1)
        if (nx + 3) * width < 2 ** (62 - bits):
            # Sort key and row number packed in one integer: much faster than argsort, and
            # stable, so each cell's points keep their input order.
            packed = (keys << bits) | np.arange(n, dtype=np.int64)
            packed.sort()
            order = packed & ((1 << bits) - 1)
            keys = packed >> bits
        else:
            order = np.argsort(keys, kind="stable").astype(np.int64)
            keys = keys[order]
        return cls(x[order], y[order], order, keys, width, gap)

    def labels(self) -> IntArray:
        """Component labels per input point, numbered by first appearance."""
        counts = self.counts
        towards, against = self._extremes()
        # Witness every neighbouring cell pair as it is found, keeping only the joined pairs
        # and the few that need a closer look, so memory stays near the number of cells.
        edges_a: list[IntArray] = []
        edges_b: list[IntArray] = []
        maybe_a: list[IntArray] = []
        maybe_b: list[IntArray] = []
        for a, b, direction in self._neighbour_cells():
            flat = direction * self.n_cells
            hit = within(self.xs, self.ys, towards[flat + a], against[flat + b], self.gap)
            edges_a.append(a[hit])
            edges_b.append(b[hit])
            # A failed witness settles a pair of single-point cells; others stay open.
            open_ = ~hit & ((counts[a] > 1) | (counts[b] > 1))
            maybe_a.append(a[open_])
            maybe_b.append(b[open_])
        del towards, against
        comp = components(self.n_cells, np.concatenate(edges_a), np.concatenate(edges_b))
        oa, ob = np.concatenate(maybe_a), np.concatenate(maybe_b)
        undecided = comp[oa] != comp[ob]  # no chain joins them yet
        if undecided.any():
            oa, ob = oa[undecided], ob[undecided]
            if int((counts[oa] * counts[ob]).sum()) <= _BRUTE_FORCE_BUDGET:
                hit = self._anywithin(oa, ob)
                ea, eb = oa[hit], ob[hit]
            else:
                ea, eb = self._delaunay_cells(np.union1d(oa, ob))
            # Join the components found so far along the new edges only.
            k = int(comp.max()) + 1
            comp = components(k, comp[ea], comp[eb])[comp]
        # Each cell's first point is its earliest input row (the sort was stable).
        comp_labels = _first_appearance(comp, self.order[self.starts])
        labels = np.empty(self.order.size, dtype=np.int64)
        labels[self.order] = comp_labels[self.cell_of]
        return labels

    def _neighbour_cells(self) -> Iterator[tuple[IntArray, IntArray, IntArray]]:
        """Pairs ``(a, b)`` of non-empty cells at most two columns and two rows apart (each
        pair once), in batches, with the witness direction of each pair."""
        keys, n = self.cell_keys, self.n_cells
        # Same column: the next one or two cells in key order, one or two rows up.
        for step in (1, 2):
            dj = keys[step:] - keys[: max(n - step, 0)]
            a = np.flatnonzero(dj <= 2)
            yield a, a + step, _DIRECTION_OF[0, dj[a] + 2]
        # Next columns: rows -2..2 have consecutive keys; one search finds the lowest and the
        # rest follow it in the sorted keys.
        for di in (1, 2):
            low = keys + (di * self.width - 2)
            first = np.searchsorted(keys, low)
            a = np.arange(n, dtype=np.int64)
            for t in range(5):
                b = first[a] + t
                inside = b < n
                a, b = a[inside], b[inside]
                dj = keys[b] - low[a]
                near = dj <= 4
                a, b = a[near], b[near]
                if a.size == 0:
                    break
                yield a, b, _DIRECTION_OF[di, dj[near]]

    def _anywithin(self, a: IntArray, b: IntArray) -> BoolArray:
        """Exhaustively: is some point of cell ``a[k]`` within the gap of some point of ``b[k]``?"""
        out = np.zeros(a.size, dtype=bool)
        if a.size == 0:
            return out
        work = self.counts[a] * self.counts[b]
        total = np.cumsum(work)
        cuts = np.searchsorted(total, np.arange(_CHUNK, int(total[-1]), _CHUNK), side="right")
        bounds = np.unique(np.concatenate([[0], cuts, [a.size]]))
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            w = work[lo:hi]
            pair = np.repeat(np.arange(w.size, dtype=np.int64), w)
            offset = np.arange(pair.size, dtype=np.int64) - np.repeat(np.cumsum(w) - w, w)
            nb = self.counts[b[lo:hi]][pair]
            i = self.starts[a[lo:hi]][pair] + offset // nb
            j = self.starts[b[lo:hi]][pair] + offset % nb
            hit = within(self.xs, self.ys, i, j, self.gap)
            out[lo + pair[hit]] = True
        return out

    def _extremes(self) -> tuple[IntArray, IntArray]:
        """Per witness direction d and cell c, at ``d * n_cells + c``: the cell's point furthest
        along d (``towards``) and furthest against it (``against``)."""
        # Cells with one point are their own extremes; only fuller cells need a search.
        small = np.int32 if self.order.size < 2**31 else np.int64  # halves the memory
        towards = np.tile(self.starts.astype(small), len(_DIRECTIONS))
        against = towards.copy()
        full = np.flatnonzero(self.counts > 1)
        if full.size:
            members = np.flatnonzero(self.counts[self.cell_of] > 1)
            member_cell = np.repeat(np.arange(full.size, dtype=np.int64), self.counts[full])
            member_starts = _run_starts(member_cell)
            mx, my = self.xs[members], self.ys[members]
            for d, (ux, uy) in enumerate(_DIRECTIONS):
                proj = mx * ux + my * uy
                for ufunc, extreme in ((np.maximum, towards), (np.minimum, against)):
                    best = ufunc.reduceat(proj, member_starts)
                    at = np.flatnonzero(proj == best[member_cell])
                    extreme[d * self.n_cells + full] = members[at[_run_starts(member_cell[at])]]
        return towards, against

    def _delaunay_cells(self, cells: IntArray) -> tuple[IntArray, IntArray]:
        """Cell pairs joined by short Delaunay edges among the points of ``cells``."""
        members = np.flatnonzero(np.isin(self.cell_of, cells)).astype(np.int64)
        i, j = _delaunay_pairs(self.xs[members], self.ys[members], self.gap)
        return self.cell_of[members[i]], self.cell_of[members[j]]


def _delaunay_pairs(x: FloatArray, y: FloatArray, gap: float) -> tuple[IntArray, IntArray]:
    """Pairs within ``gap`` enough to connect every pair within ``gap`` (not all of them).

    Every pair at distance ``d`` is joined by a path of Delaunay edges no longer than ``d``.
    Points that Qhull leaves out (coincident or nearly so) are linked by a radius query, and
    inputs Qhull cannot triangulate (all on one line) fall back to a k-d tree.
    """
    tri = delaunay_sides(np.column_stack([x, y]))
    if tri is None:
        return kdtree_pairs(x, y, gap)
    keep = within(x, y, tri.i, tri.j, gap)
    i, j = tri.i[keep], tri.j[keep]
    left_out = tri.left_out
    if left_out.size:
        tree = cKDTree(np.column_stack([x, y]))
        near = tree.query_ball_point(
            np.column_stack([x[left_out], y[left_out]]), widened(gap), return_sorted=False
        )
        counts = np.fromiter((len(v) for v in near), dtype=np.int64, count=left_out.size)
        li = np.repeat(left_out, counts)
        lj = np.fromiter(
            (k for v in near for k in v), dtype=np.int64, count=int(counts.sum())
        )
        ok = within(x, y, li, lj, gap)
        i, j = np.concatenate([i, li[ok]]), np.concatenate([j, lj[ok]])
    return i, j


def _first_appearance(comp: IntArray, first_row: IntArray) -> IntArray:
    """Renumber components 0..k-1 in the order of their first input row.

    ``first_row`` holds distinct row numbers (one per element of ``comp``), so ranking them
    needs no sort: mark the rows and count.
    """
    k = int(comp.max()) + 1 if comp.size else 0
    first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, comp, first_row)
    marked = np.zeros(int(first_row.max()) + 1 if first_row.size else 0, dtype=bool)
    marked[first] = True
    rank_of_row = np.cumsum(marked, dtype=np.int64) - 1
    return rank_of_row[first][comp]


def _run_starts(sorted_values: npt.NDArray[Any]) -> IntArray:
    """Positions where a run of equal values starts in a sorted array."""
    if sorted_values.size == 0:
        return np.empty(0, dtype=np.int64)
    change = np.empty(sorted_values.size, dtype=bool)
    change[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=change[1:])
    return np.flatnonzero(change).astype(np.int64)


# --------------------------------------------------------------------------------------------
# summaries


def _nullable(values: pd.Series) -> pd.Series:
    """Integer and boolean names as nullable dtypes, so a missing area does not make floats."""
    if isinstance(values.dtype, np.dtype):
        if values.dtype.kind in "iu":
            return values.astype("Int64")
        if values.dtype.kind == "b":
            return values.astype("boolean")
    return values


def _hulls_and_spans(
    x: FloatArray, y: FloatArray, codes: IntArray, k: int, buffer: float
) -> tuple[npt.NDArray[np.object_], FloatArray]:
    """Hull polygon and span per bundle code 0..k-1 (every code has at least one point)."""
    hulls = np.empty(k, dtype=object)
    span = np.zeros(k, dtype=np.float64)
    if k == 0:
        return hulls, span
    order = np.argsort(codes, kind="stable")
    xs, ys, cs = x[order], y[order], codes[order]
    n_sites = np.bincount(cs, minlength=k)
    single = n_sites == 1
    # One site: a regular polygon around it, built directly (GEOS buffers one at a time).
    first = np.cumsum(n_sites) - n_sites
    hulls[single] = _circles(xs[first[single]], ys[first[single]], buffer)
    multi = np.flatnonzero(~single)
    if multi.size == 0:
        return hulls, span
    members = np.flatnonzero(~single[cs])
    xs, ys = xs[members], ys[members]
    cs = np.repeat(np.arange(multi.size, dtype=np.int64), n_sites[multi])
    keep = ~_inside_extremes(xs, ys, cs, _run_starts(cs))
    multipoints = shapely.multipoints(np.column_stack([xs[keep], ys[keep]]), indices=cs[keep])
    hull = shapely.convex_hull(multipoints)
    polygon = shapely.get_type_id(hull) == shapely.GeometryType.POLYGON
    if polygon.any():
        span[multi[polygon]] = _polygon_diameters(hull[polygon])
    # Two sites or sites on one line: the hull is the segment between the extremes.
    line = hull[~polygon]
    span[multi[~polygon]] = shapely.length(line)
    hull[~polygon] = shapely.buffer(line, buffer, quad_segs=_QUAD_SEGS)
    hulls[multi] = hull
    return hulls, span


def _circles(cx: FloatArray, cy: FloatArray, radius: float) -> npt.NDArray[np.object_]:
    """Regular polygons of ``4 * _QUAD_SEGS`` sides inscribed in circles (like GEOS buffer)."""
    angle = np.arange(4 * _QUAD_SEGS + 1) * (2 * math.pi / (4 * _QUAD_SEGS))
    ring = np.empty((cx.size, angle.size, 2), dtype=np.float64)
    ring[:, :, 0] = cx[:, None] + radius * np.cos(angle)
    ring[:, :, 1] = cy[:, None] + radius * np.sin(angle)
    ring[:, -1, :] = ring[:, 0, :]  # closed exactly
    return shapely.polygons(ring) if cx.size else np.empty(0, dtype=object)


def _inside_extremes(xs: FloatArray, ys: FloatArray, cs: IntArray, starts: IntArray) -> BoolArray:
    """Points strictly inside the polygon of their group's extreme points (Akl-Toussaint).

    Such points cannot be hull vertices, so leaving them out before building geometries
    saves most of the work for big bundles without changing any hull.
    """
    vertex = []
    inside = np.ones(xs.size, dtype=bool)
    for ux, uy in _OCTAGON:
        proj = xs * ux + ys * uy
        at = np.flatnonzero(proj == np.maximum.reduceat(proj, starts)[cs])
        extreme = at[_run_starts(cs[at])]
        inside[extreme] = False  # the extreme points themselves always stay
        vertex.append(extreme[cs])  # per point: its group's extreme point
    for a, b in zip(vertex, vertex[1:] + vertex[:1], strict=True):
        ex, ey = xs[b] - xs[a], ys[b] - ys[a]
        px, py = xs - xs[a], ys - ys[a]
        left, right = ex * py, ey * px
        # Strictly left of the edge, beyond rounding; an edge of length 0 says nothing.
        ok = (left - right > 8 * _EPS * (np.abs(left) + np.abs(right))) | ((ex == 0) & (ey == 0))
        inside &= ok
    return inside


def _polygon_diameters(hulls: npt.NDArray[np.object_]) -> FloatArray:
    """Largest vertex-to-vertex distance of convex polygons, by antipodal pairs.

    For every hull edge the vertex furthest from its line is found by a search on the edge
    directions (rotating calipers, vectorised over all hulls); the diameter is an antipodal
    pair, so it is among (edge end, furthest vertex) and that vertex's neighbours.
    """
    rings = shapely.get_exterior_ring(shapely.orient_polygons(hulls, exterior_cw=False))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    ring = ring.astype(np.int64)
    # Drop each ring's closing vertex: vertices 0..h-1 per ring, h >= 3.
    last = np.append(ring[1:] != ring[:-1], True)
    vx, vy, vring = coords[~last, 0], coords[~last, 1], ring[~last]
    start = _run_starts(vring)
    h = np.diff(np.append(start, vring.size))
    local = np.arange(vring.size, dtype=np.int64) - np.repeat(start, h)
    nxt = np.repeat(start, h) + (local + 1) % np.repeat(h, h)
    # Direction of the edge leaving each vertex, unwrapped to increase around the ring.
    angle = _unwrap_rings(np.arctan2(vy[nxt] - vy, vx[nxt] - vx), start, h)
    # Search key: each ring's directions twice (second lap + 2 pi), rings 8 pi apart.
    lap = np.concatenate([np.arange(vring.size), np.arange(vring.size)])
    lap_ring = np.concatenate([vring, vring])
    key = np.concatenate([angle, angle + 2 * math.pi]) + lap_ring * 8 * math.pi
    key_order = np.lexsort((key, lap_ring))
    key, lap = key[key_order], lap[key_order]
    target = angle + math.pi + vring * 8 * math.pi
    pos = np.minimum(np.searchsorted(key, target, side="right"), key.size - 1)
    far = lap[pos]  # vertex where the boundary turns past the opposite direction
    ends = np.stack([np.arange(vring.size), nxt])
    base = np.repeat(start, h)
    hh = np.repeat(h, h)
    far_local = far - base
    best = np.zeros(vring.size, dtype=np.float64)
    for shift in (-1, 0, 1):
        cand = base + (far_local + shift) % hh
        for end in ends:
            dx = vx[end] - vx[cand]
            dy = vy[end] - vy[cand]
            np.maximum(best, np.sqrt(dx * dx + dy * dy), out=best)
    return np.maximum.reduceat(best, start)


def _unwrap_rings(angle: FloatArray, start: IntArray, h: IntArray) -> FloatArray:
    """Make each ring's edge directions non-decreasing from its first edge."""
    step = np.diff(angle, prepend=angle[:1])
    step[start] = 0.0
    step = np.where(step < -math.pi, step + 2 * math.pi, step)
    total = np.cumsum(step)
    ring_base = np.repeat(total[start], h)
    return np.repeat(angle[start], h) + (total - ring_base)
