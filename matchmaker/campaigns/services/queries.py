"""What members, suppliers and coordinators may see of group buys, and the rows they need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from matchmaker.auth.models import Role, User
from matchmaker.campaigns.models import (
    Bid,
    BidTier,
    Campaign,
    CampaignState,
    CampaignTier,
    Participation,
    SupplierInvitation,
)
from matchmaker.campaigns.pricing import Tier
from matchmaker.campaigns.services.common import LATE_JOIN_STATES, setting
from matchmaker.demand.models import Demand, Product, Stage
from matchmaker.extensions import db
from matchmaker.members.models import Organisation, Site, Tenure
from matchmaker.models import utcnow
from matchmaker.register.models import Area


def tiers_of(rows: Iterable[CampaignTier | BidTier]) -> list[Tier]:
    return sorted(Tier(r.min_volume, r.unit_price) for r in rows)


def campaign_geometry(campaign: Campaign) -> shapely.Geometry | None:
    """The union of the campaign's areas and its drawn polygon (RD New)."""
    parts = [a.geometry for a in campaign.areas]
    if campaign.geometry is not None:
        parts.append(campaign.geometry)
    if not parts:
        return None
    return shapely.union_all(parts)


def sites_inside(campaign: Campaign, sites: Sequence[Site]) -> list[Site]:
    """The sites that lie in the campaign's areas (on a boundary counts as inside)."""
    return sites_in(campaign_geometry(campaign), sites)


def sites_in(geometry: shapely.Geometry | None, sites: Sequence[Site]) -> list[Site]:
    if geometry is None or not sites:
        return []
    shapely.prepare(geometry)
    inside = shapely.intersects_xy(geometry, np.array([s.x for s in sites], float),
                                   np.array([s.y for s in sites], float))
    return [site for site, keep in zip(sites, inside, strict=True) if keep]


def participation_of(campaign: Campaign, site: Site) -> Participation | None:
    return db.session.scalar(sa.select(Participation).where(
        Participation.campaign_id == campaign.id, Participation.site_id == site.id
    ))


def registration_open(campaign: Campaign, at: datetime | None = None) -> bool:
    """For display: whether the normal registration is open (the database decides on save)."""
    at = at or utcnow()
    return campaign.state == CampaignState.OPEN and campaign.registration_deadline > at


def late_joining_possible(campaign: Campaign) -> bool:
    return campaign.allow_late_joiners and campaign.state in LATE_JOIN_STATES


def can_register(campaign: Campaign, at: datetime | None = None) -> bool:
    return registration_open(campaign, at) or late_joining_possible(campaign)


@dataclass
class MemberCampaign:
    campaign: Campaign
    sites: list[Site]  # the organisation's sites in the campaign's areas
    participations: dict[int, Participation]  # by site id

    @property
    def joined(self) -> bool:
        return any(p.active for p in self.participations.values())


def member_campaign(campaign: Campaign, organisation: Organisation) -> MemberCampaign | None:
    """The campaign as the organisation sees it, or ``None`` when it does not concern them.

    It concerns them when they take part, or when it is past draft and one of their sites lies
    in its areas.
    """
    if campaign.state == CampaignState.DRAFT:
        return None
    return _member_views([campaign], organisation).get(campaign.id)


def _own_sites(organisation: Organisation) -> list[Site]:
    """The organisation's sites with their demand (one query each, not one per site)."""
    return list(db.session.scalars(
        sa.select(Site).where(Site.organisation_id == organisation.id)
        .options(selectinload(Site.demands)).order_by(Site.id)))


def _member_views(campaigns: Sequence[Campaign], organisation: Organisation
                  ) -> dict[int, MemberCampaign]:
    """:func:`member_campaign` of several campaigns in a fixed number of queries."""
    if not campaigns:
        return {}
    ids = [c.id for c in campaigns]
    db.session.scalars(sa.select(Campaign).where(Campaign.id.in_(ids))
                       .options(selectinload(Campaign.areas))).all()
    participations: dict[int, dict[int, Participation]] = {i: {} for i in ids}
    for p in db.session.scalars(
            sa.select(Participation).join(Participation.site)
            .where(Participation.campaign_id.in_(ids),
                   Site.organisation_id == organisation.id)
            .options(selectinload(Participation.offer))):
        participations[p.campaign_id][p.site_id] = p
    own = _own_sites(organisation)
    by_id = {s.id: s for s in own}
    result = {}
    for campaign in campaigns:
        mine = participations[campaign.id]
        sites = sites_inside(campaign, own)
        if not sites and not mine:
            continue
        extra = [by_id[sid] for sid in mine if by_id.get(sid) is not None
                 and by_id[sid] not in sites]
        result[campaign.id] = MemberCampaign(campaign, sites + extra, mine)
    return result


