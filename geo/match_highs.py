"""The HiGHS cross-check: the same integer instance solved again as linear programs.

:func:`cross_check` solves the same integer instance with HiGHS (``scipy.optimize.linprog``) as
a two-stage LP: first the maximal matched energy F, then the minimal cost subject to matched
energy >= F. One LP with a lexicographic weight would need a weight larger than the cost of any
augmenting path (up to the largest distance times the number of sites), which makes objective
values around 1e19 and leaves HiGHS's tolerances larger than the cost differences we compare,
so two stages it is. The constraint matrix of a transportation problem is totally unimodular,
so with integer data F is an integer and both stages have integral optima equal to the network
solver's. This is an optional second opinion; the proof of optimality is the exact duality
certificate (:mod:`geo.certificate`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from geo.errors import N_
from geo.match_problem import IntArray, MatchProblem, Progress, StepFlows, ignore, packs

#: The cross-check packs components into LPs of up to this many arcs.
LP_BATCH_ARCS = 2_000
#: Steps the cross-check solves again in profile modes (a random sample of the active steps).
CERTIFY_SAMPLE_STEPS = 24


@dataclass(frozen=True)
class CrossCheck:
    """The result of solving sampled steps again with HiGHS and comparing.

    ``matched_wh``/``cost`` are the solution's objectives summed over the checked steps (one
    occurrence each; cost in Wh x dm), ``reference_*`` HiGHS's, from its solution rounded to
    whole Wh (integral by total unimodularity) and costed exactly. The costs are integers, so
    the tolerance is below one unit: any difference is a wrong answer. ``seed`` drew the steps
    (a new one for every run unless given), so that runs check different steps.
    """

    solver: str
    steps: tuple[int, ...]
    steps_total: int
    seed: int | None
    matched_wh: int
    reference_matched_wh: int
    cost: int
    reference_cost: int
    feasible: bool
    ok: bool
    seconds: float
    problems: tuple[str, ...] = ()

    def scope(self) -> tuple[str, dict[str, int | None]]:
        """What was checked, as a message id and its parameters (callers translate)."""
        if self.steps_total <= 1:
            return N_("the whole instance"), {}
        if len(self.steps) == self.steps_total:
            return N_("all %(n)s active steps"), {"n": self.steps_total}
        return N_("%(n)s of %(total)s active steps (seed %(seed)s)"), {
            "n": len(self.steps), "total": self.steps_total, "seed": self.seed}

    def summary(self) -> str:
        """One line for people (in English, for logs and records)."""
        msgid, params = self.scope()
        verdict = "agrees" if self.ok else "DISAGREES"
        return (
            f"HiGHS cross-check {verdict}: {self.solver} on {msgid % params}; matched "
            f"{self.matched_wh:,} vs {self.reference_matched_wh:,} Wh, energy x distance "
            f"{self.cost:,} vs {self.reference_cost:,} Wh x dm ({self.seconds:.1f} s)"
        )


def reference_solve(
    problem: MatchProblem, step: int, *, arcs: IntArray | None = None, method: str = "highs-ds",
    per_component: bool = True, progress: Progress | None = None,
) -> tuple[int, int]:
    """HiGHS's (matched Wh, cost in Wh x dm) for one step: a two-stage LP per component.

    Stage 1 maximises the matched energy F. Stage 2 minimises the cost with F kept: the sites
    on the smaller side get slack variables for what they leave unmatched (their rows become
    equalities) and one row bounds the total slack by (their total - F). That is the same as
    "matched >= F", but its one dense row covers the slacks, not every arc; a dense row over
    all arcs makes the simplex ten times slower. Components are independent and HiGHS solves
    many small LPs much faster than one large one (dual simplex: an interior point method
    fills in on dense bipartite components). ``arcs`` limits the instance to those arcs;
    ``per_component=False`` solves it as one LP (a benchmark peer). ``progress`` is told the
    share of the LPs solved.
    """
    supply = problem.supply_wh[:, step]
    demand = problem.demand_wh[:, step]
    sel = np.arange(problem.n_arcs) if arcs is None else np.asarray(arcs, dtype=np.int64)
    sel = sel[(supply[problem.arc_producer[sel]] > 0) & (demand[problem.arc_consumer[sel]] > 0)]
    if len(sel) == 0:
        return 0, 0
    comp = problem.arc_component[sel]
    order = np.argsort(comp, kind="stable")
    sel, comp = sel[order], comp[order]
    runs = packs(comp, LP_BATCH_ARCS) if per_component else [(0, len(sel))]
    matched = 0
    cost = 0
    for done, (a, b) in enumerate(runs):
        if progress is not None:
            progress(done / len(runs))
        f, c = _two_stage_lp(
            problem.arc_producer[sel[a:b]], problem.arc_consumer[sel[a:b]],
            problem.arc_cost[sel[a:b]], supply, demand, method=method,
        )
        matched += f
        cost += c
    return matched, cost


def _two_stage_lp(
    ap: IntArray, ac: IntArray, arc_cost: IntArray, supply: IntArray, demand: IntArray, *,
    method: str,
) -> tuple[int, int]:
    from scipy.optimize import linprog

    n = len(ap)
    prods, pl = np.unique(ap, return_inverse=True)
    cons, cl = np.unique(ac, return_inverse=True)
    cols = np.arange(n)
    a_p = sparse.csr_matrix((np.ones(n), (pl, cols)), shape=(len(prods), n))
    a_c = sparse.csr_matrix((np.ones(n), (cl, cols)), shape=(len(cons), n))
    b_p = supply[prods].astype(float)
    b_c = demand[cons].astype(float)
    # Explicit arc bounds min(supply, demand) are implied by the rows but halve HiGHS's time.
    upper = np.minimum(b_p[pl], b_c[cl])
    first = linprog(-np.ones(n), A_ub=sparse.vstack([a_p, a_c]).tocsr(),
                    b_ub=np.concatenate([b_p, b_c]), bounds=np.column_stack([np.zeros(n), upper]),
                    method=method)
    if first.status != 0:  # pragma: no cover
        raise RuntimeError(f"HiGHS could not solve the max-flow LP: {first.message}")
    # Integral by total unimodularity, so rounding F removes solver noise, not flow.
    f_max = float(np.round(-first.fun))
    if len(prods) <= len(cons):
        a_s, b_s, a_o, b_o = a_p, b_p, a_c, b_c
    else:
        a_s, b_s, a_o, b_o = a_c, b_c, a_p, b_p
    k = a_s.shape[0]
    a_eq = sparse.hstack([a_s, sparse.identity(k, format="csr")]).tocsr()
    a_ub = sparse.vstack([
        sparse.hstack([a_o, sparse.csr_matrix((a_o.shape[0], k))]),
        sparse.hstack([sparse.csr_matrix((1, n)), sparse.csr_matrix(np.ones((1, k)))]),
    ]).tocsr()
    second = linprog(
        np.concatenate([arc_cost.astype(float), np.zeros(k)]), A_ub=a_ub,
        b_ub=np.concatenate([b_o, [b_s.sum() - f_max]]), A_eq=a_eq, b_eq=b_s,
        bounds=np.column_stack([np.zeros(n + k), np.concatenate([upper, b_s])]), method=method,
    )
    if second.status != 0:  # pragma: no cover
        raise RuntimeError(f"HiGHS could not solve the min-cost LP: {second.message}")
    # A vertex of a totally unimodular system with integer data is integral: rounding removes
    # solver noise, and the rounded flow is then costed exactly.
    x = np.rint(second.x[:n]).astype(np.int64)
    return int(x.sum()), int(sum(int(v) for v in x.astype(object) * arc_cost.astype(object)))


def cross_check(
    problem: MatchProblem,
    solution: StepFlows,
    *,
    steps: npt.ArrayLike | None = None,
    sample: int = CERTIFY_SAMPLE_STEPS,
    seed: int | None = None,
    progress: Progress | None = None,
) -> CrossCheck:
    """Solve ``steps`` (or ``sample`` active steps drawn with ``seed``; all of them when there
    are no more) again with HiGHS and compare with ``solution`` exactly.

    Without ``seed`` a new one is drawn (and recorded), so that every run checks other steps.
    The solution must be feasible (non-negative, only candidate arcs, nobody over a limit).
    ``progress`` is told the share of the checking done.
    """
    import scipy

    started = time.perf_counter()
    active = problem.active_steps()
    used_seed = secrets.randbits(32) if seed is None else int(seed)
    if steps is not None:
        chosen = np.unique(np.asarray(steps, dtype=np.int64))
    elif len(active) <= sample:
        chosen = active
    else:
        rng = np.random.default_rng(used_seed)
        chosen = np.sort(rng.choice(active, size=sample, replace=False))
    problems: list[str] = []
    # Feasibility over the whole solution, not only the checked steps.
    if np.any(solution.wh < 0):
        problems.append("negative flow")
    if len(solution.arc) and (solution.arc.min() < 0 or solution.arc.max() >= problem.n_arcs):
        problems.append("flow on an arc that is not a candidate pair")
    else:
        key_p = solution.step * problem.n_producers + problem.arc_producer[solution.arc]
        key_c = solution.step * problem.n_consumers + problem.arc_consumer[solution.arc]
        out_p, at_p = _sums(key_p, solution.wh)
        in_c, at_c = _sums(key_c, solution.wh)
        over_p = out_p > problem.supply_wh[at_p % problem.n_producers, at_p // problem.n_producers]
        over_c = in_c > problem.demand_wh[at_c % problem.n_consumers, at_c // problem.n_consumers]
        if over_p.any():
            problems.append(f"{int(over_p.sum())} producer-step(s) deliver more than their limit")
        if over_c.any():
            problems.append(f"{int(over_c.sum())} consumer-step(s) receive more than their demand")
    feasible = not problems
    ours_f = ours_c = ref_f = ref_c = 0
    report = progress or ignore
    for i, step in enumerate(chosen):
        flow = solution.dense(int(step), problem.n_arcs)
        f, c = int(flow.sum()), int(sum(int(v) for v in flow.astype(object)
                                         * problem.arc_cost.astype(object)))
        rf, rc = reference_solve(problem, int(step), progress=_shifted(report, i, len(chosen)))
        ours_f += f
        ours_c += c
        ref_f += rf
        ref_c += rc
        if f != rf:
            problems.append(f"step {int(step)}: matched {f} Wh, HiGHS {rf} Wh")
        elif c != rc:
            problems.append(f"step {int(step)}: energy x distance {c}, HiGHS {rc} (Wh x dm)")
    return CrossCheck(
        solver=f"HiGHS (scipy {scipy.__version__} linprog, two-stage LP)",
        steps=tuple(int(s) for s in chosen), steps_total=len(active),
        seed=None if steps is not None or len(chosen) == len(active) else used_seed,
        matched_wh=ours_f, reference_matched_wh=ref_f, cost=ours_c, reference_cost=ref_c,
        feasible=feasible, ok=not problems, seconds=time.perf_counter() - started,
        problems=tuple(problems),
    )


def _shifted(report: Progress, done: int, total: int) -> Progress:
    """``report`` told the share of the whole when item ``done`` of ``total`` is ``share`` done."""
    return lambda share: report((done + share) / total)


def _sums(keys: IntArray, values: IntArray) -> tuple[IntArray, IntArray]:
    uniq, inverse = np.unique(keys, return_inverse=True)
    return np.bincount(inverse, values, minlength=len(uniq)).astype(np.int64), uniq


__all__ = ["CERTIFY_SAMPLE_STEPS", "CrossCheck", "cross_check", "reference_solve"]
