"""Process identity: a pid recorded in status.json that now belongs to an unrelated process is
never adopted as the job, and never signalled (runner/procs.py ``identify``/``signal_group``)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from xcost_tui.rundir import ProcessRef, RunStatus, read_status, update_status
from xcost_tui.runner import procs
from xcost_tui.runner.outcome import DISAPPEARED

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_runner import in_phase, make_sched, spec, wait_for  # noqa: E402


@pytest.fixture
def sleeper():
    """An unrelated process (not a job) whose pid the tests write into status.json files."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def _write_old_status(run_dir: Path, pid: int) -> None:
    """status.json as versions before create times were recorded wrote it: a bare pid."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "status.json").write_text(
        json.dumps({"status": "running", "pid": pid, "started": time.time() - 5, "updated": time.time() - 5})
    )


def test_a_reused_pid_is_not_adopted_and_never_signalled(tmp_path, sleeper):
    store = tmp_path / "store"
    created = psutil.Process(sleeper.pid).create_time()
    # 1. status.json names the sleeper's pid with another create time: the job's pid, reused since
    reused = store / "runs" / "direct-tiny-xlmr-s0-reused0001"
    reused.mkdir(parents=True)
    update_status(
        reused,
        RunStatus.RUNNING,
        job=ProcessRef(sleeper.pid, created - 1000.0, socket.gethostname()),
        started=time.time() - 5,
    )
    # 2. an old status.json: the pid alone, no create time
    old = store / "runs" / "direct-tiny-xlmr-s0-oldstatus01"
    _write_old_status(old, sleeper.pid)
    # 3. a plan run whose directory names the sleeper: submitted, then run afresh
    s = spec("hang", seed=70)
    queued_dir = store / "runs" / s.run_id()
    _write_old_status(queued_dir, sleeper.pid)

    sched = make_sched(store)
    found = {r.run_id: r for r in sched.attach_existing(store)}
    (live,) = sched.submit([s])
    sched.start()
    try:
        for run_dir in (reused, old):
            run = found[run_dir.name]
            assert run.status == "failed" and not run.attached, run
            assert run.error == DISAPPEARED
            assert read_status(run_dir).status == "failed" and read_status(run_dir).error == DISAPPEARED
        assert not live.attached and live.status == "queued", "not adopted: queued to run afresh"
        wait_for(in_phase(sched, s.run_id()), what="the fresh attempt's target phase")
        assert sched.get(s.run_id()).pid != sleeper.pid
        for run_dir in (reused, old):
            assert not sched.cancel(run_dir.name), "a run recorded as failed is not cancellable"
        assert sched.cancel(s.run_id())
        assert sched.wait(30)
    finally:
        sched.shutdown(cancel_running=True)
    assert read_status(queued_dir).status == "cancelled"
    assert sleeper.poll() is None, "the unrelated process was never signalled"
    psutil.Process(sleeper.pid).status()  # still there, not a zombie of a signal


def test_identify_checks_create_time_or_the_command_line(tmp_path, sleeper):
    run_dir = tmp_path / "runs" / "direct-tiny-xlmr-s0-abcdef0123"
    created = psutil.Process(sleeper.pid).create_time()
    here = socket.gethostname()
    assert procs.identify(ProcessRef(sleeper.pid, created, here), run_dir) == ProcessRef(sleeper.pid, created, here)
    assert procs.identify(ProcessRef(sleeper.pid, created - 50, here), run_dir) is None
    assert procs.identify(ProcessRef(sleeper.pid), run_dir) is None, "no create time, no run dir on its command line"
    assert not procs.alive(ProcessRef(sleeper.pid)), "an identity that cannot be checked is not alive"
    assert procs.identify(ProcessRef(sleeper.pid, 1.0, "another-host"), run_dir) is not None, (
        "a process on another host cannot be seen: it is not declared dead"
    )
    assert not procs.signal_group(ProcessRef(sleeper.pid, 1.0, "another-host"), signal.SIGTERM)
    assert not procs.signal_group(ProcessRef(sleeper.pid), signal.SIGTERM)
    assert not procs.signal_group(ProcessRef(sleeper.pid, created - 50, here), signal.SIGTERM)
    assert sleeper.poll() is None

    # an old job (pid only) whose command line names its run directory is vouched for
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(run_dir)])
    try:
        wait_for(lambda: str(run_dir) in " ".join(psutil.Process(job.pid).cmdline()), what="the command line")
        found = procs.identify(ProcessRef(job.pid), run_dir, written=time.time())
        assert found is not None and found.pid == job.pid and found.create_time is not None
        assert procs.alive(found)
        assert procs.identify(ProcessRef(job.pid), run_dir, written=time.time() - 3600) is None, (
            "started after its status was written: not the process that status names"
        )
    finally:
        job.kill()
        job.wait()
