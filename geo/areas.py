"""Area polygons (parks, kringen, postcode areas, neighbourhoods): validation for import."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import RD_NEW, in_netherlands, to_rd
from geo.errors import N_, ColumnError, GeometryError

NAME_COLUMNS = ("name", "naam", "statnaam", "buurtnaam", "wijknaam", "pc4", "postcode")
POLYGONAL = ("Polygon", "MultiPolygon")


def _find_column(columns: Sequence[str], wanted: str | None, fallbacks: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for name in ([wanted] if wanted else []) + list(fallbacks):
        if name and name.lower() in lower:
            return lower[name.lower()]
    return None


def prepare_areas(
    frame: gpd.GeoDataFrame,
    *,
    name_column: str | None = None,
    code_column: str | None = None,
    assume_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Validate area polygons and return ``name``, ``code`` and ``geometry`` in RD New.

    Every feature must have a name (unique in the file) and a non-empty, valid Polygon or
    MultiPolygon inside the Netherlands; otherwise :class:`GeometryError` lists the features
    (numbered from 1) and why, and nothing should be imported. Z values are dropped.

    >>> from shapely.geometry import box
    >>> f = gpd.GeoDataFrame({"naam": ["Park"]}, geometry=[box(233000, 556000, 234000, 557000)],
    ...                      crs="EPSG:28992")
    >>> prepare_areas(f).loc[0, "name"], round(prepare_areas(f).area[0])
    ('Park', 1000000)
    """
    if len(frame) == 0:
        raise GeometryError(N_("The file holds no areas."))
    name_col = _find_column(list(frame.columns), name_column, () if name_column else NAME_COLUMNS)
    if name_col is None:
        raise ColumnError(
            N_("The areas need a name column (%(columns)s)."),
            columns=name_column or ", ".join(NAME_COLUMNS[:3]),
        )
    code_col = _find_column(list(frame.columns), code_column, ()) if code_column else None
    if code_column and code_col is None:
        raise ColumnError(N_("The areas have no column %(columns)s."), columns=code_column)

    frame = to_rd(frame, assume_crs=assume_crs).reset_index(drop=True)
    geoms = shapely.force_2d(frame.geometry.to_numpy())
    names = frame[name_col].astype("string").fillna("").str.strip()

    problems: list[str] = []

    def report(mask: np.ndarray, reason: str) -> None:
        for i in np.flatnonzero(mask)[:5]:
            problems.append(f"{i + 1} ({names.iloc[i] or '?'}): {reason}")

    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    report(missing, "empty geometry")
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, [3, 6])  # Polygon, MultiPolygon
    report(~missing & ~polygonal, "not a polygon")
    candidates = ~missing & polygonal
    valid = np.zeros(len(geoms), dtype=bool)
    valid[candidates] = shapely.is_valid(geoms[candidates])
    for i in np.flatnonzero(candidates & ~valid)[:5]:
        problems.append(
            f"{i + 1} ({names.iloc[i] or '?'}): invalid polygon, {shapely.is_valid_reason(geoms[i])}"
        )
    ok = candidates & valid
    zero = np.zeros(len(geoms), dtype=bool)
    zero[ok] = shapely.area(geoms[ok]) <= 0
    report(zero, "zero area")
    centroids = shapely.centroid(geoms[ok & ~zero])
    outside = np.zeros(len(geoms), dtype=bool)
    outside[ok & ~zero] = ~in_netherlands(shapely.get_x(centroids), shapely.get_y(centroids))
    report(outside, "outside the Netherlands")
    report((names == "").to_numpy(bool), "no name")
    report(names.duplicated(keep="first").to_numpy(bool) & (names != "").to_numpy(bool),
           "name appears twice")
    if problems:
        raise GeometryError(
            N_("Areas refused, nothing imported. Feature %(problems)s."),
            problems="; ".join(problems[:10]),
        )
    codes = (frame[code_col].astype("string").fillna("").str.strip() if code_col
             else pd.Series([""] * len(frame), dtype="string"))
    return gpd.GeoDataFrame(
        {"name": names.to_numpy(dtype=object), "code": codes.to_numpy(dtype=object)},
        geometry=geoms, crs=RD_NEW,
    )


def grid_cell(x: float, y: float, cell_m: float) -> shapely.Polygon:
    """The square of the ``cell_m`` grid (aligned at 0, 0) that holds (x, y).

    >>> grid_cell(1010.0, 1020.0, 250).bounds
    (1000.0, 1000.0, 1250.0, 1250.0)
    """
    x0, y0 = np.floor(x / cell_m) * cell_m, np.floor(y / cell_m) * cell_m
    return shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)


def coarsen_point(x: float, y: float, polygons: Sequence[shapely.Geometry], *,
                  cell_m: float) -> tuple[float, float]:
    """A point in the ``cell_m`` grid cell around (x, y) that lies in exactly those of
    ``polygons`` that (x, y) lies in: a location that keeps every per-area count the same but
    no longer names a building (for erased members).

    >>> from shapely.geometry import box
    >>> coarsen_point(1010.0, 1020.0, [box(0, 0, 5000, 5000)], cell_m=250)
    (1125.0, 1125.0)
    >>> coarsen_point(1010.0, 1020.0, [box(0, 0, 1100, 5000)], cell_m=250)  # stays inside
    (1050.0, 1125.0)
    >>> coarsen_point(1010.0, 1020.0, [box(1100, 0, 5000, 5000)], cell_m=250)  # stays outside
    (1050.0, 1125.0)
    """
    cell = grid_cell(x, y, cell_m)
    point = shapely.Point(x, y)
    within = region = cell  # within: the polygons it lies in; region: and none of the others
    for polygon in polygons:
        if polygon.covers(point):
            within = within.intersection(polygon)
            region = region.intersection(polygon)
        else:
            region = region.difference(polygon)
    # A point on a boundary can leave an empty or sliver region: then the cell within the
    # polygons it lies in (never the exact point).
    chosen = region if region.area > 0 else within
    spot = (chosen if not chosen.is_empty else cell).representative_point()
    return float(spot.x), float(spot.y)
