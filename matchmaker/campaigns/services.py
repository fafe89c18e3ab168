"""Group buys from first interest to contract: every state change is a function here.

Lifecycle (DESIGN.md): ``draft → open → bidding → offered → contracted``, and ``cancelled``
from any state before ``contracted``. Each transition checks its guards (state, role, dates,
threshold), raises ``ServiceError``/``Conflict`` with a message id when refused, writes an audit
entry and queues the e-mail it implies. Services flush; the edge commits.

Integrity under concurrency:

- one participation per campaign and site: a UNIQUE constraint, and ``INSERT ... ON CONFLICT
  DO NOTHING`` so a double click never fails with an error page;
- whether registration is still open is part of the INSERT/UPDATE statement (``WHERE
  registration_deadline > db_now()``): the database's clock decides, not the browser's or the
  app server's;
- joins of one campaign are serialised on the campaign row (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite's write transactions are serial anyway), so the capacity check and the
  "threshold reached" e-mail see every committed participation;
- totals are never stored: they are computed from the participation rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from geo.bundling import bundle_by_area, bundle_by_distance, summarize_bundles
from geo.crs import RD_NEW, rd_to_wgs84
from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.auth.services import normalize_email
from matchmaker.campaigns import pricing
from matchmaker.campaigns.models import (
    Bid,
    BidStatus,
    BidTier,
    Campaign,
    CampaignInvitation,
    CampaignState,
    CampaignTier,
    InviteBy,
    Offer,
    OfferStatus,
    OwnerConsentToken,
    Participation,
    ParticipationState,
    SupplierInvitation,
)
from matchmaker.campaigns.pricing import Tier
from matchmaker.campaigns.timing import database_time, db_now
from matchmaker.demand.models import Demand, Product, Stage
from matchmaker.demand.services import _validated as validated_quantities
from matchmaker.errors import N_, Conflict, NotAllowed, ServiceError
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.mail.services import external_url, queue_mail
from matchmaker.members.models import Organisation, Site, Tenure
from matchmaker.members.services import label_c_required
from matchmaker.models import utcnow
from matchmaker.privacy import Cell, disclose
from matchmaker.register.models import Area
from matchmaker.register.services import chosen_areas

ACTIVE_STATES = (CampaignState.OPEN, CampaignState.BIDDING, CampaignState.OFFERED)
LATE_JOIN_STATES = ACTIVE_STATES
CANCELLABLE = (CampaignState.DRAFT, *ACTIVE_STATES)
NO_GO_REASON = N_("Too few members accepted their offer: the go/no-go threshold was not "
                  "reached.")
NO_GO_TIER_REASON = N_("The accepted volume is below the lowest tier of the awarded bid, so "
                       "the supplier has no price for it.")
#: Reasons the service writes itself (translated when shown); coordinators type the others.
SERVICE_REASONS = (NO_GO_REASON, NO_GO_TIER_REASON)
CONSENT_SALT = "owner-consent"


def _config(name: str) -> Any:
    return current_app.config[name]


# --- reading -----------------------------------------------------------------------------------


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
    participations = {p.site_id: p for p in db.session.scalars(
        sa.select(Participation).join(Participation.site)
        .where(Participation.campaign_id == campaign.id,
               Site.organisation_id == organisation.id)
    )}
    sites = sites_inside(campaign, list(organisation.sites))
    if not sites and not participations:
        return None
    extra = [p.site for p in participations.values() if p.site not in sites]
    return MemberCampaign(campaign, sites + extra, participations)


def member_campaigns(organisation: Organisation) -> list[MemberCampaign]:
    """Campaigns for the member's overview: where they take part, and open ones near them."""
    result = []
    for campaign in db.session.scalars(
        sa.select(Campaign).where(Campaign.state != CampaignState.DRAFT)
        .order_by(Campaign.registration_deadline.desc())
    ):
        view = member_campaign(campaign, organisation)
        if view is None:
            continue
        if view.participations or can_register(campaign):
            result.append(view)
    return result


def visible_to_supplier(campaign: Campaign, user: User) -> bool:
    return (user.role == Role.PROVIDER and campaign.state != CampaignState.DRAFT
            and user.id in campaign.supplier_ids)


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
            and participation.campaign.product.code in _config("OWNER_CONSENT_PRODUCTS"))


def consent_missing(participation: Participation) -> bool:
    return needs_owner_consent(participation) and participation.owner_consent_at is None


# --- progress ----------------------------------------------------------------------------------


@dataclass
class Progress:
    """The bundled volume of the registered participations, against threshold and tiers."""

    volume: Decimal
    sites: int
    organisations: int
    volume_min: Decimal
    volume_max: Decimal
    threshold_quantity: Decimal | None
    threshold_sites: int | None
    capacity: Decimal | None
    tiers: list[Tier] = field(default_factory=list)
    tiers_indicative: bool = True

    @property
    def quantity_met(self) -> bool:
        return self.threshold_quantity is None or self.volume >= self.threshold_quantity

    @property
    def sites_met(self) -> bool:
        return self.threshold_sites is None or self.sites >= self.threshold_sites

    @property
    def met(self) -> bool:
        return self.quantity_met and self.sites_met

    @property
    def tier(self) -> Tier | None:
        index = pricing.tier_index(self.tiers, self.volume)
        return None if index is None else self.tiers[index]

    @property
    def next_tier(self) -> Tier | None:
        return pricing.next_tier(self.tiers, self.volume)

    @property
    def scale(self) -> Decimal:
        """The end of the bar: room for the volume, the threshold, capacity and every tier."""
        marks = [self.volume, self.threshold_quantity or 0, self.capacity or 0,
                 *(t.min_volume for t in self.tiers)]
        top = max(Decimal(m) for m in marks)
        return top * Decimal("1.1") if top > 0 else Decimal(1)

    def percent(self, value: Decimal | int | None) -> Decimal:
        """Position of ``value`` on the bar, 0–100, one decimal (for SVG coordinates)."""
        if value is None:
            return Decimal(0)
        pct = Decimal(value) * 100 / self.scale
        return min(max(pct, Decimal(0)), Decimal(100)).quantize(Decimal("0.1"))

    @property
    def threshold_percent(self) -> Decimal:
        """How far the volume is towards the quantity threshold (or sites threshold)."""
        if self.threshold_quantity:
            ratio = self.volume * 100 / self.threshold_quantity
        elif self.threshold_sites:
            ratio = Decimal(self.sites * 100) / self.threshold_sites
        else:
            ratio = Decimal(100)
        return min(ratio, Decimal(100)).quantize(Decimal(1))


def registered_totals(campaign_id: int) -> tuple[Decimal, int, int, Decimal, Decimal]:
    """(volume, sites, organisations, volume if all take their minimum, ... their maximum)."""
    row = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Participation.quantity), 0),
            sa.func.count(Participation.id),
            sa.func.count(sa.distinct(Site.organisation_id)),
            sa.func.coalesce(sa.func.sum(
                sa.func.coalesce(Participation.quantity_min, Participation.quantity)), 0),
            sa.func.coalesce(sa.func.sum(
                sa.func.coalesce(Participation.quantity_max, Participation.quantity)), 0),
        ).join(Participation.site)
        .where(Participation.campaign_id == campaign_id,
               Participation.state == ParticipationState.REGISTERED)
    ).one()
    volume, sites, orgs, low, high = row
    return (Decimal(volume), int(sites), int(orgs), Decimal(low), Decimal(high))


