"""benchmarks/bench_train_throughput.py (issue 17): the arms' order rotates, ratios are medians of
paired ratios, and a tiny run prints and writes every arm and ratio. No timing is checked: other
work shares the machine."""

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

import bench_train_throughput as bt  # noqa: E402
from _common import paired_median, rotated  # noqa: E402


def test_every_arm_runs_first_once_in_as_many_repeats_as_arms():
    arms = ["a", "b", "c", "d"]
    orders = [rotated(arms, r) for r in range(4)]
    assert [o[0] for o in orders] == arms
    assert all(sorted(o) == arms for o in orders)
    assert rotated(arms, 4) == arms


def test_the_median_of_paired_ratios_is_not_the_ratio_of_medians():
    """The machine twice as fast in one repeat: the pairs say 1.1 every time; medians would not."""
    job, trainer = [110.0, 220.0, 110.0], [100.0, 200.0, 200.0]
    assert paired_median(job, trainer) == pytest.approx(1.1)
    with pytest.raises(ValueError):
        paired_median([1.0], [1.0, 2.0])


def test_summarise_pairs_like_with_like_and_gives_the_padding_gain_apart():
    def arm(values):
        return [{"examples_per_s": v} for v in values]

    res = {
        "job_grouped": arm([120.0, 130.0, 110.0]),
        "trainer_grouped": arm([100.0, 100.0, 100.0]),
        "job_ungrouped": arm([100.0, 100.0, 100.0]),
        "trainer_ungrouped": arm([90.0, 100.0, 80.0]),
    }
    s = bt.summarise(res, (True, False))
    assert s["job/trainer grouped"]["median_paired"] == pytest.approx(1.2)
    assert s["job/trainer ungrouped"]["median_paired"] == pytest.approx(100 / 90)
    assert s["padding gain job (grouped/ungrouped)"]["median_paired"] == pytest.approx(1.2)
    assert s["padding gain trainer (grouped/ungrouped)"]["per_repeat"] == pytest.approx([100 / 90, 1.0, 1.25])
    one = bt.summarise({k: v for k, v in res.items() if k.endswith("_grouped")}, (True,))
    assert set(one) == {"job/trainer grouped"}


@pytest.mark.slow
def test_a_tiny_run_prints_and_writes_every_arm_and_ratio(data_dir, tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "XCOST_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_train_throughput.py"), "--steps", "2", "--repeats", "2"]
        + ["--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    arms = {"job_grouped", "trainer_grouped", "job_ungrouped", "trainer_ungrouped"}
    for name in arms:
        assert name in proc.stdout
    assert "job/trainer grouped" in proc.stdout and "padding gain job (grouped/ungrouped)" in proc.stdout
    assert "quiet (" in proc.stdout or "CONTENDED (" in proc.stdout
    # the arms' order rotated: repeat 2 starts with the arm that ran second in repeat 1
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("repeat ")]
    assert lines[0].split(": ")[1].split()[0] == "job_grouped"
    assert lines[1].split(": ")[1].split()[0] == "trainer_grouped"
    doc = json.loads(out.read_text())
    assert set(doc["arms"]) == arms and all(len(v) == 2 for v in doc["arms"].values())
    # both arms ran under the job's deterministic setting, and every arm did the same work
    for rows in doc["arms"].values():
        for row in rows:
            assert row["deterministic"] == "on (warn only)"
            assert row["examples"] == 2 * 8
            assert 0 < row["padding_efficiency"] <= 1 and row["examples_per_s"] > 0
    assert set(doc["ratios"]) == {
        "job/trainer grouped",
        "job/trainer ungrouped",
        "padding gain job (grouped/ungrouped)",
        "padding gain trainer (grouped/ungrouped)",
    }
    for r in doc["ratios"].values():
        assert len(r["per_repeat"]) == 2 and r["median_paired"] > 0
    assert isinstance(doc["quiet"], bool) and len(doc["quiet_repeats"]) == 2
