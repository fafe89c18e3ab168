"""What-ifs on a solved matching, for many sites at once: how much more energy would be matched
if one site had more surplus ("10 kWp more PV") or more demand ("move use to the day").

:func:`geo.matching.marginal_gain` answers one such question by solving the site's component
twice. Done for every site of a province after an hourly run that is thousands of component
solves; here the answers come from the run's own maximal flow, and a solver is needed only
where that flow does not decide.

Why that works
    In one step the matched energy, as a function of one producer's supply, rises with slope 1
    and then stays flat (it is the minimum over cuts, each linear in that supply with slope 0
    or 1). So ``δ`` more supply adds ``min(δ, R)``, where ``R`` is the most that can still flow
    from that producer to the sink in the *residual network* of any maximal flow: pairs carry
    anything forwards and at most their flow backwards, consumers take their unused demand.
    Without a solver, per step and per question:

    - ``R = 0`` when the producer cannot reach the sink in the residual network (every
      consumer it could reach is full, and their suppliers cannot move elsewhere);
    - ``R >= δ`` when its own candidate consumers still have ``δ`` of demand left, or when one
      path can carry ``δ`` (the widest paths to the sink of all sites, for a block of steps at
      once, by a max-min fixpoint over the arcs);
    - otherwise a max flow in that residual network decides (OR-Tools, on the part that can
      still reach the sink, from the producer with at most ``δ``).

    Extra demand at a consumer is the mirror image: it adds ``min(δ, R')``, ``R'`` being what
    the source can still push to that consumer; zero when the source cannot reach it, at least
    ``δ`` when its own candidate producers have ``δ`` of supply left.

All amounts are whole Wh per step as in :mod:`geo.match_problem` (the extra rounded down the
same way), so the result equals :func:`geo.matching.marginal_gain` exactly (a test compares
them on random instances).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from geo.errors import N_, ParameterError
from geo.match_problem import (
    FloatArray,
    IntArray,
    MatchProblem,
    Progress,
    StepFlows,
    ignore,
    to_wh,
)

BoolArray = npt.NDArray[np.bool_]
#: Elements (arcs or sites x steps) per block of steps, which bounds the memory used.
BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Extra:
    """One question: ``kwh`` more (per step occurrence, or one yearly amount in annual mode)
    for the producer or consumer at position ``index`` of the problem."""

    side: str  # "producer" or "consumer"
    index: int
    kwh: npt.ArrayLike


def transfer_flows(source: MatchProblem, flows: StepFlows, target: MatchProblem) -> StepFlows:
    """``flows`` of ``source`` as flows of ``target``, pair by pair (by producer and consumer
    id). ``target`` must hold every pair of ``source`` that carries energy, as a problem with
    more sites (those with nothing to give or take) does."""
    def keys(problem: MatchProblem, arcs: IntArray) -> pd.MultiIndex:
        return pd.MultiIndex.from_arrays([problem.producer_ids[problem.arc_producer[arcs]],
                                          problem.consumer_ids[problem.arc_consumer[arcs]]])

    where = keys(target, np.arange(target.n_arcs)).get_indexer(keys(source, flows.arc))
    if (where < 0).any():
        raise ParameterError(N_("The flows use pairs that the problem does not have."))
    return StepFlows(flows.step, where.astype(np.int64), flows.wh)


def matched_gains(problem: MatchProblem, flows: StepFlows, extras: Sequence[Extra], *,
                  progress: Progress | None = None) -> FloatArray:
    """More matched kWh per year for each of ``extras``, each on its own, all else equal.

    ``flows`` must be a maximal flow of every step of ``problem`` (a run's solution, or one
    moved onto a problem with more sites by :func:`transfer_flows`).

    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> from geo.match_problem import build_problem
    >>> from geo.match_solve import solve
    >>> p = gpd.GeoDataFrame({"id": ["a"], "surplus_kwh": [50.0]},
    ...                      geometry=[Point(0, 0)], crs="EPSG:28992")
    >>> c = gpd.GeoDataFrame({"id": ["x"], "demand_kwh": [80.0]},
    ...                      geometry=[Point(10, 0)], crs="EPSG:28992")
    >>> problem = build_problem(p, c, max_distance_m=100)
    >>> matched_gains(problem, solve(problem), [Extra("producer", 0, 50.0),
    ...                                         Extra("consumer", 0, 10.0)]).tolist()
    [30.0, 0.0]
    """
    report = progress or ignore
    n_steps = problem.n_steps
    extra_wh = np.zeros((len(extras), n_steps), dtype=np.int64)
    is_producer = np.zeros(len(extras), dtype=bool)
    index = np.zeros(len(extras), dtype=np.int64)
    for q, extra in enumerate(extras):
        kwh = np.broadcast_to(np.asarray(extra.kwh, dtype=float), (n_steps,))
        if not np.all(np.isfinite(kwh)) or np.any(kwh < 0):
            raise ParameterError(N_("extra_kwh must be finite and not negative."))
        index[q] = i = int(extra.index)
        if extra.side == "producer":
            is_producer[q] = True
            extra_wh[q] = to_wh(np.minimum(problem.surplus_kwh[i] + kwh,
                                           problem.feed_in_kwh[i])) - problem.supply_wh[i]
        elif extra.side == "consumer":
            extra_wh[q] = to_wh(problem.demand_kwh[i] + kwh) - problem.demand_wh[i]
        else:
            raise ParameterError(N_("Name either a producer or a consumer."))
    gain_wh = np.zeros((len(extras), n_steps), dtype=np.int64)
    residual = _Residual(problem, flows)
    size = max(1, BLOCK_ELEMENTS // max(1, problem.n_arcs + problem.n_producers
                                        + problem.n_consumers))
    wanted = np.flatnonzero(extra_wh.any(axis=0))
    for first in range(0, len(wanted), size):
        report(first / max(1, len(wanted)))
        steps = wanted[first:first + size]
        now = residual.flows(steps)
        delta = extra_wh[:, steps]
        # Delta in full where the site's own partners have that much left (most questions).
        direct = np.zeros_like(delta)
        direct[is_producer] = _int(residual.pairs[index[is_producer]] @ now.spare)
        direct[~is_producer] = _int(residual.pairs_by_consumer[index[~is_producer]] @ now.unused)
        gain_block = np.where(direct >= delta, delta, -1)
        open_steps = np.flatnonzero((gain_block < 0).any(axis=0))
        if len(open_steps):
            # The rest: nothing without a path; delta when one path can carry it; else solve.
            block = residual.block(_Flows(now.unused[:, open_steps], now.spare[:, open_steps],
                                          now.flow[:, open_steps]))
            widest = np.zeros((len(extras), len(open_steps)), dtype=np.int64)
            widest[is_producer] = block.to_sink_p[index[is_producer]]
            widest[~is_producer] = block.from_source_c[index[~is_producer]]
            want = delta[:, open_steps]
            part = gain_block[:, open_steps]
            part = np.where(part >= 0, part, np.where(widest == 0, 0,
                                                       np.where(widest >= want, want, -1)))
            for j in np.flatnonzero((part < 0).any(axis=0)).tolist():
                for side in (True, False):
                    open_ = np.flatnonzero((part[:, j] < 0) & (is_producer == side))
                    if len(open_):
                        part[open_, j] = _exact(problem, block, j, producer=side,
                                                sites=index[open_], delta=want[open_, j])
            gain_block[:, open_steps] = part
        gain_wh[:, steps] = gain_block
    report(1.0)
    return np.asarray((gain_wh @ problem.weights) / 1000.0, dtype=np.float64)


@dataclass(frozen=True)
class _Block:
    """The residual network of some steps (rows: sites or arcs; columns: steps), with the
    widest paths: the largest amount one path can still carry from a site to the sink, or from
    the source to a site (0: no path at all)."""

    unused: IntArray  # producers: supply left
    spare: IntArray  # consumers: demand left
    flow: IntArray  # arcs
    to_sink_p: IntArray  # producers: widest path to the sink
    to_sink_c: IntArray  # consumers: widest path to the sink
    from_source_p: IntArray  # producers: widest path from the source
    from_source_c: IntArray  # consumers: widest path from the source


@dataclass(frozen=True)
class _Flows:
    """A maximal flow of some steps, and what it leaves."""

    unused: IntArray  # producers x steps: supply left
    spare: IntArray  # consumers x steps: demand left
    flow: IntArray  # arcs x steps


class _Residual:
    """The residual network of a maximal flow, step block by step block."""

    def __init__(self, problem: MatchProblem, flows: StepFlows) -> None:
        self.problem = problem
        n_p, n_c, n_a = problem.n_producers, problem.n_consumers, problem.n_arcs
        ones = np.ones(n_a, dtype=np.float64)
        arcs = np.arange(n_a)
        self.pairs = sparse.csr_matrix((ones, (problem.arc_producer, problem.arc_consumer)),
                                       shape=(n_p, n_c))
        self.pairs_by_consumer = self.pairs.T.tocsr()
        self.by_producer = sparse.csr_matrix((ones, (problem.arc_producer, arcs)),
                                             shape=(n_p, n_a))
        self.by_consumer = sparse.csr_matrix((ones, (problem.arc_consumer, arcs)),
                                             shape=(n_c, n_a))
        # Arcs are sorted by producer; for the consumers' side, an order by consumer.
        self.p_first = _firsts(problem.arc_producer)
        self.c_order = np.argsort(problem.arc_consumer, kind="stable")
        self.c_first = _firsts(problem.arc_consumer[self.c_order])
        order = np.argsort(flows.step, kind="stable")
        self.step, self.arc, self.wh = flows.step[order], flows.arc[order], flows.wh[order]

    def flows(self, steps: IntArray) -> _Flows:
        p = self.problem
        flow = np.zeros((p.n_arcs, len(steps)), dtype=np.int64)
        column = np.full(p.n_steps, -1, dtype=np.int64)
        column[steps] = np.arange(len(steps))
        lo, hi = np.searchsorted(self.step, [steps.min(), steps.max() + 1])
        at = column[self.step[lo:hi]]
        keep = at >= 0
        np.add.at(flow, (self.arc[lo:hi][keep], at[keep]), self.wh[lo:hi][keep])
        unused = p.supply_wh[:, steps] - _int(self.by_producer @ flow)
        spare = p.demand_wh[:, steps] - _int(self.by_consumer @ flow)
        return _Flows(unused, spare, flow)

    def block(self, flows: _Flows) -> _Block:
        """The widest paths of these steps (max-min fixpoints over the arcs)."""
        ap, ac = self.problem.arc_producer, self.problem.arc_consumer
        unused, spare, flow = flows.unused, flows.spare, flows.flow
        # To the sink: a consumer passes on its demand left, or what one of its suppliers can
        # send elsewhere instead (backwards over the pair, at most its flow); a producer what
        # its best consumer passes on (forwards a pair carries anything).
        def to_sink(cols: IntArray, c: IntArray) -> tuple[IntArray, IntArray]:
            new_p = self._by_producer(c[ac])
            return new_p, np.maximum(spare[:, cols], self._by_consumer(
                np.minimum(flow[:, cols], new_p[ap])))

        # From the source: a producer passes on its supply left, or what a consumer it supplies
        # gets from elsewhere instead (backwards, at most the flow); a consumer what its best
        # producer passes on.
        def from_source(cols: IntArray, p_: IntArray) -> tuple[IntArray, IntArray]:
            new_c = self._by_consumer(p_[ap])
            return new_c, np.maximum(unused[:, cols], self._by_producer(
                np.minimum(flow[:, cols], new_c[ac])))

        sink_p, sink_c = _fixpoint(to_sink, np.zeros_like(unused), spare.copy())
        source_c, source_p = _fixpoint(from_source, np.zeros_like(spare), unused.copy())
        return _Block(unused=unused, spare=spare, flow=flow, to_sink_p=sink_p, to_sink_c=sink_c,
                      from_source_p=source_p, from_source_c=source_c)

    def _by_producer(self, values: IntArray) -> IntArray:
        """The largest of ``values`` (arcs x steps) per producer; 0 without arcs."""
        out = np.zeros((self.problem.n_producers, values.shape[1]), dtype=np.int64)
        if len(values):
            out[self.problem.arc_producer[self.p_first]] = np.maximum.reduceat(
                values, self.p_first, axis=0)
        return out

    def _by_consumer(self, values: IntArray) -> IntArray:
        out = np.zeros((self.problem.n_consumers, values.shape[1]), dtype=np.int64)
        if len(values):
            firsts = self.c_order[self.c_first]
            out[self.problem.arc_consumer[firsts]] = np.maximum.reduceat(
                values[self.c_order], self.c_first, axis=0)
        return out


def _fixpoint(grow: Callable[[IntArray, IntArray], tuple[IntArray, IntArray]],
              first: IntArray, second: IntArray) -> tuple[IntArray, IntArray]:
    """Apply ``grow(columns, second) -> (first, second)`` until nothing changes, column by
    column: most steps settle at once, a few need a path of several hops."""
    cols = np.arange(second.shape[1])
    while len(cols):
        new_first, new_second = grow(cols, second[:, cols])
        changed = ((new_first != first[:, cols]).any(axis=0)
                   | (new_second != second[:, cols]).any(axis=0))
        first[:, cols], second[:, cols] = new_first, new_second
        cols = cols[changed]
    return first, second


def _firsts(sorted_keys: IntArray) -> IntArray:
    """Positions where a new key starts in a sorted array."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def _int(product: object) -> IntArray:
    """A sparse product of whole numbers (exact in float64 below 2**53 Wh) back to integers."""
    out: IntArray = np.rint(np.asarray(product)).astype(np.int64)
    return out


