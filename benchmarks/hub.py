"""Benchmark the energy hub analysis (``geo.hub``, ``geo.hub_lp``) on a year of 15-minute data.

Run from the repository root::

    .venv/bin/python benchmarks/hub.py                 # 200 sites, 4 battery targets
    .venv/bin/python benchmarks/hub.py --quick         # 50 sites, 2 targets
    .venv/bin/python benchmarks/hub.py --sites 400 --targets 0.999 0.99

The hub looks like a business park: sites with BDEW standard loads (offices g1, workshops g0,
around-the-clock g3, yearly use log-normal around 120 MWh), every quarter hour scaled by a daily
activity factor and 10 % noise; 40 % of them with PV (clear-sky shape of the reference year,
a random cloudiness per day). A year in Europe/Amsterdam: 35,040 quarter hours, so 200 sites
are 7 million values per direction.

Two tables:

1. The analysis of the hub as the web job and ``matchmaker hub`` run it: the group's net load,
   peaks, sums of contracts and own peaks, the load-duration curve at six curtailment levels, the
   exchange inside the hub (``geo.hub.analyse``), and one battery size (``size_battery``).
2. The shared battery for several target peaks: ``ours`` (``geo.hub_lp.size_battery``: one
   variable per excursion above the target, bisection over headroom breaks for the power)
   against ``plain`` (``size_battery_reference``: charge, discharge and state of charge per
   quarter hour, 105,120 variables, two HiGHS solves), both with HiGHS through
   ``scipy.optimize.linprog``. The same optimum (kWh and kW, relative 1e-6) is asserted; the
   script exits 1 otherwise. Ratio = plain / ours (above 1: ours is faster).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.hub import analyse
from geo.hub_lp import size_battery, size_battery_reference
from geo.hub_profiles import (
    HubProfiles,
    consumption_quarter_hours,
    local_clock,
    pv_quarter_hours,
    quarter_hours,
    take_and_feed,
)


def make_hub(n_sites: int, *, seed: int = 20260101) -> tuple[HubProfiles, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = quarter_hours()
    clock = local_clock(idx)
    categories = rng.choice(["g1", "g0", "g3"], n_sites, p=[0.4, 0.4, 0.2])
    annual = rng.lognormal(np.log(120_000), 0.7, n_sites)
    use = consumption_quarter_hours(annual_kwh=annual, category=list(categories))
    activity = rng.uniform(0.8, 1.2, (n_sites, clock.day.max() + 1))[:, clock.day]
    use *= activity * rng.uniform(0.9, 1.1, use.shape)
    shape = pv_quarter_hours(lon=6.56, lat=52.99, kwp=1.0, annual_yield_kwh_per_kwp=875.0)
    cloud = rng.uniform(0.2, 1.1, clock.day.max() + 1)[clock.day]
    kwp = np.where(rng.random(n_sites) < 0.4, rng.uniform(30, 400, n_sites), 0.0)
    pv = kwp[:, None] * shape[None, :] * cloud[None, :]
    take, feed = take_and_feed(use, pv)
    contract_take = np.ceil(take.max(axis=1) * 4 * rng.uniform(1.1, 1.6, n_sites) / 10) * 10
    contract_feed = np.ceil(feed.max(axis=1) * 4 * 1.1 / 10) * 10
    ids = np.array([f"site{i}" for i in range(n_sites)], dtype=object)
    return HubProfiles(ids, idx, take, feed), contract_take, contract_feed


def timed(func, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.999, 0.99, 0.95, 0.9],
                        help="battery targets as quantiles of the group's net load")
    parser.add_argument("--quick", action="store_true", help="50 sites, two targets")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the analysis")
    args = parser.parse_args()
    if args.quick:
        args.sites, args.targets = 50, [0.999, 0.99]

    (profiles, take_kw, feed_kw), build = timed(make_hub, args.sites)
    values = profiles.take_kwh.size
    print(f"hub: {args.sites} sites x {profiles.n_steps} quarter hours = {values:,} values per "
          f"direction (built in {build:.1f} s)")
    best = {"analyse": np.inf, "battery": np.inf}
    for _ in range(args.repeat):
        result, seconds = timed(analyse, profiles, contracted_take_kw=take_kw,
                                contracted_feed_kw=feed_kw)
        best["analyse"] = min(best["analyse"], seconds)
        target = float(np.quantile(result.net_kw, 0.99))
        _battery, seconds = timed(size_battery, result.net_kw, target_take_kw=target)
        best["battery"] = min(best["battery"], seconds)
    print()
    print(f"{'step':<56}{'seconds':>10}")
    print(f"{'peaks, contracts, own peaks, duration curve, exchange':<56}{best['analyse']:>10.3f}")
    print(f"{'one battery size (target = 99 % quantile)':<56}{best['battery']:>10.3f}")
    print(f"{'total':<56}{best['analyse'] + best['battery']:>10.3f}")
    print(f"group peak {result.group_peak_take_kw:,.0f} kW take / {result.group_peak_feed_kw:,.0f}"
          f" kW feed-in; contracts {result.sum_contracted_take_kw:,.0f} kW; simultaneity "
          f"{result.simultaneity_take:.1%}; exchanged {result.exchanged_kwh:,.0f} kWh")
    print()
    header = (f"{'target':>8}{'kW':>10}{'kWh ours':>12}{'kWh plain':>12}{'kW ours':>10}"
              f"{'kW plain':>10}{'ours s':>9}{'plain s':>9}{'ratio':>8}")
    print(header)
    failed = False
    for quantile in args.targets:
        target = float(np.quantile(result.net_kw, quantile))
        ours = size_battery(result.net_kw, target_take_kw=target)
        plain = size_battery_reference(result.net_kw, target_take_kw=target)
        same = ours.feasible == plain.feasible and (not ours.feasible or (
            np.isclose(ours.kwh, plain.kwh, rtol=1e-6, atol=1e-3)
            and np.isclose(ours.kw, plain.kw, rtol=1e-6, atol=1e-3)))
        failed |= not same
        def show(value: float | None) -> str:
            return "-" if value is None else f"{value:,.1f}"
        print(f"{quantile:>8}{target:>10,.0f}{show(ours.kwh):>12}{show(plain.kwh):>12}"
              f"{show(ours.kw):>10}{show(plain.kw):>10}{ours.seconds:>9.3f}{plain.seconds:>9.2f}"
              f"{plain.seconds / ours.seconds:>8.0f}" + ("" if same else "  DIFFERENT"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
