"""A full or read-only store: the cause is said once ("no space left on <path>", "read-only:
<path>"), no further run is started, running runs keep their true status, nothing written is
lost, and the supervisor stops instead of looping.

Unit tests replace the writers with ones raising OSError(ENOSPC/EROFS), so every machine covers
the logic; the tmpfs tests (root only: ``mount -t tmpfs``) run the real thing on a small disk."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xcost_tui.errors import write_error
from xcost_tui.plan import load_plan
from xcost_tui.rundir import read_jsonl, read_status
from xcost_tui.rundir.layout import EVENTS
from xcost_tui.runner import claims as claims_mod
from xcost_tui.runner import outcome, storage
from xcost_tui.runner import scheduler as sch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.disks import disks, fill  # noqa: F401 - disks: a fixture
from support.headless import cli_env, write_plan  # noqa: E402
from test_runner import make_sched, spec, wait_for  # noqa: E402


def full(path) -> Exception:
    return write_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), path)


def read_only(path) -> Exception:
    return write_error(OSError(errno.EROFS, os.strerror(errno.EROFS)), path)


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


def _texts(notes) -> str:
    return "\n".join(n.text for n in notes)


def _no_litter(store: Path) -> None:
    if store.exists():
        assert not [p for p in store.rglob("*.tmp")], "no temporary files left"
        locks = store / "locks"
        assert not locks.exists() or not any(locks.iterdir()), "every claim released"


# ---- the logic, with writers that fail ------------------------------------------------------------


def test_a_full_disk_at_launch_is_said_once_and_nothing_starts(store, monkeypatch):
    calls = []

    def no_space(run_dir, status, **changes):
        calls.append(str(status))
        raise full(Path(run_dir) / "status.json")

    monkeypatch.setattr(storage, "update_status", no_space)
    specs = [spec("ok", seed=90 + i) for i in range(3)]
    sched = make_sched(store)
    sched.submit(specs)
    sched.start()
    try:
        assert sched.wait(20), "the supervisor stops instead of retrying forever"
    finally:
        sched.shutdown()
    notes = sched.drain_messages()
    errors = [n for n in notes if n.level == "error"]
    assert len(errors) == 1 and errors[0].text.startswith("no space left on "), _texts(notes)
    assert _texts(notes).count("no space left on") == 1
    assert calls == ["running"], "one attempt, not a loop"
    for s in specs:
        run = sched.get(s.run_id())
        assert run.status == "cancelled" and run.error.startswith("not started"), run
        assert not (store / "runs" / s.run_id()).exists(), "what the failed launch wrote is removed"
    assert sched.storage_error.startswith("no space left on ")
    _no_litter(store)


def test_a_read_only_store_is_said_once_and_the_previous_attempt_is_kept(store, monkeypatch):
    s = spec("raise", seed=91)
    first = make_sched(store)
    first.submit([s])
    first.start()
    assert first.wait(30)
    first.shutdown()
    run_dir = store / "runs" / s.run_id()
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert read_status(run_dir).status == "failed"

    def refuse(path, obj):
        raise read_only(path)

    monkeypatch.setattr(storage, "write_json_atomic", refuse)
    other = spec("ok", seed=92)
    again = make_sched(store)
    again.submit([s, other])  # the failed run is due again: it would be archived and rerun
    again.start()
    try:
        assert again.wait(20)
    finally:
        again.shutdown()
    notes = again.drain_messages()
    assert _texts(notes).count("read-only: ") == 1, _texts(notes)
    assert [n.level for n in notes if "read-only: " in n.text] == ["error"]
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert after == before, "the previous attempt is back in place, byte for byte"
    archive = store / "archive"
    assert not archive.exists() or not any(archive.iterdir())
    assert again.get(other.run_id()).status == "cancelled" and not (store / "runs" / other.run_id()).exists()
    _no_litter(store)


def test_the_end_of_a_run_is_recorded_with_the_claims_reserve(store, monkeypatch):
    """The job cannot record its end (it exits 3); the supervisor's own write fails once for
    want of space, frees its reserve and records it."""
    real = storage.update_status
    failed_once = []
    freed = []

    def first_final_write_fails(run_dir, status, **changes):
        if str(status) == "failed" and not failed_once:
            failed_once.append(1)
            raise full(Path(run_dir) / "status.json")
        return real(run_dir, status, **changes)

    real_free = claims_mod.Claim.free_reserve

    def free(self):
        freed.append(self.run_id)
        return real_free(self)

    monkeypatch.setattr(storage, "update_status", first_final_write_fails)
    monkeypatch.setattr(claims_mod.Claim, "free_reserve", free)
    s = spec("die", seed=93)
    sched = make_sched(store)
    sched.submit([s])
    sched.start()
    try:
        assert sched.wait(20)
    finally:
        sched.shutdown()
    status = read_status(store / "runs" / s.run_id())
    assert status.status == "failed" and "exit code 3" in status.error
    assert freed == [s.run_id()]
    _no_litter(store)


def test_an_end_that_cannot_be_written_is_said_and_repaired_later(store, monkeypatch):
    real = storage.update_status

    def finals_fail(run_dir, status, **changes):
        if str(status) == "failed":
            raise full(Path(run_dir) / "status.json")
        return real(run_dir, status, **changes)

    monkeypatch.setattr(storage, "update_status", finals_fail)
    s, queued = spec("die", seed=94), spec("ok", seed=95)
    sched = make_sched(store)
    sched.submit([s, queued])
    sched.start()
    try:
        assert sched.wait(20)
    finally:
        sched.shutdown()
    notes = sched.drain_messages()
    assert _texts(notes).count("no space left on") == 1, _texts(notes)
    assert any(n.level == "error" and "could not be written to status.json" in n.text for n in notes)
    assert sched.get(s.run_id()).status == "failed"
    assert sched.get(queued.run_id()).status == "cancelled" and not (store / "runs" / queued.run_id()).exists()
    assert read_status(store / "runs" / s.run_id()).status == "running", "the job's own last word, untouched"
    monkeypatch.setattr(storage, "update_status", real)
    later = make_sched(store)
    (found,) = later.attach_existing(store)
    later.shutdown()
    assert found.status == "failed" and read_status(store / "runs" / s.run_id()).error == outcome.DISAPPEARED


def test_a_job_that_could_not_write_stops_the_queue(store):
    """Exit code 3 is the job's "I could not record my end" (job/main.py): the store is full or
    read-only for runs, so the next ones are not started."""
    dying, queued = spec("die", seed=98), spec("ok", seed=99)
    sched = make_sched(store)
    sched.submit([dying, queued])
    sched.start()
    try:
        assert sched.wait(20)
    finally:
        sched.shutdown()
    notes = sched.drain_messages()
    (error,) = [n for n in notes if n.level == "error"]
    assert "its job could not write its run directory (exit code 3" in error.text and "job.log" in error.text
    assert read_status(store / "runs" / dying.run_id()).status == "failed"
    assert sched.get(queued.run_id()).status == "cancelled" and not (store / "runs" / queued.run_id()).exists()
    assert sched.storage_error is not None


def test_a_sample_that_cannot_be_written_is_said_once_in_the_jobs_log(store):
    """The sampler runs beside the job (measure/sampler.py), not in the supervisor: a samples.jsonl
    it cannot write is the job's business, said once in its log; the run and the queue go on."""
    running, queued = spec("slow blocksamples", seed=96), spec("ok", seed=97)
    sched = make_sched(store, sample_hz=20)
    sched.submit([running, queued])
    sched.start()
    try:
        assert sched.wait(60)
    finally:
        sched.shutdown()
    assert sched.get(running.run_id()).status == "succeeded", "a run whose samples cannot be written goes on"
    assert sched.get(queued.run_id()).status == "succeeded", "the supervisor writes no samples: the queue goes on"
    log = (store / "runs" / running.run_id() / "job.log").read_text()
    assert log.count("no samples until samples.jsonl can be written") == 1, log
    assert sched.storage_error is None


