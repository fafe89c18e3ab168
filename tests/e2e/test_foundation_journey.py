"""A member adds a site and registers demand; a coordinator sees it and exports it."""

import csv
import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from matchmaker.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

pytestmark = pytest.mark.e2e


def login(page, email):
    page.goto("/login")
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Inloggen").click()


def free_business_address(live_server):
    """A register address that no demo organisation uses yet."""
    engine = sa.create_engine(live_server.database_url)
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT postcode, house_number FROM address_records a "
            "WHERE a.use NOT LIKE 'woon%' AND a.addition = '' AND NOT EXISTS ("
            " SELECT 1 FROM sites s WHERE s.postcode = a.postcode "
            " AND s.house_number = a.house_number) ORDER BY a.id LIMIT 1")).one()
    engine.dispose()
    return row


def test_member_registers_demand_and_coordinator_exports_it(page, live_server):
    postcode, number = free_business_address(live_server)

    login(page, DEMO_ACCOUNTS["member"])
    page.get_by_role("link", name="Pand toevoegen").first.click()
    page.get_by_label("Postcode").fill(postcode.replace(" ", "").lower())
    page.get_by_label("Huisnummer").fill(str(number))
    page.get_by_label("Naam van het pand").fill("Nieuwe hal")
    page.get_by_label("Oppervlakte plat dak (m²)").fill("1.000")
    page.get_by_role("button", name="Pand toevoegen").click()
    expect(page.get_by_text("is toegevoegd")).to_be_visible()

    site = page.locator("section.site", has_text="Nieuwe hal")
    site.get_by_role("row", name=re.compile("Zonnepanelen")).get_by_role(
        "link", name="Interesse doorgeven").click()
    assert page.get_by_label("Hoeveelheid").input_value() == "150"  # 1000 m² × 0,15 kWp/m²
    page.get_by_role("button", name="Opslaan").click()

    site = page.locator("section.site", has_text="Nieuwe hal")
    site.get_by_role("row", name=re.compile("Glasvezel")).get_by_role(
        "link", name="Interesse doorgeven").click()
    page.get_by_label("Status").select_option("committed")
    page.get_by_label("Aanbieders mogen").check()
    page.get_by_role("button", name="Opslaan").click()
    site = page.locator("section.site", has_text="Nieuwe hal")
    assert "150\xa0kWp" in site.inner_text()  # number and unit never split over lines
    page.screenshot(path="/tmp/e2e-member-dashboard.png", full_page=True)

    page.get_by_role("button", name="Uitloggen").click()
    login(page, DEMO_ACCOUNTS["coordinator"])
    page.goto("/coordinator/demand")
    page.get_by_label("Zoeken").fill(postcode)
    page.get_by_label("Product").select_option("solar_roof")
    page.get_by_role("button", name="Filteren").click()
    row = page.get_by_role("row", name=re.compile(f"{number}.*{postcode}"))
    assert "150\xa0kWp" in row.inner_text()
    page.wait_for_selector("#demand-map[data-sites-loaded]", state="attached")
    # The map shows the filtered sites: one per row of the table (one demand per site here).
    rows_shown = page.locator("table tbody tr").count()
    assert rows_shown >= 1
    assert page.locator("#demand-map").get_attribute("data-sites-loaded") == str(rows_shown)
    assert page.locator("#demand-map path.leaflet-interactive").count() >= 1
    page.screenshot(path="/tmp/e2e-coordinator-demand.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV exporteren").click()
    content = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content), delimiter=";"))
    # Headers in the member's language (a Dutch spreadsheet), numbers as numbers.
    mine = [r for r in rows if r["Postcode"] == postcode and r["Huisnummer"] == str(number)]
    assert [r["Hoeveelheid"] for r in mine] == ["150"]
    assert all(r["Product"] == "Zonnepanelen op dak" for r in rows)
