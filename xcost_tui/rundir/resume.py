"""Resume checkpoints: where a long training phase's state is kept, so a preempted or re-launched
run continues where it was instead of starting again (issue 20; docs/run-directory.md, "Resume").

``RUN_DIR/checkpoints/resume/<n>/`` holds ``state.pt`` (the job writes it: weights, optimiser,
scheduler, random states, the phase's position; job/resume.py) and ``resume.json`` (this module's
record: the phase, the step, the phase's costs so far, the lost work of earlier interruptions). A
checkpoint is written in ``.tmp-<n>`` and renamed into place when complete; the previous one is
deleted after. The latest complete one is the one a re-launch continues from. Torch-free: the
runner asks ``latest`` whether a run directory can resume.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .events import PhaseStart, Progress, RunEnd, RunStart, parse_event
from .fields import as_float, as_int
from .jsonl import read_json_object, read_jsonl
from .layout import RunDir

# How often a training phase writes one, in minutes (0: never): the job reads it from its
# environment; the plan's [executor] checkpoint_every_min sets it (the runner's _job_env)
EVERY_MIN_ENV = "XCOST_CHECKPOINT_EVERY_MIN"
META = "resume.json"
STATE = "state.pt"
TMP = ".tmp-"


@dataclass(frozen=True)
class ResumePoint:
    """The latest complete resume checkpoint of a run directory."""

    path: Path
    meta: dict[str, Any]

    @property
    def phase(self) -> str:
        return str(self.meta.get("phase") or "")

    @property
    def step(self) -> int | None:
        """Optimiser steps of the phase done; None for a checkpoint taken after the phase ended."""
        return None if self.meta.get("done") else as_int(self.meta.get("step"))

    @property
    def done(self) -> bool:
        return bool(self.meta.get("done"))


def _number(path: Path) -> int | None:
    return int(path.name) if path.name.isdigit() else None


def latest(run_dir: Path) -> ResumePoint | None:
    """The latest complete checkpoint (its record readable), or None."""
    root = RunDir(run_dir).resume_checkpoints
    try:
        entries = sorted((p for p in root.iterdir() if _number(p) is not None), key=lambda p: _number(p) or 0)
    except OSError:
        return None
    for path in reversed(entries):
        try:
            meta = read_json_object(path / META)
        except (OSError, ValueError):
            meta = None
        if meta is not None and (path / STATE).is_file():
            return ResumePoint(path, meta)
    return None


def next_path(run_dir: Path) -> tuple[Path, Path]:
    """(temporary folder, final folder) of the next checkpoint."""
    root = RunDir(run_dir).resume_checkpoints
    current = latest(run_dir)
    n = (_number(current.path) or 0) + 1 if current is not None else 1
    return root / f"{TMP}{n}", root / str(n)


def prune(run_dir: Path, keep: Path) -> None:
    """Deletes every checkpoint but ``keep`` (the one just completed), and leftovers of a write
    that was interrupted."""
    root = RunDir(run_dir).resume_checkpoints
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for path in entries:
        if path != keep:
            shutil.rmtree(path, ignore_errors=True)


def clear(run_dir: Path) -> None:
    """No resume checkpoint any more (the run succeeded: nothing to continue)."""
    shutil.rmtree(RunDir(run_dir).resume_checkpoints, ignore_errors=True)


@dataclass(frozen=True)
class Lost:
    """Work of an interrupted attempt after its last checkpoint: lost, but paid for."""

    seconds: float | None
    steps: int | None
    flops: float | None
    source: str  # "interruption" (recorded by the job at the signal) | "events" (killed: its last event)
    interrupted_t: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lost_s": self.seconds,
            "lost_steps": self.steps,
            "lost_flops": self.flops,
            "source": self.source,
            "interrupted_t": self.interrupted_t,
        }


def lost_work(run_dir: Path, point: ResumePoint) -> Lost:
    """What the attempt that stopped after ``point`` was written lost. The job records it at the
    interruption when a signal stopped it (``meta["interrupted"]``); a killed job recorded nothing:
    then the time from the checkpoint to the attempt's last own event (at least what was lost: its
    progress events are ``progress_every_s`` apart), and the steps its last progress event reached
    past the checkpoint's (its FLOPs are unknown: null)."""
    recorded = point.meta.get("interrupted")
    if isinstance(recorded, dict):
        return Lost(
            as_float(recorded.get("lost_s")),
            as_int(recorded.get("lost_steps")),
            as_float(recorded.get("lost_flops")),
            "interruption",
            as_float(recorded.get("interrupted_t")),
        )
    saved_t = as_float(point.meta.get("t")) or 0.0
    last_t: float | None = None
    last_step: int | None = None
    in_phase = False
    for obj in read_jsonl(RunDir(run_dir).events):
        event = parse_event(obj)
        if event is None or not event.t:
            continue
        if isinstance(event, RunStart) and event.t > saved_t:
            break  # a later attempt started: the stop was before it
        if isinstance(event, PhaseStart):
            in_phase = event.phase == point.phase
        if event.t >= saved_t and not isinstance(event, RunEnd):  # a run_end after a kill is the supervisor's, later
            last_t = event.t
            if in_phase and isinstance(event, Progress) and event.phase == point.phase and event.step is not None:
                last_step = event.step
    seconds = max(0.0, last_t - saved_t) if last_t is not None else None
    base = point.step or 0
    steps = max(0, last_step - base) if last_step is not None else (0 if seconds is not None else None)
    return Lost(seconds, steps, None, "events", last_t)
