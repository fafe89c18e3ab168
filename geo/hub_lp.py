"""Linear programmes for energy hubs: the smallest shared battery, and shifting flexible use.

Shared battery
    For a target group peak ``P`` (kW), the smallest battery that keeps the group's net load at
    or below ``P`` in every quarter hour of the year: first the least energy ``E`` (kWh), then,
    for that energy, the least power ``B`` (kW). Round-trip efficiency ``eta`` is split evenly
    over charging and discharging (``sqrt(eta)`` each, as in PyPSA's ``efficiency_store`` and
    ``efficiency_dispatch``). The year is cyclic: the battery ends as it started, so nothing is
    borrowed from a charge that was never made.

    The plain formulation (:func:`size_battery_reference`) has per quarter hour a charge, a
    discharge and a state of charge: 105,120 variables and 175,200 constraints for a year. It
    can be made far smaller without changing its optimum. Where the load is above ``P`` the
    battery must discharge exactly the excess and never charges (charging and discharging at
    once only loses energy); elsewhere discharging gains nothing and charging is limited by the
    headroom ``P - load``. So the state of charge falls monotonically through every run of
    quarter hours above the target and rises monotonically through the runs in between: its
    bounds need checking only at the ends of the runs, and a run of headroom needs one number,
    the energy charged in it. :func:`size_battery` solves the resulting LP with one variable per
    excursion above the target (a few hundred for a year rather than a hundred thousand).

    With a power limit ``B`` a headroom run charges at most ``sum(min(headroom, B))``, a concave
    piecewise-linear function of ``B`` with breaks at the headroom values. Feasibility only
    grows with ``B``, so a bisection over those breaks (each step the small LP) finds the piece
    that holds the optimum, on which the function is linear, and one more small LP gives the
    exact least ``B``. ``benchmarks/hub.py`` compares both formulations.

Shifting flexible use
    A participant may move a share of its daily use within a window of the day (a cold store
    cooling at noon, a charger waiting for the afternoon). :func:`shift_use` places each day's
    movable energy so that the sum of the daily peaks of the group is smallest, which lowers
    every day's peak as far as the windows allow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from geo.errors import N_, ParameterError
from geo.hub_profiles import KW_PER_KWH, STEP_HOURS, local_clock
from geo.validation import real

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The least energy found in the first stage is kept within this share (plus 1 Wh) in the
#: second, so that HiGHS's tolerances (1e-7) cannot make the second stage infeasible.
ENERGY_SLACK = 1e-7
ENERGY_SLACK_KWH = 1e-3


@dataclass(frozen=True)
class Battery:
    """The smallest shared battery for a target peak; ``feasible`` is False when no battery
    can reach the target (the year holds too little headroom to recharge it)."""

    target_take_kw: float
    efficiency: float
    feasible: bool
    kwh: float | None
    kw: float | None
    peak_kw: float  # the group's peak take without the battery
    seconds: float = 0.0


def _check(load_kw: npt.ArrayLike, target_take_kw: float, efficiency: float) -> FloatArray:
    load = np.asarray(load_kw, dtype=float).ravel()
    if load.size == 0 or not np.all(np.isfinite(load)):
        raise ParameterError(N_("The load must be finite numbers, one per step."))
    target, eta = real(target_take_kw), real(efficiency)
    if not (math.isfinite(target) and target >= 0):
        raise ParameterError(N_("The target peak must be 0 kW or more."))
    if not (math.isfinite(eta) and 0 < eta <= 1):
        raise ParameterError(N_("The round-trip efficiency is between 0 and 1 (0.9 is 90 %)."))
    return load


# --- the fast formulation -------------------------------------------------------------------


@dataclass(frozen=True)
class _Runs:
    """The year cut into alternating runs: headroom run k, then excursion k (cyclic)."""

    discharge: FloatArray  # per excursion: kWh taken out of the battery (after losses)
    headroom_run: IntArray  # per quarter hour with headroom: its run number
    headroom_kw: FloatArray  # per quarter hour with headroom: P - load
    max_excess_kw: float
    charge_factor: float  # kWh stored per kW of charging in one step


def _runs(load: FloatArray, target: float, efficiency: float, step_hours: float) -> _Runs | None:
    """The runs above and below ``target``; ``None`` when the load never exceeds it."""
    excess = np.clip(load - target, 0.0, None)
    above = excess > 0
    if not above.any():
        return None
    # Start the cycle right after an excursion ends, so it begins with a headroom run.
    ends = np.flatnonzero(above & ~np.roll(above, -1))
    if ends.size == 0:  # above the target all year
        return _Runs(np.zeros(0), np.zeros(0, np.int64), np.zeros(0), float(excess.max()), 0.0)
    shift = (int(ends[0]) + 1) % load.size
    above = np.roll(above, -shift)
    excess = np.roll(excess, -shift)
    headroom = np.roll(np.clip(target - load, 0.0, None), -shift)
    starts = above != np.roll(above, 1)
    run = np.cumsum(starts) - 1  # 0: headroom, 1: excursion, 2: headroom, ...
    half = np.sqrt(efficiency)
    discharge = np.bincount(run[above] // 2, excess[above], minlength=run[-1] // 2 + 1)
    below = ~above
    return _Runs(
        discharge=discharge * step_hours / half,
        headroom_run=(run[below] // 2).astype(np.int64),
        headroom_kw=headroom[below],
        max_excess_kw=float(excess.max()),
        charge_factor=half * step_hours,
    )


def _run_lp(runs: _Runs, *, energy_cap: float | None, power: tuple[float, float] | None,
            slopes: tuple[FloatArray, FloatArray] | None) -> tuple[bool, float]:
    """Solve the LP over runs. Variables: the state of charge at the end of each headroom run
    (``b``), then ``E`` (kWh), then ``B`` (kW). With ``energy_cap`` the energy is bounded and
    the power minimised over ``power = (low, high)``; each headroom run then charges at most
    ``charge_factor * (base + B * count)`` (``slopes = (base, count)``). Without it, the energy
    is minimised with the headroom runs charging at most their whole headroom.
    Returns (feasible, optimum)."""
    k = runs.discharge.size
    i = np.arange(k)
    nxt = (i + 1) % k
    n = k + 2
    e_col, b_col = k, k + 1
    # b_i <= E; D_i <= b_i; charge in run i+1: 0 <= b_{i+1} - b_i + D_i <= cap_{i+1}.
    rows = np.r_[i, i, k + i, k + i, 2 * k + i, 2 * k + i]
    cols = np.r_[i, np.full(k, e_col), nxt, i, i, nxt]
    vals = np.r_[np.ones(k), -np.ones(k), np.ones(k), -np.ones(k), np.ones(k), -np.ones(k)]
    rhs = np.r_[np.zeros(k), np.zeros(k), runs.discharge]  # the cap rows get their rhs below
    d = runs.discharge
    if slopes is None:
        cap = runs.charge_factor * np.bincount(runs.headroom_run, runs.headroom_kw, minlength=k)
        rhs[k:2 * k] = cap[nxt] - d
    else:
        base, count = slopes
        rhs[k:2 * k] = runs.charge_factor * base[nxt] - d
        rows = np.r_[rows, k + i]
        cols = np.r_[cols, np.full(k, b_col)]
        vals = np.r_[vals, -runs.charge_factor * count[nxt]]
    matrix = sparse.csr_array((vals, (rows, cols)), shape=(3 * k, n))
    lower = np.r_[d, 0.0, 0.0]
    upper = np.r_[np.full(k, np.inf), np.inf, 0.0]
    cost = np.zeros(n)
    if energy_cap is None:
        cost[e_col] = 1.0
    else:
        upper[e_col] = energy_cap
        assert power is not None
        lower[b_col], upper[b_col] = power
        cost[b_col] = 1.0
    result = linprog(cost, A_ub=matrix, b_ub=rhs, bounds=np.column_stack([lower, upper]),
                     method="highs")
    if result.status == 2:  # infeasible
        return False, math.nan
    if result.status != 0:
        raise RuntimeError(f"HiGHS: {result.message}")  # pragma: no cover
    return True, float(result.fun)


def _slopes(runs: _Runs, low: float, k: int) -> tuple[FloatArray, FloatArray]:
    """Per headroom run, ``sum(min(h, B)) = base + B * count`` for ``B`` above ``low`` (up to
    the next headroom value)."""
    small = runs.headroom_kw <= low
    base = np.bincount(runs.headroom_run[small], runs.headroom_kw[small], minlength=k)
    count = np.bincount(runs.headroom_run[~small], minlength=k).astype(np.float64)
    return base.astype(np.float64), count


def size_battery(
    load_kw: npt.ArrayLike,
    *,
    target_take_kw: float,
    efficiency: float = 0.9,
    step_hours: float = STEP_HOURS,
    power: bool = True,
) -> Battery:
    """The smallest battery (kWh, then kW) that keeps ``load_kw`` at or below the target.

    ``load_kw`` is the group's net load per step (take positive). With ``power=False`` only the
    energy is sized (``kw`` is then the least power that energy allows without a limit on
    charging: the largest excess). See the module docstring for the formulation.

    >>> load = [0.0, 150.0, 150.0, 90.0]  # kW per quarter hour
    >>> b = size_battery(load, target_take_kw=100.0, efficiency=1.0)
    >>> round(b.kwh, 6), round(b.kw, 6)  # 2 x 50 kW for 15 minutes, recharged at 90 + 10 kW
    (25.0, 90.0)
    >>> size_battery(load, target_take_kw=60.0, efficiency=1.0).feasible
    False
    """
    import time

    started = time.perf_counter()
    load = _check(load_kw, target_take_kw, efficiency)
    peak = max(float(load.max()), 0.0)
    runs = _runs(load, target_take_kw, efficiency, step_hours)
    if runs is None:
        return Battery(target_take_kw, efficiency, True, 0.0, 0.0, peak,
                       time.perf_counter() - started)
    k = runs.discharge.size
    if k == 0:
        return Battery(target_take_kw, efficiency, False, None, None, peak,
                       time.perf_counter() - started)
    feasible, energy = _run_lp(runs, energy_cap=None, power=None, slopes=None)
    if not feasible:
        return Battery(target_take_kw, efficiency, False, None, None, peak,
                       time.perf_counter() - started)
    if not power:
        return Battery(target_take_kw, efficiency, True, energy, runs.max_excess_kw, peak,
                       time.perf_counter() - started)
    cap = energy * (1 + ENERGY_SLACK) + ENERGY_SLACK_KWH
    low = runs.max_excess_kw

    def feasible_at(b: float) -> bool:
        base, count = _slopes(runs, b, k)
        return _run_lp(runs, energy_cap=cap, power=(b, b), slopes=(base, count))[0]

    if feasible_at(low):
        kw = low
    else:
        breaks = np.unique(runs.headroom_kw[runs.headroom_kw > low])
        lo, hi = -1, breaks.size - 1  # breaks[hi] is feasible: no charge is limited there
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if feasible_at(float(breaks[mid])):
                hi = mid
            else:
                lo = mid
        start = low if lo < 0 else float(breaks[lo])
        base, count = _slopes(runs, start, k)
        ok, kw = _run_lp(runs, energy_cap=cap, power=(start, float(breaks[hi])),
                         slopes=(base, count))
        if not ok:  # pragma: no cover - breaks[hi] was feasible
            kw = float(breaks[hi])
    return Battery(target_take_kw, efficiency, True, energy, kw, peak,
                   time.perf_counter() - started)


def lowest_reachable_kw(load_kw: npt.ArrayLike, *, efficiency: float = 0.9) -> float:
    """The lowest peak any battery (however large) can hold the load to over the cyclic year:
    where the headroom below it, after losses, just recharges what the excursions above it take.

    >>> lowest_reachable_kw([0.0, 100.0], efficiency=1.0)
    50.0
    """
    load = np.sort(_check(load_kw, 0.0, efficiency))
    half = math.sqrt(efficiency)
    prefix = np.r_[0.0, np.cumsum(load)]
    total = prefix[-1]
    n = load.size

    def balance(p: float) -> float:  # charge in minus discharge out (per step, kW)
        below = int(np.searchsorted(load, p, side="left"))
        charge = p * below - prefix[below]
        discharge = (total - prefix[below]) - p * (n - below)
        return float(half * charge - discharge / half)

    lo, hi = float(load[0]), float(load[-1])
    if balance(lo) >= 0:
        return lo
    for _ in range(200):  # bisection to machine precision; balance is increasing
        mid = (lo + hi) / 2
        if balance(mid) >= 0:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-9 * max(1.0, abs(hi)):
            break
    return hi


def battery_curve(load_kw: npt.ArrayLike, targets: Sequence[float], *, efficiency: float = 0.9,
                  step_hours: float = STEP_HOURS, power: bool = True) -> pd.DataFrame:
    """Battery size against target peak: ``target_take_kw``, ``kwh``, ``kw``, ``feasible``.

    >>> battery_curve([50.0, 150.0, 40.0], [150.0, 100.0], efficiency=1.0)[
    ...     ["target_take_kw", "kwh"]].values.tolist()
    [[150.0, 0.0], [100.0, 12.5]]
    """
    rows = [size_battery(load_kw, target_take_kw=float(t), efficiency=efficiency,
                         step_hours=step_hours, power=power) for t in targets]
    return pd.DataFrame({
        "target_take_kw": [b.target_take_kw for b in rows],
        "kwh": [b.kwh if b.feasible else np.nan for b in rows],
        "kw": [b.kw if b.feasible else np.nan for b in rows],
        "feasible": [b.feasible for b in rows],
    })


# --- the plain formulation (the reference) -----------------------------------------------------


def size_battery_reference(
    load_kw: npt.ArrayLike,
    *,
    target_take_kw: float,
    efficiency: float = 0.9,
    step_hours: float = STEP_HOURS,
) -> Battery:
    """The same battery from the plain formulation: per step a charge ``c``, a discharge ``d``
    and a state of charge ``s`` (cyclic), with ``load + c - d <= P``, ``s <= E``, ``c, d <= B``;
    first least ``E``, then least ``B`` with ``E`` held (two HiGHS solves). Slow; it exists to
    check :func:`size_battery` (tests, ``benchmarks/hub.py``).

    >>> b = size_battery_reference([0.0, 150.0, 150.0, 90.0], target_take_kw=100.0,
    ...                            efficiency=1.0)
    >>> round(b.kwh, 6), round(b.kw, 6)
    (25.0, 90.0)
    """
    import time

    started = time.perf_counter()
    load = _check(load_kw, target_take_kw, efficiency)
    peak = max(float(load.max()), 0.0)
    t = load.size
    half = math.sqrt(efficiency)
    step = np.arange(t)
    c, d, s, e_col, b_col = 0, t, 2 * t, 3 * t, 3 * t + 1
    n = 3 * t + 2
    # s_t - s_{t-1} - half * dt * c_t + dt / half * d_t = 0 (cyclic)
    eq = sparse.csr_array((
        np.r_[np.ones(t), -np.ones(t), np.full(t, -half * step_hours), np.full(t, step_hours / half)],
        (np.r_[step, step, step, step], np.r_[s + step, s + (step - 1) % t, c + step, d + step]),
    ), shape=(t, n))
    ones = np.ones(t)
    ub = sparse.csr_array((
        np.r_[ones, -ones, ones, -ones, ones, -ones, ones, -ones],
        (np.r_[step, step, t + step, t + step, 2 * t + step, 2 * t + step, 3 * t + step,
               3 * t + step],
         np.r_[c + step, d + step, s + step, np.full(t, e_col), c + step, np.full(t, b_col),
               d + step, np.full(t, b_col)]),
    ), shape=(4 * t, n))
    rhs = np.r_[target_take_kw - load, np.zeros(3 * t)]
    cost = np.zeros(n)
    cost[e_col] = 1.0
    first = linprog(cost, A_ub=ub, b_ub=rhs, A_eq=eq, b_eq=np.zeros(t), bounds=(0, None),
                    method="highs")
    if first.status == 2:
        return Battery(target_take_kw, efficiency, False, None, None, peak,
                       time.perf_counter() - started)
    if first.status != 0:
        raise RuntimeError(f"HiGHS: {first.message}")  # pragma: no cover
    energy = float(first.fun)
    bounds = np.column_stack([np.zeros(n), np.full(n, np.inf)])
    bounds[e_col, 1] = energy * (1 + ENERGY_SLACK) + ENERGY_SLACK_KWH
    cost = np.zeros(n)
    cost[b_col] = 1.0
    second = linprog(cost, A_ub=ub, b_ub=rhs, A_eq=eq, b_eq=np.zeros(t), bounds=bounds,
                     method="highs")
    if second.status != 0:
        raise RuntimeError(f"HiGHS: {second.message}")  # pragma: no cover
    return Battery(target_take_kw, efficiency, True, energy, float(second.fun), peak,
                   time.perf_counter() - started)


# --- shifting flexible use ---------------------------------------------------------------------


@dataclass(frozen=True)
class Shift:
    """The group's net load after shifting, and what it did to the peaks."""

    net_kw: FloatArray
    peak_take_before_kw: float
    peak_take_after_kw: float
    peak_feed_before_kw: float
    peak_feed_after_kw: float
    moved_kwh: float


