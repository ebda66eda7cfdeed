"""Shared phases: which queued run saves a checkpoint and which runs start from it.

Two kinds (``Kind``), one logic. **Target** (issue 18): runs that would train the same target
phase (equal ``target_key_str``: model, intermediate chain, recipe, seed, ...) train it once: the
producer (``save_target``) saves the model after its target phase, English validation, collapse
retries and learning curve; the others (few-shot runs, translate-test's English classifier)
start from it (``init_target_from``). **Intermediate**: runs that would train the same
intermediate phase(s) (equal ``intermediate_key_str``) train it once: the producer
(``save_encoder``) saves its encoder, the others start from it (``init_from``). Target sharing
is wired first: a run that starts from a post-target model trains no intermediate phase either,
so it leaves the intermediate wiring; a target producer may itself start from a shared encoder.
A checkpoint already saved in the store is used at once. docs/runner.md explains it; this module
decides it.

``wire`` and ``release`` are pure (queue entries in, decisions out); ``wire_queue`` and
``release_queue`` apply them to the scheduler's queue, under its lock, for both kinds.
``saved_checkpoints`` and ``checkpoint_of`` look at the store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..plan import intermediate_key_str, produces_target_first, target_key_str
from ..rundir import RunDir, RunStatus
from ..spec import RunSpec
from .live import LiveRun, RunTracker
from .runs import Run, Supervisor


@dataclass(frozen=True)
class Kind:
    """One kind of shared phase: what it is keyed by, where its checkpoint lies, the spec (and
    LiveRun) fields that wire it, and the words its notes use."""

    name: str  # "intermediate" | "target": the checkpoint's folder (RUN_DIR/checkpoints/<name>)
    model: str  # what the checkpoint holds, in notes: "encoder", "post-target model"
    key_of: Callable[[RunSpec], str | None]  # None: the run trains no such phase of its own
    checkpoint: Callable[[RunDir], Path]
    save_field: str  # save_encoder | save_target
    init_field: str  # init_from | init_target_from
    saw_checkpoint: Callable[[RunTracker], bool]  # the job announced the checkpoint (checkpoint_saved)

    @property
    def phase(self) -> str:
        return f"{self.name} phase"

    def waiting_for(self, live: LiveRun) -> str | None:
        """The producer ``live`` waits for (or started from), when that is a checkpoint of this kind."""
        return live.waiting_for if live.waiting_target == (self.name == "target") else None


def _intermediate_key(spec: RunSpec) -> str | None:
    """The run's intermediate key when it would train its intermediate phase(s), else None (a run
    that starts from a post-target model trains none)."""
    return intermediate_key_str(spec) if spec.shares_intermediate and not spec.init_target_from else None


def _target_key(spec: RunSpec) -> str | None:
    """The run's target key when it would train a target phase that may be shared, else None."""
    return target_key_str(spec) if spec.shares_target else None


INTERMEDIATE = Kind(
    "intermediate",
    "encoder",
    _intermediate_key,
    lambda files: files.intermediate_checkpoint,
    "save_encoder",
    "init_from",
    lambda tracker: tracker.checkpoint_saved is not None,
)
TARGET = Kind(
    "target",
    "post-target model",
    _target_key,
    lambda files: files.target_checkpoint,
    "save_target",
    "init_target_from",
    lambda tracker: tracker.target_checkpoint_saved is not None,
)
KINDS = (TARGET, INTERMEDIATE)  # in wiring order: target first


def key_of(spec: RunSpec) -> str | None:
    """The run's intermediate key when it would train its intermediate phase(s), else None."""
    return INTERMEDIATE.key_of(spec)


@dataclass(frozen=True)
class Entry:
    """One run of the queue, as the wiring of one kind sees it."""

    run_id: str
    label: str
    key: str | None  # kind.key_of(spec); None: it trains no such phase of its own
    status: RunStatus
    waiting_for: str | None = None  # the producer whose checkpoint of this kind it waits for
    saves: bool = False  # it saves its checkpoint of this kind for others
    first: bool = False  # (target) it produces before the others: a direct or intermediate run


