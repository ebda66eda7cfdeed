"""Stopping ``xcost-tui run`` as a user does (issue 20, trial 11): kill, Ctrl-C, a dropped SSH
session, a launcher killed outright. The run ends recorded (cancelled with the reason, or failed
once its job is gone), never ``running`` for good.

The launcher is the real command in a subprocess; its job is tests/support/fake_job.py (no torch)
except in the one trial of the real job's side of the cancel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from support.cli import sql_rows, xcost

from xcost_tui.rundir import RunStatus, StatusRecord, read_jsonl, read_status
from xcost_tui.runner.outcome import DISAPPEARED

REPO = Path(__file__).resolve().parents[2]
FAKE_JOB = REPO / "tests" / "support" / "fake_job.py"


@pytest.fixture(autouse=True)
def no_job_left_behind(tmp_path):
    """Kills what a failed trial left running (a job whose launcher died without stopping it)."""
    yield
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(tmp_path) in arg for arg in proc.info["cmdline"] or []):
            try:
                proc.kill()
            except psutil.Error:
                pass


def launch(store: Path, *, fake: bool = True, extra: list[str] = ()) -> tuple[subprocess.Popen, Path]:
    """``xcost-tui run`` into ``<store>/runs/r1``; with ``fake``, a fake job that waits in its
    target phase until it is cancelled."""
    run_dir = store / "runs" / "r1"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    if fake:
        env.update(XCOST_JOB_CMD=f"{sys.executable} {FAKE_JOB}", FAKE_JOB_MODE="hang", FAKE_JOB_STEP_S="0.01")
    args = ["run", "--method", "direct", "--langs", "it", "--out", str(run_dir), "--store", str(store), *extra]
    proc = subprocess.Popen(
        [sys.executable, "-m", "xcost_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    return proc, run_dir


def wait_for_target_phase(run_dir: Path, launcher: subprocess.Popen, timeout: float = 120) -> StatusRecord:
    """status.json once the job is in its target phase (polled: no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = read_status(run_dir)
        except Exception:  # noqa: BLE001 - a status.json being replaced
            status = None
        if status is not None and status.phase == "target:copa" and status.job is not None:
            return status
        if launcher.poll() is not None:
            raise AssertionError(f"the launcher ended early: {launcher.communicate()[0]!r}")
        time.sleep(0.05)
    launcher.kill()
    raise AssertionError("the job never reached its target phase")


def stop(launcher: subprocess.Popen, sig: int) -> str:
    launcher.send_signal(sig)
    try:
        out, _ = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    return out.decode(errors="replace")


def assert_cancelled(store: Path, run_dir: Path, reason: str) -> None:
    """status.json, the run_end event and the store (after ``xcost-tui ingest``) say cancelled."""
    final = read_status(run_dir)
    assert final.status == RunStatus.CANCELLED and final.error == reason, final
    ends = [e for e in read_jsonl(run_dir / "events.jsonl") if e["type"] == "run_end"]
    assert [(e["status"], e["error"]) for e in ends] == [("cancelled", reason)]
    proc = xcost(["ingest", "--store", str(store)], 120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sql_rows(store, "SELECT status, error FROM runs") == [{"status": "cancelled", "error": reason}]


def test_sigterm_to_xcost_tui_run_cancels_the_run(tmp_path):
    store = tmp_path / "store"
    launcher, run_dir = launch(store)
    job = wait_for_target_phase(run_dir, launcher).job
    out = stop(launcher, signal.SIGTERM)
    assert launcher.returncode == 143, out
    assert "status: cancelled" in out
    assert_cancelled(store, run_dir, "cancelled: xcost-tui run received SIGTERM")
    assert not psutil.pid_exists(job.pid) or psutil.Process(job.pid).create_time() != job.create_time


def test_ctrl_c_on_xcost_tui_run_cancels_the_run(tmp_path):
    store = tmp_path / "store"
    launcher, run_dir = launch(store)
    wait_for_target_phase(run_dir, launcher)
    out = stop(launcher, signal.SIGINT)
    assert launcher.returncode == 130, out
    assert_cancelled(store, run_dir, "cancelled: xcost-tui run received SIGINT (Ctrl-C)")


def test_a_dropped_ssh_session_cancels_xcost_tui_run(tmp_path):
    """SIGHUP, and the terminal gone: whatever the launcher writes fails, the run is still recorded."""
    store = tmp_path / "store"
    launcher, run_dir = launch(store)
    wait_for_target_phase(run_dir, launcher)
    launcher.stdout.close()  # the terminal is gone: the launcher's writes fail (EPIPE)
    launcher.send_signal(signal.SIGHUP)
    try:
        launcher.wait(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 128 + signal.SIGHUP
    reason = "cancelled: xcost-tui run received SIGHUP (its terminal or SSH session closed)"
    assert_cancelled(store, run_dir, reason)


def test_a_run_left_running_by_a_killed_launcher_is_failed_at_ingest(tmp_path):
    """The launcher and its job SIGKILLed: nothing could record the end; ingest finds the job gone."""
    store = tmp_path / "store"
    launcher, run_dir = launch(store)
    job = wait_for_target_phase(run_dir, launcher).job
    launcher.kill()
    launcher.wait(timeout=60)
    process = psutil.Process(job.pid)
    os.killpg(job.pid, signal.SIGKILL)  # its group: the job leads its own session, with its sampler
    psutil.wait_procs([process], timeout=60)
    assert read_status(run_dir).status == RunStatus.RUNNING
    proc = xcost(["ingest", "--store", str(store)], 120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "r1: left running, its job process is gone; recorded as failed" in proc.stderr
    final = read_status(run_dir)
    assert final.status == RunStatus.FAILED and final.error == DISAPPEARED
    assert sql_rows(store, "SELECT status, error FROM runs") == [{"status": "failed", "error": DISAPPEARED}]


def test_a_live_run_is_not_failed_at_ingest(tmp_path):
    store = tmp_path / "store"
    launcher, run_dir = launch(store)
    wait_for_target_phase(run_dir, launcher)
    try:
        proc = xcost(["ingest", "--store", str(store)], 120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert read_status(run_dir).status == RunStatus.RUNNING
        assert sql_rows(store, "SELECT status FROM runs") == [{"status": "running"}]
    finally:
        stop(launcher, signal.SIGTERM)


def test_sigterm_to_xcost_tui_run_cancels_the_real_job(tmp_path, data_dir):
    """The real job (tiny-xlmr): it records the launcher's reason, exit code 143, then the launcher exits 143."""
    store = tmp_path / "store"
    extra = ["--model", "tiny-xlmr", "--data-dir", str(data_dir), "--max-train-examples", "16"]
    extra += ["--max-eval-examples", "8", "--max-steps", "100000", "--no-measure"]  # never done before the signal
    launcher, run_dir = launch(store, fake=False, extra=extra)
    wait_for_target_phase(run_dir, launcher, timeout=300)
    out = stop(launcher, signal.SIGTERM)
    assert launcher.returncode == 143, out
    assert_cancelled(store, run_dir, "cancelled: xcost-tui run received SIGTERM")
    final = read_status(run_dir)
    assert final.exit_code == 143 and final.phase == "target:copa"
    assert json.loads((run_dir / "spec.json").read_text())["model"] == "tiny-xlmr"
