"""Benchmark peers and test oracles: other ways to solve the same problems, kept out of ``geo``.

``ortools_solve`` solves a :class:`geo.match_problem.MatchProblem` with OR-Tools' one-call
``SimpleMinCostFlow.solve_max_flow_with_min_cost`` on the whole graph, one step at a time: no
decomposition, nodes numbered as given. The tests use it as an independent oracle for
:func:`geo.match_solve.solve`, the benchmarks as a named peer.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from geo.match_problem import MatchProblem, StepFlows


def ortools_solve(problem: MatchProblem, *, steps: npt.ArrayLike | None = None) -> StepFlows:
    """OR-Tools' max-flow min-cost on the whole graph, step by step (see the module)."""
    from ortools.graph.python import min_cost_flow

    todo = problem.active_steps() if steps is None else np.asarray(steps, dtype=np.int64).ravel()
    n_p = problem.n_producers
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        problem.arc_producer.astype(np.int32), (n_p + problem.arc_consumer).astype(np.int32),
        np.minimum(problem.supply_wh.max(axis=1, initial=0)[problem.arc_producer],
                   problem.demand_wh.max(axis=1, initial=0)[problem.arc_consumer]),
        problem.arc_cost,
    )
    nodes = np.arange(n_p + problem.n_consumers, dtype=np.int32)
    parts = []
    for step in todo:
        smcf.set_nodes_supplies(nodes, np.r_[problem.supply_wh[:, step],
                                             -problem.demand_wh[:, step]])
        status = smcf.solve_max_flow_with_min_cost()
        if status != min_cost_flow.SimpleMinCostFlow.OPTIMAL:  # pragma: no cover
            raise RuntimeError(f"OR-Tools min cost flow failed: {status}")
        flow = np.asarray(smcf.flows(arcs), dtype=np.int64)
        nz = np.flatnonzero(flow)
        parts.append(StepFlows(np.full(len(nz), step, dtype=np.int64), nz, flow[nz]))
    return StepFlows.concat(parts)

