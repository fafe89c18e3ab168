"""The viewport a map asks for (see :mod:`matchmaker.mapgrid` for the clusters it gets)."""

from __future__ import annotations

import math

import numpy as np
from flask import abort, request

from geo.crs import RD_BOUNDS, wgs84_to_rd
from matchmaker.mapgrid import MAX_ZOOM, Viewport


def viewport_from_request() -> Viewport:
    """``bbox`` (west,south,east,north, degrees) and ``zoom`` (0–22) from the query string;
    anything else is a 400."""
    try:
        west, south, east, north = (float(v) for v in request.args.get("bbox", "").split(","))
        zoom = int(request.args.get("zoom", ""))
    except ValueError:
        abort(400)
    if not all(map(math.isfinite, (west, south, east, north))) or not 0 <= zoom <= MAX_ZOOM \
            or west >= east or south >= north:
        abort(400)
    # The corners and edge midpoints: RD New is not aligned with longitude and latitude.
    lons = [west, east, west, east, (west + east) / 2, (west + east) / 2, west, east]
    lats = [south, south, north, north, south, north, (south + north) / 2, (south + north) / 2]
    x, y = wgs84_to_rd(lons, lats)
    minx, miny, maxx, maxy = RD_BOUNDS
    return Viewport(max(float(np.min(x)), minx - 1e5), max(float(np.min(y)), miny - 1e5),
                    min(float(np.max(x)), maxx + 1e5), min(float(np.max(y)), maxy + 1e5), zoom)
