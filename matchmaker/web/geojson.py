"""GeoJSON for the maps: RD New geometries in, an RFC 7946 FeatureCollection (WGS84) out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from flask import Response, stream_with_context
from shapely.geometry import mapping

from geo.crs import rd_to_wgs84
from matchmaker.database import set_write_intent


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


def geojson_stream_response(features: Iterable[tuple[float, float, Mapping[str, Any]]],
                            filename: str, *, batch: int = 2000) -> Response:
    """An RFC 7946 FeatureCollection of points written as the client reads: ``features``
    yields (x, y in RD New, properties), e.g. from :func:`matchmaker.frames.stream_rows`; they
    are transformed to WGS84 a batch at a time, so memory stays the same for any size."""

    def body() -> Iterator[bytes]:
        set_write_intent(False)  # reads while streaming never need the write lock
        yield b'{"type": "FeatureCollection", "features": ['
        first = True
        chunk: list[tuple[float, float, Mapping[str, Any]]] = []
        for item in _with_end(features):
            if item is not None:
                chunk.append(item)
                if len(chunk) < batch:
                    continue
            if not chunk:
                break
            lon, lat = rd_to_wgs84([c[0] for c in chunk], [c[1] for c in chunk])
            parts = []
            for (_x, _y, props), lo, la in zip(chunk, lon, lat, strict=True):
                parts.append(json.dumps({
                    "type": "Feature", "properties": dict(props),
                    "geometry": {"type": "Point",
                                 "coordinates": [round(float(lo), 6), round(float(la), 6)]},
                }, ensure_ascii=False))
            yield (("" if first else ",") + ",".join(parts)).encode("utf-8")
            first = False
            chunk = []
            if item is None:
                break
        yield b"]}"

    return Response(stream_with_context(body()), mimetype="application/geo+json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _with_end(items: Iterable[Any]) -> Iterator[Any]:
    yield from items
    yield None
