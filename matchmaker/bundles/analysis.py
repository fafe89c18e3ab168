"""The work behind ``matchmaker bundle`` (its command line is in cli.py): bundle demand by location from a file, without the web app.

Reads sites (CSV with ``id,x,y`` in RD New or ``id,lon,lat``, GeoJSON or GeoPackage) with a
``quantity``, groups them with :func:`geo.bundling.bundle_by_distance` (and, with ``--areas``,
names the area each lies in), and writes every input row back with its ``bundle_id``; optionally
one summary row per bundle. The output format follows the file suffix: ``.csv``, ``.geojson``
(WGS84, RFC 7946) or ``.gpkg`` (RD New). A CSV repeats the input's columns as typed (vector
input gets RD New ``x``, ``y``); GeoJSON and GeoPackage carry the location as geometry. A
semicolon CSV with decimal commas is answered in kind. Files are written completely or not at
all.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.bundling import bundle_by_area, bundle_by_distance, summarize_bundles
from geo.crs import RD_NEW, to_rd
from geo.errors import N_, GeoError, ParameterError
from geo.io import file_kind, read_csv_text, read_points, read_vector
from matchmaker.cli_support import InputError, _, replacing, write_vector

OUTPUT_SUFFIXES = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg"}
COORDINATE_COLUMNS = ("x", "y", "lon", "lat")
SUMMARY_COLUMNS = [
    "bundle_id", "n_sites", "n_organisations", "total_quantity", "centroid_x", "centroid_y",
    "span_m",
]


def run(
    input_path: Path,
    max_gap_m: float,
    product: str | None,
    areas_path: Path | None,
    area_name_column: str,
    output_path: Path,
    summary_path: Path | None,
) -> None:
    """Bundle the demand in INPUT by location and write it to --output."""
    out_kind = _output_kind(output_path)
    summary_kind = _output_kind(summary_path) if summary_path is not None else None
    try:
        if not (np.isfinite(max_gap_m) and max_gap_m > 0):
            raise ParameterError(
                N_("%(name)s must be a positive number of metres, not %(value)s."),
                name="--max-gap-m", value=max_gap_m,
            )
        points = read_points(input_path, required=("id", "quantity"), numeric=("quantity",))
        sep, decimal = (";", ",") if points.attrs.get("decimal_comma") else (",", ".")
        keep = _product_rows(points, product, input_path.name)
        points = points[keep] if keep is not None else points
        bundles = bundle_by_distance(points, max_gap_m=max_gap_m)
        area = None
        if areas_path is not None:
            areas = _read_areas(areas_path, area_name_column)
            area = bundle_by_area(points, areas, name_column=area_name_column)
        summary = None
        if summary_path is not None:
            organisation = "organisation_id" if "organisation_id" in points.columns else None
            summary = summarize_bundles(
                points, bundles, quantity="quantity", organisation=organisation
            )
    except GeoError as err:
        raise InputError.from_geo(err) from err

    rows = _output_rows(
        points, bundles, area, kind=out_kind, input_path=input_path, keep=keep
    )
    # Both files are written beside their targets and moved into place only when both are
    # complete, so a failure leaves the previous files as they were.
    with ExitStack() as stack:
        tmp = stack.enter_context(replacing(output_path))
        _write_rows(rows, points, out_kind, tmp, output_path.name, sep, decimal)
        if summary is not None and summary_path is not None and summary_kind is not None:
            tmp = stack.enter_context(replacing(summary_path))
            _write_summary(summary, summary_kind, tmp, summary_path.name, sep, decimal)

    sizes = np.bincount(bundles.to_numpy()) if len(bundles) else np.zeros(1, dtype=np.int64)
    click.echo(
        _(
            "%(rows)s rows, %(bundles)s bundles, largest bundle %(largest)s sites.",
            rows=len(points), bundles=int(np.count_nonzero(sizes)), largest=int(sizes.max()),
        )
    )


# --------------------------------------------------------------------------------------------
# reading


def _output_kind(path: Path) -> str:
    kind = OUTPUT_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            _(
                "%(file)s: unsupported output type %(suffix)s; use .csv, .geojson or .gpkg.",
                file=path.name, suffix=path.suffix or "(none)",
            )
        )
    return kind


def _product_rows(points: gpd.GeoDataFrame, product: str | None, name: str) -> np.ndarray | None:
    if product is None:
        return None
    if "product" not in points.columns:
        raise InputError(
            _("%(file)s has no product column, so --product cannot select rows.", file=name)
        )
    codes = points["product"].astype("string").str.strip()
    return (codes == product.strip()).fillna(False).to_numpy(dtype=bool)


def _read_areas(path: Path, name_column: str) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputError(_("%(file)s does not exist.", file=path.name))
    file_kind(path)  # refuses CSV and unknown suffixes with the shared message
    areas = to_rd(read_vector(path))
    if name_column not in areas.columns:
        raise InputError(
            _("%(file)s: missing column(s) %(columns)s.", file=path.name, columns=name_column)
        )
    return areas


# --------------------------------------------------------------------------------------------
# writing


def _output_rows(
    points: gpd.GeoDataFrame,
    bundles: pd.Series,
    area: pd.Series | None,
    *,
    kind: str,
    input_path: Path,
    keep: np.ndarray | None,
) -> pd.DataFrame:
    """The input rows' columns plus ``bundle_id`` (and ``area``), shaped for ``kind``.

    CSV output of CSV input repeats the coordinate and quantity columns as they were typed;
    CSV output of vector input adds RD New ``x``, ``y``. Vector output carries the location as
    its geometry and the quantity as a number.
    """
    rows = pd.DataFrame(points.drop(columns=points.geometry.name))
    if kind == "csv" and file_kind(input_path) == "csv":
        header = list(read_csv_text(input_path, nrows=0).columns)
        wanted = {c for c in (*COORDINATE_COLUMNS, "quantity") if c in header}
        raw = read_csv_text(input_path, usecols=lambda c: str(c).strip().lower() in wanted)
        if keep is not None:
            raw = raw[keep]
        raw.index = rows.index
        for column in raw.columns:
            rows[column] = raw[column]
        rows = pd.DataFrame(rows[[c for c in header if c in rows.columns]])
    elif kind == "csv":
        coords = shapely.get_coordinates(np.asarray(points.geometry.array))
        rows["x"] = coords[:, 0]
        rows["y"] = coords[:, 1]
    rows["bundle_id"] = bundles.to_numpy()
    if area is not None:
        rows["area"] = area.to_numpy()
    return rows


def _write_rows(
    rows: pd.DataFrame, points: gpd.GeoDataFrame, kind: str, path: Path, name: str,
    sep: str, decimal: str,
) -> None:
    if kind == "csv":
        _write_csv(rows, path, name, sep, decimal)
    else:
        frame = gpd.GeoDataFrame(rows, geometry=points.geometry.to_numpy(), crs=RD_NEW)
        write_vector(frame, kind, path, name)


def _write_summary(
    summary: gpd.GeoDataFrame, kind: str, path: Path, name: str, sep: str, decimal: str
) -> None:
    table = summary.reset_index(names="bundle_id")
    if kind == "csv":
        table = pd.DataFrame(table[SUMMARY_COLUMNS])
        table["hull_wkt"] = shapely.to_wkt(
            np.asarray(summary.geometry.array), rounding_precision=3
        )
        _write_csv(table, path, name, sep, decimal)
    else:
        write_vector(gpd.GeoDataFrame(table, geometry="geometry", crs=RD_NEW), kind, path, name)


def _write_csv(frame: pd.DataFrame, path: Path, name: str, sep: str, decimal: str) -> None:
    try:
        frame.to_csv(path, sep=sep, decimal=decimal, index=False, encoding="utf-8")
    except OSError as exc:
        raise InputError(
            _("%(file)s cannot be written: %(reason)s", file=name, reason=exc.strerror)
        ) from exc


