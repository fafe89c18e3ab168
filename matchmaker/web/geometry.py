"""Geometry that people draw on a map and send with a form (GeoJSON in WGS84)."""

from __future__ import annotations

import json

import shapely

from geo.crs import in_netherlands, wgs84_to_rd
from matchmaker.errors import N_, ServiceError
from matchmaker.web.validators import bounded_json

#: A drawn area is a handful of clicks; more text than this is not a drawing.
MAX_DRAWN_CHARS = 100_000
MAX_DRAWN_VERTICES = 2_000


def drawn_polygon(text: str | None, *, field: str = "polygon") -> shapely.Geometry | None:
    """A polygon drawn on the map (GeoJSON in WGS84) as an RD New polygon; None when empty.

    Refuses, with a message for ``field``: text that is no GeoJSON (or nested deeper than any
    drawing), anything but one polygon with at least three corners, more than
    ``MAX_DRAWN_VERTICES`` corners, corners outside the Netherlands, and self-crossing rings.
    """
    if not text or not text.strip():
        return None
    def unreadable() -> ServiceError:
        return ServiceError(N_("The drawn area could not be read; draw it again."), field=field)

    try:
        data = bounded_json(text, max_chars=MAX_DRAWN_CHARS)
        geometry = shapely.from_geojson(json.dumps(data.get("geometry", data)))
    except (ValueError, AttributeError, TypeError, shapely.errors.GEOSException) as exc:
        raise unreadable() from exc
    if geometry.geom_type != "Polygon" or geometry.is_empty:
        raise ServiceError(N_("Draw an area with at least three points."), field=field)
    if shapely.get_num_coordinates(geometry) > MAX_DRAWN_VERTICES:
        raise unreadable()
    lon, lat = shapely.get_coordinates(geometry).T
    x, y = wgs84_to_rd(lon, lat)
    if not bool(in_netherlands(x, y).all()):
        raise ServiceError(N_("The drawn area lies outside the Netherlands."), field=field)
    polygon = shapely.Polygon(list(zip(x, y, strict=True)))
    if not polygon.is_valid or polygon.area <= 0:
        raise ServiceError(N_("The drawn area crosses itself; draw it again."), field=field)
    return polygon
