"""Group buys from first interest to contract: the "done when" journeys over HTTP, every
transition and its guards, late joiners, owner consent, reminders, exports and privacy."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import AuditLog
from matchmaker.auth.models import Role
from matchmaker.campaigns import services
from matchmaker.campaigns.models import (
    Bid,
    BidStatus,
    Campaign,
    CampaignState,
    ConsentAnswer,
    InviteBy,
    Offer,
    OfferStatus,
    OwnerConsentToken,
    Participation,
    ParticipationState,
)
from matchmaker.campaigns.timing import database_time, db_now
from matchmaker.errors import Conflict, NotAllowed, ServiceError
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.members.models import Tenure
from matchmaker.models import utcnow

from .test_campaign_support import Buy, mails, recipients, tiers

AMS = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def buy(make):
    return Buy(make)


def local(moment: datetime) -> str:
    return moment.astimezone(AMS).strftime("%Y-%m-%dT%H:%M")


def campaign_id_from(response) -> int:
    match = re.search(r"/coordinator/campaigns/(\d+)", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def audit_actions(campaign: Campaign) -> list[tuple[str, int | None]]:
    return list(db.session.execute(
        sa.select(AuditLog.action, AuditLog.actor_id)
        .where(AuditLog.object_type == "campaigns", AuditLog.object_id == str(campaign.id))
        .order_by(AuditLog.id)
    ).all())


# --- the "done when" journeys, as users do them ---------------------------------------------------

QUANTITIES = ("100", "120", "150", "80", "90")  # 540 kWp in total


def run_until_offers(client, auth, buy, text_of):
    """Coordinator opens a solar group buy for one park, five members join (the bar fills),
    two suppliers bid, the coordinator compares and awards the cheaper one."""
    members = [buy.member(q) for q in QUANTITIES]
    assert auth.login(buy.coordinator).status_code == 302
    response = client.post("/coordinator/campaigns/new", data={
        "title": "Zon op Testpark 2027", "product": "solar_roof",
        "description": "Eén installateur voor het hele park.", "area_ids": [buy.park.id],
        "registration_deadline": local(utcnow() + timedelta(days=21)), "decision_days": "14",
        "threshold_quantity": "250", "invite_by": "area",
        "tiers-0-min_volume": "0", "tiers-0-unit_price": "1.050",
        "tiers-1-min_volume": "500", "tiers-1-unit_price": "950",
    })
    assert response.status_code == 302, text_of(response)
    campaign = db.session.get(Campaign, campaign_id_from(response))
    assert campaign.state == CampaignState.DRAFT and campaign.threshold_quantity == Decimal(250)
    assert [(t.min_volume, t.unit_price) for t in campaign.tiers] == [
        (Decimal(0), Decimal(1050)), (Decimal(500), Decimal(950))]
    for supplier in buy.suppliers:
        assert client.post(f"/coordinator/campaigns/{campaign.id}/suppliers",
                           data={"supplier_id": supplier.id}).status_code == 302
    assert client.post(f"/coordinator/campaigns/{campaign.id}/open").status_code == 302
    assert campaign.state == CampaignState.OPEN
    assert recipients(MailKind.INVITATION, campaign) == (
        {user.email for user, _ in members} | {s.email for s in buy.suppliers})
    auth.logout()

    for n, (user, site) in enumerate(members):
        auth.login(user)
        page = client.get(f"/campaigns/{campaign.id}")
        assert page.status_code == 200
        assert f'value="{QUANTITIES[n]}"' in page.get_data(as_text=True)  # from their demand
        response = client.post(f"/campaigns/{campaign.id}/sites/{site.id}/join",
                               data={f"s{site.id}-quantity": QUANTITIES[n]})
        assert response.status_code == 302, text_of(response)
        html = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
        met = 'data-met="1"' in html
        assert met == (n >= 2), n  # 100 + 120 < 250 ≤ 100 + 120 + 150: full at the third
        auth.logout()
    assert services.progress(campaign).volume == Decimal(540)
    assert recipients(MailKind.THRESHOLD, campaign) == (  # once: those in by then + coordinator
        {u.email for u, _ in members[:3]} | {buy.coordinator.email})

    auth.login(buy.coordinator)
    assert client.post(f"/coordinator/campaigns/{campaign.id}/bidding",
                       data={"close_early": "y"}).status_code == 302
    assert campaign.state == CampaignState.BIDDING
    auth.logout()
    bids = {}
    for supplier, rows, fixed in (
        (buy.suppliers[0], [("0", "1000"), ("300", "900"), ("600", "850")], "250"),
        (buy.suppliers[1], [("0", "980"), ("500", "940")], "0"),
    ):
        auth.login(supplier)
        page = client.get(f"/supplier/campaigns/{campaign.id}")
        assert page.status_code == 200
        data = {"fixed_cost_per_site": fixed, "conditions": "Montage in 2027",
                "valid_until": (utcnow() + timedelta(days=60)).date().isoformat()}
        for i, (low, price) in enumerate(rows):
            data |= {f"tiers-{i}-min_volume": low, f"tiers-{i}-unit_price": price}
        assert client.post(f"/supplier/campaigns/{campaign.id}/bid", data=data).status_code == 302
        bids[supplier.id] = services.bid_of(campaign, supplier)
        auth.logout()

    auth.login(buy.coordinator)
    page = text_of(client.get(f"/coordinator/campaigns/{campaign.id}/bids"))
    # At 540 kWp: 540 × € 900 + 5 × € 250 = € 487.250 against 540 × € 940 = € 507.600.
    assert "€ 487.250,00" in page and "€ 507.600,00" in page
    assert page.index("zon@example.org") < page.index("goedkoopst") < page.index("dak@example.org")
    winner = bids[buy.suppliers[0].id]
    assert client.post(f"/coordinator/campaigns/{campaign.id}/bids/{winner.id}/award"
                       ).status_code == 302
    assert campaign.state == CampaignState.OFFERED
    assert bids[buy.suppliers[1].id].status == BidStatus.REJECTED
    auth.logout()
    return campaign, members


def decide_as(client, auth, user, site, decision):
    auth.login(user)
    offer = db.session.scalar(sa.select(Offer).join(Offer.participation)
                              .where(Participation.site_id == site.id))
    response = client.post(f"/offers/{offer.id}/{decision}")
    auth.logout()
    return response, offer


def test_done_when_a_solar_group_buy_goes_from_first_interest_to_hand_off(
        client, auth, buy, text_of):
    campaign, members = run_until_offers(client, auth, buy, text_of)
    user, site = members[0]
    auth.login(user)
    page = text_of(client.get(f"/campaigns/{campaign.id}"))
    # 100 kWp at the tier of 540 kWp (€ 900), worst case at the threshold of 250 (€ 1.000);
    # solar: 100 kWp × 875 kWh/kWp = 87.500 kWh/yr, at € 0,25 saves € 21.875,00.
    for text in ("€ 900,00", "€ 90.250,00", "€ 1.000,00", "€ 100.250,00", "87.500 kWh",
                 "€ 21.875,00"):
        assert text in page, text
    auth.logout()
    for (user, site), decision in zip(members, ("accept", "accept", "accept", "accept",
                                                "decline"), strict=True):
        response, _offer = decide_as(client, auth, user, site, decision)
        assert response.status_code == 302
    assert services.accepted_totals(campaign).volume == Decimal(450)

    auth.login(buy.coordinator)
    assert client.post(f"/coordinator/campaigns/{campaign.id}/decide").status_code == 302
    assert campaign.state == CampaignState.CONTRACTED
    # Everyone pays the tier of the accepted 450 kWp: € 900 (the 600 tier is not reached).
    assert campaign.final_volume == Decimal(450) and campaign.final_unit_price == Decimal(900)
    assert [a for a, _ in audit_actions(campaign)] == [
        "campaign.create", "campaign.invite_supplier", "campaign.invite_supplier",
        "campaign.open", "campaign.threshold_reached", "campaign.bidding", "campaign.award",
        "campaign.contracted"]
    assert {actor for a, actor in audit_actions(campaign) if a != "campaign.threshold_reached"
            } == {buy.coordinator.id}
    auth.logout()

    loser = buy.suppliers[1]
    auth.login(loser)
    assert client.get(f"/supplier/campaigns/{campaign.id}/handoff.csv").status_code == 404
    auth.logout()
    auth.login(buy.suppliers[0])
    page = text_of(client.get(f"/supplier/campaigns/{campaign.id}"))
    assert "Overdracht" in page
    response = client.get(f"/supplier/campaigns/{campaign.id}/handoff.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                               delimiter=";"))
    accepted_sites = {str(site.id) for _, site in members[:4]}
    assert {r["Pand-id"] for r in rows} == accepted_sites
    first = next(r for r in rows if r["Pand-id"] == str(members[0][1].id))
    assert (first["Hoeveelheid"], first["Prijs per eenheid (EUR)"], first["Vaste kosten (EUR)"],
            first["Totaal (EUR)"]) == ("100", "900", "250", "90250")
    assert first["Organisatie"] == members[0][0].organisation.name
    # leading zeros kept, as text for a spreadsheet
    assert first["KvK-nummer"] == f'="{members[0][0].organisation.kvk_number}"'
    assert first["Eigenaar of huurder"] == "eigenaar" and first["Laat"] == "nee"
    assert client.get(f"/supplier/campaigns/{campaign.id}/handoff").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "campaign.handoff", AuditLog.actor_id == buy.suppliers[0].id)) == 2
    # Everyone is told: the accepted at their final price, the one who declined too.
    decision = mails(MailKind.DECISION, topic=f"campaign:{campaign.id}")
    assert {m.recipient for m in decision} >= {u.email for u, _ in members} | {
        buy.suppliers[0].email}
    mine = next(m for m in decision if m.recipient == members[0][0].email)
    assert "€\xa090.250,00" in mine.body_text and mine.locale == "nl"  # no-break space


def test_done_when_too_few_acceptances_end_cancelled_with_everyone_told(
        client, auth, buy, text_of):
    campaign, members = run_until_offers(client, auth, buy, text_of)
    decide_as(client, auth, *members[0], "accept")  # 100 kWp: below the threshold of 250
    decide_as(client, auth, *members[1], "decline")
    auth.login(buy.coordinator)
    response = client.post(f"/coordinator/campaigns/{campaign.id}/decide")
    assert response.status_code == 409  # three members still have time to decide
    assert "nog niet hebben beslist" in text_of(response)
    buy.window_passed(campaign)
    assert client.post(f"/coordinator/campaigns/{campaign.id}/decide").status_code == 302
    assert campaign.state == CampaignState.CANCELLED
    assert campaign.cancel_reason == services.NO_GO_REASON
    statuses = sorted(p.offer.status.value for p in campaign.participations)
    assert statuses == ["accepted", "declined", "lapsed", "lapsed", "lapsed"]
    told = mails(MailKind.CANCELLATION, topic=f"campaign:{campaign.id}")
    assert {m.recipient for m in told} == (
        {u.email for u, _ in members} | {s.email for s in buy.suppliers})
    assert all("drempel" in m.body_text for m in told)  # the reason, in Dutch
    auth.logout()
    auth.login(members[0][0])
    assert "geannuleerd" in text_of(client.get(f"/campaigns/{campaign.id}"))


# --- transitions and their guards ------------------------------------------------------------


def test_every_illegal_transition_is_refused_with_a_message_not_an_error_page(
        client, auth, buy, text_of):
    user, site = buy.member("400")
    campaign = buy.campaign()
    auth.login(buy.coordinator)
    url = f"/coordinator/campaigns/{campaign.id}"

    def refused(action, expected, **data):
        response = client.post(f"{url}/{action}", data=data)
        assert response.status_code == 409, (action, response.status_code)
        assert expected in text_of(response), text_of(response)[:400]
        assert "Traceback" not in response.get_data(as_text=True)

    refused("bidding", "Biedingen starten vanuit een open inkoopactie")
    refused("decide", "volgt op de aanbiedingen")
    services.invite_supplier(campaign, buy.suppliers[0], actor=buy.coordinator)
    assert client.post(f"{url}/open").status_code == 302
    refused("open", "Alleen een concept kan worden geopend")
    refused("bidding", "Sluit haar eerder")  # deadline ahead, not closing early
    refused("bidding", "bereikt de drempel niet", close_early="y")  # nobody joined yet
    buy.join(campaign, user, site, "400")
    assert client.post(f"{url}/bidding", data={"close_early": "y"}).status_code == 302
    assert campaign.registration_deadline <= database_time()  # closed early, for good
    bid = buy.bid(campaign, buy.suppliers[0])
    refused("decide", "volgt op de aanbiedingen")
    assert client.post(f"{url}/bids/{bid.id}/award").status_code == 302
    response = client.post(f"{url}/bids/{bid.id}/award")
    assert response.status_code == 409
    refused("decide", "nog niet hebben beslist")
    services.accept_offer(campaign.participations[0].offer, actor=user)
    assert client.post(f"{url}/decide").status_code == 302  # everyone decided: early is fine
    assert campaign.state == CampaignState.CONTRACTED
    response = client.post(f"{url}/cancel", data={"reason": "te laat"})
    assert response.status_code == 409 and "kan niet meer worden geannuleerd" in text_of(response)
    assert campaign.state == CampaignState.CONTRACTED


@pytest.mark.parametrize("state", ["draft", "open", "bidding", "offered"])
def test_cancel_from_every_state_before_contracted_tells_everyone_why(client, auth, buy, state):
    user, site = buy.member("400")
    campaign = buy.campaign()
    if state != "draft":
        buy.open(campaign)
        buy.join(campaign, user, site, "400")
    if state in ("bidding", "offered"):
        buy.close(campaign)
    if state == "offered":
        services.award_bid(campaign, buy.bid(campaign, buy.suppliers[0]), actor=buy.coordinator)
    auth.login(buy.coordinator)
    response = client.post(f"/coordinator/campaigns/{campaign.id}/cancel", data={"reason": ""})
    assert response.status_code == 422 and campaign.state == CampaignState(state)
    response = client.post(f"/coordinator/campaigns/{campaign.id}/cancel",
                           data={"reason": "De leverancier is failliet."})
    assert response.status_code == 302 and campaign.state == CampaignState.CANCELLED
    told = recipients(MailKind.CANCELLATION, campaign)
    assert told == (set() if state == "draft" else
                    {user.email} | {s.email for s in buy.suppliers})
    if state == "offered":
        assert campaign.participations[0].offer.status == OfferStatus.LAPSED


def test_members_and_suppliers_cannot_do_what_is_not_theirs(client, auth, buy, make):
    user, site = buy.member("400")
    other, other_site = buy.member("200")
    campaign, bid = buy.offered([(user, site, "400"), (other, other_site, "200")])
    offer = campaign.participations[0].offer
    with pytest.raises(NotAllowed):
        services.accept_offer(offer, actor=other)
    with pytest.raises(NotAllowed):
        services.join_campaign(campaign, site, actor=other, quantity=Decimal(1))
    with pytest.raises(NotAllowed):
        services.submit_bid(campaign, actor=make.user(Role.PROVIDER), tiers=tiers((0, "1")),
                            fixed_cost_per_site=Decimal(0), conditions="",
                            valid_until=utcnow() + timedelta(days=30))
    with pytest.raises(NotAllowed):
        services.withdraw_bid(bid, actor=buy.suppliers[1])
    auth.login(other)
    assert client.post(f"/offers/{offer.id}/accept").status_code == 404
    assert client.post(f"/coordinator/campaigns/{campaign.id}/decide").status_code == 403
    assert client.get(f"/supplier/campaigns/{campaign.id}").status_code == 403
    auth.logout()
    auth.login(buy.suppliers[1])  # invited, not awarded
    assert client.get(f"/campaigns/{campaign.id}").status_code == 403
    assert client.get(f"/supplier/campaigns/{campaign.id}/handoff.csv").status_code == 404
    assert client.post(f"/supplier/campaigns/{campaign.id}/bid/withdraw").status_code == 404
    auth.logout()
    auth.login(make.user(Role.PROVIDER))  # not invited: the campaign does not exist for them
    assert client.get(f"/supplier/campaigns/{campaign.id}").status_code == 404
    assert client.get(f"/campaigns/{campaign.id}/map.geojson").status_code == 404
    assert offer.status == OfferStatus.PENDING


def test_offers_close_with_the_window_by_the_database_clock(client, auth, buy, text_of):
    user, site = buy.member("400")
    campaign, _bid = buy.offered([(user, site, "400")])
    buy.window_passed(campaign)
    auth.login(user)
    response = client.post(f"/offers/{campaign.participations[0].offer.id}/accept")
    assert response.status_code == 409 and "beslistermijn is verstreken" in text_of(response)
    assert campaign.participations[0].offer.status == OfferStatus.PENDING


# --- registering: change, withdraw, deadline, late joiners, capacity ------------------------


def test_register_change_withdraw_and_rejoin_until_the_deadline(client, auth, buy, text_of):
    user, site = buy.member("100")
    outside_user, outside = buy.member("100", x=240000, y=560000)
    campaign = buy.open(buy.campaign(capacity="500"))
    auth.login(user)
    url = f"/campaigns/{campaign.id}/sites/{site.id}"
    response = client.post(f"{url}/join", data={f"s{site.id}-quantity": "12,3456"})
    assert response.status_code == 400 and "maximaal drie decimalen" in text_of(response)
    response = client.post(f"{url}/join", data={f"s{site.id}-quantity": "120",
                                                 f"s{site.id}-quantity_min": "130"})
    assert response.status_code == 400 and "minimum" in text_of(response).lower()
    assert client.post(f"{url}/join", data={f"s{site.id}-quantity": "120,5",
                                            f"s{site.id}-quantity_max": "150"}).status_code == 302
    participation = services.participation_of(campaign, site)
    assert (participation.quantity, participation.quantity_max) == (Decimal("120.5"), Decimal(150))
    assert client.post(f"{url}/join", data={f"s{site.id}-quantity": "130"}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participation)) == 1
    response = client.post(f"{url}/join", data={f"s{site.id}-quantity": "600"})
    assert response.status_code == 409 and "vol" in text_of(response)  # capacity 500
    assert client.post(f"{url}/withdraw").status_code == 302
    assert participation.state == ParticipationState.WITHDRAWN
    assert services.progress(campaign).volume == 0
    assert client.post(f"{url}/join", data={f"s{site.id}-quantity": "90"}).status_code == 302
    assert participation.state == ParticipationState.REGISTERED and not participation.late
    buy.deadline_passed(campaign)
    response = client.post(f"{url}/join", data={f"s{site.id}-quantity": "95"})
    assert response.status_code == 409 and "gesloten" in text_of(response)
    response = client.post(f"{url}/withdraw")
    assert response.status_code == 409 and participation.quantity == Decimal(90)
    auth.logout()
    auth.login(outside_user)  # a site outside the park: the campaign does not concern it
    assert client.get(f"/campaigns/{campaign.id}").status_code == 404
    with pytest.raises(ServiceError):
        buy.join(campaign, outside_user, outside, "10")


def test_late_joiners_only_when_permitted_and_marked_late(client, auth, buy, text_of):
    early, early_site = buy.member("400")
    late_user, late_site = buy.member("50")
    campaign = buy.open(buy.campaign(late=True))
    buy.join(campaign, early, early_site, "400")
    buy.close(campaign)
    participation = buy.join(campaign, late_user, late_site, "50")  # while bidding
    assert participation.late
    services.withdraw_participation(participation, actor=late_user)  # late: until the award
    bid = buy.bid(campaign, buy.suppliers[0])
    services.award_bid(campaign, bid, actor=buy.coordinator)
    assert participation.offer is None
    participation = buy.join(campaign, late_user, late_site, "60")  # after the award
    assert participation.late and participation.offer is not None
    assert participation.offer.unit_price == Decimal(900)  # the tier of 460 kWp
    assert late_user.email in recipients(MailKind.OFFER, campaign)
    with pytest.raises(Conflict):
        services.withdraw_participation(participation, actor=late_user)
    campaign.allow_late_joiners = False
    other, other_site = buy.member("10")
    with pytest.raises(Conflict, match="closed"):
        buy.join(campaign, other, other_site, "10")
    auth.login(buy.coordinator)
    assert "laat" in text_of(client.get(f"/coordinator/campaigns/{campaign.id}"))


def test_the_database_clock_decides_a_join_not_the_app_servers(monkeypatch, buy, client, auth,
                                                               text_of):
    """The app server's clock says registration is open (the page shows the form); the
    database's says the deadline passed a second ago: the join is refused."""
    user, site = buy.member("100")
    campaign = buy.open(buy.campaign())
    campaign.registration_deadline = database_time() - timedelta(seconds=1)
    db.session.flush()
    skewed = utcnow() - timedelta(hours=1)
    for module in ("queries", "participation"):
        monkeypatch.setattr(f"matchmaker.campaigns.services.{module}.utcnow", lambda: skewed)
    auth.login(user)
    assert "Meedoen" in text_of(client.get(f"/campaigns/{campaign.id}"))
    response = client.post(f"/campaigns/{campaign.id}/sites/{site.id}/join",
                           data={f"s{site.id}-quantity": "100"})
    assert response.status_code == 409
    assert services.participation_of(campaign, site) is None


