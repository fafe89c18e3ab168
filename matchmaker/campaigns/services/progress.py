"""Bundled volume against the threshold, always computed from the participation rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from matchmaker.auth.models import Role, User
from matchmaker.campaigns import pricing
from matchmaker.campaigns.models import (
    Campaign,
    Offer,
    OfferStatus,
    Participation,
    ParticipationState,
)
from matchmaker.campaigns.pricing import Tier
from matchmaker.campaigns.services.queries import tiers_of
from matchmaker.disclosure import hidden_fields, shown_progress, shown_total
from matchmaker.extensions import db
from matchmaker.members.models import Site


@dataclass
class Progress:
    """The bundled volume of the registered participations, against threshold and tiers.

    ``hidden``: the numbers were withheld under the disclosure rule
    (:func:`matchmaker.disclosure.shown_progress`): volume, sites, organisations and the range
    are None, and so is everything derived from them (met, tier, percentages); the bar's scale
    then ignores the volume, so not even its length tells it.
    """

    volume: Decimal | None
    sites: int | None
    organisations: int | None
    volume_min: Decimal | None
    volume_max: Decimal | None
    threshold_quantity: Decimal | None
    threshold_sites: int | None
    capacity: Decimal | None
    tiers: list[Tier] = field(default_factory=list)
    tiers_indicative: bool = True
    hidden: bool = False
    #: Whether the threshold is reached, kept when the numbers are hidden: it is a step of the
    #: group buy (bidding starts only then), not a number.
    hidden_met: bool | None = None

    @property
    def quantity_met(self) -> bool | None:
        if self.threshold_quantity is None:
            return True
        return None if self.volume is None else self.volume >= self.threshold_quantity

    @property
    def sites_met(self) -> bool | None:
        if self.threshold_sites is None:
            return True
        return None if self.sites is None else self.sites >= self.threshold_sites

    @property
    def met(self) -> bool | None:
        if self.hidden:
            return self.hidden_met
        return bool(self.quantity_met and self.sites_met)

    @property
    def tier(self) -> Tier | None:
        if self.volume is None:
            return None
        index = pricing.tier_index(self.tiers, self.volume)
        return None if index is None else self.tiers[index]

    @property
    def next_tier(self) -> Tier | None:
        return None if self.volume is None else pricing.next_tier(self.tiers, self.volume)

    @property
    def scale(self) -> Decimal:
        """The end of the bar: room for the volume, the threshold, capacity and every tier."""
        marks = [self.volume or 0, self.threshold_quantity or 0, self.capacity or 0,
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
    def threshold_percent(self) -> Decimal | None:
        """How far the volume is towards the quantity threshold (or sites threshold)."""
        if self.hidden or self.volume is None or self.sites is None:
            return None
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
    volume: Decimal | None
    sites: int | None
    pending: int | None
    hidden: bool = False


def member_volumes(campaign_id: int, *, accepted: bool = False) -> dict[int, Decimal]:
    """Registered (or, with ``accepted``, accepted) volume per member organisation: the group
    the disclosure rule is applied to."""
    if accepted:
        query = (sa.select(Site.organisation_id, sa.func.sum(Offer.quantity))
                 .select_from(Offer).join(Offer.participation).join(Participation.site)
                 .where(Participation.campaign_id == campaign_id,
                        Offer.status == OfferStatus.ACCEPTED))
    else:
        query = (sa.select(Site.organisation_id, sa.func.sum(Participation.quantity))
                 .select_from(Participation).join(Participation.site)
                 .where(Participation.campaign_id == campaign_id,
                        Participation.state == ParticipationState.REGISTERED))
    return {int(org): Decimal(total) for org, total in
            db.session.execute(query.group_by(Site.organisation_id)).all()}


def viewer_knows(viewer: User | None) -> set[int] | None:
    """Whose volumes ``viewer`` knows: None for staff (they see exact numbers), the own
    organisation for a member, nobody for a supplier or a mail to an outsider."""
    if viewer is not None and viewer.role in (Role.COORDINATOR, Role.ADMIN):
        return None
    if viewer is not None and viewer.organisation_id is not None:
        return {viewer.organisation_id}
    return set()


def progress_for(campaign: Campaign, viewer: User | None) -> Progress:
    """The progress as ``viewer`` may see it (the disclosure rule; staff see it exact)."""
    state = progress(campaign)
    known = viewer_knows(viewer)
    if known is None:
        return state
    return shown_progress(state, member_volumes(campaign.id), known=known)


def accepted_for(campaign: Campaign, viewer: User | None) -> AcceptedTotals:
    """The accepted totals as ``viewer`` may see them (as :func:`progress_for`)."""
    totals = accepted_totals(campaign)
    known = viewer_knows(viewer)
    if known is None or not shown_total(member_volumes(campaign.id, accepted=True),
                                        known=known).suppressed:
        return totals
    return hidden_fields(totals, ("volume", "sites", "pending"))


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