def progress(campaign: Campaign) -> Progress:
    volume, sites, orgs, low, high = registered_totals(campaign.id)
    awarded = campaign.awarded_bid
    return Progress(
        volume=volume, sites=sites, organisations=orgs, volume_min=low, volume_max=high,
        threshold_quantity=campaign.threshold_quantity, threshold_sites=campaign.threshold_sites,
        capacity=campaign.capacity_quantity,
        tiers=tiers_of(awarded.tiers) if awarded else tiers_of(campaign.tiers),
        tiers_indicative=awarded is None,
    )


@dataclass
class AcceptedTotals:
    volume: Decimal
    sites: int
    pending: int


def accepted_totals(campaign: Campaign) -> AcceptedTotals:
    rows = db.session.execute(
        sa.select(Offer.status, sa.func.count(Offer.id),
                  sa.func.coalesce(sa.func.sum(Offer.quantity), 0))
        .join(Offer.participation).where(Participation.campaign_id == campaign.id)
        .group_by(Offer.status)
    ).all()
    by_status = {status: (int(n), Decimal(q)) for status, n, q in rows}
    accepted = by_status.get(OfferStatus.ACCEPTED, (0, Decimal(0)))
    return AcceptedTotals(volume=accepted[1], sites=accepted[0],
                          pending=by_status.get(OfferStatus.PENDING, (0, Decimal(0)))[0])


# --- mail helpers ------------------------------------------------------------------------------


def member_users(organisation_ids: Iterable[int]) -> list[User]:
    ids = sorted(set(organisation_ids))
    if not ids:
        return []
    return list(db.session.scalars(
        sa.select(User).where(User.organisation_id.in_(ids), User.role == Role.MEMBER,
                              User.active.is_(True)).order_by(User.id)
    ))


def participant_organisations(campaign: Campaign, *, with_offer: bool = False) -> list[int]:
    query = (sa.select(Site.organisation_id).join(Participation.site)
             .where(Participation.campaign_id == campaign.id).distinct())
    if with_offer:
        query = query.join(Offer, Offer.participation_id == Participation.id)
    else:
        query = query.where(Participation.state == ParticipationState.REGISTERED)
    return list(db.session.scalars(query))


def _mail(user: User, campaign: Campaign, *, kind: MailKind, key: str, template: str,
          subject: str, **context: Any) -> bool:
    return queue_mail(
        user.email, kind=kind, dedupe_key=f"{key}:{user.id}", template=template,
        subject=subject, locale=user.locale, topic=f"campaign:{campaign.id}",
        campaign=campaign, user=user, **context,
    )


def _member_link(campaign: Campaign) -> str:
    return external_url("campaigns.member_detail", campaign_id=campaign.id)


def _supplier_link(campaign: Campaign) -> str:
    return external_url("campaigns.supplier_detail", campaign_id=campaign.id)


# --- creating and editing ----------------------------------------------------------------------


@dataclass
class CampaignSettings:
    """What the coordinator fills in; validated by :func:`check_settings`."""

    title: str
    product: Product
    registration_deadline: datetime
    decision_days: int
    description: str = ""
    threshold_quantity: Decimal | None = None
    threshold_sites: int | None = None
    capacity_quantity: Decimal | None = None
    allow_late_joiners: bool = False
    invite_by: InviteBy = InviteBy.AREA
    area_ids: list[int] = field(default_factory=list)
    geometry: shapely.Geometry | None = None  # drawn polygon, RD New
    tiers: list[Tier] = field(default_factory=list)


def check_settings(settings: CampaignSettings, *, now: datetime) -> list[Area]:
    if not settings.title.strip():
        raise ServiceError(N_("Enter a title."), field="title")
    if not settings.product.active:
        raise ServiceError(N_("This product is not offered any more."), field="product")
    if settings.registration_deadline <= now:
        raise ServiceError(N_("The registration deadline must be in the future."),
                           field="registration_deadline")
    if not 1 <= settings.decision_days <= 90:
        raise ServiceError(N_("The decision window is 1 to 90 days."), field="decision_days")
    if settings.threshold_quantity is None and settings.threshold_sites is None:
        raise ServiceError(
            N_("Set a threshold: a minimum total quantity, a minimum number of sites, or both."),
            field="threshold_quantity",
        )
    for name, value in (("threshold_quantity", settings.threshold_quantity),
                        ("capacity_quantity", settings.capacity_quantity)):
        if value is not None and (not pricing.within(value, pricing.MAX_VOLUME) or value <= 0
                                  or value != value.quantize(pricing.VOLUME_QUANTUM)):
            raise ServiceError(N_("Enter a quantity greater than 0 with at most three "
                                  "decimals."), field=name)
    if settings.threshold_sites is not None and not 1 <= settings.threshold_sites <= 100_000:
        raise ServiceError(N_("Enter a number of sites from 1."), field="threshold_sites")
    if (settings.capacity_quantity is not None and settings.threshold_quantity is not None
            and settings.capacity_quantity < settings.threshold_quantity):
        raise ServiceError(N_("The maximum capacity cannot be below the threshold."),
                           field="capacity_quantity")
    areas = chosen_areas(settings.area_ids, drawn=settings.geometry is not None)
    if settings.tiers:
        settings.tiers = pricing.check_tiers(settings.tiers)
    return areas


def _apply(campaign: Campaign, settings: CampaignSettings, areas: list[Area]) -> None:
    campaign.title = settings.title.strip()
    campaign.description = settings.description.strip()
    campaign.product = settings.product
    campaign.registration_deadline = settings.registration_deadline
    campaign.decision_days = settings.decision_days
    campaign.threshold_quantity = settings.threshold_quantity
    campaign.threshold_sites = settings.threshold_sites
    campaign.capacity_quantity = settings.capacity_quantity
    campaign.allow_late_joiners = settings.allow_late_joiners
    campaign.invite_by = settings.invite_by
    campaign.areas = areas
    campaign.geometry_wkb = (shapely.to_wkb(settings.geometry)
                             if settings.geometry is not None else None)
    campaign.tiers = [CampaignTier(min_volume=t.min_volume, unit_price=t.unit_price)
                      for t in settings.tiers]


def create_campaign(settings: CampaignSettings, *, actor: User) -> Campaign:
    _require_staff(actor)
    areas = check_settings(settings, now=utcnow())
    campaign = Campaign(coordinator=actor, state=CampaignState.DRAFT)
    _apply(campaign, settings, areas)
    db.session.add(campaign)
    record(actor, "campaign.create", campaign, title=campaign.title,
           product=settings.product.code)
    return campaign


def update_campaign(campaign: Campaign, settings: CampaignSettings, *, actor: User) -> Campaign:
    """Change a draft. An open campaign only takes a later deadline and late joiners."""
    _require_staff(actor)
    if campaign.state == CampaignState.OPEN:
        return update_open_campaign(campaign, actor=actor,
                                    registration_deadline=settings.registration_deadline,
                                    allow_late_joiners=settings.allow_late_joiners,
                                    description=settings.description)
    if campaign.state != CampaignState.DRAFT:
        raise Conflict(N_("Only a draft can be changed."))
    areas = check_settings(settings, now=utcnow())
    # Replacing the tiers: delete the old rows before the new ones (same unique minimums).
    campaign.tiers = []
    db.session.flush()
    _apply(campaign, settings, areas)
    db.session.flush()
    record(actor, "campaign.update", campaign)
    return campaign


def update_open_campaign(campaign: Campaign, *, actor: User, registration_deadline: datetime,
                         allow_late_joiners: bool, description: str) -> Campaign:
    _require_staff(actor)
    _lock(campaign)
    if campaign.state != CampaignState.OPEN:
        raise Conflict(N_("Only an open group buy can be extended."))
    if registration_deadline < campaign.registration_deadline:
        raise ServiceError(N_("While registration is open the deadline can only move later."),
                           field="registration_deadline")
    if registration_deadline <= database_time():
        raise ServiceError(N_("The registration deadline must be in the future."),
                           field="registration_deadline")
    old = campaign.registration_deadline
    campaign.registration_deadline = registration_deadline
    campaign.allow_late_joiners = allow_late_joiners
    campaign.description = description.strip()
    db.session.flush()
    record(actor, "campaign.extend", campaign, old=old.isoformat(),
           new=registration_deadline.isoformat(), late=allow_late_joiners)
    return campaign


