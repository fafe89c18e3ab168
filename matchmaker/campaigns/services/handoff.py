"""The hand-off of accepted participants to the awarded supplier."""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.campaigns.models import (
    Campaign,
    CampaignState,
    Offer,
    OfferStatus,
    Participation,
)
from matchmaker.campaigns.services.queries import visible_to_supplier
from matchmaker.errors import N_, Conflict, NotFound
from matchmaker.extensions import db
from matchmaker.members.models import Site


def handoff(campaign: Campaign, *, actor: User) -> list[Offer]:
    """The accepted participants with what the supplier needs, after the contract only.

    Address-level data to a provider: every download is in the audit log. For a supplier the
    hand-off does not exist (404) unless it was invited, awarded and the group buy is
    contracted; staff are told when it is not contracted yet.
    """
    if actor.role == Role.PROVIDER:
        bid = campaign.awarded_bid
        if (not visible_to_supplier(campaign, actor) or bid is None
                or bid.supplier_id != actor.id or campaign.state != CampaignState.CONTRACTED):
            raise NotFound(N_("Only the awarded supplier receives the hand-off."))
    elif actor.role not in (Role.COORDINATOR, Role.ADMIN):
        raise NotFound(N_("Only the awarded supplier receives the hand-off."))
    elif campaign.state != CampaignState.CONTRACTED:
        raise Conflict(N_("The hand-off is available once the group buy is contracted."))
    offers = list(db.session.scalars(
        sa.select(Offer).join(Offer.participation).join(Participation.site)
        .where(Participation.campaign_id == campaign.id, Offer.status == OfferStatus.ACCEPTED)
        .order_by(Site.postcode, Site.house_number, Site.addition)
    ))
    record(actor, "campaign.handoff", campaign, rows=len(offers))
    return offers
