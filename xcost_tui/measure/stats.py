"""Small statistics for reports: latency percentiles, confidence intervals, paired comparisons.
Pure Python (no numpy): the supervisor side imports this too."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from typing import cast


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean, stdev (sample; None below 2 values), p50, p90, p95, p99; all None but n when empty."""
    if not seconds:
        return {"n": 0, "mean": None, "stdev": None, "p50": None, "p90": None, "p95": None, "p99": None}
    s = sorted(seconds)
    return {
        "n": len(s),
        "mean": statistics.fmean(s),
        "stdev": statistics.stdev(s) if len(s) > 1 else None,
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "p95": percentile(s, 95),
        "p99": percentile(s, 99),
    }


def present(value: float | int | None) -> float | int:
    """A figure of a summary the caller knows is of a non-empty list (``latency_summary`` of n >= 1
    timed calls, say), so not None: for the type checker only, the value passes through unchecked."""
    return cast("float | int", value)


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of an accuracy; behaves at 0% and 100% where the normal interval does not."""
    if n <= 0:
        raise ValueError("wilson_interval needs n > 0")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be in [0, n], got {correct} of {n}")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_ci(
    values: Sequence[float],
    stat: Callable[[Sequence[float]], float] = statistics.fmean,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(stat(values), low, high): percentile bootstrap interval at level 1 - alpha."""
    if not values:
        raise ValueError("bootstrap of no values")
    rng = random.Random(seed)
    n = len(values)
    samples = sorted(stat([values[rng.randrange(n)] for _ in range(n)]) for _ in range(n_resamples))
    return stat(values), percentile(samples, 100 * alpha / 2), percentile(samples, 100 * (1 - alpha / 2))


def paired_bootstrap_diff(
    a_correct: Sequence[bool], b_correct: Sequence[bool], n_resamples: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict[str, float]:
    """Accuracy of A minus accuracy of B on the same items, resampling items (pairs) together.

    Returns diff, ci_low, ci_high (percentile interval at 1 - alpha) and a two-sided p-value for
    "no difference": the share of resampled differences at least as far from the observed one
    as the observed one is from zero (the bootstrap distribution shifted to the null, as in
    Berg-Kirkpatrick et al. 2012), with the +1 correction so it is never exactly 0."""
    if len(a_correct) != len(b_correct) or not a_correct:
        raise ValueError("paired comparison needs two equally long, non-empty lists")
    diffs = [int(bool(a)) - int(bool(b)) for a, b in zip(a_correct, b_correct)]
    n = len(diffs)
    observed = sum(diffs) / n
    rng = random.Random(seed)
    samples = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_resamples))
    lo = percentile(samples, 100 * alpha / 2)
    hi = percentile(samples, 100 * (1 - alpha / 2))
    eps = 1e-12  # float noise must not turn "equal" into "further"
    extreme = sum(1 for s in samples if abs(s - observed) >= abs(observed) - eps)
    p = (extreme + 1) / (n_resamples + 1)
    return {"diff": observed, "ci_low": lo, "ci_high": hi, "p_value": min(1.0, p)}
