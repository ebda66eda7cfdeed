"""The events of ``events.jsonl``: one typed record per event type, with a type tag.

A job writes events through these constructors (``EventWriter.emit(PhaseEnd(...))``); every
reader parses lines with ``parse_event``, which is tolerant: a field of the wrong type becomes
its empty value (None, [], {}), an unknown event type becomes ``UnknownEvent``, so an old or
damaged run directory is read as far as it goes and never crashes a reader. The meaning of
each event lives in ``fold.py``. Adding an event type: a record here (added to ``Event`` and
``EVENT_TYPES``), its writer in the job, and its case in ``RunFold.apply`` (mypy checks that
every type of ``Event`` has one).

Line format: ``{"t": <unix seconds>, "type": "<tag>", <the record's fields>}``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .cost import Cost
from .fields import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_str,
    as_str_or_empty,
    as_strs,
    floats_by_key,
    ints_by_key,
)
from .jsonl import JsonlWriter

# ---- the records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReusedFrom:
    """Where a phase this run did not execute was incurred (a saved encoder's producer)."""

    run_id: str | None
    run_dir: str | None
    phase: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "run_dir": self.run_dir, "phase": self.phase}

    @classmethod
    def from_dict(cls, data: Any) -> ReusedFrom | None:
        if not isinstance(data, dict):
            return None
        return cls(as_str(data.get("run_id")), as_str(data.get("run_dir")), as_str(data.get("phase")))


@dataclass(frozen=True)
class _Event:
    TYPE: ClassVar[str] = ""
    t: float = field(default=0.0, kw_only=True)  # unix seconds; 0 until written (EventWriter stamps it)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t, "type": self.TYPE}
        for f in dataclasses.fields(self):
            if f.name != "t":
                out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, (Cost, ReusedFrom)):
        return v.to_dict()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


