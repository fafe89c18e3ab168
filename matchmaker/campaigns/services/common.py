"""Constants and settings shared by the group buy services."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from matchmaker.auth.models import Role, User
from matchmaker.campaigns.models import (
    Campaign,
    CampaignState,
)
from matchmaker.errors import N_, NotAllowed
from matchmaker.extensions import db

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


def setting(name: str) -> Any:
    return current_app.config[name]


def lock_campaign(campaign: Campaign) -> None:
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


def require_staff(actor: User) -> None:
    """Coordinator transitions refuse other roles here too, not only in the view."""
    if actor.role not in (Role.COORDINATOR, Role.ADMIN):
        raise NotAllowed(N_("Only a coordinator can do this."))
