"""A warm worker's record (rundir/worker.py) read back, and its CPU account against a hand count."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xcost_tui.rundir import StoreLayout, WorkerInfo, parse_event
from xcost_tui.rundir.worker import (
    WorkerEnd,
    WorkerRun,
    WorkerStart,
    account_worker,
    phase_cpu_share,
    read_worker_log,
)

REPO = Path(__file__).resolve().parents[2]


def write_store(root: Path) -> StoreLayout:
    layout = StoreLayout(root)
    wdir = layout.worker_dir("w1")
    wdir.path.mkdir(parents=True)
    lines = [
        WorkerStart("w1", 42, 100.0, "host", "cpu:1", 2, 6.0, 3.0, t=106.0).to_dict(),
        WorkerRun("r1", 0, 106.0, 116.0, 3.0, 13.0, "succeeded", 0).to_dict(),
        WorkerRun("r2", 1, 116.0, 121.0, 13.0, 18.0, "failed", 1).to_dict(),
        {"type": "something newer"},
        WorkerEnd(2, 18.5, "no more runs", t=122.0).to_dict(),
    ]
    wdir.record.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    events = {
        "r1": [
            {"type": "model_loaded", "model": "m", "source": "built-in", "load_s": 0.5, "cached": False},
            {"type": "warmup", "before": "target:copa", "seconds": 1.0},
            {"type": "phase_end", "phase": "target:copa", "costs": {"cpu_s": {"value": 6.0}}},
            {"type": "phase_end", "phase": "eval:en", "costs": {"cpu_s": {"value": 2.0}}},
        ],
        "r2": [{"type": "phase_end", "phase": "target:copa", "costs": {"cpu_s": {"value": None}}}],
    }
    for run_id, evs in events.items():
        d = layout.run_dir(run_id).path
        d.mkdir(parents=True)
        (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evs), encoding="utf-8")
    return layout


def test_the_record_reads_back(tmp_path: Path) -> None:
    layout = write_store(tmp_path)
    (wdir,) = layout.worker_dirs()
    log = read_worker_log(wdir.record)
    assert log.start is not None and log.start.pid == 42 and log.start.startup_cpu_s == 3.0
    assert [r.run_id for r in log.runs] == ["r1", "r2"] and log.runs[1].status == "failed"
    assert log.end is not None and log.cpu_s == 18.5


def test_the_cpu_account_against_a_hand_count(tmp_path: Path) -> None:
    layout = write_store(tmp_path)
    (wdir,) = layout.worker_dirs()
    account = account_worker(wdir, layout.runs)
    assert account.phase_cpu_s == pytest.approx(8.0)  # 6 + 2; a null cpu_s counts nothing
    assert account.share == pytest.approx(8.0 / 18.5)
    r1, r2 = account.runs
    assert (r1.cpu_s, r1.warmup_s, r1.load_s) == (10.0, 1.0, 0.5)
    assert (r2.cpu_s, r2.phase_cpu_s, r2.load_s) == (5.0, 0.0, None)


def test_phase_cpu_share_is_null_without_the_workers_cpu() -> None:
    assert phase_cpu_share(None, [1.0]) is None
    assert phase_cpu_share(0.0, [1.0]) is None
    assert phase_cpu_share(4.0, [1.0, 1.0]) == 0.5


def test_the_worker_event_round_trips() -> None:
    event = WorkerInfo("w1", 42, 3, 6.0, 3.0, t=1.0)
    assert parse_event(event.to_dict()) == event


def test_the_benchmark_prints_a_stores_account(tmp_path: Path) -> None:
    write_store(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_workers.py"), "--account", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "worker w1: 2 runs" in proc.stdout and "phases' share 43.2%" in proc.stdout