def _exact(problem: MatchProblem, block: _Block, k: int, *, producer: bool, sites: IntArray,
           delta: IntArray) -> IntArray:
    """``min(delta, R)`` for questions the bounds left open, by max flows (OR-Tools) in the
    residual network of step ``k`` of the block, one per question.

    Only the part of the network that can matter is built: for producers, the nodes that can
    still reach the sink (from anywhere else nothing arrives); for consumers, the nodes the
    source can still reach. That part is small exactly when the bounds could not decide (the
    consumers around are nearly full), and the flow is at most ``delta``.
    """
    from ortools.graph.python import max_flow

    p = problem
    n_p = p.n_producers
    source, sink = n_p + p.n_consumers, n_p + p.n_consumers + 1
    keep_p = (block.to_sink_p if producer else block.from_source_p)[:, k] > 0
    keep_c = (block.to_sink_c if producer else block.from_source_c)[:, k] > 0
    flow = block.flow[:, k]
    pairs = np.flatnonzero(keep_p[p.arc_producer] & keep_c[p.arc_consumer])
    back = pairs[flow[pairs] > 0]
    solver = max_flow.SimpleMaxFlow()

    def add(tails: IntArray, heads: IntArray, capacity: IntArray) -> IntArray:
        return np.asarray(solver.add_arcs_with_capacity(
            np.asarray(tails, dtype=np.int32), np.asarray(heads, dtype=np.int32),
            np.asarray(capacity, dtype=np.int64)), dtype=np.int64)

    # Forwards a pair carries anything (more than the question can add), backwards its flow.
    big = int(delta.sum()) + 1
    add(p.arc_producer[pairs], n_p + p.arc_consumer[pairs], np.full(len(pairs), big))
    add(n_p + p.arc_consumer[back], p.arc_producer[back], flow[back])
    if producer:
        cons = np.flatnonzero(keep_c & (block.spare[:, k] > 0))
        add(n_p + cons, np.full(len(cons), sink), block.spare[cons, k])
        ends = add(np.full(len(sites), source), sites, np.zeros(len(sites), dtype=np.int64))
    else:
        prods = np.flatnonzero(keep_p & (block.unused[:, k] > 0))
        add(np.full(len(prods), source), prods, block.unused[prods, k])
        ends = add(n_p + sites, np.full(len(sites), sink), np.zeros(len(sites), dtype=np.int64))
    out = np.zeros(len(sites), dtype=np.int64)
    for i in range(len(sites)):
        solver.set_arc_capacity(int(ends[i]), int(delta[i]))
        if solver.solve(source, sink) != solver.OPTIMAL:
            raise RuntimeError("OR-Tools max flow failed")  # pragma: no cover
        out[i] = solver.optimal_flow()
        solver.set_arc_capacity(int(ends[i]), 0)
    return out


__all__ = ["Extra", "matched_gains", "transfer_flows"]
