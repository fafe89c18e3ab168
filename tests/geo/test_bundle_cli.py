"""Tests for ``matchmaker bundle``: real files in tmp_path, outputs read back."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from click.testing import CliRunner, Result
from shapely.geometry import Polygon, box

from geo.crs import rd_to_wgs84
from matchmaker.bundles.cli import bundle_command

X0, Y0 = 233_900.0, 556_800.0  # Assen

# Three sites 40-60 m apart (one bundle at 100 m), one 5 km away.
SITES_CSV = (
    "id,x,y,quantity,product,organisation_id\n"
    f"0001,{X0:.2f},{Y0:.2f},10,solar_roof,A\n"
    f"0002,{X0 + 40:.1f},{Y0},5.5,solar_roof,A\n"
    f"0003,{X0 + 40},{Y0 + 60},2,insulation,B\n"
    f"0004,{X0 + 5000},{Y0},7,solar_roof,C\n"
)


def run(*args: object) -> Result:
    return CliRunner().invoke(bundle_command, [str(a) for a in args])


def numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def sites_csv(tmp_path: Path) -> Path:
    path = tmp_path / "sites.csv"
    path.write_text(SITES_CSV, encoding="utf-8")
    return path


def site_frame(crs: str = "EPSG:28992") -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"id": ["0001", "0002", "0003", "0004"], "quantity": [10.0, 5.5, 2.0, 7.0],
         "organisation_id": ["A", "A", "B", "C"]},
        geometry=gpd.points_from_xy(
            [X0, X0 + 40, X0 + 40, X0 + 5000], [Y0, Y0, Y0 + 60, Y0]
        ),
        crs="EPSG:28992",
    )
    return frame.to_crs(crs)


# --------------------------------------------------------------------------------------------
# outputs


def test_csv_rd_new_to_csv_keeps_every_column_as_typed(sites_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundled.csv"
    result = run(sites_csv, "--max-gap-m", 100, "--output", out)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert numbers(result.stdout) == [4, 2, 3]  # rows, bundles, largest bundle

    back = pd.read_csv(out, dtype=str)
    assert list(back.columns) == [
        "id", "x", "y", "quantity", "product", "organisation_id", "bundle_id"
    ]
    assert back["id"].tolist() == ["0001", "0002", "0003", "0004"]
    assert back["x"].tolist()[:2] == [f"{X0:.2f}", f"{X0 + 40:.1f}"]
    assert back["quantity"].tolist() == ["10", "5.5", "2", "7"]
    assert back["bundle_id"].tolist() == ["0", "0", "0", "1"]


def test_gap_below_the_spacing_splits_the_bundle(sites_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundled.csv"
    assert run(sites_csv, "--max-gap-m", 50, "--output", out).exit_code == 0
    assert pd.read_csv(out)["bundle_id"].tolist() == [0, 0, 1, 2]


def test_csv_lon_lat_keeps_lon_lat_columns(tmp_path: Path) -> None:
    lon, lat = rd_to_wgs84([X0, X0 + 40, X0 + 5000], [Y0, Y0, Y0])
    text = "id,lon,lat,quantity\n" + "".join(
        f"{i},{lo:.7f},{la:.7f},1\n" for i, lo, la in zip(["a", "b", "c"], lon, lat, strict=True)
    )
    src = tmp_path / "wgs.csv"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run(src, "--max-gap-m", 100, "--output", out)
    assert result.exit_code == 0, result.stderr
    back = pd.read_csv(out, dtype=str)
    assert list(back.columns) == ["id", "lon", "lat", "quantity", "bundle_id"]
    assert back["lon"].tolist() == [f"{v:.7f}" for v in lon]
    assert back["bundle_id"].tolist() == ["0", "0", "1"]


def test_semicolon_csv_with_decimal_commas_is_answered_in_kind(tmp_path: Path) -> None:
    src = tmp_path / "nl.csv"
    src.write_text(
        "id;x;y;quantity\n"
        f"1;{X0:.0f},5;{Y0:.0f};2,5\n"
        f"2;{X0 + 30:.0f},5;{Y0:.0f};1,5\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    summary = tmp_path / "summary.csv"
    result = run(src, "--max-gap-m", 100, "--output", out, "--summary", summary)
    assert result.exit_code == 0, result.stderr
    back = pd.read_csv(out, sep=";", dtype=str)
    assert back["quantity"].tolist() == ["2,5", "1,5"]
    assert back["bundle_id"].tolist() == ["0", "0"]
    table = pd.read_csv(summary, sep=";", decimal=",")
    assert table["total_quantity"].tolist() == [4.0]
    assert table["span_m"].tolist() == [30.0]


def test_geojson_in_geojson_out_is_wgs84_rfc7946(tmp_path: Path) -> None:
    src = tmp_path / "sites.geojson"
    pyogrio.write_dataframe(site_frame("EPSG:4326"), src, driver="GeoJSON")
    out = tmp_path / "out.geojson"
    result = run(src, "--max-gap-m", 100, "--output", out)
    assert result.exit_code == 0, result.stderr

    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in doc  # RFC 7946: WGS84 implied, no crs member
    first = doc["features"][0]
    assert first["properties"]["id"] == "0001"
    assert first["properties"]["bundle_id"] == 0
    lon, lat = first["geometry"]["coordinates"]
    exp_lon, exp_lat = rd_to_wgs84([X0], [Y0])
    assert (lon, lat) == pytest.approx((exp_lon[0], exp_lat[0]), abs=1e-6)

    back = pyogrio.read_dataframe(out)
    assert back.crs.equals("EPSG:4326")
    assert back["bundle_id"].tolist() == [0, 0, 0, 1]
    assert back["quantity"].tolist() == [10.0, 5.5, 2.0, 7.0]


def test_geopackage_in_geopackage_out_is_rd_new(tmp_path: Path) -> None:
    src = tmp_path / "sites.gpkg"
    pyogrio.write_dataframe(site_frame(), src, driver="GPKG")
    out = tmp_path / "out.gpkg"
    result = run(src, "--max-gap-m", 100, "--output", out)
    assert result.exit_code == 0, result.stderr
    back = pyogrio.read_dataframe(out)
    assert back.crs.equals("EPSG:28992")
    assert back["id"].tolist() == ["0001", "0002", "0003", "0004"]
    assert back["bundle_id"].tolist() == [0, 0, 0, 1]
    assert back.geometry.x.tolist() == [X0, X0 + 40, X0 + 40, X0 + 5000]


def test_vector_input_to_csv_writes_rd_new_x_y(tmp_path: Path) -> None:
    src = tmp_path / "sites.geojson"
    pyogrio.write_dataframe(site_frame("EPSG:4326"), src, driver="GeoJSON")
    out = tmp_path / "out.csv"
    assert run(src, "--max-gap-m", 100, "--output", out).exit_code == 0
    back = pd.read_csv(out, dtype={"id": str})
    assert list(back.columns) == ["id", "quantity", "organisation_id", "x", "y", "bundle_id"]
    assert back["id"].tolist() == ["0001", "0002", "0003", "0004"]
    assert back["x"].to_numpy() == pytest.approx([X0, X0 + 40, X0 + 40, X0 + 5000], abs=1e-3)
    assert back["y"].to_numpy() == pytest.approx([Y0, Y0, Y0 + 60, Y0], abs=1e-3)


def test_geoparquet_in_geoparquet_out_is_rd_new(tmp_path: Path) -> None:
    src = tmp_path / "sites.parquet"
    site_frame("EPSG:4326").to_parquet(src)  # GeoParquet as geopandas writes it, in WGS84
    out = tmp_path / "out.parquet"
    result = run(src, "--max-gap-m", 100, "--output", out)
    assert result.exit_code == 0, result.stderr
    assert numbers(result.stdout) == [4, 2, 3]

    back = gpd.read_parquet(out)
    assert back.crs.equals("EPSG:28992")
    assert list(back.columns) == ["id", "quantity", "organisation_id", "bundle_id", "geometry"]
    assert back["id"].tolist() == ["0001", "0002", "0003", "0004"]
    assert back["quantity"].tolist() == [10.0, 5.5, 2.0, 7.0]
    assert back["bundle_id"].tolist() == [0, 0, 0, 1]
    assert back.geometry.x.to_numpy() == pytest.approx([X0, X0 + 40, X0 + 40, X0 + 5000], abs=1e-3)
    assert back.geometry.y.to_numpy() == pytest.approx([Y0, Y0, Y0 + 60, Y0], abs=1e-3)
    # The GeoParquet 1.0 metadata a third-party reader relies on.
    geo = json.loads(pq.read_schema(out).metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    assert geo["columns"]["geometry"]["geometry_types"] == ["Point"]
    assert geo["columns"]["geometry"]["bbox"] == pytest.approx(
        [X0, Y0, X0 + 5000, Y0 + 60], abs=1e-3)


def test_csv_in_geoparquet_out_carries_the_parsed_columns(sites_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    assert run(sites_csv, "--max-gap-m", 100, "--product", "solar_roof",
               "--output", out).exit_code == 0
    back = gpd.read_parquet(out)
    assert list(back.columns) == ["id", "quantity", "product", "organisation_id", "bundle_id",
                                  "geometry"]
    assert back["id"].tolist() == ["0001", "0002", "0004"]
    assert back["quantity"].tolist() == [10.0, 5.5, 7.0]
    assert back["bundle_id"].tolist() == [0, 0, 1]
    assert back.geometry.x.tolist() == [X0, X0 + 40, X0 + 5000]  # exactly as typed


def test_plain_parquet_with_x_y_columns_to_csv(tmp_path: Path) -> None:
    src = tmp_path / "sites.parquet"
    pd.DataFrame({"id": ["0001", "0002", "0003"], "x": [X0, X0 + 40, X0 + 5000],
                  "y": [Y0, Y0, Y0], "quantity": [1, 2, 3]}).to_parquet(src)
    out = tmp_path / "out.csv"
    result = run(src, "--max-gap-m", 100, "--output", out)
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8").splitlines() == [
        "id,x,y,quantity,bundle_id",
        f"0001,{X0:g},{Y0:g},1,0", f"0002,{X0 + 40:g},{Y0:g},2,0", f"0003,{X0 + 5000:g},{Y0:g},3,1",
    ]


def test_a_value_with_the_delimiter_survives_the_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "named.csv"
    src.write_text(f'id,x,y,quantity,name\n1,{X0},{Y0},1,"Bakker, Jan"\n'
                   f'2,{X0 + 10},{Y0},2,"De ""Zon"""\n', encoding="utf-8")
    out = tmp_path / "out.csv"
    assert run(src, "--max-gap-m", 100, "--output", out).exit_code == 0
    back = pd.read_csv(out, dtype=str)
    assert back["name"].tolist() == ["Bakker, Jan", 'De "Zon"']
    assert back["bundle_id"].tolist() == ["0", "0"]


