"""What the app and the headless mode see of a run while it runs: ``LiveRun`` snapshots.

A ``RunTracker`` follows one run directory: it tails events.jsonl and samples.jsonl
incrementally (complete lines only) and folds them into a ``LiveRun`` and two bounded
histories for charts. The ``Scheduler`` (runner/scheduler.py) owns the trackers and hands
out copies through ``snapshot()``, ``get()`` and ``history()``; it is the live API::

    sched = Scheduler(store, max_parallel=1)
    sched.submit(plan.runs); sched.start()
    for run in sched.snapshot(): print(run.label, run.status, run.phase, run.step, run.total_steps)
    sched.cancel(run_id); sched.wait(); sched.shutdown(cancel_running=True)
"""

from __future__ import annotations

import copy
import dataclasses
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import XCOPA_LANGS, runfiles
from .tail import JsonlTail

QUEUED = "queued"  # waiting for a slot
WAITING = "waiting"  # waiting for another run's intermediate phase (shared encoder)
RUNNING = runfiles.RUNNING
FINAL = runfiles.FINAL_STATUSES
HISTORY_LEN = 600  # samples (5 min at 2 Hz) and progress events kept per run for charts


@dataclass
class LiveRun:
    run_id: str
    run_dir: Path
    name: str | None = None
    method: str = ""
    model: str = ""
    intermediate: list[str] = field(default_factory=list)
    few_shot_k: int | None = None
    seed: int = 0
    langs: list[str] = field(default_factory=list)
    status: str = QUEUED  # queued | waiting | running | succeeded | failed | cancelled
    phase: str | None = None  # the latest phase started and not ended
    phases_done: int = 0
    phases_planned: int = 0
    progress: dict[str, Any] | None = None  # the latest progress event of the current phase
    sample: dict[str, Any] | None = None  # the latest resource sample
    started: float | None = None  # unix seconds
    ended: float | None = None
    error: str | None = None
    pid: int | None = None
    gpu: str | None = None  # the CUDA_VISIBLE_DEVICES value given to the job
    exit_code: int | None = None
    skipped: bool = False  # it had already succeeded, so it was not run again
    attached: bool = False  # found running when this supervisor started (a re-attach)
    waiting_for: str | None = None  # the run id whose saved encoder this run will start from
    init_from: str | None = None
    save_encoder: bool = False
    cancelling: bool = False
    accuracy: dict[str, float] = field(default_factory=dict)  # lang -> accuracy (eval:en is "en")
    phases_started: list[str] = field(default_factory=list)  # every phase started so far, in order
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec, run_dir: Path) -> "LiveRun":
        return cls(run_id=spec.run_id(), run_dir=Path(run_dir), name=spec.name, method=spec.method,
                   model=spec.model, intermediate=list(spec.intermediate), few_shot_k=spec.few_shot_k,
                   seed=spec.seed, langs=list(spec.langs), phases_planned=len(spec.phases_planned),
                   init_from=spec.init_from, save_encoder=spec.save_encoder)

    @classmethod
    def from_run_dir(cls, run_dir: Path) -> "LiveRun":
        """A run found on disk (its spec may be from another version: read leniently)."""
        run_dir = Path(run_dir)
        try:
            spec = runfiles.read_spec(run_dir)
        except (OSError, ValueError):
            spec = {}
        return cls(run_id=run_dir.name, run_dir=run_dir, name=spec.get("name"), method=str(spec.get("method", "")),
                   model=str(spec.get("model", "")), intermediate=list(spec.get("intermediate") or []),
                   few_shot_k=spec.get("few_shot_k"), seed=int(spec.get("seed") or 0),
                   langs=list(spec.get("langs") or []), init_from=spec.get("init_from"),
                   save_encoder=bool(spec.get("save_encoder")))

    # ---- derived ----------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return self.name or self.run_id

    @property
    def done(self) -> bool:
        return self.status in FINAL

    @property
    def step(self) -> int | None:
        return (self.progress or {}).get("step")

    @property
    def total_steps(self) -> int | None:
        return (self.progress or {}).get("total_steps")

    @property
    def avg_accuracy(self) -> float | None:
        """Mean accuracy over the XCOPA languages evaluated so far (English excluded)."""
        accs = [a for lang, a in self.accuracy.items() if lang in XCOPA_LANGS and a is not None]
        return sum(accs) / len(accs) if accs else None

    @property
    def en_accuracy(self) -> float | None:
        return self.accuracy.get("en")

    def elapsed_s(self, now: float) -> float | None:
        if self.started is None:
            return None
        return (self.ended or now) - self.started

    def copy(self) -> "LiveRun":
        return dataclasses.replace(self, intermediate=list(self.intermediate), langs=list(self.langs),
                                   accuracy=dict(self.accuracy), phases_started=list(self.phases_started),
                                   warnings=list(self.warnings))