def shift_use(
    net_kw: npt.ArrayLike,
    take_kwh: npt.ArrayLike,
    index: pd.DatetimeIndex,
    *,
    share: npt.ArrayLike,
    window_start_h: npt.ArrayLike,
    window_end_h: npt.ArrayLike,
) -> Shift:
    """Move each site's shiftable use within its window of the day to lower the daily peaks.

    ``take_kwh`` is per site and step; a site may move ``share`` (0 to 1) of each day's take to
    any quarter hour of the same local day with a clock time from ``window_start_h`` up to
    ``window_end_h``. The movable energy is taken from every quarter hour of the day in
    proportion to the take, and placed so that the sum over days of the group's daily peak
    take is smallest (one LP, HiGHS).

    >>> from geo.hub_profiles import quarter_hours
    >>> idx = quarter_hours()[:96]  # 1 January
    >>> take = np.where(np.arange(96) == 72, 10.0, 0.0)[None, :]  # 10 kWh at 18:00
    >>> s = shift_use(take[0] * 4, take, idx, share=[0.5], window_start_h=[10],
    ...               window_end_h=[16])
    >>> s.peak_take_before_kw, round(s.peak_take_after_kw, 6), round(s.moved_kwh, 6)
    (40.0, 20.0, 5.0)
    """
    net = np.asarray(net_kw, dtype=float)
    take = np.asarray(take_kwh, dtype=float)
    shares = np.asarray(share, dtype=float).ravel()
    start = np.asarray(window_start_h, dtype=float).ravel()
    end = np.asarray(window_end_h, dtype=float).ravel()
    n_sites, n_steps = take.shape
    if net.shape != (n_steps,) or len(index) != n_steps:
        raise ParameterError(N_("The load and the profiles need one value per step."))
    for array in (shares, start, end):
        if array.shape != (n_sites,) or not np.all(np.isfinite(array)):
            raise ParameterError(N_("Shifting needs a share and a window for every site."))
    if np.any((shares < 0) | (shares > 1)):
        raise ParameterError(N_("The share of use that can move is between 0 and 100 %."))
    if np.any((start < 0) | (end > 24) | (start >= end)):
        raise ParameterError(N_("A window starts before it ends, between 0:00 and 24:00."))
    clock = local_clock(index)
    n_days = len(clock.dates)
    active = np.flatnonzero(shares > 0)
    keys = sorted({(start[i], end[i]) for i in active})
    removed = np.zeros(n_steps)
    columns: list[IntArray] = []  # per group: the steps it may place energy in
    amounts: list[FloatArray] = []  # per group: kWh to place per day
    for w0, w1 in keys:
        members = active[(start[active] == w0) & (end[active] == w1)]
        movable = (shares[members, None] * take[members]).sum(axis=0)
        inside = (clock.hour >= w0) & (clock.hour < w1)
        days_with_window = np.bincount(clock.day[inside], minlength=n_days) > 0
        movable = np.where(days_with_window[clock.day], movable, 0.0)
        removed += movable
        columns.append(np.flatnonzero(inside))
        amounts.append(np.bincount(clock.day, movable, minlength=n_days).astype(np.float64))
    before = net
    base = net - removed * KW_PER_KWH
    moved = float(removed.sum())
    if not keys or moved <= 0:
        return _shift_result(before, before, 0.0)
    n_x = sum(c.size for c in columns)
    n = n_x + n_days
    # Rows: per step, 4 * sum of placements - z_day <= -base; per group and day: sum = amount.
    x_step = np.concatenate(columns)
    x_group = np.repeat(np.arange(len(columns)), [c.size for c in columns])
    x = np.arange(n_x)
    ub = sparse.csr_array((
        np.r_[np.full(n_x, KW_PER_KWH), -np.ones(n_steps)],
        (np.r_[x_step, np.arange(n_steps)], np.r_[x, n_x + clock.day]),
    ), shape=(n_steps, n))
    eq_row = x_group * n_days + clock.day[x_step]
    eq = sparse.csr_array((np.ones(n_x), (eq_row, x)), shape=(len(columns) * n_days, n))
    cost = np.r_[np.zeros(n_x), np.ones(n_days)]
    result = linprog(cost, A_ub=ub, b_ub=-base, A_eq=eq, b_eq=np.concatenate(amounts),
                     bounds=np.column_stack([np.r_[np.zeros(n_x), np.full(n_days, -np.inf)],
                                             np.full(n, np.inf)]),
                     method="highs")
    if result.status != 0:
        raise RuntimeError(f"HiGHS: {result.message}")  # pragma: no cover
    placed = np.bincount(x_step, result.x[:n_x], minlength=n_steps)
    return _shift_result(before, base + placed * KW_PER_KWH, moved)


def _shift_result(before: FloatArray, after: FloatArray, moved: float) -> Shift:
    return Shift(
        net_kw=after,
        peak_take_before_kw=max(float(before.max()), 0.0),
        peak_take_after_kw=max(float(after.max()), 0.0),
        peak_feed_before_kw=max(-float(before.min()), 0.0),
        peak_feed_after_kw=max(-float(after.min()), 0.0),
        moved_kwh=moved,
    )
