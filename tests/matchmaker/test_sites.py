import pytest
import sqlalchemy as sa

from geo.crs import rd_to_wgs84
from matchmaker.auth.models import Role
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.members.models import LocationSource, Site
from matchmaker.members.services import label_c_required, parse_grid_connection

SITE = {"postcode": "9401ab", "house_number": "12", "addition": "", "label": "",
        "floor_area_m2": "1.200", "office_area_m2": "800", "flat_roof_area_m2": "950,5",
        "energy_label": "E", "year_built": "1987", "tenure": "owner", "grid_connection": "3x80A"}


@pytest.fixture
def member(make, auth):
    user = make.user(Role.MEMBER)
    auth.login(user)
    return user


def sites_of(user):
    return list(db.session.scalars(sa.select(Site).where(Site.organisation_id == user.organisation_id)))


def test_a_site_is_located_from_the_address_register(client, make, member):
    rec = make.address("9401 AB", 12, x=233123.4, y=556789.0, street="Industrieweg")
    response = client.post("/sites/new", data=SITE)
    assert response.status_code == 302
    [site] = sites_of(member)
    assert (site.x, site.y) == (233123.4, 556789.0)
    assert site.bag_id == rec.id and site.street == "Industrieweg"
    assert site.location_source == LocationSource.REGISTER
    assert site.floor_area_m2 == 1200 and site.flat_roof_area_m2 == 950.5  # Dutch number input
    assert (site.grid_connection, site.grid_kva) == ("3x80A", 55.2)


def test_several_register_entries_ask_for_the_addition(client, make, member, text_of):
    make.address("9401 AB", 12, "A")
    make.address("9401 AB", 12, "B", x=233200)
    response = client.post("/sites/new", data=SITE)
    assert response.status_code == 400
    assert "12-A, 12-B" in text_of(response)
    assert sites_of(member) == []
    assert client.post("/sites/new", data={**SITE, "house_number": "12 b"}).status_code == 302
    assert sites_of(member)[0].x == 233200


def test_an_unknown_address_is_placed_on_the_map_inside_the_netherlands(client, member, text_of):
    response = client.post("/sites/new", data=SITE)
    assert response.status_code == 400
    assert 'id="site-map"' in response.get_data(as_text=True)
    assert "niet in het adresregister" in text_of(response)

    outside = client.post("/sites/new", data={**SITE, "lat": "48.85", "lon": "2.35"})  # Paris
    assert outside.status_code == 400 and "buiten Nederland" in text_of(outside)
    assert sites_of(member) == []

    lon, lat = rd_to_wgs84([234000.0], [557000.0])
    placed = client.post("/sites/new", data={**SITE, "lat": f"{lat[0]:.7f}", "lon": f"{lon[0]:.7f}",
                                             "street": "Nieuwe weg", "city": "Assen"})
    assert placed.status_code == 302
    [site] = sites_of(member)
    assert site.location_source == LocationSource.MAP and site.bag_id is None
    assert site.x == pytest.approx(234000, abs=0.05) and site.street == "Nieuwe weg"


@pytest.mark.parametrize("field, value", [
    ("postcode", "0123 AB"), ("postcode", "1234 SA"), ("house_number", "abc"),
    ("office_area_m2", "5000"), ("year_built", "1200"), ("grid_connection", "veel"),
    ("floor_area_m2", "-5"), ("flat_roof_area_m2", "nan"),
])
def test_bad_site_input_is_refused_next_to_the_field(client, make, member, field, value):
    make.address("9401 AB", 12)
    response = client.post("/sites/new", data={**SITE, field: value})
    assert response.status_code in (400, 422)
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert sites_of(member) == []


def test_the_same_address_twice_is_refused(client, make, member, text_of):
    make.address("9401 AB", 12)
    assert client.post("/sites/new", data=SITE).status_code == 302
    again = client.post("/sites/new", data=SITE)
    assert again.status_code == 409
    assert len(sites_of(member)) == 1


def test_sites_of_another_organisation_are_invisible(client, make, member):
    other = make.site(make.organisation())
    assert client.get(f"/sites/{other.id}/edit").status_code == 404
    assert client.post(f"/sites/{other.id}/delete").status_code == 404
    assert db.session.get(Site, other.id) is not None


def test_editing_and_removing_a_site(client, make, member):
    site = make.site(member.organisation, floor_area_m2=500)
    response = client.post(f"/sites/{site.id}/edit", data={**SITE, "floor_area_m2": "650", "office_area_m2": "300",
                                                            "energy_label": ""})
    assert response.status_code == 302
    db.session.refresh(site)
    assert site.floor_area_m2 == 650 and site.energy_label is None
    make.demand(site, "fibre", 1)
    assert client.post(f"/sites/{site.id}/delete").status_code == 302
    assert sites_of(member) == []


@pytest.mark.parametrize("text, expected", [
    ("3x80A", ("3x80A", 55.2)), ("3 x 25 a", ("3x25A", 17.2)), ("1x35A", ("1x35A", 8.1)),
    ("160 kVA", ("160 kVA", 160.0)), ("250,5 kva", ("250.5 kVA", 250.5)), ("", (None, None)),
])
def test_grid_connections(text, expected):
    assert parse_grid_connection(text) == expected


@pytest.mark.parametrize("text", ["3x0A", "2x80A", "80A", "veel"])
def test_impossible_grid_connections(text):
    with pytest.raises(ServiceError):
        parse_grid_connection(text)


@pytest.mark.parametrize("office, floor, label, required", [
    (800, 1200, "E", True),    # office > 100 m², office use > 50 %, label worse than C
    (800, 1200, "C", False),   # label C is enough
    (100, 150, "G", False),    # exactly 100 m² is not "over 100 m²"
    (101, 150, "G", True),
    (500, 1000, "F", False),   # office use is not more than half
    (800, 1200, None, False),  # unknown label: asked for, not flagged
])
def test_label_c_obligation(make, office, floor, label, required):
    site = make.site(make.organisation(), office_area_m2=office, floor_area_m2=floor,
                     energy_label=label)
    assert label_c_required(site) is required


def test_a_site_in_a_running_group_buy_cannot_be_removed(make, auth, client, text_of):
    from .test_campaign_support import Buy

    buy = Buy(make)
    user, site = buy.member("100")
    campaign = buy.open(buy.campaign())
    buy.join(campaign, user, site, "100")
    auth.login(user)
    response = client.post(f"/sites/{site.id}/delete")
    # Back on the dashboard with what to do in this state, not an error page.
    assert response.headers["Location"].endswith("/dashboard")
    page = text_of(client.get("/dashboard"))
    assert campaign.title in page and "Trek de aanmelding daar eerst in" in page
    assert db.session.get(Site, site.id) is not None
    # Once the offer is binding, withdrawing is not offered as the way out.
    from matchmaker.campaigns import services as campaign_services

    user2, site2 = buy.member("400")
    offered, _bid = buy.offered([(user2, site2, "400")], title="Zon 2")
    campaign_services.accept_offer(offered.participations[0].offer, actor=user2)
    auth.logout()
    auth.login(user2)
    client.post(f"/sites/{site2.id}/delete")
    page = text_of(client.get("/dashboard"))
    assert "bindende afspraak" in page and "Trek" not in page
    assert db.session.get(Site, site2.id) is not None
