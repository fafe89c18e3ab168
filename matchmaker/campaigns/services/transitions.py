"""The lifecycle's steps: open, bidding, bids, award and offers, the go/no-go decision, cancel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.campaigns import pricing
from matchmaker.campaigns.models import (
    Bid,
    BidStatus,
    BidTier,
    Campaign,
    CampaignInvitation,
    CampaignState,
    Offer,
    OfferStatus,
    Participation,
)
from matchmaker.campaigns.pricing import Tier
from matchmaker.campaigns.services.common import (
    CANCELLABLE,
    NO_GO_REASON,
    NO_GO_TIER_REASON,
    lock_campaign,
    require_staff,
    setting,
)
from matchmaker.campaigns.services.notify import (
    mail_user,
    member_link,
    member_users,
    participant_organisations,
    supplier_link,
)
from matchmaker.campaigns.services.progress import (
    AcceptedTotals,
    accepted_for,
    accepted_totals,
    progress,
)
from matchmaker.campaigns.services.queries import (
    bid_of,
    campaign_geometry,
    consent_missing,
    tiers_of,
    visible_to_supplier,
)
from matchmaker.campaigns.services.setup import mail_supplier_invitation, organisations_to_invite
from matchmaker.campaigns.timing import database_time, db_now
from matchmaker.database import rowcount
from matchmaker.errors import N_, Conflict, NotAllowed, ServiceError
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.models import utcnow


def open_campaign(campaign: Campaign, *, actor: User) -> int:
    """draft → open: registration starts and the invitations go out. Returns the number of
    invited organisations."""
    require_staff(actor)
    lock_campaign(campaign)
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
        mail_user(user, campaign, kind=MailKind.INVITATION, key=f"invite:{campaign.id}",
              template="invitation", subject=N_("New group buy: %(title)s"),
              title=campaign.title, link=member_link(campaign))
    for invitation in campaign.supplier_invitations:
        mail_supplier_invitation(campaign, invitation.user)
    record(actor, "campaign.open", campaign, invited=len(organisation_ids),
           invite_by=campaign.invite_by.value)
    return len(organisation_ids)


def start_bidding(campaign: Campaign, *, actor: User, close_early: bool = False) -> None:
    """open → bidding: registration closes and the invited suppliers may bid."""
    require_staff(actor)
    lock_campaign(campaign)
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
        mail_user(invitation.user, campaign, kind=MailKind.INVITATION,
              key=f"bidding:{campaign.id}", template="bidding_open",
              subject=N_("Bidding is open: %(title)s"), title=campaign.title,
              link=supplier_link(campaign))
    record(actor, "campaign.bidding", campaign, volume=str(state.volume), sites=state.sites,
           closed_early=close_early)


def submit_bid(campaign: Campaign, *, actor: User, tiers: Sequence[Tier],
               fixed_cost_per_site: Decimal, conditions: str, valid_until: datetime) -> Bid:
    """A supplier's bid (or its revision) while bidding is open."""
    lock_campaign(campaign)
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
    lock_campaign(bid.campaign)
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
    require_staff(actor)
    lock_campaign(campaign)
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
        mail_offer(offer)
    for other in campaign.bids:
        if other.status in (BidStatus.AWARDED, BidStatus.REJECTED):
            mail_user(other.supplier, campaign, kind=MailKind.DECISION, key=f"award:{campaign.id}",
                  template="bid_decision",
                  subject=N_("Your bid for %(title)s"), title=campaign.title,
                  awarded=other.status == BidStatus.AWARDED, link=supplier_link(campaign))
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
        kwh = pricing.solar_yield_kwh(quantity, Decimal(str(setting("PV_YIELD_KWH_PER_KWP"))))
        offer.yearly_yield_kwh = kwh
        offer.yearly_savings = pricing.solar_savings(
            kwh, Decimal(str(setting("ELECTRICITY_PRICE_EUR_PER_KWH"))))
    db.session.add(offer)
    return offer


def mail_offer(offer: Offer) -> None:
    participation = offer.participation
    campaign = participation.campaign
    for user in member_users([participation.site.organisation_id]):
        mail_user(user, campaign, kind=MailKind.OFFER, key=f"offer:{offer.id}", template="offer",
              subject=N_("Your offer for %(title)s"), title=campaign.title, offer=offer,
              site=participation.site, link=member_link(campaign),
              consent_missing=consent_missing(participation))


def _decide_offer(offer: Offer, status: OfferStatus, *, actor: User) -> None:
    participation = offer.participation
    if actor.role != Role.MEMBER or actor.organisation_id != participation.site.organisation_id:
        raise NotAllowed(N_("This is not your offer."))
    lock_campaign(participation.campaign)
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
    if rowcount(result) != 1:
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
    require_staff(actor)
    lock_campaign(campaign)
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
            mail_user(user, campaign, kind=MailKind.DECISION, key=f"decision:{offer.id}",
                  template="decision_go", subject=N_("The group buy %(title)s goes ahead"),
                  title=campaign.title, offer=offer, site=offer.participation.site,
                  link=member_link(campaign))
    mail_user(bid.supplier, campaign, kind=MailKind.DECISION, key=f"handoff:{campaign.id}",
          template="handoff_ready", subject=N_("Contract and hand-off: %(title)s"),
          title=campaign.title, sites=totals.sites, volume=totals.volume,
          link=supplier_link(campaign))
    record(actor, "campaign.contracted", campaign, volume=str(totals.volume),
           sites=totals.sites, unit_price=str(final), bid=bid.id)
    return True


def cancel_campaign(campaign: Campaign, *, actor: User, reason: str) -> None:
    """Any state before contracted → cancelled; every participant and supplier is told why."""
    require_staff(actor)
    lock_campaign(campaign)
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
            mail_user(user, campaign, kind=MailKind.CANCELLATION, key=f"cancel:{campaign.id}",
                  template="cancellation", subject=N_("The group buy %(title)s is cancelled"),
                  title=campaign.title, reason=reason,
                  accepted=accepted_for(campaign, user) if accepted else None,
                  link=member_link(campaign))
        for invitation in campaign.supplier_invitations:
            mail_user(invitation.user, campaign, kind=MailKind.CANCELLATION,
                  key=f"cancel:{campaign.id}", template="cancellation",
                  subject=N_("The group buy %(title)s is cancelled"), title=campaign.title,
                  reason=reason, accepted=accepted_for(campaign, invitation.user)
                  if accepted else None, link=supplier_link(campaign))
    record(actor, "campaign.cancel", campaign, reason=reason, previous=was.value,
           accepted_volume=str(accepted.volume) if accepted else None,
           accepted_sites=accepted.sites if accepted else None)