@pytest.mark.parametrize("offset_ms, open_", [(-1500, False), (-50, False), (400, True),
                                               (3000, True)])
def test_stored_deadlines_compare_with_the_database_clock(buy, dialect, offset_ms, open_):
    """db_now() compares correctly with our naive-UTC columns on both databases, to the
    fraction of a second, whatever the session's time zone."""
    if dialect == "postgresql":
        db.session.execute(sa.text("SET LOCAL TIME ZONE 'America/New_York'"))
    now = database_time()
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    campaign = buy.campaign()
    campaign.registration_deadline = now + timedelta(milliseconds=offset_ms)
    db.session.flush()
    still_open = db.session.scalar(sa.select(Campaign.registration_deadline > db_now())
                                   .where(Campaign.id == campaign.id))
    assert bool(still_open) is open_


# --- offers, prices, consent ------------------------------------------------------------------


def test_offers_show_the_tier_reached_and_everyone_pays_the_final_tier(buy):
    members = [buy.member(q) for q in ("300", "200", "150")]
    campaign, _bid = buy.offered([(u, s, q) for (u, s), q in zip(members, ("300", "200", "150"),
                                                                 strict=True)],
                                threshold_quantity="250")
    offers = [p.offer for p in campaign.participations]
    # 650 kWp reaches the 600 tier (€ 850); the threshold 250 is in the 0 tier (€ 1.000).
    assert [(o.unit_price, o.worst_unit_price, o.total) for o in offers] == [
        (Decimal(850), Decimal(1000), Decimal("255000.00")),
        (Decimal(850), Decimal(1000), Decimal("170000.00")),
        (Decimal(850), Decimal(1000), Decimal("127500.00"))]
    assert offers[0].yearly_yield_kwh == Decimal(262500)
    assert offers[0].yearly_savings == Decimal("65625.00")
    services.accept_offer(offers[0], actor=members[0][0])
    services.accept_offer(offers[2], actor=members[2][0])
    services.decline_offer(offers[1], actor=members[1][0])
    assert services.decide(campaign, actor=buy.coordinator)
    # Accepted 450 kWp reaches only the 300 tier: everyone pays € 900, above the offered
    # € 850 but never above the worst case.
    assert campaign.final_unit_price == Decimal(900)
    assert (offers[0].final_total, offers[2].final_total) == (Decimal("270000.00"),
                                                              Decimal("135000.00"))
    assert offers[1].final_total is None


