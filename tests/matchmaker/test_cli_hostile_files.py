"""Command-line imports given broken files: one line on stderr and exit code 2, never a
traceback, nothing imported (issue 13, class 6)."""

import json
import warnings

import geopandas as gpd
import pytest
import sqlalchemy as sa
from shapely.geometry import Point, Polygon, box

from matchmaker.extensions import db
from matchmaker.register.models import AddressRecord, Area

HEADER = "identificatie;postcode;huisnummer;straat;woonplaats;gebruiksdoel;x;y\n"


def broken_files(tmp_path):
    """(command, file) pairs that must each be refused in one line."""
    garbage_gpkg = tmp_path / "garbage.gpkg"
    garbage_gpkg.write_bytes(b"SQLite format 3\x00" + b"\x00\xff" * 500)
    truncated = tmp_path / "truncated.gpkg"
    gpd.GeoDataFrame({"name": ["Park"]}, geometry=[box(233000, 556000, 234000, 557000)],
                     crs="EPSG:28992").to_file(truncated, driver="GPKG")
    truncated.write_bytes(truncated.read_bytes()[:3000])
    empty_gpkg = tmp_path / "empty.gpkg"
    empty_gpkg.write_bytes(b"")
    nan_csv = tmp_path / "nan.csv"
    nan_csv.write_text(HEADER + "0106010000000001;9401AB;1;Weg;Assen;kantoorfunctie;NaN;556800\n"
                       + "0106010000000002;9401AB;2;Weg;Assen;kantoorfunctie;inf;1e300\n",
                       encoding="utf-8")
    nan_gpkg = tmp_path / "nan.gpkg"
    gpd.GeoDataFrame({"identificatie": ["0106010000000003"], "postcode": ["9401 AB"],
                      "huisnummer": [3], "openbare_ruimte_naam": ["Weg"],
                      "woonplaats_naam": ["Assen"], "gebruiksdoel": ["kantoorfunctie"]},
                     geometry=[Point(float("nan"), float("nan"))],
                     crs="EPSG:28992").to_file(nan_gpkg, driver="GPKG")
    nan_areas = tmp_path / "nan-areas.geojson"
    nan_areas.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "Park"},
        "geometry": {"type": "Polygon", "coordinates": [[[6.5, 53.0], [6.6, 53.0],
                                                         [6.6, "NaN"], [6.5, 53.0]]]}}]}))
    deep_areas = tmp_path / "deep.geojson"
    deep_areas.write_text("[" * 50_000 + "]" * 50_000)
    nan_areas_gpkg = tmp_path / "nan-areas.gpkg"
    with warnings.catch_warnings():  # the very shape we want: shapely notes the NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        gpd.GeoDataFrame({"name": ["Park"]}, geometry=[Polygon(
            [(233000, 556000), (float("nan"), 556000), (234000, 557000)])],
            crs="EPSG:28992").to_file(nan_areas_gpkg, driver="GPKG")
    addresses = [garbage_gpkg, truncated, empty_gpkg]
    areas = [garbage_gpkg, truncated, empty_gpkg, nan_areas, nan_areas_gpkg, deep_areas]
    return ([("import-addresses", p) for p in addresses]
            + [("import-areas", p) for p in areas])


def test_unreadable_files_and_nan_coordinates_print_one_line_and_exit_2(app, runner, tmp_path):
    problems = []
    for command, path in broken_files(tmp_path):
        args = [command, str(path)] + (["--kind", "park"] if command == "import-areas" else [])
        result = runner.invoke(*args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        if result.exit_code != 2 or "Traceback" in result.output or len(lines) != 1:
            problems.append(f"{command} {path.name}: exit {result.exit_code}, "
                            f"{result.stderr[-300:]!r} {result.exception!r}")
        elif path.name not in lines[0] and "nan" not in path.name:
            problems.append(f"{command} {path.name}: the line does not name the file: {lines[0]}")
    assert not problems, "\n".join(problems)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AddressRecord)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Area)) == 0


def test_nan_coordinates_in_a_csv_register_are_refused_rows(app, runner, tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text(HEADER + "0106010000000001;9401AB;1;Weg;Assen;kantoorfunctie;NaN;556800\n"
                    + "0106010000000002;9401AB;2;Weg;Assen;kantoorfunctie;inf;1e300\n"
                    + "0106010000000003;9401AB;3;Weg;Assen;kantoorfunctie;233900;556800\n",
                    encoding="utf-8")
    result = runner.invoke("import-addresses", str(path))
    assert "Traceback" not in result.output
    assert result.exit_code == 0, result.output
    assert "regel 2" in result.stderr and "regel 3" in result.stderr
    assert set(db.session.scalars(sa.select(AddressRecord.id))) == {"0106010000000003"}


@pytest.fixture(autouse=True)
def dutch(monkeypatch):
    monkeypatch.setenv("LANG", "nl_NL.UTF-8")


def test_analysis_commands_refuse_broken_inputs_in_one_line(app, runner, tmp_path):
    files = {p.name: p for _, p in broken_files(tmp_path)}
    good_demand = tmp_path / "demand.csv"
    good_demand.write_text("id,x,y,quantity\n1,233900,556800,5\n", encoding="utf-8")
    good_consumers = tmp_path / "consumers.csv"
    good_consumers.write_text("id,x,y,demand_kwh\n2,233900,556800,5\n", encoding="utf-8")
    good_sinks = tmp_path / "sinks.csv"
    good_sinks.write_text("id,x,y,mwh\n2,233900,556800,5\n", encoding="utf-8")
    nan_points = tmp_path / "nan-points.csv"
    nan_points.write_text("id,x,y,quantity,surplus_kwh,mwh\n1,NaN,556800,5,5,5\n"
                          "2,233900,inf,5,5,5\n", encoding="utf-8")
    out = str(tmp_path / "out.csv")
    bad_inputs = [files["garbage.gpkg"], files["truncated.gpkg"], files["empty.gpkg"],
                  nan_points]
    problems = []
    for bad in bad_inputs:
        for args in (["bundle", str(bad), "--output", out],
                     ["bundle", str(good_demand), "--areas", str(bad), "--output", out],
                     ["match", str(bad), str(good_consumers), "--output", out],
                     ["heat", str(bad), str(good_sinks), "--output", out]):
            result = runner.invoke(*args)
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            if result.exit_code != 2 or "Traceback" in result.output or len(lines) != 1:
                problems.append(f"{' '.join(args[:1])} {bad.name}: exit {result.exit_code}, "
                                f"{result.stderr[-300:]!r} {result.exception!r}")
    assert not problems, "\n".join(problems)
