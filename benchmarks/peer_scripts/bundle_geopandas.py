"""Peer of ``matchmaker bundle``: the same file in and out, geopandas and scipy alone.

    python benchmarks/peer_scripts/bundle_geopandas.py SITES.csv|.parquet GAP_M OUT.csv|.parquet

CSV is read and written with pandas (``id`` as text), GeoParquet with geopandas'
``read_parquet``/``to_parquet``; the neighbours within the gap come from the spatial index
(``sindex.query(..., predicate="dwithin")``), the bundles from scipy's connected components.
"""

from __future__ import annotations

import sys

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def main() -> None:
    source, gap, output = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    if source.endswith(".parquet"):
        frame = gpd.read_parquet(source)
        points = frame
    else:
        frame = pd.read_csv(source, dtype={"id": str})
        points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["x"], frame["y"]),
                                  crs="EPSG:28992")
    left, right = points.sindex.query(points.geometry.array, predicate="dwithin", distance=gap)
    n = len(points)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    frame["bundle_id"] = labels
    if output.endswith(".parquet"):
        frame.to_parquet(output)
    else:
        frame.to_csv(output, index=False)


if __name__ == "__main__":
    main()
