"""benchmarks/bench_coverage.py (issue 16): one tiny cell through the real path (run directories,
ingest, the verdict tables), the shape of what it writes, and the in-memory path giving the very
same intervals. Coverage values are not checked: a few replications say nothing about them."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_coverage as bc  # noqa: E402


def test_the_truth_is_the_expected_accuracy():
    """Gauss–Hermite against a plain Monte-Carlo mean of sigmoid(mu + sd·Z)."""
    z = np.random.default_rng(1).standard_normal(2_000_000)
    for mu, sd in [(0.6, 1.6), (-0.3, 0.5), (1.2, 0.0)]:
        assert bc.expected_accuracy(mu, sd) == pytest.approx(np.mean(1 / (1 + np.exp(-(mu + sd * z)))), abs=1e-3)


def test_simulate_follows_the_design():
    cell = bc.Cell(seeds=3, draws=2, seed_sd=0.3, draw_sd=0.15, items=40)
    model = bc.Model(langs=("it", "zh"))
    sim = bc.simulate(cell, model, bc.rng_for(0, cell, 0))
    assert [(r.seed, r.shot_seed) for r in sim["direct"]] == [(0, -1), (1, -1), (2, -1)]
    assert [(r.seed, r.shot_seed) for r in sim["few-shot"]] == [(s, d) for s in range(3) for d in range(2)]
    assert all(
        set(r.correct) == {"en", "it", "zh"} and all(len(c) == 40 for c in r.correct.values()) for r in sim["few-shot"]
    )
    again = bc.simulate(cell, model, bc.rng_for(0, cell, 0))
    assert all(np.array_equal(a.correct["it"], b.correct["it"]) for a, b in zip(sim["few-shot"], again["few-shot"]))


def test_the_store_path_and_the_direct_path_give_identical_intervals(tmp_path):
    cell = bc.Cell(seeds=3, draws=2, seed_sd=0.3, draw_sd=0.15, items=30)
    model = bc.Model(langs=("it", "zh"))
    batch = [(rep, bc.simulate(cell, model, bc.rng_for(0, cell, rep))) for rep in range(2)]
    stored = bc.store_intervals(batch, model, tmp_path / "store")
    expected = {(t, lang) for t in bc.TARGETS for lang in ("en", "it", "zh", bc.AVG)}
    for rep, sim in batch:
        direct = bc.direct_intervals(rep, sim, model)
        assert set(direct) == set(stored[rep]) == expected
        assert direct == stored[rep]


def test_the_earlier_estimator_runs_on_the_same_data():
    """--path bootstrap: the estimator before issue 16, on the same simulated matrices, for the
    same rows; its paired difference pairs every draw with its seed's direct run (the same
    estimate, another interval)."""
    cell = bc.Cell(seeds=3, draws=2, seed_sd=0.3, draw_sd=0.15, items=30)
    model = bc.Model(langs=("it", "zh"))
    sim = bc.simulate(cell, model, bc.rng_for(0, cell, 0))
    before, after = bc.bootstrap_intervals(0, sim, model), bc.direct_intervals(0, sim, model)
    assert set(before) == set(after)
    for key in before:
        assert before[key][0] == pytest.approx(after[key][0])  # the same estimates
        assert before[key][1] <= before[key][0] <= before[key][2]


def test_one_tiny_cell_through_the_store_writes_the_tables(tmp_path):
    out = tmp_path / "coverage.csv"
    args = ["--path", "store", "--seeds", "1,3", "--draws", "2", "--seed-sd", "0.3", "--draw-sd", "0.15"]
    args += ["--items", "20", "--reps", "3", "--reps-per-store", "2", "--langs", "it,sw"]
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_coverage.py"),
            *args,
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * len(bc.TARGETS) * 4  # 2 cells x 3 intervals x (en, it, sw, avg)
    assert list(rows[0]) == list(bc.CSV_COLUMNS)
    assert {r["target"] for r in rows} == set(bc.TARGETS) and {r["lang"] for r in rows} == {"en", "it", "sw", "avg"}
    assert {r["seeds"] for r in rows} == {"1", "3"} and {r["reps"] for r in rows} == {"3"}
    assert all(0 <= float(r["coverage"]) <= 1 and float(r["mean_half_width"]) > 0 for r in rows)
    assert all(bool(r["note"]) == (r["seeds"] == "1") for r in rows)  # S=1 says it misses seed variation
    table = out.with_suffix(".md").read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("| 1 |") or line.startswith("| 3 |") for line in table) == 2
    assert "replications" in proc.stderr  # progress
    assert "quiet (" in proc.stdout or "CONTENDED (" in proc.stdout
