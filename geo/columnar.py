"""Columnar file I/O with Apache Arrow: CSV read and written in C++, GeoParquet points.

Reading a million-row CSV with pandas' C parser and then stripping strings and parsing numbers in
pandas took seconds; Arrow reads the text multi-threaded and parses numbers in one vectorised
cast. Every column is read as text first, so ids keep their leading zeros and a bad number can
be reported with its line; only a failed cast pays for finding the lines.

GeoParquet point columns are decoded straight from their WKB (21 bytes per point: byte order,
type, x, y) and written the same way, without one shapely object per row (building a million
shapely points alone costs about as much as reading the whole file). Anything that is not a
plain 2D point goes through geopandas' ``read_parquet``/``to_parquet`` instead.

Line numbers: the header is line 1 and data row ``i`` is line ``i + 2``; like pandas, Arrow
skips empty lines, so a blank line in the middle shifts the numbers after it by one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from geo.errors import N_, ColumnError, FileFormatError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Bytes per block read by Arrow; also the granularity of the streamed reader.
BLOCK_BYTES = 1 << 22
#: A little-endian WKB 2D point: byte order 1, geometry type 1, x, y.
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


@dataclass(frozen=True)
class CsvText:
    """A CSV file as text columns (names stripped; lower-cased when asked) and its delimiter."""

    table: pa.Table
    delimiter: str

    @property
    def decimal_comma(self) -> bool:
        """Semicolon files come from Dutch spreadsheets, which write decimal commas."""
        return self.delimiter == ";"


# --------------------------------------------------------------------------------------------
# CSV


def csv_header(path: str | Path) -> tuple[list[str], str]:
    """The column names of the header line (stripped) and the delimiter: ``;`` when the header
    has more semicolons than commas (Dutch spreadsheets), else ``,``."""
    name = Path(path).name
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = fh.readline()
    except UnicodeDecodeError as exc:
        raise FileFormatError(N_("%(file)s is not a UTF-8 text file."), file=name) from exc
    except OSError as exc:
        raise FileFormatError(
            N_("%(file)s cannot be read: %(reason)s"), file=name, reason=exc.strerror
        ) from exc
    delimiter = ";" if header.count(";") > header.count(",") else ","
    names = [c.strip() for c in next(csv.reader([header], delimiter=delimiter), [])]
    if not header.strip() or not any(names):
        raise FileFormatError(N_("%(file)s is empty."), file=name)
    return names, delimiter


def _csv_options(names: Sequence[str], delimiter: str, block_bytes: int) -> dict[str, Any]:
    # Positional names guarantee that every column is read as text, whatever the header says.
    generic = [f"c{i}" for i in range(len(names))]
    return {
        "read_options": pacsv.ReadOptions(column_names=generic, skip_rows=1,
                                          block_size=block_bytes),
        "parse_options": pacsv.ParseOptions(delimiter=delimiter),
        "convert_options": pacsv.ConvertOptions(
            column_types={c: pa.string() for c in generic}, strings_can_be_null=True,
            null_values=[""], quoted_strings_can_be_null=True,
        ),
    }


def _unique_names(names: list[str], path: str | Path) -> list[str]:
    seen: set[str] = set()
    for column in names:
        if column in seen:
            raise ColumnError(N_("%(file)s: column %(column)s appears more than once."),
                              file=Path(path).name, column=column)
        seen.add(column)
    return names


def read_csv_table(path: str | Path, *, lower: bool = True) -> CsvText:
    """Read a whole CSV as text columns; a broken file raises :class:`FileFormatError`."""
    names, delimiter = csv_header(path)
    names = _unique_names([c.lower() for c in names] if lower else names, path)
    try:
        table = pacsv.read_csv(path, **_csv_options(names, delimiter, BLOCK_BYTES))
    except (pa.ArrowInvalid, OSError) as exc:
        raise csv_error(path, exc, delimiter, len(names)) from exc
    return CsvText(table.rename_columns(names), delimiter)


def iter_csv_tables(
    path: str | Path, *, rows: int
) -> tuple[list[str], str, Iterator[pa.Table]]:
    """Stream a CSV as text tables of ``rows`` rows (the last one shorter).

    Returns the stripped column names, the delimiter and the iterator; an error in the file
    raises :class:`FileFormatError` when the iterator reaches it.
    """
    names, delimiter = csv_header(path)
    _unique_names(names, path)

    def chunks() -> Iterator[pa.Table]:
        pending: list[pa.RecordBatch] = []
        count = 0
        try:
            reader = pacsv.open_csv(path, **_csv_options(names, delimiter, BLOCK_BYTES))
            for batch in reader:
                pending.append(batch)
                count += batch.num_rows
                while count >= rows:
                    table = pa.Table.from_batches(pending).combine_chunks()
                    yield table.slice(0, rows).rename_columns(names)
                    rest = table.slice(rows)
                    pending, count = rest.to_batches(), rest.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise csv_error(path, exc, delimiter, len(names)) from exc
        if count:
            yield pa.Table.from_batches(pending).rename_columns(names)

    return names, delimiter, chunks()


def csv_error(path: str | Path, exc: Exception, delimiter: str, fields: int) -> FileFormatError:
    """The message for an Arrow CSV error, with the line of a row of the wrong width."""
    name = Path(path).name
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowInvalid):
        return FileFormatError(N_("%(file)s cannot be read: %(reason)s"), file=name,
                               reason=exc.strerror or reason)
    if "invalid UTF8" in reason:
        return FileFormatError(N_("%(file)s is not a UTF-8 text file."), file=name)
    if "Expected" in reason and "columns" in reason:
        line, found = _ragged_line(path, delimiter, fields)
        if line:
            return FileFormatError(
                N_("%(file)s: line %(line)s has %(found)s fields where the header has "
                   "%(expected)s."), file=name, line=line, found=found, expected=fields)
    return FileFormatError(N_("%(file)s is not a readable CSV file: %(reason)s"), file=name,
                           reason=reason)


def _ragged_line(path: str | Path, delimiter: str, fields: int) -> tuple[int, int]:
    """The first physical line whose row has another number of fields than the header."""
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        for row in reader:
            if row and len(row) != fields:
                return reader.line_num, len(row)
    return 0, 0


def parse_numbers(values: pa.ChunkedArray | pa.Array, *, decimal_comma: bool = False) -> tuple[
    FloatArray, BoolArray
]:
    """Numbers from a text (or numeric) column: the floats (NaN where empty) and a mask of the
    values that are not numbers. Surrounding spaces are ignored; with ``decimal_comma`` a comma
    is the decimal sign (``2,5``).

    >>> parse_numbers(pa.array(["1", " 2.5", None, "x"]))[0].tolist()[:3]
    [1.0, 2.5, nan]
    >>> parse_numbers(pa.array(["2,5", "abc"]), decimal_comma=True)[1].tolist()
    [False, True]
    """
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or (
            pa.types.is_decimal(values.type)):
        floats = pc.cast(values, pa.float64())
        return _to_numpy(floats), np.zeros(len(values), dtype=bool)
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    if decimal_comma:
        text = pc.replace_substring(text, ",", ".")
    try:
        floats = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:  # only a column with a bad value pays for finding it
        series = pd.Series(text.to_pylist(), dtype=object)
        parsed = pd.to_numeric(series, errors="coerce").astype(float)
        bad = (parsed.isna() & series.notna() & (series != "")).to_numpy(dtype=bool)
        return parsed.to_numpy(dtype=float), bad
    return _to_numpy(floats), np.zeros(len(values), dtype=bool)


def _to_numpy(values: pa.ChunkedArray | pa.Array) -> FloatArray:
    return np.asarray(pc.fill_null(values, np.nan).to_numpy(), dtype=np.float64)


def write_csv(table: pa.Table | pd.DataFrame, path: str | Path, *, delimiter: str = ",",
              decimal: str = ".") -> None:
    """Write ``table`` as CSV with Arrow: header and values unquoted, as a spreadsheet or pandas
    writes them, unless some value needs quotes (a delimiter, quote or line break in it); then
    every text value is quoted (RFC 4180). Numbers are written in their shortest exact form,
    with a decimal comma when ``decimal=","``. Raises ``OSError`` when the file cannot be
    written."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if decimal != ".":
        table = pa.table({
            name: (pc.replace_substring(pc.cast(column, pa.string()), ".", decimal)
                   if pa.types.is_floating(column.type) else column)
            for name, column in zip(table.column_names, table.columns, strict=True)
        })
    header = io.StringIO()
    csv.writer(header, delimiter=delimiter, lineterminator="\n").writerow(table.column_names)
    with open(path, "wb") as fh:
        for style in ("none", "needed"):
            fh.seek(0)
            fh.truncate()
            fh.write(header.getvalue().encode("utf-8"))
            try:
                pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(
                    include_header=False, delimiter=delimiter, quoting_style=style))
                return
            except pa.ArrowInvalid:
                if style == "needed":  # pragma: no cover - quoting always succeeds
                    raise


