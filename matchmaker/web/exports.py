"""File exports shared by the features: Dutch-spreadsheet CSV, RFC 7946 GeoJSON, GeoPackage."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
from flask import Response

from geo.crs import RD_NEW, WGS84


def nl_number(value: Any, places: int | None = None) -> str:
    """A number for a Dutch spreadsheet: decimal comma, no thousands separator; a float is
    rounded to ``places`` decimals when given."""
    if value is None:
        return ""
    if isinstance(value, float) and places is not None:
        value = Decimal(str(round(value, places)))
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
    elif isinstance(value, float):
        text = f"{value:.6g}" if abs(value) < 1e6 else f"{value:.2f}"
    else:
        text = str(value)
    return text.replace(".", ",")


def stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M")


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """Semicolon CSV with a BOM (Excel in Dutch opens it right); every value is written as text,
    so ids keep their leading zeros."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def vector_response(frame: gpd.GeoDataFrame, *, driver: str, filename: str, layer: str) -> Response:
    """A GeoJSON (WGS84, RFC 7946) or GeoPackage (RD New) file written by GDAL via pyogrio."""
    with tempfile.TemporaryDirectory() as tmp:
        if driver == "GeoJSON":
            path = Path(tmp) / "export.geojson"
            pyogrio.write_dataframe(frame.to_crs(WGS84), path, driver="GeoJSON",
                                    layer_options={"RFC7946": "YES", "WRITE_NAME": "NO"})
            mimetype = "application/geo+json"
        else:
            path = Path(tmp) / "export.gpkg"
            pyogrio.write_dataframe(frame.to_crs(RD_NEW), path, driver="GPKG", layer=layer)
            mimetype = "application/geopackage+sqlite3"
        data = path.read_bytes()
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
