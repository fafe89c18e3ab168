"""Dutch addresses: postcodes, house number additions, and address register tables.

A Dutch postcode is four digits not starting with 0, then two capitals, written ``1234 AB``; the
letter pairs SA, SD and SS are never issued. BAG ids are 16-digit strings with leading zeros.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from geo.crs import in_netherlands, wgs84_to_rd
from geo.errors import N_, ColumnError, GeoError

_POSTCODE_RE = re.compile(r"^([1-9][0-9]{3})\s*([A-Za-z]{2})$")
_FORBIDDEN_LETTERS = frozenset({"SA", "SD", "SS"})


class AddressError(GeoError):
    """A postcode, house number or addition that cannot exist."""


def normalize_postcode(text: str) -> str:
    """Return ``text`` as ``1234 AB`` or raise :class:`AddressError`.

    >>> normalize_postcode(" 9401ab ")
    '9401 AB'
    >>> normalize_postcode("0123 AB")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    geo.addresses.AddressError: 0123 AB is not a Dutch postcode (four digits not starting with 0, then two letters, for example 9401 AB).
    """
    cleaned = (text or "").strip()
    match = _POSTCODE_RE.match(cleaned)
    if not match:
        raise AddressError(
            N_("%(value)s is not a Dutch postcode (four digits not starting with 0, then two "
               "letters, for example 9401 AB)."),
            value=cleaned or "''",
        )
    digits, letters = match.group(1), match.group(2).upper()
    if letters in _FORBIDDEN_LETTERS:
        raise AddressError(
            N_("%(value)s cannot exist: postcodes never end in SA, SD or SS."), value=cleaned
        )
    return f"{digits} {letters}"


def normalize_addition(text: str | None) -> str:
    """The house number addition as people write it, trimmed and upper-case (``''`` if none).

    >>> normalize_addition(" a "), normalize_addition(None), normalize_addition("-bis")
    ('A', '', 'BIS')
    """
    return re.sub(r"\s+", " ", (text or "").strip().strip("-").strip()).upper()


def addition_key(text: str | None) -> str:
    """The addition reduced to letters and digits, for matching ``12-a``, ``12 A`` and ``12A``.

    >>> addition_key("a-2") == addition_key("A 2") == "A2"
    True
    """
    return re.sub(r"[^0-9A-Z]", "", (text or "").upper())


def parse_house_number(text: str | int) -> tuple[int, str]:
    """Split ``"12a"``, ``"12 A"`` or ``"12-2"`` into ``(12, "A")``/``(12, "2")``.

    >>> parse_house_number("12a"), parse_house_number(7), parse_house_number("3-bis")
    ((12, 'A'), (7, ''), (3, 'BIS'))
    """
    match = re.match(r"^\s*(\d{1,5})(?!\d)\s*[-/ ]?\s*(.*)$", str(text))
    if not match or int(match.group(1)) == 0:
        raise AddressError(
            N_("%(value)s is not a house number (a number from 1 to 99999, optionally followed by "
               "an addition)."),
            value=str(text).strip() or "''",
        )
    return int(match.group(1)), normalize_addition(match.group(2))


# Register columns and the names real registers use for them (BAG/PDOK exports in Dutch).
REGISTER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "bag_id", "identificatie", "verblijfsobject_id", "adresseerbaarobject_id"),
    "postcode": ("postcode",),
    "house_number": ("house_number", "huisnummer"),
    "house_letter": ("house_letter", "huisletter"),
    "addition": ("addition", "toevoeging", "huisnummertoevoeging"),
    "street": ("street", "straat", "openbare_ruimte_naam", "openbareruimtenaam", "straatnaam"),
    "city": ("city", "woonplaats", "woonplaats_naam", "woonplaatsnaam", "plaats"),
    "use": ("use", "gebruiksdoel", "gebruiksdoelen"),
    "x": ("x",),
    "y": ("y",),
    "lon": ("lon", "longitude", "lng"),
    "lat": ("lat", "latitude"),
}
REGISTER_REQUIRED = ("id", "postcode", "house_number")
REGISTER_COLUMNS = ("id", "postcode", "house_number", "addition", "street", "city", "use", "x", "y")


def resolve_register_columns(columns: Iterable[str], *, has_geometry: bool = False) -> dict[str, str]:
    """Map our column names to the file's (case-insensitive, Dutch aliases accepted).

    Raises :class:`ColumnError` naming every missing column: a file without them imports nothing.

    >>> resolve_register_columns(["Identificatie", "postcode", "huisnummer", "x", "y"])["id"]
    'Identificatie'
    """
    lower = {c.strip().lower(): c for c in columns}
    mapping: dict[str, str] = {}
    for ours, aliases in REGISTER_ALIASES.items():
        for alias in aliases:
            if alias in lower:
                mapping[ours] = lower[alias]
                break
    missing = [c for c in REGISTER_REQUIRED if c not in mapping]
    if not has_geometry and not ({"x", "y"} <= mapping.keys() or {"lon", "lat"} <= mapping.keys()):
        missing.append("x,y (RD New) or lon,lat (WGS84)")
    if missing:
        raise ColumnError(
            N_("The address register needs the column(s) %(columns)s."), columns=", ".join(missing)
        )
    return mapping


# Reasons for refusing a register row; ``%(value)s`` is the offending value.
BAD_ID = N_("id %(value)s is not a BAG id (up to 16 digits)")
BAD_POSTCODE = N_("postcode %(value)s is not a Dutch postcode")
BAD_NUMBER = N_("house number %(value)s is not a number from 1 to 99999")
BAD_COORDINATES = N_("coordinates %(value)s are missing or outside the Netherlands")
TOO_LONG = N_("a text value is too long: %(value)s")


def parse_register_chunk(
    frame: pd.DataFrame,
    mapping: dict[str, str],
    *,
    first_line: int,
    xy: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate one chunk of register rows.

    ``frame`` holds the rows as text; ``first_line`` is the line (or feature) number of its first
    row for error reports; ``xy`` passes RD New coordinates taken from a geometry column.
    Returns ``(good, bad)``: ``good`` has :data:`REGISTER_COLUMNS`, ``bad`` has ``line``,
    ``reason`` (a message id) and ``value``. Every row ends up in exactly one of them.
    """
    n = len(frame)
    lines = np.arange(first_line, first_line + n)

    def text(name: str) -> pd.Series:
        if name not in mapping:
            return pd.Series([""] * n, index=frame.index, dtype="string")
        return frame[mapping[name]].astype("string").fillna("").str.strip()

    raw_id = text("id")
    ids = raw_id.str.replace(r"\.0$", "", regex=True)  # spreadsheet exports turn ids into floats
    id_ok = ids.str.fullmatch(r"\d{1,16}").fillna(False).to_numpy(bool)
    ids = ids.str.zfill(16)

    raw_pc = text("postcode")
    pc = raw_pc.str.upper().str.replace(r"\s+", "", regex=True)
    pc_ok = pc.str.fullmatch(r"[1-9]\d{3}[A-Z]{2}").fillna(False).to_numpy(bool)
    pc_ok &= ~pc.str[4:].isin(list(_FORBIDDEN_LETTERS)).to_numpy(bool)
    postcode = pc.str[:4] + " " + pc.str[4:]

    raw_nr = text("house_number").str.replace(r"\.0$", "", regex=True)
    nr_ok = raw_nr.str.fullmatch(r"\d{1,5}").fillna(False).to_numpy(bool)
    numbers = pd.to_numeric(raw_nr.where(nr_ok, "0"), errors="coerce").fillna(0).astype("int64")
    nr_ok &= numbers.to_numpy() > 0

    letter = text("house_letter").str.upper()
    extra = text("addition").str.upper().str.strip("-").str.strip()
    addition = (letter + extra.where((letter == "") | (extra == ""), "-" + extra)).where(
        letter != "", extra
    )

    if xy is None:
        if "x" in mapping and "y" in mapping:
            x = pd.to_numeric(text("x").str.replace(",", "."), errors="coerce").to_numpy(float)
            y = pd.to_numeric(text("y").str.replace(",", "."), errors="coerce").to_numpy(float)
            coord_text = text("x") + " " + text("y")
        else:
            lon = pd.to_numeric(text("lon").str.replace(",", "."), errors="coerce").to_numpy(float)
            lat = pd.to_numeric(text("lat").str.replace(",", "."), errors="coerce").to_numpy(float)
            x, y = wgs84_to_rd(lon, lat)
            coord_text = text("lon") + " " + text("lat")
    else:
        x, y = xy
        coord_text = pd.Series([f"{a:.1f} {b:.1f}" for a, b in zip(x, y, strict=True)],
                               index=frame.index, dtype="string")
    xy_ok = in_netherlands(x, y)

    street, city = text("street"), text("city")
    use = text("use").str.lower().str.replace(r"\s*,\s*", ",", regex=True)
    long_ok = (
        (addition.str.len() <= 10) & (street.str.len() <= 200) & (city.str.len() <= 100)
        & (use.str.len() <= 200)
    ).to_numpy(bool)

    checks = [
        (id_ok, BAD_ID, raw_id),
        (pc_ok, BAD_POSTCODE, raw_pc),
        (nr_ok, BAD_NUMBER, raw_nr),
        (xy_ok, BAD_COORDINATES, coord_text),
        (long_ok, TOO_LONG, (street + " " + city + " " + addition).str.slice(0, 60)),
    ]
    ok = np.ones(n, dtype=bool)
    reasons = np.full(n, "", dtype=object)
    values = np.full(n, "", dtype=object)
    for passed, reason, value in checks:
        first_failure = ok & ~passed
        reasons[first_failure] = reason
        values[first_failure] = value.to_numpy(dtype=object)[first_failure]
        ok &= passed

    good = pd.DataFrame({
        "id": ids.to_numpy(dtype=object)[ok],
        "postcode": postcode.to_numpy(dtype=object)[ok],
        "house_number": numbers.to_numpy()[ok],
        "addition": addition.to_numpy(dtype=object)[ok],
        "street": street.to_numpy(dtype=object)[ok],
        "city": city.to_numpy(dtype=object)[ok],
        "use": use.to_numpy(dtype=object)[ok],
        "x": np.asarray(x, dtype=float)[ok],
        "y": np.asarray(y, dtype=float)[ok],
    })
    bad = pd.DataFrame({"line": lines[~ok], "reason": reasons[~ok], "value": values[~ok]})
    return good, bad


def is_residential(use: pd.Series) -> pd.Series:
    """Whether a register use (gebruiksdoel) is residential only (``woonfunctie``).

    Fibre thresholds count business addresses: anything with a use other than housing.

    >>> is_residential(pd.Series(["woonfunctie", "kantoorfunctie", "woonfunctie,winkelfunctie"])).tolist()
    [True, False, False]
    """
    text = use.fillna("").astype(str).str.strip()
    rest = text.str.replace(r"(^|,)\s*woonfunctie\s*(?=,|$)", "", regex=True).str.strip(", ")
    return (text != "") & (rest == "")
