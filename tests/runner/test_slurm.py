"""Plans on a real one-node SLURM cluster (scripts/slurm-ci.sh): the same rows as local, shared
phases through afterok, scancel, a supervisor killed and started again, a time limit, and the
demo plan with the real tiny-xlmr job (the acceptance: ``xcost-tui --headless demo --executor slurm``).

Short fake jobs (tests/support/fake_job.py) stand in for the job except in the acceptance test. Skipped
with the reason where no cluster can be started (not root, no packages).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from support.slurm_fixtures import slurm_cluster, wait_for  # noqa: F401 - the fixture
from support.timeouts import E2E_COMMAND_TIMEOUT_S
from support.tui import std_store, std_store_master  # noqa: F401 - fixtures

from xcost_tui.plan import ExecutorSettings, loads_plan
from xcost_tui.rundir import RunStatus, read_jsonl, read_status
from xcost_tui.rundir.layout import EVENTS
from xcost_tui.runner import Scheduler
from xcost_tui.runner.slurm import SlurmExecutor

# one worker: the tests share one SLURM cluster (its queue and its node's CPUs), started once
pytestmark = [pytest.mark.usefixtures("slurm_cluster"), pytest.mark.xdist_group("slurm")]

REPO = Path(__file__).resolve().parents[2]
FAKE_JOB = REPO / "tests" / "support" / "fake_job.py"


def fake_cmd(run_dir: Path) -> list[str]:
    return [sys.executable, str(FAKE_JOB), str(run_dir)]


def slurm(**kw) -> SlurmExecutor:
    return SlurmExecutor(ExecutorSettings(kind="slurm", poll_s=0.5, **kw))


def sched(store: Path, executor=None, **kw) -> Scheduler:
    opts = dict(
        job_command=fake_cmd,
        ingest=False,
        grace_s=1.0,
        poll_s=0.1,
        env={"PYTHONPATH": str(REPO)},
        executor=executor or slurm(),
    )
    opts.update(kw)
    return Scheduler(store, **opts)


def sacct(job_ids) -> dict[str, dict[str, str]]:
    """sacct's record of jobs (accounting reaches slurmdbd a moment after the controller)."""
    fields = ["JobID", "JobName", "State", "Start", "End", "Submit"]
    out = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-j", ",".join(job_ids), "-o", ",".join(fields)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {}
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == len(fields):
            rows[parts[0]] = dict(zip(fields, parts))
    return rows


def rows(store: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(store / "xcost.duckdb"), read_only=True)
    try:
        return sorted(con.execute(sql).fetchall(), key=repr)
    finally:
        con.close()


PLAN = """
[plan]
name = "slurm-fake"
[defaults]
model = "tiny-xlmr"
langs = ["it", "zh"]
eval_english = true
[[experiment]]
name = "direct"
method = "direct"
[[experiment]]
name = "inter"
method = "intermediate"
intermediate = ["rte"]
learning_rates = [3e-5, 1e-5]   # the target phase differs; the intermediate phase is shared
"""


def run_headless(plan_text: str, store: Path, executor: str, tmp_path: Path, **kw) -> tuple[int, str]:
    from xcost_tui.headless import headless_command

    plan = tmp_path / f"plan-{executor}.toml"
    plan.write_text(plan_text)
    out = io.StringIO()
    opts = dict(job_command=fake_cmd, env={"PYTHONPATH": str(REPO)}, poll_s=0.1, grace_s=1.0)
    if executor == "slurm":
        opts["executor"] = slurm()
    rc = headless_command(str(plan), store, scheduler_options=opts, out=out, executor=executor, **kw)
    return rc, out.getvalue()


# ---- the same plan, the same rows ----------------------------------------------------------------


def test_a_plan_through_slurm_ends_with_the_same_rows_as_through_local(tmp_path):
    local, remote = tmp_path / "local", tmp_path / "slurm"
    rc_l, out_l = run_headless(PLAN, local, "local", tmp_path)
    rc_s, out_s = run_headless(PLAN, remote, "slurm", tmp_path)
    assert rc_l == 0, out_l
    assert rc_s == 0, out_s
    assert "submitted to SLURM (job" in out_s and "executor: SLURM" in out_s
    same = {
        "runs": "SELECT run_id, name, method, model, seed, status, phases_done, init_from IS NOT NULL FROM runs",
        "phases": "SELECT run_id, phase, kind, completed, reused_from_run FROM phases",
        "evals": "SELECT run_id, phase, task, lang, split, accuracy, n, correct FROM evals",
        "predictions": "SELECT run_id, phase, lang, idx, pred, label, correct FROM predictions",
        "leaderboard": "SELECT run_id, status, avg_accuracy, en_accuracy, reused_phases FROM leaderboard",
    }
    for name, sql in same.items():
        assert rows(remote, sql) == rows(local, sql), name
    assert {r[0] for r in rows(remote, "SELECT executor FROM runs")} == {"slurm"}
    assert {r[0] for r in rows(local, "SELECT executor FROM runs")} == {"local"}
    ids = rows(remote, "SELECT executor_job_id, executor_state FROM runs")
    assert all(j is not None and state == "COMPLETED" for j, state in ids)


