"""What SLURM says about a job, as data: ``JobInfo`` (squeue's and sacct's lines parsed), the end of a
job SLURM ended (``describe_end``), and the plan's ``[executor]`` table as sbatch parameters
(``sbatch_parameters``).

Pure functions, unit-tested without SLURM (tests/runner/test_slurm_unit.py); runner/slurm.py runs the
commands and the life-cycle of a SLURM run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan import ExecutorSettings, parse_sbatch_args
from ..rundir import RunStatus, StatusRecord
from ..rundir.status import EXECUTOR_KILLED

# SLURM job states (squeue(1), sacct(1)) in which the job is still the cluster's business.
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "RESV_DEL_HOLD",
        "SPECIAL_EXIT",
        "STOPPED",
    }
)
# Final states and what a run that did not record its own end becomes.
WHY = {
    "COMPLETED": "the job completed",
    "FAILED": "the job failed",
    "CANCELLED": "the job was cancelled",
    "TIMEOUT": "the job reached its time limit",
    "PREEMPTED": "the job was preempted",
    "NODE_FAIL": "its node failed",
    "OUT_OF_MEMORY": "the job ran out of memory",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "the job reached its deadline",
    "REVOKED": "the job was revoked (federation)",
}


# ---- what SLURM says about a job -----------------------------------------------------------------


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ... (the first word)
    reason: str | None = None  # squeue's pending reason, sacct's Reason (None: "None")
    node: str | None = None
    exit_code: str | None = None  # sacct's "code:signal"
    elapsed_s: float | None = None
    start: str | None = None
    end: str | None = None
    alloc_tres: str | None = None  # e.g. "billing=1,cpu=4,gres/gpu=1,mem=16G,node=1"
    detail: str | None = None  # the rest of the state ("by 1000" of "CANCELLED by 1000")
    source: str = "squeue"  # which command said so

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def pending(self) -> bool:
        return self.state == "PENDING"

    @property
    def started(self) -> bool:
        """It ran on a node (sacct has a start time); a pending job cancelled never started."""
        return self.state != "PENDING" and self.start not in (None, "", "None", "Unknown")

    @property
    def killed_by_slurm(self) -> bool:
        return self.state in EXECUTOR_KILLED

    @property
    def dependency_never_satisfied(self) -> bool:
        return (self.reason or "").startswith("DependencyNeverSatisfied") or (
            self.state == "CANCELLED" and not self.started and (self.reason or "") == "Dependency"
        )

    @property
    def gpus(self) -> int | None:
        """GPUs allocated to the job (from AllocTRES), None when sacct did not say."""
        if not self.alloc_tres:
            return None
        n = 0
        for part in self.alloc_tres.split(","):
            key, _, value = part.partition("=")
            if key == "gres/gpu" and value.isdigit():
                n += int(value)
        return n

    def accounting(self) -> dict[str, Any]:
        """What status.json keeps of the attempt (``executor_info``)."""
        return {
            "node": self.node,
            "exit_code": self.exit_code,
            "elapsed_s": self.elapsed_s,
            "gpus": self.gpus,
            "alloc_tres": self.alloc_tres,
            "start": self.start,
            "end": self.end,
            "source": self.source,
        }

    def describe(self) -> str:
        """'TIMEOUT: the job reached its time limit (job 12, node n1, exit 0:15, 1m27s)'."""
        bits = [f"job {self.job_id}"]
        if self.node:
            bits.append(f"node {self.node}")
        if self.exit_code and self.exit_code != "0:0":
            bits.append(f"exit {self.exit_code}")
        if self.reason:
            bits.append(f"reason {self.reason}")
        why = WHY.get(self.state, "")
        return f"{self.state}{' ' + self.detail if self.detail else ''}: {why + ' ' if why else ''}({', '.join(bits)})"


def _state(raw: str) -> tuple[str, str | None]:
    word, _, rest = raw.strip().partition(" ")
    return word.upper(), (rest.strip() or None)


def _reason(raw: str | None) -> str | None:
    raw = (raw or "").strip()
    return None if raw in ("", "None", "(null)") else raw


def parse_elapsed(text: str) -> float | None:
    """SLURM's [D-]HH:MM:SS (or MM:SS) as seconds."""
    text = (text or "").strip()
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:\.\d+)?", text)
    if not m:
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + s)


SQUEUE_FORMAT = "%i|%T|%r|%N|%j|%Z"  # job id, state, reason, node, name, working directory


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """``squeue -h -o '%i|%T|%r|%N|%j|%Z'`` output -> job id -> JobInfo."""
    out: dict[str, JobInfo] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2 or not parts[0]:
            continue
        state, detail = _state(parts[1])
        node = parts[3].strip() if len(parts) > 3 and parts[3].strip() else None
        out[parts[0].strip()] = JobInfo(
            parts[0].strip(), state, _reason(parts[2] if len(parts) > 2 else None), node, detail=detail, source="squeue"
        )
    return out


SACCT_FIELDS = ("JobID", "State", "ExitCode", "Reason", "Elapsed", "NodeList", "Start", "End", "AllocTRES")


