"""The coordinator's bundles page, its exports and the multi-product view."""

import csv
import io
import json
import re

import pandas as pd
import pyogrio
import pytest
import sqlalchemy as sa
from shapely.geometry import box

from matchmaker.auth.models import Role
from matchmaker.demand.models import Stage
from matchmaker.register.models import AreaKind


@pytest.fixture
def park_demand(make, auth):
    """Three neighbours on a park (150 m apart), one loner, and a withdrawn neighbour."""
    make.area("Messchenveld", AreaKind.PARK, box(231000, 553000, 233000, 555000))
    orgs = [make.organisation(f"Bedrijf {c}", contact_email=f"{c}@x.example") for c in "ABCDE"]
    sites = [
        make.site(orgs[0], x=231100, y=553100, bag_id="0106010000000001"),
        make.site(orgs[1], x=231250, y=553100),
        make.site(orgs[2], x=231400, y=553100),
        make.site(orgs[3], x=236000, y=556000),  # outside the park, far away
        make.site(orgs[4], x=231550, y=553100),
    ]
    make.demand(sites[0], "solar_roof", "100.5")
    make.demand(sites[1], "solar_roof", "200")
    make.demand(sites[2], "solar_roof", "50")
    make.demand(sites[3], "solar_roof", "400")
    make.demand(sites[4], "solar_roof", "75", stage=Stage.WITHDRAWN)
    make.demand(sites[0], "insulation", "300")
    make.demand(sites[1], "fibre", 1)
    auth.login(make.user(Role.COORDINATOR))
    return sites


def test_bundles_are_ranked_by_volume_and_follow_the_gap(client, park_demand, text_of):
    page = text_of(client.get("/coordinator/bundles?product=solar_roof&gap=150"))
    # 100.5 + 200 + 50 = 350.5 kWp in one bundle; the loner (400) ranks first.
    assert "350,5 kWp" in page and "400 kWp" in page
    assert "4 panden · 2 bundels" in page
    smaller_gap = text_of(client.get("/coordinator/bundles?product=solar_roof&gap=149,9"))
    assert "4 bundels" in smaller_gap
    committed_only = text_of(client.get("/coordinator/bundles?product=solar_roof&gap=150"
                                        "&stage=committed"))
    assert "0 panden" in committed_only
    # A wrong gap keeps the page and the typed text, with the range next to the field.
    for bad, message in (("0", "Vul een getal in van 10 tot en met 5.000."),
                         ("-5", "Vul een getal in van 10 tot en met 5.000."),
                         ("abc", "Vul een getal in, bijvoorbeeld 12,5."),
                         ("2.5", "2.5 is op twee manieren te lezen: bedoelt u 25 of 2,5?"),
                         ("nan", "Vul een getal in, bijvoorbeeld 12,5.")):
        response = client.get(f"/coordinator/bundles?product=solar_roof&gap={bad}")
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and f'value="{bad}"' in html
        assert 'id="gap-error"' in html and message in text_of(response)
    # Downloads are only linked from a valid page.
    assert client.get("/coordinator/bundles.geojson?product=solar_roof&gap=0").status_code == 400


def test_totals_per_area_include_sites_outside_every_area(client, park_demand, text_of):
    page = text_of(client.get("/coordinator/bundles?product=solar_roof&gap=150&area_kind=park"))
    assert "Messchenveld 350,5 kWp 3 3" in page
    assert "buiten elk gebied 400 kWp 1 1" in page


