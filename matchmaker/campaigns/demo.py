"""Demo group buys: one in every state, built through the services (so the audit log and the
outbox are filled as in real use). Loaded by :func:`matchmaker.demo.load_demo`."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from matchmaker.auth.models import Role, User
from matchmaker.auth.services import create_user
from matchmaker.demand.models import Stage
from matchmaker.demand.services import product_by_code, register_demand
from matchmaker.demo_names import DEMO_ACCOUNTS, DEMO_PASSWORD
from matchmaker.extensions import db
from matchmaker.members.models import Organisation, Site, Tenure
from matchmaker.models import utcnow
from matchmaker.register.models import Area

DEMO_SUPPLIERS = {
    "zonnebouw@demo.example": "Zonnebouw Drenthe (demo)",
    "isolatie@demo.example": "Isolatiebedrijf Noord (demo)",
}
SOLAR_TIERS = ((0, "1050"), (250, "960"), (500, "890"), (1000, "840"))
INSULATION_TIERS = ((0, "62"), (1000, "55"), (2500, "49"))


def _tiers(rows: tuple[tuple[int, str], ...], factor: str = "1") -> list[Any]:
    from matchmaker.campaigns.pricing import Tier

    return [Tier(Decimal(low), (Decimal(price) * Decimal(factor)).quantize(Decimal("0.01")))
            for low, price in rows]


def load_demo_campaigns(member_org: Organisation, rng: random.Random) -> int:
    """Six group buys, one in every state, built through the services (so the audit log and
    the outbox are filled as in real use). The demo member can join the open one and has an
    offer to accept in the offered one; the demo provider is invited to the bidding one and
    has the hand-off of the contracted one."""
    from datetime import timedelta

    from matchmaker.campaigns import services as cs
    from matchmaker.campaigns.models import Campaign, InviteBy

    coordinator = db.session.scalar(sa.select(User).where(
        User.email == DEMO_ACCOUNTS[Role.COORDINATOR]))
    provider = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS[Role.PROVIDER]))
    member = db.session.scalar(sa.select(User).where(User.email == DEMO_ACCOUNTS[Role.MEMBER]))
    suppliers = {email: create_user(email, DEMO_PASSWORD, role=Role.PROVIDER, actor=None,
                                    is_demo=True, name=name)
                 for email, name in DEMO_SUPPLIERS.items()}
    zon, iso = suppliers["zonnebouw@demo.example"], suppliers["isolatie@demo.example"]
    areas = {a.name: a for a in db.session.scalars(sa.select(Area))}
    products = {code: product_by_code(code) for code in ("solar_roof", "insulation", "fibre")}
    users: dict[int, User] = {member_org.id: member}

    def user_of(org: Organisation) -> User:
        """A contact account per participating organisation (no usable password)."""
        if org.id not in users:
            user = User(email=org.contact_email or f"kvk{org.kvk_number}@demo.example",
                        password_hash="!demo-contact", role=Role.MEMBER, organisation=org,
                        name=org.contact_name, is_demo=True,
                        locale="en" if rng.random() < 0.1 else "nl")
            db.session.add(user)
            db.session.flush()
            users[org.id] = user
        return users[org.id]

    def demand_sites(area: str, code: str) -> list[tuple[Site, Decimal]]:
        sites = cs.sites_in(areas[area].geometry, list(db.session.scalars(sa.select(Site))))
        rows = []
        for site in sites:
            demand = next((d for d in site.demands if d.product.code == code
                           and d.stage != Stage.WITHDRAWN), None)
            if demand is not None and site.organisation_id != member_org.id:
                rows.append((site, demand.quantity))
        return rows

    def campaign(title: str, code: str, area_names: list[str], entries: list[tuple[Site, Decimal]],
                 *, description: str, share: str = "0.6", sites: int = 5,
                 invite_by: InviteBy = InviteBy.AREA, tiers: list[Any] | None = None,
                 late: bool = False) -> Campaign:
        volume = sum((q for _, q in entries), Decimal(0))
        settings = cs.CampaignSettings(
            title=title, product=products[code], description=description,
            registration_deadline=utcnow() + timedelta(days=24), decision_days=14,
            threshold_quantity=(volume * Decimal(share)).quantize(Decimal(10)) or None,
            threshold_sites=sites, allow_late_joiners=late, invite_by=invite_by,
            area_ids=[areas[n].id for n in area_names], tiers=tiers or [],
        )
        return cs.create_campaign(settings, actor=coordinator)

    def join(c: Campaign, entries: list[tuple[Site, Decimal]]) -> None:
        for site, quantity in entries:
            flex = rng.random() < 0.3
            cs.join_campaign(c, site, actor=user_of(site.organisation), quantity=quantity,
                             quantity_min=(quantity * Decimal("0.8")).quantize(Decimal("0.1"))
                             if flex else None,
                             quantity_max=(quantity * Decimal("1.2")).quantize(Decimal("0.1"))
                             if flex else None)

    def to_bidding(c: Campaign, invited: list[User]) -> None:
        for supplier in invited:
            cs.invite_supplier(c, supplier, actor=coordinator)
        cs.open_campaign(c, actor=coordinator)

    def close(c: Campaign) -> None:
        c.registration_deadline = utcnow() - timedelta(days=3)
        db.session.flush()
        cs.start_bidding(c, actor=coordinator)

    def bid(c: Campaign, supplier: User, rows: tuple[tuple[int, str], ...], factor: str,
            fixed: str, conditions: str) -> Any:
        return cs.submit_bid(c, actor=supplier, tiers=_tiers(rows, factor),
                             fixed_cost_per_site=Decimal(fixed), conditions=conditions,
                             valid_until=utcnow() + timedelta(days=60))

    def decide_offers(c: Campaign, accept_share: float, *, leave_pending: float = 0.0) -> None:
        for p in c.participations:
            if p.offer is None or p.site.organisation_id == member_org.id:
                continue
            draw = rng.random()
            if draw < leave_pending:
                continue
            if draw < leave_pending + accept_share:
                if cs.consent_missing(p):  # the owner confirmed through the e-mailed link
                    p.owner_consent_at = utcnow()
                    p.owner_consent_by = f"eigenaar-{p.site_id}@demo.example"
                    p.owner_consent_via = "link"
                cs.accept_offer(p.offer, actor=user_of(p.site.organisation))
            else:
                cs.decline_offer(p.offer, actor=user_of(p.site.organisation))

    solar_text = ("Zonnepanelen op platte bedrijfsdaken, inclusief omvormer, montage en "
                  "aanmelding bij de netbeheerder. Eén installateur voor het hele terrein: "
                  "hoe meer daken, hoe lager de prijs per kWp.")
    insulation_text = ("Dak-, spouw- en vloerisolatie en HR++-glas voor kantoren die naar "
                       "energielabel C moeten. Inclusief opname vooraf en nieuw label achteraf.")

    # draft: fibre on Industrieterrein Noord, not opened yet
    draft = campaign("Glasvezel Industrieterrein Noord 2027", "fibre",
                     ["Industrieterrein Noord"], demand_sites("Industrieterrein Noord", "fibre"),
                     description="Glasvezelaansluiting per bedrijfspand; de aanbieder legt aan "
                                 "bij 30 % deelname.", share="0.3", sites=10,
                     invite_by=InviteBy.DEMAND)
    cs.invite_supplier(draft, provider, actor=coordinator)

    # open: solar on the demo member's park; the demo member has not joined yet
    entries = demand_sites("Stadsbedrijvenpark", "solar_roof")
    open_c = campaign("Zonnepanelen Stadsbedrijvenpark 2027", "solar_roof", ["Stadsbedrijvenpark"],
                      entries, description=solar_text, share="1.2", sites=8,
                      tiers=_tiers(SOLAR_TIERS))
    to_bidding(open_c, [zon, provider])
    join(open_c, entries[: max(len(entries) - 2, 1)])
    # A tenant on the park rents from the demo member's company and asks its consent.
    tenant = next((p for p in open_c.participations if p.site.tenure == Tenure.TENANT), None)
    if tenant is None and open_c.participations:
        tenant = open_c.participations[0]
        tenant.site.tenure = Tenure.TENANT
    if tenant is not None:
        tenant.site.owner_organisation = member_org
        db.session.flush()

    # bidding: insulation for label C offices in Zuid-West; the demo provider may still bid
    entries = demand_sites("Zuid-West", "insulation")
    bidding = campaign("Isolatie kantoren label C Zuid-West", "insulation", ["Zuid-West"],
                       entries, description=insulation_text, invite_by=InviteBy.LABEL_C,
                       tiers=_tiers(INSULATION_TIERS))
    to_bidding(bidding, [iso, provider])
    join(bidding, entries)
    close(bidding)
    bid(bidding, iso, INSULATION_TIERS, "0.98", "350", "Opname binnen 3 weken na opdracht; "
        "uitvoering in 2027; 10 jaar garantie op de isolatie.")

    # offered: insulation on the Stadsbedrijvenpark kring; the demo member has an open offer
    entries = demand_sites("Stadsbedrijvenpark", "insulation")
    own_site = member_org.sites[0]
    stored = next((d for d in own_site.demands if d.product_id == products["insulation"].id),
                  None)
    register_demand(own_site, products["insulation"], actor=member, quantity=Decimal(240),
                    expected_version=stored.version if stored else None)
    offered = campaign("Isolatie Stadsbedrijvenpark", "insulation", ["Stadsbedrijvenpark"],
                       entries, description=insulation_text, share="0.5",
                       tiers=_tiers(INSULATION_TIERS))
    to_bidding(offered, [iso, zon])
    join(offered, [*entries, (own_site, Decimal(240))])
    close(offered)
    bid(offered, iso, INSULATION_TIERS, "1", "250", "Uitvoering binnen 8 weken na akkoord.")
    chosen = bid(offered, zon, INSULATION_TIERS, "0.96", "300",
                 "Inclusief nieuw energielabel; 10 jaar garantie.")
    cs.award_bid(offered, chosen, actor=coordinator)
    decide_offers(offered, 0.6, leave_pending=0.3)

    # contracted: solar on Messchenveld, awarded to the demo provider (hand-off available)
    entries = demand_sites("Messchenveld", "solar_roof")
    contracted = campaign("Zonnepanelen Messchenveld 2026", "solar_roof", ["Messchenveld"],
                          entries, description=solar_text, share="0.4", sites=8,
                          tiers=_tiers(SOLAR_TIERS))
    to_bidding(contracted, [provider, zon])
    join(contracted, entries)
    close(contracted)
    won = bid(contracted, provider, SOLAR_TIERS, "0.95", "450",
              "Panelen 430 Wp, 25 jaar productgarantie; montage binnen 12 weken.")
    bid(contracted, zon, SOLAR_TIERS, "0.98", "300", "Montage in het voorjaar van 2027.")
    cs.award_bid(contracted, won, actor=coordinator)
    decide_offers(contracted, 0.85)
    cs.decide(contracted, actor=coordinator)

    # cancelled: solar on Assen-Zuid, too few acceptances at the end of the window
    entries = demand_sites("Assen-Zuid", "solar_roof")
    cancelled = campaign("Zonnepanelen Assen-Zuid 2026", "solar_roof", ["Assen-Zuid"], entries,
                         description=solar_text, share="0.7", sites=4, tiers=_tiers(SOLAR_TIERS))
    to_bidding(cancelled, [zon])
    join(cancelled, entries)
    close(cancelled)
    cs.award_bid(cancelled, bid(cancelled, zon, SOLAR_TIERS, "1.02", "400", "Standaardpakket."),
                 actor=coordinator)
    decide_offers(cancelled, 0.25)
    assert cancelled.decision_deadline is not None
    cancelled.decision_deadline = utcnow() - timedelta(days=1)
    db.session.flush()
    cs.decide(cancelled, actor=coordinator)
    return 6