def test_an_error_in_the_control_loop_is_said_once(store, monkeypatch):
    def broken(self):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(sch.Scheduler, "_step", broken)
    sched = make_sched(store, poll_s=0.01)
    sched.start()
    try:
        wait_for(lambda: any("scheduler: " in str(n) for n in list(sched._messages)), what="the loop to fail")
        time.sleep(0.3)  # thirty more polls: still one note
    finally:
        sched._stop.set()
        sched._wake.set()
        sched._thread.join(5)
    notes = [n for n in sched.drain_messages() if "scheduler: " in str(n)]
    assert len(notes) == 1 and notes[0].level == "warning", [str(n) for n in notes]


# ---- a real small filesystem ------------------------------------------------------------------------


PLAN3 = """
[defaults]
model = "tiny-xlmr"
langs = ["it"]

[[experiment]]
name = "first-slow"
method = "direct"

[[experiment]]
name = "second"
method = "direct"
seed = 1

[[experiment]]
name = "third-raise"
method = "direct"
seed = 2
"""


def _headless(plan: Path, store: Path, tmp_path: Path, timeout: float = 120, **env: str):
    return subprocess.run(
        [sys.executable, "-m", "xcost_tui", "--headless", str(plan), "--store", str(store)],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path, **env),
        cwd=tmp_path,
        timeout=timeout,
    )


