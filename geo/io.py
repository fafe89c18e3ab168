"""Reading point tables from CSV, GeoJSON and GeoPackage into RD New GeoDataFrames.

The command-line tools (``matchmaker bundle``, ``match``, ``heat``) share these readers so that
one kind of bad file gives one kind of message everywhere.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geo.crs import RD_NEW, WGS84, in_netherlands, to_rd, wgs84_to_rd
from geo.errors import N_, ColumnError, CoordinateError, CRSError, FileFormatError, format_labels

CSV_SUFFIXES = {".csv", ".txt"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg"}


def file_kind(path: str | Path) -> str:
    """``"csv"`` or ``"vector"`` by file name; refuse anything else.

    >>> file_kind("sites.CSV"), file_kind("parks.gpkg")
    ('csv', 'vector')
    """
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in VECTOR_SUFFIXES:
        return "vector"
    raise FileFormatError(
        N_("%(file)s: unsupported file type %(suffix)s; use CSV, GeoJSON or GeoPackage."),
        file=Path(path).name,
        suffix=suffix or "(none)",
    )


def sniff_delimiter(path: str | Path) -> str:
    """``;`` when the header line has more semicolons than commas (Dutch spreadsheets), else ``,``."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = fh.readline()
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            N_("%(file)s is not a UTF-8 text file."), file=Path(path).name
        ) from exc
    except OSError as exc:
        raise FileFormatError(
            N_("%(file)s cannot be read: %(reason)s"), file=Path(path).name, reason=exc.strerror
        ) from exc
    return ";" if header.count(";") > header.count(",") else ","


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


def read_csv_text(path: str | Path, **kwargs: object) -> pd.DataFrame:
    """Read a CSV as text columns (ids keep their leading zeros), with lower-case headers."""
    name = Path(path).name
    sep = sniff_delimiter(path)
    try:
        frame = pd.read_csv(
            path, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
            encoding="utf-8-sig", skipinitialspace=True, **kwargs,
        )
    except pd.errors.EmptyDataError as exc:
        raise FileFormatError(N_("%(file)s is empty."), file=name) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise FileFormatError(
            N_("%(file)s is not a readable CSV file: %(reason)s"),
            file=name, reason=str(exc).splitlines()[0],
        ) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame.attrs["decimal_comma"] = sep == ";"
    return frame


