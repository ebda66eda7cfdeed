"""What a stream of events means: ``RunFold.apply(event)`` folds them into a ``RunState``.

One fold for every reader: the live view (the runner tails events.jsonl and applies each new
event as it arrives) and the store's ingest (which applies the whole file) compute phases,
accuracies, the current phase and the end of a run the same way, by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from ..accuracy import average_accuracy, average_forms
from .cost import Cost
from .events import (
    CheckpointSaved,
    CollapseCheck,
    CurvePoint,
    DataLoaded,
    EvalResult,
    Event,
    ModelLoaded,
    PhaseEnd,
    PhaseStart,
    Progress,
    Resumed,
    ReusedFrom,
    RunEnd,
    RunStart,
    RunWarning,
    UnknownEvent,
    Warmup,
    WorkerInfo,
)
from .kinds import PhaseKind, phase_attempt

MAX_WARNINGS = 100


@dataclass
class PhaseState:
    name: str
    kind: str
    ordinal: int  # 1-based, in the order the phases started (or ended, for one never seen starting)
    t_start: float | None = None
    t_end: float | None = None
    total_steps: int | None = None
    completed: bool = False
    tasks: list[str] = field(default_factory=list)
    lang: str | None = None
    reused_from: ReusedFrom | None = None
    costs: dict[str, Cost] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    first_progress: Progress | None = None
    last_progress: Progress | None = None

    def eta_s(self) -> float | None:
        """Seconds left, from the step rate between the first and the latest progress event."""
        first, last = self.first_progress, self.last_progress
        if first is None or last is None or last.step is None or first.step is None:
            return None
        total = last.total_steps or self.total_steps
        if not total:
            return None
        dt, ds = last.t - first.t, last.step - first.step
        if dt <= 0 or ds <= 0:
            return None
        return max(0.0, (total - last.step) * dt / ds)


@dataclass
class RunState:
    run_start: RunStart | None = None
    phases: dict[str, PhaseState] = field(default_factory=dict)  # in start order
    open_phases: list[str] = field(default_factory=list)
    phases_started: list[str] = field(default_factory=list)  # every phase start, in order
    evals: list[EvalResult] = field(default_factory=list)
    accuracy: dict[str, float] = field(default_factory=dict)  # lang ("en" for English) -> the latest accuracy
    checkpoint: CheckpointSaved | None = None  # the saved encoder (after the intermediate phases)
    target_checkpoint: CheckpointSaved | None = None  # the saved model after the target phase
    resume_checkpoint: CheckpointSaved | None = None  # the latest resume checkpoint (rundir/resume.py)
    resumes: list[Resumed] = field(default_factory=list)  # each re-launch that continued from one
    attempts: int = 0  # the job's starts in this run directory (1; more when re-launched and resumed)
    data_sources: list[DataLoaded] = field(default_factory=list)  # every split the run read, in order
    model: ModelLoaded | None = None
    worker: WorkerInfo | None = None  # the warm worker that ran it (None: a process of its own)
    collapse_checks: list[CollapseCheck] = field(default_factory=list)  # one per target attempt judged
    curve: list[CurvePoint] = field(default_factory=list)  # learning-curve points, in order
    warmups: list[Warmup] = field(default_factory=list)  # untimed work before phases (job/warmup.py)
    warnings: list[str] = field(default_factory=list)
    n_warnings: int = 0
    run_end: RunEnd | None = None
    n_events: int = 0
    first_t: float | None = None
    last_t: float | None = None
    unknown_types: set[str] = field(default_factory=set)

    @property
    def current_phase(self) -> str | None:
        """The phase running now (started, not ended)."""
        return self.open_phases[-1] if self.open_phases else None

    @property
    def latest_phase(self) -> str | None:
        """Where a run that has not ended stands: the phase running now, or (between two phases)
        the last one started; None once the run ended."""
        if self.run_end is not None:
            return None
        return self.current_phase or (self.phases_started[-1] if self.phases_started else None)

    @property
    def progress(self) -> Progress | None:
        """The latest progress event of the phase running now."""
        phase = self.current_phase
        return self.phases[phase].last_progress if phase in self.phases else None

    @property
    def warmup_s(self) -> float | None:
        """Seconds of untimed warm-up before the phases (in no phase); None: the job recorded none."""
        return sum(w.seconds for w in self.warmups) if self.warmups else None

    @property
    def phases_done(self) -> int:
        """Planned phases completed (a training phase's curve:<phase> is not one of the plan's)."""
        return sum(1 for p in self.phases.values() if p.completed and p.kind != PhaseKind.CURVE)

    @property
    def phases_planned(self) -> list[str]:
        """The run's phases: those planned at its start (``run_start.phases_planned``) and each
        retry of a collapsed target phase once it started (``target:copa#2``, ``eval:en#2``, ...),
        after the planned phase started before it. No one knows the retries in advance (``RunSpec.phase_plan``),
        but each is a phase the run did: with them, the phases done never pass the phases planned,
        and the store's ``runs.phases_planned`` lists every phase the run recorded."""
        planned = list(self.run_start.phases_planned) if self.run_start else []
        known = set(planned)
        previous: str | None = None
        for name in self.phases_started:
            state = self.phases.get(name)
            retry = phase_attempt(name)[1] > 1 and (state is None or state.kind != PhaseKind.CURVE)
            if retry and name not in known:
                at = planned.index(previous) + 1 if previous is not None else len(planned)
                planned.insert(at, name)
                known.add(name)
            if name in known:  # (a curve:<phase> is no phase of the plan: never a place to insert after)
                previous = name
        return planned

    @property
    def avg_accuracy(self) -> float | None:
        return average_accuracy(self.accuracy)

    def average_forms(self) -> dict[str, float | None]:
        """The average accuracy in every form of xcost_tui/accuracy.py, by leaderboard column
        (avg_accuracy, avg_accuracy_all, avg_accuracy_published, avg_accuracy_seen)."""
        model = self.run_start.spec.get("model") if self.run_start else None
        return average_forms(self.accuracy, model if isinstance(model, str) else None)

    @property
    def collapsed(self) -> bool | None:
        """Whether the model the run went on with (its last target attempt) collapsed; None when
        no attempt was judged (no English validation, or the run stopped before)."""
        return self.collapse_checks[-1].collapsed if self.collapse_checks else None

    @property
    def target_attempts(self) -> int:
        """Target phases trained (1, or more after collapses: target:copa, target:copa#2, ...).
        Every attempt is its own phase with its own costs, all of them training costs of the run;
        accuracies (``accuracy``, the latest per language) are those of the last attempt."""
        return sum(1 for p in self.phases.values() if p.kind == "target" and p.completed)

    def eta_s(self) -> float | None:
        phase = self.current_phase
        return self.phases[phase].eta_s() if phase in self.phases else None


class RunFold:
    """Applies events in order; ``state`` is what they say so far."""

    def __init__(self) -> None:
        self.state = RunState()

    def apply_all(self, events: list[Event]) -> RunState:
        for event in events:
            self.apply(event)
        return self.state

    def _phase(self, name: str, kind: str) -> PhaseState:
        s = self.state
        if name not in s.phases:
            s.phases[name] = PhaseState(name=name, kind=kind, ordinal=len(s.phases) + 1)
        return s.phases[name]

    def apply(self, event: Event) -> None:
        s = self.state
        s.n_events += 1
        if event.t:
            s.first_t = event.t if s.first_t is None else s.first_t
            s.last_t = event.t
        match event:
            case RunStart():
                if s.run_start is not None:  # a re-launched run resumed in the same run directory
                    s.run_end = None
                    s.open_phases.clear()
                    s.data_sources = []  # read again: the latest attempt's are the run's
                s.attempts += 1
                s.run_start = event
            case PhaseStart():
                if not event.phase:
                    return
                phase = self._phase(event.phase, event.kind)
                phase.kind = event.kind or phase.kind
                phase.t_start, phase.total_steps = event.t or None, event.total_steps
                phase.first_progress = phase.last_progress = None
                s.open_phases.append(event.phase)
                s.phases_started.append(event.phase)
            case Progress():
                if event.phase in s.phases:
                    phase = s.phases[event.phase]
                    if phase.first_progress is None:
                        phase.first_progress = event
                    phase.last_progress = event
            case PhaseEnd():
                if not event.phase:
                    return
                phase = self._phase(event.phase, event.kind)
                phase.kind = event.kind or phase.kind
                phase.completed, phase.t_end = True, event.t or None
                phase.tasks, phase.lang, phase.reused_from = list(event.tasks), event.lang, event.reused_from
                phase.costs, phase.info = dict(event.costs), dict(event.info)
                if event.phase in s.open_phases:
                    s.open_phases.remove(event.phase)
            case EvalResult():
                s.evals.append(event)
                if event.lang and event.accuracy is not None:
                    s.accuracy[event.lang] = event.accuracy
            case CheckpointSaved():
                if event.kind == "resume":
                    s.resume_checkpoint = event
                elif event.kind == "target":
                    s.target_checkpoint = event
                else:
                    s.checkpoint = event
            case Resumed():
                s.resumes.append(event)
            case DataLoaded():
                s.data_sources.append(event)
            case ModelLoaded():
                s.model = event
            case WorkerInfo():
                s.worker = event
            case CollapseCheck():
                s.collapse_checks.append(event)
            case CurvePoint():
                s.curve.append(event)
            case Warmup():
                s.warmups.append(event)
            case RunWarning():
                s.n_warnings += 1
                if len(s.warnings) < MAX_WARNINGS:
                    s.warnings.append(event.message)
            case RunEnd():
                s.run_end = event
                s.open_phases.clear()
            case UnknownEvent():
                s.unknown_types.add(event.type_name)
            case _:
                _unhandled(event)


def _unhandled(event: NoReturn) -> NoReturn:
    """mypy proves this unreachable: every type of ``Event`` has its case above."""
    raise AssertionError(f"no meaning defined for the event {event!r}")
