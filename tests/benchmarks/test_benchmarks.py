"""Benchmarks say when a figure was measured under contention: every ratio or timing a benchmark
prints goes through benchmarks/_quiet.py's Contention."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from _quiet import QUIET_SHARE_OF_A_CORE, Contention  # noqa: E402

SCRIPTS = sorted(BENCHMARKS.glob("bench_*.py"))


def test_there_are_benchmarks():
    assert {p.name for p in SCRIPTS} >= {"bench_latency.py", "bench_measure_overhead.py", "bench_train_throughput.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_benchmark_prints_through_contention(script):
    """Before, only bench_bootstrap did: the others printed ratios measured on a busy machine as results."""
    src = script.read_text()
    assert "from _quiet import Contention" in src, f"{script.name} does not measure contention"
    assert "Contention()" in src and ".label(" in src and ".verdict()" in src, (
        f"{script.name} must print its figures with Contention.label and say the verdict"
    )


def test_a_contended_figure_says_so_beside_it():
    c = Contention()
    c.other_cores = QUIET_SHARE_OF_A_CORE * 4
    assert not c.quiet and c.label("1.05x").startswith("1.05x  [measured under contention: CONTENDED")
    c.other_cores = 0.0
    assert c.quiet and c.label("1.05x") == "1.05x" and c.verdict().startswith("quiet")


@pytest.mark.slow
def test_bench_latency_runs(data_dir):
    env = {**os.environ, "XCOST_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_latency.py"),
            "--pairs",
            "2",
            "--calls",
            "5",
            "--warmup",
            "1",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "job bench p50" in proc.stdout and "ratio" in proc.stdout
    assert "quiet (" in proc.stdout or "CONTENDED (" in proc.stdout
