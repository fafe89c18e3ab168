import csv
import io
import json
import re
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from shapely.geometry import box

from matchmaker.auth.models import Role
from matchmaker.demand.models import Demand, Stage
from matchmaker.extensions import db
from matchmaker.register.models import AreaKind


@pytest.fixture
def member(make, auth):
    user = make.user(Role.MEMBER)
    auth.login(user)
    return user


def demand_of(site, code):
    return db.session.scalar(sa.select(Demand).join(Demand.product)
                             .where(Demand.site_id == site.id).where(sa.text(f"products.code = '{code}'")))


def test_solar_demand_is_prefilled_from_the_flat_roof(client, make, member):
    site = make.site(member.organisation, flat_roof_area_m2=833)
    html = client.get(f"/sites/{site.id}/demand/solar_roof").get_data(as_text=True)
    assert 'value="124,9"' in html  # 833 m² × 0.15 kWp/m², rounded down to 0.1 kWp
    response = client.post(f"/sites/{site.id}/demand/solar_roof",
                           data={"quantity": "124,9", "stage": "interest", "consent_providers": "y"})
    assert response.status_code == 302
    demand = demand_of(site, "solar_roof")
    assert demand.quantity == Decimal("124.9") and demand.consent_providers
    assert demand.stage == Stage.INTEREST


def test_label_c_sites_are_flagged_with_an_insulation_suggestion(client, make, member, text_of):
    site = make.site(member.organisation, office_area_m2=900, floor_area_m2=1000, energy_label="F")
    page = text_of(client.get("/dashboard"))
    assert "Label C verplicht" in page
    html = client.get(f"/sites/{site.id}/demand/insulation").get_data(as_text=True)
    assert 'value="900"' in html


@pytest.mark.parametrize("code, data, field", [
    ("solar_roof", {"quantity": "-3"}, "quantity"),
    ("solar_roof", {"quantity": "0"}, "quantity"),
    ("solar_roof", {"quantity": "12,3456"}, "quantity"),
    ("solar_roof", {"quantity": "20000"}, "quantity"),
    ("solar_roof", {"quantity": "abc"}, "quantity"),
    ("solar_roof", {"quantity": "Infinity"}, "quantity"),
    ("fibre", {"quantity": "1,5"}, "quantity"),
    ("solar_roof", {"quantity": "10", "quantity_min": "12"}, "quantity_min"),
    ("solar_roof", {"quantity": "10", "quantity_max": "8"}, "quantity_max"),
])
def test_impossible_quantities_are_refused_next_to_the_field(client, make, member, code, data, field):
    site = make.site(member.organisation)
    response = client.post(f"/sites/{site.id}/demand/{code}", data={"stage": "interest", **data})
    assert response.status_code in (400, 422)
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert demand_of(site, code) is None


def test_a_stale_edit_is_refused_instead_of_overwriting(client, make, member, text_of):
    site = make.site(member.organisation)
    demand = make.demand(site, "insulation", 100)
    seen_version = demand.version
    first = client.post(f"/sites/{site.id}/demand/insulation",
                        data={"quantity": "120", "stage": "interest", "version": seen_version})
    assert first.status_code == 302
    second = client.post(f"/sites/{site.id}/demand/insulation",
                         data={"quantity": "90", "stage": "committed", "version": seen_version})
    assert second.status_code == 409
    page = text_of(second)
    assert "Iemand anders heeft deze vraag intussen gewijzigd" in page
    assert "Nu opgeslagen: 120 m²" in page  # the member sees what the other saved
    db.session.refresh(demand)
    assert demand.quantity == Decimal(120) and demand.version == seen_version + 1
    # The form now carries the current version: saving again is a deliberate overwrite.
    html = second.get_data(as_text=True)
    assert re.search(rf'<input[^>]*name="version"[^>]*value="{seen_version + 1}"', html)
    # An edit without the version it saw (the hidden field left out) is refused the same way.
    blind = client.post(f"/sites/{site.id}/demand/insulation",
                        data={"quantity": "70", "stage": "committed"})
    assert blind.status_code == 409 and "Nu opgeslagen: 120 m²" in text_of(blind)
    db.session.refresh(demand)
    assert demand.quantity == Decimal(120)


