"""Bundled volume against the threshold, always computed from the participation rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from matchmaker.auth.models import Role, User
from matchmaker.campaigns import pricing
from matchmaker.campaigns.models import (
    Bid,
    Campaign,
    Offer,
    OfferStatus,
    Participation,
    ParticipationState,
)
from matchmaker.campaigns.pricing import Tier
from matchmaker.campaigns.services.queries import tiers_of
from matchmaker.disclosure import shown_total
from matchmaker.extensions import db
from matchmaker.members.models import Site


def _scale(marks: list[Decimal | int]) -> Decimal:
    """The end of a progress bar: room for every mark, and 10 % more."""
    top = max(Decimal(m) for m in marks)
    return top * Decimal("1.1") if top > 0 else Decimal(1)


def _percent(value: Decimal | int | None, scale: Decimal) -> Decimal:
    """Position of ``value`` on a bar, 0–100, one decimal (for SVG coordinates)."""
    if value is None:
        return Decimal(0)
    pct = Decimal(value) * 100 / scale
    return min(max(pct, Decimal(0)), Decimal(100)).quantize(Decimal("0.1"))


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
    hidden = False  # see HiddenProgress

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
        return _scale([self.volume, self.threshold_quantity or 0, self.capacity or 0,
                       *(t.min_volume for t in self.tiers)])

    def percent(self, value: Decimal | int | None) -> Decimal:
        return _percent(value, self.scale)

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


@dataclass
class HiddenProgress:
    """A group buy's progress with its numbers withheld under the disclosure rule
    (:func:`progress_for`): only what is public — threshold, capacity, tiers — and whether the
    threshold is reached (a step of the group buy, not a number). Nothing here derives from
    the volume: the bar's scale ignores it, so not even its length tells it."""

    threshold_quantity: Decimal | None
    threshold_sites: int | None
    capacity: Decimal | None
    tiers: list[Tier]
    tiers_indicative: bool
    met: bool
    hidden = True

    @classmethod
    def of(cls, progress: Progress) -> HiddenProgress:
        return cls(progress.threshold_quantity, progress.threshold_sites, progress.capacity,
                   progress.tiers, progress.tiers_indicative, progress.met)

    @property
    def scale(self) -> Decimal:
        return _scale([self.threshold_quantity or 0, self.capacity or 0,
                       *(t.min_volume for t in self.tiers)])

    def percent(self, value: Decimal | int | None) -> Decimal:
        return _percent(value, self.scale)


Totals = tuple[Decimal, int, int, Decimal, Decimal]


def registered_totals(campaign_id: int) -> Totals:
    """(volume, sites, organisations, volume if all take their minimum, ... their maximum)."""
    return registered_totals_of([campaign_id])[campaign_id]


def registered_totals_of(campaign_ids: Sequence[int]) -> dict[int, Totals]:
    """:func:`registered_totals` of several campaigns in one query."""
    rows = db.session.execute(
        sa.select(
            Participation.campaign_id,
            sa.func.coalesce(sa.func.sum(Participation.quantity), 0),
            sa.func.count(Participation.id),
            sa.func.count(sa.distinct(Site.organisation_id)),
            sa.func.coalesce(sa.func.sum(
                sa.func.coalesce(Participation.quantity_min, Participation.quantity)), 0),
            sa.func.coalesce(sa.func.sum(
                sa.func.coalesce(Participation.quantity_max, Participation.quantity)), 0),
        ).join(Participation.site)
        .where(Participation.campaign_id.in_(list(campaign_ids)),
               Participation.state == ParticipationState.REGISTERED)
        .group_by(Participation.campaign_id)
    ).all()
    result = {cid: (Decimal(0), 0, 0, Decimal(0), Decimal(0)) for cid in campaign_ids}
    for cid, volume, sites, orgs, low, high in rows:
        result[cid] = (Decimal(volume), int(sites), int(orgs), Decimal(low), Decimal(high))
    return result


def progress(campaign: Campaign) -> Progress:
    return progress_of([campaign])[campaign.id]


