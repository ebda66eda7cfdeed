"""What costs compare: a configuration's cost with its spread over runs, the ratio of two costs,
where two total costs cross (break-even) with an interval, and the cost at which a learning curve
reaches an accuracy (numpy for the last only).

Total cost = training cost + queries × cost per query, for one cost measure at a time
(device-hours, FLOPs, joules: ``thresholds.BREAK_EVEN_MEASURES``). The store's ``configurations``,
``comparisons`` and ``break_even`` views write the same rules in SQL (tests check they agree);
docs/statistics.md, "Cost", explains each choice.

- ``cost_estimate``: mean, SD and a t-interval over a configuration's runs (one run: no spread).
- ``ratio_estimate``: A's mean over B's, the interval by the delta method on the log scale with
  Welch–Satterthwaite degrees of freedom; exactly 1 for trainings identical by spec.
- ``break_even_estimate``: N* = ΔC_train / Δc_query with Fieller's interval; "undetermined" when
  the per-query difference's interval contains 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .student_t import t_quantile

ONE_RUN = "1 run"
NO_RUN = "no run"
NEGATIVE = "negative cost"
SAME_TRAINING = "same training (identical by spec)"


@dataclass(frozen=True)
class CostEstimate:
    """One cost of a configuration over its runs: the mean, the sample SD (ddof 1) and a 95%
    t-interval of the mean; sd, low and high are None with ``reason`` when they cannot be told."""

    mean: float | None
    sd: float | None
    low: float | None
    high: float | None
    n: int
    reason: str | None = None

    @property
    def se2(self) -> float | None:
        """The squared standard error of the mean; None without a spread."""
        return None if self.sd is None or self.n < 2 else self.sd * self.sd / self.n


def cost_estimate(values: Sequence[float]) -> CostEstimate:
    """Mean ± t_{n-1} · SD/√n over the runs' values (``configurations``' ``<cost>_sd/_low/_high``)."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        return CostEstimate(None, None, None, None, 0, NO_RUN)
    mean = math.fsum(xs) / n
    if n == 1:
        return CostEstimate(mean, None, None, None, 1, ONE_RUN)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return CostEstimate(mean, sd, mean - half, mean + half, n)


def estimate_from(mean: float | None, sd: float | None, n: int) -> CostEstimate:
    """A CostEstimate from a mean, an SD and a count read from the store (the interval recomputed
    by the rule of ``cost_estimate``)."""
    if mean is None:
        return CostEstimate(None, None, None, None, n, NO_RUN if n == 0 else None)
    if n < 2 or sd is None:
        return CostEstimate(mean, None, None, None, n, ONE_RUN if n == 1 else None)
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return CostEstimate(mean, sd, mean - half, mean + half, n)


def welch_df(terms: Sequence[tuple[float, int]]) -> float | None:
    """Welch–Satterthwaite degrees of freedom of a sum of independent variance terms, each
    (variance, its degrees of freedom); None when the sum is 0 (no spread: the estimate is exact)."""
    total = math.fsum(v for v, _ in terms)
    if total <= 0:
        return None
    return total * total / math.fsum(v * v / df for v, df in terms if v > 0)


@dataclass(frozen=True)
class RatioEstimate:
    """A's mean cost over B's, with its 95% interval (None with ``reason`` when it cannot be told)."""

    ratio: float | None
    low: float | None
    high: float | None
    reason: str | None = None
    same_training: bool = False


