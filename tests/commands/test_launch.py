"""``xcost-tui run``: the launcher ingests a run under <store>/runs, says how to ingest one elsewhere,
and records the real outcome of a job that died without writing its final status."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from support.jobutil import QUICK, run_cli

from xcost_tui.rundir import RunStatus, StatusRecord, read_status

REPO = Path(__file__).resolve().parents[2]
FAKE_JOB = REPO / "tests" / "support" / "fake_job.py"


def fake_env(**extra: str) -> dict[str, str]:
    """``xcost-tui run`` with tests/support/fake_job.py as the job (no torch, well under a second)."""
    env = {
        **os.environ,
        "XCOST_JOB_CMD": f"{sys.executable} {FAKE_JOB}",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "FAKE_JOB_STEP_S": "0.01",
    }
    env.update(extra)
    return env


def fake_run(out: Path, store: Path, **env: str) -> subprocess.CompletedProcess:
    args = [
        sys.executable,
        "-m",
        "xcost_tui",
        "run",
        "--method",
        "direct",
        "--langs",
        "it",
        "--out",
        str(out),
        "--store",
        str(store),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=fake_env(**env))


def store_run_ids(store: Path) -> list[str]:
    proc = run_cli(["sql", "--store", str(store), "--format", "json", "SELECT run_id, status FROM runs"])
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line)["run_id"] for line in proc.stdout.splitlines() if line.strip()]


def test_the_readme_example_lands_in_the_store(tmp_path, data_dir, monkeypatch):
    """`run --out store/runs/NAME` (the README's example) is in `sql` as soon as the run ends, and
    says each phase as it starts (the progress lines headless prints), before the run's end."""
    monkeypatch.setenv("XCOST_PROGRESS_EVERY_S", "0")
    store = tmp_path / "store"
    proc = run_cli(
        [
            "run",
            "--method",
            "direct",
            "--model",
            "tiny-xlmr",
            "--data-dir",
            str(data_dir),
            "--langs",
            "it",
            "--out",
            str(store / "runs" / "try1"),
            "--store",
            str(store),
            *QUICK,
        ]
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"ingested into {store}" in proc.stdout
    assert store_run_ids(store) == ["try1"]
    lines = proc.stdout.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("status: succeeded"))
    phases = [line for line in lines[:end] if "] try1: phase " in line]
    assert any("try1: phase target:copa (1/" in line for line in phases), proc.stdout[-3000:]
    assert any("try1: phase eval:it (" in line for line in phases), proc.stdout[-3000:]


def _lines_until(proc: subprocess.Popen, wanted: str, timeout_s: float = 60) -> list[str]:
    """The launcher's output lines up to the first that holds ``wanted``, read while it runs."""
    seen: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.put(line)
        seen.put(None)

    threading.Thread(target=read, daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = seen.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(f"the launcher ended before printing {wanted!r}: {''.join(lines)}")
        lines.append(line)
        if wanted in line:
            return lines
    raise AssertionError(f"no {wanted!r} in {timeout_s} s: {''.join(lines)}")


def test_run_prints_progress_while_the_job_runs(tmp_path):
    """`xcost-tui run` says the phase, step/total, loss, throughput and memory while its job is still
    in its training phase (the fake job stops there until cancelled), as headless does."""
    run_dir = tmp_path / "r"
    args = [sys.executable, "-m", "xcost_tui", "run", "--method", "direct", "--langs", "it"]
    args += ["--out", str(run_dir), "--store", str(tmp_path / "store")]
    env = fake_env(FAKE_JOB_MODE="hang", XCOST_PROGRESS_EVERY_S="0")
    launcher = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = _lines_until(launcher, "r: target:copa step 1/")
        assert launcher.poll() is None, "the progress line came while the job runs"
        assert any("r: phase target:copa (1/" in line for line in lines), lines
        progress = lines[-1]
        assert "loss 1.0000" in progress and "100.0 ex/s" in progress and " elapsed" in progress, progress
        assert "rss " in progress or "mem 1.0M" in progress, progress
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 128 + signal.SIGTERM
    assert read_status(run_dir).status == RunStatus.CANCELLED


def test_a_run_elsewhere_says_how_to_ingest_it(tmp_path):
    store, out = tmp_path / "store", tmp_path / "elsewhere" / "r1"
    proc = fake_run(out, store)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"xcost-tui ingest --store {store} {out}" in proc.stdout
    assert not (store / "xcost.duckdb").exists(), "a run outside the store is not ingested by itself"
    assert read_status(out).status == RunStatus.SUCCEEDED


def test_the_default_run_directory_is_ingested(tmp_path):
    store = tmp_path / "store"
    args = [sys.executable, "-m", "xcost_tui", "run", "--method", "direct", "--langs", "it", "--store", str(store)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=fake_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = (store / "runs").iterdir()
    assert store_run_ids(store) == [run_dir.name]


def test_a_store_error_after_the_run_is_one_line(tmp_path):
    store = tmp_path / "store"
    (store / "xcost.duckdb").mkdir(parents=True)  # a folder where the database file belongs
    out = store / "runs" / "r1"
    proc = fake_run(out, store)
    assert proc.returncode == 0, "the run succeeded; only the store could not take it"
    assert "Traceback" not in proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("store: could not ingest")]
    assert f"xcost-tui ingest --store {store} {out}" in line
    assert read_status(out).status == RunStatus.SUCCEEDED


def _wait_for_phase(run_dir: Path, phase: str, launcher: subprocess.Popen) -> StatusRecord:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = read_status(run_dir)
        if status is not None and status.phase == phase and status.job is not None:
            return status
        if launcher.poll() is not None:
            raise AssertionError(f"the launcher ended early: {launcher.communicate()}")
        time.sleep(0.05)
    launcher.kill()
    raise AssertionError(f"the job never reached {phase}")


def test_a_sigkilled_job_is_recorded_failed(tmp_path):
    run_dir = tmp_path / "r"
    args = [
        sys.executable,
        "-m",
        "xcost_tui",
        "run",
        "--method",
        "direct",
        "--langs",
        "it",
        "--out",
        str(run_dir),
        "--store",
        str(tmp_path / "store"),
    ]
    launcher = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=fake_env(FAKE_JOB_MODE="hang")
    )
    try:
        status = _wait_for_phase(run_dir, "target:copa", launcher)
        pid = status.job.pid
        # The launcher recorded which process the job is, beyond its pid.
        assert pid != launcher.pid and psutil.Process(pid).ppid() == launcher.pid
        assert abs(status.job.create_time - psutil.Process(pid).create_time()) < 0.01
        assert status.job.host == socket.gethostname()
        os.kill(pid, signal.SIGKILL)  # the job, not the launcher
        out, _ = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 128 + signal.SIGKILL, out
    final = read_status(run_dir)
    assert final.status == RunStatus.FAILED, final
    assert final.error == "the job ended without a final status (killed by SIGKILL)"
    assert final.exit_code == -signal.SIGKILL and final.ended
    assert final.job.pid == pid and final.job.host == socket.gethostname()
    assert "status: failed" in out


def test_a_job_that_exits_without_a_status_is_failed_with_its_exit_code(tmp_path):
    run_dir = tmp_path / "r"
    proc = fake_run(run_dir, tmp_path / "store", FAKE_JOB_MODE="die")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    final = read_status(run_dir)
    assert final.status == RunStatus.FAILED
    assert final.error == "the job ended without a final status (exit code 3)"
    assert final.exit_code == 3


def test_a_final_status_left_by_an_earlier_run_is_not_taken_for_this_one(tmp_path):
    run_dir, store = tmp_path / "r", tmp_path / "store"
    assert fake_run(run_dir, store).returncode == 0
    assert read_status(run_dir).status == RunStatus.SUCCEEDED
    # Again into the same folder, with a job that dies before it writes anything.
    env = fake_env(XCOST_JOB_CMD=f"{sys.executable} -c 'raise SystemExit(5)'")
    args = [
        sys.executable,
        "-m",
        "xcost_tui",
        "run",
        "--method",
        "direct",
        "--langs",
        "it",
        "--out",
        str(run_dir),
        "--store",
        str(store),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    final = read_status(run_dir)
    assert final.status == RunStatus.FAILED and final.error == "the job ended without a final status (exit code 5)"
