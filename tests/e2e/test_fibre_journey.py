"""A fibre provider defines a 30 % check over the demo parks and reads it, in Chromium: per
park the percentage, the count still needed and the trend on a map and chart; the GeoJSON
download; the same numbers through the API with a token; names only of those who consented."""

import json
import urllib.request
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from matchmaker.demo import DEMO_ACCOUNTS

from .test_foundation_journey import login

pytestmark = pytest.mark.e2e


def test_provider_defines_a_30_percent_check_over_the_parks(page, live_server, tmp_path):
    login(page, DEMO_ACCOUNTS["provider"])
    page.get_by_role("navigation").get_by_role("link", name="Vraagchecks glasvezel").click()
    page.get_by_role("link", name="Nieuwe vraagcheck").click()
    page.get_by_label("Titel").fill("Glasvezel parken 30 %")
    page.get_by_label("Drempel", exact=True).fill("30")
    page.get_by_label("Deadline").fill((date.today() + timedelta(days=60)).isoformat())
    for park in ("Assen-Zuid", "Industrieterrein Noord", "Messchenveld", "Stadsbedrijvenpark"):
        page.get_by_label(f"{park} (bedrijventerrein)").check()
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("De vraagcheck is opgeslagen")).to_be_visible()

    row = page.locator("tr[data-area]", has_text="Stadsbedrijvenpark").first
    assert row.get_attribute("data-percent")  # a percentage is shown
    assert "drempel gehaald" in row.inner_text()
    messchenveld = page.locator("tr[data-area]", has_text="Messchenveld").first
    needed = int(messchenveld.get_attribute("data-needed"))
    assert needed > 0 and str(needed) in messchenveld.locator(".still-needed").inner_text()
    assert "verborgen" in page.locator("tr[data-area]", has_text="Assen-Zuid").first.inner_text()
    page.wait_for_selector("#fibre-map[data-features-loaded='4']", state="attached")
    assert page.locator(".trend-chart .line-committed").count() >= 1
    page.screenshot(path="/tmp/e2e-fibre-check.png", full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name="GeoJSON downloaden").click()
    path = tmp_path / "progress.geojson"
    info.value.save_as(path)
    data = json.loads(path.read_text())
    parks = {f["properties"]["name"]: f["properties"] for f in data["features"]
             if f["properties"]["kind"] == "region"}
    assert parks["Stadsbedrijvenpark"]["passes"] is True
    assert parks["Messchenveld"]["still_needed"] == needed

    page.get_by_role("link", name="Namen en adressen van leden die toestemming gaven").click()
    listed = page.locator("tbody tr").count()
    assert 1 <= listed <= 10  # the demo's few consents, not everyone

    # The same numbers through the API, with a token made on the command line's service.
    engine = sa.create_engine(live_server.database_url)
    with engine.begin() as conn:
        check_id = conn.execute(sa.text(
            "SELECT id FROM fibre_checks WHERE title = 'Glasvezel parken 30 %'")).scalar_one()
        provider_id = conn.execute(sa.text("SELECT id FROM users WHERE email = :e"),
                                   {"e": DEMO_ACCOUNTS["provider"]}).scalar_one()
    engine.dispose()
    token = issue(live_server, provider_id)
    progress = get_json(f"{live_server.url}/api/v1/checks/{check_id}/progress", token)
    api = {a["name"]: a for a in progress["progress"] if a["kind"] == "region"}
    assert api["Messchenveld"]["still_needed"] == needed
    assert api["Stadsbedrijvenpark"]["percent"] == parks["Stadsbedrijvenpark"]["percent"]
    addresses = get_json(f"{live_server.url}/api/v1/checks/{check_id}/addresses", token)
    assert len(addresses["addresses"]) == listed


def issue(live_server, provider_id):
    from matchmaker import create_app
    from matchmaker.api.services import issue_token
    from matchmaker.auth.models import User
    from matchmaker.database import write_intent
    from matchmaker.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": live_server.database_url,
                      "RATELIMIT_ENABLED": False})
    with app.app_context(), write_intent():
        _row, token = issue_token(db.session.get(User, provider_id), actor=None)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return token


def get_json(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())
