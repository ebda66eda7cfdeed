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

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ..accuracy import ENGLISH, average_accuracy
from ..rundir import JsonlReader, Progress, RunDir, RunEnd, RunFold, RunStatus, Sample, parse_event
from ..spec import RunSpec

QUEUED = RunStatus.QUEUED  # waiting for a slot
WAITING = RunStatus.WAITING  # waiting for another run's shared phase (its encoder or post-target model)
RUNNING = RunStatus.RUNNING
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
    status: RunStatus = RunStatus.QUEUED
    phase: str | None = None  # where a running run stands (RunState.latest_phase)
    phases_done: int = 0
    phases_planned: int = 0
    progress: Progress | None = None  # the latest progress event of the current phase
    sample: Sample | None = None  # the latest resource sample
    eta_s: float | None = None  # seconds left in the current phase (from its step rate)
    started: float | None = None  # unix seconds
    ended: float | None = None
    error: str | None = None
    pid: int | None = None
    gpu: str | None = None  # the CUDA_VISIBLE_DEVICES value given to the job
    exit_code: int | None = None
    skipped: bool = False  # it had already succeeded, so it was not run again
    attached: bool = False  # found running when this supervisor started (a re-attach)
    elsewhere: bool = False  # another supervisor holds its claim (launched it, records its end): only followed here
    waiting_for: str | None = None  # the run id whose saved encoder (or post-target model) this run will start from
    waiting_target: bool = False  # waiting_for's post-target model (shared target phase), not its encoder
    init_from: str | None = None
    save_encoder: bool = False
    init_target_from: str | None = None  # a saved model after the target phase it starts from
    save_target: bool = False  # it saves its model after the target phase for others
    cancelling: bool = False
    executor: str = "local"  # where it runs: local or slurm (runner/executors.py)
    job_id: str | None = None  # its SLURM job id
    executor_state: str | None = None  # SLURM's state: PENDING, RUNNING, COMPLETED, TIMEOUT, ...
    executor_reason: str | None = None  # SLURM's reason (why pending; how it ended)
    node: str | None = None  # where it runs (SLURM's node, or the host the job recorded)
    depends_on: str | None = None  # the SLURM job it waits for (afterok)
    cpu_threads: int | None = None  # its CPU share (threads), when the runner gave it one
    contended_phases: int = 0  # phases so far measured beside other work (their contended flag)
    accuracy: dict[str, float] = field(default_factory=dict)  # lang -> accuracy ("en": English COPA)
    phases_started: list[str] = field(default_factory=list)  # every phase started so far, in order
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: RunSpec, run_dir: Path) -> LiveRun:
        return cls(
            run_id=spec.run_id(),
            run_dir=Path(run_dir),
            name=spec.name,
            method=spec.method,
            model=spec.model,
            intermediate=list(spec.intermediate),
            few_shot_k=spec.few_shot_k,
            seed=spec.seed,
            langs=list(spec.langs),
            phases_planned=len(spec.phases_planned),
            init_from=spec.init_from,
            save_encoder=spec.save_encoder,
            init_target_from=spec.init_target_from,
            save_target=spec.save_target,
        )

    @classmethod
    def from_run_dir(cls, run_dir: Path) -> LiveRun:
        """A run found on disk (its spec may be from another version: read leniently)."""
        run_dir = Path(run_dir)
        try:
            spec = RunDir(run_dir).read_spec()
        except (OSError, ValueError):
            spec = {}
        k = spec.get("few_shot_k")
        seed = spec.get("seed")
        return cls(
            run_id=run_dir.name,
            run_dir=run_dir,
            name=_opt_str(spec.get("name")),
            method=str(spec.get("method", "")),
            model=str(spec.get("model", "")),
            intermediate=[str(t) for t in spec.get("intermediate") or []],
            few_shot_k=k if isinstance(k, int) else None,
            seed=seed if isinstance(seed, int) else 0,
            langs=[str(x) for x in spec.get("langs") or []],
            init_from=_opt_str(spec.get("init_from")),
            save_encoder=bool(spec.get("save_encoder")),
            init_target_from=_opt_str(spec.get("init_target_from")),
            save_target=bool(spec.get("save_target")),
        )

    # ---- derived ----------------------------------------------------------------------------
    @property
    def label(self) -> str:
        return self.name or self.run_id

    @property
    def done(self) -> bool:
        return self.status.final

    @property
    def where(self) -> str:
        """'slurm 123 PENDING (Resources)', 'slurm 124 RUNNING on n1', or 'pid 4242' (the Live table)."""
        if self.job_id is not None or self.executor == "slurm":
            text = f"slurm {self.job_id or '?'}"
            if self.executor_state:
                text += f" {self.executor_state}"
            if self.executor_state == "PENDING" and self.executor_reason:
                text += f" ({self.executor_reason})"
            elif self.node:
                text += f" on {self.node}"
            return text
        return f"pid {self.pid}" if self.pid is not None else ""

    @property
    def display_status(self) -> str:
        """The status a front end shows: 'cancelling' while a cancel is under way, 'pending' while
        SLURM holds a submitted run back, else the status."""
        if self.cancelling and not self.done:
            return "cancelling"
        if self.status == RUNNING and self.executor_state == "PENDING":
            return "pending"
        return self.status.value

    @property
    def step(self) -> int | None:
        return self.progress.step if self.progress else None

    @property
    def total_steps(self) -> int | None:
        return self.progress.total_steps if self.progress else None

    @property
    def avg_accuracy(self) -> float | None:
        """Mean accuracy over the XCOPA languages evaluated so far (English excluded)."""
        return average_accuracy(self.accuracy)

    @property
    def en_accuracy(self) -> float | None:
        return self.accuracy.get(ENGLISH)

    def elapsed_s(self, now: float) -> float | None:
        if self.started is None:
            return None
        return (self.ended or now) - self.started

    def copy(self) -> LiveRun:
        return dataclasses.replace(
            self,
            intermediate=list(self.intermediate),
            langs=list(self.langs),
            accuracy=dict(self.accuracy),
            phases_started=list(self.phases_started),
            warnings=list(self.warnings),
        )