def test_a_full_disk_stops_headless_cleanly(tmp_path, disks):
    store = disks.mount("200k") / "store"
    store.mkdir()
    fill(store.parent)
    plan = write_plan(tmp_path, PLAN3)
    proc = _headless(plan, store, tmp_path, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert out.count("no space left on") == 1 and "error: no space left on " in out, out
    assert "Traceback" not in out
    runs = store / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "no run was started"
    _no_litter(store)


def test_a_read_only_store_stops_headless_and_changes_nothing(tmp_path, disks):
    disk = disks.mount("4m")
    store = disk / "store"
    plan = write_plan(tmp_path, PLAN3)
    first = _headless(plan, store, tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr  # third-raise failed: due again
    before = {p: p.read_bytes() for p in (store / "runs").rglob("*") if p.is_file()}
    remount = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
    if remount.returncode != 0:
        pytest.skip(f"cannot remount read-only ({remount.stderr.strip()})")
    proc = _headless(plan, store, tmp_path, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert out.count("read-only: ") == 1 and "error: read-only: " in out, out
    assert "Traceback" not in out
    after = {p: p.read_bytes() for p in (store / "runs").rglob("*") if p.is_file()}
    assert after == before, "every file of every run is as it was"


def test_a_disk_that_fills_during_a_run(tmp_path, disks):
    disk = disks.mount("600k")
    store = disk / "store"
    plan = write_plan(tmp_path, PLAN3)
    first_id = load_plan(plan).run_ids()[0]
    cmd = [sys.executable, "-m", "xcost_tui", "--headless", str(plan), "--store", str(store)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(tmp_path, FAKE_JOB_STEPS="40"),
        cwd=tmp_path,
    )
    try:
        wait_for(
            lambda: (st := _status(store / "runs" / first_id)) is not None and st.phase == "target:copa",
            timeout=60,
            what="the first run's target phase",
        )
        events_then = [e for e in read_jsonl(store / "runs" / first_id / EVENTS)]
        fill(disk)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert out.count("no space left on") == 1 and "error: no space left on " in out, out
    assert "Traceback" not in out
    status = read_status(store / "runs" / first_id)
    assert status.status.final, "the run's end is recorded although the disk is full"
    events_now = read_jsonl(store / "runs" / first_id / EVENTS)
    assert events_now[: len(events_then)] == events_then, "nothing already written is lost"
    for later in load_plan(plan).run_ids()[1:]:
        assert not (store / "runs" / later).exists(), "no further run is started"
    _no_litter(store)


def _status(run_dir: Path):
    try:
        return read_status(run_dir)
    except Exception:  # noqa: BLE001 - being replaced
        return None
