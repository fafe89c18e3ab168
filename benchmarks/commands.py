"""Whole-process benchmarks of the command line and the members' energy page, against peers.

Run from the repository root::

    .venv/bin/python benchmarks/commands.py                    # every section, full sizes
    .venv/bin/python benchmarks/commands.py --quick            # small sizes (10^5 sites)
    .venv/bin/python benchmarks/commands.py --only match help --repeat 5

Every row times whole processes (start-up, imports, reading, work, writing), best of
``--repeat`` rounds; each round runs ours and the peer once, interleaved, so a change in the
shared machine's load hits both. Ratios are ours / peer (below 1: ours is faster); the targets
are issue #15's.

- ``help``: ``matchmaker --help`` and ``matchmaker match --help`` next to ``python -c "import
  click"`` and a bare ``flask.cli.FlaskGroup`` printing its help (Flask's own group cost).
- ``match``: ``matchmaker match`` in annual mode with the default certificate, 2,000 producers
  and 20,000 consumers within 1,500 m (the sites of ``benchmarks/matching.py``), against
  ``benchmarks/peer_scripts/match_ortools.py``: the same CSV files read and written with Arrow,
  k-d tree candidates and OR-Tools' ``SimpleMinCostFlow`` on the whole graph. Both must match
  the same energy at the same energy x distance (to the 0.001 kWh the files hold). Target 1.3.
- ``bundle``: ``matchmaker bundle`` on 10^6 sites (``benchmarks/bundling.py``'s parks), gap
  250 m, CSV in and out and GeoParquet in and out, against
  ``benchmarks/peer_scripts/bundle_geopandas.py`` (geopandas ``sindex.query(dwithin)`` and
  scipy's connected components, pandas or geopandas I/O). Both partitions must be identical.
  Target 0.25.
- ``web``: the members' ``/energy/matches`` after an hourly run, next to the member dashboard
  (``/dashboard``), server time through the Flask test client on a fresh SQLite database
  with the demo data (median of ``--requests`` requests each, after one warm-up).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
MATCHMAKER = [str(BIN / "matchmaker")]
PEERS = ROOT / "benchmarks" / "peer_scripts"


def wall(command: list[str], **env: str) -> float:
    """Seconds one process takes, start to exit; it must succeed."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "MATCHMAKER_LANG": "en", **env})
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return took


def best_of(commands: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Best time of each command over ``repeat`` interleaved rounds."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(repeat):
        for name, command in commands.items():
            best[name] = min(best[name], wall(command))
    return best


def table(title: str, rows: list[tuple[str, float, float, str]], target: float | None) -> None:
    print(f"\n{title}")
    print(f"  {'row':<34} {'ours s':>8} {'peer s':>8} {'ratio':>7}  note")
    for name, ours, peer, note in rows:
        ratio = ours / peer
        mark = "" if target is None else ("  ok" if ratio <= target else "  ABOVE TARGET")
        print(f"  {name:<34} {ours:8.2f} {peer:8.2f} {ratio:7.2f}  {note}{mark}")


# --- help ----------------------------------------------------------------------------------------

def bench_help(repeat: int) -> None:
    python = sys.executable
    times = best_of({
        "click": [python, "-c", "import click"],
        "flaskgroup": [python, "-c", ("from flask.cli import FlaskGroup; "
                                      "FlaskGroup(name='x').main(['--help'])")],
        "help": [*MATCHMAKER, "--help"],
        "match-help": [*MATCHMAKER, "match", "--help"],
        "import-help": [*MATCHMAKER, "import-addresses", "--help"],
    }, repeat)
    table("matchmaker --help (whole process; peer: python -c 'import click')", [
        ("matchmaker --help", times["help"], times["click"],
         f"a bare FlaskGroup --help: {times['flaskgroup']:.2f} s"),
        ("matchmaker match --help", times["match-help"], times["click"], "no Flask"),
        ("matchmaker import-addresses --help", times["import-help"], times["click"], ""),
    ], None)


# --- match ---------------------------------------------------------------------------------------

def match_files(folder: Path, producers: int) -> tuple[Path, Path]:
    from benchmarks.matching import make_sites

    p, c = make_sites(producers)
    paths = []
    for frame, name, column in ((p, "producers", "surplus_kwh"), (c, "consumers", "demand_kwh")):
        path = folder / f"{name}.csv"
        frame.assign(x=frame.geometry.x, y=frame.geometry.y)[["id", "x", "y", column]].to_csv(
            path, index=False)
        paths.append(path)
    return paths[0], paths[1]


def flow_totals(path: Path) -> tuple[float, float, int]:
    """Matched kWh, kWh x m and the number of rows (each kWh is rounded to 0.001)."""
    import pandas as pd

    flows = pd.read_csv(path)
    return (float(flows["kwh"].sum()), float(flows["kwh"] @ flows["distance_m"]), len(flows))


def bench_match(repeat: int, folder: Path, producers: int) -> None:
    p, c = match_files(folder, producers)
    ours_out, peer_out = folder / "flows.csv", folder / "peer_flows.csv"
    distance = "1500"
    times = best_of({
        "ours": [*MATCHMAKER, "match", str(p), str(c), "--max-distance-m", distance,
                 "--output", str(ours_out)],
        "no-certify": [*MATCHMAKER, "match", str(p), str(c), "--max-distance-m", distance,
                       "--output", str(folder / "flows2.csv"), "--no-certify"],
        "peer": [sys.executable, str(PEERS / "match_ortools.py"), str(p), str(c), distance,
                 str(peer_out)],
    }, repeat)
    ours_totals, peer_totals = flow_totals(ours_out), flow_totals(peer_out)
    rounding = 0.0005 * (ours_totals[2] + peer_totals[2])
    if abs(ours_totals[0] - peer_totals[0]) > rounding:
        raise SystemExit(f"different matched energy: ours {ours_totals}, peer {peer_totals}")
    # Distances in the files are rounded to 0.1 m: allow that on every kWh.
    if abs(ours_totals[1] - peer_totals[1]) > 0.05 * ours_totals[0] + 1500 * rounding:
        raise SystemExit(f"different energy x distance: ours {ours_totals}, peer {peer_totals}")
    n = f"{producers:,} x {10 * producers:,} sites, {distance} m"
    table(f"matchmaker match, annual ({n}); peer: OR-Tools SimpleMinCostFlow script", [
        ("with the default certificate", times["ours"], times["peer"],
         f"same kWh and kWh x m: {ours_totals[0]:,.1f} kWh"),
        ("--no-certify", times["no-certify"], times["peer"], ""),
    ], 1.3)


# --- bundle --------------------------------------------------------------------------------------

def bundle_files(folder: Path, n: int) -> tuple[Path, Path]:
    import geopandas as gpd
    import pandas as pd

    from benchmarks.bundling import make_sites

    x, y = make_sites(n)
    ids = np.char.zfill(np.arange(len(x)).astype(str), 16)
    quantity = np.random.default_rng(1).integers(1, 100, len(x))
    frame = pd.DataFrame({"id": ids, "x": x, "y": y, "quantity": quantity})
    csv, parquet = folder / "sites.csv", folder / "sites.parquet"
    frame.to_csv(csv, index=False)
    gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(x, y),
                     crs="EPSG:28992").to_parquet(parquet)
    return csv, parquet


