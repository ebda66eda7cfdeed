"""Small statistics for reports: latency percentiles, confidence intervals, paired comparisons."""

from __future__ import annotations

import math
import random
import statistics


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def latency_summary(seconds: list[float]) -> dict[str, float | int | None]:
    if not seconds:
        return {"n": 0, "mean": None, "stdev": None, "p50": None, "p90": None, "p95": None, "p99": None}
    s = sorted(seconds)
    return {
        "n": len(s), "mean": statistics.fmean(s), "stdev": statistics.stdev(s) if len(s) > 1 else 0.0,
        "p50": percentile(s, 50), "p90": percentile(s, 90), "p95": percentile(s, 95), "p99": percentile(s, 99),
    }


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of an accuracy; behaves at 0% and 100% where the normal interval does not."""
    if n <= 0:
        raise ValueError("wilson_interval needs n > 0")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_bootstrap_diff(a_correct: list[bool], b_correct: list[bool], n_resamples: int = 1000,
                          seed: int = 0, alpha: float = 0.05) -> dict[str, float]:
    """Accuracy of A minus B on the same items, with a bootstrap CI and a two-sided p-value."""
    if len(a_correct) != len(b_correct) or not a_correct:
        raise ValueError("paired comparison needs two equally long, non-empty lists")
    diffs = [int(a) - int(b) for a, b in zip(a_correct, b_correct)]
    n = len(diffs)
    observed = sum(diffs) / n
    rng = random.Random(seed)
    samples = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_resamples))
    lo = percentile(samples, 100 * alpha / 2)
    hi = percentile(samples, 100 * (1 - alpha / 2))
    # Share of resamples on the other side of zero, doubled: how often the sign could flip.
    if observed >= 0:
        p = 2 * sum(1 for s in samples if s <= 0) / n_resamples
    else:
        p = 2 * sum(1 for s in samples if s >= 0) / n_resamples
    return {"diff": observed, "ci_low": lo, "ci_high": hi, "p_value": min(1.0, p)}
