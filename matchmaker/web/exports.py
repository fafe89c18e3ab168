"""File exports shared by the features: Dutch-spreadsheet CSV, RFC 7946 GeoJSON, GeoPackage.

Every CSV file the service hands out — web download, API, the member's data archive — is
written by :func:`csv_lines` (cells by :func:`csv_cell`): no other CSV writer exists, so a new
export is safe to open in a spreadsheet by construction.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from flask import Response, request, stream_with_context
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wsgi import wrap_file

from geo.crs import RD_NEW, WGS84
from matchmaker.campaigns.models import OfferStatus, ParticipationState
from matchmaker.database import set_write_intent
from matchmaker.demand.models import Stage
from matchmaker.members.models import Tenure

#: Text a spreadsheet would run as a formula starts with one of these (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A plain number in the notation of the file ("-12", "3,75"): a number, not a formula.
_PLAIN_NUMBER = re.compile(r"^-?\d+(,\d+)?$")
_DIGITS = re.compile(r"^\d+$")
#: Times in files are Dutch time, as on the pages.
FILE_TIME_ZONE = ZoneInfo("Europe/Amsterdam")

#: Values of stored enums as the user reads them (the files speak the user's language).
VALUE_LABELS: dict[Enum, Any] = {
    Stage.INTEREST: _l("interested"), Stage.COMMITTED: _l("committed"),
    Stage.WITHDRAWN: _l("withdrawn"),
    Tenure.OWNER: _l("owner"), Tenure.TENANT: _l("tenant"),
    ParticipationState.REGISTERED: _l("registered"),
    ParticipationState.WITHDRAWN: _l("withdrawn"),
    OfferStatus.PENDING: _l("awaiting decision"), OfferStatus.ACCEPTED: _l("accepted"),
    OfferStatus.DECLINED: _l("declined"), OfferStatus.LAPSED: _l("lapsed"),
}


@dataclass(frozen=True)
class Id:
    """An identifier written as text: a BAG id or KvK number keeps its leading zeros (and a
    16-digit id its last digits) when Excel or LibreOffice open the file."""

    value: str | None


def nl_number(value: Any, places: int | None = None) -> str:
    """A number for a Dutch spreadsheet: decimal comma, no thousands separator; a float is
    rounded to ``places`` decimals when given. NaN and infinity are left empty."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, float) and places is not None:
        value = Decimal(str(round(value, places)))
    if isinstance(value, Decimal):
        if not value.is_finite():
            return ""
        text = format(value.normalize(), "f")
    elif isinstance(value, float):
        text = f"{value:.6g}" if abs(value) < 1e6 else f"{value:.2f}"
    else:
        text = str(value)
    return text.replace(".", ",")


