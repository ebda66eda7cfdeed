"""Latency percentiles and summaries against hand-computed values.

(The interval helpers this file also tested, measure.stats.wilson_interval / bootstrap_ci /
paired_bootstrap_diff, were unused duplicates of the verdict's statistics and are gone; the same
behaviours are checked on xcost_tui.stats.bootstrap in tests/verdict/test_verdict_stats.py.)"""

from __future__ import annotations

import statistics

import pytest

from xcost_tui.measure.stats import latency_summary, percentile


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
