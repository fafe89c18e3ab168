"""Benchmark ``geo.matching`` (max-flow min-cost energy matching) against named peers.

Run from the repository root::

    .venv/bin/python benchmarks/matching.py            # 1e3 .. 1e6 arcs, plus a typical_day row
    .venv/bin/python benchmarks/matching.py --quick    # 1e3 and 1e4 arcs only
    .venv/bin/python benchmarks/matching.py --arcs 1e5 2e6 --repeat 1

The sites look like members on business parks: producers and consumers 1:10, placed on parks
scattered over a 60 x 60 km RD New box around Assen (park centres uniform, sites normal around
them with an uneven spread per park), plus 10 % loners anywhere in the box. Surplus and demand are
log-normal (producers about 40 MWh/yr, consumers about 6 MWh/yr). For each target number of
candidate arcs the number of sites is fixed by the row and the maximum distance is found by
bisection on ``cKDTree.count_neighbors``.

Every row solves the same integer instance (``geo.matching.build_problem``: Wh, decimetres):

- ``ours``: ``geo.matching.solve``: components, stars by greedy, per component batch OR-Tools'
  max flow then LEMON's network simplex (``pylmcf``);
- ``whole``: OR-Tools ``SimpleMinCostFlow.solve_max_flow_with_min_cost`` on the whole graph,
  no decomposition (``benchmarks.peers.ortools_solve``);
- ``highs``: HiGHS through ``scipy.optimize.linprog``, two-stage LP, per component (the
  certificate's setting; far faster for HiGHS than one LP);
- ``highs1``: the same two-stage LP as one LP over the whole graph (small rows only);
- ``networkx``: ``networkx.max_flow_min_cost`` with a super source and sink (small rows only).

All peers must reach the same matched Wh and the same cost (Wh x dm) in every step; the script
exits 1 otherwise. Times exclude building the instance (shown as ``build``: candidate pairs and
components). Ratios are peer / ours (above 1: ours is faster).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.peers import ortools_solve
from geo.crs import RD_NEW, rd_to_wgs84
from geo.matching import MatchProblem, build_problem, reference_solve, solve
from geo.profiles import consumption_profile, pv_profile

Objective = tuple[int, int]
#: Default rows: (target arcs, producers); consumers are ten times as many. The two 1e6 rows
#: differ in density: 5,000 producers need ~1.5 km and form one giant component, 15,000 need
#: ~460 m and split into hundreds of components.
ROWS = ((1e3, 100), (1e4, 300), (1e5, 1000), (1e6, 5000), (1e6, 15000))
QUICK_ROWS = ((1e3, 100), (1e4, 300))


def make_sites(n_producers: int, *, seed: int = 20240601) -> tuple[gpd.GeoDataFrame,
                                                                     gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    n_parks = max(5, n_producers // 15)
    box = np.array([203_000.0, 526_000.0])
    centres = box + rng.uniform(0, 60_000, (n_parks, 2))
    spread = rng.uniform(150, 700, n_parks)

    def place(n: int) -> npt.NDArray[np.float64]:
        park = rng.integers(0, n_parks, n)
        xy = centres[park] + rng.normal(size=(n, 2)) * spread[park, None]
        loners = rng.random(n) < 0.10
        xy[loners] = box + rng.uniform(0, 60_000, (int(loners.sum()), 2))
        return np.round(xy, 3)

    pxy = place(n_producers)
    cxy = place(10 * n_producers)
    producers = gpd.GeoDataFrame(
        {"id": [f"p{i}" for i in range(n_producers)],
         "surplus_kwh": np.round(rng.lognormal(np.log(30_000), 0.8, n_producers), 1)},
        geometry=gpd.points_from_xy(pxy[:, 0], pxy[:, 1]), crs=RD_NEW,
    )
    consumers = gpd.GeoDataFrame(
        {"id": [f"c{i}" for i in range(10 * n_producers)],
         "demand_kwh": np.round(rng.lognormal(np.log(4_500), 0.8, 10 * n_producers), 1)},
        geometry=gpd.points_from_xy(cxy[:, 0], cxy[:, 1]), crs=RD_NEW,
    )
    return producers, consumers


def distance_for(producers: gpd.GeoDataFrame, consumers: gpd.GeoDataFrame, arcs: float) -> float:
    """The maximum distance (whole metres) giving about ``arcs`` candidate pairs."""
    tp = cKDTree(np.column_stack([producers.geometry.x, producers.geometry.y]))
    tc = cKDTree(np.column_stack([consumers.geometry.x, consumers.geometry.y]))
    lo, hi = 1.0, 60_000.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if tp.count_neighbors(tc, mid) < arcs:
            lo = mid
        else:
            hi = mid
    return float(round(hi))


def objectives(problem: MatchProblem, flows: object, steps: npt.NDArray[np.int64]
               ) -> dict[int, Objective]:
    out = {}
    for step in steps:
        f = flows.dense(int(step), problem.n_arcs)  # type: ignore[attr-defined]
        out[int(step)] = (int(f.sum()), int(f @ problem.arc_cost))
    return out


def run_networkx(problem: MatchProblem, step: int) -> Objective:
    import networkx as nx

    sup = problem.supply_wh[:, step]
    dem = problem.demand_wh[:, step]
    g = nx.DiGraph()
    for p in np.flatnonzero(sup):
        g.add_edge("s", ("p", int(p)), capacity=int(sup[p]), weight=0)
    for c in np.flatnonzero(dem):
        g.add_edge(("c", int(c)), "t", capacity=int(dem[c]), weight=0)
    for p, c, w in zip(problem.arc_producer, problem.arc_consumer, problem.arc_cost,
                       strict=True):
        if sup[p] > 0 and dem[c] > 0:
            g.add_edge(("p", int(p)), ("c", int(c)), weight=int(w))
    if "s" not in g or "t" not in g:
        return (0, 0)
    flow = nx.max_flow_min_cost(g, "s", "t")
    matched = sum(flow["s"].values())
    return int(matched), int(nx.cost_of_flow(g, flow))


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best = float("inf")
    result: object = None
    for i in range(repeat):
        start = time.perf_counter()
        result = fn()
        took = time.perf_counter() - start
        best = min(best, took)
        if took > 20 or i + 1 == repeat:
            break
    return best, result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e3 and 1e4 arcs only")
    parser.add_argument("--arcs", nargs="+", type=float, default=None,
                        help="target numbers of candidate arcs (for example 1e5 2e6)")
    parser.add_argument("--producers", nargs="+", type=int, default=None,
                        help="producers for each --arcs value (default about 5 x arcs^0.62)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many fast runs")
    parser.add_argument("--highs-max-arcs", type=float, default=1.1e6,
                        help="skip HiGHS per component above this many arcs")
    parser.add_argument("--highs1-max-arcs", type=float, default=1.1e5,
                        help="skip HiGHS as one LP above this many arcs")
    parser.add_argument("--nx-max-arcs", type=float, default=2e4,
                        help="skip networkx above this many arcs")
    parser.add_argument("--no-typical-day", action="store_true")
    parser.add_argument("--seed", type=int, default=20240601)
    return parser.parse_args(argv)


def bench_row(label: str, problem: MatchProblem, build_s: float, args: argparse.Namespace,
              steps: npt.NDArray[np.int64]) -> tuple[dict[str, object], list[str]]:
    failures: list[str] = []
    times: dict[str, float | None] = {}
    t, ours = timed(lambda: solve(problem, steps=steps), args.repeat)
    times["ours"] = t
    ref = objectives(problem, ours, steps)
    t, whole = timed(lambda: ortools_solve(problem, steps=steps), args.repeat)
    times["whole"] = t
    if objectives(problem, whole, steps) != ref:
        failures.append(f"{label}: whole-graph OR-Tools differs")

    def lp(per_component: bool) -> dict[int, tuple[float, float]]:
        return {int(s): reference_solve(problem, int(s), per_component=per_component)
                for s in steps}

    for name, limit, per_component in (("highs", args.highs_max_arcs, True),
                                       ("highs1", args.highs1_max_arcs, False)):
        if problem.n_arcs > limit:
            times[name] = None
            continue
        t, got = timed(lambda pc=per_component: lp(pc), 1)
        times[name] = t
        for s, (f, c) in got.items():  # type: ignore[union-attr]
            if (round(f), round(c)) != ref[s]:
                failures.append(f"{label}: {name} step {s}: {(f, c)} vs ours {ref[s]}")
    if problem.n_arcs <= args.nx_max_arcs:
        t, got = timed(lambda: {int(s): run_networkx(problem, int(s)) for s in steps}, 1)
        times["networkx"] = t
        if got != ref:
            failures.append(f"{label}: networkx differs")
    else:
        times["networkx"] = None
    matched_kwh = sum(ref[int(s)][0] * problem.weights[int(s)] for s in steps) / 1000
    row = {
        "row": label, "arcs": problem.n_arcs, "producers": problem.n_producers,
        "consumers": problem.n_consumers, "distance_m": problem.max_distance_m,
        "components": len(np.unique(problem.arc_component)), "steps": len(steps),
        "matched_kwh": matched_kwh, "build": build_s, **times,
    }
    return row, failures


def fmt(seconds: object) -> str:
    return "-" if seconds is None else f"{seconds:.3f}"  # type: ignore[str-format]


def ratio(row: dict[str, object], peer: str) -> str:
    if row.get(peer) is None:
        return "-"
    return f"{row[peer] / row['ours']:.1f}x"  # type: ignore[operator]


def print_table(rows: list[dict[str, object]]) -> None:
    peers = ["whole", "highs", "highs1", "networkx"]
    header = ["row", "arcs", "P", "C", "max m", "comps", "steps", "build s", "ours s",
              *[f"{p} s" for p in peers], *[f"{p}/ours" for p in peers]]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for row in rows:
        cells = [
            str(row["row"]), f"{row['arcs']:,}", f"{row['producers']:,}",
            f"{row['consumers']:,}", f"{row['distance_m']:g}", f"{row['components']:,}",
            str(row["steps"]), fmt(row["build"]), fmt(row["ours"]),
            *[fmt(row.get(p)) for p in peers], *[ratio(row, p) for p in peers],
        ]
        print("| " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.arcs:
        counts = args.producers or [max(50, round(5 * a ** 0.62)) for a in args.arcs]
        plan = list(zip(args.arcs, counts, strict=True))
    else:
        plan = list(QUICK_ROWS if args.quick else ROWS)
    rows: list[dict[str, object]] = []
    failures: list[str] = []
    from importlib.metadata import version

    print(f"OR-Tools {version('ortools')}, pylmcf {version('pylmcf')} (LEMON), "
          f"scipy {version('scipy')} (HiGHS), numpy {version('numpy')}")
    for target, n_p in plan:
        producers, consumers = make_sites(n_p, seed=args.seed)
        distance = distance_for(producers, consumers, target)
        start = time.perf_counter()
        problem = build_problem(producers, consumers, max_distance_m=distance)
        build_s = time.perf_counter() - start
        row, bad = bench_row(f"annual {target:.0e} ({n_p:,} P)", problem, build_s, args,
                             np.zeros(1, dtype=np.int64))
        rows.append(row)
        failures += bad
        print(f"  done {row['row']}: {row['arcs']:,} arcs, ours {row['ours']:.3f} s", flush=True)
    if not args.no_typical_day:
        target, n_p = QUICK_ROWS[0] if args.quick else QUICK_ROWS[1]
        producers, consumers = make_sites(n_p, seed=args.seed)
        distance = distance_for(producers, consumers, target)
        start = time.perf_counter()
        lon, lat = rd_to_wgs84(producers.geometry.x, producers.geometry.y)
        supply = pv_profile(lon=lon, lat=lat, kwp=producers["surplus_kwh"].to_numpy() / 875,
                            mode="typical_day")
        demand = consumption_profile(annual_kwh=consumers["demand_kwh"].to_numpy(),
                                     mode="typical_day")
        problem = build_problem(producers, consumers, max_distance_m=distance,
                                mode="typical_day", producer_profile=supply,
                                consumer_profile=demand)
        build_s = time.perf_counter() - start
        steps = problem.active_steps()
        row, bad = bench_row(f"typical_day {target:.0e}", problem, build_s, args, steps)
        rows.append(row)
        failures += bad
        print(f"  done {row['row']}: {len(steps)} active steps", flush=True)
    print("\ntimes in seconds (best of up to --repeat runs for ours/whole); ratio = peer / ours")
    print_table(rows)
    big = [r for r in rows if str(r["row"]).startswith("annual") and int(r["arcs"]) >= 9e5]
    for r in big:
        highs = r.get("highs")
        print(f"\n{r['row']}: ours {r['ours']:.2f} s; "
              f"whole-graph OR-Tools {r['whole']:.2f} s "
              f"({'ours no slower' if r['ours'] <= r['whole'] else 'OURS SLOWER'}); "
              + ("HiGHS skipped" if highs is None else
                 f"HiGHS {highs:.1f} s ({highs / r['ours']:.0f}x, target 10x: "
                 f"{'met' if highs >= 10 * r['ours'] else 'NOT MET'})"))
    if failures:
        print("\nOBJECTIVES DIFFER:")
        for line in failures:
            print("  " + line)
        return 1
    print("\nAll peers reached the same matched Wh and cost (Wh x dm) in every step.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
