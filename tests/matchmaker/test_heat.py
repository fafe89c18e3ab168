"""Shared heat in the app: heat data per site, candidate networks, tipping, exports."""

import json

import pyogrio
import pytest

from matchmaker.auth.models import Role
from matchmaker.energy.models import AssetKind, EnergyAsset
from matchmaker.extensions import db
from matchmaker.heat import services


def heat(site, kind, mwh, temperature_c=None):
    db.session.add(EnergyAsset(site_id=site.id, kind=kind, annual_mwh=mwh,
                               temperature_c=temperature_c))
    db.session.flush()


@pytest.fixture
def layout(make):
    """A source with two big users 100 m apart (viable) and a source with one small user."""
    a = make.site(make.organisation("Datacentrum"), x=233000, y=556000)
    b = make.site(make.organisation("Zwembad"), x=233100, y=556000)
    c = make.site(make.organisation("Kantoor"), x=233200, y=556000)
    far_source = make.site(make.organisation("Koelhuis"), x=236000, y=556000)
    far_user = make.site(make.organisation("Werkplaats"), x=236300, y=556000)
    heat(a, AssetKind.HEAT_SOURCE, 2000, 35)
    heat(b, AssetKind.HEAT_SINK, 600, 55)
    heat(c, AssetKind.HEAT_SINK, 400, 35)  # as warm as the source: no heat pump
    heat(far_source, AssetKind.HEAT_SOURCE, 800, 70)
    heat(far_user, AssetKind.HEAT_SINK, 50, 55)
    return {"a": a, "b": b, "c": c, "far_source": far_source, "far_user": far_user}


def test_networks_are_classified_by_linear_heat_density(layout):
    analysis = services.analyse(max_gap_m=500)
    networks = analysis.networks.sort_values("sink_mwh", ascending=False)
    viable, small = networks.iloc[0], networks.iloc[1]
    # 1000 MWh over an MST of 200 m × 1.3 = 260 m of trench: 3.85 MWh/m, good.
    assert viable.trench_length_m == pytest.approx(260.0)
    assert viable.heat_density_mwh_per_m == pytest.approx(1000 / 260)
    assert viable.viability == "good"
    # The source at 35 °C cannot serve the 55 °C building without a heat pump.
    assert viable.sinks_needing_heat_pump == 1
    # 50 MWh over 300 m × 1.3 = 390 m: 0.13 MWh/m, critical, so it gets a tipping list.
    assert small.viability == "critical"
    assert small.heat_density_mwh_per_m == pytest.approx(50 / 390)
    assert list(analysis.tipping) == [int(networks.index[1])]


def test_shared_heat_demand_counts_as_heat_use(make, layout):
    site = make.site(make.organisation("Garage"), x=236150, y=556050)
    make.demand(site, "shared_heat", 300)
    analysis = services.analyse(max_gap_m=500)
    small = analysis.networks[analysis.networks["n_sources"] == 1].sort_values("sink_mwh").iloc[0]
    assert str(site.id) in [str(i) for i in small.site_ids]
    assert small.sink_mwh == pytest.approx(350)


def test_member_enters_heat_and_sees_what_the_network_needs(client, make, auth, layout,
                                                           text_of):
    user = make.user(Role.MEMBER, organisation=layout["far_user"].organisation)
    auth.login(user)
    response = client.post(f"/sites/{layout['far_user'].id}/heat", data={
        "sink_gas_m3": "10.000", "sink_temperature_class": "high", "share_name": "y"})
    assert response.status_code == 302
    sink = services.heat_assets(layout["far_user"])[1]
    assert sink.annual_mwh == pytest.approx(79.1)  # 10,000 m³ × 31.65 MJ/m³ × 0.9 / 3600
    assert sink.temperature_c == 70.0
    page = text_of(client.get("/heat"))
    # One source and this member: the network's figures would be the other's (hidden).
    assert "Kansrijk net" in page and "minder dan 5 andere bedrijven" in page
    assert "kritisch" not in page and "MWh" not in page
    bad = client.post(f"/sites/{layout['far_user'].id}/heat",
                      data={"source_mwh": "-1", "sink_temperature_class": "medium"})
    assert bad.status_code == 400 and 'id="source_mwh-error"' in bad.get_data(as_text=True)


def test_coordinator_map_table_and_exports(client, make, auth, layout, tmp_path, text_of):
    auth.login(make.user(Role.COORDINATOR))
    page = text_of(client.get("/coordinator/heat?gap=500"))
    assert "goed" in page and "kritisch" in page
    data = json.loads(client.get("/coordinator/heat.geojson?gap=500").data)
    lines = [f for f in data["features"] if f["properties"]["kind"] == "network"]
    assert {f["properties"]["viability"] for f in lines} == {"good", "critical"}
    gpkg = client.get("/coordinator/heat/export.gpkg?gap=500")
    path = tmp_path / "net.gpkg"
    path.write_bytes(gpkg.data)
    frame = pyogrio.read_dataframe(path, layer="networks")
    assert frame.crs.to_epsg() == 28992 and set(frame["viability"]) == {"good", "critical"}
    # Numbered as in the table (1, 2, ...), with the sites and the critical network's joiners.
    assert sorted(frame["network"]) == list(range(1, len(frame) + 1))
    sites = pyogrio.read_dataframe(path, layer="sites")
    assert set(sites["role"]) == {"source", "user"}
    assert set(sites["network"].dropna().astype(int)) == set(frame["network"])
    critical = frame.loc[frame["viability"] == "critical", "network"].tolist()
    joiners = pyogrio.read_dataframe(path, layer="joiners")
    assert set(joiners["network"]) <= set(critical)
    geojson = client.get("/coordinator/heat/export.geojson?gap=500")
    path = tmp_path / "net.geojson"
    path.write_bytes(geojson.data)
    everything = pyogrio.read_dataframe(path)
    assert everything.crs.to_epsg() == 4326
    assert {"networks", "sites"} <= set(everything["layer"])
    printed = client.get("/coordinator/heat/print?gap=500").get_data(as_text=True)
    assert "<svg" in printed and 'class="trench"' in printed
    wrong = client.get("/coordinator/heat?gap=0&detour=1,3")
    assert wrong.status_code == 422 and 'value="0"' in wrong.get_data(as_text=True)
    assert "Vul een getal in van 10 tot en met 5.000." in wrong.get_data(as_text=True)
    assert client.get("/coordinator/heat/export.geojson?gap=0").status_code == 400