def test_award_guards_cover_the_volume_and_the_window(buy):
    user, site = buy.member("400")
    campaign = buy.open(buy.campaign())
    buy.join(campaign, user, site, "400")
    buy.close(campaign)
    high_floor = buy.bid(campaign, buy.suppliers[0], tiers((500, "800")))
    with pytest.raises(Conflict, match="no price for the bundled volume"):
        services.award_bid(campaign, high_floor, actor=buy.coordinator)
    short = buy.bid(campaign, buy.suppliers[1], valid_days=7)  # window is 14 days
    with pytest.raises(Conflict, match="valid until before the end"):
        services.award_bid(campaign, short, actor=buy.coordinator)
    with pytest.raises(ServiceError, match="higher unit price"):
        buy.bid(campaign, buy.suppliers[1], tiers((0, "800"), (100, "900")))
    revised = buy.bid(campaign, buy.suppliers[1], tiers((0, "880")))
    assert [t.unit_price for t in revised.tiers] == [Decimal(880)]
    assert services.award_bid(campaign, revised, actor=buy.coordinator) == 1
    assert high_floor.status == BidStatus.REJECTED


def test_bid_form_errors_are_shown_next_to_the_tiers(client, auth, buy, text_of):
    user, site = buy.member("400")
    campaign = buy.open(buy.campaign())
    buy.join(campaign, user, site, "400")
    buy.close(campaign)
    auth.login(buy.suppliers[0])
    valid = (utcnow() + timedelta(days=30)).date().isoformat()
    response = client.post(f"/supplier/campaigns/{campaign.id}/bid", data={
        "tiers-0-min_volume": "0", "tiers-0-unit_price": "900", "tiers-1-min_volume": "300",
        "valid_until": valid})
    assert response.status_code == 400 and "zowel het volume als de prijs" in text_of(response)
    response = client.post(f"/supplier/campaigns/{campaign.id}/bid", data={
        "tiers-0-min_volume": "0", "tiers-0-unit_price": "900", "tiers-1-min_volume": "300",
        "tiers-1-unit_price": "950", "valid_until": valid})
    assert response.status_code == 400 and "hogere prijs per eenheid" in text_of(response)
    assert services.bid_of(campaign, buy.suppliers[0]) is None


