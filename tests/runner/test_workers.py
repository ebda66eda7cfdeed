"""The scheduler with warm workers (runner/workers.py, job/worker.py) and real tiny jobs: the same
predictions as a process per run, a cancel that ends one run only, a kill that restarts a worker, a
failing run that the worker survives, re-attach after a supervisor restart."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.tiny_specs import tiny_spec

from xcost_tui.plan import load_plan
from xcost_tui.rundir import RunDir, StoreLayout, read_jsonl, read_status
from xcost_tui.rundir.worker import account_worker, read_worker_log
from xcost_tui.runner.procs import JOB_COMMAND_ENV
from xcost_tui.runner.scheduler import Scheduler
from xcost_tui.spec import HParams

pytestmark = pytest.mark.xdist_group("runner_workers")

LONG = HParams(max_examples=64, max_steps=2000, batch_size=8, max_seq_len=64)

PLAN = """
[plan]
name = "workers-vs-processes"

[defaults]
model = "tiny-xlmr"
seed = 0
langs = ["it", "qu"]
max_eval_examples = 8
eval_batch_size = 8

[defaults.hparams]
max_examples = 32
max_steps = 2
batch_size = 8
max_seq_len = 64

[defaults.intermediate_hparams]
max_examples = 32
max_steps = 2
batch_size = 8
max_seq_len = 64

[defaults.few_shot_hparams]
min_steps = 2
max_seq_len = 64

[defaults.measure]
inference_bench_examples = 2
inference_warmup = 1
curve_points = 2

[[experiment]]
name = "direct"
method = "direct"

[[experiment]]
name = "intermediate"
method = "intermediate"
intermediate = ["rte"]

[[experiment]]
name = "few-shot"
method = "few-shot"
shots = [4]
shot_seeds = [0, 1]

[[experiment]]
name = "icl"
method = "icl"
model = "tiny-gpt2"
shots = [0, 2]
hparams = { max_examples = 32 }
"""


@pytest.fixture(autouse=True)
def _real_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(JOB_COMMAND_ENV, raising=False)  # the default job command: warm workers


def scheduler(store: Path, **opts) -> Scheduler:
    return Scheduler(store, max_parallel=1, gpus=[], use_nvml=False, ingest=False, poll_s=0.1, grace_s=30, **opts)


spec = tiny_spec


def predictions(run_dir: Path) -> list[dict]:
    return read_jsonl(RunDir(run_dir).predictions)


def wait_for_phase(run_dir: Path, timeout: float = 300) -> None:
    """Until the run's first phase has started (it is inside its training loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.get("type") == "phase_start" for e in read_jsonl(RunDir(run_dir).events)):
            return
        time.sleep(0.2)
    raise AssertionError(f"{run_dir.name} did not start a phase in {timeout} s")


def job_pid(run_dir: Path) -> int:
    status = read_status(run_dir)
    assert status is not None and status.job is not None
    return status.job.pid


def test_workers_predict_exactly_what_a_process_per_run_predicts(tmp_path: Path, data_dir: Path) -> None:
    plan = load_plan(_plan_file(tmp_path), data_dir=data_dir)
    stores = {}
    for mode, per_run in (("workers", False), ("processes", True)):
        store = tmp_path / mode
        sched = scheduler(store, process_per_run=per_run)
        sched.submit(plan.runs)
        sched.start()
        assert sched.wait(1200)
        sched.shutdown()
        for live in sched.snapshot():
            assert live.status == "succeeded", (live.run_dir / "job.log").read_text()
        stores[mode] = store
    layout_w, layout_p = StoreLayout(stores["workers"]), StoreLayout(stores["processes"])
    assert len(layout_w.worker_dirs()) == 1 and not layout_p.worker_dirs()  # one slot, one worker
    for run_id in plan.run_ids():
        rows = predictions(layout_w.run_dir(run_id).path)
        assert rows, run_id
        assert rows == predictions(layout_p.run_dir(run_id).path), run_id  # bit-identical scores too
    pids = {job_pid(layout_w.run_dir(r).path) for r in plan.run_ids()}
    assert len(pids) == 1
    # the worker's CPU account: start-up, the phases, the rest (the figure; not asserted against a bar)
    (wdir,) = layout_w.worker_dirs()
    account = account_worker(wdir, layout_w.runs)
    assert len(account.runs) == len(plan.runs) and account.share is not None and 0 < account.share <= 1