def test_withdrawn_demand_can_be_registered_again(client, make, member):
    site = make.site(member.organisation)
    make.demand(site, "fibre", 1)
    assert client.post(f"/sites/{site.id}/demand/fibre/withdraw").status_code == 302
    assert demand_of(site, "fibre").stage == Stage.WITHDRAWN
    again = client.post(f"/sites/{site.id}/demand/fibre", data={
        "quantity": "2", "stage": "committed", "version": demand_of(site, "fibre").version})
    assert again.status_code == 302
    demand = demand_of(site, "fibre")
    assert (demand.stage, demand.quantity) == (Stage.COMMITTED, Decimal(2))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Demand)) == 1


@pytest.fixture
def overview(make, auth):
    """Two kringen, a park whose boundary runs through a site, and demand of several kinds."""
    north = make.area("Noord", AreaKind.KRING, box(233000, 558000, 236000, 561000))
    south = make.area("Zuid", AreaKind.KRING, box(230000, 551000, 235000, 555000))
    park = make.area("Messchenveld", AreaKind.PARK, box(231000, 553000, 233000, 555000))
    a = make.organisation("Alfa Metaal", kring=south, contact_email="info@alfa.example")
    b = make.organisation("Beta Transport", kring=south)
    c = make.organisation("Gamma ICT", kring=north)
    on_boundary = make.site(a, x=233000, y=554000, bag_id="0106010000000042")
    inside = make.site(b, x=232000, y=554000)
    north_site = make.site(c, x=234000, y=559000)
    make.demand(on_boundary, "solar_roof", "150.5", consent_providers=True)
    make.demand(on_boundary, "fibre", 1, stage=Stage.COMMITTED)
    make.demand(inside, "solar_roof", "80")
    make.demand(north_site, "fibre", 1)
    make.demand(north_site, "insulation", 400, stage=Stage.WITHDRAWN)
    auth.login(make.user(Role.COORDINATOR))
    return {"north": north, "south": south, "park": park}


def test_coordinator_filters_demand(client, overview, text_of):
    page = text_of(client.get("/coordinator/demand"))
    assert "4 rijen" in page  # the withdrawn demand is left out by default
    solar = text_of(client.get("/coordinator/demand?product=solar_roof"))
    assert "230,5 kWp" in solar and "2 panden, 2 bedrijven" in solar
    north = text_of(client.get(f"/coordinator/demand?kring_id={overview['north'].id}"))
    assert "Gamma ICT" in north and "Alfa Metaal" not in north
    park = text_of(client.get(f"/coordinator/demand?area_id={overview['park'].id}"))
    assert "Alfa Metaal" in park and "Beta Transport" in park and "Gamma ICT" not in park
    withdrawn = text_of(client.get("/coordinator/demand?stage=withdrawn"))
    assert "1 rij " in withdrawn and "400 m²" in withdrawn
    assert client.get("/coordinator/demand?stage=bogus").status_code == 400
    search = text_of(client.get("/coordinator/demand?q=beta"))
    assert "Beta Transport" in search and "Alfa Metaal" not in search
    assert "Gamma ICT" in text_of(client.get("/coordinator/demand?q=9401a"))  # postcode prefix


