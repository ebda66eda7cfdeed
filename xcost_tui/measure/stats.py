"""Latency statistics of the inference bench and the per-query phases: percentiles and a summary.
Pure Python (no numpy). The verdict's statistics (intervals, paired differences, exact tests)
are ``xcost_tui.stats``."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
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
