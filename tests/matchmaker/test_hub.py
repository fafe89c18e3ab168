"""Energy hubs in the app: members' grid data and consent, the coordinator's hub, its analysis
as a job, the dossier and the battery group buy."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely.geometry import Polygon
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from geo.hub_profiles import consumption_quarter_hours, quarter_hours
from matchmaker.auth.models import Role
from matchmaker.campaigns.models import Campaign, CampaignState
from matchmaker.energy.models import AssetKind, EnergyAsset, ExpansionPlan, GridConnection
from matchmaker.extensions import db
from matchmaker.hub.models import Hub, HubAnalysis, HubSite
from matchmaker.register.models import AreaKind

PARK = Polygon([(232000, 555000), (234000, 555000), (234000, 557000), (232000, 557000)])


def year_csv(take: np.ndarray, feed: np.ndarray | None = None, *, year: int = 2025,
             drop: int | None = None) -> bytes:
    """A year of quarter hours as a grid operator's portal exports it: Dutch clock time
    without offset, semicolons, decimal commas."""
    index = quarter_hours(year).tz_convert("Europe/Amsterdam")
    rows = ["tijdstip;afname_kwh;invoeding_kwh"]
    for i, stamp in enumerate(index):
        if i == drop:
            continue
        rows.append(f"{stamp:%Y-%m-%d %H:%M};{take[i]:.3f};{0 if feed is None else feed[i]:.3f}"
                    .replace(".", ","))
    return ("\n".join(rows) + "\n").encode()


def upload(client, site, data, name="kwartier.csv"):
    # Encoded here in memory: the test client spools bodies over 500 kB to a temporary file
    # that it never closes (a ResourceWarning, an error under filterwarnings).
    boundary, body = encode_multipart({"quarter-file": FileStorage(io.BytesIO(data), filename=name)})
    return client.post(f"/sites/{site.id}/energy/quarter-hours", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


@pytest.fixture
def park(make):
    """A park with three members: one metered (uploads quarter hours), two with yearly use
    only (estimated), and one member outside the park."""
    area = make.area("Messchenveld", AreaKind.PARK, PARK)
    metered_user = make.user(Role.MEMBER, organisation=make.organisation("Koelhuis BV"))
    metered = make.site(metered_user.organisation, x=233000, y=556000, grid_kva=250.0)
    office = make.site(make.organisation("Kantoor BV"), x=233200, y=556100)
    workshop = make.site(make.organisation("Werkplaats BV"), x=233400, y=556300)
    outside = make.site(make.organisation("Ver BV"), x=239000, y=556000)
    for site, kwh, category in ((office, 120_000.0, "g1"), (workshop, 60_000.0, "g3"),
                                (outside, 50_000.0, "g0")):
        db.session.add(EnergyAsset(site_id=site.id, kind=AssetKind.CONSUMPTION,
                                   annual_kwh=kwh, profile_category=category))
    db.session.flush()
    return {"area": area, "user": metered_user, "metered": metered, "office": office,
            "workshop": workshop, "outside": outside}


def cold_store_year() -> tuple[np.ndarray, np.ndarray]:
    idx = quarter_hours(2025).tz_convert("Europe/Amsterdam")
    hour = idx.hour.to_numpy()
    take = np.where((hour >= 6) & (hour < 22), 20.0, 8.0) + (np.arange(len(idx)) % 8 == 0) * 5
    feed = np.where((hour >= 11) & (hour < 15), 3.0, 0.0)
    return take, feed


def test_member_enters_contract_uploads_quarter_hours_adds_a_plan(client, auth, park, text_of):
    site = park["metered"]
    auth.login(park["user"])
    page = text_of(client.get(f"/sites/{site.id}/energy"))
    assert "Netaansluiting en energiehubs" in page and "nog niet in een energiehub" in page
    saved = client.post(f"/sites/{site.id}/energy/grid", data={
        "contracted_take_kw": "150", "contracted_feed_kw": "0", "shiftable_percent": "20",
        "shift_start_hour": "10", "shift_end_hour": "16"})
    assert saved.status_code == 302
    grid = db.session.scalar(sa.select(GridConnection).where(GridConnection.site_id == site.id))
    assert (grid.contracted_take_kw, grid.shiftable_share, grid.shift_start_hour) == (150, .2, 10)
    wrong = client.post(f"/sites/{site.id}/energy/grid", data={
        "contracted_take_kw": "150", "shiftable_percent": "20", "shift_start_hour": "16",
        "shift_end_hour": "10"})
    assert wrong.status_code == 400 and "voordat het eindigt" in text_of(wrong)

    take, feed = cold_store_year()
    response = upload(client, site, year_csv(take, feed))
    assert response.status_code == 302, text_of(response)
    db.session.refresh(grid)
    stored_take, stored_feed = grid.quarter_hours()
    assert stored_take.sum() == pytest.approx(take.sum(), rel=1e-4)  # same dates, other year
    assert stored_feed.max() == pytest.approx(3.0)
    page = text_of(client.get(f"/sites/{site.id}/energy"))
    assert "Gemeten : kwartier.csv (8 kwartieren aangevuld bij klokwissels)" in page

    gap = upload(client, site, year_csv(take, feed, drop=1000), name="gat.csv")
    assert gap.status_code == 400
    assert "gat.csv: 1 ontbrekend(e) kwartier(en)" in text_of(gap)
    db.session.refresh(grid)
    assert grid.metered_info["file"] == "kwartier.csv"  # nothing half-written

    plan = client.post(f"/sites/{site.id}/energy/plans", data={
        "plan-kind": "trucks", "plan-direction": "take", "plan-kw": "120",
        "plan-from_year": "2027", "plan-shape": "", "plan-waiting_since": "2024-03-01"})
    assert plan.status_code == 302
    stored = db.session.scalar(sa.select(ExpansionPlan).where(ExpansionPlan.site_id == site.id))
    assert (stored.kw, stored.shape, stored.direction.value) == (120.0, "night", "take")
    solar = client.post(f"/sites/{site.id}/energy/plans", data={
        "plan-kind": "solar", "plan-direction": "take", "plan-kw": "80",
        "plan-from_year": "2026"})
    assert solar.status_code == 302  # solar always feeds in, whatever the select said
    assert {p.direction.value for p in db.session.scalars(sa.select(ExpansionPlan))} == {
        "take", "feed"}


def test_without_metering_the_estimate_is_used_and_marked(client, make, auth, text_of):
    user = make.user(Role.MEMBER)
    site = make.site(user.organisation)
    db.session.add(EnergyAsset(site_id=site.id, kind=AssetKind.CONSUMPTION, annual_kwh=35_040.0,
                               profile_category="g0"))
    db.session.flush()
    auth.login(user)
    page = text_of(client.get(f"/sites/{site.id}/energy"))
    assert "Schatting" in page and "Afname 35.040 kWh" in page


def login(auth, user):
    auth.logout()
    auth.login(user)


def make_hub(client, auth, make, park, **extra):
    coordinator = make.user(Role.COORDINATOR)
    login(auth, coordinator)
    response = client.post("/coordinator/hubs", data={
        "name": "Hub Messchenveld", "source": "park", "park_id": park["area"].id, **extra})
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalar(sa.select(Hub).order_by(Hub.id.desc())), coordinator


def consent(client, auth, user, site, hub, *, name=True):
    login(auth, user)
    response = client.post(f"/sites/{site.id}/hubs/{hub.id}/consent", data={
        "consent_profile": "y", **({"consent_name": "y"} if name else {})})
    assert response.status_code == 302


def test_coordinator_builds_a_hub_and_reads_numbers_that_match_the_profiles(
        client, auth, make, park, text_of):
    take, feed = cold_store_year()
    login(auth, park["user"])
    upload(client, park["metered"], year_csv(take, feed))
    client.post(f"/sites/{park['metered'].id}/energy/grid", data={"contracted_take_kw": "150",
                                                                   "contracted_feed_kw": "20"})
    hub, coordinator = make_hub(client, auth, make, park)
    assert {m.site_id for m in hub.members} == {park[k].id for k in ("metered", "office",
                                                                      "workshop")}
    refused = client.post(f"/coordinator/hubs/{hub.id}/analyse")
    assert "Nog geen pand in deze hub heeft toestemming" in text_of(client.get(
        refused.headers["Location"]))

    consent(client, auth, park["user"], park["metered"], hub)
    office_user = make.user(Role.MEMBER, organisation=park["office"].organisation)
    consent(client, auth, office_user, park["office"], hub, name=False)
    login(auth, coordinator)
    response = client.post(f"/coordinator/hubs/{hub.id}/analyse")
    assert response.status_code == 302
    analysis = db.session.scalar(sa.select(HubAnalysis).where(HubAnalysis.hub_id == hub.id))
    assert analysis.status.value == "done", analysis.error
    result = analysis.result

    # Independently: the metered year laid on 2023 by date and clock time, the office's
    # estimate on the BDEW quarter hours of g1.
    grid = db.session.scalar(sa.select(GridConnection).where(
        GridConnection.site_id == park["metered"].id))
    metered_take, metered_feed = grid.quarter_hours()
    office = consumption_quarter_hours(annual_kwh=120_000.0, category="g1")
    net = (metered_take + office - metered_feed) * 4
    assert result["group_peak_take_kw"] == pytest.approx(net.max(), rel=1e-5)
    own = metered_take.max() * 4 + office.max() * 4
    assert result["sum_own_peak_take_kw"] == pytest.approx(own, rel=1e-5)
    # Contracts: the metered site's own, the office's own peak (no contract, no kVA).
    assert result["sum_contracted_take_kw"] == pytest.approx(150 + office.max() * 4, rel=1e-5)
    assert result["exchanged_kwh"] == pytest.approx(np.minimum(
        metered_take + office, metered_feed).sum(), rel=1e-4)
    assert (result["left_out_consent"], result["measured"], result["estimated"]) == (1, 1, 1)

    page = text_of(client.get(f"/coordinator/hubs/{hub.id}"))
    assert "1 pand weggelaten wegens ontbrekende toestemming" in page
    assert f"{result['group_peak_take_kw']:,.0f} kW".replace(",", ".") in page
    assert "Koelhuis BV" in page  # coordinators see who is in the hub
    heat = client.get(f"/coordinator/hubs/{hub.id}/analyses/{analysis.id}/heatmap.png")
    assert heat.status_code == 200 and heat.data[:8] == b"\x89PNG\r\n\x1a\n"

    client.post("/language", data={"lang": "en"})
    english = text_of(client.get(f"/coordinator/hubs/{hub.id}"))
    assert "1 site left out for lack of consent" in english and "Shared battery" in english


def test_dossier_names_only_who_consented_and_waits_for_a_new_analysis(
        client, auth, make, park, text_of):
    db.session.add(EnergyAsset(site_id=park["metered"].id, kind=AssetKind.CONSUMPTION,
                               annual_kwh=200_000.0, profile_category="g3"))
    hub, coordinator = make_hub(client, auth, make, park)
    consent(client, auth, park["user"], park["metered"], hub, name=True)
    office_user = make.user(Role.MEMBER, organisation=park["office"].organisation)
    consent(client, auth, office_user, park["office"], hub, name=False)
    login(auth, coordinator)
    client.post(f"/coordinator/hubs/{hub.id}/analyse")
    analysis = db.session.scalar(sa.select(HubAnalysis).where(HubAnalysis.hub_id == hub.id))
    assert analysis.status.value == "done", analysis.error
    response = client.get(f"/coordinator/hubs/{hub.id}/analyses/{analysis.id}/dossier.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = {n.split("/", 1)[1] for n in archive.namelist()}
    assert {"groepsprofiel_kwartier.csv", "deelnemers.csv", "aannames.txt", "duurkromme.svg",
            "jaar_heatmap.png", "samenvatting.html", "kerncijfers.json"} <= names
    everything = b"".join(archive.read(n) for n in archive.namelist())
    assert b"Koelhuis BV" in everything
    assert b"Kantoor BV" not in everything and b"Werkplaats BV" not in everything
    participants = archive.read(f"energiehub-{hub.id}/deelnemers.csv").decode("utf-8-sig")
    assert "deelnemer 2" in participants  # the office, numbered by site
    profile = pd.read_csv(io.StringIO(archive.read(
        f"energiehub-{hub.id}/groepsprofiel_kwartier.csv").decode("utf-8-sig")), sep=";",
        decimal=",")
    assert len(profile) == 35040 and profile["tijdstip"].iloc[0] == "2023-01-01T00:00+01:00"
    key = json.loads(archive.read(f"energiehub-{hub.id}/kerncijfers.json"))
    assert profile["netto_kw"].max() == pytest.approx(key["group_peak_take_kw"], abs=0.01)

    login(auth, office_user)
    client.post(f"/sites/{park['office'].id}/hubs/{hub.id}/consent", data={})
    login(auth, coordinator)
    refused = client.get(f"/coordinator/hubs/{hub.id}/analyses/{analysis.id}/dossier.zip")
    assert refused.status_code == 302
    assert "ingetrokken" in text_of(client.get(refused.headers["Location"]))


def test_battery_group_buy_starts_as_a_draft_with_the_size(client, auth, make, park):
    hub, coordinator = make_hub(client, auth, make, park)
    for key in ("office", "workshop"):
        user = make.user(Role.MEMBER, organisation=park[key].organisation)
        consent(client, auth, user, park[key], hub)
    login(auth, coordinator)
    client.post(f"/coordinator/hubs/{hub.id}/analyse")
    analysis = db.session.scalar(sa.select(HubAnalysis).where(HubAnalysis.hub_id == hub.id))
    battery = analysis.result["battery"]
    assert battery["feasible"] and battery["suggested"]
    response = client.post(
        f"/coordinator/hubs/{hub.id}/analyses/{analysis.id}/battery-campaign")
    assert response.status_code == 302
    campaign = db.session.scalar(sa.select(Campaign).order_by(Campaign.id.desc()))
    assert campaign.state == CampaignState.DRAFT and campaign.product.code == "battery"
    assert campaign.threshold_quantity == int(np.ceil(battery["kwh"]))
    assert [a.id for a in campaign.areas] == [park["area"].id]
    assert response.headers["Location"].endswith(f"/coordinator/campaigns/{campaign.id}/edit")


def test_hubs_from_a_drawn_area_a_bundle_and_by_hand(client, auth, make, park, text_of):
    coordinator = make.user(Role.COORDINATOR)
    login(auth, coordinator)
    ring = [[6.55, 52.98], [6.58, 52.98], [6.58, 53.0], [6.55, 53.0], [6.55, 52.98]]
    drawn = client.post("/coordinator/hubs", data={
        "name": "Getekend", "source": "area",
        "polygon": json.dumps({"type": "Polygon", "coordinates": [ring]})})
    assert drawn.status_code == 302
    bundle = client.post("/coordinator/hubs", data={
        "name": "Bundel", "source": "bundle", "postcode": park["office"].postcode,
        "house_number": park["office"].house_number, "max_gap_m": "250"})
    assert bundle.status_code == 302
    hubs = {h.name: {m.site_id for m in h.members} for h in db.session.scalars(sa.select(Hub))}
    # The office is 224 m from the cold store and 283 m from the workshop.
    assert hubs["Bundel"] == {park["office"].id, park["metered"].id}
    manual = client.post("/coordinator/hubs", data={"name": "Los", "source": "manual"})
    hub_id = int(manual.headers["Location"].rsplit("/", 1)[1])
    added = client.post(f"/coordinator/hubs/{hub_id}/sites", data={
        "postcode": park["outside"].postcode, "house_number": park["outside"].house_number})
    assert added.status_code == 302
    again = client.post(f"/coordinator/hubs/{hub_id}/sites", data={
        "postcode": park["outside"].postcode, "house_number": park["outside"].house_number})
    assert again.status_code == 400 and "al in de hub" in text_of(again)
    nobody = client.post(f"/coordinator/hubs/{hub_id}/sites", data={
        "postcode": "9999 ZZ", "house_number": "1"})
    assert nobody.status_code == 400


def test_members_cannot_see_hubs_or_consent_for_someone_else(client, auth, make, park):
    hub, _coordinator = make_hub(client, auth, make, park)
    login(auth, park["user"])
    assert client.get(f"/coordinator/hubs/{hub.id}").status_code == 403
    assert client.get("/coordinator/hubs").status_code == 403
    other = client.post(f"/sites/{park['office'].id}/hubs/{hub.id}/consent",
                        data={"consent_profile": "y"})
    assert other.status_code == 404
    member = db.session.get(HubSite, (hub.id, park["office"].id))
    assert not member.consent_profile


def test_members_data_download_and_erasure_cover_grid_data_and_hub_consent(
        client, auth, make, park):
    hub, _coordinator = make_hub(client, auth, make, park)
    consent(client, auth, park["user"], park["metered"], hub)
    take, feed = cold_store_year()
    assert upload(client, park["metered"], year_csv(take, feed)).status_code == 302
    client.post(f"/sites/{park['metered'].id}/energy/plans", data={
        "plan-kind": "heat_pump", "plan-direction": "take", "plan-kw": "40",
        "plan-from_year": "2027", "plan-note": "Hal 3"})
    archive = zipfile.ZipFile(io.BytesIO(client.get("/organisation/data.zip").data))
    data = json.loads(archive.read("data.json"))
    assert data["grid_connections"][0]["metered_info"]["file"] == "kwartier.csv"
    assert "quarter_take" not in data["grid_connections"][0]
    assert data["expansion_plans"][0]["note"] == "Hal 3"
    assert data["hub_consents"][0]["consent_profile"] is True
    erased = client.post("/organisation/erase",
                         data={"confirm_name": park["user"].organisation.name})
    assert erased.status_code == 302
    grid = db.session.scalar(sa.select(GridConnection).where(
        GridConnection.site_id == park["metered"].id))
    assert grid.quarter_hours() is None and grid.metered_info is None
    assert not db.session.get(HubSite, (hub.id, park["metered"].id)).consent_profile


def test_hub_list_counts_sites_and_consent(client, auth, make, park, text_of):
    hub, coordinator = make_hub(client, auth, make, park)
    consent(client, auth, park["user"], park["metered"], hub)
    login(auth, coordinator)
    row = text_of(client.get("/coordinator/hubs"))
    assert "Hub Messchenveld een bedrijventerrein 3 1" in row
