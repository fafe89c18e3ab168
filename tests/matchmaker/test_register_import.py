"""Importing the address register and areas: streamed, idempotent, all-or-nothing on bad files."""

import json

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely.geometry import Point, Polygon, box

from geo.addresses import BAD_POSTCODE
from geo.errors import GeoError
from matchmaker.auth.models import Role
from matchmaker.extensions import db
from matchmaker.register import services
from matchmaker.register.models import AddressRecord, Area, AreaKind

from .conftest import Cli

HEADER = "identificatie;postcode;huisnummer;huisletter;toevoeging;straat;woonplaats;gebruiksdoel;x;y\n"


def write_csv(path, rows, header=HEADER):
    path.write_text(header + "".join(";".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def row(i, postcode="9401AB", number=None, x="233900", y="556800"):
    return [f"0106010000{i:06d}", postcode, str(number or i), "", "", "Industrieweg", "Assen",
            "industriefunctie", x, y]


def records():
    return {r.id: r for r in db.session.scalars(sa.select(AddressRecord))}


def run(app, *args):
    return Cli(app).invoke(*args)


def test_import_reports_bad_rows_and_imports_the_rest(app, tmp_path):
    path = write_csv(tmp_path / "bag.csv", [row(1), row(2, postcode="0401AB"), row(3),
                                            row(1, number=99)])
    report = services.import_addresses(path, actor=None)
    assert (report.rows, report.inserted, report.updated) == (4, 2, 0)
    assert report.bad == [(3, BAD_POSTCODE, "0401AB"),
                          (5, services.DUPLICATE_ID, "0106010000000001")]
    assert set(records()) == {"0106010000000001", "0106010000000003"}
    assert records()["0106010000000001"].house_number == 1  # the first occurrence counts


def test_reimport_updates_instead_of_duplicating(app, tmp_path):
    services.import_addresses(write_csv(tmp_path / "a.csv", [row(1), row(2)]), actor=None)
    moved = row(2, x="234000.5")
    report = services.import_addresses(write_csv(tmp_path / "b.csv", [row(1), moved]), actor=None)
    assert (report.inserted, report.updated) == (0, 2)
    assert len(records()) == 2
    assert records()["0106010000000002"].x == 234000.5


def test_prune_removes_what_the_register_no_longer_has(app, tmp_path):
    services.import_addresses(write_csv(tmp_path / "a.csv", [row(1), row(2)]), actor=None)
    report = services.import_addresses(write_csv(tmp_path / "b.csv", [row(2)]), actor=None,
                                       prune=True)
    assert report.pruned == 1 and set(records()) == {"0106010000000002"}
    with pytest.raises(GeoError, match="bad row"):
        services.import_addresses(write_csv(tmp_path / "c.csv", [row(3, postcode="x")]),
                                  actor=None, prune=True)


def test_command_line_import_with_progress_and_exit_codes(app, tmp_path):
    path = write_csv(tmp_path / "bag.csv", [row(i) for i in range(1, 60)] + [row(60, y="1")])
    result = run(app, "import-addresses", str(path))
    assert result.exit_code == 0, result.output
    assert "59" in result.stdout and "regel 61" in result.stderr
    assert len(records()) == 59

    missing = write_csv(tmp_path / "missing.csv", [["1", "9401AB"]], header="id;postcode\n")
    result = run(app, "import-addresses", str(missing))
    assert result.exit_code == 2
    assert "house_number" in result.stderr and "Traceback" not in result.stderr


def test_a_file_broken_halfway_imports_nothing(app, tmp_path):
    rows = [row(i) for i in range(1, services.CHUNK_ROWS + 10)]
    path = write_csv(tmp_path / "broken.csv", rows)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(";".join(row(999999)) + ";extra;fields;here\n")  # 13 fields where 10 belong
    result = run(app, "import-addresses", str(path))
    assert result.exit_code == 2
    assert "broken.csv" in result.stderr
    assert records() == {}  # the first chunk was written, then rolled back with the rest


def test_geopackage_register_in_another_crs(app, tmp_path):
    frame = gpd.GeoDataFrame(
        {"identificatie": ["0106010000000007", "0106010000000008"], "postcode": ["9401 AB", "9401 AB"],
         "huisnummer": [7, 8], "openbare_ruimte_naam": ["Kanaalstraat"] * 2,
         "woonplaats_naam": ["Assen"] * 2, "gebruiksdoel": ["kantoorfunctie", "woonfunctie"]},
        geometry=[Point(233900, 556800), Point(233950, 556850)], crs="EPSG:28992",
    ).to_crs("EPSG:4326")
    path = tmp_path / "bag.gpkg"
    frame.to_file(path, driver="GPKG")
    result = run(app, "import-addresses", str(path))
    assert result.exit_code == 0, result.output
    rec = records()["0106010000000007"]
    assert rec.x == pytest.approx(233900, abs=0.01) and rec.street == "Kanaalstraat"

    no_crs = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="crs"):  # exactly the file we want: no CRS
        frame.set_crs(None, allow_override=True).to_file(no_crs, driver="GPKG")
    assert run(app, "import-addresses", str(no_crs)).exit_code == 2
    assert run(app, "import-addresses", str(tmp_path / "nope.csv")).exit_code == 2


def test_geoparquet_register_in_another_crs_and_plain_parquet(app, tmp_path):
    frame = gpd.GeoDataFrame(
        {"identificatie": ["0106010000000007", "0106010000000008", "0106010000000009"],
         "postcode": ["9401 AB", "9401AB", "0401 AB"], "huisnummer": [7, 8, 9],
         "openbare_ruimte_naam": ["Kanaalstraat"] * 3, "woonplaats_naam": ["Assen"] * 3,
         "gebruiksdoel": ["kantoorfunctie", "woonfunctie", "kantoorfunctie"]},
        geometry=[Point(233900, 556800), Point(233950, 556850), Point(234000, 556900)],
        crs="EPSG:28992",
    ).to_crs("EPSG:4326")
    path = tmp_path / "bag.parquet"
    frame.to_parquet(path)
    result = run(app, "import-addresses", str(path))
    assert result.exit_code == 0, result.output
    assert "regel 3: postcode 0401 AB is geen" in result.stderr  # rows count from 1, like features
    rec = records()["0106010000000007"]
    assert rec.x == pytest.approx(233900, abs=0.01) and rec.y == pytest.approx(556800, abs=0.01)
    assert rec.street == "Kanaalstraat" and rec.house_number == 7
    assert set(records()) == {"0106010000000007", "0106010000000008"}

    # Plain Parquet: the CSV's columns, numbers as numbers.
    plain = tmp_path / "plain.parquet"
    pd.DataFrame({"id": ["0106010000000010"], "postcode": ["9401AB"], "house_number": [10],
                  "x": [234100.5], "y": [556800.0]}).to_parquet(plain)
    result = run(app, "import-addresses", str(plain))
    assert result.exit_code == 0, result.output
    assert records()["0106010000000010"].x == 234100.5

    # A GeoParquet that says it does not know its CRS needs --crs.
    unknown = tmp_path / "unknown.parquet"
    frame.to_crs("EPSG:28992").set_crs(None, allow_override=True).to_parquet(unknown)
    result = run(app, "import-addresses", str(unknown))
    assert result.exit_code == 2 and "EPSG:28992" in result.stderr
    result = run(app, "import-addresses", str(unknown), "--crs", "EPSG:28992")
    assert result.exit_code == 0, result.output


def test_areas_import_in_any_crs_and_refuses_invalid_polygons(app, tmp_path, client, auth, make,
                                                             text_of):
    parks = gpd.GeoDataFrame({"naam": ["Messchenveld", "Assen-Zuid"]},
                             geometry=[box(231000, 553000, 233000, 555000),
                                       box(233000, 552000, 234600, 553300)], crs="EPSG:28992")
    path = tmp_path / "parks.geojson"
    parks.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    result = run(app, "import-areas", str(path), "--kind", "park")
    assert result.exit_code == 0, result.output
    areas = {a.name: a for a in db.session.scalars(sa.select(Area))}
    assert areas["Messchenveld"].kind == AreaKind.PARK
    assert areas["Messchenveld"].area_m2 == pytest.approx(4_000_000, rel=1e-3)
    auth.login(make.user(Role.ADMIN))
    page = text_of(client.get("/admin/register"))
    assert "Messchenveld bedrijventerrein 400" in page  # the kind in Dutch, 400 ha

    # Importing again updates by name; a bow-tie anywhere refuses the whole file.
    bow_tie = Polygon([(231000, 553000), (233000, 555000), (233000, 553000), (231000, 555000)])
    bad = gpd.GeoDataFrame({"naam": ["Messchenveld", "Kapot"]},
                           geometry=[box(231000, 553000, 232000, 554000), bow_tie],
                           crs="EPSG:28992")
    bad_path = tmp_path / "bad.gpkg"
    bad.to_file(bad_path, driver="GPKG")
    result = run(app, "import-areas", str(bad_path), "--kind", "park")
    assert result.exit_code == 2 and "Kapot" in result.stderr
    db.session.expire_all()
    assert areas["Messchenveld"].area_m2 == pytest.approx(4_000_000, rel=1e-3)

    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Leeg"},
         "geometry": {"type": "Polygon", "coordinates": []}}]}))
    assert run(app, "import-areas", str(empty), "--kind", "park").exit_code == 2
    assert run(app, "import-areas", str(path), "--kind", "moon").exit_code == 2


def test_an_import_killed_halfway_leaves_nothing(database_url, tmp_path):
    """The import is one transaction: killing the process mid-way writes nothing at all."""
    import os
    import signal
    import subprocess
    import sys

    from flask_migrate import upgrade

    from matchmaker import create_app

    from .conftest import app_config, new_database

    with new_database(database_url, tmp_path, "kill") as url:
        app = create_app(app_config(url, str(tmp_path)))
        with app.app_context():
            upgrade(revision="heads")
            db.engine.dispose()
        path = write_csv(tmp_path / "big.csv",
                         [row(i, number=1 + i % 999) for i in range(1, 300_001)])
        env = {**os.environ, "DATABASE_URL": url, "MATCHMAKER_LANG": "en"}
        process = subprocess.Popen(
            [sys.executable, "-m", "matchmaker.cli", "import-addresses", str(path)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
        first = process.stderr.readline()  # "Importing: 20000 of 300000 rows": a chunk is written
        assert b"Importing" in first, first
        assert process.poll() is None, "the import finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(AddressRecord)) == 0
            db.session.remove()
            db.engine.dispose()
