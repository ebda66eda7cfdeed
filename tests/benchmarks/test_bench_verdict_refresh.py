"""benchmarks/bench_verdict_refresh.py (issue 18) at a tiny size: it builds its store, reuses it,
times the full and the incremental refresh, and the incremental tables equal the full refresh's
(``--check``). No timing is asserted: other work shares the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_verdict_refresh as bvr  # noqa: E402


def test_the_study_has_the_shape_it_says():
    runs = bvr.study_runs(200)
    assert len(runs) == 200 and len({r["run_id"] for r in runs}) == 200
    methods = {r["method"] for r in runs}
    assert methods == {"direct", "intermediate", "few-shot", "icl"}
    fewshot = [r for r in runs if r["method"] == "few-shot"]
    assert {r["shot_seed"] for r in fewshot} == {0, 1, 2}
    per_config: dict[str, set] = {}
    for r in runs:
        per_config.setdefault(r["config_id"], set()).add(r["seed"])
    assert all(1 <= len(seeds) <= 5 for seeds in per_config.values())


def _run(store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_verdict_refresh.py"),
            "--runs",
            "80",
            "--items",
            "20",
            "--repeats",
            "1",
            "--check",
            "--store",
            str(store),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_bench_verdict_refresh_runs_and_reuses_its_store(tmp_path):
    first = _run(tmp_path / "store")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout
    assert "built in" in out and "full refresh" in out and "full / incremental" in out
    assert "incremental: 1 of" in out  # the incremental path, not a full one
    assert "incremental tables equal a full refresh's: True" in out
    assert "quiet (" in out or "CONTENDED (" in out
    again = _run(tmp_path / "store")  # reused: the runs the first one added are gone again
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "(reused)" in again.stdout and "80 runs" in again.stdout