# --------------------------------------------------------------------------------------------
# GeoParquet


def geo_metadata(schema: pa.Schema) -> dict[str, Any] | None:
    """The GeoParquet ``geo`` metadata of a Parquet schema, or None for a plain table."""
    raw = (schema.metadata or {}).get(b"geo")
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        return None
    return meta if isinstance(meta, dict) and "primary_column" in meta else None


def point_xy(wkb: pa.ChunkedArray | pa.Array) -> tuple[FloatArray, FloatArray] | None:
    """x and y of a WKB column in which every value is a little-endian 2D point; None otherwise
    (the caller then decodes with shapely and reports what is not a point).

    >>> xy = point_xy(point_wkb(np.array([1.5]), np.array([2.0])))
    >>> [a.tolist() for a in xy]
    [[1.5], [2.0]]
    """
    if isinstance(wkb, pa.ChunkedArray):
        wkb = wkb.combine_chunks()
    large = pa.types.is_large_binary(wkb.type)
    if wkb.null_count or not (pa.types.is_binary(wkb.type) or large) or len(wkb) == 0:
        return None
    n = len(wkb)
    _validity, offset_buffer, data = wkb.buffers()
    width = np.dtype(np.int64 if large else np.int32)
    offsets = np.frombuffer(offset_buffer, dtype=width, count=n + 1,
                            offset=wkb.offset * width.itemsize)
    if not (np.diff(offsets) == _WKB_POINT.itemsize).all():
        return None
    records = np.frombuffer(data, dtype=_WKB_POINT, count=n, offset=int(offsets[0]))
    if not ((records["order"] == 1) & (records["type"] == 1)).all():
        return None
    return records["x"].astype(np.float64), records["y"].astype(np.float64)


