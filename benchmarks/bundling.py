"""Benchmark ``geo.bundling.bundle_by_distance`` against named peers on the same points.

Run from the repository root::

    .venv/bin/python benchmarks/bundling.py                 # 1e4, 1e5, 1e6 points x 50, 250, 1000 m
    .venv/bin/python benchmarks/bundling.py --quick         # 1e4 and 1e5 only
    .venv/bin/python benchmarks/bundling.py --sizes 1e5 --gaps 100 --repeat 5

The points look like member sites: 400 business parks scattered over an RD New box of the
Netherlands (sites uniform within each park, park sizes and densities uneven), plus 15 % loners
spread over the whole country, coordinates rounded to millimetres as in BAG.
The same points go to every implementation:

- ``ours``: ``bundle_by_distance`` on a GeoDataFrame, timed including its input validation;
- ``floor``: bare ``scipy.spatial.cKDTree.query_pairs`` + ``scipy.sparse.csgraph.connected_components``;
- ``sindex``: geopandas ``sindex.query(predicate="dwithin")`` + ``connected_components``;
- ``dbscan``: scikit-learn ``DBSCAN(eps=gap, min_samples=1)`` (one job);
- ``postgis``: ``ST_ClusterDBSCAN(geom, eps := gap, minpoints := 1) OVER ()`` in the local
  PostgreSQL (database ``matchmaker_bench``). Only the clustering query is timed, run on the
  server as ``CREATE TEMP TABLE ... AS SELECT``; loading (COPY) and fetching are not.

The peers that list every neighbour pair need memory in proportion to the number of pairs, so
each run first counts the pairs exactly (``cKDTree.count_neighbors``) and skips a peer, with a
note, when the pairs would not fit (``--max-pairs``) or PostGIS is predicted to take more than
``--postgis-timeout`` seconds. Every partition is compared with ours after canonical relabelling
(numbered by first appearance); differences are explained by the pairs that cause them, and
differences only at pairs within 1e-9 m of the gap are reported as such, not as failures.
The table shows the best of ``--repeat`` rounds, each round running every implementation once
(interleaved, so a change in the shared machine's load hits all alike; runs over 20 s are not
repeated), and ours/peer ratios (below 1: ours is faster).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.bundling import bundle_by_distance
from geo.crs import RD_NEW

Labels = npt.NDArray[np.int64]
PEERS = ("floor", "sindex", "dbscan", "postgis")
# RD New box of the Dutch mainland (metres), inside geo.crs.RD_BOUNDS: where sites are put.
BOX = (13_000.0, 307_000.0, 278_000.0, 620_000.0)
TIE_M = 1e-9


# --------------------------------------------------------------------------------------------
# data


def make_sites(n: int, *, seed: int = 20240601, n_parks: int = 400) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64]
]:
    """Sites on business parks plus 15 % loners; RD New coordinates rounded to millimetres.

    Parks are discs of 0.5-2.5 km radius; their site densities vary log-normally (a few parks
    are five times as dense as the median), so the points are clustered at every scale the
    gaps probe. Seeded: the same ``n`` and ``seed`` always give the same points.
    """
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = BOX
    cx = rng.uniform(minx + 20_000, maxx - 20_000, n_parks)
    cy = rng.uniform(miny + 20_000, maxy - 20_000, n_parks)
    radius = rng.uniform(500, 2_500, n_parks)
    share = radius**2 * rng.lognormal(0.0, 0.8, n_parks)  # area x density
    share /= share.sum()
    n_loners = round(0.15 * n)
    park = rng.choice(n_parks, size=n - n_loners, p=share)
    angle = rng.uniform(0, 2 * np.pi, park.size)
    r = radius[park] * np.sqrt(rng.random(park.size))  # uniform over the disc
    x = np.concatenate([cx[park] + r * np.cos(angle), rng.uniform(minx, maxx, n_loners)])
    y = np.concatenate([cy[park] + r * np.sin(angle), rng.uniform(miny, maxy, n_loners)])
    order = rng.permutation(n)
    return np.round(x[order], 3), np.round(y[order], 3)


# --------------------------------------------------------------------------------------------
# implementations: each returns one label per point


def canonical(labels: npt.ArrayLike) -> Labels:
    """Relabel 0, 1, 2, ... by first appearance, so equal partitions give equal arrays."""
    _, first, inverse = np.unique(np.asarray(labels), return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size, dtype=np.int64)
    return rank[inverse.ravel()]


def components(n: int, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]) -> Labels:
    graph = coo_matrix((np.ones(i.size, dtype=np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def run_ours(frame: gpd.GeoDataFrame, gap: float) -> Labels:
    return bundle_by_distance(frame, max_gap_m=gap).to_numpy()


def run_floor(xy: npt.NDArray[np.float64], gap: float) -> Labels:
    pairs = cKDTree(xy).query_pairs(gap, output_type="ndarray")
    return components(len(xy), pairs[:, 0], pairs[:, 1])


def run_sindex(geoms: gpd.GeoSeries, gap: float) -> Labels:
    fresh = gpd.GeoSeries(geoms.array.copy(), crs=geoms.crs)  # no cached tree
    i, j = fresh.sindex.query(fresh, predicate="dwithin", distance=gap)
    return components(len(fresh), i, j)


def run_dbscan(xy: npt.NDArray[np.float64], gap: float) -> Labels:
    from sklearn.cluster import DBSCAN

    return DBSCAN(eps=gap, min_samples=1, n_jobs=1).fit(xy).labels_.astype(np.int64)


class PostGIS:
    """The local PostgreSQL with PostGIS, one loaded table at a time."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.psycopg = psycopg
        admin = psycopg.connect(dsn, dbname="postgres", autocommit=True)
        with admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'matchmaker_bench'"
            ).fetchone()
            if not exists:
                admin.execute("CREATE DATABASE matchmaker_bench")
        self.conn = psycopg.connect(dsn, dbname="matchmaker_bench", autocommit=True)
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        version = self.conn.execute("SELECT postgis_full_version()").fetchone()
        self.version = str(version[0]) if version else "?"
        self.loaded = -1

    def load(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
        """Load the points with COPY (hex EWKB); returns seconds (not part of the timing)."""
        start = time.perf_counter()
        self.conn.execute("DROP TABLE IF EXISTS bench_sites")
        self.conn.execute(
            "CREATE UNLOGGED TABLE bench_sites (id integer PRIMARY KEY, "
            "geom geometry(Point, 28992) NOT NULL)"
        )
        geoms = shapely.set_srid(shapely.points(x, y), 28992)
        hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
        buf = io.StringIO()
        pd.DataFrame({"id": np.arange(x.size), "geom": hexes}).to_csv(
            buf, sep="\t", header=False, index=False
        )
        with self.conn.cursor() as cur, cur.copy("COPY bench_sites (id, geom) FROM STDIN") as cp:
            cp.write(buf.getvalue())
        self.conn.execute("ANALYZE bench_sites")
        with suppress(self.psycopg.Error):  # flush now, not while something else is timed
            self.conn.execute("CHECKPOINT")
        self.loaded = x.size
        return time.perf_counter() - start

    def close(self) -> None:
        """Drop the loaded points (the database and extension stay for the next run)."""
        self.conn.execute("DROP TABLE IF EXISTS bench_sites")
        self.conn.close()

    def cluster(self, gap: float, timeout_s: float) -> tuple[float, Labels]:
        """Seconds for the clustering query alone, and the labels (fetched afterwards)."""
        self.conn.execute("DROP TABLE IF EXISTS bench_clusters")
        self.conn.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
        start = time.perf_counter()
        self.conn.execute(
            "CREATE TEMP TABLE bench_clusters AS SELECT id, "
            "ST_ClusterDBSCAN(geom, eps := %s, minpoints := 1) OVER () AS cid FROM bench_sites",
            (float(gap),),
        )
        seconds = time.perf_counter() - start
        self.conn.execute("SET statement_timeout = 0")
        rows = self.conn.execute("SELECT cid FROM bench_clusters ORDER BY id").fetchall()
        return seconds, np.array([r[0] for r in rows], dtype=np.int64)


# --------------------------------------------------------------------------------------------
# comparison


def explain(
    xy: npt.NDArray[np.float64], ours: Labels, peer: Labels, gap: float, limit: int = 5
) -> list[str]:
    """Describe, by the pair responsible, each bundle that one partition splits and the other not."""
    lines: list[str] = []
    for whole, split, verb in ((ours, peer, "splits"), (peer, ours, "joins")):
        per_group = pd.Series(split).groupby(whole).nunique()
        for group in per_group.index[per_group.to_numpy() > 1][:limit]:
            members = np.flatnonzero(whole == group)
            piece = split[members] == split[members[0]]
            a, b = members[piece], members[~piece]
            found = cKDTree(xy[a]).sparse_distance_matrix(
                cKDTree(xy[b]), gap * (1 + 1e-6) + 1e-6, output_type="ndarray"
            )
            if found.size == 0:
                lines.append(f"peer {verb} a bundle of {members.size} sites; no pair near the gap")
                continue
            i, j = a[found["i"]], b[found["j"]]
            d = np.sqrt(((xy[i] - xy[j]) ** 2).sum(axis=1))
            k = int(np.argmin(np.abs(d - gap)))
            kind = "tie at the gap" if abs(d[k] - gap) <= TIE_M else "REAL DIFFERENCE"
            lines.append(
                f"peer {verb} a bundle of {members.size} sites at pair ({i[k]}, {j[k]}): "
                f"distance - gap = {d[k] - gap:+.3e} m ({kind})"
            )
    return lines


@dataclass
class Timing:
    seconds: float | None = None
    runs: int = 0
    note: str = ""
    agrees: bool | None = None
    details: list[str] = field(default_factory=list)


Runner = Callable[[], tuple[float, Labels]]


def wall_clock(fn: Callable[[], Labels]) -> Runner:
    """Time ``fn`` by wall clock: (seconds, labels)."""

    def run() -> tuple[float, Labels]:
        start = time.perf_counter()
        labels = fn()
        return time.perf_counter() - start, labels

    return run


def interleaved(
    runners: dict[str, Runner], timings: dict[str, Timing], repeat: int, slow_s: float
) -> dict[str, Labels]:
    """Best time of each runner over ``repeat`` rounds, each round running every one once.

    Interleaving keeps the ratios fair when the (shared) machine's load changes during the
    run; a runner slower than ``slow_s`` is not repeated.
    """
    labels: dict[str, Labels] = {}
    for _ in range(repeat):
        for name, runner in runners.items():
            t = timings[name]
            if t.runs and t.seconds is not None and t.seconds > slow_s:
                continue
            seconds, labels[name] = runner()
            t.seconds = seconds if t.seconds is None else min(t.seconds, seconds)
            t.runs += 1
    return labels


def pair_count(xy: npt.NDArray[np.float64], gap: float) -> int:
    tree = cKDTree(xy)
    return int((tree.count_neighbors(tree, gap) - len(xy)) // 2)


# --------------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e4,1e5,1e6", help="point counts, comma-separated")
    parser.add_argument("--gaps", default="50,250,1000", help="max gaps in metres")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best is kept)")
    parser.add_argument("--quick", action="store_true", help="only 1e4 and 1e5 points")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--peers", default=",".join(PEERS), help="subset of " + ",".join(PEERS))
    parser.add_argument(
        "--max-pairs", type=float, default=1.5e8,
        help="skip pair-listing peers above this many neighbour pairs (memory)",
    )
    parser.add_argument("--postgis-timeout", type=float, default=120.0, help="seconds")
    parser.add_argument(
        "--dsn", default=os.environ.get("BENCH_DSN", "host=127.0.0.1 port=5432 user=postgres"),
        help="libpq connection string for PostgreSQL (database is matchmaker_bench)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "1e4,1e5"
    return args


def fmt_s(t: Timing) -> str:
    if t.seconds is None:
        return "skipped"
    return f"{t.seconds:8.3f}" + ("" if t.agrees in (True, None) else " !")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    gaps = [float(g) for g in args.gaps.split(",")]
    peers = [p for p in args.peers.split(",") if p]
    unknown = set(peers) - set(PEERS)
    if unknown:
        raise SystemExit(f"unknown peer(s): {', '.join(sorted(unknown))}")

    postgis: PostGIS | None = None
    postgis_note = ""
    if "postgis" in peers:
        try:
            postgis = PostGIS(args.dsn)
            print(f"PostGIS: {postgis.version.split(' PGSQL')[0]}")
        except Exception as exc:  # noqa: BLE001 - any failure means: no PostGIS here
            postgis_note = f"PostGIS unavailable: {str(exc).splitlines()[0]}"
            print(postgis_note)
    print(
        f"machine: {os.cpu_count()} cpu(s); numpy {np.__version__}, geopandas "
        f"{gpd.__version__}, shapely {shapely.__version__}, GEOS {shapely.geos_version_string}"
    )
    print(f"times: best of up to {args.repeat} interleaved rounds, in seconds; "
          "ratio = ours / peer (below 1: ours is faster);")
    print("postgis: clustering query only (server side, CREATE TEMP TABLE AS SELECT "
          "ST_ClusterDBSCAN ...), not loading or fetching.\n")

    rows: list[dict[str, object]] = []
    problems: list[str] = []
    ties: list[str] = []
    postgis_rate: dict[float, float] = {}  # gap -> seconds per (pair + point) seen so far
    for n in sizes:
        x, y = make_sites(n, seed=args.seed)
        xy = np.column_stack([x, y])
        frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=RD_NEW)
        if postgis is not None:
            load_s = postgis.load(x, y)
            print(f"[{n:>9,} points] loaded into PostGIS with COPY in {load_s:.1f} s (not timed)")
        for gap in gaps:
            pairs = pair_count(xy, gap)
            timings: dict[str, Timing] = {name: Timing() for name in ("ours", *peers)}
            runners: dict[str, Runner] = {"ours": wall_clock(partial(run_ours, frame, gap))}
            for peer in peers:
                t = timings[peer]
                if peer == "postgis":
                    if postgis is None:
                        t.note = postgis_note
                        continue
                    rate = postgis_rate.get(gap)
                    predicted = rate * (pairs + n) if rate is not None else 0.0
                    if predicted > args.postgis_timeout:
                        t.note = (f"predicted {predicted:.0f} s from the smaller run "
                                  f"> {args.postgis_timeout:.0f} s")
                        continue
                    runners[peer] = partial(postgis.cluster, gap, args.postgis_timeout)
                else:
                    need = {"floor": pairs, "sindex": 2 * pairs + n, "dbscan": 3 * pairs}[peer]
                    if need > args.max_pairs:
                        t.note = (f"{pairs:,} neighbour pairs: listing them needs about "
                                  f"{need * 16 / 1e9:.0f} GB or more, over --max-pairs")
                        continue
                    runners[peer] = wall_clock({
                        "floor": partial(run_floor, xy, gap),
                        "sindex": partial(run_sindex, frame.geometry, gap),
                        "dbscan": partial(run_dbscan, xy, gap),
                    }[peer])
            try:
                labels = interleaved(runners, timings, args.repeat, slow_s=20.0)
            except Exception as exc:
                if postgis is None or not isinstance(exc, postgis.psycopg.errors.QueryCanceled):
                    raise
                # PostGIS ran out of time: drop it for this gap and time the others again.
                postgis.conn.execute("SET statement_timeout = 0")
                del runners["postgis"]
                timings = {name: Timing() for name in ("ours", *peers)}
                timings["postgis"].note = f"timed out after {args.postgis_timeout:.0f} s"
                postgis_rate[gap] = math.inf
                labels = interleaved(runners, timings, args.repeat, slow_s=20.0)
            if "postgis" in runners and timings["postgis"].seconds is not None:
                postgis_rate[gap] = timings["postgis"].seconds / (pairs + n)
            ours = labels["ours"]
            n_bundles = int(ours.max()) + 1 if n else 0
            for peer in peers:
                if peer not in labels:
                    continue
                t = timings[peer]
                peer_labels = canonical(labels[peer])
                t.agrees = bool(np.array_equal(peer_labels, ours))
                if not t.agrees:
                    t.details = explain(xy, ours, peer_labels, gap)
                    for line in t.details:
                        msg = f"n={n:,} gap={gap:g} {peer}: {line}"
                        (ties if "tie at the gap" in line else problems).append(msg)
                    if not t.details:
                        problems.append(f"n={n:,} gap={gap:g} {peer}: partitions differ")
            row: dict[str, object] = {"n": n, "gap": gap, "pairs": pairs, "bundles": n_bundles}
            row.update(timings)
            rows.append(row)
            print_row(row, peers)
            sys.stdout.flush()

    if postgis is not None:
        postgis.close()
    print("\nSummary")
    print_table(rows, peers)
    for row in rows:
        for peer in peers:
            entry = row[peer]
            assert isinstance(entry, Timing)
            if entry.note:
                print(f"  skipped {peer} at n={row['n']:,} gap={row['gap']:g}: {entry.note}")
    if ties:
        print("\nPeers that differ from ours only at pairs within 1e-9 m of the gap:")
        for line in ties:
            print("  " + line)
    if problems:
        print("\nPARTITIONS DIFFER:")
        for line in problems:
            print("  " + line)
        return 1
    print("\nAll partitions that were computed are identical to ours"
          + (" (apart from the ties listed above)." if ties else "."))
    return 0


def print_row(row: dict[str, object], peers: list[str]) -> None:
    ours = row["ours"]
    assert isinstance(ours, Timing)
    head = (
        f"n={row['n']:>9,} gap={row['gap']:>6g} m pairs={row['pairs']:>13,} "
        f"bundles={row['bundles']:>8,}  ours {ours.seconds:.3f} s"
    )
    parts = [head]
    for peer in peers:
        t = row[peer]
        assert isinstance(t, Timing)
        if t.seconds is None:
            parts.append(f"{peer} skipped")
        else:
            same = "same" if t.agrees else "DIFFERENT"
            parts.append(f"{peer} {t.seconds:.3f} s ({same})")
    print(" | ".join(parts))


def print_table(rows: list[dict[str, object]], peers: list[str]) -> None:
    header = ["n", "gap m", "pairs", "bundles", "ours s"]
    for peer in peers:
        header += [f"{peer} s", f"ours/{peer}"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for row in rows:
        ours = row["ours"]
        assert isinstance(ours, Timing) and ours.seconds is not None
        cells = [f"{row['n']:,}", f"{row['gap']:g}", f"{row['pairs']:,}", f"{row['bundles']:,}",
                 f"{ours.seconds:.3f}"]
        for peer in peers:
            t = row[peer]
            assert isinstance(t, Timing)
            if t.seconds is None:
                cells += ["skipped", "–"]
            else:
                cells += [fmt_s(t).strip(), f"{ours.seconds / t.seconds:.2f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
