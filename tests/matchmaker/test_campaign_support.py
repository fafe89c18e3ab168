"""Builders for group buy tests (no tests here): a park, a coordinator, two suppliers,
members with sites, and campaigns moved through their states by the real services.

Time moves by moving the deadlines into the past, never by sleeping.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from shapely.geometry import box

from matchmaker.auth.models import Role, User
from matchmaker.campaigns import services
from matchmaker.campaigns.models import Bid, Campaign, InviteBy
from matchmaker.campaigns.pricing import Tier
from matchmaker.demand.services import product_by_code
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind, Outbox
from matchmaker.members.models import Site, Tenure
from matchmaker.models import utcnow
from matchmaker.register.models import AreaKind

PARK = box(233000, 556000, 234500, 557500)  # around the factory's default site location
SOLAR_TIERS = [Tier(Decimal(0), Decimal(1000)), Tier(Decimal(300), Decimal(900)),
               Tier(Decimal(600), Decimal(850))]


def tiers(*pairs: tuple[str | int, str]) -> list[Tier]:
    return [Tier(Decimal(str(low)), Decimal(price)) for low, price in pairs]


class Buy:
    """One park with a coordinator and two suppliers; members and campaigns on demand."""

    def __init__(self, make: Any, prefix: str = "", park: str = "Testpark") -> None:
        self.make = make
        self.park = make.area(park, AreaKind.PARK, PARK)
        self.coordinator = make.user(Role.COORDINATOR, email=f"{prefix}coord@example.org")
        self.suppliers = [make.user(Role.PROVIDER, email=f"{prefix}zon@example.org"),
                          make.user(Role.PROVIDER, email=f"{prefix}dak@example.org")]
        self.n = 0

    def member(self, quantity: str | int | None = "100", *, tenure: Tenure = Tenure.OWNER,
               x: float | None = None, y: float | None = None, locale: str = "nl",
               **site: Any) -> tuple[User, Site]:
        """A member organisation with one site in the park (and solar demand)."""
        self.n += 1
        user = self.make.user(Role.MEMBER, locale=locale)
        place = self.make.site(user.organisation, x=x if x is not None else 233100 + 40 * self.n,
                               y=y if y is not None else 556100 + 30 * self.n, tenure=tenure,
                               flat_roof_area_m2=site.pop("flat_roof_area_m2", 1000.0), **site)
        if quantity is not None:
            self.make.demand(place, "solar_roof", quantity)
        return user, place

    def campaign(self, *, product: str = "solar_roof", threshold_quantity: str | None = "300",
                 threshold_sites: int | None = None, capacity: str | None = None,
                 late: bool = False, tier_list: list[Tier] | None = None, days: int = 14,
                 invite_by: InviteBy = InviteBy.AREA, deadline: timedelta = timedelta(days=10),
                 title: str = "Zon op Testpark") -> Campaign:
        settings = services.CampaignSettings(
            title=title, product=product_by_code(product), registration_deadline=utcnow() + deadline,
            decision_days=days, description="Zonnepanelen voor het hele park.",
            threshold_quantity=Decimal(threshold_quantity) if threshold_quantity else None,
            threshold_sites=threshold_sites,
            capacity_quantity=Decimal(capacity) if capacity else None, allow_late_joiners=late,
            invite_by=invite_by, area_ids=[self.park.id],
            tiers=SOLAR_TIERS if tier_list is None else tier_list,
        )
        return services.create_campaign(settings, actor=self.coordinator)

    def open(self, campaign: Campaign, suppliers: list[User] | None = None) -> Campaign:
        for supplier in self.suppliers if suppliers is None else suppliers:
            services.invite_supplier(campaign, supplier, actor=self.coordinator)
        services.open_campaign(campaign, actor=self.coordinator)
        return campaign

    @staticmethod
    def join(campaign: Campaign, user: User, site: Site, quantity: str | int, **kw: Any) -> Any:
        return services.join_campaign(campaign, site, actor=user, quantity=Decimal(str(quantity)),
                                      **kw)

    @staticmethod
    def deadline_passed(campaign: Campaign) -> None:
        campaign.registration_deadline = utcnow() - timedelta(seconds=5)
        db.session.flush()

    def close(self, campaign: Campaign) -> None:
        self.deadline_passed(campaign)
        services.start_bidding(campaign, actor=self.coordinator)

    @staticmethod
    def bid(campaign: Campaign, supplier: User, tier_list: list[Tier] | None = None,
            fixed: str = "0", valid_days: int = 60) -> Bid:
        return services.submit_bid(campaign, actor=supplier,
                                   tiers=SOLAR_TIERS if tier_list is None else tier_list,
                                   fixed_cost_per_site=Decimal(fixed), conditions="",
                                   valid_until=utcnow() + timedelta(days=valid_days))

    @staticmethod
    def window_passed(campaign: Campaign) -> None:
        campaign.decision_deadline = utcnow() - timedelta(seconds=5)
        db.session.flush()

    def offered(self, members: list[tuple[User, Site, str]], **kw: Any) -> tuple[Campaign, Bid]:
        """A campaign in state offered: the members joined, supplier 0's bid awarded."""
        campaign = self.open(self.campaign(**kw))
        for user, site, quantity in members:
            self.join(campaign, user, site, quantity)
        self.close(campaign)
        bid = self.bid(campaign, self.suppliers[0])
        services.award_bid(campaign, bid, actor=self.coordinator)
        return campaign, bid


def mails(kind: MailKind | None = None, *, topic: str | None = None) -> list[Outbox]:
    query = sa.select(Outbox).order_by(Outbox.id)
    if kind is not None:
        query = query.where(Outbox.kind == kind)
    if topic is not None:
        query = query.where(Outbox.topic == topic)
    return list(db.session.scalars(query))


def recipients(kind: MailKind, campaign: Campaign) -> set[str]:
    return {m.recipient for m in mails(kind, topic=f"campaign:{campaign.id}")}
