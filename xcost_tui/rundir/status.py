"""``status.json``: where a run stands, which process runs it, and the rule for its final status.

The job owns status.json from its first line (``running`` with its own process identity) to
its end; the runner writes it only before the job starts and after the job ended without
writing a final status. A process is identified by pid AND create time AND host
(``ProcessRef``), so a pid reused by an unrelated process is never taken for the job.

The final status of a run is decided in one place, ``final_status``: the ``run_end`` event
(written before status.json is replaced) wins, then status.json.
"""

from __future__ import annotations

import enum
import socket
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import RunDirError
from .fields import as_float, as_str
from .jsonl import read_json_object, write_json_atomic
from .layout import STATUS


class RunStatus(str, enum.Enum):
    QUEUED = "queued"  # waiting for a slot (runner only, never written)
    WAITING = "waiting"  # waiting for another run's saved encoder (runner only)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # a run directory with neither a status nor events

    def __str__(self) -> str:
        return self.value

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def active(self) -> bool:
        return self in (RunStatus.QUEUED, RunStatus.WAITING, RunStatus.RUNNING)

    @classmethod
    def parse(cls, value: Any) -> RunStatus | None:
        try:
            return cls(value)
        except ValueError:
            return None


FINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
# SLURM job states in which SLURM itself ended the job (its state names, sacct(1)).
EXECUTOR_KILLED = frozenset({"TIMEOUT", "PREEMPTED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"})


# StatusRecord fields written and read as they are (the process references have their own keys).
_PLAIN_FIELDS = (
    "started",
    "updated",
    "ended",
    "phase",
    "error",
    "exit_code",
    "gpu",
    "executor",
    "executor_job_id",
    "executor_state",
    "executor_reason",
    "executor_info",
    "cpu_share",
)


@dataclass(frozen=True)
class ProcessRef:
    """One process, for good: a pid is reused, a (pid, create time, host) triple is not."""

    pid: int
    create_time: float | None = None
    host: str | None = None

    @classmethod
    def of(cls, pid: int) -> ProcessRef:
        """The process ``pid`` on this host, with its create time when it is alive."""
        import psutil

        try:
            created: float | None = psutil.Process(pid).create_time()
        except (psutil.Error, ValueError):
            created = None
        return cls(pid, created, socket.gethostname())

    @classmethod
    def current(cls) -> ProcessRef:
        import os

        return cls.of(os.getpid())


@dataclass(frozen=True)
class StatusRecord:
    status: RunStatus
    job: ProcessRef | None = None
    supervisor: ProcessRef | None = None
    started: float | None = None
    updated: float | None = None
    ended: float | None = None
    phase: str | None = None  # the phase running now, or where the run failed
    error: str | None = None
    exit_code: int | None = None
    gpu: str | None = None  # the CUDA_VISIBLE_DEVICES value the runner gave the job
    # Where the run executes (docs/runner.md, "Executors"): "local" or "slurm"; the SLURM job id;
    # SLURM's own account of how the job ended (state and reason, from sacct), written by the
    # supervisor once the job is over.
    executor: str | None = None
    executor_job_id: str | None = None
    executor_state: str | None = None
    executor_reason: str | None = None
    # SLURM's accounting of the attempt (sacct): node, exit_code, elapsed_s, gpus, alloc_tres; kept
    # so the cost of an attempt SLURM ended (time limit, preemption) is not lost.
    executor_info: dict[str, Any] | None = None
    # The CPU share the runner gave the job: {"threads", "cpus", "runs"} (runs sharing the CPUs).
    cpu_share: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept

    @property
    def pid(self) -> int | None:
        return self.job.pid if self.job else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["status"] = self.status.value
        for ref, prefix in ((self.job, "pid"), (self.supervisor, "supervisor_pid")):
            out[prefix] = ref.pid if ref else None
            out[f"{prefix}_create_time"] = ref.create_time if ref else None
            out[f"{prefix}_host"] = ref.host if ref else None
        for name in _PLAIN_FIELDS:
            out[name] = getattr(self, name)
        return out

    @property
    def ended_by_executor(self) -> bool:
        """The executor (SLURM) ended the job itself (a time limit, a preemption, a node failure)
        and the supervisor recorded that end: it then wins over the job's own run_end."""
        return self.status.final and (self.executor_state or "").split(" ")[0] in EXECUTOR_KILLED

    @classmethod
    def from_dict(cls, d: Any, *, where: str = STATUS) -> StatusRecord:
        if not isinstance(d, dict):
            raise RunDirError(f"{where}: expected a JSON object, found {type(d).__name__}")
        status = RunStatus.parse(d.get("status"))
        if status is None:
            raise RunDirError(
                f"{where}: unknown status {d.get('status')!r} (one of {', '.join(s.value for s in RunStatus)})"
            )
        known = {
            "status",
            "pid",
            "pid_create_time",
            "pid_host",
            "create_time",
            "host",
            "supervisor_pid",
            "supervisor_pid_create_time",
            "supervisor_pid_host",
            *_PLAIN_FIELDS,
        }
        return cls(
            status=status,
            job=_ref(d.get("pid"), d.get("pid_create_time", d.get("create_time")), d.get("pid_host", d.get("host"))),
            supervisor=_ref(d.get("supervisor_pid"), d.get("supervisor_pid_create_time"), d.get("supervisor_pid_host")),
            started=as_float(d.get("started")),
            updated=as_float(d.get("updated")),
            ended=as_float(d.get("ended")),
            phase=as_str(d.get("phase")),
            error=as_str(d.get("error")),
            exit_code=int(d["exit_code"]) if isinstance(d.get("exit_code"), int) else None,
            gpu=as_str(d.get("gpu")),
            executor=as_str(d.get("executor")),
            executor_job_id=as_str(d.get("executor_job_id")),
            executor_state=as_str(d.get("executor_state")),
            executor_reason=as_str(d.get("executor_reason")),
            executor_info=d.get("executor_info") if isinstance(d.get("executor_info"), dict) else None,
            cpu_share=d.get("cpu_share") if isinstance(d.get("cpu_share"), dict) else None,
            extra={k: v for k, v in d.items() if k not in known},
        )