@dataclass
class Wiring:
    init_from: dict[str, str] = field(default_factory=dict)  # run id -> a saved checkpoint to start from
    producers: list[str] = field(default_factory=list)  # run ids that now save their checkpoint
    waiting: dict[str, str] = field(default_factory=dict)  # consumer run id -> producer run id
    notes: list[str] = field(default_factory=list)


def wire(entries: Sequence[Entry], saved: Mapping[str, Path], kind: Kind = INTERMEDIATE) -> Wiring:
    """Groups the queued runs by key: a group with a saved checkpoint starts from it; otherwise
    the group waits for a producer (one already in the queue that saves its checkpoint, or the
    group's first ``first`` run, else its first run, made one when the group has two runs or
    more: the rule of plan.shared_target_groups)."""
    out = Wiring()
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        if e.key is not None and e.status == RunStatus.QUEUED and not e.waiting_for:
            groups.setdefault(e.key, []).append(e)
    for key, members in groups.items():
        if key in saved:
            for e in members:
                out.init_from[e.run_id] = str(saved[key])
            out.notes.append(f"{len(members)} run(s) start from the saved {kind.model} {saved[key]}")
            continue
        producer = next(
            (
                e
                for e in entries
                if e.key == key
                and e.saves
                and not e.status.final
                and not (e.status == RunStatus.WAITING and e.waiting_for)
            ),
            None,
        )
        if producer is None:
            if len(members) < 2:
                continue
            producer = next((e for e in members if e.first), members[0])
            members = [e for e in members if e is not producer]
            out.producers.append(producer.run_id)
        else:
            members = [e for e in members if e.run_id != producer.run_id]
        for e in members:
            out.waiting[e.run_id] = producer.run_id
        if members:
            out.notes.append(
                f"shared {kind.phase}: {producer.label} saves its {kind.model}; "
                f"{', '.join(e.label for e in members)} start from it"
            )
    return out


@dataclass(frozen=True)
class Producer:
    """What a waiting run needs to know of its producer."""

    status: RunStatus
    checkpoint: Path | None  # checkpoint_of(...): the saved encoder, once complete


@dataclass(frozen=True)
class Release:
    run_id: str
    init_from: str | None  # None: train its own intermediate phase
    note: str | None = None  # said when the producer let it down
    depends_on: str | None = None  # (SLURM) the producer's job id: start after it succeeded (afterok)
    error: str | None = None  # (SLURM) not started at all: why


@dataclass(frozen=True)
class RemoteProducer:
    """A producer run on SLURM, as a waiting run needs to know it."""

    label: str
    status: RunStatus
    job_id: str | None  # its SLURM job, once submitted
    checkpoint: Path  # where it saves the checkpoint (known before it exists)
    complete: bool  # the checkpoint is there (phase.json written)


def release_remote(
    waiting: Iterable[Entry], producers: Mapping[str, RemoteProducer], kind: Kind = INTERMEDIATE
) -> list[Release]:
    """On SLURM a waiting run is submitted as soon as its producer is, with a dependency on it
    (``afterok``): it starts from the producer's checkpoint once the producer succeeded. A producer
    that ended without its checkpoint fails its consumers with the reason (not retrained silently,
    not left pending)."""
    out: list[Release] = []
    for e in waiting:
        p = producers.get(e.waiting_for or "")
        if p is None:
            out.append(
                Release(
                    e.run_id,
                    None,
                    f"{e.label}: {e.waiting_for} is no longer in the queue; this run trains its own {kind.phase}",
                )
            )
        elif p.complete:
            out.append(Release(e.run_id, str(p.checkpoint)))
        elif p.status.final:
            why = {RunStatus.CANCELLED: "was cancelled", RunStatus.SUCCEEDED: f"saved no {kind.model}"}.get(
                p.status, "failed"
            )
            out.append(
                Release(
                    e.run_id,
                    None,
                    error=f"not started: it starts from the {kind.model} of {p.label}, which "
                    f"{why} before saving it (rerun the plan to run both again)",
                )
            )
        elif p.job_id is not None:
            out.append(Release(e.run_id, str(p.checkpoint), depends_on=p.job_id))
    return out


