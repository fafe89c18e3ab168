"""Which points are near each other: the Delaunay and k-d tree helpers of bundling and heat.

One distance rule everywhere: two points are within ``gap`` when ``sqrt(dx * dx + dy * dy) <=
gap`` (as GEOS measures), and every tree query searches a hair wider (:func:`widened`) and then
decides with that rule, so that a pair at exactly ``gap`` is in.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError, cKDTree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def within(x: FloatArray, y: FloatArray, i: IntArray, j: IntArray, gap: float) -> BoolArray:
    """Whether points ``i`` and ``j`` are within ``gap`` (in place, to keep temporaries few).

    >>> x = np.array([0.0, 3.0, 10.0]); y = np.array([0.0, 4.0, 0.0])
    >>> within(x, y, np.array([0, 0]), np.array([1, 2]), 5.0).tolist()
    [True, False]
    """
    dx = x[i]
    dx -= x[j]
    dx *= dx
    dy = y[i]
    dy -= y[j]
    dy *= dy
    dx += dy
    return np.asarray(np.sqrt(dx, out=dx) <= gap, dtype=bool)


def widened(gap: float) -> float:
    """A radius a little over ``gap`` so a tree query misses no pair that :func:`within` accepts."""
    return gap * (1.0 + 1e-9) + 1e-9


def kdtree_pairs(x: FloatArray, y: FloatArray, gap: float) -> tuple[IntArray, IntArray]:
    """All pairs ``i < j`` within ``gap`` from a k-d tree (memory grows with the pairs)."""
    tree = cKDTree(np.column_stack([x, y]))
    pairs = np.asarray(tree.query_pairs(widened(gap), output_type="ndarray"), dtype=np.int64)
    keep = within(x, y, pairs[:, 0], pairs[:, 1], gap)
    return pairs[keep, 0], pairs[keep, 1]


class Triangulation(NamedTuple):
    """The sides of a Delaunay triangulation (each shared side twice) and the points Qhull
    left out (coincident or nearly so with another point)."""

    i: IntArray
    j: IntArray
    left_out: IntArray


def delaunay_sides(xy: FloatArray) -> Triangulation | None:
    """The sides of the Delaunay triangulation of ``xy`` (n x 2), or ``None`` when Qhull cannot
    triangulate the points (fewer than three, or all on one line).

    The coordinates are centred first: RD New values of 10^5 m cost Qhull precision.
    """
    if xy.shape[0] < 3:
        return None
    try:
        tri = Delaunay(xy - xy.mean(axis=0))
    except QhullError:
        return None
    s = tri.simplices.astype(np.int64)
    i = np.concatenate([s[:, 0], s[:, 1], s[:, 2]])
    j = np.concatenate([s[:, 1], s[:, 2], s[:, 0]])
    left_out = np.flatnonzero(np.bincount(s.ravel(), minlength=xy.shape[0]) == 0)
    return Triangulation(i, j, left_out.astype(np.int64))


def components(n: int, i: IntArray, j: IntArray) -> IntArray:
    """Connected-component label of each of ``n`` nodes joined by the edges ``(i, j)``."""
    graph = coo_matrix((np.ones(i.size, dtype=np.int8), (i, j)), shape=(n, n)).tocsr()
    return np.asarray(connected_components(graph, directed=False)[1], dtype=np.int64)


__all__ = ["Triangulation", "components", "delaunay_sides", "kdtree_pairs", "widened", "within"]
