"""Tier arithmetic for group buys: pure functions over exact decimals (never floats).

A bid (or the coordinator's indicative price list) is a list of tiers *minimum volume → unit
price*. The price at a bundled volume ``V`` is the unit price of the tier with the largest
minimum ≤ ``V``; below the lowest minimum the bid has no price. Unit prices are euros with up to
four decimals; every amount a member pays (quantity × unit price + fixed cost per site) is
rounded to whole cents, half up (``ROUND_HALF_UP``: € 0.125 → € 0.13), once per line, as on an
invoice.

>>> tiers = [Tier(Decimal("0"), Decimal("1000")), Tier(Decimal("200"), Decimal("900"))]
>>> unit_price_at(tiers, Decimal("199.999")), unit_price_at(tiers, Decimal("200"))
(Decimal('1000'), Decimal('900'))
>>> line_total(Decimal("12.5"), Decimal("0.9512"), Decimal("0"))
Decimal('11.89')
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from matchmaker.errors import N_, ServiceError

CENT = Decimal("0.01")
UNIT_PRICE_QUANTUM = Decimal("0.0001")
VOLUME_QUANTUM = Decimal("0.001")
MAX_TIERS = 10


@dataclass(frozen=True, order=True)
class Tier:
    min_volume: Decimal
    unit_price: Decimal


def money(amount: Decimal) -> Decimal:
    """Round an amount in euros to cents, half up."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


#: Bounds that keep every amount far inside the exact range of the database columns (scaled
#: BIGINT) and every quantity plausible; anything larger is a typo.
MAX_VOLUME = Decimal(10) ** 9
MAX_UNIT_PRICE = Decimal(10) ** 6
MAX_AMOUNT = Decimal(10) ** 8


def within(value: Decimal, maximum: Decimal) -> bool:
    """Finite and not above ``maximum`` (checked before any rounding: huge values would make
    ``quantize`` fail)."""
    return value.is_finite() and abs(value) <= maximum


def check_tiers(tiers: Iterable[Tier], *, field: str = "tiers") -> list[Tier]:
    """Validate and sort tiers; raises ``ServiceError`` with a message for the form.

    Rules: one to ten tiers; minimum volumes 0 or more with at most three decimals and all
    different; unit prices above 0 with at most four decimals; a higher tier never has a
    higher unit price (more volume may not cost more per unit).
    """
    result = sorted(tiers)
    if not result:
        raise ServiceError(N_("Enter at least one price tier."), field=field)
    if len(result) > MAX_TIERS:
        raise ServiceError(N_("Enter at most %(count)s price tiers."), field=field,
                           count=MAX_TIERS)
    for tier in result:
        if not tier.min_volume.is_finite() or tier.min_volume < 0:
            raise ServiceError(N_("A tier's minimum volume is 0 or more."), field=field)
        if not tier.unit_price.is_finite() or tier.unit_price <= 0:
            raise ServiceError(N_("A tier's unit price is more than 0."), field=field)
        if not within(tier.min_volume, MAX_VOLUME) or not within(tier.unit_price,
                                                                 MAX_UNIT_PRICE):
            raise ServiceError(N_("A tier's volume or unit price is implausibly large."),
                               field=field)
        if tier.min_volume != tier.min_volume.quantize(VOLUME_QUANTUM):
            raise ServiceError(N_("Use at most three decimals for volumes."), field=field)
        if tier.unit_price != tier.unit_price.quantize(UNIT_PRICE_QUANTUM):
            raise ServiceError(N_("Use at most four decimals for unit prices."), field=field)
    for lower, higher in itertools.pairwise(result):
        if lower.min_volume == higher.min_volume:
            raise ServiceError(N_("Two tiers start at the same volume %(volume)s."), field=field,
                               volume=lower.min_volume)
        if higher.unit_price > lower.unit_price:
            raise ServiceError(
                N_("The tier from %(volume)s has a higher unit price than the tier below it; "
                   "a larger volume may not cost more per unit."),
                field=field, volume=higher.min_volume,
            )
    return result


def tier_index(tiers: Sequence[Tier], volume: Decimal) -> int | None:
    """Index of the tier that ``volume`` reaches in sorted ``tiers``; ``None`` below the first."""
    reached = None
    for i, tier in enumerate(tiers):
        if tier.min_volume <= volume:
            reached = i
        else:
            break
    return reached


def unit_price_at(tiers: Sequence[Tier], volume: Decimal) -> Decimal | None:
    """The unit price at ``volume``: the tier with the largest minimum ≤ ``volume``."""
    index = tier_index(tiers, volume)
    return None if index is None else tiers[index].unit_price


def next_tier(tiers: Sequence[Tier], volume: Decimal) -> Tier | None:
    """The first tier above ``volume`` (what more volume would unlock), if any."""
    return next((t for t in tiers if t.min_volume > volume), None)


def worst_case_volume(tiers: Sequence[Tier], threshold_quantity: Decimal | None) -> Decimal:
    """The smallest volume at which the group buy can still go ahead with this bid.

    The campaign goes ahead only when the accepted volume reaches the threshold *and* the
    bid's lowest tier, so the price at this volume is the most anyone can end up paying.
    """
    floor = tiers[0].min_volume if tiers else Decimal(0)
    return max(threshold_quantity or Decimal(0), floor)


def line_total(quantity: Decimal, unit_price: Decimal, fixed_cost: Decimal) -> Decimal:
    """What one site pays: quantity × unit price + fixed cost per site, rounded to cents."""
    return money(quantity * unit_price + fixed_cost)


def bundle_total(volume: Decimal, sites: int, unit_price: Decimal, fixed_cost: Decimal
                 ) -> Decimal:
    """The whole bundle's cost at one price (for comparing bids), rounded to cents."""
    return money(volume * unit_price + sites * fixed_cost)


def solar_yield_kwh(kwp: Decimal, kwh_per_kwp: Decimal) -> Decimal:
    """Estimated yearly yield in whole kWh."""
    return (kwp * kwh_per_kwp).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def solar_savings(kwh: Decimal, eur_per_kwh: Decimal) -> Decimal:
    """Estimated yearly savings in euros (own use of the yield at the configured price)."""
    return money(kwh * eur_per_kwh)