def release(waiting: Iterable[Entry], producers: Mapping[str, Producer], kind: Kind = INTERMEDIATE) -> list[Release]:
    """The waiting runs that may go now: with the producer's checkpoint once it is complete, or
    without it (training their own phase) once the producer ended without one."""
    out: list[Release] = []
    for e in waiting:
        producer = producers.get(e.waiting_for or "")
        if producer is not None and producer.checkpoint is not None:
            out.append(Release(e.run_id, str(producer.checkpoint)))
        elif producer is None or producer.status.final:
            if producer is not None and producer.status == RunStatus.CANCELLED:
                why = "was cancelled"
            elif producer is not None and producer.status == RunStatus.SUCCEEDED:
                why = f"saved no {kind.model}"
            else:
                why = "failed"
            out.append(
                Release(e.run_id, None, f"{e.label}: {e.waiting_for} {why}; this run trains its own {kind.phase}")
            )
    return out


def checkpoint_of(run_dir: Path, *, saw_checkpoint: bool, succeeded: bool, kind: Kind = INTERMEDIATE) -> Path | None:
    """The producer's saved checkpoint, once complete: checkpoint_saved seen (or the run over)
    and phase.json written (the job writes it last)."""
    if not (saw_checkpoint or succeeded):
        return None
    path = kind.checkpoint(RunDir(run_dir))
    return path if (path / "phase.json").is_file() else None


def saved_encoders(runs_root: Path, exclude: Iterable[str] = ()) -> dict[str, Path]:
    """Intermediate key -> an encoder saved under ``runs_root`` (``saved_checkpoints``)."""
    return saved_checkpoints(runs_root, exclude)


def saved_checkpoints(runs_root: Path, exclude: Iterable[str] = (), kind: Kind = INTERMEDIATE) -> dict[str, Path]:
    """Key -> a checkpoint of ``kind`` saved under ``runs_root`` (not by the ``exclude``d runs,
    which are about to run again)."""
    out: dict[str, Path] = {}
    if not runs_root.is_dir():
        return out
    skip = set(exclude)
    for meta in sorted(runs_root.glob(f"*/checkpoints/{kind.name}/phase.json")):
        run_dir = meta.parents[2]
        if run_dir.name in skip:
            continue
        try:
            key = json.loads(meta.read_text(encoding="utf-8")).get("key")
        except (OSError, ValueError, AttributeError):  # unreadable, or not an object
            continue
        if isinstance(key, dict):
            out.setdefault(json.dumps(key, sort_keys=True), meta.parent)
    return out


# ---- the decisions applied to the scheduler's queue (under its lock) ------------------------------


def entries(runs: Mapping[str, Run], kind: Kind = INTERMEDIATE) -> list[Entry]:
    return [
        Entry(
            rid,
            r.live.label,
            kind.key_of(r.spec) if r.spec is not None else None,
            r.live.status,
            kind.waiting_for(r.live),
            bool(r.spec is not None and getattr(r.spec, kind.save_field)),
            bool(kind is TARGET and r.spec is not None and produces_target_first(r.spec)),
        )
        for rid, r in runs.items()
    ]


def wire_queue(sup: Supervisor, runs: Mapping[str, Run], runs_root: Path) -> None:
    """Wires the queued runs that would train the same phase (``wire``): target phases first,
    then intermediate phases among the runs left training theirs."""
    for kind in KINDS:
        _wire_kind(sup, runs, runs_root, kind)


