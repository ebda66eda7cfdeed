from __future__ import annotations

import math

import pytest

from xcost_tui.measure.memory import MemoryProbe
from xcost_tui.measure.stats import latency_summary, paired_bootstrap_diff, percentile, wilson_interval
from xcost_tui.measure.timer import PhaseMeter


def test_peak_rss_is_per_phase_and_sees_allocations():
    with MemoryProbe("cpu") as idle:
        pass
    with MemoryProbe("cpu") as busy:
        block = bytearray(200 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
        del block
    assert idle.cost().value > 0 and busy.cost().source in ("procfs", "getrusage")
    assert busy.cost().value >= idle.cost().value + 150 * 2**20


def test_phase_meter_costs():
    with PhaseMeter("cpu") as meter:
        sum(range(200_000))
    costs = meter.costs()
    assert costs["wall_s"].value > 0 and costs["cpu_s"].value > 0
    assert costs["device_hours"].value == pytest.approx(costs["wall_s"].value / 3600)
    assert costs["peak_mem_bytes"].value > 0
    assert costs["energy_j"].value is not None or costs["energy_j"].reason


def test_percentiles_match_hand_values():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(values, 50) == 5.5
    assert percentile(values, 95) == pytest.approx(9.55)
    s = latency_summary([0.3, 0.1, 0.2])
    assert (s["n"], s["p50"], s["mean"]) == (3, 0.2, pytest.approx(0.2))


def test_wilson_interval():
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and 0 < hi < 0.35


def test_paired_bootstrap():
    a = [True] * 80 + [False] * 20
    b = [True] * 50 + [False] * 50
    res = paired_bootstrap_diff(a, b, n_resamples=500)
    assert res["diff"] == pytest.approx(0.3) and res["ci_low"] > 0 and res["p_value"] < 0.01
    same = paired_bootstrap_diff(a, a, n_resamples=200)
    assert same["diff"] == 0 and not math.isnan(same["p_value"])
