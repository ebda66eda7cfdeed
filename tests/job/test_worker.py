"""The warm worker (job/worker.py) on its own: runs one after another in one process, its records,
a failing run that does not stop it, a run cancelled before it starts, icl's model loaded once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.tiny_specs import tiny_spec

from xcost_tui.rundir import RunDir, StoreLayout, read_jsonl, read_status
from xcost_tui.rundir.cancel import request_cancel
from xcost_tui.rundir.worker import account_worker, read_worker_log
from xcost_tui.spec import RunSpec

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("job_worker")


spec = tiny_spec


def run_dir(store: Path, s: RunSpec, name: str | None = None) -> Path:
    d = StoreLayout(store).run_dir(name or s.run_id()).path
    d.mkdir(parents=True)
    (d / "spec.json").write_text(json.dumps(s.to_dict()), encoding="utf-8")
    return d


def worker_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", "XCOST_SAMPLER_NVML": "0"}


def run_list(dirs: list[Path], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xcost_tui.job", "--runs", *map(str, dirs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=worker_env(),
    )


def events_of(d: Path, kind: str) -> list[dict]:
    return [e for e in read_jsonl(RunDir(d).events) if e.get("type") == kind]


def test_runs_in_one_process_with_records(tmp_path: Path, data_dir: Path) -> None:
    """A failing run (no data where its spec says) ends failed and the worker goes on; a run with a
    cancel request is recorded cancelled without running; every run names the one worker process;
    the second icl run restores the causal LM from the worker's cache."""
    store = tmp_path / "store"
    bad = run_dir(store, spec(tmp_path / "no-such-data"), "bad")
    good = run_dir(store, spec(data_dir))
    skipped = run_dir(store, spec(data_dir, seed=1))
    request_cancel(skipped)
    icl = [
        run_dir(store, spec(data_dir, method="icl", model="tiny-gpt2", few_shot_k=k, shot_seed=0 if k else None))
        for k in (0, 2)
    ]
    proc = run_list([bad, good, skipped, *icl])
    assert proc.returncode == 0, proc.stderr
    statuses = {d.name: read_status(d) for d in (bad, good, skipped, *icl)}
    assert statuses["bad"].status == "failed"
    assert statuses[skipped.name].status == "cancelled"
    assert not events_of(skipped, "run_start")  # never started
    for d in (good, *icl):
        assert statuses[d.name].status == "succeeded", (d / "job.log").read_text()
    pids = {statuses[d.name].job.pid for d in (bad, good, *icl)}
    assert len(pids) == 1  # one process ran them all

    # the worker's record: its start-up, one line per run, its end
    (wdir,) = StoreLayout(store).worker_dirs()
    log = read_worker_log(wdir.record)
    assert log.start is not None and log.start.pid in pids
    assert log.start.startup_cpu_s and log.start.startup_cpu_s > 0
    assert [r.run_id for r in log.runs] == [bad.name, good.name, skipped.name, *(d.name for d in icl)]
    assert log.end is not None and log.end.runs == 5
    assert all(r.cpu_end_s >= r.cpu_start_s for r in log.runs)

    # each run names the worker and its start-up; its model load is timed
    for i, d in enumerate((good, *icl)):
        (w,) = events_of(d, "worker")
        assert w["worker_id"] == wdir.worker_id and w["startup_cpu_s"] == log.start.startup_cpu_s
        assert w["index"] == [1, 3, 4][i]
        (m,) = events_of(d, "model_loaded")
        assert m["load_s"] is not None and m["load_s"] >= 0
    first, second = (events_of(d, "model_loaded")[0] for d in icl)
    assert first["cached"] is False and second["cached"] is True  # ICL: the model loaded once per worker
    # each run's output in its own log, the worker's between runs in its own
    assert f"run {good.name}:" in (good / "job.log").read_text()
    assert "ready: start-up" in proc.stdout

    account = account_worker(wdir, StoreLayout(store).runs)
    assert account.share is not None and 0 < account.share < 1
    assert account.phase_cpu_s > 0


def test_worker_reads_requests_until_stdin_closes(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "store"
    d = run_dir(store, spec(data_dir, langs=["qu"]))
    wdir = StoreLayout(store).worker_dir("w1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "xcost_tui.job", "--worker", str(wdir.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=worker_env(),
    )
    request = {"run_dir": str(d), "env": {"XCOST_CPU_THREADS": "1"}}
    out, _ = proc.communicate((json.dumps(request) + "\nnot json\n").encode(), timeout=600)
    assert proc.returncode == 0, out.decode()
    assert read_status(d).status == "succeeded", (d / "job.log").read_text()
    assert "request skipped" in out.decode()
    assert "cpu share: 1 thread(s)" in (d / "job.log").read_text()  # the run's own share
    log = read_worker_log(wdir.record)
    assert [r.run_id for r in log.runs] == [d.name] and log.end is not None


def test_usage_errors() -> None:
    for args in (["--worker"], ["--runs"], ["--bogus"], []):
        proc = subprocess.run(
            [sys.executable, "-m", "xcost_tui.job", *args], capture_output=True, text=True, env=worker_env()
        )
        assert proc.returncode == 2 and "usage" in proc.stderr