def _ref(pid: Any, created: Any, host: Any) -> ProcessRef | None:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    return ProcessRef(pid, as_float(created), as_str(host))


def read_status(run_dir: Path | str) -> StatusRecord | None:
    """The run's status; None when there is no status.json. Raises RunDirError when it is not
    a status (invalid JSON, not an object, an unknown status): the caller skips and reports it."""
    path = Path(run_dir) / STATUS
    try:
        data = read_json_object(path)
    except ValueError as exc:
        raise RunDirError(str(exc)) from None
    return None if data is None else StatusRecord.from_dict(data, where=str(path))


def read_status_lenient(run_dir: Path | str) -> StatusRecord | None:
    """read_status, with a malformed file read as no status (for writers about to replace it)."""
    try:
        return read_status(run_dir)
    except RunDirError:
        return None


_FIELDS = {f.name for f in fields(StatusRecord)}


def update_status(run_dir: Path | str, status: RunStatus, **changes: Any) -> StatusRecord:
    """Writes status.json atomically: the previous record with ``status`` and ``changes``
    (StatusRecord field names) applied, ``updated`` set to now. Raises WriteError."""
    unknown = set(changes) - _FIELDS
    if unknown:
        raise TypeError(f"update_status: unknown field(s) {sorted(unknown)}")
    previous = read_status_lenient(run_dir) or StatusRecord(status)
    record = replace(previous, status=status, updated=time.time(), **changes)
    write_json_atomic(Path(run_dir) / STATUS, record.to_dict())
    return record


def mark_running_here(run_dir: Path | str) -> StatusRecord:
    """status.json of an attempt starting in this process: running, this process's identity, a
    fresh start, and nothing left of an earlier attempt's end. Raises WriteError."""
    return update_status(
        run_dir,
        RunStatus.RUNNING,
        job=ProcessRef.current(),
        started=time.time(),
        ended=None,
        error=None,
        phase=None,
        exit_code=None,
    )


def final_status(record: StatusRecord | None, run_end_status: str | None, has_events: bool) -> RunStatus:
    """The one rule: the run_end event wins (the job writes it before replacing status.json),
    then status.json; a run with events but neither is running (or died: the runner decides).
    One exception: an end the executor imposed (SLURM's time limit, a preemption, a node failure:
    ``StatusRecord.ended_by_executor``) wins over the run_end the job wrote as it was stopped."""
    if record is not None and record.ended_by_executor:
        return record.status
    from_event = RunStatus.parse(run_end_status) if run_end_status else None
    if from_event is not None:
        return from_event
    if record is not None:
        return record.status
    return RunStatus.RUNNING if has_events else RunStatus.UNKNOWN
