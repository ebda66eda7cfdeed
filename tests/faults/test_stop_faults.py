"""Stopping ``xcost-tui run`` as a user does (issue 20, trial 11): kill, Ctrl-C, a dropped SSH
session, a launcher killed outright. The run ends recorded (cancelled with the reason, or failed
once its job is gone), never ``running`` for good.

The launcher is the real command in a subprocess; its job is tests/support/fake_job.py (no torch);
tests/job/test_job_cancel.py stops the real job the same way. The store is read in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from xcost_tui.commands.ingest import ingest_command
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


def launch(store: Path) -> tuple[subprocess.Popen, Path]:
    """``xcost-tui run`` into ``<store>/runs/r1``, with a fake job that waits in its target phase
    until it is cancelled."""
    run_dir = store / "runs" / "r1"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(REPO),
        "XCOST_JOB_CMD": f"{sys.executable} {FAKE_JOB}",
        "FAKE_JOB_MODE": "hang",
    }
    args = ["run", "--method", "direct", "--langs", "it", "--out", str(run_dir), "--store", str(store)]
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


def store_rows(store: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(store / "xcost.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def assert_cancelled(store: Path, run_dir: Path, reason: str) -> None:
    """status.json, the run_end event and the store (after ``xcost-tui ingest``, in-process) say cancelled."""
    final = read_status(run_dir)
    assert final.status == RunStatus.CANCELLED and final.error == reason, final
    ends = [e for e in read_jsonl(run_dir / "events.jsonl") if e["type"] == "run_end"]
    assert [(e["status"], e["error"]) for e in ends] == [("cancelled", reason)]
    assert ingest_command(store, []) == 0
    assert store_rows(store, "SELECT status, error FROM runs") == [("cancelled", reason)]


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


def test_a_run_left_running_by_a_killed_launcher_is_failed_at_ingest(tmp_path, capsys):
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
    assert ingest_command(store, []) == 0
    assert "r1: left running, its job process is gone; recorded as failed" in capsys.readouterr().err
    final = read_status(run_dir)
    assert final.status == RunStatus.FAILED and final.error == DISAPPEARED
    assert store_rows(store, "SELECT status, error FROM runs") == [("failed", DISAPPEARED)]


def test_a_live_run_is_not_failed_at_ingest(tmp_path):
    store = tmp_path / "store"
    launcher, run_dir = launch(store)
    wait_for_target_phase(run_dir, launcher)
    try:
        assert ingest_command(store, []) == 0
        assert read_status(run_dir).status == RunStatus.RUNNING
        assert store_rows(store, "SELECT status FROM runs") == [("running",)]
    finally:
        stop(launcher, signal.SIGTERM)