# --- invitations -------------------------------------------------------------------------------


def organisations_to_invite(campaign: Campaign) -> list[int]:
    """Member organisations to invite: by area, by registered demand, or label C sites."""
    sites = list(db.session.scalars(sa.select(Site).options(selectinload(Site.demands))))
    inside = sites_inside(campaign, sites)
    if campaign.invite_by == InviteBy.DEMAND:
        inside = [s for s in inside if any(
            d.product_id == campaign.product_id and d.stage != Stage.WITHDRAWN
            for d in s.demands)]
    elif campaign.invite_by == InviteBy.LABEL_C:
        inside = [s for s in inside if label_c_required(
            s, min_office_m2=_config("LABEL_C_MIN_OFFICE_M2"),
            min_share=_config("LABEL_C_MIN_OFFICE_SHARE"))]
    return sorted({s.organisation_id for s in inside})


def invite_supplier(campaign: Campaign, supplier: User, *, actor: User) -> SupplierInvitation:
    _require_staff(actor)
    if supplier.role != Role.PROVIDER or not supplier.active:
        raise ServiceError(N_("Only active accounts with the role provider can be invited."),
                           field="supplier_id")
    if campaign.state not in (CampaignState.DRAFT, CampaignState.OPEN, CampaignState.BIDDING):
        raise Conflict(N_("Suppliers can be invited until bidding starts or while it runs."))
    if supplier.id in campaign.supplier_ids:
        raise Conflict(N_("%(email)s is invited already."), field="supplier_id",
                       email=supplier.email)
    invitation = SupplierInvitation(campaign_id=campaign.id, user=supplier)
    campaign.supplier_invitations.append(invitation)
    db.session.flush()
    if campaign.state != CampaignState.DRAFT:
        _mail_supplier_invitation(campaign, supplier)
    record(actor, "campaign.invite_supplier", campaign, supplier=supplier.email)
    return invitation


def _mail_supplier_invitation(campaign: Campaign, supplier: User) -> None:
    if campaign.state == CampaignState.BIDDING:  # invited late: bidding is open already
        _mail(supplier, campaign, kind=MailKind.INVITATION, key=f"bidding:{campaign.id}",
              template="bidding_open", subject=N_("Bidding is open: %(title)s"),
              title=campaign.title, link=_supplier_link(campaign))
        return
    _mail(supplier, campaign, kind=MailKind.INVITATION, key=f"invite-supplier:{campaign.id}",
          template="supplier_invitation",
          subject=N_("Invitation to bid: %(title)s"), title=campaign.title,
          link=_supplier_link(campaign))


# --- transitions -------------------------------------------------------------------------------


def open_campaign(campaign: Campaign, *, actor: User) -> int:
    """draft → open: registration starts and the invitations go out. Returns the number of
    invited organisations."""
    _require_staff(actor)
    _lock(campaign)
    if campaign.state != CampaignState.DRAFT:
        raise Conflict(N_("Only a draft can be opened."))
    if campaign.registration_deadline <= database_time():
        raise Conflict(N_("The registration deadline has passed; set a later one first."))
    if campaign_geometry(campaign) is None:
        raise Conflict(N_("Choose at least one area or draw one on the map."))
    if not campaign.product.active:
        raise Conflict(N_("This product is not offered any more."))
    campaign.state = CampaignState.OPEN
    campaign.opened_at = utcnow()
    organisation_ids = organisations_to_invite(campaign)
    for organisation_id in organisation_ids:
        db.session.add(CampaignInvitation(campaign_id=campaign.id,
                                          organisation_id=organisation_id))
    db.session.flush()
    for user in member_users(organisation_ids):
        _mail(user, campaign, kind=MailKind.INVITATION, key=f"invite:{campaign.id}",
              template="invitation", subject=N_("New group buy: %(title)s"),
              title=campaign.title, link=_member_link(campaign))
    for invitation in campaign.supplier_invitations:
        _mail_supplier_invitation(campaign, invitation.user)
    record(actor, "campaign.open", campaign, invited=len(organisation_ids),
           invite_by=campaign.invite_by.value)
    return len(organisation_ids)


def start_bidding(campaign: Campaign, *, actor: User, close_early: bool = False) -> None:
    """open → bidding: registration closes and the invited suppliers may bid."""
    _require_staff(actor)
    _lock(campaign)
    if campaign.state != CampaignState.OPEN:
        raise Conflict(N_("Bidding starts from an open group buy."))
    now = database_time()
    if campaign.registration_deadline > now and not close_early:
        raise Conflict(N_("Registration is open until the deadline. Close it early to start "
                          "bidding now."))
    if not campaign.supplier_invitations:
        raise Conflict(N_("Invite at least one supplier before bidding starts."))
    state = progress(campaign)
    if not state.met:
        raise Conflict(N_("The registered interest does not reach the threshold; extend the "
                          "deadline or cancel the group buy."))
    campaign.registration_deadline = min(campaign.registration_deadline, now)
    campaign.state = CampaignState.BIDDING
    campaign.bidding_at = utcnow()
    db.session.flush()
    for invitation in campaign.supplier_invitations:
        _mail(invitation.user, campaign, kind=MailKind.INVITATION,
              key=f"bidding:{campaign.id}", template="bidding_open",
              subject=N_("Bidding is open: %(title)s"), title=campaign.title,
              link=_supplier_link(campaign))
    record(actor, "campaign.bidding", campaign, volume=str(state.volume), sites=state.sites,
           closed_early=close_early)


def submit_bid(campaign: Campaign, *, actor: User, tiers: Sequence[Tier],
               fixed_cost_per_site: Decimal, conditions: str, valid_until: datetime) -> Bid:
    """A supplier's bid (or its revision) while bidding is open."""
    _lock(campaign)
    if not visible_to_supplier(campaign, actor):
        raise NotAllowed(N_("You are not invited to bid on this group buy."))
    if campaign.state != CampaignState.BIDDING:
        raise Conflict(N_("Bids are accepted only while bidding is open."))
    checked = pricing.check_tiers(tiers)
    if not pricing.within(fixed_cost_per_site, pricing.MAX_AMOUNT) or fixed_cost_per_site < 0:
        raise ServiceError(N_("The fixed cost per site is 0 or more (and below 100 million)."),
                           field="fixed_cost_per_site")
    if fixed_cost_per_site != pricing.money(fixed_cost_per_site):
        raise ServiceError(N_("Use at most two decimals for amounts."),
                           field="fixed_cost_per_site")
    if valid_until <= database_time():
        raise ServiceError(N_("The bid must be valid until a date in the future."),
                           field="valid_until")
    bid = bid_of(campaign, actor)
    created = bid is None
    if bid is None:
        bid = Bid(campaign=campaign, supplier=actor)
        db.session.add(bid)
    else:
        bid.tiers = []
        db.session.flush()
    bid.status = BidStatus.SUBMITTED
    bid.fixed_cost_per_site = fixed_cost_per_site
    bid.conditions = conditions.strip()
    bid.valid_until = valid_until
    bid.submitted_at = utcnow()
    bid.tiers = [BidTier(min_volume=t.min_volume, unit_price=t.unit_price) for t in checked]
    db.session.flush()
    record(actor, "bid.submit" if created else "bid.revise", bid, campaign=campaign.id,
           tiers=[[str(t.min_volume), str(t.unit_price)] for t in checked],
           fixed=str(fixed_cost_per_site))
    return bid


