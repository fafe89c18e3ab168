"""Reminders 7 days and 1 day before the registration and decision deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from matchmaker.campaigns.models import (
    Campaign,
    CampaignInvitation,
    CampaignState,
    OfferStatus,
    Participation,
    ParticipationState,
)
from matchmaker.campaigns.services.notify import mail_user, member_link, member_users
from matchmaker.campaigns.timing import database_time
from matchmaker.errors import N_
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.members.models import Site

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
            queued += mail_user(user, campaign, kind=MailKind.REMINDER,
                            key=f"reminder:registration:{campaign.id}:{deadline:%Y%m%d%H%M}:"
                                f"{step}", template="reminder_registration",
                            subject=N_("Reminder: registration for %(title)s closes soon"),
                            title=campaign.title, days=step, deadline=deadline,
                            link=member_link(campaign))
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
                queued += mail_user(user, campaign, kind=MailKind.REMINDER,
                                key=f"reminder:decision:{offer.id}:{deadline:%Y%m%d%H%M}:"
                                    f"{step}", template="reminder_decision",
                                subject=N_("Reminder: decide on your offer for %(title)s"),
                                title=campaign.title, days=step, deadline=deadline, offer=offer,
                                site=participation.site, link=member_link(campaign))
    return queued
