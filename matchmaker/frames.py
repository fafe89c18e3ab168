"""From SQL rows to the frames that ``geo`` works on (the service side of view → service →
frames → geo)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.crs import RD_NEW


def point_frame(rows: Iterable[Sequence[Any]] | pd.DataFrame, columns: Sequence[str] = (), *,
                keep_xy: bool = False) -> gpd.GeoDataFrame:
    """Rows with ``x`` and ``y`` columns (RD New metres, as stored) as a point GeoDataFrame in
    RD New; ``x``/``y`` are dropped unless ``keep_xy``. An empty input gives an empty frame
    with the columns."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows),
                                                                      columns=list(columns))
    geometry = gpd.points_from_xy(frame["x"].astype(float), frame["y"].astype(float))
    return gpd.GeoDataFrame(frame if keep_xy else frame.drop(columns=["x", "y"]),
                            geometry=geometry, crs=RD_NEW)
