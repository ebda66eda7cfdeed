"""A running run's progress in words: the lines headless prints without a terminal, and the lines
``xcost-tui run`` prints beside its job's log (one place for both, so they read the same).

They come from the live API (runner/live.py): a ``LiveRun``'s phase, its latest progress event
(step/total, loss, examples/s) and its latest resource sample (the sampler beside the job).
"""

from __future__ import annotations

import os
import time

from .. import format as fmt
from ..rundir.kinds import PhaseKind
from .live import LiveRun

# curve:<phase>, a training phase's learning-curve evaluations (job/curves.py): measured as a phase
# of its own but not one of the phases planned, so it is not counted in "phase 2/5".
CURVE_PREFIX = f"{PhaseKind.CURVE}:"

# How often a progress line is printed per run, in seconds (0: at every new look; default 10 s).
PROGRESS_EVERY_ENV = "XCOST_PROGRESS_EVERY_S"
DEFAULT_PROGRESS_EVERY_S = 10.0


def progress_every_s() -> float:
    """The progress lines' interval: $XCOST_PROGRESS_EVERY_S, else 10 s (a value that is not a
    number >= 0 is the default: a progress display never stops a run)."""
    try:
        every = float(os.environ.get(PROGRESS_EVERY_ENV, DEFAULT_PROGRESS_EVERY_S))
    except ValueError:
        return DEFAULT_PROGRESS_EVERY_S
    return every if every >= 0 else DEFAULT_PROGRESS_EVERY_S


def fmt_bytes(n: float | None) -> str:
    return "-" if n is None else fmt.nbytes(n)


def fmt_duration(s: float | None) -> str:
    return "-" if s is None else fmt.seconds(max(0.0, s))


def mem_text(run: LiveRun) -> str:
    """'rss 1.2 GiB gpu 3.4 GiB' from the latest sample, else the progress event's memory."""
    parts = []
    sample = run.sample
    if sample is not None and sample.rss_bytes is not None:
        parts.append(f"rss {fmt_bytes(sample.rss_bytes)}")
    gpu = sample.gpu_proc_mem_bytes if sample is not None else None
    if gpu is not None:
        parts.append(f"gpu {fmt_bytes(gpu)}")
    if not parts and run.progress is not None and run.progress.mem_bytes is not None:
        parts.append(f"mem {fmt_bytes(run.progress.mem_bytes)}")
    return " ".join(parts)


def speed_text(run: LiveRun) -> str:
    eps = run.progress.examples_per_s if run.progress else None
    return f"{eps:,.1f} ex/s" if eps is not None else ""


def step_text(run: LiveRun) -> str:
    p = run.progress
    if p is None or p.step is None:
        return ""
    return f"step {p.step}/{p.total_steps or '?'}"


def elapsed_text(run: LiveRun, now: float) -> str:
    """'1m02s elapsed' since the run started, with the phase's time left when its step rate says."""
    elapsed = run.elapsed_s(now)
    if elapsed is None:
        return ""
    text = f"{fmt_duration(elapsed)} elapsed"
    if run.eta_s is not None:
        text += f", phase ~{fmt_duration(run.eta_s)} left"
    return text


def progress_line(run: LiveRun, now: float | None = None) -> str:
    """'direct: target:copa step 40/120, loss 0.6931, 35.2 ex/s, rss 1.1 GiB, 1m02s elapsed'."""
    now = time.time() if now is None else now
    bits = [b for b in (step_text(run), speed_text(run), mem_text(run), elapsed_text(run, now)) if b]
    loss = run.progress.loss if run.progress else None
    if loss is not None:
        bits.insert(1 if step_text(run) else 0, f"loss {loss:.4f}")
    return f"{run.label}: {run.phase or '-'} " + ", ".join(bits)


class ProgressLines:
    """Turns successive looks at runs into lines: each phase as it starts ('direct: phase
    target:copa (2/5)'), and a progress line per run at most every ``every_s`` seconds."""

    def __init__(self, every_s: float):
        self.every_s = every_s
        self.phases_seen: dict[str, int] = {}
        self.last_progress: dict[str, float] = {}

    def phase_lines(self, run: LiveRun, now: float) -> list[str]:
        seen = self.phases_seen.get(run.run_id, 0)
        out = []
        for i, phase in enumerate(run.phases_started[seen:], seen):
            if phase.startswith(CURVE_PREFIX):  # a training phase's learning curve: no phase of the plan
                out.append(f"{run.label}: phase {phase} (learning curve)")
                continue
            number = sum(1 for p in run.phases_started[: i + 1] if not p.startswith(CURVE_PREFIX))
            out.append(f"{run.label}: phase {phase} ({number}/{run.phases_planned})")
        if out:  # a phase line says where the run is: the next progress line waits its interval
            self.last_progress[run.run_id] = now
        self.phases_seen[run.run_id] = len(run.phases_started)
        return out

    def progress_lines(self, run: LiveRun, now: float) -> list[str]:
        """A progress line when the run has progress and its interval has passed (``now``: monotonic)."""
        if run.progress is None or now - self.last_progress.get(run.run_id, -float("inf")) < self.every_s:
            return []
        self.last_progress[run.run_id] = now
        return [progress_line(run)]
