"""The exact optimality certificate of an energy matching, and its independent checker.

A matching is proven optimal step by step with linear-programming duality, checked in integer
arithmetic. The checker trusts nothing of the solver: it takes the instance (the sites'
coordinates and ids, the maximum distance, the limits per step in whole Wh) and the claimed
flows, cut and potentials, and rebuilds the candidate pairs itself, so that a fault in building
the problem is caught as well as a fault in solving it.

The network of a step
    A source feeds every producer (capacity: its supply in the step, Wh), every candidate pair
    is an arc from its producer to its consumer (no capacity; cost: the distance in whole
    decimetres, ``round(hypot(dx, dy) * 10)``, half to even), and every consumer feeds a sink
    (capacity: its demand). A candidate pair is a producer and a consumer at most the maximum
    distance apart (``hypot(dx, dy) <= max_distance_m``), not the same site (the same id) unless
    pairing a site with itself was asked for. Only producers and consumers with at least one
    candidate pair are nodes; the others can carry no flow. Each connected component of the
    pairs has its own source and sink (components share nothing).

What is checked, per step
    1. The flows are feasible: positive whole Wh on candidate pairs only, each pair once, no
       producer delivers more than its supply and no consumer receives more than its demand.
    2. The matched energy F is maximal: the cut (a set of nodes on the source side) has no
       pair arc leaving it (an arc without capacity would make the cut infinite) and its
       capacity, the supply of the producers outside plus the demand of the consumers inside,
       equals F. Every flow is at most every cut, so no flow is larger than F.
    3. The cost is minimal at F: with the node potentials ``pi`` (the source's is 0; the sink's
       of each component is derived below), the reduced cost ``c + pi(tail) - pi(head)`` of
       every arc with free capacity is >= 0 and of every arc with flow is <= 0 (complementary
       slackness). A pair arc never fills, so its reduced cost is >= 0, and 0 where it carries
       flow. The sink potential of a component is the largest potential of its consumers that
       receive energy (else the smallest of those that could take more, else 0): if any value
       satisfies the conditions, that one does.
    4. The primal objective (sum of Wh x dm) equals the dual objective
       ``sum_k F_k * pi(sink_k) - sum_p supply_p * max(0, pi_p)
       - sum_c demand_c * max(0, pi(sink_k) - pi_c)``, in exact integers.
    Together: no flow matches more energy, and no flow of the same energy costs less.

The cost is linear in the pairs and sites per step; steps are checked in blocks as 2-D arrays.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

#: Distances become integer costs in decimetres.
COST_UNITS_PER_M = 10
#: Problems named in a verdict (the count is exact; the list is for people).
MAX_PROBLEMS = 10
_LOW = np.iinfo(np.int64).min
_HIGH = np.iinfo(np.int64).max


class CertificateError(RuntimeError):
    """A matching is not proven optimal (a defect in the solver, not bad input)."""

    def __init__(self, message: str, verdict: object = None) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass(frozen=True)
class Instance:
    """What the checker is told about the problem: sites, limits and the distance rule.

    ``producer_xy``/``consumer_xy``: RD New metres (n x 2). ``supply_wh``/``demand_wh``:
    limits per site and step in whole Wh (sites x steps).
    """

    producer_ids: ObjectArray
    consumer_ids: ObjectArray
    producer_xy: FloatArray
    consumer_xy: FloatArray
    supply_wh: IntArray
    demand_wh: IntArray
    max_distance_m: float
    pair_same_id: bool = False

    @property
    def n_steps(self) -> int:
        return int(self.supply_wh.shape[1])


@dataclass(frozen=True)
class StepProofs:
    """The solver's claim for a block of steps.

    ``steps`` (B,): the steps. Flows, sparse: ``flow_row[k]`` indexes ``steps``, and
    ``flow_wh[k]`` Wh go from producer ``flow_producer[k]`` to consumer ``flow_consumer[k]``
    (positions in the instance). The cut: ``producer_source_side``/``consumer_source_side``
    (B x n, bool). The potentials: ``producer_potential``/``consumer_potential`` (B x n, int).
    """

    steps: IntArray
    flow_row: IntArray
    flow_producer: IntArray
    flow_consumer: IntArray
    flow_wh: IntArray
    producer_source_side: BoolArray
    consumer_source_side: BoolArray
    producer_potential: IntArray
    consumer_potential: IntArray


@dataclass(frozen=True)
class Verdict:
    """What the checker found over the steps it checked (sums over one occurrence of each)."""

    steps_checked: int
    steps_total: int
    matched_wh: int
    cut_wh: int
    cost: int
    dual_cost: int
    problems: int
    examples: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.problems == 0 and self.steps_checked == self.steps_total

    kind: str = field(default="exact duality certificate")

    def summary(self) -> str:
        """One line for people (English, for logs and records)."""
        verdict = "proven optimal" if self.ok else "NOT PROVEN"
        line = (f"{verdict}: exact duality certificate on {self.steps_checked} of "
                f"{self.steps_total} steps; matched {self.matched_wh:,} Wh = cut {self.cut_wh:,} "
                f"Wh; cost {self.cost:,} = dual {self.dual_cost:,} Wh x dm "
                f"({self.seconds:.2f} s)")
        if self.examples:
            line += "; " + "; ".join(self.examples[:3])
        return line


class Checker:
    """Checks step proofs against an :class:`Instance`; build once, then :meth:`check` blocks.

    The candidate pairs and components are rebuilt here from the coordinates.
    """

    def __init__(self, instance: Instance) -> None:
        started = time.perf_counter()
        self.instance = instance
        n_p, n_c = len(instance.producer_ids), len(instance.consumer_ids)
        self.n_p, self.n_c = n_p, n_c
        p, c, d = _pairs(instance)
        self.pair_p, self.pair_c = p, c
        self.pair_key = p * max(n_c, 1) + c  # sorted: pairs come sorted by (p, c)
        self.pair_cost = np.rint(d * COST_UNITS_PER_M).astype(np.int64)
        self.p_in = np.zeros(n_p, dtype=bool)
        self.p_in[p] = True
        self.c_in = np.zeros(n_c, dtype=bool)
        self.c_in[c] = True
        # Pairs grouped by producer (as sorted) and by consumer, for sums along axis 1.
        self.p_starts, self.p_of_run = _runs(p)
        self.by_c = np.argsort(c, kind="stable")
        self.c_starts, self.c_of_run = _runs(c[self.by_c])
        # Components over producers and consumers; the consumers of each, for the sink.
        graph = coo_matrix((np.ones(len(p), dtype=np.int8), (p, n_p + c)),
                           shape=(n_p + n_c, n_p + n_c))
        _, labels = connected_components(graph, directed=False)
        self.c_comp = np.asarray(labels[n_p:], dtype=np.int64)
        cons = np.flatnonzero(self.c_in)
        self.cons_by_comp = cons[np.argsort(self.c_comp[cons], kind="stable")]
        self.comp_starts, self.comp_of_run = _runs(self.c_comp[self.cons_by_comp])
        self.seconds = time.perf_counter() - started
        self.steps_checked = 0
        self.matched = self.cut = self.cost = self.dual = 0
        self.problems = 0
        self.examples: list[str] = []

    # -- the checks ----------------------------------------------------------------------------

    def check(self, proofs: StepProofs) -> int:
        """Check a block of steps; returns the number of problems found in it."""
        started = time.perf_counter()
        inst = self.instance
        steps = np.asarray(proofs.steps, dtype=np.int64)
        b, n_pairs = len(steps), len(self.pair_p)
        found = 0

        def problem(text: str, count: int = 1) -> None:
            nonlocal found
            found += count
            if len(self.examples) < MAX_PROBLEMS:
                self.examples.append(text)

        if len(steps) and (steps.min() < 0 or steps.max() >= inst.n_steps):
            problem("a step outside the instance")
            return self._done(0, found, started)
        supply = inst.supply_wh[:, steps].T  # B x n_p
        demand = inst.demand_wh[:, steps].T  # B x n_c
        for name, array, n in (
            ("producer_source_side", proofs.producer_source_side, self.n_p),
            ("consumer_source_side", proofs.consumer_source_side, self.n_c),
            ("producer_potential", proofs.producer_potential, self.n_p),
            ("consumer_potential", proofs.consumer_potential, self.n_c),
        ):
            if np.shape(array) != (b, n):
                problem(f"{name} has shape {np.shape(array)}, not {(b, n)}")
                return self._done(0, found, started)

        # 1. Feasibility.
        row, fp, fc, wh = (np.asarray(a, dtype=np.int64) for a in (
            proofs.flow_row, proofs.flow_producer, proofs.flow_consumer, proofs.flow_wh))
        if (np.any(row < 0) or np.any(row >= b) or np.any(fp < 0) or np.any(fp >= self.n_p)
                or np.any(fc < 0) or np.any(fc >= self.n_c)):
            problem("a flow names a step or site that does not exist")
            return self._done(0, found, started)
        if np.any(wh < 0):
            problem(f"{int((wh < 0).sum())} negative flow(s)", int((wh < 0).sum()))
        key = fp * max(self.n_c, 1) + fc
        at = np.searchsorted(self.pair_key, key)
        at_ok = at < n_pairs
        known = np.zeros(len(key), dtype=bool)
        known[at_ok] = self.pair_key[at[at_ok]] == key[at_ok]
        if not known.all():
            first = int(np.flatnonzero(~known)[0])
            problem(f"step {int(steps[row[first]])}: flow from producer "
                    f"{inst.producer_ids[fp[first]]} to consumer {inst.consumer_ids[fc[first]]}, "
                    "not a candidate pair", int((~known).sum()))
        row, at, wh = row[known], at[known], wh[known]
        cell = row * n_pairs + at
        if len(np.unique(cell)) != len(cell):
            problem("a pair has more than one flow in a step")
        flow = np.zeros((b, n_pairs), dtype=np.int64)
        np.add.at(flow, (row, at), wh)
        out_p = np.zeros((b, self.n_p), dtype=np.int64)
        in_c = np.zeros((b, self.n_c), dtype=np.int64)
        if n_pairs:
            out_p[:, self.p_of_run] = np.add.reduceat(flow, self.p_starts, axis=1)
            in_c[:, self.c_of_run] = np.add.reduceat(flow[:, self.by_c], self.c_starts, axis=1)
        self._count(out_p > supply, steps, "producer(s) deliver more than their supply", problem)
        self._count(in_c > demand, steps, "consumer(s) receive more than their demand", problem)
        matched = flow.sum(axis=1)

        # 2. The cut: no pair arc leaves it, and its capacity is the matched energy.
        side_p = np.asarray(proofs.producer_source_side, dtype=bool) & self.p_in
        side_c = np.asarray(proofs.consumer_source_side, dtype=bool) & self.c_in
        leaving = side_p[:, self.pair_p] & ~side_c[:, self.pair_c]
        self._count(leaving, steps, "pair arc(s) leave the cut (infinite capacity)", problem)
        cut = (np.where(self.p_in & ~side_p, supply, 0).sum(axis=1)
               + np.where(side_c, demand, 0).sum(axis=1))
        for k in np.flatnonzero(cut != matched)[:MAX_PROBLEMS]:
            problem(f"step {int(steps[k])}: matched {int(matched[k])} Wh but the cut holds "
                    f"{int(cut[k])} Wh")

        # 3. Complementary slackness of the potentials.
        pi_p = np.where(self.p_in, np.asarray(proofs.producer_potential, dtype=np.int64), 0)
        pi_c = np.where(self.c_in, np.asarray(proofs.consumer_potential, dtype=np.int64), 0)
        limit = _bound(self.pair_cost, pi_p, pi_c)
        if limit:
            problem(limit)
            return self._done(matched, found, started)
        reduced = self.pair_cost + pi_p[:, self.pair_p] - pi_c[:, self.pair_c]
        self._count(reduced < 0, steps, "pair arc(s) with a negative reduced cost", problem)
        self._count((flow > 0) & (reduced != 0), steps,
                    "pair arc(s) carry energy at a positive reduced cost", problem)
        self._count(self.p_in & (out_p < supply) & (pi_p > 0), steps,
                    "producer(s) with supply left at a positive potential", problem)
        self._count(self.p_in & (out_p > 0) & (pi_p < 0), steps,
                    "producer(s) deliver at a negative potential", problem)
        sink = self._sink_potentials(pi_c, in_c, demand)
        sink_c = sink[:, self.c_comp]
        self._count(self.c_in & (in_c > 0) & (pi_c > sink_c), steps,
                    "consumer(s) receive above the sink potential", problem)
        self._count(self.c_in & (in_c < demand) & (pi_c < sink_c), steps,
                    "consumer(s) with demand left below the sink potential", problem)

        # 4. Primal and dual objectives, exactly.
        primal = _exact_rowsums(flow, self.pair_cost[None, :])
        comp_flow = np.zeros_like(sink)
        if len(self.cons_by_comp):
            comp_flow[:, self.comp_of_run] = np.add.reduceat(
                in_c[:, self.cons_by_comp], self.comp_starts, axis=1)
        dual = [
            a - s - d for a, s, d in zip(
                _exact_rowsums(comp_flow, sink),
                _exact_rowsums(np.where(self.p_in, supply, 0), np.maximum(pi_p, 0)),
                _exact_rowsums(np.where(self.c_in, demand, 0), np.maximum(sink_c - pi_c, 0)),
                strict=True)
        ]
        for k in range(b):
            if primal[k] != dual[k]:
                problem(f"step {int(steps[k])}: cost {primal[k]} but the dual objective is "
                        f"{dual[k]}")
        self.cost += sum(primal)
        self.dual += sum(dual)
        self.cut += int(cut.sum())
        return self._done(matched, found, started)

    def _sink_potentials(self, pi_c: IntArray, in_c: IntArray, demand: IntArray) -> IntArray:
        """Per step and component: the largest potential of a consumer that receives energy,
        else the smallest of one that could take more, else 0."""
        n_comp = int(self.c_comp.max(initial=-1)) + 1
        b = pi_c.shape[0]
        sink = np.zeros((b, n_comp), dtype=np.int64)
        if not len(self.cons_by_comp):
            return sink
        order = self.cons_by_comp
        low = np.where(in_c > 0, pi_c, _LOW)[:, order]
        high = np.where(in_c < demand, pi_c, _HIGH)[:, order]
        lower = np.maximum.reduceat(low, self.comp_starts, axis=1)
        upper = np.minimum.reduceat(high, self.comp_starts, axis=1)
        sink[:, self.comp_of_run] = np.where(lower != _LOW, lower,
                                             np.where(upper != _HIGH, upper, 0))
        return sink

    def _count(self, bad: BoolArray, steps: IntArray, what: str, problem: object) -> None:
        n = int(bad.sum())
        if n:
            k = int(np.flatnonzero(bad.any(axis=1))[0])
            problem(f"step {int(steps[k])}: {n} {what}", n)  # type: ignore[operator]

    def _done(self, matched: IntArray | int, found: int, started: float) -> int:
        self.steps_checked += 0 if isinstance(matched, int) else len(matched)
        self.matched += int(np.sum(matched))
        self.problems += found
        self.seconds += time.perf_counter() - started
        return found

    def verdict(self) -> Verdict:
        """The result over everything checked so far."""
        return Verdict(
            steps_checked=self.steps_checked, steps_total=self.instance.n_steps,
            matched_wh=self.matched, cut_wh=self.cut, cost=self.cost, dual_cost=self.dual,
            problems=self.problems, examples=tuple(self.examples), seconds=self.seconds,
        )


def _pairs(instance: Instance) -> tuple[IntArray, IntArray, FloatArray]:
    """Every producer/consumer pair within the maximum distance, sorted by (producer, consumer).

    A k-d tree query with a hair of slack finds them, then the exact rule
    ``hypot(dx, dy) <= max_distance_m`` decides (the tree's own distances are not used).
    """
    pxy = np.asarray(instance.producer_xy, dtype=float).reshape(-1, 2)
    cxy = np.asarray(instance.consumer_xy, dtype=float).reshape(-1, 2)
    limit = float(instance.max_distance_m)
    if not (math.isfinite(limit) and limit > 0) or not len(pxy) or not len(cxy):
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy(), np.zeros(0)
    found = cKDTree(pxy).sparse_distance_matrix(
        cKDTree(cxy), limit * (1 + 1e-9) + 1e-9, output_type="coo_matrix").tocsr()
    found.sort_indices()  # rows are producers; sorted columns make pairs sorted by (p, c)
    p = np.repeat(np.arange(len(pxy), dtype=np.int64), np.diff(found.indptr))
    c = found.indices.astype(np.int64)
    d = np.hypot(pxy[p, 0] - cxy[c, 0], pxy[p, 1] - cxy[c, 1])
    keep = d <= limit
    if not instance.pair_same_id:
        keep &= instance.producer_ids[p] != instance.consumer_ids[c]
    return p[keep], c[keep], d[keep]


def _runs(sorted_keys: IntArray) -> tuple[IntArray, IntArray]:
    """Start of each run of equal values in ``sorted_keys``, and the value of each run."""
    if not len(sorted_keys):
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy()
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return starts.astype(np.int64), sorted_keys[starts].astype(np.int64)


def _bound(cost: IntArray, pi_p: IntArray, pi_c: IntArray) -> str:
    """A problem when the reduced costs could overflow 64-bit integers (no real solver's)."""
    big = max(int(np.abs(cost).max(initial=0)), int(np.abs(pi_p).max(initial=0)),
              int(np.abs(pi_c).max(initial=0)))
    return "potentials beyond 2^61" if big >= 2**61 else ""


def _exact_rowsums(a: IntArray, b: IntArray) -> list[int]:
    """Row sums of ``a * b`` as exact integers: in int64 when no sum can overflow, else in
    Python's unbounded integers."""
    a64 = np.asarray(a, dtype=np.int64)
    b64 = np.broadcast_to(np.asarray(b, dtype=np.int64), a64.shape)
    if a64.size == 0:
        return [0] * a64.shape[0]
    bound = int(np.abs(a64).max()) * int(np.abs(b64).max()) * a64.shape[1]
    if bound < 2**62:
        return [int(v) for v in (a64 * b64).sum(axis=1)]
    products = a64.astype(object) * b64.astype(object)
    return [int(sum(row)) for row in products]


def check(instance: Instance, blocks: list[StepProofs]) -> Verdict:
    """Check every block against ``instance`` and return the verdict (a convenience)."""
    checker = Checker(instance)
    for block in blocks:
        checker.check(block)
    return checker.verdict()


__all__ = [
    "COST_UNITS_PER_M", "CertificateError", "Checker", "Instance", "StepProofs", "Verdict",
    "check",
]