def member_campaigns(organisation: Organisation) -> list[MemberCampaign]:
    """Campaigns for the member's overview: where they take part, and open ones near them."""
    campaigns = list(db.session.scalars(
        sa.select(Campaign).where(Campaign.state != CampaignState.DRAFT)
        .order_by(Campaign.registration_deadline.desc())))
    views = _member_views(campaigns, organisation)
    return [views[c.id] for c in campaigns if c.id in views
            and (views[c.id].participations or can_register(c))]


def visible_to_supplier(campaign: Campaign, user: User) -> bool:
    return (user.role == Role.PROVIDER and campaign.state != CampaignState.DRAFT
            and user.id in campaign.supplier_ids)


def bids_of(campaigns: Sequence[Campaign], supplier: User) -> dict[int, Bid]:
    """The supplier's bid per campaign (one query)."""
    return {b.campaign_id: b for b in db.session.scalars(sa.select(Bid).where(
        Bid.campaign_id.in_([c.id for c in campaigns]), Bid.supplier_id == supplier.id))}


def supplier_campaigns(user: User) -> list[Campaign]:
    return list(db.session.scalars(
        sa.select(Campaign).join(SupplierInvitation)
        .where(SupplierInvitation.user_id == user.id, Campaign.state != CampaignState.DRAFT)
        .order_by(Campaign.registration_deadline.desc())
    ))


def campaigns_for_staff(state: str = "") -> list[Campaign]:
    query = sa.select(Campaign).order_by(Campaign.created_at.desc())
    if state:
        query = query.where(Campaign.state == CampaignState(state))
    return list(db.session.scalars(query))


def bid_of(campaign: Campaign, supplier: User) -> Bid | None:
    return db.session.scalar(sa.select(Bid).where(Bid.campaign_id == campaign.id,
                                                  Bid.supplier_id == supplier.id))


def needs_owner_consent(participation: Participation) -> bool:
    """A tenant's roof or building work (solar, insulation) needs the owner's consent."""
    return (participation.site.tenure == Tenure.TENANT
            and participation.campaign.product.code in setting("OWNER_CONSENT_PRODUCTS"))


def consent_missing(participation: Participation) -> bool:
    return needs_owner_consent(participation) and participation.owner_consent_at is None


def audit_trail(campaign: Campaign) -> list[Any]:
    from matchmaker.audit.models import AuditLog

    return list(db.session.execute(
        sa.select(AuditLog, User.email).outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.object_type == "campaigns", AuditLog.object_id == str(campaign.id))
        .order_by(AuditLog.at, AuditLog.id)
    ).all())


def areas_for_choice() -> list[Area]:
    order = sa.case({"park": 0, "kring": 1}, value=Area.kind, else_=2)
    return list(db.session.scalars(sa.select(Area).order_by(order, Area.name)))


def providers() -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.role == Role.PROVIDER, User.active.is_(True))
        .order_by(User.email)
    ))


def ensure_visible(campaign: Campaign, user: User) -> bool:
    """Whether ``user`` may see the campaign at all (the views answer 404 otherwise)."""
    if user.role in (Role.COORDINATOR, Role.ADMIN):
        return True
    if user.role == Role.PROVIDER:
        return visible_to_supplier(campaign, user)
    organisation = user.organisation
    return organisation is not None and member_campaign(campaign, organisation) is not None


def demand_for(site: Site, product: Product) -> Demand | None:
    return next((d for d in site.demands if d.product_id == product.id
                 and d.stage != Stage.WITHDRAWN), None)


@dataclass(frozen=True)
class Potential:
    """Registered demand for the product inside a group buy's areas (for a draft)."""

    volume: Decimal
    sites: int
    organisations: int


def potential(campaign: Campaign) -> Potential:
    """What the areas hold before anyone joins: every registered, not withdrawn demand for the
    campaign's product on a site inside them (bounding box in SQL, exact test in shapely)."""
    geometry = campaign_geometry(campaign)
    if geometry is None:
        return Potential(Decimal(0), 0, 0)
    minx, miny, maxx, maxy = shapely.bounds(geometry)
    rows = list(db.session.execute(
        sa.select(Site, Demand.quantity).join(Demand, Demand.site_id == Site.id)
        .where(Demand.product_id == campaign.product_id, Demand.stage != Stage.WITHDRAWN,
               Site.x.between(minx, maxx), Site.y.between(miny, maxy))
    ))
    inside = {site.id for site in sites_in(geometry, [site for site, _q in rows])}
    chosen = [(site, q) for site, q in rows if site.id in inside]
    return Potential(sum((q for _s, q in chosen), Decimal(0)), len(chosen),
                     len({site.organisation_id for site, _q in chosen}))
