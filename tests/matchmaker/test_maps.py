"""Maps that carry many sites: the server clusters per zoom and viewport, the browser fetches
a site's details when it is clicked (matchmaker.mapgrid; the same SQL on both databases)."""

from __future__ import annotations

import pytest

from geo.crs import rd_to_wgs84
from matchmaker.auth.models import Role
from matchmaker.demand.models import Stage


def bbox_around(x: float, y: float, half_m: float) -> str:
    lon, lat = rd_to_wgs84([x - half_m, x + half_m], [y - half_m, y + half_m])
    return f"{lon[0]:.6f},{lat[0]:.6f},{lon[1]:.6f},{lat[1]:.6f}"


@pytest.fixture
def grid(make, auth):
    """A 20 × 20 block of sites 20 m apart with solar demand, one far away with fibre, and one
    with withdrawn demand only."""
    org = make.organisation("Blok BV")
    block = []
    for i in range(20):
        for j in range(20):
            block.append(make.site(org, x=233000 + 20 * i, y=556000 + 20 * j,
                                   house_number=1 + 20 * i + j))
            make.demand(block[-1], "solar_roof", 10)
    far = make.site(make.organisation("Ver Weg BV"), x=250000, y=540000, street="Verweg")
    make.demand(far, "fibre", 1, stage=Stage.COMMITTED)
    gone = make.site(make.organisation("Weg BV"), x=233300, y=556300)
    make.demand(gone, "insulation", 100, stage=Stage.WITHDRAWN)
    auth.login(make.user(Role.COORDINATOR))
    return {"far": far, "block": block}


def features(client, **params):
    response = client.get("/coordinator/demand/map.json", query_string=params)
    assert response.status_code == 200
    return response.get_json(force=True)["features"]


def test_the_map_gets_clusters_not_every_site(client, grid):
    province = features(client, bbox=bbox_around(240000, 550000, 40000), zoom=9)
    counted = sum(f["properties"].get("count", 1) for f in province)
    assert counted == 401  # every site with demand, the withdrawn one left out
    assert len(province) <= 3  # the block is one or two clusters, the far site alone
    far = [f for f in province if f["properties"]["kind"] == "point"]
    assert [f["properties"]["id"] for f in far] == [grid["far"].id]
    assert set(far[0]["properties"]) == {"kind", "id", "tag"}  # no name, no address
    assert far[0]["properties"]["tag"] == "fibre"

    street = features(client, bbox=bbox_around(233100, 556100, 60), zoom=19)
    assert all(f["properties"]["kind"] == "point" for f in street)
    ids = {f["properties"]["id"] for f in street}
    near = {s.id: (s.x, s.y) for s in grid["block"]}
    inside = {i for i, (x, y) in near.items() if abs(x - 233100) <= 60 and abs(y - 556100) <= 60}
    assert len(inside) == 49 and inside <= ids  # each of the 7 × 7 sites in view on its own
    assert all(abs(near[i][0] - 233100) <= 80 and abs(near[i][1] - 556100) <= 80 for i in ids)

    fibre_only = features(client, bbox=bbox_around(240000, 550000, 40000), zoom=9,
                          product="fibre")
    assert [f["properties"]["id"] for f in fibre_only] == [grid["far"].id]


def test_a_click_fetches_the_site_and_bad_viewports_are_refused(client, grid):
    detail = client.get(f"/coordinator/demand/sites/{grid['far'].id}.json").get_json()
    assert detail["organisation"] == "Ver Weg BV" and "Verweg" in detail["address"]
    assert [d["product"] for d in detail["demand"]] == ["Glasvezel"]
    assert client.get("/coordinator/demand/sites/999999.json").status_code == 404
    for params in ({}, {"bbox": "1,2,3", "zoom": 5}, {"bbox": "6,53,5,52", "zoom": 5},
                   {"bbox": "5,52,6,53", "zoom": 40}, {"bbox": "nan,52,6,53", "zoom": 5},
                   {"bbox": "5,52,6,53", "zoom": "x"}):
        assert client.get("/coordinator/demand/map.json", query_string=params).status_code == 400


def test_the_page_opens_on_its_data(client, grid, text_of):
    html = client.get("/coordinator/demand").get_data(as_text=True)
    assert "data-extent='[52." in html  # south, west, north, east of the sites
    assert "map-legend" in html


def test_the_group_buy_map_shows_the_participants_per_area(client, make, auth):
    from .test_campaign_support import Buy

    buy = Buy(make)
    campaign = buy.open(buy.campaign())
    members = [buy.member("100") for _ in range(2)]
    for user, site in members:
        buy.join(campaign, user, site, "100")
    auth.login(buy.coordinator)
    area = next(f for f in client.get(f"/campaigns/{campaign.id}/map.geojson")
                .get_json(force=True)["features"] if f["properties"]["kind"] == "area")
    # The coordinator sees who takes part; members and suppliers would see it hidden (2 < 5).
    assert area["properties"]["badge"] == "2" and "200" in area["properties"]["text"]
    auth.logout()
    auth.login(members[0][0])
    mine = next(f for f in client.get(f"/campaigns/{campaign.id}/map.geojson")
                .get_json(force=True)["features"] if f["properties"]["kind"] == "area")
    assert mine["properties"]["badge"] == "" and mine["properties"]["suppressed"]
