"""Input checks shared by bundling, matching, heat and profiles: one behaviour, one set of messages.

Every public function of ``geo`` validates its inputs before it computes anything, with these
helpers, so that the same mistake gets the same message everywhere. Options are strict: a
distance is a real number (``int``, ``float``, a numpy number), never a string such as ``"100"``
and never a ``bool`` (``True`` is 1 to Python, but nobody means one metre by it). Column values
read from files are numbers already (``geo.io`` converts them); a text or boolean column holds no
amounts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from geo.errors import N_, ColumnError, GeometryError, ParameterError, format_labels

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]


def real(value: object) -> float:
    """``value`` as a float when it is a real number (not a bool, not text), else NaN.

    >>> real(2), real(2.5), real("100"), real(True)
    (2.0, 2.5, nan, nan)
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        return math.nan
    return float(value)


def require_frame(frame: object, *, name: str) -> None:
    """Refuse anything but a GeoDataFrame."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ParameterError(
            N_("%(name)s must be a GeoDataFrame, not %(type)s."),
            name=name, type=type(frame).__name__,
        )


def positive_metres(value: object, *, name: str) -> float:
    """A distance option: a finite real number of metres above zero.

    >>> positive_metres(250, name="max_gap_m")
    250.0
    >>> positive_metres("100", name="max_distance_m")
    Traceback (most recent call last):
    ...
    geo.errors.ParameterError: max_distance_m must be a positive number of metres, not 100.
    """
    number = real(value)
    if not (math.isfinite(number) and number > 0):
        raise ParameterError(
            N_("%(name)s must be a positive number of metres, not %(value)s."),
            name=name, value=value,
        )
    return number


def positive_number(value: object, *, name: str) -> float:
    """An option that is a finite real number above zero."""
    number = real(value)
    if not (math.isfinite(number) and number > 0):
        raise ParameterError(
            N_("%(name)s must be a positive number, not %(value)s."), name=name, value=value
        )
    return number


def require_detour(value: object, *, name: str = "detour_factor") -> float:
    """A street detour factor: a real number of at least 1."""
    number = real(value)
    if not (math.isfinite(number) and number >= 1):
        raise ParameterError(
            N_("%(name)s must be a number of at least 1 (a street route is never shorter than "
               "the straight line), not %(value)s."),
            name=name, value=value,
        )
    return number


def require_columns(frame: pd.DataFrame, columns: Sequence[str], *, name: str) -> None:
    """Refuse a frame without all of ``columns``, naming the missing ones."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ColumnError(
            N_("%(name)s: missing column(s) %(columns)s."), name=name, columns=", ".join(missing)
        )


def unique_ids(frame: pd.DataFrame, *, name: str, as_text: bool = False) -> ObjectArray:
    """The ``id`` column, refusing empty and duplicate ids.

    ``as_text`` compares the ids as stripped text (``7`` and ``" 7"`` are the same site) and
    returns them as text; otherwise the values are returned as they are.
    """
    require_columns(frame, ("id",), name=name)
    raw = frame["id"]
    empty = raw.isna().to_numpy()
    if empty.any():
        raise ColumnError(
            N_("%(name)s: empty id in row(s) %(rows)s."),
            name=name, rows=format_labels(frame.index[empty]),
        )
    ids = raw.astype(str).str.strip() if as_text else raw
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise ColumnError(
            N_("%(name)s: duplicate id(s) %(ids)s."),
            name=name, ids=format_labels(pd.unique(ids[dup])),
        )
    return np.asarray(ids.to_numpy(dtype=object), dtype=object)


def id_labels(frame: pd.DataFrame) -> ObjectArray:
    """Ids for messages: the ``id`` column when there is one, else the index."""
    source = frame["id"] if "id" in frame.columns else frame.index.to_series()
    return np.asarray(source.astype(str).to_numpy(dtype=object), dtype=object)


def column_numbers(raw: pd.Series) -> FloatArray:
    """A column as floats: numbers stay, anything unreadable (and a boolean column) is NaN."""
    if pd.api.types.is_bool_dtype(raw):
        return np.full(len(raw), np.nan)
    return np.asarray(
        pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan), dtype=float
    )


def require_amounts(values: FloatArray, labels: npt.NDArray[Any], *, name: str, column: str) -> None:
    """Refuse missing, non-finite or negative amounts, naming the first offending ids."""
    missing = ~np.isfinite(values)
    if missing.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is missing or not a finite number for id(s) %(ids)s."),
            name=name, column=column, ids=format_labels(labels[missing]),
        )
    negative = values < 0
    if negative.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is negative for id(s) %(ids)s."),
            name=name, column=column, ids=format_labels(labels[negative]),
        )


def amounts(frame: pd.DataFrame, column: str, *, name: str, labels: ObjectArray) -> FloatArray:
    """A column of amounts (finite, not negative) as floats."""
    values = column_numbers(frame[column])
    require_amounts(values, labels, name=name, column=column)
    return values


