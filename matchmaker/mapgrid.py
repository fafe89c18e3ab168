"""Maps that carry 50,000 sites: points clustered on the server per zoom level, per viewport.

The browser asks for the part of the map it shows (``bbox=west,south,east,north`` in WGS84 and
``zoom``); the server answers with at most one feature per grid cell of about
:data:`CELL_PX` screen pixels: a *cluster* (how many points, where their centre is) or, for a
cell with one point, that point with its id, whose details the page fetches when it is
clicked. A response therefore holds a few hundred features whatever the data (the grid over
the viewport), and nothing about a point but its id and position.

The grid is computed in SQL in RD New metres (``floor(x / cell)``), one statement that both
databases run as it is, over the ``(x, y)`` index of the bounding box: the same code path on
SQLite and on PostgreSQL. The cells are aligned to the metre grid, not to the viewport, so
panning does not make clusters jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from geo.crs import rd_to_wgs84
from matchmaker.extensions import db

#: About this many screen pixels per cluster cell.
CELL_PX = 56
#: Web Mercator metres per pixel at zoom 0 on the equator, and the cosine of Drenthe's latitude.
_M_PER_PX_Z0 = 156_543.034
_COS_LAT = math.cos(math.radians(52.9))
MAX_ZOOM = 22
#: From this zoom on every point is shown on its own (a street: cells of a few metres).
POINTS_FROM_ZOOM = 18


@dataclass(frozen=True)
class Viewport:
    """The part of the map shown, in RD New metres, and the zoom level."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    zoom: int

    @property
    def cell_m(self) -> float:
        """Grid cell size in metres: :data:`CELL_PX` pixels at this zoom; 0 means every point."""
        if self.zoom >= POINTS_FROM_ZOOM:
            return 0.0
        return CELL_PX * _M_PER_PX_Z0 * _COS_LAT / 2 ** self.zoom


def cluster_features(points: sa.Subquery, view: Viewport) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS84) of the points of ``points`` (columns ``id``, ``x``,
    ``y``, ``tag``) inside ``view``: ``{"kind": "cluster", "count": n}`` per grid cell of
    several points, ``{"kind": "point", "id": id, "tag": tag}`` for a point alone in its cell.
    ``tag`` is whatever one small value the map colours a single point by."""
    inside = sa.and_(points.c.x.between(view.minx, view.maxx),
                     points.c.y.between(view.miny, view.maxy))
    if view.cell_m:
        gx = sa.func.floor(points.c.x / view.cell_m)
        gy = sa.func.floor(points.c.y / view.cell_m)
        query = sa.select(sa.func.count(), sa.func.avg(points.c.x), sa.func.avg(points.c.y),
                          sa.func.min(points.c.id), sa.func.min(points.c.tag)) \
            .where(inside).group_by(gx, gy)
    else:
        query = sa.select(sa.literal(1), points.c.x, points.c.y, points.c.id, points.c.tag) \
            .where(inside)
    rows = db.session.execute(query).all()
    if not rows:
        return {"type": "FeatureCollection", "features": []}
    lon, lat = rd_to_wgs84([float(r[1]) for r in rows], [float(r[2]) for r in rows])
    features = []
    for (count, _x, _y, ident, tag), lo, la in zip(rows, lon, lat, strict=True):
        geometry = {"type": "Point", "coordinates": [round(float(lo), 6), round(float(la), 6)]}
        properties: dict[str, Any] = (
            {"kind": "point", "id": int(ident), "tag": tag} if int(count) == 1
            else {"kind": "cluster", "count": int(count)})
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return {"type": "FeatureCollection", "features": features}


def extent(points: sa.Subquery) -> list[float] | None:
    """[south, west, north, east] in degrees around the points, for opening a map on its data
    (None without points)."""
    row = db.session.execute(sa.select(sa.func.min(points.c.x), sa.func.min(points.c.y),
                                       sa.func.max(points.c.x), sa.func.max(points.c.y))).one()
    if row[0] is None:
        return None
    lon, lat = rd_to_wgs84([float(row[0]), float(row[2])], [float(row[1]), float(row[3])])
    return [round(float(lat[0]), 6), round(float(lon[0]), 6),
            round(float(lat[1]), 6), round(float(lon[1]), 6)]
