"""A cancel stops the real job cleanly: status `cancelled` with the canceller's reason, a run_end
event, every line whole; here through ``xcost-tui run``, whose SIGTERM is passed on to the job with
its reason (issue 20, trial 11: tests/faults/test_stop_faults.py has the launcher's other stops)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from xcost_tui.job.main import Job
from xcost_tui.rundir import RunStatus, read_status
from xcost_tui.rundir.cancel import request_cancel
from xcost_tui.rundir.layout import EVENTS
from xcost_tui.runner.procs import signal_group


def test_sigterm_to_xcost_tui_run_cancels_the_real_job(tmp_path, data_dir):
    run_dir = tmp_path / "store" / "runs" / "r"
    args = ["run", "--method", "direct", "--model", "tiny-xlmr", "--langs", "it", "--data-dir", str(data_dir)]
    args += ["--max-train-examples", "16", "--max-eval-examples", "8", "--max-steps", "100000"]  # never done
    args += ["--no-measure", "--out", str(run_dir), "--store", str(tmp_path / "store")]
    launcher = subprocess.Popen(
        [sys.executable, "-m", "xcost_tui", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 300
        while (status := _status(run_dir)) is None or status.phase != "target:copa":
            assert launcher.poll() is None, "the launcher ended early"
            assert time.monotonic() < deadline, "the job never reached its target phase"
            time.sleep(0.1)
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=120) == 143
    finally:
        if launcher.poll() is None:
            launcher.kill()
        status = _status(run_dir)
        if status is not None and status.job is not None and status.status == RunStatus.RUNNING:
            signal_group(status.job, signal.SIGKILL)  # a failed trial leaves no job behind
    final = read_status(run_dir)
    reason = "cancelled: xcost-tui run received SIGTERM"
    assert (final.status, final.error, final.exit_code) == (RunStatus.CANCELLED, reason, 143)
    assert final.phase == "target:copa"
    lines = (run_dir / EVENTS).read_text().splitlines()
    for line in lines:
        json.loads(line)  # no half-written line
    end = json.loads(lines[-1])
    assert (end["type"], end["status"], end["error"]) == ("run_end", "cancelled", reason)


def _status(run_dir):
    try:
        return read_status(run_dir)
    except Exception:  # noqa: BLE001 - not written yet, or being replaced
        return None


def test_a_cancel_records_the_reason_asked_else_the_signal(tmp_path):
    job = Job(tmp_path)
    assert job.cancel_reason() == "cancelled by signal"
    job._on_signal(signal.SIGTERM, None)
    assert job.cancel.is_set() and job.cancel_reason() == "cancelled by SIGTERM"
    request_cancel(tmp_path, reason="cancelled: xcost-tui run received SIGHUP")
    assert job.cancel_reason() == "cancelled: xcost-tui run received SIGHUP"
