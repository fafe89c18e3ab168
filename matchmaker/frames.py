"""From SQL rows to the frames that ``geo`` works on (the service side of view → service →
frames → geo)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa

from geo.crs import RD_NEW
from matchmaker.extensions import db


def point_frame(rows: Iterable[Sequence[Any]] | pd.DataFrame, columns: Sequence[str] = (), *,
                keep_xy: bool = False) -> gpd.GeoDataFrame:
    """Rows with ``x`` and ``y`` columns (RD New metres, as stored) as a point GeoDataFrame in
    RD New; ``x``/``y`` are dropped unless ``keep_xy``. An empty input gives an empty frame
    with the columns."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows),
                                                                      columns=list(columns))
    geometry = gpd.points_from_xy(frame["x"].astype(float), frame["y"].astype(float))
    return gpd.GeoDataFrame(frame if keep_xy else frame.drop(columns=["x", "y"]),
                            geometry=geometry, crs=RD_NEW)


def query_frame(query: sa.Select[Any], columns: Sequence[str],
                dtypes: dict[str, Any] | None = None) -> pd.DataFrame:
    """The rows of a query of plain numbers and strings as a DataFrame, fast for hundreds of
    thousands of rows: PostgreSQL sends them with ``COPY ... TO STDOUT`` as CSV, which pandas
    parses in C; SQLite (the embedded default, small data) goes row by row. The same query
    and the same frame on both databases (tested on both)."""
    if db.session.get_bind().dialect.name != "postgresql":
        frame = pd.DataFrame(db.session.execute(query).all(), columns=list(columns))
        return frame.astype(dtypes) if dtypes and len(frame) else frame
    sql = str(query.compile(dialect=db.session.get_bind().dialect,
                            compile_kwargs={"literal_binds": True}))
    buffer = io.BytesIO()
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pd.DataFrame({c: pd.Series(dtype=(dtypes or {}).get(c, object)) for c in columns})
    return pd.read_csv(buffer, names=list(columns), header=None, dtype=dtypes,
                       keep_default_na=False, na_values=[""])


def stream_rows(query: sa.Select[Any], *, batch: int = 2000) -> Iterator[sa.Row[Any]]:
    """The rows of ``query`` one by one, for a response that streams after its request's
    transaction has ended: a server-side cursor on PostgreSQL (``yield_per``), SQLite's cursor
    as it reads, ``batch`` rows in memory at a time. It runs in a new read transaction of the
    request's session (kept open by ``stream_with_context`` until the last byte), when the
    client starts reading, so the first bytes go out as soon as the first rows come."""
    result = db.session.execute(query.execution_options(yield_per=batch))
    try:
        yield from result
    finally:
        result.close()