def neutralise(text: str) -> str:
    """Text that a spreadsheet would run as a formula, made inert with a leading single quote
    (OWASP's CSV-injection guidance); plain numbers and every other text stay as they are."""
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_cell(value: Any) -> str:
    """One value as a spreadsheet cell; the only place a value becomes CSV text.

    Numbers keep being numbers (decimal comma); ids stay text with their leading zeros
    (``="0106..."``, the form Excel and LibreOffice keep as text on opening — digits only, so
    it can never carry anything else); moments are Dutch time; enums and yes/no are in the
    user's language; every other text is neutralised against formulas.
    """
    if isinstance(value, np.generic):  # numpy scalars from frames: their Python value
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, Id):
        text = "" if value.value is None else str(value.value)
        return f'="{text}"' if _DIGITS.match(text) else neutralise(text)
    if isinstance(value, bool):
        return str(_l("yes") if value else _l("no"))
    if isinstance(value, Enum):
        return neutralise(str(VALUE_LABELS.get(value, value.value)))
    if isinstance(value, int | float | Decimal):
        return nl_number(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(FILE_TIME_ZONE).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


_NEEDS_QUOTES = re.compile(r'[;"\r\n]')


def _field(cell: Any) -> str:
    """One cell as a field of the file: quoted as RFC 4180 wants when it holds the separator,
    a quote or a line break; an id cell (``="0106..."``) is written bare, the form spreadsheets
    read as text (digits only, so it never needs quotes)."""
    text = csv_cell(cell)
    if isinstance(cell, Id) and text.startswith('="'):
        return text
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES.search(text) else text


def csv_lines(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The file line by line (BOM first): semicolons, CRLF, every cell through
    :func:`csv_cell`. Rows may be a generator: nothing is held beyond one line."""
    yield "\ufeff" + ";".join(_field(str(h)) for h in header) + "\r\n"
    for row in rows:
        yield ";".join(_field(c) for c in row) + "\r\n"


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """The whole file as one string (for archives)."""
    return "".join(csv_lines(header, rows))


def stamp() -> str:
    return datetime.now(FILE_TIME_ZONE).strftime("%Y%m%d-%H%M")


#: The one content type of every CSV download (one charset, written once).
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def csv_response(header: Sequence[Any], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """A CSV download for a Dutch spreadsheet (semicolons, decimal comma, UTF-8 with BOM),
    streamed: ``rows`` may be a generator and is written as the client reads.

    The body streams after the request's transaction has ended (committed, its session
    closed): rows must hold plain values, or be a generator that reads what it needs itself
    (a query with ``yield_per`` runs in a fresh read-only session). Never a generator over ORM
    objects the view loaded.
    """

    locale = str(get_locale())  # chosen now: the stream runs after the user is unloaded

    def body() -> Iterator[bytes]:
        set_write_intent(False)  # reads while streaming never need the write lock
        with force_locale(locale):
            for text in csv_lines(header, rows):
                yield text.encode("utf-8")

    return Response(stream_with_context(body()), content_type=CSV_CONTENT_TYPE,
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


def write_vector_layers(layers: dict[str, gpd.GeoDataFrame], path: Path, *, driver: str,
                        on_rows: Callable[[int], None] | None = None,
                        batch: int = 5000) -> None:
    """Several layers in one file: a GeoPackage (RD New) with a table per layer, written
    ``batch`` rows at a time (``on_rows(n)`` after each, for progress), or one RFC 7946
    GeoJSON (WGS84) with the layers one after another and a ``layer`` property."""
    if driver == "GeoJSON":
        frame = pd.concat([f.assign(layer=name).to_crs(WGS84) for name, f in layers.items()],
                          ignore_index=True)
        pyogrio.write_dataframe(gpd.GeoDataFrame(frame, geometry="geometry", crs=WGS84), path,
                                driver="GeoJSON",
                                layer_options={"RFC7946": "YES", "WRITE_NAME": "NO"})
        if on_rows is not None:
            on_rows(len(frame))
        return
    first = True
    for name, frame in layers.items():
        frame = frame.to_crs(RD_NEW)
        for start in range(0, max(len(frame), 1), batch):
            pyogrio.write_dataframe(frame.iloc[start:start + batch], path, driver="GPKG",
                                    layer=name, append=not first)
            first = False
            if on_rows is not None:
                on_rows(len(frame.iloc[start:start + batch]))


VECTOR_MIMETYPES = {"GeoJSON": "application/geo+json", "GPKG": "application/geopackage+sqlite3"}


def vector_layers_response(layers: dict[str, gpd.GeoDataFrame], *, driver: str,
                           filename: str) -> Response:
    """:func:`write_vector_layers` as a download. GDAL writes the file to disk and the response
    sends it from there in blocks (a GeoPackage is a database file and cannot be written as
    it goes), so only the frames are in memory. For files too large to build while the client
    waits, write them in a job (the bundles' files of every bundle do)."""
    folder = Path(tempfile.mkdtemp(prefix="export-"))
    path = folder / ("export.gpkg" if driver == "GPKG" else "export.geojson")

    def remove() -> None:
        path.unlink(missing_ok=True)
        folder.rmdir()

    try:
        write_vector_layers(layers, path, driver=driver)
        stream = path.open("rb")
    except BaseException:
        remove()
        raise
    response = Response(wrap_file(request.environ, stream), mimetype=VECTOR_MIMETYPES[driver],
                        direct_passthrough=True,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                 "Content-Length": str(path.stat().st_size)})
    response.call_on_close(remove)
    return response
