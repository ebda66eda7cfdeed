"""Shared intermediate phases: which queued run saves its encoder and which runs start from it.

Runs that would train the same intermediate phase(s) (equal ``intermediate_key_str``) train it
once: the first is the producer (``save_encoder``), the others wait for its checkpoint and start
from it (``init_from``); an encoder already saved in the store is used at once. docs/runner.md
explains it; this module decides it.

``wire`` and ``release`` are pure (queue entries in, decisions out); ``wire_queue`` and
``release_queue`` apply them to the scheduler's queue, under its lock. ``saved_encoders`` and
``checkpoint_of`` look at the store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..plan import intermediate_key_str
from ..rundir import RunDir, RunStatus
from ..spec import RunSpec
from .runs import Run, Supervisor


def key_of(spec: RunSpec) -> str | None:
    """The run's intermediate key when it would train its intermediate phase(s), else None."""
    return intermediate_key_str(spec) if spec.shares_intermediate else None


@dataclass(frozen=True)
class Entry:
    """One run of the queue, as the wiring sees it."""

    run_id: str
    label: str
    key: str | None  # key_of(spec); None: it trains no intermediate phase of its own
    status: RunStatus
    waiting_for: str | None = None
    save_encoder: bool = False


@dataclass
class Wiring:
    init_from: dict[str, str] = field(default_factory=dict)  # run id -> a saved encoder to start from
    producers: list[str] = field(default_factory=list)  # run ids that now save their encoder
    waiting: dict[str, str] = field(default_factory=dict)  # consumer run id -> producer run id
    notes: list[str] = field(default_factory=list)


