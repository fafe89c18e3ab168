"""The work behind ``matchmaker bundle`` (its command line is in cli.py): bundle demand by location from a file, without the web app.

Reads sites (CSV with ``id,x,y`` in RD New or ``id,lon,lat``, GeoJSON, GeoPackage or
GeoParquet) with a ``quantity``, groups them with :func:`geo.bundling.bundle_coordinates` (and,
with ``--areas``, names the area each lies in), and writes every input row back with its
``bundle_id``; optionally one summary row per bundle. The output format follows the file
suffix: ``.csv``, ``.geojson`` (WGS84, RFC 7946), ``.gpkg`` or ``.parquet`` (GeoParquet; both
RD New). A CSV repeats the input's columns as typed (vector input gets RD New ``x``, ``y``);
GeoJSON, GeoPackage and GeoParquet carry the location as geometry. A semicolon CSV with decimal
commas is answered in kind. Files are written completely or not at all.

CSV in, CSV out (the common case, and a million sites) never builds a shapely point: the file
is read with Arrow as text, bundled on its coordinates and written back with Arrow.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import click
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import shapely

from geo.bundling import bundle_by_area, bundle_coordinates, summarize_bundles
from geo.columnar import write_csv, write_point_parquet
from geo.crs import RD_NEW, to_rd
from geo.errors import N_, GeoError, ParameterError
from geo.io import PointTable, file_kind, read_point_table, read_vector
from matchmaker.cli_support import InputError, _, replacing, write_vector

OUTPUT_SUFFIXES = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg",
                   ".parquet": "parquet", ".geoparquet": "parquet"}
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
        table = read_point_table(input_path, required=("id", "quantity"), numeric=("quantity",))
        keep = _product_rows(table, product, input_path.name)
        if keep is not None:
            table = table.take(keep)
        labels = bundle_coordinates(table.x, table.y, max_gap_m=max_gap_m)
        points = None  # shapely points only for what needs geometry
        area = None
        if areas_path is not None:
            areas = _read_areas(areas_path, area_name_column)
            points = table.geoframe()
            area = bundle_by_area(points, areas, name_column=area_name_column)
        summary = None
        if summary_path is not None:
            points = points if points is not None else table.geoframe()
            organisation = "organisation_id" if "organisation_id" in points.columns else None
            summary = summarize_bundles(
                points, pd.Series(labels, index=points.index, name="bundle_id"),
                quantity="quantity", organisation=organisation,
            )
    except GeoError as err:
        raise InputError.from_geo(err) from err

    sep, decimal = (";", ",") if table.decimal_comma else (",", ".")
    # Both files are written beside their targets and moved into place only when both are
    # complete, so a failure leaves the previous files as they were.
    with ExitStack() as stack:
        tmp = stack.enter_context(replacing(output_path))
        _write_rows(table, labels, area, out_kind, tmp, output_path.name, sep, decimal)
        if summary is not None and summary_path is not None and summary_kind is not None:
            tmp = stack.enter_context(replacing(summary_path))
            _write_summary(summary, summary_kind, tmp, summary_path.name, sep, decimal)

    sizes = np.bincount(labels) if len(labels) else np.zeros(1, dtype=np.int64)
    click.echo(
        _(
            "%(rows)s rows, %(bundles)s bundles, largest bundle %(largest)s sites.",
            rows=len(table), bundles=int(np.count_nonzero(sizes)), largest=int(sizes.max()),
        )
    )


# --------------------------------------------------------------------------------------------
# reading


def _output_kind(path: Path) -> str:
    kind = OUTPUT_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            _(
                "%(file)s: unsupported output type %(suffix)s; use .csv, .geojson, .gpkg or "
                ".parquet.", file=path.name, suffix=path.suffix or "(none)",
            )
        )
    return kind


def _product_rows(table: PointTable, product: str | None, name: str) -> np.ndarray | None:
    if product is None:
        return None
    if "product" not in table.column_names:
        raise InputError(
            _("%(file)s has no product column, so --product cannot select rows.", file=name)
        )
    return table.equals("product", product)


def _read_areas(path: Path, name_column: str) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputError(_("%(file)s does not exist.", file=path.name))
    file_kind(path)  # refuses unknown suffixes with the shared message
    areas = to_rd(read_vector(path))
    if name_column not in areas.columns:
        raise InputError(
            _("%(file)s: missing column(s) %(columns)s.", file=path.name, columns=name_column)
        )
    return areas


# --------------------------------------------------------------------------------------------
# writing


def _write_rows(
    table: PointTable, labels: npt.NDArray[np.int64], area: pd.Series | None, kind: str,
    path: Path, name: str, sep: str, decimal: str,
) -> None:
    """Every input row with ``bundle_id`` (and ``area``), shaped for ``kind``.

    CSV output repeats the columns as they were stored (a CSV's text as typed, coordinates
    included); vector input gets RD New ``x``, ``y``. The other kinds carry the location as
    geometry and the parsed numbers.
    """
    added = {"bundle_id": pa.array(labels, type=pa.int64())}
    if area is not None:
        added["area"] = pa.array(area.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    if kind == "csv":
        columns = table.columns
        if not table.location:
            columns = _with(columns, {"x": pa.array(table.x), "y": pa.array(table.y)})
        _write(lambda: write_csv(_with(columns, added), path, delimiter=sep, decimal=decimal),
               name)
    elif kind == "parquet":
        _write(lambda: write_point_parquet(_with(table.attributes(), added), table.x, table.y,
                                           path, crs=RD_NEW), name)
    else:
        rows = _with(table.attributes(), added).to_pandas()
        frame = gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(table.x, table.y), crs=RD_NEW)
        write_vector(frame, kind, path, name)


def _with(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    for column, values in columns.items():
        if column in table.column_names:
            table = table.drop_columns([column])
        table = table.append_column(column, values)
    return table


def _write_summary(
    summary: gpd.GeoDataFrame, kind: str, path: Path, name: str, sep: str, decimal: str
) -> None:
    table = summary.reset_index(names="bundle_id")
    if kind == "csv":
        table = pd.DataFrame(table[SUMMARY_COLUMNS])
        table["hull_wkt"] = shapely.to_wkt(
            np.asarray(summary.geometry.array), rounding_precision=3
        )
        _write(lambda: write_csv(table, path, delimiter=sep, decimal=decimal), name)
    else:
        write_vector(gpd.GeoDataFrame(table, geometry="geometry", crs=RD_NEW), kind, path, name)


def _write(write: Callable[[], None], name: str) -> None:
    try:
        write()
    except OSError as exc:
        raise InputError(
            _("%(file)s cannot be written: %(reason)s", file=name, reason=exc.strerror)
        ) from exc
