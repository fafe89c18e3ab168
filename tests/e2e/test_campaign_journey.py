"""A member joins an open group buy and accepts the personal offer of another, in Chromium."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from matchmaker.demo import DEMO_ACCOUNTS

from .test_foundation_journey import login

pytestmark = pytest.mark.e2e


def query(live_server, sql, **params):
    engine = sa.create_engine(live_server.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).one()
    finally:
        engine.dispose()


def test_member_joins_a_group_buy_and_accepts_an_offer(page, live_server):
    (site_id,) = query(live_server, "SELECT s.id FROM sites s JOIN users u "
                       "ON u.organisation_id = s.organisation_id WHERE u.email = :email "
                       "ORDER BY s.id LIMIT 1", email=DEMO_ACCOUNTS["member"])
    (kwp,) = query(live_server, "SELECT d.quantity FROM demands d JOIN products p "
                   "ON p.id = d.product_id WHERE d.site_id = :site AND p.code = 'solar_roof'",
                   site=site_id)
    kwp = kwp / 1000  # stored as thousandths (matchmaker.types.ScaledDecimal)
    dutch = f"{kwp:g}".replace(".", ",")
    login(page, DEMO_ACCOUNTS["member"])
    page.get_by_role("navigation").get_by_role("link", name="Inkoopacties").click()
    card = page.locator("section.campaign-card", has_text="Zonnepanelen Stadsbedrijvenpark")
    card.get_by_role("link", name="Bekijken en meedoen").click()

    progress = page.locator(".progress").first
    before = float(progress.get_attribute("data-volume"))
    site = page.locator(f"#site-{site_id}")
    quantity = site.get_by_label("Hoeveelheid")
    assert quantity.input_value() == dutch  # pre-filled from the registered demand
    site.get_by_role("button", name="Meedoen (vrijblijvend)").click()
    expect(page.get_by_text("doet mee. Dit is nog vrijblijvend")).to_be_visible()
    assert f"aangemeld: {dutch} kWp" in page.locator(f"#site-{site_id}").inner_text()
    after = float(page.locator(".progress").first.get_attribute("data-volume"))
    assert after == pytest.approx(before + kwp)
    page.wait_for_selector("#campaign-map[data-features-loaded]", state="attached")
    page.screenshot(path="/tmp/e2e-campaign-joined.png", full_page=True)

    page.get_by_role("navigation").get_by_role("link", name="Inkoopacties").click()
    page.locator("section.campaign-card", has_text="Isolatie Stadsbedrijvenpark").get_by_role(
        "link", name="Bekijken").click()
    offer = page.locator(f"#site-{site_id} .offer")
    assert "wacht op uw besluit" in offer.inner_text()
    assert re.search(r"Totaal \(excl\. btw\)\s*€\s*[\d.]+,\d\d", offer.inner_text())
    page.once("dialog", lambda dialog: dialog.accept())  # "Accepting is binding. Accept?"
    offer.get_by_role("button", name="Aanbod aanvaarden (bindend)").click()
    expect(page.get_by_text("U hebt het aanbod aanvaard")).to_be_visible()
    assert "aanvaard" in page.locator(f"#site-{site_id} .offer").inner_text()
    page.screenshot(path="/tmp/e2e-campaign-accepted.png", full_page=True)

    (status,) = query(live_server, "SELECT o.status FROM offers o JOIN participations p "
                      "ON p.id = o.participation_id JOIN campaigns c ON c.id = p.campaign_id "
                      "WHERE p.site_id = :site AND c.title = 'Isolatie Stadsbedrijvenpark'",
                      site=site_id)
    assert status == "accepted"