def _wire_kind(sup: Supervisor, runs: Mapping[str, Run], runs_root: Path, kind: Kind) -> None:
    queue = entries(runs, kind)
    if not any(e.key is not None and e.status == RunStatus.QUEUED and not e.waiting_for for e in queue):
        return
    again = [rid for rid, r in runs.items() if r.live.status.active]
    wiring = wire(queue, saved_checkpoints(runs_root, exclude=again, kind=kind), kind)
    for rid, path in wiring.init_from.items():
        _set_init(runs[rid], kind, path)
    for rid in wiring.producers:
        run = runs[rid]
        assert run.spec is not None
        setattr(run.spec, kind.save_field, True)
        setattr(run.live, kind.save_field, True)
    for rid, producer in wiring.waiting.items():
        live = runs[rid].live
        live.status, live.waiting_for, live.waiting_target = RunStatus.WAITING, producer, kind is TARGET
    for text in wiring.notes:
        sup.note(text)


def release_queue(sup: Supervisor, runs: Mapping[str, Run], *, at_submission: bool) -> None:
    """Queues the waiting runs that may go now (``release``), of both kinds; ``at_submission``
    (SLURM): as soon as their producer is submitted, with afterok on its job (``release_remote``)."""
    for kind in KINDS:
        _release_kind(sup, runs, kind, at_submission=at_submission)


def _release_kind(sup: Supervisor, runs: Mapping[str, Run], kind: Kind, *, at_submission: bool) -> None:
    waiting = [e for e in entries(runs, kind) if e.status == RunStatus.WAITING and e.waiting_for]
    if not waiting:
        return
    if at_submission:
        _release_at_submission(sup, runs, waiting, kind)
        return
    producers: dict[str, Producer] = {}
    for rid in {e.waiting_for for e in waiting if e.waiting_for}:
        p = runs.get(rid)
        if p is not None:
            producers[rid] = Producer(p.live.status, _complete(p, kind))
    for rel in release(waiting, producers, kind):
        run = runs[rel.run_id]
        run.live.status = RunStatus.QUEUED
        if rel.init_from is None:
            run.live.waiting_for, run.live.waiting_target = None, False
        _set_init(run, kind, rel.init_from)
        if rel.note:
            sup.warn(rel.note, rel.run_id)


def _complete(p: Run, kind: Kind) -> Path | None:
    return checkpoint_of(
        p.run_dir,
        saw_checkpoint=kind.saw_checkpoint(p.tracker),
        succeeded=p.live.status == RunStatus.SUCCEEDED,
        kind=kind,
    )


def _release_at_submission(sup: Supervisor, runs: Mapping[str, Run], waiting: list[Entry], kind: Kind) -> None:
    producers: dict[str, RemoteProducer] = {}
    for rid in {e.waiting_for for e in waiting if e.waiting_for}:
        p = runs.get(rid)
        if p is not None:
            ckpt = kind.checkpoint(RunDir(p.run_dir))
            complete = _complete(p, kind) is not None
            producers[rid] = RemoteProducer(p.live.label, p.live.status, p.job_id, ckpt.resolve(), complete)
    for rel in release_remote(waiting, producers, kind):
        run = runs[rel.run_id]
        live = run.live
        if rel.error:
            live.status, live.ended, live.error = RunStatus.FAILED, time.time(), rel.error
            sup.warn(f"{live.label}: {rel.error}", rel.run_id)
            sup.changed()
            continue
        live.status = RunStatus.QUEUED
        run.depends_on = rel.depends_on
        if rel.init_from is None:
            live.waiting_for, live.waiting_target = None, False
        _set_init(run, kind, rel.init_from)
        if rel.note:
            sup.warn(rel.note, rel.run_id)


def _set_init(run: Run, kind: Kind, path: str | None) -> None:
    if run.spec is not None:
        setattr(run.spec, kind.init_field, path)
    setattr(run.live, kind.init_field, path)
