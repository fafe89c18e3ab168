"""Creating and editing a group buy, and inviting suppliers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.campaigns import pricing
from matchmaker.campaigns.models import (
    Campaign,
    CampaignState,
    CampaignTier,
    InviteBy,
    SupplierInvitation,
)
from matchmaker.campaigns.pricing import Tier
from matchmaker.campaigns.services.common import lock_campaign, require_staff, setting
from matchmaker.campaigns.services.notify import mail_user, supplier_link
from matchmaker.campaigns.services.queries import sites_inside
from matchmaker.campaigns.timing import database_time
from matchmaker.demand.models import Product, Stage
from matchmaker.errors import N_, Conflict, ServiceError
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.members.models import Site
from matchmaker.members.services import label_c_required
from matchmaker.models import utcnow
from matchmaker.register.models import Area
from matchmaker.register.services import chosen_areas


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
    require_staff(actor)
    areas = check_settings(settings, now=utcnow())
    campaign = Campaign(coordinator=actor, state=CampaignState.DRAFT)
    _apply(campaign, settings, areas)
    db.session.add(campaign)
    record(actor, "campaign.create", campaign, title=campaign.title,
           product=settings.product.code)
    return campaign


def update_campaign(campaign: Campaign, settings: CampaignSettings, *, actor: User) -> Campaign:
    """Change a draft. An open campaign only takes a later deadline and late joiners."""
    require_staff(actor)
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
    require_staff(actor)
    lock_campaign(campaign)
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
            s, min_office_m2=setting("LABEL_C_MIN_OFFICE_M2"),
            min_share=setting("LABEL_C_MIN_OFFICE_SHARE"))]
    return sorted({s.organisation_id for s in inside})


def invite_supplier(campaign: Campaign, supplier: User, *, actor: User) -> SupplierInvitation:
    require_staff(actor)
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
        mail_supplier_invitation(campaign, supplier)
    record(actor, "campaign.invite_supplier", campaign, supplier=supplier.email)
    return invitation


def mail_supplier_invitation(campaign: Campaign, supplier: User) -> None:
    if campaign.state == CampaignState.BIDDING:  # invited late: bidding is open already
        mail_user(supplier, campaign, kind=MailKind.INVITATION, key=f"bidding:{campaign.id}",
              template="bidding_open", subject=N_("Bidding is open: %(title)s"),
              title=campaign.title, link=supplier_link(campaign))
        return
    mail_user(supplier, campaign, kind=MailKind.INVITATION, key=f"invite-supplier:{campaign.id}",
          template="supplier_invitation",
          subject=N_("Invitation to bid: %(title)s"), title=campaign.title,
          link=supplier_link(campaign))