def wire(entries: Sequence[Entry], saved: Mapping[str, Path]) -> Wiring:
    """Groups the queued runs by intermediate key: a group with a saved encoder starts from it;
    otherwise the group waits for a producer (one already in the queue that saves its encoder,
    or the group's first run, made one when the group has two runs or more)."""
    out = Wiring()
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        if e.key is not None and e.status == RunStatus.QUEUED and not e.waiting_for:
            groups.setdefault(e.key, []).append(e)
    for key, members in groups.items():
        if key in saved:
            for e in members:
                out.init_from[e.run_id] = str(saved[key])
            out.notes.append(f"{len(members)} run(s) start from the saved encoder {saved[key]}")
            continue
        producer = next(
            (
                e
                for e in entries
                if e.key == key and e.save_encoder and not e.status.final and e.status != RunStatus.WAITING
            ),
            None,
        )
        if producer is None:
            if len(members) < 2:
                continue
            producer, members = members[0], members[1:]
            out.producers.append(producer.run_id)
        else:
            members = [e for e in members if e.run_id != producer.run_id]
        for e in members:
            out.waiting[e.run_id] = producer.run_id
        if members:
            out.notes.append(
                f"shared intermediate phase: {producer.label} saves its encoder; "
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
    checkpoint: Path  # where it saves the encoder (known before it exists)
    complete: bool  # the checkpoint is there (phase.json written)


def release_remote(waiting: Iterable[Entry], producers: Mapping[str, RemoteProducer]) -> list[Release]:
    """On SLURM a waiting run is submitted as soon as its producer is, with a dependency on it
    (``afterok``): it starts from the producer's encoder once the producer succeeded. A producer
    that ended without its encoder fails its consumers with the reason (not retrained silently,
    not left pending)."""
    out: list[Release] = []
    for e in waiting:
        p = producers.get(e.waiting_for or "")
        if p is None:
            out.append(
                Release(
                    e.run_id,
                    None,
                    f"{e.label}: {e.waiting_for} is no longer in the queue; this run trains its own intermediate phase",
                )
            )
        elif p.complete:
            out.append(Release(e.run_id, str(p.checkpoint)))
        elif p.status.final:
            why = {RunStatus.CANCELLED: "was cancelled", RunStatus.SUCCEEDED: "saved no encoder"}.get(
                p.status, "failed"
            )
            out.append(
                Release(
                    e.run_id,
                    None,
                    error=f"not started: it starts from the encoder of {p.label}, which "
                    f"{why} before saving it (rerun the plan to run both again)",
                )
            )
        elif p.job_id is not None:
            out.append(Release(e.run_id, str(p.checkpoint), depends_on=p.job_id))
    return out


def release(waiting: Iterable[Entry], producers: Mapping[str, Producer]) -> list[Release]:
    """The waiting runs that may go now: with the producer's checkpoint once it is complete, or
    without it (training their own intermediate phase) once the producer ended without one."""
    out: list[Release] = []
    for e in waiting:
        producer = producers.get(e.waiting_for or "")
        if producer is not None and producer.checkpoint is not None:
            out.append(Release(e.run_id, str(producer.checkpoint)))
        elif producer is None or producer.status.final:
            if producer is not None and producer.status == RunStatus.CANCELLED:
                why = "was cancelled"
            elif producer is not None and producer.status == RunStatus.SUCCEEDED:
                why = "saved no encoder"
            else:
                why = "failed"
            out.append(
                Release(e.run_id, None, f"{e.label}: {e.waiting_for} {why}; this run trains its own intermediate phase")
            )
    return out


def checkpoint_of(run_dir: Path, *, saw_checkpoint: bool, succeeded: bool) -> Path | None:
    """The producer's saved encoder, once complete: checkpoint_saved seen (or the run over) and
    phase.json written (the job writes it last)."""
    if not (saw_checkpoint or succeeded):
        return None
    path = RunDir(run_dir).intermediate_checkpoint
    return path if (path / "phase.json").is_file() else None


def saved_encoders(runs_root: Path, exclude: Iterable[str] = ()) -> dict[str, Path]:
    """Intermediate key -> an encoder saved under ``runs_root`` (not by the ``exclude``d runs,
    which are about to run again)."""
    out: dict[str, Path] = {}
    if not runs_root.is_dir():
        return out
    skip = set(exclude)
    for meta in sorted(runs_root.glob("*/checkpoints/intermediate/phase.json")):
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


def entries(runs: Mapping[str, Run]) -> list[Entry]:
    return [
        Entry(
            rid,
            r.live.label,
            key_of(r.spec) if r.spec is not None else None,
            r.live.status,
            r.live.waiting_for,
            bool(r.spec is not None and r.spec.save_encoder),
        )
        for rid, r in runs.items()
    ]


def wire_queue(sup: Supervisor, runs: Mapping[str, Run], runs_root: Path) -> None:
    """Wires the queued runs that would train the same intermediate phase (``wire``)."""
    queue = entries(runs)
    if not any(e.key is not None and e.status == RunStatus.QUEUED and not e.waiting_for for e in queue):
        return
    again = [rid for rid, r in runs.items() if r.live.status.active]
    wiring = wire(queue, saved_encoders(runs_root, exclude=again))
    for rid, path in wiring.init_from.items():
        _set_init_from(runs[rid], path)
    for rid in wiring.producers:
        run = runs[rid]
        assert run.spec is not None
        run.spec.save_encoder = run.live.save_encoder = True
    for rid, producer in wiring.waiting.items():
        live = runs[rid].live
        live.status, live.waiting_for = RunStatus.WAITING, producer
    for text in wiring.notes:
        sup.note(text)


def release_queue(sup: Supervisor, runs: Mapping[str, Run], *, at_submission: bool) -> None:
    """Queues the waiting runs that may go now (``release``); ``at_submission`` (SLURM): as soon as
    their producer is submitted, with afterok on its job (``release_remote``)."""
    waiting = [e for e in entries(runs) if e.status == RunStatus.WAITING]
    if not waiting:
        return
    if at_submission:
        _release_at_submission(sup, runs, waiting)
        return
    producers: dict[str, Producer] = {}
    for rid in {e.waiting_for for e in waiting if e.waiting_for}:
        p = runs.get(rid)
        if p is not None:
            ckpt = checkpoint_of(
                p.run_dir,
                saw_checkpoint=p.tracker.checkpoint_saved is not None,
                succeeded=p.live.status == RunStatus.SUCCEEDED,
            )
            producers[rid] = Producer(p.live.status, ckpt)
    for rel in release(waiting, producers):
        run = runs[rel.run_id]
        run.live.status = RunStatus.QUEUED
        if rel.init_from is None:
            run.live.waiting_for = None
        _set_init_from(run, rel.init_from)
        if rel.note:
            sup.warn(rel.note, rel.run_id)


def _release_at_submission(sup: Supervisor, runs: Mapping[str, Run], waiting: list[Entry]) -> None:
    producers: dict[str, RemoteProducer] = {}
    for rid in {e.waiting_for for e in waiting if e.waiting_for}:
        p = runs.get(rid)
        if p is not None:
            ckpt = RunDir(p.run_dir).intermediate_checkpoint
            complete = (
                checkpoint_of(
                    p.run_dir,
                    saw_checkpoint=p.tracker.checkpoint_saved is not None,
                    succeeded=p.live.status == RunStatus.SUCCEEDED,
                )
                is not None
            )
            producers[rid] = RemoteProducer(p.live.label, p.live.status, p.job_id, ckpt.resolve(), complete)
    for rel in release_remote(waiting, producers):
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
            live.waiting_for = None
        _set_init_from(run, rel.init_from)
        if rel.note:
            sup.warn(rel.note, rel.run_id)


def _set_init_from(run: Run, path: str | None) -> None:
    if run.spec is not None:
        run.spec.init_from = path
    run.live.init_from = path
