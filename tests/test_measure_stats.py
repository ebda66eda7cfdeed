"""Percentiles, intervals and the paired bootstrap against hand-computed values."""

from __future__ import annotations

import math
import statistics

import pytest

from xcost_tui.measure.stats import bootstrap_ci, latency_summary, paired_bootstrap_diff, percentile, wilson_interval


def test_percentiles_match_hand_values():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    # position (n-1)*q/100: p50 -> 4.5 -> 5.5; p90 -> 8.1 -> 9.1; p95 -> 8.55 -> 9.55; p99 -> 8.91 -> 9.91
    assert percentile(values, 50) == 5.5
    assert percentile(values, 90) == pytest.approx(9.1)
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 99) == pytest.approx(9.91)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 10
    assert percentile([7.0], 95) == 7.0
    assert percentile([0.0, 10.0], 25) == 2.5
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_latency_summary():
    s = latency_summary([0.3, 0.1, 0.2, 0.4])  # unsorted input
    assert s["n"] == 4 and s["mean"] == pytest.approx(0.25)
    assert s["p50"] == pytest.approx(0.25) and s["p90"] == pytest.approx(0.37) and s["p95"] == pytest.approx(0.385)
    assert s["p99"] == pytest.approx(0.397)
    assert s["stdev"] == pytest.approx(statistics.stdev([0.1, 0.2, 0.3, 0.4]))
    one = latency_summary([0.5])
    assert one["n"] == 1 and one["p50"] == one["p99"] == 0.5 and one["stdev"] is None
    empty = latency_summary([])
    assert empty["n"] == 0 and all(empty[k] is None for k in ("mean", "stdev", "p50", "p90", "p95", "p99"))


def test_latency_summary_against_a_plain_loop():
    """A second way to the same numbers: sorted list indexing at exact ranks."""
    xs = [0.001 * (i * 37 % 101) for i in range(101)]  # 101 values: ranks are exact at 1% steps
    s = latency_summary(xs)
    ordered = sorted(xs)
    assert s["p50"] == ordered[50] and s["p90"] == ordered[90] and s["p95"] == ordered[95] and s["p99"] == ordered[99]


def test_wilson_interval():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1 and lo == pytest.approx(0.7225, abs=1e-4)
    lo, hi = wilson_interval(55, 100, z=2.576)  # 99%: wider than 95%
    lo95, hi95 = wilson_interval(55, 100)
    assert lo < lo95 and hi > hi95
    with pytest.raises(ValueError):
        wilson_interval(1, 0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_bootstrap_ci():
    values = [float(i % 2) for i in range(200)]  # mean 0.5, se ~0.035
    mean, lo, hi = bootstrap_ci(values, n_resamples=400, seed=1)
    assert mean == 0.5 and 0.40 < lo < 0.5 < hi < 0.60
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0, 3.0)
    assert bootstrap_ci(values, n_resamples=50, seed=7) == bootstrap_ci(values, n_resamples=50, seed=7)


def test_paired_bootstrap_clear_difference():
    a = [True] * 80 + [False] * 20
    b = [True] * 50 + [False] * 50
    res = paired_bootstrap_diff(a, b, n_resamples=500)
    assert res["diff"] == pytest.approx(0.3) and 0.15 < res["ci_low"] < 0.3 < res["ci_high"] < 0.45
    assert res["p_value"] < 0.01 and res["p_value"] > 0  # +1 correction: never exactly 0
    swapped = paired_bootstrap_diff(b, a, n_resamples=500)
    assert swapped["diff"] == pytest.approx(-0.3) and swapped["p_value"] < 0.01


def test_paired_bootstrap_no_difference():
    a = [True] * 80 + [False] * 20
    same = paired_bootstrap_diff(a, a, n_resamples=200)
    assert same["diff"] == 0 and same["ci_low"] == same["ci_high"] == 0 and same["p_value"] == 1.0
    # Disagreeing on items but equally accurate: no evidence either way.
    c = [True, False] * 50
    d = [False, True] * 50
    tie = paired_bootstrap_diff(c, d, n_resamples=300)
    assert tie["diff"] == 0 and tie["ci_low"] < 0 < tie["ci_high"] and tie["p_value"] > 0.5


def test_paired_bootstrap_small_difference_is_not_significant():
    # A wins on 3 items, B on 1, 96 ties: diff 0.02, not significant.
    a = [True] * 3 + [False] + [True] * 96
    b = [False] * 3 + [True] + [True] * 96
    res = paired_bootstrap_diff(a, b, n_resamples=1000, seed=3)
    assert res["diff"] == pytest.approx(0.02) and res["p_value"] > 0.05 and not math.isnan(res["p_value"])


def test_paired_bootstrap_is_deterministic_and_checks_input():
    a, b = [True, False, True, True], [False, False, True, False]
    assert paired_bootstrap_diff(a, b, seed=5) == paired_bootstrap_diff(a, b, seed=5)
    with pytest.raises(ValueError):
        paired_bootstrap_diff([True], [True, False])
    with pytest.raises(ValueError):
        paired_bootstrap_diff([], [])
