"""The shared battery and shifting LPs (geo.hub_lp) against independent calculations: a
simulation with bisection on small cases, the plain HiGHS formulation on a full year, and
water-filling for shifting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.hub_lp import (
    ENERGY_SLACK,
    ENERGY_SLACK_KWH,
    lowest_reachable_kw,
    shift_use,
    size_battery,
    size_battery_reference,
)
from geo.hub_profiles import local_clock, quarter_hours

DT = 0.25


def survives(load: np.ndarray, target: float, eta: float, energy: float, power: float) -> bool:
    """Run the year again and again with the battery kept as full as it can be (charging all
    the headroom allows, discharging exactly the excess): the best any schedule can do. The
    state at the start of each year falls to a fixed point; the battery works iff it never
    runs dry on the way. A year that loses energy without ever filling the battery loses the
    same again every year: it runs dry in the end."""
    half = math.sqrt(eta)
    if np.clip(load - target, 0, None).max() > power + 1e-12:
        return False
    start = energy
    for _ in range(400):
        soc, full = start, False
        for value in load:
            if value > target:
                soc -= (value - target) * DT / half
                if soc < -1e-9:
                    return False
            else:
                charged = soc + half * min(target - value, power) * DT
                full |= charged >= energy
                soc = min(energy, charged)
        if abs(soc - start) <= 1e-12:
            return True
        if soc < start and not full:
            return False
        start = soc
    return True


def bisect(feasible, low: float, high: float) -> float:
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (low, mid) if feasible(mid) else (mid, high)
    return high


def brute_force(load: np.ndarray, target: float, eta: float) -> tuple[float, float] | None:
    if not survives(load, target, eta, 1e9, 1e9):
        return None
    energy = bisect(lambda e: survives(load, target, eta, e, 1e9), 0.0, 1e6)
    cap = energy * (1 + ENERGY_SLACK) + ENERGY_SLACK_KWH
    power = bisect(lambda b: survives(load, target, eta, cap, b), 0.0, 1e4)
    return energy, power


@pytest.mark.parametrize("seed", range(8))
def test_battery_matches_a_simulation_on_small_years(seed):
    rng = np.random.default_rng(seed)
    if seed % 2:  # short valleys between peaks: recharging needs more power than the peaks
        load = np.where(rng.random(40) < 0.55, rng.uniform(100, 130, 40), rng.uniform(0, 40, 40))
    else:
        load = rng.uniform(0, 100, 40) + 60 * (rng.random(40) < 0.2)
    eta = [1.0, 0.9, 0.81][seed % 3]
    for target in np.quantile(load, [0.95, 0.8, 0.6, 0.3]):
        ours = size_battery(load, target_take_kw=float(target), efficiency=eta)
        expected = brute_force(load, float(target), eta)
        assert ours.feasible == (expected is not None), (seed, target)
        if expected is not None:
            assert ours.kwh == pytest.approx(expected[0], rel=1e-6, abs=1e-5)
            assert ours.kw == pytest.approx(expected[1], rel=1e-6, abs=1e-4)


def realistic_year(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clock = local_clock(quarter_hours())
    hour, day = clock.hour, clock.day
    work = clock.weekday < 5
    base = 300 + 200 * np.exp(-((hour - 12) / 4) ** 2) * work + 80 * np.sin(2 * np.pi * day / 365)
    sun = np.clip(np.sin(np.pi * (hour - 6) / 12), 0, None)
    pv = 250 * sun * (0.6 + 0.4 * np.cos(2 * np.pi * (day - 172) / 365))
    pv *= rng.uniform(0.3, 1.0, day.max() + 1)[day]
    return base + rng.normal(0, 30, day.size) - pv


def test_battery_equals_the_plain_highs_formulation_on_a_full_year():
    load = realistic_year()
    target = float(np.quantile(load, 0.99))
    fast = size_battery(load, target_take_kw=target, efficiency=0.9)
    plain = size_battery_reference(load, target_take_kw=target, efficiency=0.9)
    assert fast.feasible and plain.feasible
    assert fast.kwh == pytest.approx(plain.kwh, rel=1e-7)
    assert fast.kw == pytest.approx(plain.kw, rel=1e-6)


def test_lowest_reachable_target_splits_feasible_from_infeasible():
    load = realistic_year(2)
    lowest = lowest_reachable_kw(load, efficiency=0.9)
    assert load.mean() < lowest < load.max()
    assert size_battery(load, target_take_kw=lowest * 1.001, efficiency=0.9, power=False).feasible
    assert not size_battery(load, target_take_kw=lowest * 0.999, efficiency=0.9).feasible


def test_no_battery_is_needed_at_or_above_the_peak():
    load = realistic_year(3)
    battery = size_battery(load, target_take_kw=float(load.max()))
    assert (battery.kwh, battery.kw) == (0.0, 0.0)


def water_level(base: np.ndarray, amount: float) -> float:
    """The level to which ``amount`` fills the valleys of ``base`` (the classic water-filling)."""
    return bisect_level(lambda level: np.clip(level - base, 0, None).sum() >= amount,
                        float(base.min()), float(base.max()) + amount + 1)


def bisect_level(enough, low: float, high: float) -> float:
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return high


def test_shifting_lowers_each_daily_peak_as_water_filling_does():
    rng = np.random.default_rng(5)
    idx = quarter_hours()[: 96 * 10]
    clock = local_clock(idx)
    take = rng.gamma(2.0, 1.5, (4, len(idx))) * (1 + (clock.hour > 16) * (clock.hour < 20))
    net = take.sum(axis=0) * 4
    share = np.array([0.3, 0.0, 0.2, 0.5])
    result = shift_use(net, take, idx, share=share, window_start_h=np.full(4, 9.0),
                       window_end_h=np.full(4, 15.0))
    movable = (share[:, None] * take).sum(axis=0)
    assert result.moved_kwh == pytest.approx(movable.sum())
    base = net - movable * 4
    inside = (clock.hour >= 9) & (clock.hour < 15)
    for day in range(10):
        today = clock.day == day
        level = water_level(base[today & inside], movable[today].sum() * 4)
        expected = max(level, base[today].max())
        assert result.net_kw[today].max() == pytest.approx(expected, rel=1e-6)
        assert result.net_kw[today].sum() == pytest.approx(net[today].sum())  # nothing lost
        outside = today & ~inside
        assert np.allclose(result.net_kw[outside], base[outside])  # only the window receives
    assert result.peak_take_after_kw < result.peak_take_before_kw


def test_shifting_with_two_windows_keeps_each_sites_energy_in_its_own_window():
    rng = np.random.default_rng(6)
    idx = quarter_hours()[: 96 * 3]
    clock = local_clock(idx)
    take = rng.gamma(2.0, 1.0, (2, len(idx)))
    net = take.sum(axis=0) * 4
    result = shift_use(net, take, idx, share=[0.4, 0.4], window_start_h=[0.0, 12.0],
                       window_end_h=[6.0, 14.0])
    base = net - 0.4 * take.sum(axis=0) * 4
    added = result.net_kw - base
    night = clock.hour < 6
    noon = (clock.hour >= 12) & (clock.hour < 14)
    assert np.allclose(added[~night & ~noon], 0.0, atol=1e-7)
    for day in range(3):
        today = clock.day == day
        assert added[today & night].sum() / 4 == pytest.approx(0.4 * take[0, today].sum())
        assert added[today & noon].sum() / 4 == pytest.approx(0.4 * take[1, today].sum())
    with pytest.raises(ValueError):
        shift_use(net, take, idx, share=[0.4, 1.5], window_start_h=[0, 12], window_end_h=[6, 14])
