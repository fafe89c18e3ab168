"""Reading point tables from CSV, GeoJSON, GeoPackage and (Geo)Parquet into RD New.

The command-line tools (``matchmaker bundle``, ``match``, ``heat``) share these readers so that
one kind of bad file gives one kind of message everywhere.

:func:`read_point_table` returns a :class:`PointTable`: the columns as stored (a CSV's as the
text typed), RD New coordinates and the parsed numbers, without a shapely object per row, so
that a command which only needs coordinates (bundling a million sites) never builds them;
:func:`read_points` gives the GeoDataFrame the geo functions take. CSV and Parquet are read with
Apache Arrow (:mod:`geo.columnar`), GeoJSON and GeoPackage with pyogrio.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geo.columnar import (
    BoolArray,
    FloatArray,
    csv_header,
    geo_metadata,
    parse_numbers,
    point_xy,
    read_csv_table,
)
from geo.crs import RD_NEW, WGS84, in_netherlands, to_rd, wgs84_to_rd, xy_to_rd
from geo.errors import (
    N_,
    ColumnError,
    CoordinateError,
    CRSError,
    FileFormatError,
    GeoError,
    format_labels,
)

CSV_SUFFIXES = {".csv", ".txt"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg"}
PARQUET_SUFFIXES = {".parquet", ".geoparquet"}
#: Where a table without geometry keeps its location.
LOCATION_COLUMNS = (("x", "y"), ("lon", "lat"))


def file_kind(path: str | Path) -> str:
    """``"csv"``, ``"vector"`` (GeoJSON, GeoPackage) or ``"parquet"`` by file name; refuse
    anything else.

    >>> file_kind("sites.CSV"), file_kind("parks.gpkg"), file_kind("sites.parquet")
    ('csv', 'vector', 'parquet')
    """
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise FileFormatError(
        N_("%(file)s: unsupported file type %(suffix)s; use CSV, GeoJSON, GeoPackage or "
           "GeoParquet."),
        file=Path(path).name,
        suffix=suffix or "(none)",
    )


def sniff_delimiter(path: str | Path) -> str:
    """``;`` when the header line has more semicolons than commas (Dutch spreadsheets), else ``,``."""
    return csv_header(path)[1]


def read_csv_bytes(data: bytes, *, name: str, max_columns: int, max_rows: int,
                   max_line_chars: int) -> pd.DataFrame:
    """An uploaded CSV (bytes) as text columns with lower-case headers, like
    :func:`read_csv_text`, refused *before* parsing when it is larger than a file of its kind
    can be: more columns, data rows or characters on a line than the limits.

    >>> frame = read_csv_bytes(b"timestamp;kwh\\n2025-01-01 00:00;0,8\\n", name="m.csv",
    ...                        max_columns=5, max_rows=10, max_line_chars=100)
    >>> list(frame.columns), frame.attrs["decimal_comma"]
    (['timestamp', 'kwh'], True)
    >>> read_csv_bytes(b"a;" * 50 + b"b\\n", name="m.csv", max_columns=5, max_rows=10,
    ...                max_line_chars=1000)
    Traceback (most recent call last):
    geo.errors.FileFormatError: m.csv has 51 columns; a file of this kind has at most 5.
    """
    for option, value in (("max_columns", max_columns), ("max_rows", max_rows),
                          ("max_line_chars", max_line_chars)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{option} must be a positive whole number")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(N_("%(file)s is not a UTF-8 text file."), file=name) from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise FileFormatError(N_("%(file)s is empty."), file=name)
    longest = max(range(len(lines)), key=lambda i: len(lines[i]))
    if len(lines[longest]) > max_line_chars:
        raise FileFormatError(
            N_("%(file)s: line %(line)s is longer than %(max)s characters."),
            file=name, line=longest + 1, max=max_line_chars)
    header = lines[0]
    sep = ";" if header.count(";") > header.count(",") else ","
    columns = header.count(sep) + 1
    if columns > max_columns:
        raise FileFormatError(
            N_("%(file)s has %(count)s columns; a file of this kind has at most %(max)s."),
            file=name, count=columns, max=max_columns)
    rows = sum(1 for line in lines[1:] if line.strip())
    if rows > max_rows:
        raise FileFormatError(
            N_("%(file)s has %(count)s rows; a file of this kind has at most %(max)s."),
            file=name, count=rows, max=max_rows)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            na_values=[""], skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise FileFormatError(N_("%(file)s is empty."), file=name) from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise FileFormatError(
            N_("%(file)s is not a readable CSV file: %(reason)s"),
            file=name, reason=str(exc).splitlines()[0],
        ) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame.attrs["decimal_comma"] = sep == ";"
    return frame


def read_csv_text(path: str | Path) -> pd.DataFrame:
    """Read a CSV as text columns (ids keep their leading zeros), with lower-case headers."""
    text = read_csv_table(path)
    frame = text.table.to_pandas()
    frame.attrs["decimal_comma"] = text.decimal_comma
    return frame


class PointTable:
    """Points as read from a file, before any shapely geometry is built.

    ``columns`` holds the file's columns (lower-case names) as stored: a CSV's as the text
    typed, its coordinate columns (``location``) included; a vector file's attributes without
    the geometry. ``x`` and ``y`` are RD New; ``numbers`` holds the parsed numeric columns and
    ``ids`` the trimmed ids. Row order is the file's.
    """

    def __init__(
        self, *, name: str, kind: str, columns: pa.Table, x: FloatArray, y: FloatArray,
        location: tuple[str, ...] = (), numbers: dict[str, FloatArray] | None = None,
        id_column: str | None = None, ids: pa.ChunkedArray | None = None,
        decimal_comma: bool = False,
    ) -> None:
        self.name, self.kind, self.columns = name, kind, columns
        self.x, self.y, self.location = x, y, location
        self.numbers = numbers or {}
        self.id_column, self.ids = id_column, ids
        self.decimal_comma = decimal_comma

    def __len__(self) -> int:
        return len(self.x)

    @property
    def column_names(self) -> list[str]:
        return [c for c in self.columns.column_names if c not in self.location]

    def take(self, mask: BoolArray) -> PointTable:
        """The rows where ``mask`` is true."""
        keep = pa.array(mask)
        return PointTable(
            name=self.name, kind=self.kind, columns=self.columns.filter(keep), x=self.x[mask],
            y=self.y[mask], location=self.location,
            numbers={k: v[mask] for k, v in self.numbers.items()}, id_column=self.id_column,
            ids=self.ids.filter(keep) if self.ids is not None else None,
            decimal_comma=self.decimal_comma,
        )

    def equals(self, column: str, value: str) -> BoolArray:
        """Rows whose ``column`` is ``value`` as text, surrounding spaces ignored."""
        text = pc.utf8_trim_whitespace(pc.cast(self.columns[column], pa.string()))
        found = pc.fill_null(pc.equal(text, value.strip()), False)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)

    def attributes(self) -> pa.Table:
        """The attributes as parsed: numeric columns as floats, ids and other text trimmed (a
        CSV's coordinate columns left out; they are ``x``, ``y``)."""
        table = self.columns.drop_columns(list(self.location))
        parsed: dict[str, Any] = {}
        for column, values in zip(table.column_names, table.columns, strict=True):
            if column in self.numbers:
                parsed[column] = pa.array(self.numbers[column], type=pa.float64())
            elif column == self.id_column and self.ids is not None:
                parsed[column] = self.ids
            elif self.kind == "csv":
                parsed[column] = pc.utf8_trim_whitespace(values)
            else:
                parsed[column] = values
        return pa.table(parsed)

    def frame(self) -> pd.DataFrame:
        """:meth:`attributes` as a DataFrame with a fresh RangeIndex."""
        return self.attributes().to_pandas()

    def geoframe(self) -> gpd.GeoDataFrame:
        """What the geo functions take: :meth:`frame` with the points as geometry (RD New)."""
        points = gpd.GeoDataFrame(
            self.frame(), geometry=gpd.points_from_xy(self.x, self.y), crs=RD_NEW
        )
        points.attrs["decimal_comma"] = self.decimal_comma
        return points


def read_point_table(
    path: str | Path,
    *,
    required: Sequence[str] = ("id",),
    numeric: Sequence[str] = (),
    id_column: str | None = "id",
    layer: str | None = None,
    assume_crs: str | None = None,
) -> PointTable:
    """Read points from CSV (``x,y`` in RD New or ``lon,lat`` in WGS84), GeoJSON, GeoPackage,
    GeoParquet (points in any CRS) or plain Parquet (columns like the CSV).

    Every problem raises a :class:`geo.errors.GeoError` naming the file and the lines concerned:
    CSV lines count the header as line 1, features and Parquet rows count from 1.
    """
    name = Path(path).name
    if not Path(path).exists():
        raise FileFormatError(N_("%(file)s does not exist."), file=name)
    kind = file_kind(path)
    offset = 2 if kind == "csv" else 1
    if kind == "csv":
        text = read_csv_table(path)
        table = _located(text.table, name, kind=kind, decimal_comma=text.decimal_comma,
                         offset=offset)
    elif kind == "parquet":
        table = _parquet_points(path, name, assume_crs=assume_crs)
    else:
        table = _from_frame(_vector_points(read_vector(path, layer=layer), name,
                                           assume_crs=assume_crs), name, kind)
    present = set(table.column_names)
    missing = [c for c in required if c not in present]
    if missing:
        raise ColumnError(
            N_("%(file)s: missing column(s) %(columns)s."), file=name, columns=", ".join(missing)
        )
    for column in numeric:
        if column in present:
            table.numbers[column] = _column_numbers(table.columns[column], column, name,
                                                    decimal_comma=table.decimal_comma,
                                                    offset=offset)
    if id_column is not None and id_column in present:
        table.id_column, table.ids = id_column, _checked_ids(
            table.columns[id_column], id_column, name, offset=offset)
    return table


def read_points(
    path: str | Path,
    *,
    required: Sequence[str] = ("id",),
    numeric: Sequence[str] = (),
    id_column: str | None = "id",
    layer: str | None = None,
    assume_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """:func:`read_point_table` as a GeoDataFrame in RD New with a fresh RangeIndex (row order
    kept), lower-case column names, ``id_column`` as text (leading zeros kept) and ``numeric``
    columns as floats."""
    return read_point_table(path, required=required, numeric=numeric, id_column=id_column,
                            layer=layer, assume_crs=assume_crs).geoframe()


def _column_numbers(values: pa.ChunkedArray, column: str, name: str, *, decimal_comma: bool,
                    offset: int) -> FloatArray:
    numbers, bad = parse_numbers(values, decimal_comma=decimal_comma)
    if bad.any():
        raise ColumnError(
            N_("%(file)s: column %(column)s is not a number on line(s) %(lines)s."),
            file=name, column=column, lines=_lines(np.flatnonzero(bad), offset=offset),
        )
    return numbers


def _checked_ids(values: pa.ChunkedArray, column: str, name: str, *,
                 offset: int) -> pa.ChunkedArray:
    ids = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    empty = np.asarray(pc.fill_null(pc.equal(ids, ""), True).to_numpy(zero_copy_only=False),
                       dtype=bool)
    if empty.any():
        raise ColumnError(
            N_("%(file)s: empty %(column)s on line(s) %(lines)s."),
            file=name, column=column, lines=_lines(np.flatnonzero(empty), offset=offset),
        )
    if len(pc.unique(ids)) < len(ids):  # only a file with duplicates looks for them
        dup = pd.Series(ids.to_pylist()).duplicated(keep="first").to_numpy()
        raise ColumnError(
            N_("%(file)s: duplicate %(column)s on line(s) %(lines)s."),
            file=name, column=column, lines=_lines(np.flatnonzero(dup), offset=offset),
        )
    return ids


def _located(table: pa.Table, name: str, *, kind: str, decimal_comma: bool,
             offset: int) -> PointTable:
    """A table that keeps its location in columns (CSV, plain Parquet)."""
    names = set(table.column_names)
    for location in LOCATION_COLUMNS:
        if set(location) <= names:
            break
    else:
        raise ColumnError(
            N_("%(file)s: needs columns x,y (RD New, EPSG:28992) or lon,lat (WGS84)."), file=name
        )
    a, b = (_column_numbers(table[c], c, name, decimal_comma=decimal_comma, offset=offset)
            for c in location)
    if location == ("x", "y"):
        x, y, source = a, b, RD_NEW
    else:
        x, y = wgs84_to_rd(a, b)
        source = WGS84
    _check_inside(x, y, name, source, offset=offset)
    return PointTable(name=name, kind=kind, columns=table, x=x, y=y, location=location,
                      decimal_comma=decimal_comma)


def _parquet_points(path: str | Path, name: str, *, assume_crs: str | None) -> PointTable:
    """GeoParquet points (decoded from WKB without shapely when they are plain 2D points), or a
    plain Parquet table with location columns."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileFormatError(N_("%(file)s cannot be read as (Geo)Parquet: %(reason)s"),
                              file=name, reason=str(exc).splitlines()[0]) from exc
    geo = geo_metadata(table.schema)  # read before renaming, which drops the metadata
    table = table.rename_columns([c.strip().lower() for c in table.column_names])
    if geo is None:
        return _located(table, name, kind="parquet", decimal_comma=False, offset=1)
    column = str(geo["primary_column"]).strip().lower()
    meta: dict[str, Any] = geo.get("columns", {}).get(geo["primary_column"], {})
    xy = (point_xy(table[column]) if column in table.column_names
          and str(meta.get("encoding", "WKB")).upper() == "WKB" else None)
    if xy is None:  # not plain points: geopandas decodes them, the vector checks say what is wrong
        return _from_frame(_vector_points(read_vector(path), name, assume_crs=assume_crs), name,
                           "parquet")
    # GeoParquet: no "crs" key means OGC:CRS84; an explicit null means unknown.
    crs = meta.get("crs", "OGC:CRS84")
    if crs is None:
        if assume_crs is None:
            raise CRSError(N_("%(file)s has no coordinate reference system; state it (for "
                              "example EPSG:28992)."), file=name)
        crs = assume_crs
    x, y = xy_to_rd(*xy, crs)
    _check_inside(x, y, name, RD_NEW, offset=1)
    return PointTable(name=name, kind="parquet", columns=table.drop_columns([column]), x=x, y=y)


def _from_frame(frame: gpd.GeoDataFrame, name: str, kind: str) -> PointTable:
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    try:
        columns = pa.Table.from_pandas(attributes, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a column of mixed types: keep it as text
        mixed = [c for c in attributes.columns if attributes[c].dtype == object]
        columns = pa.Table.from_pandas(attributes.astype({c: "str" for c in mixed}),
                                       preserve_index=False)
    geoms = frame.geometry
    return PointTable(name=name, kind=kind, columns=columns, x=geoms.x.to_numpy(dtype=float),
                      y=geoms.y.to_numpy(dtype=float))


def _vector_points(frame: gpd.GeoDataFrame, name: str, *,
                   assume_crs: str | None) -> gpd.GeoDataFrame:
    try:
        frame = to_rd(frame, assume_crs=assume_crs)
    except CRSError as exc:
        raise CRSError(
            N_("%(file)s has no coordinate reference system; state it (for example "
               "EPSG:28992)."), file=name,
        ) from exc
    frame = frame.rename(columns={c: c.strip().lower() for c in frame.columns if c != "geometry"})
    frame = frame.reset_index(drop=True)
    geoms = frame.geometry
    bad_type = (geoms.isna() | geoms.is_empty | (geoms.geom_type != "Point")).to_numpy()
    if bad_type.any():
        raise CoordinateError(
            N_("%(file)s: feature(s) %(features)s are not points."),
            file=name, features=_lines(np.flatnonzero(bad_type), offset=1),
        )
    _check_inside(geoms.x.to_numpy(), geoms.y.to_numpy(), name, RD_NEW, offset=1)
    return frame


def read_vector(path: str | Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoJSON or GeoPackage layer or a GeoParquet file; a broken file raises
    :class:`FileFormatError`."""
    import pyogrio  # GDAL: only for the files that need it

    name = Path(path).name
    if Path(path).suffix.lower() in PARQUET_SUFFIXES:
        try:
            return gpd.read_parquet(path)
        except (pa.ArrowInvalid, OSError, ValueError, TypeError) as exc:
            raise FileFormatError(
                N_("%(file)s cannot be read as GeoParquet: %(reason)s"),
                file=name, reason=str(exc).splitlines()[0],
            ) from exc
    with reading_vector(path):
        frame = pyogrio.read_dataframe(path, layer=layer)
    if not isinstance(frame, gpd.GeoDataFrame):  # a table without geometry (a CSV, say)
        raise FileFormatError(N_("%(file)s has no geometry; give GeoJSON or a GeoPackage."),
                              file=name)
    return frame


@contextmanager
def reading_vector(path: str | Path) -> Iterator[None]:
    """Around a GDAL (pyogrio) read: any error of a broken file becomes one
    :class:`FileFormatError` naming the file, and GDAL's warnings about it are not printed
    (the error says what is wrong)."""
    import pyogrio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            yield
    except GeoError:
        raise
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.GeometryError, pyogrio.errors.CRSError,
            UnicodeDecodeError, ValueError, OSError) as exc:
        raise FileFormatError(
            N_("%(file)s cannot be read as GeoJSON or GeoPackage: %(reason)s"),
            file=Path(path).name, reason=(str(exc).splitlines() or [type(exc).__name__])[0],
        ) from exc


def _check_inside(
    x: np.ndarray, y: np.ndarray, name: str, source: str, *, offset: int = 2
) -> None:
    nonfinite = ~(np.isfinite(x) & np.isfinite(y))
    if nonfinite.any():
        raise CoordinateError(
            N_("%(file)s: missing, NaN or infinite coordinates on line(s) %(lines)s."),
            file=name, lines=_lines(np.flatnonzero(nonfinite), offset=offset),
        )
    outside = ~in_netherlands(x, y)
    if outside.any():
        lines = _lines(np.flatnonzero(outside), offset=offset)
        if source == RD_NEW and np.nanmax(np.abs(np.r_[x, y])) <= 180:
            raise CoordinateError(
                N_("%(file)s: coordinates outside the Netherlands on line(s) %(lines)s; are these "
                   "longitude/latitude? Then name the columns lon,lat."),
                file=name, lines=lines,
            )
        raise CoordinateError(
            N_("%(file)s: coordinates outside the Netherlands on line(s) %(lines)s; check the "
               "coordinate reference system."),
            file=name, lines=lines,
        )


def _lines(positions: Sequence[int] | np.ndarray, *, offset: int = 2, limit: int = 5) -> str:
    """Human line numbers: CSV data row 0 is line 2 (after the header); features count from 1."""
    return format_labels([int(i) + offset for i in list(positions)[: limit + 1]], limit)