@dataclass
class RunHistory:
    """Recent samples and progress events of one run, oldest first (for charts)."""

    samples: list[dict] = field(default_factory=list)
    progress: list[dict] = field(default_factory=list)


class RunTracker:
    """Follows one run directory. Not thread-safe by itself: the scheduler calls it under its lock."""

    def __init__(self, live: LiveRun, history_len: int = HISTORY_LEN):
        self.live = live
        self.events = JsonlTail(live.run_dir / runfiles.EVENTS)
        self.samples = JsonlTail(live.run_dir / runfiles.SAMPLES)
        self.open_phases: list[str] = []
        self.sample_history: deque[dict] = deque(maxlen=history_len)
        self.progress_history: deque[dict] = deque(maxlen=history_len)
        self.checkpoint_saved: str | None = None  # the path (relative to the run dir) once saved
        self.seen_run_end: dict | None = None

    def reset_tails(self) -> None:
        """The run directory was started afresh (a rerun): read its files from the beginning."""
        self.events = JsonlTail(self.live.run_dir / runfiles.EVENTS)
        self.samples = JsonlTail(self.live.run_dir / runfiles.SAMPLES)
        self.open_phases = []
        self.checkpoint_saved = None
        self.seen_run_end = None
        live = self.live
        live.phase, live.phases_done, live.progress, live.sample = None, 0, None, None
        live.accuracy, live.warnings, live.phases_started = {}, [], []

    def poll(self) -> list[dict]:
        """Reads what was appended since the last poll; returns the new events."""
        new = self.events.read_all()
        for event in new:
            self.apply(event)
        samples = self.samples.read_all()
        if samples:
            self.sample_history.extend(samples)
            self.live.sample = samples[-1]
        return new

    def apply(self, event: dict) -> None:
        live = self.live
        kind = event.get("type")
        if kind == "run_start":
            planned = event.get("phases_planned")
            if isinstance(planned, list):
                live.phases_planned = len(planned)
            if live.started is None:
                live.started = event.get("t")
        elif kind == "phase_start":
            phase = event.get("phase")
            self.open_phases.append(phase)
            live.phases_started.append(phase)
            live.phase = phase
            live.progress = None
        elif kind == "progress":
            live.progress = event
            self.progress_history.append(event)
        elif kind == "phase_end":
            phase = event.get("phase")
            if phase in self.open_phases:
                self.open_phases.remove(phase)
            live.phases_done += 1
            live.phase = self.open_phases[-1] if self.open_phases else None
            if live.progress is not None and live.progress.get("phase") == phase:
                live.progress = None
        elif kind == "eval_result":
            lang = event.get("lang") or event.get("task")
            if lang is not None and isinstance(event.get("accuracy"), (int, float)):
                live.accuracy[str(lang)] = float(event["accuracy"])
        elif kind == "checkpoint_saved":
            self.checkpoint_saved = str(event.get("path") or "")
        elif kind == "warning":
            if len(live.warnings) < 100:
                live.warnings.append(str(event.get("message")))
        elif kind == "run_end":
            self.seen_run_end = event
            if event.get("error") and not live.error:
                live.error = str(event["error"])

    def history(self) -> RunHistory:
        return RunHistory(samples=list(self.sample_history), progress=[copy.copy(p) for p in self.progress_history])