def test_a_tenant_needs_the_owner_member_to_consent_before_accepting(client, auth, buy, make,
                                                                    text_of):
    owner, _owner_site = buy.member(None)
    stranger, _ = buy.member(None)
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    campaign = buy.open(buy.campaign())
    auth.login(tenant)
    participation = buy.join(campaign, tenant, site, "400")
    response = client.post(f"/participations/{participation.id}/consent-request",
                           data={"kvk_number": owner.organisation.kvk_number})
    assert response.status_code == 302 and site.owner_organisation_id == owner.organisation_id
    assert owner.email in recipients(MailKind.CONSENT, campaign)
    buy.close(campaign)
    services.award_bid(campaign, buy.bid(campaign, buy.suppliers[0]), actor=buy.coordinator)
    offer = participation.offer
    response = client.post(f"/offers/{offer.id}/accept")
    assert response.status_code == 409 and "eigenaar" in text_of(response)
    auth.logout()
    auth.login(stranger)
    assert client.post(f"/participations/{participation.id}/owner-consent").status_code == 404
    auth.logout()
    auth.login(owner)
    assert site.address in text_of(client.get("/consent"))
    assert client.post(f"/participations/{participation.id}/owner-consent").status_code == 302
    assert participation.owner_consent_via == "member"
    response = client.post(f"/participations/{participation.id}/owner-consent")
    assert response.status_code == 409  # given already
    auth.logout()
    auth.login(tenant)
    assert client.post(f"/offers/{offer.id}/accept").status_code == 302
    assert offer.status == OfferStatus.ACCEPTED