# ---- shared intermediate phases: afterok -----------------------------------------------------------


def test_a_shared_intermediate_phase_runs_once_and_its_dependant_starts_after_it(tmp_path):
    store = tmp_path / "store"
    plan = loads_plan(PLAN.replace('[[experiment]]\nname = "direct"\nmethod = "direct"\n', ""))
    s = sched(store)
    s.submit(plan.runs)
    s.start()
    try:
        assert s.wait(120)
    finally:
        s.shutdown()
    runs = {r.run_id: r for r in s.snapshot()}
    assert all(r.status == "succeeded" for r in runs.values()), [(r.label, r.error) for r in runs.values()]
    producer = next(r for r in runs.values() if r.save_encoder)
    (consumer,) = [r for r in runs.values() if r is not producer]
    assert consumer.depends_on == producer.job_id and consumer.init_from
    script = (consumer.run_dir / "slurm" / f"{consumer.job_id}_submission.sh").read_text()
    assert f"#SBATCH --dependency=afterok:{producer.job_id}" in script
    assert "#SBATCH --kill-on-invalid-dep=yes" in script
    acct = wait_for(
        lambda: (
            (a := sacct([producer.job_id, consumer.job_id]))
            and all(a.get(j, {}).get("End", "Unknown") != "Unknown" for j in (producer.job_id, consumer.job_id))
            and a
        ),
        what="sacct's record of both jobs",
    )
    assert acct[consumer.job_id]["Start"] >= acct[producer.job_id]["End"], acct
    events = read_jsonl(consumer.run_dir / EVENTS)
    reused = [e for e in events if e["type"] == "phase_end" and e.get("reused_from")]
    assert [e["phase"] for e in reused] == ["intermediate:rte"]
    assert reused[0]["reused_from"]["run_id"] == producer.run_id
    trained = [
        e
        for e in read_jsonl(producer.run_dir / EVENTS)
        if e["type"] == "phase_start" and e["phase"].startswith("intermediate:")
    ]
    assert len(trained) == 1


def test_a_failed_producer_fails_its_dependants_with_the_reason(tmp_path):
    store = tmp_path / "store"
    plan = loads_plan(
        PLAN.replace('[[experiment]]\nname = "direct"\nmethod = "direct"\n', "").replace(
            'name = "inter"', 'name = "raise"'
        )
    )
    s = sched(store)
    s.submit(plan.runs)
    s.start()
    try:
        assert s.wait(120)
    finally:
        s.shutdown()
    runs = {r.run_id: r for r in s.snapshot()}
    producer = next(r for r in runs.values() if r.save_encoder)
    (consumer,) = [r for r in runs.values() if r is not producer]
    assert producer.status == "failed" and "fake failure in intermediate:rte" in producer.error
    assert consumer.status == "failed", consumer
    assert "not started" in consumer.error and producer.label in consumer.error and "dependency" in consumer.error
    status = read_status(consumer.run_dir)
    assert status.status == RunStatus.FAILED and status.executor_state == "CANCELLED"
    assert not [e for e in read_jsonl(consumer.run_dir / EVENTS) if e["type"] == "run_start"], "never started"


# ---- scancel ---------------------------------------------------------------------------------------


def test_scancel_of_a_running_job_ends_it_as_cancelled_and_the_rest_finishes(tmp_path):
    from xcost_tui.spec import RunSpec

    store = tmp_path / "store"
    specs = [
        RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "langs": ["it"], "seed": i, "name": name})
        for i, name in enumerate(["hang outside", "hang inside", "ok"])
    ]
    s = sched(store)
    s.submit(specs)
    s.start()
    try:
        ids = [sp.run_id() for sp in specs]
        for rid in ids[:2]:
            wait_for(lambda rid=rid: (s.get(rid).phase or "").startswith("target:"), what=f"{rid} in its target phase")
        subprocess.run(["scancel", s.get(ids[0]).job_id], check=True)  # a user's scancel
        assert s.cancel(ids[1])  # the app's or headless's cancel: scancel too
        assert s.wait(90)
    finally:
        s.shutdown()
    outside, inside, ok = (s.get(rid) for rid in ids)
    assert ok.status == "succeeded"
    for run in (outside, inside):
        assert run.status == "cancelled", (run.label, run.error)
        assert read_status(run.run_dir).status == RunStatus.CANCELLED
    notes = " | ".join(n.text for n in s.drain_messages())
    assert f"cancelling SLURM job {inside.job_id} (scancel)" in notes


