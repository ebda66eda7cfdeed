"""Resumable training phases: a long intermediate phase (MNLI, QQP on XLM-R large: hours) writes
a resume checkpoint every ``XCOST_CHECKPOINT_EVERY_MIN`` minutes (default 30; 0: never) and when
a signal stops it (SLURM's SIGTERM at preemption or at the time limit, a cancel), so that the run,
launched again in the same run directory, continues from it with identical results.

A checkpoint is taken at an optimiser step's boundary (nothing accumulated: the gradient
accumulation's position is always the step's start). It holds the weights (every head), the
optimiser, the scheduler, the fp16 loss scaler, the random states (torch CPU and CUDA, numpy,
Python), the example order's generator as it was when the epoch's schedule was drawn (the
schedule of several mixed tasks included) with the epoch and the position in it, the phase's
counts and per-step losses, and, in its record (rundir/resume.py), the phase's measured costs so
far, the phase records before it and the lost work of earlier interruptions. Writing it is
outside the phase's timed window (the meter is paused) and recorded apart (``checkpoint_s``).

``XCOST_CHECKPOINT_EVERY_STEPS`` (tests: a checkpoint every N steps, not timing-dependent) and
``XCOST_TEST_SIGNAL_AT_STEP`` ("TERM:5" or "KILL:5": the job signals itself after step 5 of a
checkpointed phase, the preemption of a test) are for tests.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..rundir import CheckpointSaved, EventWriter, write_json_atomic
from ..rundir import resume as points
from ..rundir.resume import EVERY_MIN_ENV, Lost, ResumePoint

EVERY_STEPS_ENV = "XCOST_CHECKPOINT_EVERY_STEPS"
SIGNAL_AT_ENV = "XCOST_TEST_SIGNAL_AT_STEP"
DEFAULT_EVERY_MIN = 30.0


def interval() -> tuple[float | None, int | None]:
    """(seconds, steps) between checkpoints from the environment; (None, None): off."""
    steps_text = os.environ.get(EVERY_STEPS_ENV, "").strip()
    if steps_text:
        try:
            steps = int(steps_text)
        except ValueError:
            steps = 0
        return None, (steps if steps > 0 else None)
    text = os.environ.get(EVERY_MIN_ENV, "").strip()
    try:
        minutes = float(text) if text else DEFAULT_EVERY_MIN
    except ValueError:
        minutes = DEFAULT_EVERY_MIN
    return (minutes * 60.0 if minutes > 0 else None), None


def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np

        states["numpy"] = np.random.get_state()
    except ImportError:  # pragma: no cover
        pass
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
    if "numpy" in states:
        import numpy as np

        np.random.set_state(states["numpy"])


@dataclass
class Restored:
    """A checkpoint read back: its record and its state."""

    point: ResumePoint
    state: dict[str, Any]
    lost: Lost | None = None  # the work the attempt that stopped after it lost

    @classmethod
    def load(cls, point: ResumePoint) -> Restored:
        state = torch.load(point.path / points.STATE, map_location="cpu", weights_only=False)
        return cls(point, state)

    def restore_model(self, model) -> None:
        """The weights, with every head the phase had (in its order: the optimiser's state is by position)."""
        for key in self.state["heads"]:
            model.ensure_head(key)
        model.load_state_dict(self.state["model"])


@dataclass
class Checkpointer:
    """Writes a training phase's resume checkpoints. ``meter``: the phase's (paused while writing);
    ``records``: the phase records before this phase (to_dict), kept in each checkpoint's record."""

    run_dir: Path
    phase: str
    events: EventWriter
    meter: Any
    log: Callable[[str], None]
    records: list[dict] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # facts of the phase set before training (heads)
    restored: Restored | None = None
    every_s: float | None = None
    every_steps: int | None = None

    def __post_init__(self) -> None:
        meta = self.restored.point.meta if self.restored is not None else {}
        earlier = meta.get("costs")
        self.earlier: dict[str, Any] = (
            dict(earlier) if isinstance(earlier, dict) else {}
        )  # the phase's useful costs in earlier attempts
        self.lost: list[dict] = list(meta.get("lost") or [])  # each earlier interruption's lost work
        if self.restored is not None and self.restored.lost is not None:
            self.lost.append(self.restored.lost.to_dict())
        self.checkpoint_s = float(meta.get("checkpoint_s") or 0.0)
        self.attempt = int(meta.get("attempt") or 1) + (1 if self.restored is not None else 0)
        self.last_step = self.restored.point.step or 0 if self.restored is not None else 0
        self.last_save = time.monotonic()
        self.saves = 0  # checkpoints this attempt wrote
        at = os.environ.get(SIGNAL_AT_ENV, "")
        name, _, step = at.partition(":")
        self.signal_at = (
            (getattr(signal, f"SIG{name}", signal.SIGTERM), int(step)) if step.isdigit() and not self.restored else None
        )

    # ---- when ------------------------------------------------------------------------------------
    def due(self, step: int) -> bool:
        if self.every_steps is not None:
            return step - self.last_step >= self.every_steps
        return self.every_s is not None and time.monotonic() - self.last_save >= self.every_s

    def after_step(self, step: int) -> None:
        """The test hook: the preemption of a test, after a given step (``XCOST_TEST_SIGNAL_AT_STEP``)."""
        if self.signal_at is not None and step == self.signal_at[1]:
            os.kill(os.getpid(), self.signal_at[0])

    # ---- the costs -------------------------------------------------------------------------------
    def useful(self, lost_now: float = 0.0) -> dict[str, Any]:
        """The phase's useful costs up to now, every attempt together (the meter's windows are closed)."""
        energy = self.meter.energy_cost()
        before = self.earlier.get("energy_j", 0.0)
        return {
            "wall_s": float(self.earlier.get("wall_s", 0.0)) + self.meter.wall - lost_now,
            "cpu_s": float(self.earlier.get("cpu_s", 0.0)) + self.meter.cpu,
            "energy_j": (before + energy.value) if before is not None and energy.value is not None else None,
        }

    # ---- writing ---------------------------------------------------------------------------------
    def save(self, state: dict[str, Any], step: int, *, interrupted: dict | None = None, done: bool = False) -> float:
        """Writes a checkpoint (the meter paused); returns the seconds it took."""
        t0 = time.monotonic()
        with self.meter.paused():
            lost_now = float((interrupted or {}).get("lost_s") or 0.0)
            self._write(state, step, self.useful(lost_now), interrupted=interrupted, done=done, t0=t0)
        spent = time.monotonic() - t0
        self.last_save, self.last_step = time.monotonic(), step
        return spent

    def save_done(self, state: dict[str, Any], records: list[dict]) -> None:
        """After the phase ended (its record among ``records``): the weights the phases after it start from."""
        self.records = records
        self._write(state, self.last_step, {}, interrupted=None, done=True, t0=time.monotonic())

    def _write(self, state, step, costs, *, interrupted, done, t0) -> None:
        tmp, final = points.next_path(self.run_dir)
        tmp.mkdir(parents=True, exist_ok=True)
        torch.save(state, tmp / points.STATE)
        seconds = time.monotonic() - t0
        self.checkpoint_s += seconds
        self.saves += 1
        meta = {
            "phase": self.phase,
            "done": done,
            "step": step,
            "t": time.time(),
            "attempt": self.attempt,
            "costs": costs,
            "checkpoint_s": self.checkpoint_s,
            "lost": self.lost,
            "records": self.records,
            "info": self.info,
            **({"interrupted": interrupted} if interrupted else {}),
        }
        write_json_atomic(tmp / points.META, meta)
        os.replace(tmp, final)  # complete: it becomes the one a re-launch finds
        points.prune(self.run_dir, final)
        self.events.emit(
            CheckpointSaved(
                self.phase, str(final.relative_to(self.run_dir)), {}, "resume", None if done else step, seconds
            )
        )
        self.log(f"{self.phase}: resume checkpoint at step {step} ({seconds:.2f}s) in {final}")

    def interrupted(self, state: dict[str, Any] | None, step: int, lost: dict[str, Any]) -> None:
        """A signal stopped the phase in the middle of step ``step`` + 1: the state at the step's
        start is saved (unless a checkpoint holds it already) with the work lost since (the
        partial step). Nothing to save before the first step."""
        lost = {**lost, "interrupted_t": time.time()}
        if step > self.last_step and state is not None:
            self.save(state, step, interrupted=lost)
            return
        current = points.latest(self.run_dir)
        if current is not None and current.phase == self.phase:
            meta = {**current.meta, "interrupted": lost, "lost": self.lost, "attempt": self.attempt}
            write_json_atomic(current.path / points.META, meta)