def to_numbers(
    frame: pd.DataFrame, column: str, *, file: str = "", decimal_comma: bool | None = None
) -> pd.Series:
    """Parse a text column as floats; raise naming the CSV line numbers of unparsable values."""
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(float)
    comma = decimal_comma if decimal_comma is not None else frame.attrs.get("decimal_comma", False)
    if not comma:
        try:  # the common case, clean numbers: no string work at all
            return pd.to_numeric(raw).astype(float)
        except (ValueError, TypeError):
            pass
    text = raw.astype("string").str.strip()
    if comma:
        text = text.str.replace(",", ".", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype(float)
    bad = values.isna() & text.notna()
    if bad.any():
        raise ColumnError(
            N_("%(file)s: column %(column)s is not a number on line(s) %(lines)s."),
            file=file, column=column, lines=_lines(frame.index[bad.to_numpy()]),
        )
    return values


def read_points(
    path: str | Path,
    *,
    required: Sequence[str] = ("id",),
    numeric: Sequence[str] = (),
    id_column: str | None = "id",
    layer: str | None = None,
    assume_crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Read points from CSV (``x,y`` in RD New or ``lon,lat`` in WGS84), GeoJSON or GeoPackage.

    Returns a GeoDataFrame in RD New with a fresh RangeIndex (row order kept), lower-case
    column names, ``id_column`` as text (leading zeros kept) and ``numeric`` columns as floats.
    Every problem raises a :class:`geo.errors.GeoError` naming the file and the lines concerned.
    """
    name = Path(path).name
    if not Path(path).exists():
        raise FileFormatError(N_("%(file)s does not exist."), file=name)
    if file_kind(path) == "csv":
        frame = read_csv_text(path)
        points = _csv_points(frame, name)
    else:
        points = _vector_points(path, name, layer=layer, assume_crs=assume_crs)
    missing = [c for c in required if c not in points.columns]
    if missing:
        raise ColumnError(
            N_("%(file)s: missing column(s) %(columns)s."), file=name, columns=", ".join(missing)
        )
    for column in numeric:
        if column in points.columns:
            points[column] = to_numbers(points, column, file=name)
    if id_column is not None and id_column in points.columns:
        ids = points[id_column]
        if ids.isna().any():
            raise ColumnError(
                N_("%(file)s: empty %(column)s on line(s) %(lines)s."),
                file=name, column=id_column, lines=_lines(points.index[ids.isna().to_numpy()]),
            )
        points[id_column] = ids.astype(str).str.strip()
        dup = points[id_column].duplicated(keep="first")
        if dup.any():
            raise ColumnError(
                N_("%(file)s: duplicate %(column)s on line(s) %(lines)s."),
                file=name, column=id_column, lines=_lines(points.index[dup.to_numpy()]),
            )
    return points


def _csv_points(frame: pd.DataFrame, name: str) -> gpd.GeoDataFrame:
    if {"x", "y"} <= set(frame.columns):
        x = to_numbers(frame, "x", file=name)
        y = to_numbers(frame, "y", file=name)
        source = RD_NEW
    elif {"lon", "lat"} <= set(frame.columns):
        lon = to_numbers(frame, "lon", file=name)
        lat = to_numbers(frame, "lat", file=name)
        x, y = (pd.Series(a, index=frame.index) for a in wgs84_to_rd(lon, lat))
        source = WGS84
    else:
        raise ColumnError(
            N_("%(file)s: needs columns x,y (RD New, EPSG:28992) or lon,lat (WGS84)."), file=name
        )
    frame = frame.drop(columns=[c for c in ("x", "y", "lon", "lat") if c in frame.columns])
    _check_inside(x.to_numpy(), y.to_numpy(), frame.index, name, source)
    points = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(x.to_numpy(), y.to_numpy()), crs=RD_NEW
    )
    points.attrs["decimal_comma"] = frame.attrs.get("decimal_comma", False)
    return points


def _vector_points(
    path: str | Path, name: str, *, layer: str | None, assume_crs: str | None
) -> gpd.GeoDataFrame:
    frame = read_vector(path, layer=layer)
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
            file=name, features=_lines(frame.index[bad_type], offset=1),
        )
    _check_inside(geoms.x.to_numpy(), geoms.y.to_numpy(), frame.index, name, RD_NEW, offset=1)
    return frame


def read_vector(path: str | Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoJSON or GeoPackage layer; a broken file raises :class:`FileFormatError`."""
    name = Path(path).name
    try:
        return pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise FileFormatError(
            N_("%(file)s cannot be read as GeoJSON or GeoPackage: %(reason)s"),
            file=name, reason=str(exc).splitlines()[0],
        ) from exc
    except (pyogrio.errors.FieldError, pyogrio.errors.GeometryError, pyogrio.errors.CRSError,
            UnicodeDecodeError, ValueError) as exc:
        raise FileFormatError(
            N_("%(file)s cannot be read as GeoJSON or GeoPackage: %(reason)s"),
            file=name, reason=str(exc).splitlines()[0],
        ) from exc


def _check_inside(
    x: np.ndarray, y: np.ndarray, index: pd.Index, name: str, source: str, *, offset: int = 2
) -> None:
    nonfinite = ~(np.isfinite(x) & np.isfinite(y))
    if nonfinite.any():
        raise CoordinateError(
            N_("%(file)s: missing, NaN or infinite coordinates on line(s) %(lines)s."),
            file=name, lines=_lines(index[nonfinite], offset=offset),
        )
    outside = ~in_netherlands(x, y)
    if outside.any():
        lines = _lines(index[outside], offset=offset)
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


def _lines(index: pd.Index | Sequence[int], *, offset: int = 2, limit: int = 5) -> str:
    """Human line numbers: CSV data row 0 is line 2 (after the header); features count from 1."""
    return format_labels([int(i) + offset for i in list(index)[: limit + 1]], limit)