def progress_of(campaigns: Sequence[Campaign]) -> dict[int, Progress]:
    """:func:`progress` of several campaigns (a list page) in a fixed number of queries."""
    if not campaigns:
        return {}
    ids = [c.id for c in campaigns]
    db.session.scalars(sa.select(Campaign).where(Campaign.id.in_(ids)).options(
        selectinload(Campaign.tiers), selectinload(Campaign.bids).selectinload(Bid.tiers))).all()
    totals = registered_totals_of(ids)
    result = {}
    for campaign in campaigns:
        volume, sites, orgs, low, high = totals[campaign.id]
        awarded = campaign.awarded_bid
        result[campaign.id] = Progress(
            volume=volume, sites=sites, organisations=orgs, volume_min=low, volume_max=high,
            threshold_quantity=campaign.threshold_quantity,
            threshold_sites=campaign.threshold_sites, capacity=campaign.capacity_quantity,
            tiers=tiers_of(awarded.tiers) if awarded else tiers_of(campaign.tiers),
            tiers_indicative=awarded is None,
        )
    return result


@dataclass
class AcceptedTotals:
    volume: Decimal
    sites: int
    pending: int


def member_volumes(campaign_id: int, *, accepted: bool = False) -> dict[int, Decimal]:
    """Registered (or, with ``accepted``, accepted) volume per member organisation: the group
    the disclosure rule is applied to."""
    return member_volumes_of([campaign_id], accepted=accepted)[campaign_id]


def member_volumes_of(campaign_ids: Sequence[int], *, accepted: bool = False
                      ) -> dict[int, dict[int, Decimal]]:
    """:func:`member_volumes` of several campaigns in one query."""
    if accepted:
        query = (sa.select(Participation.campaign_id, Site.organisation_id,
                           sa.func.sum(Offer.quantity))
                 .select_from(Offer).join(Offer.participation).join(Participation.site)
                 .where(Participation.campaign_id.in_(list(campaign_ids)),
                        Offer.status == OfferStatus.ACCEPTED))
    else:
        query = (sa.select(Participation.campaign_id, Site.organisation_id,
                           sa.func.sum(Participation.quantity))
                 .select_from(Participation).join(Participation.site)
                 .where(Participation.campaign_id.in_(list(campaign_ids)),
                        Participation.state == ParticipationState.REGISTERED))
    result: dict[int, dict[int, Decimal]] = {cid: {} for cid in campaign_ids}
    for cid, org, total in db.session.execute(
            query.group_by(Participation.campaign_id, Site.organisation_id)).all():
        result[int(cid)][int(org)] = Decimal(total)
    return result


def viewer_knows(viewer: User | None) -> set[int] | None:
    """Whose volumes ``viewer`` knows: None for staff (they see exact numbers), the own
    organisation for a member, nobody for a supplier or a mail to an outsider."""
    if viewer is not None and viewer.role in (Role.COORDINATOR, Role.ADMIN):
        return None
    if viewer is not None and viewer.organisation_id is not None:
        return {viewer.organisation_id}
    return set()


def progress_for(campaign: Campaign, viewer: User | None) -> Progress | HiddenProgress:
    """The progress as ``viewer`` may see it: exact for staff, else only when the total may be
    shown (:func:`matchmaker.disclosure.shown_total`), with every number derived from it."""
    return progress_for_all([campaign], viewer)[campaign.id]


def progress_for_all(campaigns: Sequence[Campaign], viewer: User | None
                     ) -> dict[int, Progress | HiddenProgress]:
    """:func:`progress_for` of several campaigns (a list page) in a fixed number of queries."""
    states = progress_of(campaigns)
    known = viewer_knows(viewer)
    if known is None:
        return dict(states)
    volumes = member_volumes_of([c.id for c in campaigns])
    return {cid: state if not shown_total(volumes[cid], known=known).suppressed
            else HiddenProgress.of(state) for cid, state in states.items()}


def accepted_for(campaign: Campaign, viewer: User | None) -> AcceptedTotals | None:
    """The accepted totals as ``viewer`` may see them (as :func:`progress_for`); None when
    they are withheld."""
    totals = accepted_totals(campaign)
    known = viewer_knows(viewer)
    if known is None or not shown_total(member_volumes(campaign.id, accepted=True),
                                        known=known).suppressed:
        return totals
    return None


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