def _plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(PLAN, encoding="utf-8")
    return path


def test_a_failing_run_and_a_cancel_end_one_run_each_in_one_worker(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "store"
    bad = spec(tmp_path / "no-such-data", seed=7)
    long = spec(data_dir, hparams=LONG)
    after = spec(data_dir, seed=1)
    sched = scheduler(store)
    bad_live, long_live, after_live = sched.submit([bad, long, after])
    sched.start()
    wait_for_phase(long_live.run_dir)
    assert sched.cancel(long_live.run_id)
    assert sched.wait(600)
    sched.shutdown()
    ends = {r.run_id: r for r in sched.snapshot()}
    assert ends[bad_live.run_id].status == "failed"
    assert ends[long_live.run_id].status == "cancelled"
    assert ends[after_live.run_id].status == "succeeded", (after_live.run_dir / "job.log").read_text()
    # one worker ran the three: the failure and the cancel ended their runs, not the process
    assert len({job_pid(r.run_dir) for r in (bad_live, long_live, after_live)}) == 1
    (wdir,) = StoreLayout(store).worker_dirs()
    log = _ended(wdir)
    assert [r.status for r in log.runs] == ["failed", "cancelled", "succeeded"]


def test_a_forced_cancel_kills_the_worker_and_the_next_run_gets_a_new_one(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "store"
    long_live, after_live = (sched := scheduler(store)).submit([spec(data_dir, hparams=LONG), spec(data_dir, seed=1)])
    sched.start()
    wait_for_phase(long_live.run_dir)
    killed_pid = job_pid(long_live.run_dir)
    assert sched.cancel(long_live.run_id, force=True)
    assert sched.wait(600)
    sched.shutdown()
    ends = {r.run_id: r for r in sched.snapshot()}
    assert ends[long_live.run_id].status == "cancelled"
    assert ends[after_live.run_id].status == "succeeded", (after_live.run_dir / "job.log").read_text()
    assert job_pid(after_live.run_dir) != killed_pid
    assert len(StoreLayout(store).worker_dirs()) == 2


def test_reattach_follows_a_worker_run_after_a_supervisor_restart(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "store"
    first = scheduler(store)
    (live,) = first.submit(
        [spec(data_dir, hparams=HParams(max_examples=64, max_steps=40, batch_size=8, max_seq_len=64))]
    )
    first.start()
    wait_for_phase(live.run_dir)
    first.shutdown(cancel_running=False)  # the run goes on in its worker; the worker's stdin is closed
    assert read_status(live.run_dir).status == "running"

    second = scheduler(store)
    found = second.attach_existing()
    assert [r.run_id for r in found] == [live.run_id]
    second.start()
    assert second.wait(600)
    second.shutdown()
    assert second.get(live.run_id).status == "succeeded"
    assert read_status(live.run_dir).status == "succeeded"
    (wdir,) = StoreLayout(store).worker_dirs()
    assert _ended(wdir).end.reason == "no more runs"  # it ended after the run it had


def _ended(wdir, timeout: float = 60):
    """The worker's record once it has ended (it exits after its run in hand)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = read_worker_log(wdir.record)
        if log.end is not None:
            return log
        time.sleep(0.2)
    raise AssertionError(f"worker {wdir.worker_id} did not end: {read_worker_log(wdir.record)}")


def test_a_custom_job_command_keeps_a_process_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert scheduler(tmp_path / "a").process_per_run is False
    assert scheduler(tmp_path / "b", job_command=lambda d: ["true", str(d)]).process_per_run is True
    monkeypatch.setenv(JOB_COMMAND_ENV, "true")
    assert scheduler(tmp_path / "c").process_per_run is True
    assert os.environ[JOB_COMMAND_ENV] == "true"
