"""Tier arithmetic with exact decimals: property tests against a brute-force reading of the rule
("the tier with the largest minimum ≤ V"), and the rounding of every amount to cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matchmaker.campaigns import pricing
from matchmaker.campaigns.pricing import Tier
from matchmaker.errors import ServiceError

volumes = st.decimals(min_value=0, max_value=100_000, places=3, allow_nan=False,
                      allow_infinity=False)
prices = st.decimals(min_value=Decimal("0.0001"), max_value=5_000, places=4, allow_nan=False,
                     allow_infinity=False)
money_in = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False,
                       allow_infinity=False)


@st.composite
def tier_lists(draw: st.DrawFn) -> list[Tier]:
    """Valid tiers: distinct minimums, prices not rising with volume, sometimes no 0 tier."""
    lows = sorted(draw(st.sets(volumes, min_size=1, max_size=6)))
    rates = sorted(draw(st.lists(prices, min_size=len(lows), max_size=len(lows))), reverse=True)
    return [Tier(low, rate) for low, rate in zip(lows, rates, strict=True)]


def brute_price(tiers: list[Tier], volume: Decimal) -> Decimal | None:
    reached = [t for t in tiers if t.min_volume <= volume]
    return max(reached, key=lambda t: t.min_volume).unit_price if reached else None


@given(tier_lists(), volumes)
def test_price_is_the_tier_with_the_largest_minimum_not_above_the_volume(tiers, volume):
    checked = pricing.check_tiers(tiers)
    assert pricing.unit_price_at(checked, volume) == brute_price(tiers, volume)
    upper = pricing.next_tier(checked, volume)
    assert upper is None or (upper.min_volume > volume
                             and all(t.min_volume <= volume or t.min_volume >= upper.min_volume
                                     for t in checked))


@given(tier_lists(), volumes, volumes)
def test_more_volume_never_costs_more_per_unit(tiers, a, b):
    low, high = sorted((a, b))
    p_low, p_high = pricing.unit_price_at(tiers, low), pricing.unit_price_at(tiers, high)
    if p_low is not None:
        assert p_high is not None and p_high <= p_low


@given(tier_lists(), st.none() | volumes, volumes)
def test_the_final_price_never_exceeds_the_worst_case(tiers, threshold, accepted):
    """Go needs the accepted volume at or above the worst-case volume; then everyone pays the
    tier it reaches, which is at most the price at the worst-case volume."""
    floor = pricing.worst_case_volume(tiers, threshold)
    assert floor >= tiers[0].min_volume and floor >= (threshold or 0)
    worst = pricing.unit_price_at(tiers, floor)
    assert worst is not None
    if accepted >= floor:
        final = pricing.unit_price_at(tiers, accepted)
        assert final is not None and final <= worst


@given(volumes, prices, money_in)
def test_a_line_total_is_exact_and_rounded_half_up_to_cents(quantity, unit_price, fixed):
    total = pricing.line_total(quantity, unit_price, fixed)
    exact = quantity * unit_price + fixed  # Decimal arithmetic: exact at these sizes
    assert total == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert abs(total - exact) <= Decimal("0.005")
    assert total.as_tuple().exponent == -2
    assert isinstance(total, Decimal)


@given(st.lists(st.tuples(volumes, money_in), min_size=1, max_size=20), prices)
def test_the_bundle_total_equals_the_lines_within_half_a_cent_each(lines, unit_price):
    volume = sum((q for q, _ in lines), Decimal(0))
    fixed = lines[0][1]
    bundle = pricing.bundle_total(volume, len(lines), unit_price, fixed)
    per_line = sum((pricing.line_total(q, unit_price, fixed) for q, _ in lines), Decimal(0))
    assert abs(bundle - per_line) <= Decimal("0.005") * (len(lines) + 1)


def test_rounding_examples():
    assert pricing.money(Decimal("0.125")) == Decimal("0.13")  # half up, not to even
    assert pricing.money(Decimal("0.135")) == Decimal("0.14")
    assert pricing.money(Decimal("2.3449")) == Decimal("2.34")
    assert pricing.line_total(Decimal("12.5"), Decimal("0.9512"), Decimal(100)) == Decimal("111.89")
    assert pricing.solar_yield_kwh(Decimal("107.5"), Decimal(875)) == Decimal(94063)
    assert pricing.solar_savings(Decimal(94063), Decimal("0.25")) == Decimal("23515.75")


@pytest.mark.parametrize("rows, message", [
    ([], "Enter at least one price tier."),
    ([("0", "900"), ("300", "950")], "higher unit price"),
    ([("0", "900"), ("0", "800")], "same volume"),
    ([("-1", "900")], "0 or more"),
    ([("0", "0")], "more than 0"),
    ([("0", "1.00001")], "four decimals"),
    ([("0.0001", "1")], "three decimals"),
])
def test_impossible_tiers_are_refused(rows, message):
    with pytest.raises(ServiceError) as info:
        pricing.check_tiers([Tier(Decimal(a), Decimal(b)) for a, b in rows])
    assert message in str(info.value)
    assert info.value.field == "tiers"