def ratio_estimate(a: CostEstimate, b: CostEstimate, *, same_training: bool = False) -> RatioEstimate:
    """mean_A / mean_B of two independent means. The interval: the delta method on the log scale,
    var(log r) ≈ s_A²/(n_A·ā²) + s_B²/(n_B·b̄²), with Welch–Satterthwaite df (rounded down), mapped
    back by exp, so it stays positive and swapping A and B gives the reciprocal interval.
    ``same_training``: the two trainings are identical by spec, one training counted once: 1 exactly.
    A negative cost, or a zero denominator, gives no ratio."""
    if same_training:
        return RatioEstimate(1.0, 1.0, 1.0, SAME_TRAINING, True)
    if a.mean is None or b.mean is None:
        return RatioEstimate(None, None, None, "not measured")
    if a.mean < 0 or b.mean < 0:
        return RatioEstimate(None, None, None, NEGATIVE)
    if b.mean == 0:
        return RatioEstimate(None, None, None, "zero denominator")
    r = a.mean / b.mean
    if a.se2 is None or b.se2 is None:
        return RatioEstimate(r, None, None, ONE_RUN)
    if a.mean == 0:  # an untrained method's zero: exact only when every run had zero
        return RatioEstimate(0.0, 0.0, 0.0) if a.se2 == 0 else RatioEstimate(0.0, None, None, "zero mean")
    va, vb = a.se2 / a.mean**2, b.se2 / b.mean**2
    df = welch_df([(va, a.n - 1), (vb, b.n - 1)])
    if df is None:
        return RatioEstimate(r, r, r)  # no spread on either side (analytic FLOPs): exact
    half = t_quantile(df) * math.sqrt(va + vb)
    return RatioEstimate(r, r * math.exp(-half), r * math.exp(half))


@dataclass(frozen=True)
class BreakEven:
    """Where A's and B's total costs (training + queries × per-query cost) cross."""

    queries: float | None  # N*: the number of queries at which they cost the same; None: never
    cheaper_before: str | None  # "a" or "b": which is cheaper below N* (or always, when queries is None)
    cheaper_after: str | None
    note: str


def same_query_cost(query_a: float, query_b: float, rel_tol: float) -> bool:
    return abs(query_b - query_a) <= rel_tol * max(abs(query_a), abs(query_b))


def break_even(train_a: float, query_a: float, train_b: float, query_b: float, rel_tol: float = 0.0) -> BreakEven:
    """N* = ΔC_train / Δc_query, for one cost measure (device-hours, FLOPs, joules ...); per-query
    costs within ``rel_tol`` of each other count as equal (SAME_QUERY_COST). A negative cost is not
    a cost (ingest refuses it): no crossing and no "always"."""
    if min(train_a, query_a, train_b, query_b) < 0:
        return BreakEven(None, None, None, "a negative cost: not a cost")
    d_train = train_a - train_b
    d_query = query_b - query_a  # what A saves per query
    if d_query == 0 or same_query_cost(query_a, query_b, rel_tol):
        if d_train == 0:
            return BreakEven(None, None, None, "same training and per-query cost")
        cheaper = "b" if d_train > 0 else "a"
        return BreakEven(None, cheaper, cheaper, "same per-query cost: the difference in training cost never pays back")
    n = d_train / d_query
    if n <= 0:
        cheaper = "a" if (d_train <= 0 and d_query >= 0) else "b"
        return BreakEven(
            None, cheaper, cheaper, f"{cheaper.upper()} is cheaper to train and per query: it always costs less"
        )
    before = "b" if d_train > 0 else "a"
    after = "a" if before == "b" else "b"
    return BreakEven(float(n), before, after, f"{after.upper()} costs less in total beyond {n:,.0f} queries")


@dataclass(frozen=True)
class BreakEvenEstimate:
    """N* with its 95% interval and the verdict word of the ``break_even`` view: crosses,
    undetermined, never, always a, always b, same cost, negative cost."""

    queries: float | None
    low: float | None
    high: float | None
    verdict: str
    reason: str | None = None


def _word(be: BreakEven) -> str:
    if be.queries is not None:
        return "crosses"
    if be.note.startswith("a negative"):
        return NEGATIVE
    if be.note.startswith("same training"):
        return "same cost"
    if be.note.startswith("same per-query"):
        return "never"
    return f"always {be.cheaper_before}"