def first_appearance(labels: np.ndarray) -> np.ndarray:
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse]


def same_partition(ours: Path, peer: Path) -> bool:
    import pyarrow.parquet as pq
    from pyarrow import csv

    def labels(path: Path) -> np.ndarray:
        table = (pq.read_table(path, columns=["bundle_id"]) if path.suffix == ".parquet"
                 else csv.read_csv(path, convert_options=csv.ConvertOptions(
                     include_columns=["bundle_id"])))
        return np.asarray(table["bundle_id"].to_numpy())

    return bool(np.array_equal(first_appearance(labels(ours)), first_appearance(labels(peer))))


def bench_bundle(repeat: int, folder: Path, n: int) -> None:
    csv, parquet = bundle_files(folder, n)
    rows = []
    for kind, source in (("CSV", csv), ("GeoParquet", parquet)):
        suffix = source.suffix
        ours_out, peer_out = folder / f"out{suffix}", folder / f"peer_out{suffix}"
        times = best_of({
            "ours": [*MATCHMAKER, "bundle", str(source), "--max-gap-m", "250",
                     "--output", str(ours_out)],
            "peer": [sys.executable, str(PEERS / "bundle_geopandas.py"), str(source), "250",
                     str(peer_out)],
        }, repeat)
        if not same_partition(ours_out, peer_out):
            raise SystemExit(f"bundle: different partitions ({kind})")
        rows.append((f"{kind} in and out", times["ours"], times["peer"], "same bundles"))
    table(f"matchmaker bundle, {n:,} sites, gap 250 m; peer: geopandas sindex dwithin + "
          "connected components", rows, 0.25)


# --- web -----------------------------------------------------------------------------------------

def bench_web(requests: int, folder: Path) -> None:
    from flask_migrate import upgrade

    from matchmaker import create_app
    from matchmaker.database import write_intent
    from matchmaker.extensions import db

    os.environ["MATCHMAKER_DEMO"] = "1"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'web.sqlite3'}",
                      "INSTANCE_PATH": str(folder), "DEMO_MODE": True,
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    with app.app_context(), write_intent():
        import sqlalchemy as sa

        from matchmaker.auth.models import Role, User
        from matchmaker.demo import load_demo_once
        from matchmaker.energy import services

        upgrade(revision="heads")
        load_demo_once()
        db.session.commit()
        coordinator = db.session.scalar(sa.select(User).where(User.role == Role.COORDINATOR))
        run = services.start_run(actor=coordinator, mode="hourly", max_distance_m=1000)
        db.session.commit()
        start = time.perf_counter()
        services.execute_run(run.id)
        job = time.perf_counter() - start
        db.session.refresh(run)
        assert run.explained, run.error
        print(f"\nthe hourly run's job (demo data, 1,000 m): {job:.1f} s, of which the stage "
              "'explaining' computes every site's what-ifs")
    client = app.test_client()
    login = client.post("/login", data={"email": "lid@demo.example",
                                        "password": "assen-demo-2026"})
    assert login.status_code == 302, login.status_code

    def server_time(url: str) -> float:
        first = client.get(url)  # warm-up (templates, caches)
        assert first.status_code == 200, (url, first.status_code)
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200
        return float(np.median(times))

    matches = server_time("/energy/matches")
    dashboard = server_time("/dashboard")
    table("/energy/matches after an hourly run (server time, median; peer: the member "
          "dashboard)", [("GET /energy/matches", matches, dashboard,
                          "read from storage, no solve")], None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", nargs="*", default=["help", "match", "bundle", "web"],
                        choices=["help", "match", "bundle", "web"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    sections: dict[str, Callable[[Path], None]] = {
        "help": lambda _folder: bench_help(args.repeat * 3),
        "match": lambda folder: bench_match(args.repeat, folder, 500 if args.quick else 2000),
        "bundle": lambda folder: bench_bundle(args.repeat, folder,
                                              10**5 if args.quick else 10**6),
        "web": lambda folder: bench_web(args.requests, folder),
    }
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        for name in args.only:
            folder = Path(tmp) / name
            folder.mkdir()
            sections[name](folder)


if __name__ == "__main__":
    main()
