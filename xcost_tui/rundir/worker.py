"""A warm worker's record, ``STORE/workers/<worker_id>/worker.jsonl`` (job/worker.py writes it).

One long-lived job process runs many runs one after another (docs/runner.md, "Warm workers").
Its start-up (interpreter, imports, the CUDA context) is paid once and recorded here, not hidden:

- ``worker_start``: the process (pid, create time, host), its slot, and the wall and CPU seconds
  from the process's creation until it was ready for its first run;
- ``worker_run``: one line per run, with the process's CPU seconds at the run's start and end;
- ``worker_end``: the process's CPU seconds at its end and why it ended.

The store reads these into its ``workers`` table; ``phase_cpu_share`` says how much of a worker's
CPU time its runs' measured phases account for. Torch-free.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .fields import as_float, as_int, as_str, as_str_or_empty
from .jsonl import read_jsonl
from .layout import RunDir, WorkerDir


@dataclass(frozen=True)
class WorkerStart:
    TYPE: ClassVar[str] = "worker_start"
    worker_id: str
    pid: int
    create_time: float | None  # the process's creation (unix seconds): its start-up begins here
    host: str | None
    slot: str | None  # the GPU (CUDA_VISIBLE_DEVICES value) or "cpu:<n>" it serves; None for a --runs list
    threads: int | None  # its CPU share (torch threads)
    startup_wall_s: float | None  # creation until ready: interpreter, imports, CUDA context
    startup_cpu_s: float | None  # the process's CPU seconds when ready
    t: float = 0.0  # when it was ready

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkerStart:
        return cls(
            as_str_or_empty(d.get("worker_id")),
            as_int(d.get("pid")) or 0,
            as_float(d.get("create_time")),
            as_str(d.get("host")),
            as_str(d.get("slot")),
            as_int(d.get("threads")),
            as_float(d.get("startup_wall_s")),
            as_float(d.get("startup_cpu_s")),
            as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class WorkerRun:
    TYPE: ClassVar[str] = "worker_run"
    run_id: str
    index: int  # 0 for the worker's first run
    started: float
    ended: float
    cpu_start_s: float  # the process's CPU seconds (time.process_time) when the run began
    cpu_end_s: float  # ... and when it ended (its files closed)
    status: str | None  # the run's final status; "skipped" for one cancelled before it started
    exit_code: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkerRun:
        return cls(
            as_str_or_empty(d.get("run_id")),
            as_int(d.get("index")) or 0,
            as_float(d.get("started")) or 0.0,
            as_float(d.get("ended")) or 0.0,
            as_float(d.get("cpu_start_s")) or 0.0,
            as_float(d.get("cpu_end_s")) or 0.0,
            as_str(d.get("status")),
            as_int(d.get("exit_code")),
        )


@dataclass(frozen=True)
class WorkerEnd:
    TYPE: ClassVar[str] = "worker_end"
    runs: int
    cpu_s: float  # the process's CPU seconds at its end
    reason: str  # "stdin closed", "list done", "signal SIGTERM", ...
    t: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkerEnd:
        return cls(
            as_int(d.get("runs")) or 0,
            as_float(d.get("cpu_s")) or 0.0,
            as_str_or_empty(d.get("reason")),
            as_float(d.get("t")) or 0.0,
        )


@dataclass
class WorkerLog:
    """worker.jsonl read back: its start, its runs in order, its end (None while it runs, or
    when it was killed)."""

    start: WorkerStart | None = None
    runs: list[WorkerRun] = dataclasses.field(default_factory=list)
    end: WorkerEnd | None = None

    @property
    def cpu_s(self) -> float | None:
        """The process's CPU seconds as last recorded: at its end, else at its last run's end."""
        if self.end is not None:
            return self.end.cpu_s
        if self.runs:
            return self.runs[-1].cpu_end_s
        return self.start.startup_cpu_s if self.start else None


def read_worker_log(path: Path | str) -> WorkerLog:
    out = WorkerLog()
    for obj in read_jsonl(path):
        kind = obj.get("type")
        if kind == WorkerStart.TYPE:
            out.start = WorkerStart.from_dict(obj)
        elif kind == WorkerRun.TYPE:
            out.runs.append(WorkerRun.from_dict(obj))
        elif kind == WorkerEnd.TYPE:
            out.end = WorkerEnd.from_dict(obj)
    return out


def phase_cpu_share(worker_cpu_s: float | None, phase_cpu_s: list[float]) -> float | None:
    """The share of a worker's CPU time its runs' measured phases account for: the phases' own CPU
    seconds (PhaseMeter's ``cpu_s``, time.process_time) over the process's CPU seconds (start-up,
    every run, teardown). None when the worker's CPU time is unknown or zero."""
    if not worker_cpu_s or worker_cpu_s <= 0:
        return None
    return sum(phase_cpu_s) / worker_cpu_s


@dataclass(frozen=True)
class RunAccount:
    run_id: str
    cpu_s: float  # the process's CPU seconds from the run's start to its end (its files closed)
    phase_cpu_s: float  # the CPU seconds of its measured phases (phase_end's cpu_s)
    warmup_s: float  # wall seconds of its untimed warm-ups (warmup events)
    load_s: float | None  # wall seconds of its model load or restore (model_loaded)


@dataclass(frozen=True)
class WorkerAccount:
    """Where a worker's CPU time went: its start-up, its runs' measured phases, the rest."""

    worker_id: str
    startup_cpu_s: float | None
    cpu_s: float | None  # the whole process's, as last recorded
    runs: list[RunAccount]

    @property
    def phase_cpu_s(self) -> float:
        return sum(r.phase_cpu_s for r in self.runs)

    @property
    def share(self) -> float | None:
        """The measured phases' share of the worker's CPU time (``phase_cpu_share``)."""
        return phase_cpu_share(self.cpu_s, [r.phase_cpu_s for r in self.runs])


def account_worker(worker_dir: WorkerDir, runs_root: Path) -> WorkerAccount:
    """A worker's CPU account from its record and its runs' events (under ``runs_root``)."""
    log = read_worker_log(worker_dir.record)
    runs = []
    for run in log.runs:
        phase_cpu = warmup = 0.0
        load_s = None
        for e in read_jsonl(RunDir(runs_root / run.run_id).events):
            kind = e.get("type")
            if kind == "phase_end":
                cost = (e.get("costs") or {}).get("cpu_s") or {}
                phase_cpu += as_float(cost.get("value")) or 0.0
            elif kind == "warmup":
                warmup += as_float(e.get("seconds")) or 0.0
            elif kind == "model_loaded":
                load_s = as_float(e.get("load_s"))
        runs.append(RunAccount(run.run_id, run.cpu_end_s - run.cpu_start_s, phase_cpu, warmup, load_s))
    return WorkerAccount(worker_dir.worker_id, log.start.startup_cpu_s if log.start else None, log.cpu_s, runs)