@pytest.mark.parametrize("suffix", [".geojson", ".parquet"])
def test_areas_add_an_area_column(sites_csv: Path, tmp_path: Path, suffix: str) -> None:
    parks = gpd.GeoDataFrame(
        {"naam": ["Stadsbedrijvenpark", "Noord"]},
        geometry=[box(X0 - 10, Y0 - 10, X0 + 20, Y0 + 10), box(X0 + 20, Y0 - 10, X0 + 50, Y0 + 70)],
        crs="EPSG:28992",
    ).to_crs("EPSG:4326")
    areas = tmp_path / f"parks{suffix}"
    if suffix == ".parquet":
        parks.to_parquet(areas)
    else:
        pyogrio.write_dataframe(parks, areas, driver="GeoJSON")
    out = tmp_path / "out.csv"
    result = run(sites_csv, "--max-gap-m", 100, "--areas", areas, "--area-name-column", "naam",
                 "--output", out)
    assert result.exit_code == 0, result.stderr
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert back["area"].tolist() == ["Stadsbedrijvenpark", "Noord", "Noord", ""]


def test_product_filters_rows(sites_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "solar.csv"
    result = run(sites_csv, "--max-gap-m", 100, "--product", "solar_roof", "--output", out)
    assert result.exit_code == 0, result.stderr
    assert numbers(result.stdout) == [3, 2, 2]
    back = pd.read_csv(out, dtype=str)
    assert back["id"].tolist() == ["0001", "0002", "0004"]
    assert back["product"].unique().tolist() == ["solar_roof"]
    assert back["bundle_id"].tolist() == ["0", "0", "1"]


def test_summary_csv_has_one_row_per_bundle_with_hull_wkt(sites_csv: Path, tmp_path: Path) -> None:
    out, summary = tmp_path / "out.csv", tmp_path / "summary.csv"
    result = run(sites_csv, "--max-gap-m", 100, "--output", out, "--summary", summary)
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(summary)
    assert list(table.columns) == [
        "bundle_id", "n_sites", "n_organisations", "total_quantity", "centroid_x", "centroid_y",
        "span_m", "hull_wkt",
    ]
    assert table["bundle_id"].tolist() == [0, 1]
    assert table["n_sites"].tolist() == [3, 1]
    assert table["n_organisations"].tolist() == [2, 1]
    assert table["total_quantity"].tolist() == [17.5, 7.0]
    assert table["span_m"].iloc[0] == pytest.approx(np.hypot(40, 60))
    hull = shapely.from_wkt(table["hull_wkt"].iloc[0])
    assert shapely.equals(hull, Polygon([(X0, Y0), (X0 + 40, Y0), (X0 + 40, Y0 + 60)]))
    assert shapely.from_wkt(table["hull_wkt"].iloc[1]).geom_type == "Polygon"


@pytest.mark.parametrize(("suffix", "crs"), [(".gpkg", "EPSG:28992"), (".geojson", "EPSG:4326"),
                                           (".parquet", "EPSG:28992")])
def test_summary_as_vector(sites_csv: Path, tmp_path: Path, suffix: str, crs: str) -> None:
    out, summary = tmp_path / "out.csv", tmp_path / f"summary{suffix}"
    assert run(sites_csv, "--max-gap-m", 100, "--output", out, "--summary", summary).exit_code == 0
    back = gpd.read_parquet(summary) if suffix == ".parquet" else pyogrio.read_dataframe(summary)
    assert back.crs.equals(crs)
    assert back["bundle_id"].tolist() == [0, 1]
    assert back["n_sites"].tolist() == [3, 1]
    assert back.geometry.geom_type.tolist() == ["Polygon", "Polygon"]


# --------------------------------------------------------------------------------------------
# errors: exit code 2, one line on stderr, nothing written


def test_missing_input_file(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = run(tmp_path / "nope.csv", "--output", out)
    assert_one_line_error(result, "nope.csv")
    assert not out.exists()


def test_missing_quantity_column(tmp_path: Path) -> None:
    src = tmp_path / "noquantity.csv"
    src.write_text(f"id,x,y\n1,{X0},{Y0}\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert_one_line_error(run(src, "--output", out), "noquantity.csv", "quantity")
    assert not out.exists()


def test_lon_lat_values_in_x_y_columns(tmp_path: Path) -> None:
    src = tmp_path / "swapped.csv"
    src.write_text("id,x,y,quantity\n1,6.5625,52.9925,1\n2,6.5630,52.9930,1\n", encoding="utf-8")
    assert_one_line_error(run(src, "--output", tmp_path / "o.csv"), "swapped.csv", "lon,lat")


def test_geopackage_without_crs(tmp_path: Path) -> None:
    src = tmp_path / "nocrs.gpkg"
    frame = site_frame().set_crs(None, allow_override=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio warns about the missing CRS
        pyogrio.write_dataframe(frame, src, driver="GPKG")
    assert pyogrio.read_dataframe(src).crs is None
    out = tmp_path / "out.csv"
    assert_one_line_error(run(src, "--output", out), "EPSG:28992")
    assert not out.exists()


@pytest.mark.parametrize("option", ["--output", "--summary"])
def test_unsupported_output_suffix(sites_csv: Path, tmp_path: Path, option: str) -> None:
    args = [sites_csv, "--output", tmp_path / "out.csv"]
    args += [option, tmp_path / "out.xlsx"] if option == "--summary" else []
    if option == "--output":
        args[2] = tmp_path / "out.xlsx"
    assert_one_line_error(run(*args), "out.xlsx", ".xlsx")
    assert not (tmp_path / "out.csv").exists()


def test_product_without_product_column(tmp_path: Path) -> None:
    src = tmp_path / "plain.csv"
    src.write_text(f"id,x,y,quantity\n1,{X0},{Y0},1\n", encoding="utf-8")
    assert_one_line_error(
        run(src, "--product", "fibre", "--output", tmp_path / "o.csv"), "plain.csv", "product"
    )


@pytest.mark.parametrize("gap", ["0", "-10", "nan", "inf"])
def test_impossible_gap(sites_csv: Path, tmp_path: Path, gap: str) -> None:
    assert_one_line_error(
        run(sites_csv, "--max-gap-m", gap, "--output", tmp_path / "o.csv"), "--max-gap-m"
    )


def test_areas_without_the_name_column(sites_csv: Path, tmp_path: Path) -> None:
    areas = tmp_path / "parks.gpkg"
    pyogrio.write_dataframe(
        gpd.GeoDataFrame({"naam": ["P"]}, geometry=[box(X0, Y0, X0 + 9, Y0 + 9)],
                         crs="EPSG:28992"), areas, driver="GPKG",
    )
    result = run(sites_csv, "--areas", areas, "--output", tmp_path / "o.csv")
    assert_one_line_error(result, "parks.gpkg", "name")


def test_areas_with_an_invalid_polygon(sites_csv: Path, tmp_path: Path) -> None:
    areas = tmp_path / "bowtie.gpkg"
    bow_tie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    pyogrio.write_dataframe(
        gpd.GeoDataFrame({"name": ["tie"]}, geometry=[bow_tie], crs="EPSG:28992"),
        areas, driver="GPKG",
    )
    out = tmp_path / "o.csv"
    assert_one_line_error(run(sites_csv, "--areas", areas, "--output", out), "areas")
    assert not out.exists()


def test_areas_file_missing(sites_csv: Path, tmp_path: Path) -> None:
    result = run(sites_csv, "--areas", tmp_path / "parks.geojson", "--output", tmp_path / "o.csv")
    assert_one_line_error(result, "parks.geojson")


def test_output_directory_missing(sites_csv: Path, tmp_path: Path) -> None:
    result = run(sites_csv, "--output", tmp_path / "missing" / "out.csv")
    assert_one_line_error(result, "out.csv")


def test_existing_output_is_kept_when_the_run_fails(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("previous\n", encoding="utf-8")
    src = tmp_path / "bad.csv"
    src.write_text("id,x,y,quantity\n1,abc,1,1\n", encoding="utf-8")
    assert_one_line_error(run(src, "--output", out), "bad.csv", "x")
    assert out.read_text(encoding="utf-8") == "previous\n"


def test_a_row_of_the_wrong_width_is_named_by_its_line(tmp_path: Path) -> None:
    src = tmp_path / "ragged.csv"
    src.write_text(f"id,x,y,quantity\n1,{X0},{Y0},1\n2,{X0},{Y0},1,9\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    assert_one_line_error(run(src, "--output", out),
                          "ragged.csv: regel 3 heeft 5 velden, de kopregel 4.")
    assert not out.exists()


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "latin1.csv"
    src.write_bytes(f"id,x,y,quantity,name\n1,{X0},{Y0},1,Caf\xe9\n".encode("latin-1"))
    assert_one_line_error(run(src, "--output", tmp_path / "o.csv"),
                          "latin1.csv is geen UTF-8-tekstbestand.")


def test_geoparquet_of_polygons_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "parks.parquet"
    gpd.GeoDataFrame({"id": ["a"], "quantity": [1.0]}, geometry=[box(X0, Y0, X0 + 9, Y0 + 9)],
                     crs="EPSG:28992").to_parquet(src)
    assert_one_line_error(run(src, "--output", tmp_path / "o.csv"),
                          "parks.parquet: object(en) 1 zijn geen punten.")


def test_nothing_is_written_when_the_summary_cannot_be(sites_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = run(sites_csv, "--output", out, "--summary", tmp_path / "missing" / "summary.gpkg")
    assert_one_line_error(result, "summary.gpkg")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sites.csv"]


def test_semicolon_csv_keeps_its_delimiter_after_a_product_filter(tmp_path: Path) -> None:
    src = tmp_path / "nl.csv"
    src.write_text(
        "id;x;y;quantity;product\n"
        f"1;{X0:.0f},5;{Y0:.0f};2,5;fibre\n"
        f"2;{X0 + 30:.0f},5;{Y0:.0f};1,5;solar_roof\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert run(src, "--product", "fibre", "--output", out).exit_code == 0
    assert out.read_text(encoding="utf-8").splitlines() == [
        "id;x;y;quantity;product;bundle_id", f"1;{X0:.0f},5;{Y0:.0f};2,5;fibre;0",
    ]
