"""Coordinate reference systems: everything is measured in RD New (EPSG:28992).

Distances and areas are computed in the Dutch metric grid; WGS84 (EPSG:4326) is derived
for maps and GeoJSON only (RFC 7946 requires it).
"""

from __future__ import annotations

from typing import TypeVar

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import mapping

from geo.errors import N_, CoordinateError, CRSError, format_labels

RD_NEW = "EPSG:28992"
WGS84 = "EPSG:4326"

#: The area of use of EPSG:28992 (lon 3.2–7.22, lat 50.75–53.7: the Netherlands onshore, the
#: Wadden and the 12-mile zone) transformed to RD New and rounded outwards to whole metres.
RD_BOUNDS: tuple[float, float, float, float] = (646.0, 306671.0, 284348.0, 637112.0)

_TO_RD = Transformer.from_crs(WGS84, RD_NEW, always_xy=True)
_TO_WGS84 = Transformer.from_crs(RD_NEW, WGS84, always_xy=True)

FrameT = TypeVar("FrameT", gpd.GeoDataFrame, gpd.GeoSeries)


def wgs84_to_rd(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Transform longitude/latitude (degrees) to RD New x/y (metres).

    >>> x, y = wgs84_to_rd([6.5625], [52.9925])
    >>> round(float(x[0])), round(float(y[0]))
    (233914, 556813)
    """
    x, y = _TO_RD.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def xy_to_rd(
    x: npt.ArrayLike, y: npt.ArrayLike, crs: object
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Transform coordinates in ``crs`` (anything pyproj accepts: "EPSG:4326", PROJJSON, ...)
    to RD New x/y, axis order x/y (longitude first) whatever the CRS's official order.

    >>> x, y = xy_to_rd([6.5625], [52.9925], "OGC:CRS84")
    >>> round(float(x[0])), round(float(y[0]))
    (233914, 556813)
    """
    source = CRS.from_user_input(crs)
    if source.equals(RD_NEW):
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    transformer = Transformer.from_crs(source, RD_NEW, always_xy=True)
    rx, ry = transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(rx, dtype=float), np.asarray(ry, dtype=float)


def rd_to_wgs84(
    x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Transform RD New x/y (metres) to longitude/latitude (degrees).

    >>> lon, lat = rd_to_wgs84([155000.0], [463000.0])
    >>> round(float(lon[0]), 3), round(float(lat[0]), 3)
    (5.387, 52.155)
    """
    lon, lat = _TO_WGS84.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def geometry_to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    """Transform a shapely geometry from RD New to longitude/latitude (for GeoJSON).

    >>> from shapely.geometry import Point
    >>> [round(c, 3) for c in geometry_to_wgs84(Point(155000, 463000)).coords[0]]
    [5.387, 52.155]
    """
    return shapely.transform(geom, lambda xy: np.column_stack(rd_to_wgs84(xy[:, 0], xy[:, 1])))


def geojson_wgs84(geom: shapely.Geometry) -> dict[str, object]:
    """An RD New geometry as a GeoJSON geometry object in WGS84, to 1e-6 degrees (~0.1 m).

    >>> from shapely.geometry import Point
    >>> geojson_wgs84(Point(155000, 463000))["coordinates"]
    (5.387204, 52.155172)
    """
    return dict(mapping(shapely.set_precision(geometry_to_wgs84(geom), 1e-6)))


def in_netherlands(x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether RD New points lie within the area of use of RD New (finite and inside the box).

    >>> in_netherlands([233914.0, 10.0, float("nan")], [556813.0, 10.0, 1.0]).tolist()
    [True, False, False]
    """
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    minx, miny, maxx, maxy = RD_BOUNDS
    with np.errstate(invalid="ignore"):
        return np.asarray(
            np.isfinite(xa) & np.isfinite(ya)
            & (xa >= minx) & (xa <= maxx) & (ya >= miny) & (ya <= maxy)
        )


def to_rd(frame: FrameT, *, assume_crs: str | None = None) -> FrameT:
    """Return ``frame`` in RD New, transforming from any CRS it declares.

    A frame without a CRS is refused unless ``assume_crs`` names the one its coordinates are in;
    guessing would silently place sites kilometres away.
    """
    if frame.crs is None:
        if assume_crs is None:
            raise CRSError(
                N_("The data has no coordinate reference system; state it (for example EPSG:28992).")
            )
        frame = frame.set_crs(assume_crs)
    if frame.crs.equals(RD_NEW):
        return frame
    return frame.to_crs(RD_NEW)


def require_rd(frame: gpd.GeoDataFrame | gpd.GeoSeries, *, name: str = "points") -> None:
    """Raise unless ``frame`` has a projected CRS equal to RD New.

    Pure functions in ``geo`` measure in metres and refuse to guess a transformation.
    """
    if frame.crs is None:
        raise CRSError(
            N_("%(name)s have no coordinate reference system; set RD New (EPSG:28992)."),
            name=name,
        )
    if frame.crs.is_geographic:
        raise CRSError(
            N_("%(name)s are in geographic coordinates (%(crs)s); convert them to RD New "
               "(EPSG:28992) first, distances in degrees are meaningless."),
            name=name,
            crs=frame.crs.to_string(),
        )
    if not frame.crs.equals(RD_NEW):
        raise CRSError(
            N_("%(name)s are in %(crs)s; convert them to RD New (EPSG:28992) first."),
            name=name,
            crs=frame.crs.to_string(),
        )


def require_finite_points(frame: gpd.GeoDataFrame | gpd.GeoSeries, *, name: str = "points") -> None:
    """Raise for missing, empty, non-point or non-finite geometries, naming the first labels.

    Checks type ids and coordinates as arrays (a million points in milliseconds); only a
    failure pays for finding the offending labels.
    """
    geoms = np.asarray((frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame).array)
    types = shapely.get_type_id(geoms)
    coords = shapely.get_coordinates(geoms)
    if (types == shapely.GeometryType.POINT).all() and coords.shape[0] == geoms.size and (
        np.isfinite(coords).all()
    ):
        return
    index = frame.index
    missing = (types == shapely.GeometryType.MISSING) | shapely.is_empty(geoms)
    if missing.any():
        raise CoordinateError(
            N_("%(name)s without a location: %(labels)s."),
            name=name, labels=format_labels(index[missing]),
        )
    not_point = types != shapely.GeometryType.POINT
    if not_point.any():
        raise CoordinateError(
            N_("%(name)s must be points; other geometries at %(labels)s."),
            name=name, labels=format_labels(index[not_point]),
        )
    bad = ~np.isfinite(coords).all(axis=1)
    raise CoordinateError(
        N_("%(name)s with NaN or infinite coordinates: %(labels)s."),
        name=name, labels=format_labels(index[bad]),
    )