def break_even_estimate(
    train_a: CostEstimate,
    query_a: CostEstimate,
    train_b: CostEstimate,
    query_b: CostEstimate,
    rel_tol: float = 0.0,
    *,
    same_training: bool = False,
) -> BreakEvenEstimate:
    """``break_even`` on the means, with spread. ΔC_train = T_A − T_B and Δc_query = q_B − q_A are
    differences of independent means (their variances add; train and query costs of one
    configuration are treated as independent). "undetermined": Δc_query's 95% Welch t-interval
    contains 0, so which side is cheaper per query is not known. Otherwise N*'s interval is
    Fieller's for the ratio ΔC_train / Δc_query: the θ with (ΔT − θΔq)² ≤ t²(v_T + θ²v_q), t at the
    Welch–Satterthwaite df of v_T + θ̂²v_q; unbounded (Δq not clear of 0 at that t): undetermined too.
    ``same_training``: the trainings are identical by spec, so ΔC_train is 0 by declaration."""
    if same_training:
        train_a = train_b
    parts = (train_a, query_a, train_b, query_b)
    if any(p.mean is None for p in parts):
        return BreakEvenEstimate(None, None, None, "not measured")
    ta, qa, tb, qb = (float(p.mean) for p in parts)  # type: ignore[arg-type]
    be = break_even(ta, qa, tb, qb, rel_tol)
    word = _word(be)
    if word in (NEGATIVE, "never", "same cost"):
        return BreakEvenEstimate(None, None, None, word)
    if any(p.se2 is None for p in parts):
        return BreakEvenEstimate(be.queries, None, None, word, ONE_RUN)
    va, vb = float(query_a.se2), float(query_b.se2)  # type: ignore[arg-type]
    d_query = qb - qa
    df_q = welch_df([(va, query_a.n - 1), (vb, query_b.n - 1)])
    if df_q is not None and abs(d_query) <= t_quantile(df_q) * math.sqrt(va + vb):
        return BreakEvenEstimate(None, None, None, "undetermined", "the per-query difference's interval contains 0")
    if be.queries is None:
        return BreakEvenEstimate(None, None, None, word)
    n_star = be.queries
    d_train = ta - tb
    vta = 0.0 if same_training else float(train_a.se2)  # type: ignore[arg-type]
    vtb = 0.0 if same_training else float(train_b.se2)  # type: ignore[arg-type]
    v_t, v_q = vta + vtb, va + vb
    df = welch_df(
        [(vta, train_a.n - 1), (vtb, train_b.n - 1), (n_star**2 * va, query_a.n - 1), (n_star**2 * vb, query_b.n - 1)]
    )
    if df is None:
        return BreakEvenEstimate(n_star, n_star, n_star, word)
    t2 = t_quantile(df) ** 2
    a2 = d_query * d_query - t2 * v_q
    if a2 <= 0:
        return BreakEvenEstimate(None, None, None, "undetermined", "the per-query difference's interval contains 0")
    disc = t2 * (v_t * a2 + v_q * d_train * d_train)
    lo, hi = sorted(((d_train * d_query - math.sqrt(disc)) / a2, (d_train * d_query + math.sqrt(disc)) / a2))
    return BreakEvenEstimate(n_star, lo, hi, word)


def cost_to_reach(costs: Sequence[float], accuracies: Sequence[float], target: float) -> float | None:
    """The cumulative cost at which an accuracy-vs-cost curve first reaches ``target``
    (linear interpolation between the two evaluation points around the crossing); None when
    it never does. ``costs`` must be non-decreasing."""
    c = np.asarray(costs, dtype=np.float64)
    a = np.asarray(accuracies, dtype=np.float64)
    if len(c) != len(a):
        raise ValueError("cost_to_reach needs one accuracy per cost")
    if len(c) == 0:
        return None
    if np.any(np.diff(c) < 0):
        raise ValueError("costs of a curve must be non-decreasing")
    hit = np.nonzero(a >= target)[0]
    if len(hit) == 0:
        return None
    i = int(hit[0])
    if i == 0:
        return float(c[0])
    c0, c1, a0, a1 = c[i - 1], c[i], a[i - 1], a[i]
    return float(c0 + (target - a0) * (c1 - c0) / (a1 - a0))