def withdraw_bid(bid: Bid, *, actor: User) -> None:
    _lock(bid.campaign)
    if bid.supplier_id != actor.id:
        raise NotAllowed(N_("This is not your bid."))
    if bid.campaign.state != CampaignState.BIDDING or bid.status != BidStatus.SUBMITTED:
        raise Conflict(N_("Only a submitted bid can be withdrawn while bidding is open."))
    bid.status = BidStatus.WITHDRAWN
    db.session.flush()
    record(actor, "bid.withdraw", bid, campaign=bid.campaign_id)


def award_bid(campaign: Campaign, bid: Bid, *, actor: User) -> int:
    """bidding → offered: award one bid; every participant gets a personal offer.

    Returns the number of offers made.
    """
    _require_staff(actor)
    _lock(campaign)
    if campaign.state != CampaignState.BIDDING:
        raise Conflict(N_("A bid is awarded only while bidding is open."))
    if bid.campaign_id != campaign.id or bid.status != BidStatus.SUBMITTED:
        raise Conflict(N_("Only a submitted bid of this group buy can be awarded."))
    state = progress(campaign)
    if not state.met:
        raise Conflict(N_("The registered interest does not reach the threshold any more; "
                          "cancel the group buy or wait for late joiners."))
    tiers = tiers_of(bid.tiers)
    if pricing.unit_price_at(tiers, state.volume) is None:
        raise Conflict(N_("This bid has no price for the bundled volume of %(volume)s; its "
                          "lowest tier starts at %(minimum)s."),
                       volume=state.volume, minimum=tiers[0].min_volume)
    now = database_time()
    deadline = now + timedelta(days=campaign.decision_days)
    if bid.valid_until < deadline:
        raise Conflict(N_("The bid is valid until before the end of the decision window; ask "
                          "the supplier to extend it, or shorten the window."))
    bid.status = BidStatus.AWARDED
    for other in campaign.bids:
        if other.id != bid.id and other.status == BidStatus.SUBMITTED:
            other.status = BidStatus.REJECTED
    campaign.state = CampaignState.OFFERED
    campaign.offered_at = utcnow()
    campaign.decision_deadline = deadline
    db.session.flush()
    offers = [make_offer(p, bid, state.volume) for p in campaign.participations if p.active]
    db.session.flush()
    for offer in offers:
        _mail_offer(offer)
    for other in campaign.bids:
        if other.status in (BidStatus.AWARDED, BidStatus.REJECTED):
            _mail(other.supplier, campaign, kind=MailKind.DECISION, key=f"award:{campaign.id}",
                  template="bid_decision",
                  subject=N_("Your bid for %(title)s"), title=campaign.title,
                  awarded=other.status == BidStatus.AWARDED, link=_supplier_link(campaign))
    record(actor, "campaign.award", campaign, bid=bid.id, supplier=bid.supplier.email,
           offers=len(offers), volume=str(state.volume),
           decision_deadline=deadline.isoformat())
    return len(offers)


def make_offer(participation: Participation, bid: Bid, volume: Decimal) -> Offer:
    """The personal offer at the tier ``volume`` reaches, with the worst case at threshold."""
    campaign = participation.campaign
    tiers = tiers_of(bid.tiers)
    unit = pricing.unit_price_at(tiers, volume)
    worst_volume = pricing.worst_case_volume(tiers, campaign.threshold_quantity)
    worst = pricing.unit_price_at(tiers, worst_volume)
    assert unit is not None and worst is not None  # the award checked the volume
    worst = max(worst, unit)
    quantity = participation.quantity
    offer = Offer(
        participation=participation, bid=bid, quantity=quantity, unit_price=unit,
        worst_unit_price=worst, fixed_cost=bid.fixed_cost_per_site,
        total=pricing.line_total(quantity, unit, bid.fixed_cost_per_site),
        worst_total=pricing.line_total(quantity, worst, bid.fixed_cost_per_site),
        status=OfferStatus.PENDING,
    )
    if campaign.product.code == "solar_roof":
        kwh = pricing.solar_yield_kwh(quantity, Decimal(str(_config("PV_YIELD_KWH_PER_KWP"))))
        offer.yearly_yield_kwh = kwh
        offer.yearly_savings = pricing.solar_savings(
            kwh, Decimal(str(_config("ELECTRICITY_PRICE_EUR_PER_KWH"))))
    db.session.add(offer)
    return offer


def _mail_offer(offer: Offer) -> None:
    participation = offer.participation
    campaign = participation.campaign
    for user in member_users([participation.site.organisation_id]):
        _mail(user, campaign, kind=MailKind.OFFER, key=f"offer:{offer.id}", template="offer",
              subject=N_("Your offer for %(title)s"), title=campaign.title, offer=offer,
              site=participation.site, link=_member_link(campaign),
              consent_missing=consent_missing(participation))


