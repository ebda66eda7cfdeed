"""What costs compare: where two total costs cross (break-even), and the cost at which a learning
curve reaches an accuracy (numpy).

Total cost = training cost + queries × cost per query, for one cost measure at a time
(device-hours, FLOPs, joules: ``thresholds.BREAK_EVEN_MEASURES``). The store's ``break_even`` view
writes the same rule in SQL (tests check the two agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


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
    costs within ``rel_tol`` of each other count as equal (SAME_QUERY_COST)."""
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
