"""Peer of ``matchmaker match`` (annual): the same files in and out, OR-Tools alone.

    python benchmarks/peer_scripts/match_ortools.py PRODUCERS.csv CONSUMERS.csv MAX_M FLOWS.csv

Reads the two CSV files (``id,x,y,surplus_kwh`` and ``id,x,y,demand_kwh``) with Arrow as
``matchmaker match`` does, finds the candidate pairs with a k-d tree, rounds energy down to whole
Wh and distances to decimetres as the matching does, solves the whole graph with OR-Tools'
``SimpleMinCostFlow.solve_max_flow_with_min_cost`` and writes the same FLOWS columns with Arrow.
No certificate, no validation beyond what the libraries do.
"""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from ortools.graph.python import min_cost_flow
from scipy.spatial import cKDTree


def read(path: str, amount: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"id": pa.string()}))
    xy = np.column_stack([pc.cast(table["x"], pa.float64()).to_numpy(),
                          pc.cast(table["y"], pa.float64()).to_numpy()])
    wh = np.floor(np.round(pc.cast(table[amount], pa.float64()).to_numpy() * 1000, 6))
    return table["id"].to_numpy(zero_copy_only=False), xy, wh.astype(np.int64)


def main() -> None:
    producers, consumers, max_m, output = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    pid, pxy, supply = read(producers, "surplus_kwh")
    cid, cxy, demand = read(consumers, "demand_kwh")
    pairs = cKDTree(pxy).sparse_distance_matrix(cKDTree(cxy), max_m, output_type="ndarray")
    i, j = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    dist = np.hypot(pxy[i, 0] - cxy[j, 0], pxy[i, 1] - cxy[j, 1])
    keep = (dist <= max_m) & (pid[i] != cid[j])
    i, j, dist = i[keep], j[keep], dist[keep]
    n_p = len(pid)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        i.astype(np.int32), (n_p + j).astype(np.int32), np.minimum(supply[i], demand[j]),
        np.rint(dist * 10).astype(np.int64))
    smcf.set_nodes_supplies(np.arange(n_p + len(cid), dtype=np.int32), np.r_[supply, -demand])
    if smcf.solve_max_flow_with_min_cost() != min_cost_flow.SimpleMinCostFlow.OPTIMAL:
        raise SystemExit("OR-Tools failed")
    flow = np.asarray(smcf.flows(arcs), dtype=np.int64)
    used = np.flatnonzero(flow)
    pacsv.write_csv(pa.table({
        "producer_id": pid[i[used]], "consumer_id": cid[j[used]],
        "kwh": np.round(flow[used] / 1000.0, 3), "distance_m": np.round(dist[used], 1),
    }), output)


if __name__ == "__main__":
    main()
