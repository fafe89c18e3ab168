"""GeoJSON for the maps: RD New geometries in, an RFC 7946 FeatureCollection (WGS84) out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from flask import Response
from shapely.geometry import mapping

from geo.crs import rd_to_wgs84


def feature_collection(geometries: Sequence[shapely.Geometry] | Any,
                       properties: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One feature per geometry (RD New) with its properties, in WGS84 to 1e-6 degrees
    (~0.1 m); every geometry is transformed in one vectorised call. Empty geometries are left
    out (RFC 7946 has no use for them)."""
    geoms = np.asarray(geometries, dtype=object)
    wgs = shapely.set_precision(shapely.transform(
        geoms, lambda xy: np.column_stack(rd_to_wgs84(xy[:, 0], xy[:, 1]))), 1e-6) \
        if len(geoms) else geoms
    features = [
        {"type": "Feature", "geometry": mapping(geometry), "properties": dict(props)}
        for geometry, props in zip(wgs, properties, strict=True)
        if not geometry.is_empty
    ]
    return {"type": "FeatureCollection", "features": features}


def points(x: Sequence[float] | Any, y: Sequence[float] | Any) -> Any:
    """RD New points for :func:`feature_collection`."""
    return shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def geojson_response(geometries: Sequence[shapely.Geometry] | Any,
                     properties: Iterable[Mapping[str, Any]]) -> Response:
    return Response(json.dumps(feature_collection(geometries, properties), ensure_ascii=False),
                    mimetype="application/geo+json")
