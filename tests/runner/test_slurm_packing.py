"""Packed SLURM jobs on the real one-node cluster (scripts/slurm-ci.sh): the consumers of one
producer run in one job after it (afterok kept), and cancelling one run of a pack ends that run
only. Short fake jobs (tests/support/fake_job.py) stand in for the job: the node runs each run's
command in turn (a warm worker runs the real job's: tests/job/test_worker*.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.slurm_fixtures import slurm_cluster, wait_for  # noqa: F401 - the fixture

from xcost_tui.plan import ExecutorSettings
from xcost_tui.rundir import RunStatus, read_jsonl, read_status
from xcost_tui.rundir.layout import EVENTS
from xcost_tui.runner import Scheduler
from xcost_tui.runner.slurm import SlurmExecutor
from xcost_tui.spec import RunSpec

pytestmark = [pytest.mark.usefixtures("slurm_cluster"), pytest.mark.xdist_group("slurm")]

REPO = Path(__file__).resolve().parents[2]
FAKE_JOB = REPO / "tests" / "support" / "fake_job.py"


def sched(store: Path, **settings) -> Scheduler:
    return Scheduler(
        store,
        job_command=lambda run_dir: [sys.executable, str(FAKE_JOB), str(run_dir)],
        ingest=False,
        grace_s=1.0,
        poll_s=0.1,
        env={"PYTHONPATH": str(REPO)},
        executor=SlurmExecutor(ExecutorSettings(kind="slurm", poll_s=0.5, **settings)),
    )


def specs(names: list[str]) -> list[RunSpec]:
    """One intermediate run (the producer of the rte encoder) and few-shot runs that start from it."""
    base = {"model": "tiny-xlmr", "langs": ["it"], "intermediate": ["rte"]}
    out = [RunSpec.from_dict({**base, "method": "intermediate", "name": "producer"})]
    out += [
        RunSpec.from_dict({**base, "method": "few-shot", "few_shot_k": 4, "shot_seed": i, "name": name})
        for i, name in enumerate(names)
    ]
    return out


def run_to_the_end(s: Scheduler, runs: list[RunSpec]) -> list:
    s.submit(runs)
    s.start()
    try:
        assert s.wait(180)
    finally:
        s.shutdown()
    done = s.snapshot()
    assert all(r.status == "succeeded" for r in done), [(r.label, r.error) for r in done]
    return done


def run_starts(run_dir: Path) -> list[float]:
    return [e["t"] for e in read_jsonl(run_dir / EVENTS) if e["type"] == "run_start"]


def run_ends(run_dir: Path) -> list[float]:
    return [e["t"] for e in read_jsonl(run_dir / EVENTS) if e["type"] == "run_end"]


def test_the_consumers_of_one_producer_run_in_one_job_after_it(tmp_path):
    runs = run_to_the_end(sched(tmp_path / "store"), specs(["c0", "c1", "c2"]))
    producer, *consumers = sorted(runs, key=lambda r: r.label != "producer")
    jobs = {r.job_id for r in consumers}
    assert len(jobs) == 1 and producer.job_id not in jobs, [(r.label, r.job_id) for r in runs]
    (job,) = jobs
    first = min(consumers, key=lambda r: run_starts(r.run_dir)[0])
    script = (first.run_dir / "slurm" / f"{job}_submission.sh").read_text()
    assert f"#SBATCH --dependency=afterok:{producer.job_id}" in script
    # one after another, in one job: each starts after the one before it ended
    order = sorted(consumers, key=lambda r: run_starts(r.run_dir)[0])
    for before, after in zip(order, order[1:], strict=False):
        assert run_starts(after.run_dir)[0] >= run_ends(before.run_dir)[-1]
    for r in consumers:
        assert read_status(r.run_dir).executor_job_id == job
        reused = [e for e in read_jsonl(r.run_dir / EVENTS) if e["type"] == "phase_end" and e.get("reused_from")]
        assert reused and all(e["reused_from"]["run_id"] == producer.run_id for e in reused)


def test_cancelling_one_run_of_a_pack_ends_that_run_only(tmp_path):
    s = sched(tmp_path / "store")
    runs = specs(["c0 slow", "hang", "c2"])
    s.submit(runs)
    s.start()
    hang = runs[2].run_id()
    try:
        wait_for(lambda: (s.get(hang).phase or "").startswith("few-shot:"), what="the hanging run in its phase")
        assert s.cancel(hang)
        assert s.wait(180)
    finally:
        s.shutdown()
    by_id = {r.run_id: r for r in s.snapshot()}
    assert by_id[hang].status == "cancelled", by_id[hang].error
    assert read_status(by_id[hang].run_dir).status == RunStatus.CANCELLED
    others = [r for rid, r in by_id.items() if rid != hang]
    assert all(r.status == "succeeded" for r in others), [(r.label, r.error) for r in others]
    assert len({by_id[sp.run_id()].job_id for sp in runs[1:]}) == 1
    notes = " | ".join(n.text for n in s.drain_messages())
    assert "the job's other runs go on" in notes


def test_runs_per_job_one_submits_a_job_per_run(tmp_path):
    runs = run_to_the_end(sched(tmp_path / "store", runs_per_job=1), specs(["c0", "c1"]))
    assert len({r.job_id for r in runs}) == 3