def test_a_job_scancelled_while_no_supervisor_ran_keeps_slurms_account_in_its_archived_attempt(tmp_path):
    """Trial 10 (issue 20): the supervisor stops (its job goes on), a user scancels the job, a new
    supervisor reruns the run: the archived attempt holds sacct's record of its job."""
    from xcost_tui.spec import RunSpec

    store = tmp_path / "store"
    spec = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "langs": ["it"], "name": "hang"})
    rid = spec.run_id()
    first = sched(store)
    first.submit([spec])
    first.start()
    try:
        wait_for(lambda: (first.get(rid).phase or "").startswith("target:"), what="the run in its target phase")
        job_id = first.get(rid).job_id
    finally:
        first.shutdown(cancel_running=False)  # its SLURM job goes on alone
    run_dir = store / "runs" / rid
    subprocess.run(["scancel", job_id], check=True)
    wait_for(lambda: (st := _status(run_dir)) is not None and st.status.final, what="the job's own end")
    wait_for(lambda: sacct([job_id]).get(job_id, {}).get("State", "").startswith("CANCELLED"), what="sacct")
    assert _status(run_dir).executor_state is None, "no supervisor asked SLURM"
    second = sched(store)
    second.submit([spec])  # cancelled, not succeeded: run again, the attempt archived
    second.start()
    try:
        wait_for(lambda: (store / "archive").is_dir() and any((store / "archive").iterdir()), what="the archive")
    finally:
        second.shutdown()
    (archived,) = (store / "archive").iterdir()
    old = read_status(archived)
    assert old.status == RunStatus.CANCELLED and old.executor_job_id == job_id
    assert old.executor_state.startswith("CANCELLED"), old
    assert old.executor_info["elapsed_s"] is not None and old.executor_info["exit_code"] is not None, old


# ---- the supervisor killed mid-plan, started again ---------------------------------------------------


def test_killing_the_supervisor_and_starting_it_again_reattaches_without_duplicates(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN + '\n[executor]\nkind = "slurm"\npoll_s = 0.5\n')
    store = tmp_path / "store"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "XCOST_JOB_CMD": f"{sys.executable} {FAKE_JOB}",
        "FAKE_JOB_STEP_S": "0.4",
        "FAKE_JOB_STEPS": "4",
    }
    cmd = [sys.executable, "-m", "xcost_tui", "--headless", str(plan), "--store", str(store)]
    first = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:

        def submitted() -> list[Path]:
            dirs = [d for d in (store / "runs").glob("*") if d.is_dir()] if (store / "runs").is_dir() else []
            return [d for d in dirs if (st := _status(d)) is not None and st.executor_job_id]

        wait_for(lambda: len(submitted()) >= 2, what="two runs submitted")
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the supervisor dies; its SLURM jobs go on
        first.wait()
    before = {d.name: _status(d).executor_job_id for d in submitted()}
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "attached to its SLURM job" in second.stdout or "already submitted" in second.stdout, second.stdout
    run_dirs = sorted(d for d in (store / "runs").iterdir() if d.is_dir())
    assert len(run_dirs) == 3
    for d in run_dirs:
        status = read_status(d)
        assert status.status == RunStatus.SUCCEEDED, (d.name, status)
        if d.name in before:
            assert status.executor_job_id == before[d.name], "re-attached to the same job, not submitted again"
        starts = [e for e in read_jsonl(d / EVENTS) if e["type"] == "run_start"]
        assert len(starts) == 1, d.name
        out = subprocess.run(
            ["sacct", "-n", "-P", "-X", "--name", d.name, "-S", "now-1hour", "-o", "JobID,WorkDir"],
            capture_output=True,
            text=True,
        ).stdout
        jobs = [line.split("|")[0] for line in out.splitlines() if line.endswith("|" + str(d.resolve()))]
        assert len(jobs) == 1, (d.name, out)  # one SLURM job per run of this store: none submitted twice


def _status(d: Path):
    try:
        return read_status(d)
    except Exception:  # noqa: BLE001 - being written
        return None


