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


#: What the journey reads and clicks, in each language (the catalogue's texts).
TEXTS = {
    "nl": {"add_site": "Pand toevoegen", "postcode": "Postcode", "number": "Huisnummer",
           "site_name": "Naam van het pand", "roof": "Oppervlakte plat dak (m²)",
           "roof_value": "1.000", "added": "is toegevoegd", "solar": "Zonnepanelen",
           "fibre": "Glasvezel", "interest": "Interesse doorgeven", "quantity": "Hoeveelheid",
           "save": "Opslaan", "stage": "Status", "providers": "Aanbieders mogen",
           "search": "Zoeken", "product": "Product", "filter": "Filteren",
           "csv": "CSV exporteren", "solar_product": "Zonnepanelen op dak"},
    "en": {"add_site": "Add site", "postcode": "Postcode", "number": "House number",
           "site_name": "Name of the site", "roof": "Flat roof area (m²)",
           "roof_value": "1,000", "added": "is added", "solar": "Solar panels",
           "fibre": "Fibre", "interest": "Register interest", "quantity": "Quantity",
           "save": "Save", "stage": "Stage", "providers": "Providers may see",
           "search": "Search", "product": "Product", "filter": "Filter",
           "csv": "Export CSV", "solar_product": "Solar panels on roof"},
}


@pytest.mark.parametrize(("lang", "viewport"), [("nl", "desktop"), ("en", "phone")])
def test_member_registers_demand_and_coordinator_exports_it(browser, live_server, lang, viewport):
    """In Dutch on a desktop and in English on a 390 px phone; every step reads right (no
    script error, no horizontal scrollbar, no text or number of the other language)."""
    from .test_every_journey_reads_right import VIEWPORTS, login_as, problems_on, reset_language

    t = TEXTS[lang]
    postcode, number = free_business_address(live_server)
    hall = f"Nieuwe hal {lang}"
    context = browser.new_context(base_url=live_server.url, accept_downloads=True,
                                  viewport=VIEWPORTS[viewport],
                                  locale="nl-NL" if lang == "nl" else "en-GB")
    context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    problems: dict[str, list[str]] = {}

    def check(step: str) -> None:
        page.wait_for_load_state("networkidle")
        found = problems_on(page, lang)
        if found:
            problems[step] = found

    try:
        login_as(page, DEMO_ACCOUNTS["member"], lang)
        page.get_by_role("link", name=t["add_site"]).first.click()
        check("new site")
        page.get_by_label(t["postcode"]).fill(postcode.replace(" ", "").lower())
        page.get_by_label(t["number"]).fill(str(number))
        page.get_by_label(t["site_name"]).fill(hall)
        page.get_by_label(t["roof"]).fill(t["roof_value"])
        page.get_by_role("button", name=t["add_site"]).click()
        expect(page.get_by_text(t["added"])).to_be_visible()
        check("dashboard with the new site")

        site = page.locator("section.site", has_text=hall)
        site.get_by_role("row", name=re.compile(t["solar"])).get_by_role(
            "link", name=t["interest"]).click()
        assert page.get_by_label(t["quantity"]).input_value() == "150"  # 1000 m² × 0.15 kWp/m²
        check("demand form")
        page.get_by_role("button", name=t["save"]).click()

        site = page.locator("section.site", has_text=hall)
        site.get_by_role("row", name=re.compile(t["fibre"])).get_by_role(
            "link", name=t["interest"]).click()
        page.get_by_label(t["stage"], exact=True).select_option("committed")
        page.get_by_label(t["providers"]).check()
        page.get_by_role("button", name=t["save"]).click()
        site = page.locator("section.site", has_text=hall)
        assert "150\xa0kWp" in site.inner_text()  # number and unit never split over lines
        check("dashboard with demand")
        page.screenshot(path=f"/tmp/e2e-member-dashboard-{lang}-{viewport}.png", full_page=True)

        context.clear_cookies()
        login_as(page, DEMO_ACCOUNTS["coordinator"], lang)
        page.goto("/coordinator/demand")
        page.get_by_label(t["search"]).fill(postcode)
        page.get_by_label(t["product"]).select_option("solar_roof")
        page.get_by_role("button", name=t["filter"]).click()
        row = page.get_by_role("row", name=re.compile(rf"\s{number}, {re.escape(postcode)}"))
        assert "150\xa0kWp" in row.inner_text()
        page.wait_for_selector("#demand-map[data-sites-loaded]", state="attached")
        # The map shows the filtered sites: one per row of the table (one demand per site here).
        rows_shown = page.locator("table tbody tr").count()
        assert rows_shown >= 1
        assert page.locator("#demand-map").get_attribute("data-sites-loaded") == str(rows_shown)
        assert page.locator("#demand-map path.leaflet-interactive").count() >= 1
        check("demand table")
        page.screenshot(path=f"/tmp/e2e-coordinator-demand-{lang}-{viewport}.png", full_page=True)

        with page.expect_download() as download_info:
            page.get_by_role("link", name=t["csv"]).click()
        content = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(content), delimiter=";"))
        # Headers in the user's language (a spreadsheet in that language), numbers as numbers.
        postcode_h, number_h, quantity_h, product_h = (
            ("Postcode", "Huisnummer", "Hoeveelheid", "Product") if lang == "nl"
            else ("Postcode", "House number", "Quantity", "Product"))
        mine = [r for r in rows if r[postcode_h] == postcode and r[number_h] == str(number)]
        assert [r[quantity_h] for r in mine] == ["150"]
        assert all(r[product_h] == t["solar_product"] for r in rows)
    finally:
        reset_language(page, [DEMO_ACCOUNTS["member"], DEMO_ACCOUNTS["coordinator"]], lang)
        context.close()
    assert not errors, f"script errors: {errors}"
    assert not problems, problems