ANSWER_ON_TENANT_PAGE = {  # as the tenant reads the owner's answer
    ConsentAnswer.AGREED: "De eigenaar gaf toestemming op",
    ConsentAnswer.DECLINED: "eigenaar@example.org geeft geen toestemming",
    ConsentAnswer.NOT_OWNER: "eigenaar@example.org is niet de eigenaar van dit pand",
}
NEXT_STEP_FOR_OWNER = {
    ConsentAnswer.AGREED: "kan nu het aanbod aannemen",
    ConsentAnswer.DECLINED: "kan het aanbod voor dit pand niet aannemen",
    ConsentAnswer.NOT_OWNER: "kan de juiste eigenaar vragen",
}


@pytest.mark.parametrize("answer", [ConsentAnswer.DECLINED, ConsentAnswer.NOT_OWNER])
def test_a_member_owner_can_say_no_in_the_service_and_the_tenant_is_told(
        client, auth, buy, text_of, answer):
    owner, _owner_site = buy.member(None)
    other_owner, _ = buy.member(None)
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    campaign = buy.open(buy.campaign())
    participation = buy.join(campaign, tenant, site, "400")
    services.request_owner_consent(participation, actor=tenant,
                                   owner_kvk=owner.organisation.kvk_number)
    auth.login(owner)
    assert "1 huurder vraagt uw toestemming" in text_of(client.get("/campaigns"))
    consent_page = text_of(client.get("/consent"))
    assert "Ik geef geen toestemming" in consent_page and "Dit is niet mijn pand" in consent_page
    bad = client.post(f"/participations/{participation.id}/owner-consent",
                      data={"answer": "later"})
    assert bad.status_code == 400 and "Kies een van de antwoorden" in text_of(bad)
    response = client.post(f"/participations/{participation.id}/owner-consent",
                           data={"answer": answer}, follow_redirects=True)
    assert response.status_code == 200 and "De huurder krijgt dit per e-mail" in text_of(response)
    assert (participation.owner_answer, participation.owner_answer_by) == (
        answer, owner.organisation.name)
    assert participation.owner_answer_at is not None and participation.owner_consent_at is None
    assert "huurder vraagt" not in text_of(client.get("/campaigns"))  # answered: no nagging
    told = [m for m in mails(MailKind.CONSENT, topic=f"campaign:{campaign.id}")
            if m.recipient == tenant.email]
    assert len(told) == 1 and owner.organisation.name in told[0].body_text
    auth.logout()
    auth.login(tenant)
    page = text_of(client.get(f"/campaigns/{campaign.id}"))
    assert ANSWER_ON_TENANT_PAGE[answer].replace("eigenaar@example.org",
                                                 owner.organisation.name) in page
    auth.logout()

    if answer == ConsentAnswer.DECLINED:  # the owner may still change its mind
        auth.login(owner)
        assert "U antwoordde op" in text_of(client.get("/consent"))
        assert client.post(f"/participations/{participation.id}/owner-consent",
                           data={"answer": "agreed"}).status_code == 302
        assert participation.owner_consent_at is not None and participation.owner_answer == ""
        return
    # Not the owner: no longer recorded as such, so the tenant can name the right one.
    assert site.owner_organisation_id is None
    auth.login(owner)
    assert site.address not in text_of(client.get("/consent"))
    auth.logout()
    services.request_owner_consent(participation, actor=tenant,
                                   owner_kvk=other_owner.organisation.kvk_number)
    assert site.owner_organisation_id == other_owner.organisation_id
    assert participation.owner_answer == ""


def consent_link_from_outbox(campaign) -> str:
    message = mails(MailKind.CONSENT, topic=f"campaign:{campaign.id}")[-1]
    match = re.search(r"http://\S+/consent/(\S+)", message.body_text)
    assert match, message.body_text
    return match.group(1)


