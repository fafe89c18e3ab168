import numpy as np
import pandas as pd
import pytest

from geo.addresses import (
    BAD_COORDINATES,
    BAD_ID,
    BAD_NUMBER,
    BAD_POSTCODE,
    AddressError,
    addition_key,
    is_residential,
    normalize_addition,
    normalize_postcode,
    parse_house_number,
    parse_register_chunk,
    resolve_register_columns,
)
from geo.errors import ColumnError


@pytest.mark.parametrize("text, expected", [
    ("9401AB", "9401 AB"), ("9401 ab", "9401 AB"), ("  9401   Ab ", "9401 AB"), ("1000 AA", "1000 AA"),
    ("9999 ZZ", "9999 ZZ"), ("9401 SB", "9401 SB"),
])
def test_postcodes_are_normalised(text, expected):
    assert normalize_postcode(text) == expected


@pytest.mark.parametrize("text", [
    "0123 AB", "123 AB", "12345 AB", "9401 A", "9401 A1", "9401 SA", "9401 sd", "9401SS", "", "AB 9401",
    "9401-AB", "９４０１ AB",
])
def test_impossible_postcodes_are_refused(text):
    with pytest.raises(AddressError):
        normalize_postcode(text)


def test_postcode_message_names_the_value():
    with pytest.raises(AddressError, match="SA, SD or SS") as err:
        normalize_postcode("1234 sa")
    assert err.value.params == {"value": "1234 sa"}


@pytest.mark.parametrize("text, expected", [
    ("12", (12, "")), ("12a", (12, "A")), ("12 A", (12, "A")), ("12-a", (12, "A")),
    ("7 bis", (7, "BIS")), ("3/2", (3, "2")), (99999, (99999, "")),
])
def test_house_numbers(text, expected):
    assert parse_house_number(text) == expected


@pytest.mark.parametrize("text", ["0", "abc", "", "123456", "-5"])
def test_bad_house_numbers(text):
    with pytest.raises(AddressError):
        parse_house_number(text)


def test_additions_match_loosely():
    assert addition_key("a-2") == addition_key("A 2") == addition_key("A2") == "A2"
    assert normalize_addition("  -b ") == "B"
    assert addition_key(None) == ""


def test_dutch_register_columns_are_recognised():
    mapping = resolve_register_columns(
        ["Identificatie", "Postcode", "Huisnummer", "Huisletter", "Toevoeging",
         "openbare_ruimte_naam", "woonplaats_naam", "gebruiksdoel"], has_geometry=True)
    assert mapping["id"] == "Identificatie"
    assert mapping["street"] == "openbare_ruimte_naam"
    assert mapping["house_letter"] == "Huisletter"


def test_missing_register_columns_are_all_named():
    with pytest.raises(ColumnError) as err:
        resolve_register_columns(["id", "street"])
    message = str(err.value)
    assert "postcode" in message and "house_number" in message and "lon,lat" in message


def register_frame(rows):
    return pd.DataFrame(rows, columns=["id", "postcode", "huisnummer", "huisletter", "toevoeging",
                                       "x", "y", "gebruiksdoel"]).astype(str)


def test_register_rows_are_validated_with_line_numbers():
    frame = register_frame([
        ["106010000000001", "9401ab", "12", "a", "2", "233900.5", "556800", "Kantoorfunctie"],
        ["x1", "9401 AB", "13", "", "", "233900", "556800", "woonfunctie"],
        ["0106010000000003", "0401 AB", "14", "", "", "233900", "556800", ""],
        ["0106010000000004", "9401 AB", "0", "", "", "233900", "556800", ""],
        ["0106010000000005", "9401 AB", "15", "", "", "6.56", "52.99", ""],
        ["0106010000000006", "9401 AB", "16.0", "", "", "233.900,5", "556800", ""],
    ])
    good, bad = parse_register_chunk(frame, resolve_register_columns(frame.columns), first_line=10)
    assert list(bad["line"]) == [11, 12, 13, 14, 15]
    assert list(bad["reason"]) == [BAD_ID, BAD_POSTCODE, BAD_NUMBER, BAD_COORDINATES, BAD_COORDINATES]
    assert bad["value"].iloc[0] == "x1"
    row = good.iloc[0]
    assert row["id"] == "0106010000000001"  # padded to 16 digits
    assert row["postcode"] == "9401 AB"
    assert row["addition"] == "A-2"  # house letter + addition, as BAG writes it
    assert row["use"] == "kantoorfunctie"
    assert row["x"] == pytest.approx(233900.5)
    assert len(good) + len(bad) == len(frame)


def test_register_rows_with_lon_lat_are_projected():
    frame = pd.DataFrame({"id": ["1"], "postcode": ["9401AB"], "house_number": ["1"],
                          "lon": ["6.5625"], "lat": ["52.9925"]})
    good, bad = parse_register_chunk(frame, resolve_register_columns(frame.columns), first_line=2)
    assert bad.empty
    assert good["x"].iloc[0] == pytest.approx(233914.3, abs=0.5)
    assert good["y"].iloc[0] == pytest.approx(556812.6, abs=0.5)


def test_register_rows_from_geometries():
    frame = pd.DataFrame({"id": ["1", "2"], "postcode": ["9401AB", "9401AB"],
                          "house_number": ["1", "2"]})
    xy = (np.array([233900.0, np.nan]), np.array([556800.0, np.nan]))
    good, bad = parse_register_chunk(frame, resolve_register_columns(frame.columns, has_geometry=True),
                                     first_line=1, xy=xy)
    assert list(good["id"]) == ["0000000000000001"]
    assert list(bad["line"]) == [2]


def test_residential_uses():
    uses = pd.Series(["woonfunctie", "kantoorfunctie", "woonfunctie,winkelfunctie", "", None,
                      "woonfunctie, woonfunctie"])
    assert is_residential(uses).tolist() == [True, False, False, False, False, True]