def test_the_map_gets_labelled_hulls_and_the_sites_per_viewport(client, park_demand):
    data = json.loads(client.get("/coordinator/bundles.geojson?product=solar_roof&gap=150").data)
    hulls = data["features"]
    # Only bundles of several sites are drawn as hulls, numbered as in the table (the loner
    # with 400 kWp is #1 and is a site on the map, not a hull).
    assert [h["properties"]["rank"] for h in hulls] == [2]
    assert hulls[0]["properties"]["label"] == "3 panden · 350,5\xa0kWp"
    assert hulls[0]["geometry"]["type"] == "Polygon"
    for lon, lat in hulls[0]["geometry"]["coordinates"][0]:
        assert 6.4 < lon < 6.7 and 52.9 < lat < 53.1
    page = client.get("/coordinator/bundles?product=solar_roof&gap=150").get_data(as_text=True)
    sites_url = re.search(r'data-sites="([^"]+)"', page).group(1).replace("&amp;", "&")
    shown = client.get(f"{sites_url}&bbox=6.3,52.8,6.8,53.2&zoom=19").get_json(force=True)
    assert len(shown["features"]) == 4  # the sites with solar demand, withdrawn left out


def export(client, sites, fmt):
    return client.get(f"/coordinator/bundles/export.{fmt}?product=solar_roof&gap=150"
                      f"&site={sites[1].id}")


