"""Energy hubs in Chromium: a member enters its contract, uploads a year of quarter hours, adds
an expansion plan and consents; a coordinator builds the demo park's hub, reads its numbers,
downloads the dossier and starts the battery group buy."""

import io
import json
import re
import zipfile

import numpy as np
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from geo.hub_profiles import quarter_hours
from matchmaker.demo import DEMO_ACCOUNTS
from matchmaker.hub.demo import DEMO_PARK

from .test_foundation_journey import login

pytestmark = pytest.mark.e2e
HUB = f"Energiehub {DEMO_PARK}"


def query(live_server, sql, **params):
    engine = sa.create_engine(live_server.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).one()
    finally:
        engine.dispose()


def quarter_hour_file(path):
    """A year of 2025 as a grid operator's portal exports it: Dutch clock time, semicolons."""
    index = quarter_hours(2025).tz_convert("Europe/Amsterdam")
    hour = index.hour.to_numpy()
    take = np.where((hour >= 7) & (hour < 18), 9.0, 2.5)
    feed = np.where((hour >= 11) & (hour < 15), 6.0, 0.0)
    lines = ["tijdstip;afname_kwh;invoeding_kwh"] + [
        f"{t:%Y-%m-%d %H:%M};{a:.2f};{b:.2f}".replace(".", ",")
        for t, a, b in zip(index, take, feed, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return float(take.sum())


def member_journey(page, live_server, tmp_path):
    (site_id,) = query(live_server, "SELECT s.id FROM sites s JOIN users u "
                       "ON u.organisation_id = s.organisation_id WHERE u.email = :email "
                       "ORDER BY s.id LIMIT 1", email=DEMO_ACCOUNTS["member"])
    login(page, DEMO_ACCOUNTS["member"])
    page.locator(f"a[href='/sites/{site_id}/energy']").first.click()
    grid = page.locator("#grid")
    grid.get_by_label("Gecontracteerd transportvermogen afname (kW)").fill("160")
    grid.get_by_label("Gecontracteerd transportvermogen invoeding (kW)").fill("100")
    grid.get_by_role("button", name="Netaansluiting opslaan").click()
    expect(page.get_by_text("De netaansluiting van dit pand is opgeslagen")).to_be_visible()
    assert "Schatting" in page.locator("#hub-profile").inner_text()

    year = tmp_path / "kwartierwaarden-2025.csv"
    take_kwh = quarter_hour_file(year)
    page.locator("#quarter-hours").get_by_label("Kwartierwaarden (CSV)").set_input_files(year)
    page.locator("#quarter-hours").get_by_role("button", name="Uploaden").click()
    expect(page.get_by_text("energiehubs gebruiken nu het gemeten profiel")).to_be_visible()
    profile = page.locator("#hub-profile").inner_text()
    assert "Gemeten" in profile and "kwartierwaarden-2025.csv" in profile
    assert f"Afname {take_kwh:,.0f} kWh".replace(",", ".") in profile

    plans = page.locator("#plans")
    plans.get_by_label("Wat").select_option(label="Vrachtwagens of bestelbussen laden")
    plans.get_by_label("Extra vermogen (kW)").fill("120")
    plans.get_by_label("Vanaf het jaar").fill("2027")
    plans.get_by_label("Aangevraagd bij de netbeheerder op").fill("2024-05-01")
    plans.get_by_role("button", name="Plan toevoegen").click()
    expect(page.get_by_text("Het uitbreidingsplan is toegevoegd")).to_be_visible()
    assert "'s nachts (19–7 uur)" in page.locator("#plans table").inner_text()

    hub = page.locator("#hubs form.consent", has_text=HUB)
    hub.get_by_label("De coördinator mag het profiel van dit pand in deze energiehub gebruiken"
                     ).check()
    hub.get_by_role("button", name="Toestemming opslaan").click()
    expect(page.get_by_text(f"Dank u: {HUB} mag het profiel van dit pand gebruiken")).to_be_visible()
    page.screenshot(path="/tmp/e2e-hub-member.png", full_page=True)
    page.get_by_role("button", name="Uitloggen").click()
    return site_id


def test_member_shares_its_data_and_coordinator_analyses_the_hub(page, live_server, tmp_path):
    site_id = member_journey(page, live_server, tmp_path)

    login(page, DEMO_ACCOUNTS["coordinator"])
    page.get_by_role("navigation").get_by_role("link", name="Energiehubs").click()
    new = page.locator("#new-hub")
    new.get_by_label("Naam van de hub").fill("Hub Stadsbedrijvenpark 2027")
    new.get_by_label("een bedrijventerrein").check()
    new.get_by_label("Bedrijventerrein", exact=True).select_option(label=DEMO_PARK)
    new.get_by_role("button", name="Hub maken").click()
    expect(page.get_by_text("De hub is gemaakt")).to_be_visible()
    (sites,) = query(live_server, "SELECT count(*) FROM hub_sites h JOIN hubs ON hubs.id = "
                     "h.hub_id WHERE hubs.name = 'Hub Stadsbedrijvenpark 2027'")
    assert f"{sites} panden in deze hub; 0 gaven toestemming" in page.locator(
        "#participants").inner_text()

    # The demo park's hub, where the members consented: analyse it again with the member's
    # new data and read its numbers.
    page.get_by_role("navigation").get_by_role("link", name="Energiehubs").click()
    page.get_by_role("link", name=HUB).click()
    page.get_by_role("button", name="Hub analyseren").click()
    # The analysis runs in the background (the app's worker thread); wait for it to finish.
    result = None
    for _ in range(240):
        (result,) = query(live_server, "SELECT a.result FROM hub_analyses a JOIN hubs h "
                          "ON h.id = a.hub_id WHERE h.name = :name ORDER BY a.id DESC LIMIT 1",
                          name=HUB)
        if result is not None:
            break
        page.wait_for_timeout(500)
    # The page follows the job itself and reloads when it is done (job-progress.js); until
    # then it shows the earlier analysis beside the progress bar.
    page.locator("#hub-progress").wait_for(state="detached", timeout=60_000)
    analysis = page.locator("#analysis")
    analysis.locator("#group-peak").wait_for()
    result = json.loads(result)
    assert site_id in [p["site_id"] for p in result["participants"]]
    peak = analysis.locator("#group-peak").inner_text()
    assert peak == f"{result['group_peak_take_kw']:,.0f} kW".replace(",", ".")
    freed = analysis.locator("#freed-capacity").inner_text()
    assert freed == f"{result['freed_take_kw']:,.0f} kW".replace(",", ".")
    chosen = analysis.locator("#curtail-table tr.chosen").inner_text()
    assert re.match(r"50\s", chosen)
    expect(analysis.get_by_role("img", name="Belastingduurkromme van de groep")).to_be_visible()
    expect(analysis.get_by_role("img", name="Benodigde batterij per doelpiek")).to_be_visible()
    assert "past niet" in analysis.locator("#plans-table").inner_text()
    heat_map = analysis.get_by_role("img", name=re.compile("De netto belasting van de groep"))
    heat_map.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 730",
                           arg=heat_map.element_handle())
    page.screenshot(path="/tmp/e2e-hub-analysis.png", full_page=True)

    with page.expect_download() as download:
        analysis.get_by_role("link", name="Dossier voor de netbeheerder (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
    names = {name.split("/", 1)[1] for name in archive.namelist()}
    assert {"groepsprofiel_kwartier.csv", "deelnemers.csv", "samenvatting.html",
            "jaar_heatmap.png", "duurkromme.svg"} <= names
    participants = next(n for n in archive.namelist() if n.endswith("deelnemers.csv"))
    assert "deelnemer " in archive.read(participants).decode("utf-8-sig")

    battery = result["battery"]
    analysis.get_by_role("button", name="Inkoopactie voor deze batterij starten").click()
    expect(page.get_by_text("concept-inkoopactie voor de gedeelde batterij")).to_be_visible()
    assert page.get_by_label("Titel").input_value() == f"Gedeelde batterij {HUB}"
    threshold = page.get_by_label(re.compile("Drempel: minimale totale hoeveelheid"))
    assert threshold.input_value() == str(int(np.ceil(battery["kwh"])))
    (product,) = query(live_server, "SELECT p.code FROM campaigns c JOIN products p "
                       "ON p.id = c.product_id ORDER BY c.id DESC LIMIT 1")
    assert product == "battery"
    page.screenshot(path="/tmp/e2e-hub-battery-campaign.png", full_page=True)