def test_csv_export_keeps_ids_as_text_and_contact_details(client, overview):
    response = client.get(f"/coordinator/demand.csv?area_id={overview['park'].id}&product=solar_roof")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert {r["Organisatie"] for r in rows} == {"Alfa Metaal", "Beta Transport"}
    alfa = next(r for r in rows if r["Organisatie"] == "Alfa Metaal")
    assert alfa["BAG-id"] == '="0106010000000042"'  # text in Excel and LibreOffice
    assert alfa["Hoeveelheid"] == "150,5" and alfa["Eenheid"] == "kWp"
    assert alfa["E-mail"] == "info@alfa.example"
    assert alfa["Aanbieders mogen het zien"] == "ja" and alfa["Status"] == "interesse"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_geojson_for_the_map_is_wgs84_one_feature_per_site(client, overview):
    data = client.get("/coordinator/demand.geojson").get_json(force=True)
    assert data["type"] == "FeatureCollection"
    assert len(data["features"]) == 3
    for feature in data["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 6.4 < lon < 6.7 and 52.9 < lat < 53.1
    both = next(f for f in data["features"] if len(f["properties"]["products"]) == 2)
    assert set(both["properties"]["products"]) == {"solar_roof", "fibre"}
    areas = client.get("/areas.geojson").get_json(force=True)
    assert {f["properties"]["name"] for f in areas["features"]} == {"Noord", "Zuid", "Messchenveld"}


def test_providers_see_park_totals_only_where_enough_members_share_them(client, make, auth,
                                                                        runner):
    from matchmaker.privacy import MIN_MEMBERS

    busy = make.area("Drukke Park", AreaKind.PARK, box(230000, 550000, 231000, 551000))
    quiet = make.area("Stille Park", AreaKind.PARK, box(240000, 550000, 241000, 551000))
    for i in range(MIN_MEMBERS):
        site = make.site(make.organisation(), x=230100 + 100 * i, y=550500)
        make.demand(site, "solar_roof", 100)
    withdrawn = make.site(make.organisation(), x=230900, y=550900)
    make.demand(withdrawn, "solar_roof", 5000, stage=Stage.WITHDRAWN)
    for i in range(MIN_MEMBERS - 1):
        make.demand(make.site(make.organisation(), x=240100 + 100 * i, y=550500), "solar_roof", 100)
    auth.login(make.user(Role.PROVIDER))
    assert "Er is nog niets gepubliceerd" in client.get("/provider").get_data(as_text=True)
    assert runner.invoke("snapshot-fibre").exit_code == 0  # the daily snapshot publishes
    html = client.get("/provider").get_data(as_text=True)
    rows = {name: re.sub(r"\s+", " ", row) for name, row in
            re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', html, flags=re.DOTALL)}
    assert set(rows) == {busy.name, quiet.name}
    assert f"500 <span class=\"muted\">· {MIN_MEMBERS} leden" in rows[busy.name]
    assert "verborgen" in rows[quiet.name] and "400" not in rows[quiet.name]
    # The page states the rule it applies.
    assert f"minder dan {MIN_MEMBERS} leden" in html and "meer dan 75 % van het volume" in html


@pytest.mark.parametrize("lang, typed, stored, message", [
    ("nl", "1.200", Decimal(1200), None),
    ("nl", "0,95", Decimal("0.95"), None),
    ("nl", "0.950", None, "0.950 is op twee manieren te lezen: bedoelt u 950 of 0,95?"),
    ("nl", "1e3", None, "Vul een getal in, bijvoorbeeld 12,5."),
    ("en", "0.950", Decimal("0.95"), None),
    ("en", "1,200", Decimal(1200), None),
    ("en", "0,95", None, "0,95 can be read in two ways: did you mean 95 or 0.95?"),
])
def test_numbers_are_read_as_written_in_the_users_language(client, make, member, text_of,
                                                          lang, typed, stored, message):
    client.post("/language", data={"lang": lang})
    site = make.site(member.organisation)
    response = client.post(f"/sites/{site.id}/demand/insulation",
                           data={"quantity": typed, "stage": "interest"})
    demand = demand_of(site, "insulation")
    if stored is not None:
        assert response.status_code == 302 and demand.quantity == stored
        # Shown back as the user writes it.
        shown = client.get(f"/sites/{site.id}/demand/insulation").get_data(as_text=True)
        assert f'value="{typed if typed != "0.950" else "0.95"}"' in shown
    else:
        assert response.status_code == 422 and demand is None
        assert message in text_of(response)
        assert f'value="{typed}"' in response.get_data(as_text=True)  # kept as typed


@pytest.mark.parametrize("path", ["/coordinator/demand.csv", "/coordinator/demand.geojson"])
def test_exports_send_their_first_bytes_before_reading_the_rows(client, overview, path):
    """The response leaves the app before its rows are read: the export's query runs only when
    the client reads the body (nothing on the way, a request log for instance, reads it all
    first; at province scale that made the first byte wait 20 s)."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    before: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        response, body = client.get_streamed(path, before_body=lambda: before.extend(
            s for s in statements if "quantity_min" in s))
        after = [s for s in statements if "quantity_min" in s]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200 and not before and len(after) == 1
    assert body.count("\n") >= 2 if path.endswith(".csv") else '"Feature"' in body


def test_exports_stream_every_row_from_the_database(client, overview, make):
    """CSV and GeoJSON are written while the client reads (a streamed body, see above), with
    every row."""
    org = make.organisation("Veel BV")
    for i in range(30):
        make.demand(make.site(org, x=233000 + i, y=557000), "solar_roof", 10 + i)
    csv_response, text = client.get_streamed("/coordinator/demand.csv?product=solar_roof")
    assert csv_response.status_code == 200
    lines = text.strip().split("\r\n")
    assert len(lines) == 1 + 32  # header, the 30 new rows and the overview's two
    geo, text = client.get_streamed("/coordinator/demand.geojson?product=solar_roof")
    assert geo.status_code == 200
    features = json.loads(text)["features"]
    assert len(features) == 32 and len({f["properties"]["site_id"] for f in features}) == 32
