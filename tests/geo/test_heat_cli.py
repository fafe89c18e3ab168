"""Tests for ``matchmaker heat``: real files in tmp_path, outputs read back."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner, Result

from geo.crs import rd_to_wgs84
from matchmaker.heat.cli import heat_command

X0, Y0 = 233_900.0, 556_800.0  # Assen

# A data centre with a pool and an office on a line 100 m apart (200 m x 1.3 of trench,
# 390 MWh: exactly 1.5 MWh/m, sufficient); a bakery with one house 300 m away (critical); two
# sinks 2 km away with no source (no network); a lone source far east (no trench).
SOURCES_CSV = (
    "id,x,y,mwh,temperature_c\n"
    f"dc,{X0},{Y0},900,35\n"
    f"bakery,{X0 + 2000},{Y0 + 3000},200,\n"
    f"lone,{X0 + 9000},{Y0},50,60\n"
)
SINKS_CSV = (
    "id,x,y,mwh,temperature_c\n"
    f"pool,{X0 + 100},{Y0},300,30\n"
    f"0042,{X0 + 2000},{Y0 + 3300},20,\n"
    f"office,{X0 + 200},{Y0},90,70\n"
    f"far-1,{X0},{Y0 + 2000},40,\n"
    f"far-2,{X0 + 100},{Y0 + 2000},40,\n"
)


def run(*args: object) -> Result:
    return CliRunner().invoke(heat_command, [str(a) for a in args],
                              env={"MATCHMAKER_LANG": "en"})


def assert_one_line_error(result: Result, message: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [f"Error: {message}"]


@pytest.fixture
def csv_files(tmp_path: Path) -> tuple[Path, Path]:
    sources, sinks = tmp_path / "sources.csv", tmp_path / "sinks.csv"
    sources.write_text(SOURCES_CSV, encoding="utf-8")
    sinks.write_text(SINKS_CSV, encoding="utf-8")
    return sources, sinks


def frames(crs: str = "EPSG:28992") -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    sources = gpd.GeoDataFrame(
        {"id": ["dc", "bakery", "lone"], "mwh": [900.0, 200.0, 50.0],
         "temperature_c": [35.0, np.nan, 60.0]},
        geometry=gpd.points_from_xy([X0, X0 + 2000, X0 + 9000], [Y0, Y0 + 3000, Y0]),
        crs="EPSG:28992",
    )
    sinks = gpd.GeoDataFrame(
        {"id": ["pool", "0042", "office", "far-1", "far-2"],
         "mwh": [300.0, 20.0, 90.0, 40.0, 40.0],
         "temperature_c": [30.0, np.nan, np.nan, np.nan, np.nan],
         "temperature_class": [None, None, "high", None, None]},
        geometry=gpd.points_from_xy(
            [X0 + 100, X0 + 2000, X0 + 200, X0, X0 + 100],
            [Y0, Y0 + 3300, Y0, Y0 + 2000, Y0 + 2000],
        ),
        crs="EPSG:28992",
    )
    return sources.to_crs(crs), sinks.to_crs(crs)


EXPECTED = {
    "network_id": [0, 1, 2],
    "site_ids": [["dc", "pool", "office"], ["bakery", "0042"], ["lone"]],
    "n_sources": [1, 1, 1],
    "n_sinks": [2, 1, 0],
    "trench_length_m": [260.0, 390.0, 0.0],
    "viability": ["sufficient", "critical", "critical"],
    "sinks_needing_heat_pump": [1, 0, 0],
}


# --------------------------------------------------------------------------------------------
# outputs


def test_csv_in_geojson_out(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "networks.geojson"
    result = run(*csv_files, "--max-gap-m", 500, "--output", out)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        ("Network 0: 1 source(s), 2 sink(s), 390 MWh/yr, trench 260 m, 1.50 MWh/m per year: "
         "sufficient; coverage 100%."),
        "  1 sink(s) with 90 MWh/yr need more than 35 °C: a heat pump.",
        ("Network 1: 1 source(s), 1 sink(s), 20 MWh/yr, trench 390 m, 0.05 MWh/m per year: "
         "critical; coverage 100%."),
        "Network 2: 1 source(s), 0 sink(s), 0 MWh/yr, no trench (one location): critical.",
        "3 candidate network(s), 2 sink(s) in none; written to networks.geojson.",
    ]

    # As plain JSON (what a web map or the municipality's GIS reads): RFC 7946, WGS84.
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    props = [f["properties"] for f in doc["features"]]
    for key, values in EXPECTED.items():
        assert [p[key] for p in props] == values, key
    assert [p["heat_density_mwh_per_m"] for p in props] == [1.5, 20 / 390, None]
    assert [p["coverage"] for p in props] == [1.0, 1.0, None]
    assert all(p["coverage"] is None or p["coverage"] <= 1 for p in props)
    assert [p["detour_factor"] for p in props] == [1.3] * 3
    assert [p["source_ids"] for p in props] == [["dc"], ["bakery"], ["lone"]]
    first = doc["features"][0]["geometry"]
    assert first["type"] == "MultiLineString"
    lon, lat = rd_to_wgs84([X0, X0 + 100, X0 + 200], [Y0, Y0, Y0])
    ends = np.array(sorted(tuple(p) for line in first["coordinates"] for p in line))
    assert ends.ravel() == pytest.approx(
        np.array([(lon[0], lat[0]), (lon[1], lat[1]), (lon[1], lat[1]), (lon[2], lat[2])]).ravel(),
        abs=1e-6,
    )
    assert doc["features"][2]["geometry"] == {"type": "MultiLineString", "coordinates": []}

    # Through GDAL: the lists come back as arrays of str.
    back = pyogrio.read_dataframe(out)
    assert back.crs.equals("EPSG:4326")
    assert [list(ids) for ids in back["site_ids"]] == EXPECTED["site_ids"]
    assert back["viability"].tolist() == EXPECTED["viability"]
    assert back.geometry.iloc[0].length > 0 and back.geometry.iloc[2].is_empty


@pytest.mark.parametrize(("name", "crs"), [("geojson", "EPSG:4326"), ("gpkg", "EPSG:28992"),
                                         ("parquet", "EPSG:4326"), ("parquet", "EPSG:28992")])
def test_vector_input_gives_the_same_networks(tmp_path: Path, name: str, crs: str) -> None:
    paths = []
    for frame, stem in zip(frames(crs), ("sources", "sinks"), strict=True):
        path = tmp_path / f"{stem}.{name}"
        if name == "parquet":  # GeoParquet as geopandas writes it (WKB, the CRS as PROJJSON)
            frame.to_parquet(path)
        else:
            pyogrio.write_dataframe(frame, path, driver={"geojson": "GeoJSON", "gpkg": "GPKG"}[name])
        paths.append(path)
    out = tmp_path / "networks.geojson"
    result = run(*paths, "--output", out)
    assert result.exit_code == 0, result.stderr
    props = [f["properties"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]]
    for key, values in EXPECTED.items():
        got = [p[key] for p in props]
        if key == "trench_length_m":
            assert got == pytest.approx(values, abs=1e-3)
        else:
            assert got == values, key


def test_geopackage_output_is_rd_new_with_json_id_lists(
    csv_files: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "networks.gpkg"
    result = run(*csv_files, "--detour-factor", 1.0, "--output", out)
    assert result.exit_code == 0, result.stderr
    back = pyogrio.read_dataframe(out)
    assert back.crs.equals("EPSG:28992")
    assert [json.loads(ids) for ids in back["site_ids"]] == EXPECTED["site_ids"]
    assert back["trench_length_m"].tolist() == [200.0, 300.0, 0.0]
    assert back["detour_factor"].tolist() == [1.0] * 3
    assert shapely.equals(
        back.geometry.iloc[0],
        shapely.MultiLineString([[(X0, Y0), (X0 + 100, Y0)], [(X0 + 100, Y0), (X0 + 200, Y0)]]),
    )


def test_geoparquet_output_is_rd_new_with_id_lists_as_lists(
    csv_files: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "networks.parquet"
    result = run(*csv_files, "--output", out)
    assert result.exit_code == 0, result.stderr
    back = gpd.read_parquet(out)
    assert back.crs.equals("EPSG:28992")
    for key, values in EXPECTED.items():
        got = back[key].tolist()
        assert ([list(v) for v in got] if key == "site_ids" else got) == values, key
    assert shapely.equals(
        back.geometry.iloc[0],
        shapely.MultiLineString([[(X0, Y0), (X0 + 100, Y0)], [(X0 + 100, Y0), (X0 + 200, Y0)]]),
    )
    assert back.geometry.iloc[2].is_empty


def test_a_bigger_gap_joins_more(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "n.geojson"
    assert run(*csv_files, "--max-gap-m", 2100, "--output", out).exit_code == 0
    props = [f["properties"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]]
    # The far pair joins the data centre (2000 m); bakery and lone stay apart.
    assert props[0]["site_ids"] == ["dc", "pool", "office", "far-1", "far-2"]
    assert props[0]["trench_length_m"] == pytest.approx((200 + 2000 + 100) * 1.3)
    assert math.isclose(props[0]["sink_mwh"], 470.0)


# --------------------------------------------------------------------------------------------
# errors: exit code 2, one line on stderr, nothing written


def test_missing_mwh_column(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    sinks = tmp_path / "nomwh.csv"
    sinks.write_text(f"id,x,y\na,{X0},{Y0}\n", encoding="utf-8")
    out = tmp_path / "n.geojson"
    assert_one_line_error(run(csv_files[0], sinks, "--output", out),
                          "nomwh.csv: missing column(s) mwh.")
    assert not out.exists()


def test_negative_and_empty_mwh(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    sinks = tmp_path / "bad.csv"
    sinks.write_text(f"id,x,y,mwh\na,{X0},{Y0},5\nb,{X0},{Y0},-1\n", encoding="utf-8")
    assert_one_line_error(run(csv_files[0], sinks, "--output", tmp_path / "n.geojson"),
                          "bad.csv: mwh is negative for id(s) b.")
    sinks.write_text(f"id,x,y,mwh\na,{X0},{Y0},\n", encoding="utf-8")
    assert_one_line_error(run(csv_files[0], sinks, "--output", tmp_path / "n.geojson"),
                          "bad.csv: mwh is missing for id(s) a.")


def test_missing_coordinates(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    sinks = tmp_path / "nan.csv"
    sinks.write_text(f"id,x,y,mwh\na,{X0},{Y0},5\nb,,{Y0},1\n", encoding="utf-8")
    assert_one_line_error(run(csv_files[0], sinks, "--output", tmp_path / "n.geojson"),
                          "nan.csv: missing, NaN or infinite coordinates on line(s) 3.")


@pytest.mark.parametrize("gap", ["0", "-10", "nan"])
def test_impossible_gap(csv_files: tuple[Path, Path], tmp_path: Path, gap: str) -> None:
    assert_one_line_error(
        run(*csv_files, "--max-gap-m", gap, "--output", tmp_path / "n.geojson"),
        f"--max-gap-m must be a positive number of metres, not {float(gap)}.",
    )


def test_detour_factor_below_one(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    assert_one_line_error(
        run(*csv_files, "--detour-factor", "0.9", "--output", tmp_path / "n.geojson"),
        "--detour-factor must be a number of at least 1 (a street route is never shorter than "
        "the straight line), not 0.9.",
    )


def test_file_without_crs(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    src = tmp_path / "nocrs.gpkg"
    frame = frames()[0].set_crs(None, allow_override=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio warns about the missing CRS
        pyogrio.write_dataframe(frame, src, driver="GPKG")
    assert_one_line_error(
        run(src, csv_files[1], "--output", tmp_path / "n.geojson"),
        "nocrs.gpkg has no coordinate reference system; state it (for example EPSG:28992).",
    )


def test_lon_lat_in_x_y_columns(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    src = tmp_path / "swapped.csv"
    src.write_text("id,x,y,mwh\ns,6.5625,52.9925,100\n", encoding="utf-8")
    assert_one_line_error(
        run(src, csv_files[1], "--output", tmp_path / "n.geojson"),
        "swapped.csv: coordinates outside the Netherlands on line(s) 2; are these "
        "longitude/latitude? Then name the columns lon,lat.",
    )


def test_unknown_temperature_class(csv_files: tuple[Path, Path], tmp_path: Path) -> None:
    sinks = tmp_path / "classes.csv"
    sinks.write_text(f"id,x,y,mwh,temperature_class\na,{X0},{Y0},5,tepid\n", encoding="utf-8")
    assert_one_line_error(
        run(csv_files[0], sinks, "--output", tmp_path / "n.geojson"),
        "sinks: unknown temperature_class for id(s) a; use one of low, medium, high.",
    )


def test_unsupported_output_and_existing_output_kept(
    csv_files: tuple[Path, Path], tmp_path: Path
) -> None:
    assert_one_line_error(run(*csv_files, "--output", tmp_path / "n.csv"),
                          "n.csv: unsupported output type .csv; use .geojson, .gpkg or .parquet.")
    out = tmp_path / "n.geojson"
    out.write_text("previous\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"id,x,y,mwh\na,{X0},{Y0},x\n", encoding="utf-8")
    assert_one_line_error(run(csv_files[0], bad, "--output", out),
                          "bad.csv: column mwh is not a number on line(s) 2.")
    assert out.read_text(encoding="utf-8") == "previous\n"
    result = run(*csv_files, "--output", tmp_path / "missing" / "n.geojson")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: n.geojson cannot be written: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.csv", "n.geojson", "sinks.csv", "sources.csv"
    ]