def optional_numbers(
    frame: pd.DataFrame, column: str, *, name: str, labels: ObjectArray
) -> FloatArray:
    """A column that may be empty (unknown) but holds finite numbers where it is given."""
    values = column_numbers(frame[column])
    bad = frame[column].notna().to_numpy() & ~np.isfinite(values)
    if bad.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is not a finite number for id(s) %(ids)s."),
            name=name, column=column, ids=format_labels(labels[bad]),
        )
    return values


def finite_non_negative(values: FloatArray, *, name: str) -> None:
    """Refuse an array option (not a column) with a non-finite or negative value."""
    if not np.all(np.isfinite(values)):
        raise ParameterError(N_("%(name)s must be finite numbers."), name=name)
    if np.any(values < 0):
        raise ParameterError(N_("%(name)s must not be negative."), name=name)


def require_polygons(areas: gpd.GeoDataFrame, *, name: str) -> None:
    """Refuse missing, empty, non-polygonal and invalid geometries, naming the first labels."""
    geoms = areas.geometry
    missing = geoms.isna().to_numpy() | geoms.is_empty.to_numpy()
    if missing.any():
        raise GeometryError(
            N_("%(name)s without a polygon: %(labels)s."),
            name=name, labels=format_labels(areas.index[missing]),
        )
    wrong = ~geoms.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if wrong.any():
        raise GeometryError(
            N_("%(name)s must be polygons; other geometries at %(labels)s."),
            name=name, labels=format_labels(areas.index[wrong]),
        )
    invalid = ~geoms.is_valid.to_numpy()
    if invalid.any():
        first = np.asarray(geoms.array)[invalid][0]
        raise GeometryError(
            N_("%(name)s with an invalid polygon at %(labels)s (%(reason)s); repair them "
               "first, for example with make_valid."),
            name=name, labels=format_labels(areas.index[invalid]),
            reason=str(shapely.is_valid_reason(first)),
        )


__all__ = [
    "amounts",
    "column_numbers",
    "finite_non_negative",
    "id_labels",
    "optional_numbers",
    "positive_metres",
    "positive_number",
    "real",
    "require_amounts",
    "require_columns",
    "require_detour",
    "require_frame",
    "require_polygons",
    "unique_ids",
]


# --- metered data: plausible values and times (one rule for every meter and quarter-hour file) --

#: No connection takes or feeds more per interval (a 4 GW connection for a quarter hour).
MAX_INTERVAL_KWH = 1e6
#: Metered data is from these years; 1600 and 9999 are typing accidents (or attacks) that
#: would overflow the calendar arithmetic later.
METER_YEARS = (2000, 2100)
_YEAR = r"(?<!\d)(\d{4})(?!\d)"
_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def plausible_meter_values(values: FloatArray, *, name: str, column: str,
                           first_line: int = 2) -> None:
    """Refuse amounts that are not finite or above ``MAX_INTERVAL_KWH``, naming the lines."""
    numbers = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (np.abs(numbers) > MAX_INTERVAL_KWH)
    if bad.any():
        raise ColumnError(
            N_("%(name)s: %(column)s is not a plausible amount on line(s) %(lines)s (at most "
               "%(max)s kWh per interval)."),
            name=name, column=column, max=MAX_INTERVAL_KWH,
            lines=format_labels(np.flatnonzero(bad)[:6] + first_line, 5),
        )


def plausible_meter_times(values: pd.Series, *, name: str, column: str, first_line: int = 2,
                          refuse_mixed: bool = True) -> None:
    """Refuse times (as text) whose year lies outside ``METER_YEARS`` or (``refuse_mixed``)
    times with a UTC offset mixed with times without one, naming the lines; run it before any
    date arithmetic."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        years = pd.DatetimeIndex(values).year.to_numpy()
    else:
        text = values.astype("string").str.strip()
        years = pd.to_numeric(text.str.extract(_YEAR, expand=False), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        has_offset = text.str.contains(_OFFSET, regex=True).fillna(False).to_numpy(dtype=bool)
        if refuse_mixed and has_offset.any() and not has_offset.all():
            minority = ~has_offset if has_offset.sum() * 2 >= len(has_offset) else has_offset
            raise ColumnError(
                N_("%(name)s: %(column)s mixes times with and without a UTC offset; line(s) "
                   "%(lines)s differ from the rest. Write every time the same way, for example "
                   "2025-01-01T00:00+01:00."),
                name=name, column=column,
                lines=format_labels(np.flatnonzero(minority)[:6] + first_line, 5),
            )
    low, high = METER_YEARS
    with np.errstate(invalid="ignore"):
        bad = (years < low) | (years > high)
    if bad.any():
        raise ColumnError(
            N_("%(name)s: %(column)s lies outside the years %(low)s to %(high)s on line(s) "
               "%(lines)s."),
            name=name, column=column, low=low, high=high,
            lines=format_labels(np.flatnonzero(bad)[:6] + first_line, 5),
        )
