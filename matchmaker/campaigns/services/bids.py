"""Bids side by side at the current volume, the members' range and every tier."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from matchmaker.campaigns import pricing
from matchmaker.campaigns.models import (
    Bid,
    BidStatus,
    Campaign,
)
from matchmaker.campaigns.pricing import Tier
from matchmaker.campaigns.services.progress import progress
from matchmaker.campaigns.services.queries import tiers_of


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