def test_the_owner_confirms_through_a_one_time_link(client, auth, buy, text_of, monkeypatch):
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    campaign = buy.open(buy.campaign())
    participation = buy.join(campaign, tenant, site, "400")
    assert services.request_owner_consent(participation, actor=tenant,
                                          owner_email="Eigenaar@Example.org ") == "link"
    token = consent_link_from_outbox(campaign)
    assert "eigenaar@example.org" in recipients(MailKind.CONSENT, campaign)

    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.get(f"/consent/{tampered}")
    assert response.status_code == 400 and "niet geldig" in text_of(response)
    page = client.get(f"/consent/{token}")  # looking does not use the link up
    assert page.status_code == 200 and site.address in text_of(page)
    assert client.get(f"/consent/{token}").status_code == 200
    response = client.post(f"/consent/{token}", data={"answer": "agreed"})
    assert response.status_code == 200 and "vastgelegd" in text_of(response)
    assert participation.owner_consent_by == "eigenaar@example.org"
    assert participation.owner_consent_via == "link"
    response = client.post(f"/consent/{token}", data={"answer": "declined"})
    assert response.status_code == 409 and "al gebruikt" in text_of(response)

    # An expired link: the stored expiry (and the signature's age) are checked.
    other, other_site = buy.member("100", tenure=Tenure.TENANT)
    participation = buy.join(campaign, other, other_site, "100")
    services.request_owner_consent(participation, actor=other, owner_email="o@example.org")
    token = consent_link_from_outbox(campaign)
    row = db.session.scalar(sa.select(OwnerConsentToken).where(
        OwnerConsentToken.participation_id == participation.id))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    response = client.post(f"/consent/{token}", data={"answer": "agreed"})
    assert response.status_code == 400 and "verlopen" in text_of(response)
    row.expires_at = utcnow() + timedelta(days=1)
    db.session.flush()
    later = __import__("time").time() + 15 * 24 * 3600
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    response = client.post(f"/consent/{token}", data={"answer": "agreed"})
    monkeypatch.undo()
    assert response.status_code == 400 and "verlopen" in text_of(response)
    assert participation.owner_consent_at is None


@pytest.mark.parametrize("answer", list(ConsentAnswer))
def test_the_owner_answers_once_and_the_tenant_is_told(buy, answer):
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    campaign = buy.open(buy.campaign())
    participation = buy.join(campaign, tenant, site, "400")
    services.request_owner_consent(participation, actor=tenant, owner_email="eigenaar@example.org")
    token = consent_link_from_outbox(campaign)
    assert services.consent_link_states([participation])[participation.id].answer == ""
    with pytest.raises(ServiceError, match="Choose one"):
        services.answer_consent_token(token, "maybe")
    with pytest.raises(NotAllowed):  # the tenant's own people cannot answer for the owner
        services.answer_consent_token(token, answer, actor=tenant)

    row = services.answer_consent_token(token, answer)
    assert (row.answer, row.used_at is not None) == (answer, True)
    assert (participation.owner_consent_at is not None) == (answer == ConsentAnswer.AGREED)
    told = [m for m in mails(MailKind.CONSENT, topic=f"campaign:{campaign.id}")
            if m.recipient == tenant.email]
    assert len(told) == 1 and site.address in told[0].subject
    with pytest.raises(Conflict, match="used already"):  # the link acts once
        services.answer_consent_token(token, ConsentAnswer.AGREED)
    assert row.answer == answer

    if answer == ConsentAnswer.AGREED:
        with pytest.raises(Conflict):  # nothing left to ask
            services.request_owner_consent(participation, actor=tenant,
                                           owner_email="ander@example.org")
        return
    # No: the same address is not asked again, another one is, and that is the state now.
    with pytest.raises(ServiceError, match="answered this request already"):
        services.request_owner_consent(participation, actor=tenant,
                                       owner_email="Eigenaar@example.org")
    services.request_owner_consent(participation, actor=tenant, owner_email="ander@example.org")
    latest = services.consent_link_states([participation])[participation.id]
    assert (latest.email, latest.answer) == ("ander@example.org", "")
    services.answer_consent_token(consent_link_from_outbox(campaign), ConsentAnswer.AGREED)
    assert participation.owner_consent_by == "ander@example.org"


@pytest.mark.parametrize("answer", list(ConsentAnswer))
def test_owner_and_tenant_pages_say_the_answer_and_what_comes_next(client, auth, buy, text_of,
                                                                    answer):
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    campaign = buy.open(buy.campaign())
    participation = buy.join(campaign, tenant, site, "400")
    auth.login(tenant)
    response = client.post(f"/participations/{participation.id}/consent-request",
                           data={"owner_email": "eigenaar@example.org"})
    assert response.status_code == 302
    page = text_of(client.get(f"/campaigns/{campaign.id}"))
    assert "Verstuurd naar eigenaar@example.org op" in page and "wacht op antwoord" in page
    token = consent_link_from_outbox(campaign)
    # The link is for the recipient: the tenant, logged in, can neither read nor use it.
    assert client.get(f"/consent/{token}").status_code == 403
    assert client.post(f"/consent/{token}", data={"answer": answer}).status_code == 403
    auth.logout()

    page = client.get(f"/consent/{token}")
    assert page.status_code == 200
    assert all(label in text_of(page) for label in (
        "Ik geef toestemming als eigenaar", "Ik geef geen toestemming", "Dit is niet mijn pand"))
    response = client.post(f"/consent/{token}", data={"answer": "perhaps"})
    assert response.status_code == 400 and "Kies een van de antwoorden" in text_of(response)
    response = client.post(f"/consent/{token}", data={"answer": answer})
    assert response.status_code == 200
    assert "vastgelegd" in text_of(response) and NEXT_STEP_FOR_OWNER[answer] in text_of(response)
    assert client.post(f"/consent/{token}", data={"answer": answer}).status_code == 409

    auth.login(buy.coordinator)  # the coordinator sees where each consent stands
    manage = text_of(client.get(f"/coordinator/campaigns/{campaign.id}"))
    assert {ConsentAnswer.AGREED: "✓ eigenaar@example.org",
            ConsentAnswer.DECLINED: "ontbreekt de eigenaar weigerde",
            ConsentAnswer.NOT_OWNER: "ontbreekt gevraagd aan iemand die niet de eigenaar is",
            }[answer] in manage
    auth.logout()
    auth.login(tenant)
    page = text_of(client.get(f"/campaigns/{campaign.id}"))
    assert ANSWER_ON_TENANT_PAGE[answer] in page
    if answer != ConsentAnswer.AGREED:  # the tenant can ask someone else
        assert "Opnieuw vragen" in page
        response = client.post(f"/participations/{participation.id}/consent-request",
                               data={"owner_email": "eigenaar@example.org"})
        assert response.status_code == 400 and "al beantwoord" in text_of(response)
        response = client.post(f"/participations/{participation.id}/consent-request",
                               data={"owner_email": "beheer@example.org"})
        assert response.status_code == 302
        assert "Verstuurd naar beheer@example.org" in text_of(
            client.get(f"/campaigns/{campaign.id}"))