def parse_sacct(text: str) -> dict[str, JobInfo]:
    """``sacct -n -P -X -o JobID,State,ExitCode,Reason,Elapsed,NodeList,Start,End,AllocTRES``
    output -> job id -> JobInfo (job steps, ``123.batch``, are skipped; the last line of a job
    id wins: a requeued job is listed once per attempt)."""
    out: dict[str, JobInfo] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < len(SACCT_FIELDS) or not parts[0] or "." in parts[0]:
            continue
        row = dict(zip(SACCT_FIELDS, parts))
        state, detail = _state(row["State"])
        node = row["NodeList"].strip()
        out[row["JobID"]] = JobInfo(
            row["JobID"],
            state,
            _reason(row["Reason"]),
            None if node in ("", "None assigned") else node,
            row["ExitCode"] or None,
            parse_elapsed(row["Elapsed"]),
            row["Start"] or None,
            row["End"] or None,
            row["AllocTRES"] or None,
            detail,
            source="sacct",
        )
    return out


def describe_end(
    info: JobInfo,
    *,
    cancel_requested: bool,
    producer: str | None = None,
    depends_on: str | None = None,
    never_started: bool | None = None,
) -> tuple[RunStatus, str]:
    """The final status and error of a run whose SLURM job ended without the run recording its
    own end (or whose end SLURM imposed: a time limit, a preemption, a node failure).
    ``never_started``: the run directory shows the job never ran (no run_start, no pid): sacct's
    start time of a job cancelled while pending is not always empty."""
    what = info.describe()
    not_started = (not info.started) if never_started is None else never_started
    if not cancel_requested and (
        info.dependency_never_satisfied or (depends_on and info.state == "CANCELLED" and not_started)
    ):
        who = (
            f"{producer} "
            if producer
            else (f"the run of job {depends_on} " if depends_on else "the run it depends on ")
        )
        return RunStatus.FAILED, (
            f"not started: it starts from the encoder of {who}which did not succeed, so its "
            f"SLURM dependency can never be satisfied ({what})"
        )
    if info.state == "CANCELLED":
        if not_started:
            return RunStatus.CANCELLED, f"cancelled before it started (SLURM: {what})"
        return RunStatus.CANCELLED, (
            f"cancelled ({'scancel by this supervisor' if cancel_requested else 'scancel'}; SLURM: {what})"
        )
    if info.state == "COMPLETED":
        return RunStatus.FAILED, f"the job ended without a final status (SLURM: {what})"
    return RunStatus.FAILED, f"SLURM: {what}"


def accountable(status: StatusRecord) -> bool:
    """An attempt handed to SLURM that ended without SLURM's account of its job (its end recorded
    by the job while no supervisor followed it)."""
    return (
        status.status.final
        and status.executor == "slurm"
        and status.executor_job_id is not None
        and status.executor_state is None
    )


def ended_account(status: StatusRecord, info: JobInfo) -> tuple[RunStatus, dict[str, Any]]:
    """The final status and status.json's changes for such an attempt, once SLURM is done with its
    job: SLURM's state, reason and accounting added; an end SLURM imposed (a time limit, a
    preemption, a node failure) wins over the one the job recorded as it was stopped, as when a
    supervisor follows the run to its end."""
    changes: dict[str, Any] = dict(
        executor_state=info.state, executor_reason=info.reason, executor_info=info.accounting()
    )
    if not info.killed_by_slurm or status.status == RunStatus.SUCCEEDED:
        return status.status, changes
    final, error = describe_end(info, cancel_requested=False)
    if status.error:
        error += f"; the job recorded: {status.status} ({status.error})"
    return final, {**changes, "error": error}


# ---- the [executor] settings as sbatch parameters -------------------------------------------------


def sbatch_parameters(
    settings: ExecutorSettings, *, run_id: str, run_dir: Path, depends_on: str | None = None
) -> dict[str, Any]:
    """submitit ``SlurmExecutor.update_parameters`` keywords for one run (``settings``: the plan's
    ``[executor]`` table). Values submitit would convert (time in minutes, memory in GB) go
    through ``additional_parameters`` as SLURM writes them ("1-00:00:00", "32G")."""
    # --requeue: a preempted job goes back to the queue and its run continues from its resume
    # checkpoint (job/resume.py; SLURM's SIGTERM at preemption makes the job write one)
    extra: dict[str, Any] = {"chdir": str(run_dir), "requeue": True}
    if settings.time:
        extra["time"] = str(settings.time)
    if settings.mem:
        extra["mem"] = str(settings.mem)
    if depends_on:
        extra["dependency"] = f"afterok:{depends_on}"
        extra["kill-on-invalid-dep"] = "yes"
    extra.update(parse_sbatch_args(settings.sbatch_args or []))
    params: dict[str, Any] = {
        "job_name": run_id,
        "use_srun": False,
        "stderr_to_stdout": True,
        "additional_parameters": extra,
    }
    named = {
        "partition": settings.partition,
        "account": settings.account,
        "qos": settings.qos,
        "constraint": settings.constraint,
    }
    for key, value in named.items():
        if value:
            params[key] = str(value)
    if settings.gres:
        params["gres"] = str(settings.gres)
    elif settings.gpus_per_run:
        params["gres"] = f"gpu:{int(settings.gpus_per_run)}"
    if settings.cpus_per_run:
        params["cpus_per_task"] = int(settings.cpus_per_run)
    return params
