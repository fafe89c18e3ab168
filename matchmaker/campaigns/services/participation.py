"""Members registering their sites for a group buy, changing and withdrawing."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from matchmaker.audit.services import record
from matchmaker.auth.models import Role, User
from matchmaker.campaigns import pricing
from matchmaker.campaigns.models import (
    Campaign,
    CampaignState,
    Offer,
    OfferStatus,
    Participation,
    ParticipationState,
)
from matchmaker.campaigns.services.common import ACTIVE_STATES, LATE_JOIN_STATES, lock_campaign
from matchmaker.campaigns.services.consent import mail_member_owner
from matchmaker.campaigns.services.notify import (
    mail_user,
    member_link,
    member_users,
    participant_organisations,
)
from matchmaker.campaigns.services.progress import progress, progress_for, registered_totals
from matchmaker.campaigns.services.queries import (
    consent_missing,
    participation_of,
    sites_inside,
    tiers_of,
)
from matchmaker.campaigns.services.transitions import mail_offer, make_offer
from matchmaker.campaigns.timing import db_now
from matchmaker.database import rowcount
from matchmaker.demand.services import _validated as validated_quantities
from matchmaker.errors import N_, Conflict, NotAllowed, ServiceError
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.mail.services import external_url
from matchmaker.members.models import Site
from matchmaker.models import utcnow


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
    lock_campaign(campaign)
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
        if rowcount(result) != 1:
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
        if rowcount(result) != 1:
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
        mail_offer(offer)
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
            mail_user(user, campaign, kind=MailKind.THRESHOLD, key=f"threshold:{campaign.id}",
                  template="threshold", subject=N_("Threshold reached: %(title)s"),
                  title=campaign.title, progress=progress_for(campaign, user),
                  link=(member_link(campaign) if user.role == Role.MEMBER else
                        external_url("campaigns.manage", campaign_id=campaign.id)))
        record(None, "campaign.threshold_reached", campaign, volume=str(state.volume),
               sites=state.sites)
    site = participation.site
    if consent_missing(participation) and site.owner_organisation_id:
        mail_member_owner(participation)


def withdraw_participation(participation: Participation, *, actor: User) -> None:
    """Withdraw while registration is open (late joiners also while bidding)."""
    if actor.role != Role.MEMBER or actor.organisation_id != participation.site.organisation_id:
        raise NotAllowed(N_("This is not your site."))
    lock_campaign(participation.campaign)
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
    if rowcount(result) != 1:
        raise Conflict(N_("Registration has closed; you can no longer withdraw."))
    db.session.refresh(participation)
    db.session.expire(participation.campaign, ["participations"])
    record(actor, "participation.withdraw", participation, campaign=participation.campaign_id)