# --- reminders ---------------------------------------------------------------------------------


def test_reminders_are_queued_once_for_each_deadline_step(base_app, app, buy, runner):
    joined, joined_site = buy.member("400")
    waiting, _site = buy.member("100")
    campaign = buy.open(buy.campaign(deadline=timedelta(days=6, hours=12)))
    buy.join(campaign, joined, joined_site, "400")
    first = runner.invoke("send-reminders")
    assert first.exit_code == 0 and "1 herinnering(en)" in first.output, first.output
    again = runner.invoke("send-reminders")
    assert again.exit_code == 0 and "0 herinnering(en)" in again.output
    assert recipients(MailKind.REMINDER, campaign) == {waiting.email}
    # A day before: the 1-day reminder, once; nothing to those who joined.
    now = campaign.registration_deadline - timedelta(hours=20)
    assert services.queue_reminders(now=now) == 1
    assert services.queue_reminders(now=now) == 0
    assert services.queue_reminders(now=campaign.registration_deadline + timedelta(hours=1)) == 0
    reminders = mails(MailKind.REMINDER, topic=f"campaign:{campaign.id}")
    assert [m.dedupe_key.split(":")[4] for m in reminders] == ["7", "1"]  # the step
    assert all(campaign.title in m.body_text for m in reminders)
    # Offers: a reminder to those who have not decided.
    buy.close(campaign)
    services.award_bid(campaign, buy.bid(campaign, buy.suppliers[0]), actor=buy.coordinator)
    assert services.queue_reminders(now=campaign.decision_deadline - timedelta(days=3)) == 1
    assert services.queue_reminders(now=campaign.decision_deadline - timedelta(days=3)) == 0
    services.accept_offer(campaign.participations[0].offer, actor=joined)
    assert services.queue_reminders(now=campaign.decision_deadline - timedelta(hours=2)) == 0


# --- suppliers see aggregates, coordinators export ---------------------------------------------


def test_suppliers_see_aggregates_only_under_the_disclosure_rule(client, auth, buy):
    members = [buy.member(q) for q in ("100", "110", "120", "130")]
    campaign = buy.open(buy.campaign())
    for user, site in members:
        buy.join(campaign, user, site, "100")
    auth.login(buy.suppliers[0])
    names = [u.organisation.name for u, _ in members] + [s.address for _, s in members]
    for url in (f"/supplier/campaigns/{campaign.id}", f"/campaigns/{campaign.id}/map.geojson"):
        body = client.get(url).get_data(as_text=True)
        assert not any(name in body for name in names), url
    page = client.get(f"/supplier/campaigns/{campaign.id}").get_data(as_text=True)
    assert "400" not in page  # four members: fewer than five, so hidden
    user, site = buy.member("100")
    buy.join(campaign, user, site, "100")
    page = client.get(f"/supplier/campaigns/{campaign.id}").get_data(as_text=True)
    assert "500 kWp" in page and "5 leden" in page


def test_negotiation_export_per_area_and_per_bundle(client, auth, buy, make):
    near = [buy.member("100", x=233100 + 50 * i, y=556100) for i in range(5)]
    far = buy.member("70.5", x=234400, y=557400)
    campaign = buy.open(buy.campaign())
    for user, site in [*near, far]:
        buy.join(campaign, user, site, "70.5" if (user, site) == far else "100")
    auth.login(buy.coordinator)
    response = client.get(f"/coordinator/campaigns/{campaign.id}/bundles.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")),
                               delimiter=";"))
    area = [r for r in rows if r["Niveau"] == "gebied"]
    assert [(r["Naam"], r["Panden"], r["Hoeveelheid"]) for r in area] == [
        ("Testpark", "6", "570,5")]
    bundles = sorted((r["Panden"], r["Hoeveelheid"], r["Leveranciers mogen het zien"])
                     for r in rows if r["Niveau"] == "bundel")
    assert bundles == [("1", "70,5", "nee"), ("5", "500", "ja")]
    assert client.get(f"/coordinator/campaigns/{campaign.id}/summary").status_code == 200


def test_draft_with_a_drawn_polygon_and_invitations_by_label_c(client, auth, buy, make):
    labelled, _ = buy.member(None, office_area_m2=500, floor_area_m2=600, energy_label="E")
    plain, _ = buy.member(None, office_area_m2=500, floor_area_m2=600, energy_label="B")
    auth.login(buy.coordinator)
    polygon = ('{"type": "Polygon", "coordinates": [[[6.54, 52.98], [6.57, 52.98], '
               '[6.57, 53.0], [6.54, 53.0], [6.54, 52.98]]]}')
    data = {"title": "Isoleren label C", "product": "insulation", "polygon": polygon,
            "registration_deadline": local(utcnow() + timedelta(days=10)),
            "decision_days": "10", "threshold_sites": "3", "invite_by": "label_c"}
    response = client.post("/coordinator/campaigns/new", data=data)
    assert response.status_code == 302
    campaign = db.session.get(Campaign, campaign_id_from(response))
    assert campaign.areas == [] and campaign.geometry is not None
    assert campaign.invite_by == InviteBy.LABEL_C
    bad = client.post("/coordinator/campaigns/new", data={**data, "polygon": '{"type": "Point"}'})
    assert bad.status_code == 400
    response = client.post(f"/coordinator/campaigns/{campaign.id}/edit",
                           data={**data, "title": "Isoleren label C 2027",
                                 "tiers-0-min_volume": "0", "tiers-0-unit_price": "55"})
    assert response.status_code == 302 and campaign.title == "Isoleren label C 2027"
    assert client.post(f"/coordinator/campaigns/{campaign.id}/open").status_code == 302
    assert recipients(MailKind.INVITATION, campaign) == {labelled.email}
    response = client.post(f"/coordinator/campaigns/{campaign.id}/edit", data={
        "registration_deadline": local(campaign.registration_deadline - timedelta(days=1)),
        "description": ""})
    assert response.status_code == 400  # open: the deadline only moves later
    later = campaign.registration_deadline + timedelta(days=7)
    response = client.post(f"/coordinator/campaigns/{campaign.id}/edit", data={
        "registration_deadline": local(later), "allow_late_joiners": "y", "description": "x"})
    assert response.status_code == 302 and campaign.allow_late_joiners
    assert abs(campaign.registration_deadline - later) < timedelta(minutes=1)
    assert plain.email not in recipients(MailKind.INVITATION, campaign)