def point_wkb(x: FloatArray, y: FloatArray) -> pa.Array:
    """Little-endian WKB points as an Arrow binary array (no shapely objects)."""
    records = np.empty(len(x), dtype=_WKB_POINT)
    records["order"], records["type"], records["x"], records["y"] = 1, 1, x, y
    offsets = np.arange(len(x) + 1, dtype=np.int32) * _WKB_POINT.itemsize
    return pa.Array.from_buffers(pa.binary(), len(x),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(records.tobytes())])


def write_point_parquet(columns: pa.Table, x: FloatArray, y: FloatArray, path: str | Path, *,
                        crs: str) -> None:
    """Write ``columns`` plus a point ``geometry`` column as GeoParquet 1.0 (WKB, the CRS as
    PROJJSON, the bounding box), the layout geopandas' ``to_parquet`` writes."""
    from pyproj import CRS

    finite = np.isfinite(x) & np.isfinite(y)
    bbox = ([float(x[finite].min()), float(y[finite].min()), float(x[finite].max()),
             float(y[finite].max())] if finite.any() else [])
    meta = {
        "version": "1.0.0", "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"],
                                 "crs": CRS.from_user_input(crs).to_json_dict(), "bbox": bbox}},
    }
    table = columns.append_column("geometry", point_wkb(x, y))
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"geo": json.dumps(meta).encode()})
    pq.write_table(table, path)
