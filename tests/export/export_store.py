"""A small store for the export tests: two direct runs (one with energy measured, one without),
an intermediate run and a failed run, written by store_fixtures and ingested as a real store is."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.store_fixtures import make_run_dir

LANGS = ["it", "zh", "sw"]


def write_runs(root: Path, *, it_accuracy: float = 0.61) -> dict[str, Path]:
    """The runs by a short name, written afresh; ``it_accuracy`` is direct-s0's Italian accuracy
    (a re-export after it changes must carry the new value)."""
    shutil.rmtree(root / "runs", ignore_errors=True)  # a run directory's events are appended to
    return {
        "direct": make_run_dir(
            root,
            run_id="direct-s0",
            seed=0,
            langs=LANGS,
            accuracies={"it": it_accuracy, "zh": 0.55, "sw": 0.52, "en": 0.7},
            device_hours=0.02,
            energy=120.0,
        ),
        "unmeasured": make_run_dir(
            root, run_id="direct-s1", seed=1, langs=LANGS, accuracies={"it": 0.58}, device_hours=0.03, energy=None
        ),
        "intermediate": make_run_dir(
            root,
            run_id="inter-s0",
            method="intermediate",
            intermediate=["siqa"],
            langs=LANGS,
            device_hours={"intermediate:siqa": 0.05, "target:copa": 0.02},
            energy=80.0,
        ),
        "failed": make_run_dir(root, run_id="direct-failed", seed=2, langs=LANGS, status="failed"),
    }
