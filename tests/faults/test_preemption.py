"""Trial (issue 20, item 12): a long intermediate phase preempted. The job is stopped after a resume
checkpoint, as SLURM stops it (SIGTERM) or as a node dies (SIGKILL), and launched again on the
same run directory (``xcost-tui run --out`` the same folder): it continues from the checkpoint and
ends with the same weights, predictions and per-step counts as the run that was never
interrupted, and the work the interruption lost is in the run's record and the store's costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from support.jobutil import events, phase_ends

from xcost_tui.rundir import read_jsonl, read_status

pytestmark = pytest.mark.xdist_group("preemption")

SPEC = {
    "method": "intermediate",
    "model": "tiny-xlmr",
    "intermediate": ["rte"],
    "langs": ["zh"],
    "seed": 5,
    "max_eval_examples": 8,
    "save_encoder": True,
    "hparams": {"max_examples": 16, "max_steps": 2, "batch_size": 8, "max_seq_len": 48},
    "intermediate_hparams": {
        "max_examples": 48,
        "max_steps": 8,
        "batch_size": 8,
        "micro_batch_size": 4,
        "max_seq_len": 48,
    },
    "measure": {"curve_points": 0, "inference_bench_examples": 2, "inference_warmup": 1},
}
PHASE = "intermediate:rte"


def _run(out: Path, data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    spec = out.parent / "spec.json"
    spec.write_text(json.dumps({**SPEC, "data_dir": str(data_dir)}), encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "xcost_tui",
            "run",
            "--method",
            SPEC["method"],
            "--spec",
            str(spec),
            "--out",
            str(out),
            "--store",
            str(out.parent),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def _outputs(run_dir: Path) -> dict:
    weights = run_dir / "checkpoints" / "intermediate" / "model.safetensors"
    ends = phase_ends(run_dir)
    counts = ("examples", "steps", "tokens_padded", "flops_analytic")
    return {
        "weights": weights.read_bytes() if weights.exists() else sorted(p.name for p in weights.parent.iterdir()),
        "predictions": [(r["phase"], r["idx"], r["scores"]) for r in read_jsonl(run_dir / "predictions.jsonl")],
        "counts": {
            name: [e["costs"][c]["value"] for c in counts]
            for name, e in ends.items()
            if e["kind"] in ("intermediate", "target")
        },
    }


@pytest.fixture(scope="module")
def whole(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("whole") / "run"
    proc = _run(out, data_dir, XCOST_CHECKPOINT_EVERY_MIN="0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_a_preempted_intermediate_phase_resumes_with_identical_results(whole, tmp_path, data_dir):
    """SIGTERM (SLURM's preemption) after a periodic checkpoint: the job checkpoints where it stops;
    the re-launch continues from there. (A SIGKILL's resume from the periodic one, and its lost
    work read from the events: tests/job/test_checkpoint.py.)"""
    sig = "TERM"
    out = tmp_path / "run"
    stopped = _run(out, data_dir, XCOST_CHECKPOINT_EVERY_STEPS="3", XCOST_TEST_SIGNAL_AT_STEP=f"{sig}:5")
    assert stopped.returncode != 0
    assert PHASE not in phase_ends(out)  # stopped inside the phase
    saved = [e["step"] for e in events(out) if e["type"] == "checkpoint_saved" and e["kind"] == "resume"]
    assert saved == [3, 5]  # a checkpoint at step 3; SIGTERM checkpoints again where it stops (step 5)

    resumed = _run(out, data_dir, XCOST_CHECKPOINT_EVERY_STEPS="3")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert read_status(out).status.value == "succeeded"
    assert _outputs(out) == _outputs(whole)
    assert not (out / "checkpoints" / "resume").exists()  # a succeeded run keeps no resume checkpoint

    (event,) = [e for e in events(out) if e["type"] == "resumed"]
    assert event["phase"] == PHASE and event["attempt"] == 2
    assert event["step"] == 5 and event["lost_source"] == "interruption"
    # the step it interrupted is lost: none of its micro-batches ran (0 FLOPs), some time passed
    assert event["lost_s"] is not None and event["lost_s"] >= 0 and event["lost_flops"] == 0
    end = phase_ends(out)[PHASE]
    costs = end["costs"]
    assert costs["lost_wall_s"]["value"] == pytest.approx(event["lost_s"])
    assert costs["wall_s"]["value"] == pytest.approx(costs["wall_s"]["useful_s"] + event["lost_s"])
    assert costs["checkpoint_s"]["value"] > 0
    assert end["info"]["resumed"]["attempts"] == 2

    proc = subprocess.run(
        [sys.executable, "-m", "xcost_tui", "ingest", "--store", str(tmp_path), str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(tmp_path / "xcost.duckdb"), read_only=True) as con:
        row = con.execute(
            "SELECT r.resumes, r.status, p.lost_wall_s, p.checkpoint_s, p.wall_s, r.lost_wall_s"
            " FROM runs r JOIN phases p USING (run_id)"
            f" WHERE p.phase = '{PHASE}'"
        ).fetchone()
    assert row[0] == 1 and row[1] == "succeeded"
    assert row[2] == pytest.approx(event["lost_s"]) and row[3] > 0 and row[4] >= row[2]
    assert row[5] == pytest.approx(event["lost_s"])


def _fake_checkpoint(run_dir: Path) -> None:
    point = run_dir / "checkpoints" / "resume" / "1"
    point.mkdir(parents=True)
    (point / "state.pt").write_bytes(b"")
    (point / "resume.json").write_text(json.dumps({"phase": PHASE, "step": 3, "t": 0.0}), encoding="utf-8")


def test_the_slurm_time_limit_stops_a_checkpointed_run_and_requeues_it(tmp_path):
    """submitit's time-out signal on the node (SlurmRun.checkpoint): a run with a resume checkpoint
    is stopped now (SIGTERM: it checkpoints where it is) and the SLURM job requeued, its status
    running meanwhile; a run without one is not requeued."""
    import submitit

    from xcost_tui.runner.slurm import SlurmRun

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # a run that ends by itself at the limit
    assert SlurmRun(cmd=[], run_dir=str(run_dir), _pid=child.pid).checkpoint() is None  # waited for, not requeued
    assert child.wait() == 0  # not signalled

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    _fake_checkpoint(run_dir)
    node = SlurmRun(cmd=[], run_dir=str(run_dir), _pid=child.pid)
    again = node.checkpoint()
    assert child.wait(timeout=30) == -15  # stopped with SIGTERM, not left to the limit's kill
    assert isinstance(again, submitit.helpers.DelayedSubmission) and again.function is node
    status = read_status(run_dir)
    assert status.status.value == "running" and status.executor_state == "REQUEUED"


def test_a_relaunched_run_with_a_resume_checkpoint_is_not_archived(tmp_path):
    """The scheduler's launch keeps the run directory of an interrupted run that left a resume
    checkpoint (the job continues from it there); one without is archived as before."""
    from xcost_tui.rundir import RunStatus, update_status
    from xcost_tui.runner import storage

    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    update_status(run_dir, RunStatus.CANCELLED)
    assert storage.resumable(run_dir, read_status(run_dir)) is None
    _fake_checkpoint(run_dir)
    point = storage.resumable(run_dir, read_status(run_dir))
    assert point is not None and point.phase == PHASE and point.step == 3
    update_status(run_dir, RunStatus.SUCCEEDED)
    assert storage.resumable(run_dir, read_status(run_dir)) is None  # a rerun of a succeeded run starts afresh


def test_the_checkpoint_interval_is_an_executor_setting_outside_the_run_id(tmp_path):
    """``[executor] checkpoint_every_min`` reaches the job's environment and changes no run id."""
    from xcost_tui.plan import loads_plan
    from xcost_tui.rundir.resume import EVERY_MIN_ENV
    from xcost_tui.runner.scheduler import Scheduler

    text = '[[experiment]]\nmethod = "direct"\nmodel = "tiny-xlmr"\n'
    plan = loads_plan("[executor]\ncheckpoint_every_min = 5\n" + text)
    assert plan.executor.checkpoint_every_min == 5.0
    assert [s.run_id() for s in plan.runs] == [s.run_id() for s in loads_plan(text).runs]
    sched = Scheduler(tmp_path, executor=plan.executor, ingest=False, use_nvml=False)
    assert sched.extra_env[EVERY_MIN_ENV] == "5"
    with pytest.raises(Exception, match="checkpoint_every_min: expected minutes"):
        loads_plan("[executor]\ncheckpoint_every_min = -1\n" + text)
