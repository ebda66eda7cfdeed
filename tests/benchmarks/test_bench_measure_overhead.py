"""benchmarks/bench_measure_overhead.py (issue 17): measurement on against off through the phase
engine's own phases (a short training phase, an evaluation, a long training phase). A tiny run
prints and writes every ratio; no timing is checked: other work shares the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_measure_overhead as bo  # noqa: E402


def test_ratios_pair_each_repeat_and_use_the_recorded_wall():
    """Measured twice as slow in its phase window in one repeat, equal in two: the median says equal;
    the end-to-end ratio reads the wall around the call, not the phase's."""
    on = [{"examples": 80, "wall_s": w, "end_to_end_s": e} for w, e in [(1.0, 2.0), (2.0, 3.0), (1.0, 2.0)]]
    off = [{"examples": 80, "wall_s": 1.0, "end_to_end_s": 1.0} for _ in range(3)]
    r = bo.ratios(on, off)
    assert r["phase"] == pytest.approx(1.0)
    assert r["phase_per_repeat"] == pytest.approx([1.0, 0.5, 1.0])
    assert r["end_to_end"] == pytest.approx(0.5)


def test_the_quiet_repeats_alone_need_three_of_them():
    row = {"examples": 8, "wall_s": 1.0, "end_to_end_s": 1.0}
    runs = {case: {"on": [row] * 4, "off": [row] * 4} for case in bo.CASES}
    assert bo.quiet_summary(runs, [True, False, True, False]) == {}
    quiet = bo.quiet_summary(runs, [True, True, False, True])
    assert set(quiet) == set(bo.CASES) and len(quiet["eval"]["phase_per_repeat"]) == 3


@pytest.mark.slow
def test_a_tiny_run_measures_each_phase_on_and_off(data_dir, tmp_path):
    out = tmp_path / "overhead.json"
    env = {**os.environ, "XCOST_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_measure_overhead.py")]
        + ["--short-steps", "2", "--eval-items", "6", "--steps", "3", "--repeats", "2"]
        + ["--short-pairs", "3", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for case in bo.CASES:
        assert case in proc.stdout
    assert "the target is the phase's recorded wall_s" in proc.stdout
    assert "(off first)" in proc.stdout and "(on first)" in proc.stdout  # the order alternates
    assert "quiet (" in proc.stdout or "CONTENDED (" in proc.stdout
    doc = json.loads(out.read_text())
    assert set(doc["runs"]) == set(doc["ratios"]) == set(bo.CASES)
    examples = {"train-short": 2 * 8, "eval": 6, "train-long": 3 * 8}
    pairs = {"train-short": 2 * 3, "eval": 2 * 3, "train-long": 2}  # short phases: 3 pairs per repeat
    for case, arms in doc["runs"].items():
        assert len(arms["on"]) == len(arms["off"]) == pairs[case]
        for arm in ("on", "off"):
            for row in arms[arm]:
                # the phase's own record: its examples and a wall inside the call's
                assert row["examples"] == examples[case]
                assert 0 < row["wall_s"] <= row["end_to_end_s"]
        # FLOPs counted only with measurement on (None: off; the record says why)
        assert all(row["flops_measured"] is None for row in arms["off"])
    for case, r in doc["ratios"].items():
        assert r["phase"] > 0 and r["end_to_end"] > 0 and len(r["phase_per_repeat"]) == pairs[case]
    assert doc["target"] == 0.97
    assert "ratios_quiet_repeats" in doc