def _opt_str(v: object) -> str | None:
    return None if v is None else str(v)


@dataclass
class RunHistory:
    """Recent samples and progress events of one run, oldest first (for charts)."""

    samples: list[Sample] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)


class RunTracker:
    """Follows one run directory: tails events.jsonl through the run-directory fold (the same
    fold ingest uses) and samples.jsonl. Not thread-safe: the scheduler calls it under its lock."""

    def __init__(self, live: LiveRun, history_len: int = HISTORY_LEN):
        self.live = live
        self.history_len = history_len
        self.reset_tails(clear_live=False)

    def reset_tails(self, clear_live: bool = True) -> None:
        """The run directory was started afresh (a rerun): read its files from the beginning."""
        files = RunDir(self.live.run_dir)
        self.events = JsonlReader(files.events)
        self.samples = JsonlReader(files.samples)
        self.fold = RunFold()
        self.sample_history: deque[Sample] = deque(maxlen=self.history_len)
        self.progress_history: deque[Progress] = deque(maxlen=self.history_len)
        if clear_live:
            live = self.live
            live.phase, live.phases_done, live.progress, live.sample, live.eta_s = None, 0, None, None, None
            live.accuracy, live.warnings, live.phases_started = {}, [], []

    @property
    def checkpoint_saved(self) -> str | None:
        """The saved encoder's path (relative to the run directory), once the job saved it."""
        ckpt = self.fold.state.checkpoint
        return ckpt.path if ckpt else None

    @property
    def target_checkpoint_saved(self) -> str | None:
        """The saved model after the target phase (relative to the run directory), once saved."""
        ckpt = self.fold.state.target_checkpoint
        return ckpt.path if ckpt else None

    @property
    def seen_run_end(self) -> RunEnd | None:
        return self.fold.state.run_end

    def poll(self) -> int:
        """Reads what was appended since the last poll; returns how many new events there were."""
        n = 0
        for obj in self.events.read_all():
            event = parse_event(obj)
            if event is None:
                continue
            self.fold.apply(event)
            if isinstance(event, Progress):
                self.progress_history.append(event)
            n += 1
        if n:
            self._sync()
        try:
            raw = self.samples.read_all()
        except OSError:  # samples.jsonl unreadable (the sampler beside the job says why in its log)
            raw = []
        samples = [s for s in (Sample.from_dict(o) for o in raw) if s is not None]
        if samples:
            self.sample_history.extend(samples)
            self.live.sample = samples[-1]
        return n

    def _sync(self) -> None:
        state, live = self.fold.state, self.live
        if state.run_start is not None:
            live.phases_planned = len(state.phases_planned) or live.phases_planned  # with retries
            if live.started is None and state.run_start.t:
                live.started = state.run_start.t
        live.phase = state.latest_phase
        live.phases_done = state.phases_done
        live.progress = state.progress
        live.eta_s = state.eta_s()
        live.accuracy = dict(state.accuracy)
        live.phases_started = list(state.phases_started)
        live.warnings = list(state.warnings)
        live.contended_phases = sum(
            1
            for p in state.phases.values()
            if p.completed and not p.reused_from and (c := p.costs.get("contended")) is not None and bool(c.value)
        )
        if state.run_end is not None and state.run_end.error and not live.error:
            live.error = state.run_end.error

    def history(self) -> RunHistory:
        return RunHistory(samples=list(self.sample_history), progress=list(self.progress_history))