def test_csv_export_of_one_bundle_with_contact_details(client, park_demand):
    response = export(client, park_demand, "csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                               delimiter=";"))
    assert sorted(r["Organisatie"] for r in rows) == ["Bedrijf A", "Bedrijf B", "Bedrijf C"]
    first = next(r for r in rows if r["Organisatie"] == "Bedrijf A")
    assert first["BAG-id"] == '="0106010000000001"'  # text, leading zeros kept
    assert first["Hoeveelheid"] == "100,5" and first["E-mail"] == "A@x.example"
    assert {r["Bundel"] for r in rows} == {"2"}


def test_geojson_and_geopackage_exports_open_in_a_gis_reader(client, park_demand, tmp_path):
    geojson = export(client, park_demand, "geojson")
    path = tmp_path / "bundle.geojson"
    path.write_bytes(geojson.data)
    frame = pyogrio.read_dataframe(path)
    sites, hull = frame[frame["layer"] == "sites"], frame[frame["layer"] == "hull"]
    assert frame.crs.to_epsg() == 4326 and len(sites) == 3
    assert set(sites["organisation"]) == {"Bedrijf A", "Bedrijf B", "Bedrijf C"}
    assert "crs" not in json.loads(geojson.data)  # RFC 7946: WGS84 implied, no crs member
    assert sites.geometry.x.between(6.4, 6.7).all()
    # The hull, numbered as on the page (#2: the loner with 400 kWp is #1).
    assert list(hull.geom_type) == ["Polygon"] and list(hull["bundle"]) == [2]
    assert set(sites["bundle"].astype(int)) == {2}

    gpkg = export(client, park_demand, "gpkg")
    path = tmp_path / "bundle.gpkg"
    path.write_bytes(gpkg.data)
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["hull", "sites"]
    frame = pyogrio.read_dataframe(path, layer="sites")
    assert frame.crs.to_epsg() == 28992
    assert sorted(frame.geometry.x.round(1)) == [231100.0, 231250.0, 231400.0]
    assert pd.api.types.is_string_dtype(frame["site_id"])  # ids as text
    assert pyogrio.read_dataframe(path, layer="hull")["quantity"].tolist() == [350.5]


def test_all_bundles_in_one_file_numbered_as_on_the_page(client, park_demand, tmp_path):
    url = "/coordinator/bundles/export-all.{}?product=solar_roof&gap=150"
    rows = list(csv.reader(io.StringIO(client.get(url.format("csv")).get_data(as_text=True)
                                       .lstrip("\ufeff")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["1", "2", "2", "2"]  # the page's numbers, in order
    path = tmp_path / "all.gpkg"
    path.write_bytes(prepared_file(client, url.format("gpkg")).data)
    hulls = pyogrio.read_dataframe(path, layer="bundles")
    assert hulls["bundle"].tolist() == [1, 2] and hulls["sites"].tolist() == [1, 3]
    assert hulls.geom_type.tolist()[1] == "Polygon"
    assert len(pyogrio.read_dataframe(path, layer="sites")) == 4
    geojson = prepared_file(client, url.format("geojson")).get_json(force=True)
    assert [f["properties"]["layer"] for f in geojson["features"]].count("sites") == 4


def prepared_file(client, url):
    """Start the file, follow to its page (the job is done: inline in tests) and download."""
    started = client.post(url)
    assert started.status_code == 303
    page = client.get(started.headers["Location"])
    status = client.get(started.headers["Location"] + "/status.json").get_json()
    assert status["status"] == "done" and status["progress"] == 1
    link = re.search(r'href="([^"]+/download)"', page.get_data(as_text=True))
    assert page.status_code == 200 and link
    download = client.get(link.group(1))
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    return download


def test_large_files_of_bundles_are_written_by_a_job_for_their_owner_only(
        client, park_demand, auth, make, text_of):
    """GeoJSON and GeoPackage of every bundle: a job writes the file (its page shows the
    progress, then a download link); nobody else finds it; a GET does not start one."""
    url = "/coordinator/bundles/export-all.gpkg?product=solar_roof&gap=150"
    assert client.get(url).status_code == 405
    started = client.post(url)
    page = started.headers["Location"]
    assert re.fullmatch(r"/coordinator/bundles/files/[0-9a-f]{32}", page)
    assert "bundels-solar_roof-" in text_of(client.get(page))
    assert client.post(url.replace("solar_roof", "nothing")).status_code == 404
    for wrong in ("/coordinator/bundles/files/../../secret", "/coordinator/bundles/files/zz"):
        assert client.get(wrong).status_code == 404
    auth.logout()
    auth.login(make.user(Role.COORDINATOR))
    for suffix in ("", "/status.json", "/download"):
        assert client.get(page + suffix).status_code == 404


def test_a_file_that_cannot_be_written_says_so(client, park_demand, make, text_of):
    """The job failed (here: its product was removed in the meantime): the file's page says
    so instead of waiting for ever, and there is nothing to download."""
    from matchmaker.auth.models import User
    from matchmaker.bundles import services
    from matchmaker.extensions import db

    coordinator = db.session.scalar(sa.select(User).where(User.role == Role.COORDINATOR)
                                    .order_by(User.id.desc()))
    key = services.prepare_file(services.BundleFilter(product="gone"), fmt="gpkg", locale="nl",
                                actor=coordinator)
    with pytest.raises(ValueError):
        services.write_file(key)
    page = client.get(f"/coordinator/bundles/files/{key}")
    assert page.status_code == 200 and "kon niet worden geschreven" in text_of(page)
    assert client.get(f"/coordinator/bundles/files/{key}/status.json").get_json()["status"] \
        == "failed"
    assert client.get(f"/coordinator/bundles/files/{key}/download").status_code == 404


def test_printable_summary_has_the_map_and_the_contacts(client, park_demand, text_of):
    response = client.get(f"/coordinator/bundles/print?product=solar_roof&gap=150"
                          f"&site={park_demand[0].id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<svg" in html and 'class="hull"' in html
    assert html.count('class="site"') == 3
    page = text_of(response)
    assert "350,5 kWp" in page and "a@x.example" in page.lower()


def test_exports_of_unknown_bundles_are_not_found(client, park_demand):
    assert client.get("/coordinator/bundles/export.csv?product=solar_roof&gap=150"
                      f"&site={park_demand[4].id}").status_code == 404  # withdrawn: no bundle
    assert client.get("/coordinator/bundles/export.csv?product=solar_roof&gap=150"
                      ).status_code == 404
    assert client.get("/coordinator/bundles?product=nothing&gap=150").status_code == 422


def test_sites_with_several_products(client, park_demand, text_of):
    page = text_of(client.get("/coordinator/multi-product?gap=150"))
    # Site A wants solar and insulation, site B solar and fibre: one bundle of two sites.
    assert "Bedrijf A" in page and "Bedrijf B" in page and "Bedrijf C" not in page
    assert "Zonnepanelen op dak + Isolatie: 1 pand" in page
    assert "Zonnepanelen op dak + Glasvezel: 1 pand" in page
