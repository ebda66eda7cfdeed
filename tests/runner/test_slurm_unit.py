"""The SLURM executor without SLURM: squeue/sacct parsing, the state mapping, the sbatch command
lines submitit writes from the [executor] table, the afterok wiring, and the final-status rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xcost_tui.errors import SpecError, XcostError
from xcost_tui.plan import ExecutorSettings, loads_plan, parse_sbatch_args
from xcost_tui.rundir import RunStatus, StatusRecord, final_status, read_status, update_status
from xcost_tui.runner import reattach, shared
from xcost_tui.runner.executors import Executors
from xcost_tui.runner.slurm import SlurmExecutor
from xcost_tui.runner.slurm_jobs import (
    JobInfo,
    describe_end,
    parse_elapsed,
    parse_sacct,
    parse_squeue,
    sbatch_parameters,
)

SQUEUE = """\
41|PENDING|Dependency||direct-tiny-xlmr-s0-abc|/store/runs/direct-tiny-xlmr-s0-abc
42|RUNNING|None|node07|few-shot-x|/store/runs/few-shot-x
43|PENDING|DependencyNeverSatisfied||inter-y|/store/runs/inter-y
40|COMPLETED|None|node03|old|/store/runs/old
"""

SACCT = """\
40|COMPLETED|0:0|None|00:12:03|node03|2026-12-01T10:00:00|2026-12-01T10:12:03|billing=8,cpu=8,gres/gpu=1,mem=32G,node=1
40.batch|COMPLETED|0:0||00:12:03|node03|2026-12-01T10:00:00|2026-12-01T10:12:03|cpu=8,mem=32G,node=1
44|TIMEOUT|0:0|None|1-02:00:07|node09|2026-12-01T10:00:00|2026-12-02T12:00:07|billing=4,cpu=4,gres/gpu=2,node=1
45|CANCELLED by 1000|0:0|Dependency|00:00:00|None assigned|None|2026-12-01T10:01:00|
46|FAILED|1:0|None|00:00:04|node01|2026-12-01T10:00:00|2026-12-01T10:00:04|billing=1,cpu=1,node=1
47|NODE_FAIL|0:0|None|00:30:00|node02|2026-12-01T10:00:00|2026-12-01T10:30:00|cpu=1,node=1
"""


def test_squeue_parsing():
    jobs = parse_squeue(SQUEUE)
    assert set(jobs) == {"40", "41", "42", "43"}
    assert jobs["41"].pending and jobs["41"].reason == "Dependency" and jobs["41"].node is None and jobs["41"].active
    assert jobs["42"].state == "RUNNING" and jobs["42"].node == "node07" and jobs["42"].reason is None
    assert jobs["43"].dependency_never_satisfied
    assert not jobs["40"].active


def test_sacct_parsing_skips_steps_and_reads_the_accounting():
    jobs = parse_sacct(SACCT)
    assert set(jobs) == {"40", "44", "45", "46", "47"}
    done = jobs["40"]
    assert done.state == "COMPLETED" and done.exit_code == "0:0" and done.elapsed_s == 723.0 and done.gpus == 1
    assert jobs["44"].state == "TIMEOUT" and jobs["44"].elapsed_s == 26 * 3600 + 7 and jobs["44"].gpus == 2
    assert jobs["44"].killed_by_slurm and jobs["47"].killed_by_slurm and not jobs["46"].killed_by_slurm
    cancelled = jobs["45"]
    assert cancelled.state == "CANCELLED" and cancelled.detail == "by 1000" and cancelled.node is None
    assert not cancelled.started and cancelled.dependency_never_satisfied
    assert jobs["46"].gpus == 0 and jobs["46"].accounting()["exit_code"] == "1:0"


@pytest.mark.parametrize(
    "text, seconds", [("00:00:04", 4), ("12:03", 723), ("1-02:00:07", 93607), ("bad", None), ("", None)]
)
def test_elapsed(text, seconds):
    assert parse_elapsed(text) == seconds


def test_state_mapping_of_ends_the_run_did_not_record():
    jobs = parse_sacct(SACCT)
    status, error = describe_end(jobs["44"], cancel_requested=False)
    assert status == RunStatus.FAILED and error.startswith("SLURM: TIMEOUT: the job reached its time limit (job 44")
    status, error = describe_end(jobs["47"], cancel_requested=False)
    assert status == RunStatus.FAILED and "its node failed" in error
    status, error = describe_end(jobs["45"], cancel_requested=False, producer="inter-rte", depends_on="44")
    assert status == RunStatus.FAILED and error.startswith("not started: it starts from the encoder of inter-rte")
    status, error = describe_end(jobs["45"], cancel_requested=True, depends_on="44", never_started=True)
    assert status == RunStatus.CANCELLED and error.startswith("cancelled before it started")
    running_cancelled = JobInfo("9", "CANCELLED", start="2026-12-01T10:00:00", node="n1", source="sacct")
    status, error = describe_end(running_cancelled, cancel_requested=True, never_started=False)
    assert status == RunStatus.CANCELLED and "scancel by this supervisor" in error
    status, error = describe_end(JobInfo("8", "COMPLETED", start="x", source="sacct"), cancel_requested=False)
    assert status == RunStatus.FAILED and "without a final status" in error


def test_an_end_slurm_imposed_wins_over_the_jobs_run_end():
    killed = StatusRecord(RunStatus.FAILED, executor="slurm", executor_state="TIMEOUT", error="SLURM: TIMEOUT")
    assert killed.ended_by_executor
    assert final_status(killed, "cancelled", True) == RunStatus.FAILED
    ok = StatusRecord(RunStatus.SUCCEEDED, executor="slurm", executor_state="COMPLETED")
    assert not ok.ended_by_executor and final_status(ok, "succeeded", True) == RunStatus.SUCCEEDED
    cancelled = StatusRecord(RunStatus.CANCELLED, executor="slurm", executor_state="CANCELLED")
    assert final_status(cancelled, "cancelled", True) == RunStatus.CANCELLED
    again = StatusRecord.from_dict(killed.to_dict())
    assert again.executor_state == "TIMEOUT" and again.ended_by_executor and again.extra == {}


# ---- command lines --------------------------------------------------------------------------------


def test_sbatch_args():
    assert parse_sbatch_args(["--exclusive", "--reservation=nlp", "--mail-type", "END"]) == {
        "exclusive": True,
        "reservation": "nlp",
        "mail-type": "END",
    }
    with pytest.raises(XcostError, match="-N"):
        parse_sbatch_args(["-N", "2"])


def sbatch_text(settings: ExecutorSettings, tmp_path: Path, depends_on: str | None = None) -> str:
    """The batch script submitit writes for these settings (its own function, no SLURM needed)."""
    from submitit.slurm.slurm import _make_sbatch_string

    params = sbatch_parameters(settings, run_id="inter-rte-s0-abc", run_dir=tmp_path / "run", depends_on=depends_on)
    return _make_sbatch_string(
        command="python -u -m submitit.core._submit FOLDER",
        folder=tmp_path / "slurm",
        **{"job_name" if k == "job_name" else k: v for k, v in params.items()},
    )


def test_the_batch_script_of_a_typical_cluster(tmp_path):
    settings = ExecutorSettings(
        kind="slurm",
        partition="gpu",
        account="nlp-lab",
        qos="normal",
        time="4:00:00",
        gpus_per_run=1,
        cpus_per_run=8,
        mem="32G",
        constraint="a100",
        sbatch_args=["--exclusive", "--reservation=xcopa"],
    )
    text = sbatch_text(settings, tmp_path, depends_on="1234")
    for line in (
        "#SBATCH --job-name=inter-rte-s0-abc",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=nlp-lab",
        "#SBATCH --qos=normal",
        "#SBATCH --time=4:00:00",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32G",
        "#SBATCH --constraint=a100",
        "#SBATCH --exclusive",
        "#SBATCH --reservation=xcopa",
        "#SBATCH --dependency=afterok:1234",
        "#SBATCH --kill-on-invalid-dep=yes",
        "#SBATCH --requeue",  # a preempted job goes back to the queue and resumes (job/resume.py)
        f"#SBATCH --chdir={tmp_path / 'run'}",
    ):
        assert line in text.splitlines(), line
    assert "srun" not in text, "the job runs in the batch step itself"
    plain = sbatch_text(ExecutorSettings(kind="slurm"), tmp_path)
    assert "--dependency" not in plain and "--gres" not in plain and "--partition" not in plain
    assert "#SBATCH --gres=gpu:a100:2" in sbatch_text(ExecutorSettings(kind="slurm", gres="gpu:a100:2"), tmp_path)


def test_the_executor_table_is_checked_with_the_key_named():
    plan = loads_plan(
        '[executor]\nkind = "slurm"\npartition = "gpu"\ngpus_per_run = 1\ntime = "1-00:00:00"\n'
        '[[experiment]]\nmethod = "direct"\nmodel = "tiny-xlmr"\n'
    )
    assert plan.executor == ExecutorSettings(kind="slurm", partition="gpu", gpus_per_run=1, time="1-00:00:00")
    assert loads_plan('[[experiment]]\nmethod = "direct"\nmodel = "tiny-xlmr"\n').executor.kind == "local"
    bad = {
        'kind = "slrum"': "executor.kind: 'slrum' is not an executor (did you mean 'slurm'?)",
        'partiton = "gpu"': "executor.partiton: unknown key (did you mean 'partition'?)",
        'time = "four hours"': "executor.time: 'four hours' is not a SLURM time limit",
        'mem = "lots"': "executor.mem: 'lots' is not a SLURM memory size",
        "gpus_per_run = -1": "executor.gpus_per_run: expected a whole number, at least 0",
        'kind = "slurm"\nsbatch_args = ["-N", "2"]': "not a long sbatch option",
    }
    for line, message in bad.items():
        with pytest.raises(SpecError) as err:
            loads_plan(f'[executor]\n{line}\n[[experiment]]\nmethod = "direct"\nmodel = "tiny-xlmr"\n')
        assert message in str(err.value), str(err.value)


# ---- afterok wiring (pure) --------------------------------------------------------------------------


def entry(rid: str, waiting_for: str | None) -> shared.Entry:
    return shared.Entry(rid, rid, "key", RunStatus.WAITING, waiting_for)


def test_consumers_are_released_with_a_dependency_once_their_producer_is_submitted(tmp_path):
    ckpt = tmp_path / "p" / "checkpoints" / "intermediate"
    waiting = [entry("c1", "p"), entry("c2", "p")]
    queued = {"p": shared.RemoteProducer("p", RunStatus.QUEUED, None, ckpt, False)}
    assert shared.release_remote(waiting, queued) == [], "not before the producer has a job"
    submitted = {"p": shared.RemoteProducer("p", RunStatus.RUNNING, "77", ckpt, False)}
    out = shared.release_remote(waiting, submitted)
    assert [(r.run_id, r.init_from, r.depends_on, r.error) for r in out] == [
        ("c1", str(ckpt), "77", None),
        ("c2", str(ckpt), "77", None),
    ]
    done = {"p": shared.RemoteProducer("p", RunStatus.SUCCEEDED, "77", ckpt, True)}
    assert [(r.init_from, r.depends_on) for r in shared.release_remote(waiting[:1], done)] == [(str(ckpt), None)]
    failed = {"p": shared.RemoteProducer("prod", RunStatus.FAILED, "77", ckpt, False)}
    (rel,) = shared.release_remote(waiting[:1], failed)
    assert rel.error and "prod" in rel.error and "failed" in rel.error and rel.init_from is None


# ---- an attempt whose job ended while no supervisor followed it (issue 20, trial 10) ------------------


def fake_slurm_commands(tmp_path: Path, monkeypatch, sacct_lines: str) -> None:
    """``squeue`` that knows no job any more and ``sacct`` that answers ``sacct_lines``, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "squeue").write_text("#!/bin/sh\necho 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1\n")
    (bin_dir / "sacct").write_text(f"#!/bin/sh\ncat <<'END'\n{sacct_lines}END\n")
    for tool in ("squeue", "sacct"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


class FakeHost:
    """The scheduler as ``reattach.account_previous`` sees it: its executors and its warnings."""

    def __init__(self) -> None:
        self.executors = Executors(SlurmExecutor(ExecutorSettings(kind="slurm")))
        self.warnings: list[str] = []

    def warn(self, text: str, run_id: str | None = None) -> None:
        self.warnings.append(text)


def ended_attempt(tmp_path: Path, status: RunStatus, error: str, job_id: str) -> Path:
    run_dir = tmp_path / "store" / "runs" / "r1"
    run_dir.mkdir(parents=True)
    update_status(run_dir, status, error=error, ended=1.0, executor="slurm", executor_job_id=job_id)
    return run_dir


def test_a_job_scancelled_while_no_supervisor_ran_gets_sacct_s_account_before_its_rerun(tmp_path, monkeypatch):
    fake_slurm_commands(
        tmp_path,
        monkeypatch,
        SACCT.replace("CANCELLED by 1000|0:0|Dependency|00:00:00", "CANCELLED by 0|0:15|None|00:01:02"),
    )
    run_dir = ended_attempt(tmp_path, RunStatus.CANCELLED, "cancelled by SIGTERM", "45")
    host = FakeHost()
    reattach.account_previous(host, run_dir)
    status = read_status(run_dir)
    assert status.status == RunStatus.CANCELLED and status.error == "cancelled by SIGTERM"
    assert status.executor_state == "CANCELLED" and status.executor_reason is None
    assert status.executor_info["exit_code"] == "0:15" and status.executor_info["elapsed_s"] == 62.0
    assert host.warnings == []


def test_a_job_out_of_time_while_no_supervisor_ran_is_recorded_with_slurm_s_reason(tmp_path, monkeypatch):
    fake_slurm_commands(tmp_path, monkeypatch, SACCT)
    run_dir = ended_attempt(tmp_path, RunStatus.CANCELLED, "cancelled by SIGTERM", "44")
    reattach.account_previous(FakeHost(), run_dir)
    status = read_status(run_dir)
    assert status.status == RunStatus.FAILED and status.ended_by_executor
    assert status.error.startswith("SLURM: TIMEOUT: the job reached its time limit (job 44")
    assert status.error.endswith("; the job recorded: cancelled (cancelled by SIGTERM)")
    assert status.executor_info["elapsed_s"] == 26 * 3600 + 7


def test_an_attempt_slurm_cannot_account_for_is_left_as_it_is_and_said(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no SLURM commands on this machine
    run_dir = ended_attempt(tmp_path, RunStatus.CANCELLED, "cancelled by SIGTERM", "45")
    host = FakeHost()
    reattach.account_previous(host, run_dir)
    assert read_status(run_dir).executor_state is None
    (warning,) = host.warnings
    assert "archived without SLURM's account of its job 45" in warning and "squeue not found" in warning