CAMPAIGN_FORM = {"title": "x", "product": "solar_roof", "decision_days": "14", "invite_by": "area"}


@pytest.mark.parametrize("field, value", [
    ("threshold_quantity", "1e30"),
    ("threshold_quantity", "100000000000000000"),
    ("capacity_quantity", "1e30"),
    ("tiers-0-unit_price", "1e30"),
    ("tiers-0-unit_price", "10000000000000000"),
    ("registration_deadline", "0001-01-01T00:30"),
])
def test_absurd_campaign_settings_are_refused_with_a_4xx(buy, client, auth, field, value):
    auth.login(buy.coordinator)
    data = {**CAMPAIGN_FORM, "area_ids": [buy.park.id], "threshold_quantity": "10",
            "registration_deadline": local(utcnow() + timedelta(days=5)),
            "tiers-0-min_volume": "0", "tiers-0-unit_price": "900", field: value}
    response = client.post("/coordinator/campaigns/new", data=data)
    assert 400 <= response.status_code < 500
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0


@pytest.mark.parametrize("field, value", [
    ("valid_until", "9999-12-31"), ("fixed_cost_per_site", "1e30"),
    ("fixed_cost_per_site", "1e17"),
])
def test_absurd_bids_are_refused_with_a_4xx(buy, client, auth, field, value):
    user, site = buy.member("400")
    campaign = buy.open(buy.campaign())
    buy.join(campaign, user, site, "400")
    buy.close(campaign)
    auth.login(buy.suppliers[0])
    data = {"tiers-0-min_volume": "0", "tiers-0-unit_price": "900",
            "valid_until": (utcnow() + timedelta(days=60)).date().isoformat(), field: value}
    response = client.post(f"/supplier/campaigns/{campaign.id}/bid", data=data)
    assert 400 <= response.status_code < 500
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Bid)) == 0


# --- privacy of aggregates -----------------------------------------------------------------------


def test_a_hidden_area_cannot_be_derived_from_the_total(buy, make, client, auth, text_of):
    from shapely.geometry import box

    from matchmaker.register.models import AreaKind

    far = make.area("Verweg", AreaKind.PARK, box(240000, 560000, 241000, 561000))
    campaign = buy.campaign()
    campaign.areas = [buy.park, far]
    db.session.flush()
    buy.open(campaign)
    for _ in range(5):
        user, site = buy.member("100")
        buy.join(campaign, user, site, "100")
    lone, lone_site = buy.member("37", x=240500, y=560500)  # the only member in Verweg
    buy.join(campaign, lone, lone_site, "37")
    auth.login(buy.suppliers[0])
    page = text_of(client.get(f"/supplier/campaigns/{campaign.id}"))
    assert "500" in page and "verborgen" in page
    assert "537" not in page  # total − Testpark would give away the lone member's 37 kWp


def test_members_see_no_exact_totals_while_fewer_than_five_take_part(buy, client, auth,
                                                                    text_of):
    first, first_site = buy.member("120")
    second, second_site = buy.member("80")
    campaign = buy.open(buy.campaign())
    buy.join(campaign, first, first_site, "120")
    buy.join(campaign, second, second_site, "80")
    auth.login(first)
    page = text_of(client.get(f"/campaigns/{campaign.id}"))
    assert "200" not in page.replace("2026", "")  # 200 − own 120 would reveal the other's 80
    assert "minder dan 5 andere leden" in page


def test_a_park_and_a_kring_with_one_name_are_counted_apart(buy, make):
    from shapely.geometry import box

    from matchmaker.register.models import AreaKind

    kring = make.area("Testpark", AreaKind.KRING, box(232000, 555000, 236000, 559000))
    campaign = buy.campaign()
    campaign.areas = [buy.park, kring]
    db.session.flush()
    buy.open(campaign)
    in_park, park_site = buy.member("100")
    in_kring, kring_site = buy.member("50", x=235500, y=558500)
    buy.join(campaign, in_park, park_site, "100")
    buy.join(campaign, in_kring, kring_site, "50")
    rows, total = services.area_aggregates(campaign)
    assert sorted((r.area_id, r.volume) for r in rows) == [
        (buy.park.id, Decimal(100)), (kring.id, Decimal(50))]
    assert total.volume == Decimal(150)


def test_a_tenant_cannot_send_the_owner_consent_link_to_itself(buy):
    tenant, site = buy.member("400", tenure=Tenure.TENANT)
    campaign = buy.open(buy.campaign())
    participation = buy.join(campaign, tenant, site, "400")
    with pytest.raises(ServiceError):
        services.request_owner_consent(participation, actor=tenant, owner_email=tenant.email)


def test_each_side_sees_what_comes_next_potential_open_buys_and_the_bidding_deadline(
        make, auth, client, text_of):
    buy = Buy(make)
    first, first_site = buy.member("250")
    second, second_site = buy.member("100")
    campaign = buy.campaign(threshold_quantity="300")
    # A draft shows what its areas hold before anyone joins, against the threshold.
    auth.login(buy.coordinator)
    draft = text_of(client.get(f"/coordinator/campaigns/{campaign.id}"))
    assert "Potentieel in deze gebieden: 350 kWp geregistreerd door 2 panden van 2 " \
           "organisaties" in draft and "Dat haalt de drempel" in draft
    auth.logout()
    buy.open(campaign)
    # A member who has not joined finds the open group buy on the dashboard.
    auth.login(first)
    dashboard = text_of(client.get("/dashboard"))
    assert "1 inkoopactie is open voor uw panden" in dashboard
    assert campaign.title in dashboard
    buy.join(campaign, first, first_site, "250")
    assert "inkoopactie open" not in text_of(client.get("/dashboard"))
    auth.logout()
    buy.join(campaign, second, second_site, "100")
    buy.close(campaign)
    # Suppliers see until when they can bid; after that a bid is refused.
    assert campaign.bidding_deadline is not None
    auth.login(buy.suppliers[0])
    page = text_of(client.get(f"/supplier/campaigns/{campaign.id}"))
    assert "Bieden kan tot" in page
    campaign.bidding_deadline = utcnow() - timedelta(seconds=5)
    db.session.flush()
    with pytest.raises(Conflict, match="Bidding closed"):
        buy.bid(campaign, buy.suppliers[0])
