"""Owner consent both ways, in Chromium: a member owner says "not my building", the tenant
asks an owner by e-mail who declines, then another who consents; each side reads what
happens next, and the tenant's group-buy page shows the request's state throughout."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from matchmaker.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

from .test_foundation_journey import login

pytestmark = pytest.mark.e2e

TENANT = "huurder@demo.example"
CAMPAIGN = "Zonnepanelen Stadsbedrijvenpark 2027"


def tenant_of_the_demo_member(live_server) -> tuple[int, int, str]:
    """The demo's tenant on the park (it rents from the demo member's company), with a
    login of its own: (campaign id, site id, address)."""
    from matchmaker import create_app
    from matchmaker.auth.models import Role
    from matchmaker.auth.services import create_user
    from matchmaker.campaigns.models import Campaign, Participation
    from matchmaker.database import write_intent
    from matchmaker.extensions import db
    from matchmaker.members.models import Site, Tenure

    app = create_app({"SQLALCHEMY_DATABASE_URI": live_server.database_url,
                      "RATELIMIT_ENABLED": False})
    with app.app_context(), write_intent():
        participation = db.session.scalars(
            sa.select(Participation).join(Participation.campaign).join(Participation.site)
            .where(Campaign.title == CAMPAIGN, Site.tenure == Tenure.TENANT,
                   Site.owner_organisation_id.is_not(None))).first()
        assert participation is not None
        site = participation.site
        user = create_user(TENANT, DEMO_PASSWORD, role=Role.MEMBER, actor=None,
                           organisation=site.organisation, is_demo=True)
        user.locale = "nl"
        result = participation.campaign_id, site.id, site.address
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return result


def last_consent_link(live_server, recipient: str) -> str:
    engine = sa.create_engine(live_server.database_url)
    try:
        with engine.connect() as conn:
            body = conn.execute(sa.text(
                "SELECT body_text FROM outbox WHERE recipient = :r ORDER BY id DESC LIMIT 1"),
                {"r": recipient}).scalar_one()
    finally:
        engine.dispose()
    match = re.search(r"http://\S+(/consent/\S+)", body)
    assert match, body
    return match.group(1)


def as_tenant(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="nl-NL")
    context.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page = context.new_page()
    login(page, TENANT)
    return context, page


def owner_answers(browser, live_server, recipient: str, button: str) -> str:
    """The owner opens the e-mailed link (no account) and answers; the confirmation text."""
    context = browser.new_context(base_url=live_server.url, locale="nl-NL")
    page = context.new_page()
    page.goto(last_consent_link(live_server, recipient))
    for label in ("Ik geef toestemming als eigenaar", "Ik geef geen toestemming",
                  "Dit is niet mijn pand"):
        expect(page.get_by_role("button", name=label)).to_be_visible()
    page.get_by_role("button", name=button).click()
    text = page.locator("[data-answer]").inner_text()
    page.reload()  # the link acts once: afterwards it only says so
    expect(page.get_by_text("Deze link is al gebruikt")).to_be_visible()
    assert page.get_by_role("button", name=button).count() == 0
    context.close()
    return text


def test_owner_consent_both_ways(page, browser, live_server):
    campaign_id, site_id, address = tenant_of_the_demo_member(live_server)

    # The demo member owns the tenant's building, and says it is not theirs.
    login(page, DEMO_ACCOUNTS["member"])
    page.get_by_role("navigation").get_by_role("link", name="Inkoopacties").click()
    page.get_by_role("link", name="Bekijken en bevestigen").click()
    card = page.locator("section.card", has_text=address)
    card.get_by_role("button", name="Dit is niet mijn pand").click()
    expect(page.get_by_text("is niet uw pand. De huurder krijgt dit per e-mail")).to_be_visible()
    expect(page.locator("section.card", has_text=address)).to_have_count(0)

    tenant, tenant_page = as_tenant(browser, live_server)
    tenant_page.goto(f"/campaigns/{campaign_id}")
    consent = tenant_page.locator(f"#site-{site_id} .consent")
    assert "is niet de eigenaar van dit pand" in consent.inner_text()

    # The tenant asks an owner by e-mail; the page says it is waiting.
    consent.get_by_label("Of het e-mailadres van de eigenaar").fill("eigenaar@voorbeeld.nl")
    consent.get_by_role("button", name="Opnieuw vragen").click()
    consent = tenant_page.locator(f"#site-{site_id} .consent")
    expect(consent.locator("[data-state='waiting']")).to_contain_text(
        "Verstuurd naar eigenaar@voorbeeld.nl op")

    # That owner declines and reads what happens next; the tenant sees it.
    told = owner_answers(browser, live_server, "eigenaar@voorbeeld.nl",
                         "Ik geef geen toestemming")
    assert "u geeft geen toestemming" in told and "Wat nu" in told
    tenant_page.reload()
    consent = tenant_page.locator(f"#site-{site_id} .consent")
    expect(consent.locator("[data-state='declined']")).to_contain_text(
        "eigenaar@voorbeeld.nl geeft geen toestemming")

    # Asked again, the same address is refused; another one consents.
    consent.get_by_label("Of het e-mailadres van de eigenaar").fill("eigenaar@voorbeeld.nl")
    consent.get_by_role("button", name="Opnieuw vragen").click()
    expect(tenant_page.get_by_text("heeft dit verzoek al beantwoord")).to_be_visible()
    consent = tenant_page.locator(f"#site-{site_id} .consent")
    consent.get_by_label("Of het e-mailadres van de eigenaar").fill("vastgoed@voorbeeld.nl")
    consent.get_by_role("button", name="Opnieuw vragen").click()
    told = owner_answers(browser, live_server, "vastgoed@voorbeeld.nl",
                         "Ik geef toestemming als eigenaar")
    assert "Uw toestemming is vastgelegd" in told
    tenant_page.reload()
    expect(tenant_page.locator(f"#site-{site_id}")).to_contain_text(
        "De eigenaar gaf toestemming op")
    tenant_page.screenshot(path="/tmp/e2e-owner-consent.png", full_page=True)
    tenant.close()
