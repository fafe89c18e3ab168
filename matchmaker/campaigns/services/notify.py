"""Who gets which e-mail about a group buy, and the links in it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from matchmaker.auth.models import Role, User
from matchmaker.campaigns.models import (
    Campaign,
    Offer,
    Participation,
    ParticipationState,
)
from matchmaker.extensions import db
from matchmaker.mail.models import MailKind
from matchmaker.mail.services import external_url, queue_mail
from matchmaker.members.models import Site


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


def mail_user(user: User, campaign: Campaign, *, kind: MailKind, key: str, template: str,
          subject: str, **context: Any) -> bool:
    return queue_mail(
        user.email, kind=kind, dedupe_key=f"{key}:{user.id}", template=template,
        subject=subject, locale=user.locale, topic=f"campaign:{campaign.id}",
        campaign=campaign, user=user, **context,
    )


def member_link(campaign: Campaign) -> str:
    return external_url("campaigns.member_detail", campaign_id=campaign.id)


def supplier_link(campaign: Campaign) -> str:
    return external_url("campaigns.supplier_detail", campaign_id=campaign.id)