def _decide_offer(offer: Offer, status: OfferStatus, *, actor: User) -> None:
    participation = offer.participation
    if actor.role != Role.MEMBER or actor.organisation_id != participation.site.organisation_id:
        raise NotAllowed(N_("This is not your offer."))
    _lock(participation.campaign)
    if offer.status != OfferStatus.PENDING:
        raise Conflict(N_("You decided on this offer already."))
    if status == OfferStatus.ACCEPTED and consent_missing(participation):
        raise Conflict(N_("The building owner has not given consent yet. You can accept once "
                          "the owner has confirmed."))
    # The window is checked in the statement itself: the database's clock decides.
    window_open = sa.exists().where(
        Campaign.id == participation.campaign_id, Campaign.state == CampaignState.OFFERED,
        Campaign.decision_deadline > db_now(),
    )
    result = db.session.execute(
        sa.update(Offer)
        .where(Offer.id == offer.id, Offer.status == OfferStatus.PENDING, window_open)
        .values(status=status, decided_at=db_now(), decided_by_id=actor.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(N_("The decision window has closed; this offer can no longer be "
                          "accepted or declined."))
    db.session.refresh(offer)
    record(actor, f"offer.{status.value}", offer, campaign=participation.campaign_id,
           site=participation.site_id, total=str(offer.total))


def accept_offer(offer: Offer, *, actor: User) -> None:
    """Binding acceptance, within the decision window and with the owner's consent."""
    _decide_offer(offer, OfferStatus.ACCEPTED, actor=actor)


def decline_offer(offer: Offer, *, actor: User) -> None:
    _decide_offer(offer, OfferStatus.DECLINED, actor=actor)


def decide(campaign: Campaign, *, actor: User) -> bool:
    """offered → contracted (go) or cancelled (no-go) at the end of the decision window.

    Go when the accepted offers reach the threshold (quantity and/or sites) and the awarded
    bid's lowest tier; everyone then pays the tier the accepted volume reaches. Offers without
    a decision lapse. Returns True for go.
    """
    _require_staff(actor)
    _lock(campaign)
    if campaign.state != CampaignState.OFFERED:
        raise Conflict(N_("The go/no-go decision follows the offers."))
    totals = accepted_totals(campaign)
    assert campaign.decision_deadline is not None
    if campaign.decision_deadline > database_time() and totals.pending:
        raise Conflict(N_("The decision window is still open and %(count)s member(s) have not "
                          "decided yet."), count=totals.pending)
    bid = campaign.awarded_bid
    assert bid is not None
    if bid.valid_until < database_time():
        raise Conflict(N_("The awarded bid expired on %(date)s: a contract needs a valid bid. "
                          "Cancel the group buy, or record the supplier's written extension "
                          "outside the service first."), date=bid.valid_until.date().isoformat())
    offers = [p.offer for p in campaign.participations if p.offer is not None]
    for offer in offers:
        if offer.status == OfferStatus.PENDING:
            offer.status = OfferStatus.LAPSED
    tiers = tiers_of(bid.tiers)
    threshold_met = (
        (campaign.threshold_quantity is None or totals.volume >= campaign.threshold_quantity)
        and (campaign.threshold_sites is None or totals.sites >= campaign.threshold_sites)
        and totals.sites > 0
    )
    campaign.closed_at = utcnow()
    if not threshold_met or totals.volume < tiers[0].min_volume:
        reason = NO_GO_REASON if not threshold_met else NO_GO_TIER_REASON
        _cancel(campaign, actor=actor, reason=reason, accepted=totals)
        return False
    final = pricing.unit_price_at(tiers, totals.volume)
    assert final is not None
    campaign.state = CampaignState.CONTRACTED
    campaign.final_volume = totals.volume
    campaign.final_unit_price = final
    for offer in offers:
        if offer.status == OfferStatus.ACCEPTED:
            offer.final_unit_price = final
            offer.final_total = pricing.line_total(offer.quantity, final, offer.fixed_cost)
    db.session.flush()
    for offer in offers:
        for user in member_users([offer.participation.site.organisation_id]):
            _mail(user, campaign, kind=MailKind.DECISION, key=f"decision:{offer.id}",
                  template="decision_go", subject=N_("The group buy %(title)s goes ahead"),
                  title=campaign.title, offer=offer, site=offer.participation.site,
                  link=_member_link(campaign))
    _mail(bid.supplier, campaign, kind=MailKind.DECISION, key=f"handoff:{campaign.id}",
          template="handoff_ready", subject=N_("Contract and hand-off: %(title)s"),
          title=campaign.title, sites=totals.sites, volume=totals.volume,
          link=_supplier_link(campaign))
    record(actor, "campaign.contracted", campaign, volume=str(totals.volume),
           sites=totals.sites, unit_price=str(final), bid=bid.id)
    return True


def cancel_campaign(campaign: Campaign, *, actor: User, reason: str) -> None:
    """Any state before contracted → cancelled; every participant and supplier is told why."""
    _require_staff(actor)
    _lock(campaign)
    if campaign.state not in CANCELLABLE:
        raise Conflict(N_("This group buy cannot be cancelled any more."))
    if not reason.strip():
        raise ServiceError(N_("Give the reason; it is sent to everyone taking part."),
                           field="reason")
    campaign.closed_at = utcnow()
    for participation in campaign.participations:
        if participation.offer is not None and participation.offer.status == OfferStatus.PENDING:
            participation.offer.status = OfferStatus.LAPSED
    _cancel(campaign, actor=actor, reason=reason.strip()[:500], accepted=None)


def _cancel(campaign: Campaign, *, actor: User, reason: str,
            accepted: AcceptedTotals | None) -> None:
    was = campaign.state
    campaign.state = CampaignState.CANCELLED
    campaign.cancel_reason = reason
    for bid in campaign.bids:
        if bid.status in (BidStatus.SUBMITTED, BidStatus.AWARDED):
            bid.status = BidStatus.REJECTED
    db.session.flush()
    if was != CampaignState.DRAFT:
        organisations = set(participant_organisations(campaign))
        organisations |= set(participant_organisations(campaign, with_offer=True))
        for user in member_users(organisations):
            _mail(user, campaign, kind=MailKind.CANCELLATION, key=f"cancel:{campaign.id}",
                  template="cancellation", subject=N_("The group buy %(title)s is cancelled"),
                  title=campaign.title, reason=reason, accepted=accepted,
                  link=_member_link(campaign))
        for invitation in campaign.supplier_invitations:
            _mail(invitation.user, campaign, kind=MailKind.CANCELLATION,
                  key=f"cancel:{campaign.id}", template="cancellation",
                  subject=N_("The group buy %(title)s is cancelled"), title=campaign.title,
                  reason=reason, accepted=accepted, link=_supplier_link(campaign))
    record(actor, "campaign.cancel", campaign, reason=reason, previous=was.value,
           accepted_volume=str(accepted.volume) if accepted else None,
           accepted_sites=accepted.sites if accepted else None)


# --- members taking part -----------------------------------------------------------------------


def _lock(campaign: Campaign) -> None:
    """Serialise changes to one campaign and work on fresh data.

    Every transition, bid change, join, withdrawal and offer decision starts here: a
    PostgreSQL row lock (SQLite serialises writers with ``BEGIN IMMEDIATE``) makes concurrent
    requests queue, and everything read before the lock is expired and read again, so the
    guards that follow see what the request that went first committed.
    """
    db.session.flush()
    db.session.expire_all()
    db.session.execute(  # fetched: rows only refresh the instance when they are read
        sa.select(Campaign).where(Campaign.id == campaign.id).with_for_update(of=Campaign)
        .execution_options(populate_existing=True)
    ).scalar_one()


def _require_staff(actor: User) -> None:
    """Coordinator transitions refuse other roles here too, not only in the view."""
    if actor.role not in (Role.COORDINATOR, Role.ADMIN):
        raise NotAllowed(N_("Only a coordinator can do this."))


def _normal_window() -> sa.ColumnElement[bool]:
    return sa.and_(Campaign.state == CampaignState.OPEN,
                   Campaign.registration_deadline > db_now())


def _late_window(states: Sequence[CampaignState]) -> sa.ColumnElement[bool]:
    return sa.and_(Campaign.allow_late_joiners.is_(True), Campaign.state.in_(states))


def join_campaign(campaign: Campaign, site: Site, *, actor: User, quantity: Any,
                  quantity_min: Any = None, quantity_max: Any = None) -> Participation:
    """Register (or change, or renew after withdrawing) a site's quantity, non-binding.

    Until the registration deadline by the database's clock; afterwards only when the
    coordinator allows late joiners (marked as late). A late joiner after the award gets an
    offer at once.
    """
    if actor.role != Role.MEMBER or actor.organisation_id != site.organisation_id:
        raise NotAllowed(N_("This is not your site."))
    if site not in sites_inside(campaign, [site]):
        raise ServiceError(N_("This site lies outside the areas of this group buy."))
    q, q_min, q_max = validated_quantities(campaign.product, quantity, quantity_min,
                                           quantity_max)
    _lock(campaign)
    existing = participation_of(campaign, site)
    if existing is not None and existing.offer is not None:
        raise Conflict(N_("You have an offer for this site; accept or decline it instead."))
    registered = registered_totals(campaign.id)[0]
    if campaign.capacity_quantity is not None:
        others = registered - (existing.quantity if existing is not None and existing.active
                               else Decimal(0))
        if others + q > campaign.capacity_quantity:
            raise Conflict(N_("This group buy is full: %(left)s %(unit)s of its capacity is "
                              "left."), field="quantity",
                           left=max(campaign.capacity_quantity - others, Decimal(0)),
                           unit=campaign.product.unit)
    normal = _normal_window()
    quantity_type = Participation.__table__.c.quantity.type
    if existing is None:
        late = sa.case((normal, sa.false()), else_=sa.true())
        rows = sa.select(
            sa.literal(campaign.id), sa.literal(site.id), sa.literal(q, quantity_type),
            sa.literal(q_min, quantity_type), sa.literal(q_max, quantity_type),
            sa.literal(ParticipationState.REGISTERED,
                       Participation.__table__.c.state.type),
            late, db_now(),
        ).where(Campaign.id == campaign.id, sa.or_(normal, _late_window(LATE_JOIN_STATES)))
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(Participation.__table__).from_select(
            ["campaign_id", "site_id", "quantity", "quantity_min", "quantity_max", "state",
             "late", "joined_at"], rows,
        ).on_conflict_do_nothing(index_elements=["campaign_id", "site_id"])
        # rowcount of an INSERT is only kept on request (SQLAlchemy 2: UPDATE/DELETE only).
        result = db.session.execute(statement.execution_options(preserve_rowcount=True))
        if result.rowcount != 1:
            if participation_of(campaign, site) is not None:
                raise Conflict(N_("This site was registered at the same moment; check the "
                                  "quantity and save again."))
            raise Conflict(N_("Registration for this group buy has closed."))
        participation = participation_of(campaign, site)
        assert participation is not None
        action = "participation.join"
    else:
        revive = not existing.active
        values: dict[str, Any] = {
            "quantity": q, "quantity_min": q_min, "quantity_max": q_max,
            "state": ParticipationState.REGISTERED, "updated_at": utcnow(),
        }
        if revive:  # late unless the normal window is open, by the database's clock
            values.update(late=~sa.exists().where(Campaign.id == campaign.id, normal),
                          joined_at=db_now())
        # Changes while registration is open; late joiners also while bidding.
        window = sa.exists().where(
            Campaign.id == campaign.id,
            sa.or_(normal, _late_window(LATE_JOIN_STATES if revive
                                        else (CampaignState.OPEN, CampaignState.BIDDING))),
        )
        result = db.session.execute(
            sa.update(Participation).where(Participation.id == existing.id, window)
            .values(**values).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise Conflict(N_("Registration for this group buy has closed."))
        participation = existing
        db.session.refresh(participation)
        action = "participation.join" if revive else "participation.update"
    db.session.expire(campaign, ["participations"])
    record(actor, action, participation, campaign=campaign.id, site=site.id,
           quantity=str(q), late=participation.late)
    if campaign.state == CampaignState.OFFERED and participation.offer is None:
        bid = campaign.awarded_bid
        assert bid is not None
        # Priced at the volume still in play: accepted and open offers plus this one (members
        # who declined are out).
        in_play = db.session.scalar(
            sa.select(sa.func.sum(Offer.quantity)).join(Offer.participation)
            .where(Participation.campaign_id == campaign.id,
                   Offer.status.in_([OfferStatus.PENDING, OfferStatus.ACCEPTED]))
        ) or Decimal(0)
        volume = in_play + participation.quantity
        if pricing.unit_price_at(tiers_of(bid.tiers), volume) is None:
            raise Conflict(N_("The awarded bid has no price for the volume still in play; a late "
                              "registration is not possible any more."))
        offer = make_offer(participation, bid, volume)
        db.session.flush()
        _mail_offer(offer)
    _after_registration(campaign, participation)
    return participation


def _after_registration(campaign: Campaign, participation: Participation) -> None:
    """Threshold reached (once per campaign) and the consent request to a member owner."""
    state = progress(campaign)
    if state.met and campaign.threshold_reached_at is None and campaign.state in ACTIVE_STATES:
        campaign.threshold_reached_at = utcnow()
        db.session.flush()
        recipients = member_users(participant_organisations(campaign))
        if campaign.coordinator is not None:
            recipients.append(campaign.coordinator)
        for user in recipients:
            _mail(user, campaign, kind=MailKind.THRESHOLD, key=f"threshold:{campaign.id}",
                  template="threshold", subject=N_("Threshold reached: %(title)s"),
                  title=campaign.title, progress=state,
                  link=(_member_link(campaign) if user.role == Role.MEMBER else
                        external_url("campaigns.manage", campaign_id=campaign.id)))
        record(None, "campaign.threshold_reached", campaign, volume=str(state.volume),
               sites=state.sites)
    site = participation.site
    if consent_missing(participation) and site.owner_organisation_id:
        _mail_member_owner(participation)


def withdraw_participation(participation: Participation, *, actor: User) -> None:
    """Withdraw while registration is open (late joiners also while bidding)."""
    if actor.role != Role.MEMBER or actor.organisation_id != participation.site.organisation_id:
        raise NotAllowed(N_("This is not your site."))
    _lock(participation.campaign)
    if not participation.active:
        raise Conflict(N_("This registration is withdrawn already."))
    if participation.offer is not None:
        raise Conflict(N_("You have an offer for this site; accept or decline it instead."))
    window = sa.exists().where(
        Campaign.id == participation.campaign_id,
        sa.or_(_normal_window(), _late_window((CampaignState.OPEN, CampaignState.BIDDING))),
    )
    result = db.session.execute(
        sa.update(Participation)
        .where(Participation.id == participation.id, window)
        .values(state=ParticipationState.WITHDRAWN, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(N_("Registration has closed; you can no longer withdraw."))
    db.session.refresh(participation)
    db.session.expire(participation.campaign, ["participations"])
    record(actor, "participation.withdraw", participation, campaign=participation.campaign_id)


# --- owner consent -----------------------------------------------------------------------------


def consent_requests(organisation: Organisation) -> list[Participation]:
    """Tenants' participations in running group buys on buildings this organisation owns."""
    rows = db.session.scalars(
        sa.select(Participation).join(Participation.site).join(Participation.campaign)
        .where(Site.owner_organisation_id == organisation.id,
               Site.tenure == Tenure.TENANT,
               Participation.state == ParticipationState.REGISTERED,
               Campaign.state.in_(ACTIVE_STATES))
        .order_by(Participation.id)
    )
    return [p for p in rows if needs_owner_consent(p)]


def _check_consent_possible(participation: Participation) -> None:
    if not needs_owner_consent(participation):
        raise Conflict(N_("This registration does not need the owner's consent."))
    if participation.owner_consent_at is not None:
        raise Conflict(N_("The owner has given consent already."))
    if participation.campaign.state not in ACTIVE_STATES or not participation.active:
        raise Conflict(N_("This group buy no longer runs."))


def _consent(participation: Participation, *, by: str, via: str) -> None:
    participation.owner_consent_at = utcnow()
    participation.owner_consent_by = by[:254]
    participation.owner_consent_via = via
    db.session.flush()


def give_owner_consent(participation: Participation, *, actor: User) -> None:
    """The owner, a member organisation, consents in the service."""
    site = participation.site
    if actor.role != Role.MEMBER or site.owner_organisation_id != actor.organisation_id:
        raise NotAllowed(N_("Only the owner of the building can give consent."))
    _check_consent_possible(participation)
    owner = site.owner_organisation
    _consent(participation, by=owner.name if owner else actor.email, via="member")
    record(actor, "participation.owner_consent", participation, via="member",
           owner=site.owner_organisation_id)


def request_owner_consent(participation: Participation, *, actor: User,
                          owner_kvk: str = "", owner_email: str = "") -> str:
    """Ask the owner: a member organisation (by KvK number) sees it in the service; anyone else
    gets a one-time link by e-mail. Returns ``"member"`` or ``"link"``."""
    from matchmaker.members.services import normalize_kvk

    site = participation.site
    if actor.role != Role.MEMBER or actor.organisation_id != site.organisation_id:
        raise NotAllowed(N_("This is not your site."))
    _check_consent_possible(participation)
    if owner_kvk.strip():
        kvk = normalize_kvk(owner_kvk)
        owner = db.session.scalar(sa.select(Organisation).where(Organisation.kvk_number == kvk))
        if owner is None:
            raise ServiceError(N_("No member has KvK number %(kvk)s; send the owner a link by "
                                  "e-mail instead."), field="kvk_number", kvk=kvk)
        if owner.id == site.organisation_id:
            raise ServiceError(N_("Your own organisation is the tenant, not the owner."),
                               field="kvk_number")
        if site.owner_organisation_id not in (None, owner.id):
            # A known owner is not replaced from the tenant's side.
            raise Conflict(N_("Another organisation is recorded as the owner of this building; "
                              "ask the coordinator to correct it."), field="kvk_number")
        site.owner_organisation = owner
        db.session.flush()
        _mail_member_owner(participation)
        record(actor, "participation.consent_request", participation, via="member",
               owner=owner.id)
        return "member"
    if not owner_email.strip():
        raise ServiceError(N_("Enter the owner's KvK number or e-mail address."),
                           field="owner_email")
    email = normalize_email(owner_email)
    tenant_addresses = {u.email for u in member_users([site.organisation_id])}
    tenant_addresses.add((site.organisation.contact_email or "").lower())
    if email in tenant_addresses:
        # The tenant cannot consent on the owner's behalf through its own mailbox.
        raise ServiceError(N_("Send the link to the building owner, not to an address of your "
                              "own organisation."), field="owner_email")
    days = int(_config("OWNER_CONSENT_LINK_DAYS"))
    token = OwnerConsentToken(participation=participation, email=email,
                              nonce=secrets.token_urlsafe(24),
                              expires_at=utcnow() + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    link = external_url("campaigns.owner_consent_link",
                        token=consent_serializer().dumps({"id": token.id, "n": token.nonce}))
    queue_mail(email, kind=MailKind.CONSENT, dedupe_key=f"consent-link:{token.id}",
               template="consent_link", subject=N_("Consent requested for %(address)s"),
               locale="nl", topic=f"campaign:{participation.campaign_id}",
               address=site.address, tenant=site.organisation.name,
               campaign=participation.campaign, link=link, days=days,
               expires_at=token.expires_at)
    record(actor, "participation.consent_request", participation, via="link", email=email)
    return "link"


def _mail_member_owner(participation: Participation) -> None:
    site = participation.site
    campaign = participation.campaign
    for user in member_users([site.owner_organisation_id] if site.owner_organisation_id else []):
        _mail(user, campaign, kind=MailKind.CONSENT, key=f"consent-member:{participation.id}",
              template="consent_member",
              subject=N_("Consent requested for %(address)s"), address=site.address,
              tenant=site.organisation.name, link=external_url("campaigns.consent_requests"))


def consent_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONSENT_SALT)


def consent_token(token: str) -> OwnerConsentToken:
    """The stored token behind a link; refuses tampered, expired and used links."""
    days = int(_config("OWNER_CONSENT_LINK_DAYS"))
    try:
        data = consent_serializer().loads(token, max_age=days * 24 * 3600)
    except SignatureExpired as exc:
        raise ServiceError(N_("This link has expired. Ask the tenant to send a new one.")
                           ) from exc
    except BadSignature as exc:
        raise ServiceError(N_("This link is not valid. Check that you copied all of it.")
                           ) from exc
    row = db.session.get(OwnerConsentToken, data.get("id")) if isinstance(data, dict) else None
    if row is None or not secrets.compare_digest(row.nonce, str(data.get("n", ""))):
        raise ServiceError(N_("This link is not valid. Check that you copied all of it."))
    if row.used_at is not None:
        raise Conflict(N_("This link has been used already; consent is recorded."))
    if row.expires_at <= database_time():
        raise ServiceError(N_("This link has expired. Ask the tenant to send a new one."))
    return row


def use_consent_token(token: str) -> Participation:
    """Record the owner's consent through a one-time link (single use, enforced in SQL)."""
    row = consent_token(token)
    participation = row.participation
    _check_consent_possible(participation)
    result = db.session.execute(
        sa.update(OwnerConsentToken)
        .where(OwnerConsentToken.id == row.id, OwnerConsentToken.used_at.is_(None),
               OwnerConsentToken.expires_at > db_now())
        .values(used_at=db_now()).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(N_("This link has been used already; consent is recorded."))
    _consent(participation, by=row.email, via="link")
    record(None, "participation.owner_consent", participation, via="link", email=row.email,
           token=row.id)
    return participation


# --- aggregates for suppliers, maps and exports ------------------------------------------------


def _participation_frame(campaign: Campaign) -> gpd.GeoDataFrame:
    rows = db.session.execute(
        sa.select(Participation.id, Site.x, Site.y, Site.organisation_id, Participation.quantity,
                  sa.func.coalesce(Participation.quantity_min, Participation.quantity),
                  sa.func.coalesce(Participation.quantity_max, Participation.quantity))
        .join(Participation.site)
        .where(Participation.campaign_id == campaign.id,
               Participation.state == ParticipationState.REGISTERED)
        .order_by(Participation.id)
    ).all()
    frame = pd.DataFrame(rows, columns=["id", "x", "y", "organisation_id", "quantity",
                                        "quantity_min", "quantity_max"])
    return gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["x"].astype(float), frame["y"].astype(float)),
        crs=RD_NEW,
    ).set_index("id")


def _areas_frame(campaign: Campaign) -> gpd.GeoDataFrame:
    """The campaign's areas keyed by id (a park and a kring may share a name)."""
    # Parks and other small areas before kringen: a site counts in the most specific area.
    order = {"park": 0, "neighbourhood": 1, "postcode4": 2, "kring": 3}
    areas = sorted(campaign.areas, key=lambda a: (order.get(a.kind.value, 9), a.name, a.id))
    rows = [(str(a.id), a.id, a.name, a.geometry) for a in areas]
    if campaign.geometry is not None:
        rows.append(("drawn", None, "", campaign.geometry))  # named in the view
    return gpd.GeoDataFrame(
        {"key": [r[0] for r in rows], "area_id": [r[1] for r in rows],
         "name": [r[2] for r in rows]},
        geometry=[r[3] for r in rows], crs=RD_NEW,
    )


@dataclass
class AreaAggregate:
    name: str  # "" for the drawn polygon
    cell: Cell  # under the disclosure rule
    sites: int
    volume: Decimal
    volume_min: Decimal
    volume_max: Decimal
    organisations: int
    area_id: int | None = None  # None for the drawn polygon and the total
    geometry: shapely.Geometry | None = None


def _per_member(volumes: pd.DataFrame) -> list[Decimal]:
    return [sum(group, Decimal(0)) for _, group in volumes.groupby("organisation_id")["quantity"]]


def area_aggregates(campaign: Campaign) -> tuple[list[AreaAggregate], AreaAggregate]:
    """Registered volume per area of the campaign and in total (exact), each with the cell a
    supplier may see under the disclosure rule (matchmaker/privacy.py)."""
    points = _participation_frame(campaign)
    areas = _areas_frame(campaign)
    labels = (bundle_by_area(points, areas, name_column="key") if len(areas)
              else pd.Series(dtype=object))

    def aggregate(name: str, rows: pd.DataFrame, area_id: int | None = None,
                  geometry: shapely.Geometry | None = None) -> AreaAggregate:
        return AreaAggregate(
            name=name, cell=disclose(_per_member(rows)), sites=len(rows),
            volume=sum(rows["quantity"], Decimal(0)),
            volume_min=sum(rows["quantity_min"], Decimal(0)),
            volume_max=sum(rows["quantity_max"], Decimal(0)),
            organisations=int(rows["organisation_id"].nunique()),
            area_id=area_id, geometry=geometry,
        )

    result = [
        aggregate(row.name, points[(labels == row.key).to_numpy()],
                  None if pd.isna(row.area_id) else int(row.area_id), row.geometry)
        for row in areas.itertuples()
    ]
    total = aggregate("*", points)
    # Complementary suppression: the total minus the areas shown is the hidden areas together,
    # so the total is shown only when the hidden areas form a safe group themselves.
    hidden = [row.key for row, item in zip(areas.itertuples(), result, strict=True)
              if item.cell.suppressed and item.sites]
    if hidden and disclose(_per_member(points[labels.isin(hidden).to_numpy()])).suppressed:
        total.cell = Cell(None, None, True)
    return result, total


@dataclass
class BundleRow:
    bundle_id: int
    sites: int
    organisations: int
    volume: Decimal
    span_m: float
    lon: float
    lat: float
    area: str
    disclosable: bool


def bundle_rows(campaign: Campaign, *, max_gap_m: float) -> list[BundleRow]:
    """Distance bundles (sites within ``max_gap_m`` of each other, chained) of the registered
    participations, with exact volumes and whether a supplier could be shown each."""
    points = _participation_frame(campaign)
    if points.empty:
        return []
    bundles = bundle_by_distance(points, max_gap_m=max_gap_m)
    summary = summarize_bundles(points, bundles, organisation="organisation_id")
    areas = _areas_frame(campaign)
    in_area = bundle_by_area(points, areas) if len(areas) else pd.Series(pd.NA, points.index)
    lon, lat = rd_to_wgs84(summary["centroid_x"].to_numpy(), summary["centroid_y"].to_numpy())
    rows = []
    for i, (bundle_id, item) in enumerate(summary.iterrows()):
        members = points[bundles == bundle_id]
        names = sorted({str(n) for n in in_area[bundles == bundle_id].dropna()})
        rows.append(BundleRow(
            bundle_id=int(bundle_id), sites=int(item["n_sites"]),
            organisations=int(item["n_organisations"]),
            volume=sum(members["quantity"], Decimal(0)), span_m=round(float(item["span_m"]), 1),
            lon=round(float(lon[i]), 6), lat=round(float(lat[i]), 6), area=", ".join(names),
            disclosable=not disclose(_per_member(members)).suppressed,
        ))
    return rows


# --- bid comparison ----------------------------------------------------------------------------


@dataclass
class BidColumn:
    bid: Bid
    tiers: list[Tier]
    prices: list[Decimal | None]  # at each comparison volume
    totals: list[Decimal | None]
    current_price: Decimal | None
    current_total: Decimal | None
    worst_price: Decimal | None
    cheapest: bool = False


@dataclass
class Comparison:
    volumes: list[Decimal]
    current: Decimal
    sites: int
    columns: list[BidColumn]


def compare_bids(campaign: Campaign) -> Comparison:
    """Submitted (or awarded) bids side by side at the current volume and at every tier.

    The bundle total at a volume is volume × unit price + sites × fixed cost; the cheapest
    bid at the current volume is marked.
    """
    state = progress(campaign)
    bids = [b for b in campaign.bids if b.status in (BidStatus.SUBMITTED, BidStatus.AWARDED)]
    volumes = sorted({state.volume, state.volume_min, state.volume_max,
                      *(t.min_volume for b in bids for t in b.tiers)})
    columns = []
    for bid in bids:
        tiers = tiers_of(bid.tiers)
        prices = [pricing.unit_price_at(tiers, v) for v in volumes]
        totals = [None if p is None else
                  pricing.bundle_total(v, state.sites, p, bid.fixed_cost_per_site)
                  for v, p in zip(volumes, prices, strict=True)]
        current = pricing.unit_price_at(tiers, state.volume)
        columns.append(BidColumn(
            bid=bid, tiers=tiers, prices=prices, totals=totals, current_price=current,
            current_total=(None if current is None else pricing.bundle_total(
                state.volume, state.sites, current, bid.fixed_cost_per_site)),
            worst_price=pricing.unit_price_at(
                tiers, pricing.worst_case_volume(tiers, campaign.threshold_quantity)),
        ))
    priced = [c for c in columns if c.current_total is not None]
    if priced:
        best = min(c.current_total for c in priced if c.current_total is not None)
        for c in priced:
            c.cheapest = c.current_total == best
    return Comparison(volumes=volumes, current=state.volume, sites=state.sites, columns=columns)


# --- hand-off ----------------------------------------------------------------------------------


def handoff(campaign: Campaign, *, actor: User) -> list[Offer]:
    """The accepted participants with what the supplier needs, after the contract only.

    Address-level data to a provider: every download is in the audit log.
    """
    if campaign.state != CampaignState.CONTRACTED:
        raise Conflict(N_("The hand-off is available once the group buy is contracted."))
    bid = campaign.awarded_bid
    if actor.role == Role.PROVIDER and (bid is None or bid.supplier_id != actor.id):
        raise NotAllowed(N_("Only the awarded supplier receives the hand-off."))
    offers = list(db.session.scalars(
        sa.select(Offer).join(Offer.participation).join(Participation.site)
        .where(Participation.campaign_id == campaign.id, Offer.status == OfferStatus.ACCEPTED)
        .order_by(Site.postcode, Site.house_number, Site.addition)
    ))
    record(actor, "campaign.handoff", campaign, rows=len(offers))
    return offers


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


# --- reminders ---------------------------------------------------------------------------------

REMINDER_DAYS = (7, 1)


def reminder_step(deadline: datetime, now: datetime) -> int | None:
    """Which reminder is due: 7 (a week or less to go), 1 (a day or less), or None."""
    left = deadline - now
    if left <= timedelta(0) or left > timedelta(days=REMINDER_DAYS[0]):
        return None
    return 1 if left <= timedelta(days=1) else 7


def queue_reminders(*, now: datetime | None = None) -> int:
    """Queue the reminders due 7 days and 1 day before each deadline; returns how many.

    Registration deadline: invited members who have not registered. Decision deadline:
    participants whose offer is still open. Each reminder's dedupe key names the campaign,
    the deadline, the step and the user, so running this again (or twice at once) queues
    nothing new; a deadline that moves gets its own reminders.
    """
    now = now or database_time()
    horizon = now + timedelta(days=REMINDER_DAYS[0])
    queued = 0
    for campaign in db.session.scalars(sa.select(Campaign).where(
        Campaign.state == CampaignState.OPEN, Campaign.registration_deadline > now,
        Campaign.registration_deadline <= horizon,
    ).order_by(Campaign.id)):
        step = reminder_step(campaign.registration_deadline, now)
        joined = sa.select(Site.organisation_id).join(Participation.site).where(
            Participation.campaign_id == campaign.id,
            Participation.state == ParticipationState.REGISTERED)
        organisations = db.session.scalars(sa.select(CampaignInvitation.organisation_id).where(
            CampaignInvitation.campaign_id == campaign.id,
            CampaignInvitation.organisation_id.not_in(joined)))
        deadline = campaign.registration_deadline
        for user in member_users(organisations):
            queued += _mail(user, campaign, kind=MailKind.REMINDER,
                            key=f"reminder:registration:{campaign.id}:{deadline:%Y%m%d%H%M}:"
                                f"{step}", template="reminder_registration",
                            subject=N_("Reminder: registration for %(title)s closes soon"),
                            title=campaign.title, days=step, deadline=deadline,
                            link=_member_link(campaign))
    for campaign in db.session.scalars(sa.select(Campaign).where(
        Campaign.state == CampaignState.OFFERED, Campaign.decision_deadline > now,
        Campaign.decision_deadline <= horizon,
    ).order_by(Campaign.id)):
        assert campaign.decision_deadline is not None
        deadline = campaign.decision_deadline
        step = reminder_step(deadline, now)
        for participation in campaign.participations:
            offer = participation.offer
            if offer is None or offer.status != OfferStatus.PENDING:
                continue
            for user in member_users([participation.site.organisation_id]):
                queued += _mail(user, campaign, kind=MailKind.REMINDER,
                                key=f"reminder:decision:{offer.id}:{deadline:%Y%m%d%H%M}:"
                                    f"{step}", template="reminder_decision",
                                subject=N_("Reminder: decide on your offer for %(title)s"),
                                title=campaign.title, days=step, deadline=deadline, offer=offer,
                                site=participation.site, link=_member_link(campaign))
    return queued