@dataclass(frozen=True)
class RunStart(_Event):
    TYPE: ClassVar[str] = "run_start"
    run_id: str
    spec: dict[str, Any]
    env: dict[str, Any]  # measure/env.py: versions, host, device, precision, cpu threads, git commit
    phases_planned: list[str]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunStart:
        return cls(
            as_str_or_empty(d.get("run_id")),
            as_dict(d.get("spec")),
            as_dict(d.get("env")),
            as_strs(d.get("phases_planned")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class PhaseStart(_Event):
    TYPE: ClassVar[str] = "phase_start"
    phase: str
    kind: str  # PhaseKind value: intermediate, target, few-shot, eval, inference-bench
    total_steps: int | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhaseStart:
        return cls(
            as_str_or_empty(d.get("phase")),
            as_str_or_empty(d.get("kind")),
            as_int(d.get("total_steps")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class Progress(_Event):
    TYPE: ClassVar[str] = "progress"
    phase: str
    step: int | None = None
    total_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    lr: float | None = None
    examples_per_s: float | None = None
    tokens_per_s: float | None = None
    mem_bytes: int | None = None
    peak_mem_bytes: int | None = None
    mem_source: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Progress:
        return cls(
            as_str_or_empty(d.get("phase")),
            as_int(d.get("step")),
            as_int(d.get("total_steps")),
            as_float(d.get("epoch")),
            as_float(d.get("loss")),
            as_float(d.get("lr")),
            as_float(d.get("examples_per_s")),
            as_float(d.get("tokens_per_s")),
            as_int(d.get("mem_bytes")),
            as_int(d.get("peak_mem_bytes")),
            as_str(d.get("mem_source")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class PhaseEnd(_Event):
    TYPE: ClassVar[str] = "phase_end"
    phase: str
    kind: str
    tasks: list[str] = field(default_factory=list)
    lang: str | None = None
    reused_from: ReusedFrom | None = None
    costs: dict[str, Cost] = field(default_factory=dict)  # figure name -> Cost (docs/measurement.md)
    info: dict[str, Any] = field(default_factory=dict)  # facts of the phase: steps, k, precision, ...

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhaseEnd:
        costs = {name: Cost.from_dict(c) for name, c in as_dict(d.get("costs")).items()}
        return cls(
            as_str_or_empty(d.get("phase")),
            as_str_or_empty(d.get("kind")),
            as_strs(d.get("tasks")),
            as_str(d.get("lang")),
            ReusedFrom.from_dict(d.get("reused_from")),
            costs,
            as_dict(d.get("info")),
            t=as_float(d.get("t")) or 0.0,
        )

    def value(self, name: str) -> float | None:
        """A cost figure's value, None when absent or not measured."""
        c = self.costs.get(name)
        return None if c is None or c.value is None else float(c.value)


@dataclass(frozen=True)
class EvalResult(_Event):
    TYPE: ClassVar[str] = "eval_result"
    phase: str
    task: str
    lang: str  # an XCOPA language, or "en" for English COPA validation
    split: str
    accuracy: float | None
    n: int | None
    correct: int | None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalResult:
        return cls(
            as_str_or_empty(d.get("phase")),
            as_str_or_empty(d.get("task")),
            as_str_or_empty(d.get("lang")),
            as_str_or_empty(d.get("split")),
            as_float(d.get("accuracy")),
            as_int(d.get("n")),
            as_int(d.get("correct")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class CheckpointSaved(_Event):
    TYPE: ClassVar[str] = "checkpoint_saved"
    phase: str | None
    path: str  # relative to the run directory
    key: dict[str, Any]  # RunSpec.intermediate_key() (or target_key()): what the saved model embodies
    # which checkpoint: "intermediate" (the encoder after the intermediate phases), "target" (the
    # model after the target phase, English validation, collapse retries and learning curve) or
    # "resume" (a training phase's state, for a re-launched run to continue from: rundir/resume.py)
    kind: str = "intermediate"
    step: int | None = None  # resume: the optimiser steps of the phase done (None: after the phase)
    seconds: float | None = None  # resume: how long writing it took (outside the phase's timed window)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckpointSaved:
        return cls(
            as_str(d.get("phase")),
            as_str_or_empty(d.get("path")),
            as_dict(d.get("key")),
            as_str(d.get("kind")) or "intermediate",
            as_int(d.get("step")),
            as_float(d.get("seconds")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class Resumed(_Event):
    """A re-launched run continues from its resume checkpoint (rundir/resume.py): the phase and the
    step it continues from, and the work of the interrupted attempt that was lost (done after the
    checkpoint, before the interruption): its wall seconds, optimiser steps and analytic FLOPs.
    ``lost_source``: "interruption" (the job recorded it when the signal came), "events" (the job
    was killed: from its last event; FLOPs then unknown, null). The lost work is also in the
    phase's record (costs ``lost_wall_s``, ``lost_steps``, ``lost_flops``)."""

    TYPE: ClassVar[str] = "resumed"
    phase: str | None
    step: int | None  # optimiser steps of the phase already done (None: the phase had ended)
    attempt: int  # this attempt of the run: 2 for the first resume
    checkpoint: str  # relative to the run directory
    lost_s: float | None = None
    lost_steps: int | None = None
    lost_flops: float | None = None
    lost_source: str | None = None
    interrupted_t: float | None = None  # when the interrupted attempt stopped (unix seconds)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Resumed:
        return cls(
            as_str(d.get("phase")),
            as_int(d.get("step")),
            as_int(d.get("attempt")) or 2,
            as_str_or_empty(d.get("checkpoint")),
            as_float(d.get("lost_s")),
            as_int(d.get("lost_steps")),
            as_float(d.get("lost_flops")),
            as_str(d.get("lost_source")),
            as_float(d.get("interrupted_t")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class CurvePoint(_Event):
    """One point of a learning curve: during a training phase, the held-out accuracy at a step,
    against the cumulative training cost of the run's pipeline so far (a reused intermediate
    phase included). The evaluation's own cost is recorded apart and is not training cost."""

    TYPE: ClassVar[str] = "curve_point"
    phase: str  # the training phase: target:copa, few-shot:it
    point: int  # 1-based within the phase
    step: int | None
    total_steps: int | None
    split: str  # the held-out split the accuracies are on (validation)
    accuracy: dict[str, float | None] = field(default_factory=dict)  # "en" or an XCOPA language -> accuracy
    n: dict[str, int] = field(default_factory=dict)  # items evaluated per language (0: none left)
    cum_train_device_hours: float | None = None
    cum_train_flops: float | None = None
    cum_train_energy_j: float | None = None
    eval_wall_s: float | None = None
    eval_flops: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CurvePoint:
        return cls(
            as_str_or_empty(d.get("phase")),
            as_int(d.get("point")) or 0,
            as_int(d.get("step")),
            as_int(d.get("total_steps")),
            as_str_or_empty(d.get("split")),
            floats_by_key(d.get("accuracy")),
            ints_by_key(d.get("n")),
            as_float(d.get("cum_train_device_hours")),
            as_float(d.get("cum_train_flops")),
            as_float(d.get("cum_train_energy_j")),
            as_float(d.get("eval_wall_s")),
            as_float(d.get("eval_flops")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class CollapseCheck(_Event):
    """The verdict on one attempt of the target phase, from its English validation predictions
    (xcost_tui/collapse.py): collapsed when the model degenerated: ``majority_share`` >= ``majority``,
    or the training loss did not fall (``loss_fell`` false: ``loss_last`` >= ``loss_first`` -
    ``loss_tolerance``). ``within_chance`` (exact two-sided binomial test at ``alpha``) is
    information, never a reason. ``retry``: another attempt follows. Events written before the loss
    rule lack the loss fields (None)."""

    TYPE: ClassVar[str] = "collapse_check"
    phase: str  # the target phase checked: target:copa, target:copa#2, ...
    eval_phase: str  # the evaluation it was judged on: eval:en, eval:en#2, ...
    attempt: int | None
    seed: int | None  # the seed that attempt trained with
    collapsed: bool | None  # None: nothing to judge (no labelled items)
    accuracy: float | None = None
    n: int | None = None
    correct: int | None = None
    p_value: float | None = None
    majority_choice: int | None = None
    majority_share: float | None = None
    alpha: float | None = None
    majority: float | None = None
    reasons: list[str] = field(default_factory=list)
    retry: bool = False
    within_chance: bool | None = None
    loss_first: float | None = None  # mean training loss over the first 10% of the attempt's steps
    loss_last: float | None = None  # ... and over the last 10%
    loss_steps: int | None = None
    loss_tolerance: float | None = None
    loss_fell: bool | None = None  # None: no loss history (fewer than 2 steps)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CollapseCheck:
        return cls(
            as_str_or_empty(d.get("phase")),
            as_str_or_empty(d.get("eval_phase")),
            as_int(d.get("attempt")),
            as_int(d.get("seed")),
            as_bool(d.get("collapsed")),
            as_float(d.get("accuracy")),
            as_int(d.get("n")),
            as_int(d.get("correct")),
            as_float(d.get("p_value")),
            as_int(d.get("majority_choice")),
            as_float(d.get("majority_share")),
            as_float(d.get("alpha")),
            as_float(d.get("majority")),
            as_strs(d.get("reasons")),
            bool(as_bool(d.get("retry"))),
            as_bool(d.get("within_chance")),
            as_float(d.get("loss_first")),
            as_float(d.get("loss_last")),
            as_int(d.get("loss_steps")),
            as_float(d.get("loss_tolerance")),
            as_bool(d.get("loss_fell")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class DataLoaded(_Event):
    """One split the run read, and exactly where from (tasks/sources.py ``DataSource``): the hub
    repository, config and the commit its revision resolved to, or a local file and its sha256;
    how many rows the split has and how many the run used. Written before any training."""

    TYPE: ClassVar[str] = "data_loaded"
    task: str
    split: str
    lang: str
    role: str  # train | eval | few-shot-pool | questions
    source: str  # local | hub | hub-mirror
    repo: str | None = None
    config: str | None = None
    hub_split: str | None = None
    revision: str | None = None  # asked for; None: the default branch
    resolved_revision: str | None = None  # the hub commit it resolved to
    path: str | None = None
    sha256: str | None = None
    rows: int | None = None
    used: int | None = None
    subset: str | None = None  # all | first | seeded
    fallback: str | None = None  # refs/convert/parquet when the repository holds only a loading script
    xcopa_question: str | None = None  # copa | published (xcopa only)
    questions_corrected: int | None = None
    note: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataLoaded:
        return cls(
            as_str_or_empty(d.get("task")),
            as_str_or_empty(d.get("split")),
            as_str_or_empty(d.get("lang")),
            as_str_or_empty(d.get("role")),
            as_str_or_empty(d.get("source")),
            as_str(d.get("repo")),
            as_str(d.get("config")),
            as_str(d.get("hub_split")),
            as_str(d.get("revision")),
            as_str(d.get("resolved_revision")),
            as_str(d.get("path")),
            as_str(d.get("sha256")),
            as_int(d.get("rows")),
            as_int(d.get("used")),
            as_str(d.get("subset")),
            as_str(d.get("fallback")),
            as_str(d.get("xcopa_question")),
            as_int(d.get("questions_corrected")),
            as_str(d.get("note")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class ModelLoaded(_Event):
    """The model the run started from: its id, where it came from and the revision it resolved to
    (the hub commit of a hub model), and how its tokenizer was made."""

    TYPE: ClassVar[str] = "model_loaded"
    model: str
    source: str  # hub | local | built-in | checkpoint
    revision: str | None = None  # the hub commit the model resolved to
    path: str | None = None  # a local model directory or the checkpoint read
    tokenizer: str | None = None  # pretrained | trained-in-process | checkpoint
    tokenizer_texts: int | None = None  # texts a trained-in-process tokenizer learned from
    tokenizer_splits: list[str] = field(default_factory=list)  # "task:split[:lang]" of those texts
    # Wall seconds the model (and its tokenizer) took to load, build or restore, in no phase; and
    # whether it came from a warm worker's cache (job/cache.py: a fresh copy of weights loaded by
    # an earlier run of the same process). None in runs written before issue 18.
    load_s: float | None = None
    cached: bool | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelLoaded:
        return cls(
            as_str_or_empty(d.get("model")),
            as_str_or_empty(d.get("source")),
            as_str(d.get("revision")),
            as_str(d.get("path")),
            as_str(d.get("tokenizer")),
            as_int(d.get("tokenizer_texts")),
            as_strs(d.get("tokenizer_splits")),
            as_float(d.get("load_s")),
            as_bool(d.get("cached")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class WorkerInfo(_Event):
    """The warm worker that ran this run (job/worker.py; its record is STORE/workers/<worker_id>/
    worker.jsonl): its start-up, paid once for all its runs, and this run's place among them.
    Absent in a run that had a process of its own."""

    TYPE: ClassVar[str] = "worker"
    worker_id: str
    pid: int
    index: int  # 0: the worker's first run
    startup_wall_s: float | None = None
    startup_cpu_s: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkerInfo:
        return cls(
            as_str_or_empty(d.get("worker_id")),
            as_int(d.get("pid")) or 0,
            as_int(d.get("index")) or 0,
            as_float(d.get("startup_wall_s")),
            as_float(d.get("startup_cpu_s")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class Warmup(_Event):
    """Untimed work before a phase's meter started (job/warmup.py, issue 17): a plain pass at each
    shape not seen before (one-time costs: lazy kernel loading, library handles, allocator
    growth), the micro-batch fit probe, and FlopCounterMode's check of those passes. In no phase:
    the run's ``warmup_s`` is their sum."""

    TYPE: ClassVar[str] = "warmup"
    before: str  # the phase whose meter starts after it
    seconds: float
    shapes: list[dict[str, Any]] = field(default_factory=list)  # shapes warmed now (new ones only)
    flop_check: dict[str, Any] = field(default_factory=dict)  # counted, analytic, passes, ratio
    info: dict[str, Any] = field(default_factory=dict)  # micro-batch and how it was chosen, ...

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Warmup:
        shapes = d.get("shapes")
        return cls(
            as_str_or_empty(d.get("before")),
            as_float(d.get("seconds")) or 0.0,
            [x for x in shapes if isinstance(x, dict)] if isinstance(shapes, list) else [],
            as_dict(d.get("flop_check")),
            as_dict(d.get("info")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class RunWarning(_Event):
    """Something a person should know about a run that did not stop it."""

    TYPE: ClassVar[str] = "warning"
    message: str
    phase: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunWarning:
        return cls(as_str_or_empty(d.get("message")), as_str(d.get("phase")), t=as_float(d.get("t")) or 0.0)


@dataclass(frozen=True)
class RunEnd(_Event):
    TYPE: ClassVar[str] = "run_end"
    status: str  # succeeded | failed | cancelled
    error: str | None = None
    phase: str | None = None  # where it failed or was cancelled
    traceback: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunEnd:
        return cls(
            as_str_or_empty(d.get("status")),
            as_str(d.get("error")),
            as_str(d.get("phase")),
            as_str(d.get("traceback")),
            t=as_float(d.get("t")) or 0.0,
        )


@dataclass(frozen=True)
class UnknownEvent(_Event):
    """An event type this version does not know (a newer writer): kept, not interpreted."""

    TYPE: ClassVar[str] = ""
    type_name: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


Event = (
    RunStart
    | PhaseStart
    | Progress
    | PhaseEnd
    | EvalResult
    | CheckpointSaved
    | Resumed
    | DataLoaded
    | ModelLoaded
    | WorkerInfo
    | CollapseCheck
    | CurvePoint
    | Warmup
    | RunWarning
    | RunEnd
    | UnknownEvent
)

EVENT_TYPES: dict[str, Any] = {
    cls.TYPE: cls
    for cls in (
        RunStart,
        PhaseStart,
        Progress,
        PhaseEnd,
        EvalResult,
        CheckpointSaved,
        Resumed,
        DataLoaded,
        ModelLoaded,
        WorkerInfo,
        CollapseCheck,
        CurvePoint,
        Warmup,
        RunWarning,
        RunEnd,
    )
}


def parse_event(obj: dict[str, Any]) -> Event | None:
    """The typed event of one line's object; None when it has no type tag at all."""
    tag = obj.get("type")
    if not isinstance(tag, str) or not tag:
        return None
    cls = EVENT_TYPES.get(tag)
    if cls is None:
        return UnknownEvent(type_name=tag, data=dict(obj), t=as_float(obj.get("t")) or 0.0)
    event: Event = cls.from_dict(obj)
    return event


class EventWriter:
    """Appends typed events to events.jsonl, stamping each with the time it is written."""

    def __init__(self, path: Path | str):
        self._out = JsonlWriter(path)
        self.path = self._out.path

    def emit(self, event: Event) -> Event:
        if not event.t:
            event = dataclasses.replace(event, t=time.time())
        self._out.write(event.to_dict())
        return event

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
