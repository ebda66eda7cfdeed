"""Claims: one supervisor launches and follows a run; a second one on the same store follows it
as running elsewhere and never writes it (runner/claims.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xcost_tui.plan import load_plan
from xcost_tui.rundir import StoreLayout, read_jsonl, read_status
from xcost_tui.rundir.layout import EVENTS, PREDICTIONS
from xcost_tui.runner.claims import RESERVE_BYTES, Claims

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from support.headless import cli_env, write_plan  # noqa: E402


def wait_for(pred, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# ---- the lock itself ----------------------------------------------------------------------------


def test_one_holder_at_a_time_and_the_holder_is_recorded(tmp_path):
    a, b = Claims(tmp_path), Claims(tmp_path)
    first = a.try_take("run-1")
    assert first is not None and first.held
    assert b.try_take("run-1") is None, "a second taker, even in the same process, is refused"
    assert a.try_take("run-1") is None, "and so is the holder's own second try"
    assert b.try_take("run-2") is not None, "claims are per run"
    holder = b.holder("run-1")
    assert holder is not None and holder.pid == os.getpid() and holder.create_time and holder.host
    first.release()
    assert not first.held and not StoreLayout(tmp_path).lock_file("run-1").exists()
    again = b.try_take("run-1")
    assert again is not None
    again.release()


def test_a_crashed_holder_leaves_the_run_claimable_and_jobs_do_not_inherit_it(tmp_path):
    """The kernel drops the flock with its holder, and a job spawned by the holder does not
    keep it (close-on-exec): a job outliving its supervisor leaves the run claimable."""
    code = (
        f"import sys, subprocess, time; sys.path.insert(0, {str(REPO)!r}); "
        "from xcost_tui.runner.claims import Claims; "
        f"c = Claims({str(tmp_path)!r}).try_take('run-1'); assert c is not None; "
        "child = subprocess.Popen(['sleep', '60'], start_new_session=True); "
        "print(child.pid, flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child_pid = int(holder.stdout.readline())
    try:
        assert Claims(tmp_path).try_take("run-1") is None, "held by the other process"
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        claim = wait_for(lambda: Claims(tmp_path).try_take("run-1"), what="the claim to be free")
        os.kill(child_pid, 0)  # the holder's child still runs, yet the claim is free
        claim.release()
    finally:
        os.kill(child_pid, signal.SIGKILL)


def test_the_reserve_is_allocated_and_freed(tmp_path):
    claim = Claims(tmp_path).try_take("run-1")
    path = claim.path
    small = path.stat().st_size
    claim.reserve()
    assert path.stat().st_size == small + RESERVE_BYTES
    assert claim.free_reserve() and path.stat().st_size == small
    assert not claim.free_reserve(), "freed once"
    claim.release()


# ---- two supervisors on one store ------------------------------------------------------------------


def _statuses_and_counts(store: Path, run_ids: list[str]) -> dict[str, tuple]:
    out = {}
    for rid in run_ids:
        run_dir = store / "runs" / rid
        events = read_jsonl(run_dir / EVENTS)
        preds = read_jsonl(run_dir / PREDICTIONS)
        evals = [e for e in events if e["type"] == "eval_result"]
        out[rid] = (
            read_status(run_dir).status,
            sum(e["type"] == "run_start" for e in events),
            len(preds),
            sum(e["n"] for e in evals),
            len({(p["phase"], p["idx"]) for p in preds}),
        )
    return out


def test_two_headless_supervisors_of_one_plan_run_each_run_once(tmp_path):
    """Found by a stress test: two ``--headless`` of the same plan a few seconds apart both
    launched the next run (two jobs in one run directory, each archiving the other's)."""
    pytest.importorskip("duckdb")
    plan = write_plan(tmp_path)
    store = tmp_path / "s"
    env = cli_env(tmp_path, FAKE_JOB_STEP_S="0.1", FAKE_JOB_STEPS="5")
    cmd = [sys.executable, "-m", "xcost_tui", "--headless", str(plan), "--store", str(store)]
    run_ids = load_plan(plan).run_ids()
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    second = None
    try:
        # the second starts while the first runs its first run, with the rest of the plan queued
        wait_for(
            lambda: (st := _status(store, run_ids[0])) is not None and st.status == "running",
            what="the first supervisor's first run",
        )
        second = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path
        )
        out2, _ = second.communicate(timeout=240)
        out1, _ = first.communicate(timeout=240)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
    assert first.returncode == 0, out1
    assert second.returncode == 0, out2
    counts = _statuses_and_counts(store, run_ids)
    for rid, (status, starts, preds, evaluated, distinct) in counts.items():
        assert status == "succeeded", (rid, out1, out2)
        assert starts == 1, f"{rid}: {starts} run_start events\n{out1}\n{out2}"
        assert preds == evaluated == distinct, f"{rid}: predictions doubled ({preds} for {evaluated} evaluated)"
    assert not (store / "archive").exists() or not any((store / "archive").iterdir()), "nothing archived"
    launched = out1.count("): started (pid") + out2.count("): started (pid")
    assert launched == len(run_ids), f"each run launched once\n{out1}\n{out2}"
    both = out1 + out2
    assert "followed here, not started again" in both or "in another supervisor meanwhile" in both, both

    from xcost_tui.store.db import connect_ro

    with connect_ro(store) as con:
        dup_runs = con.sql("SELECT run_id FROM runs GROUP BY run_id HAVING count(*) > 1").fetchall()
        dup_preds = con.sql("SELECT run_id, phase, idx FROM predictions GROUP BY ALL HAVING count(*) > 1").fetchall()
        per_run = dict(con.sql("SELECT run_id, count(*) FROM predictions GROUP BY run_id").fetchall())
        starts = dict(
            con.sql("SELECT run_id, count(*) FROM events WHERE type = 'run_start' GROUP BY run_id").fetchall()
        )
    assert dup_runs == [] and dup_preds == []
    assert per_run == {rid: counts[rid][2] for rid in run_ids}
    assert starts == {rid: 1 for rid in run_ids}


def _status(store: Path, run_id: str):
    try:
        return read_status(store / "runs" / run_id)
    except Exception:  # noqa: BLE001 - being written
        return None