# ---- SLURM's time limit --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_job_over_its_time_limit_is_recorded_with_slurms_reason(tmp_path):
    from xcost_tui.spec import RunSpec

    store = tmp_path / "store"
    s = sched(store, executor=slurm(time="1"))
    spec = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "langs": ["it"], "name": "hang"})
    s.submit([spec])
    s.start()
    try:
        assert s.wait(240)
    finally:
        s.shutdown()
    run = s.get(spec.run_id())
    assert run.status == "failed", run
    assert "TIMEOUT" in run.error and "time limit" in run.error, run.error
    status = read_status(run.run_dir)
    assert status.executor_state == "TIMEOUT" and status.ended_by_executor
    assert status.executor_info["elapsed_s"] >= 60, "the lost attempt's time is kept"
    from xcost_tui.store.ingest import ingest

    ingest(store)
    ((st, state, err, elapsed),) = rows(store, "SELECT status, executor_state, error, executor_elapsed_s FROM runs")
    assert st == "failed" and state == "TIMEOUT" and "time limit" in err and elapsed >= 60


# ---- the acceptance: the demo plan with the real job --------------------------------------------------


@pytest.mark.slow
def test_the_demo_plan_through_slurm_with_the_real_job(tmp_path, data_dir):
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(REPO), "XCOST_ASSERT_NO_HEAVY_IMPORTS": "1"}
    env.pop("XCOST_JOB_CMD", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "xcost_tui",
            "--headless",
            "demo",
            "--executor",
            "slurm",
            "--data-dir",
            str(data_dir),
            "--store",
            str(store),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=E2E_COMMAND_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "8/8 runs succeeded" in proc.stdout  # 5 few-shot draws (issue 19)
    board = rows(store, "SELECT status, executor, executor_job_id, executor_state, avg_accuracy FROM leaderboard")
    assert len(board) == 8 and all(
        r[0] == "succeeded" and r[1] == "slurm" and r[2] and r[3] == "COMPLETED" and r[4] is not None for r in board
    )
    samples = rows(store, "SELECT count(*), count(other_cpu_percent) FROM samples")[0]
    assert samples[0] > 0 and samples[1] > 0, "the sampler beside each job wrote samples"
    flags = rows(
        store,
        "SELECT count(*) FILTER (WHERE contended IS NOT NULL) FROM phases WHERE completed "
        "AND reused_from_run IS NULL AND kind IN ('intermediate', 'target', 'few-shot')",
    )[0][0]
    assert flags > 0, "training phases carry the contended flag"
    for d in (store / "runs").iterdir():
        assert "cpu share: 1 thread(s)" in (d / "job.log").read_text(), "a SLURM job uses the CPUs it was given"


# ---- the app follows SLURM runs it did not start --------------------------------------------------------


def test_the_app_shows_slurm_runs_live_with_their_job_ids_and_states(tmp_path, std_store):  # noqa: F811
    """A headless supervisor submitted the run and went away; the app (a local runner) re-attaches it
    from the store, asks SLURM about it, and shows its job id and state on Live; its cancel is scancel."""
    from support.tui import make_app, run
    from support.tui import wait_for as pilot_wait

    from xcost_tui.spec import RunSpec

    store = tmp_path / "slurm-store"  # std_store is <tmp>/store
    first = sched(store)
    spec = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "langs": ["it"], "name": "hang"})
    first.submit([spec])
    first.start()
    wait_for(lambda: (first.get(spec.run_id()).phase or "").startswith("target:"), what="the target phase")
    job_id = first.get(spec.run_id()).job_id
    first.shutdown(cancel_running=False)

    app_runner = Scheduler(store, ingest=False, poll_s=0.1, grace_s=1.0, gpus=0)  # the app's: a local executor
    (found,) = app_runner.attach_existing(store)
    assert found.job_id == job_id and found.executor == "slurm" and found.status == "running"
    app_runner.start()

    async def go():
        app = make_app(std_store, runner=app_runner)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("2")
            screen = app.screen
            await pilot_wait(
                pilot,
                lambda: (
                    screen.data is not None
                    and screen.data.rows
                    and screen.data.rows[0][1][-1] == f"slurm {job_id} RUNNING on {os.uname().nodename.split('.')[0]}"
                ),
                timeout=30,
                what="the SLURM job on Live",
            )
            assert screen.data.slurm and f"SLURM job {job_id} RUNNING" in screen.data.headline
            assert app_runner.cancel(spec.run_id())
            await pilot_wait(pilot, lambda: screen.data.rows[0][1][1] == "cancelled", timeout=60, what="the cancel")

    try:
        run(go)
    finally:
        app_runner.shutdown()
    assert read_status(store / "runs" / spec.run_id()).status == RunStatus.CANCELLED
    assert read_status(store / "runs" / spec.run_id()).executor_state == "CANCELLED"
