"""Packed SLURM jobs: which runs submitted together go into one job, and the command that runs them.

A warm worker (job/worker.py) pays the interpreter, the imports, the CUDA context and the
pretrained weights once for every run it executes; on SLURM one job is one worker, so the runs
that gain most from sharing one are packed into it (issue 18, docs/cluster.md "Packed jobs"):

- the consumers of one producer (they start from the same saved checkpoint and wait for the same
  job: ``afterok`` is kept, once for the pack);
- the in-context runs of one causal LM (the model is loaded once for all of them).

Every other run (a producer, a run that shares nothing) is a job of its own, so the cluster runs
them in parallel; a pack holds at most ``runs_per_job`` runs (1: one job per run, as before).
Pure: runs in, packs out; runner/slurm.py submits them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..methods import METHOD_TABLE
from ..spec import RunSpec

JOB_MODULE = ("-m", "xcost_tui.job")


@dataclass(frozen=True)
class PackMember:
    """A run about to be submitted, as packing sees it."""

    run_id: str
    spec: RunSpec
    depends_on: str | None  # the producer's SLURM job (afterok)


def pack_key(m: PackMember) -> tuple[str, ...] | None:
    """Runs of equal keys may share a job; None: a job of its own."""
    spec = m.spec
    if spec.save_target or spec.save_encoder:
        return None  # a producer: others wait for it, so it does not wait behind anyone
    checkpoint = spec.init_target_from or spec.init_from
    if checkpoint:
        return ("from", checkpoint, m.depends_on or "")
    entry = METHOD_TABLE.get(spec.method)
    if entry is not None and not entry.trains:
        return ("generator", spec.model, spec.model_dtype, spec.device, m.depends_on or "")
    return None


def packs(members: Sequence[PackMember], runs_per_job: int) -> list[list[PackMember]]:
    """The jobs to submit, in the order given (a pack where its first member stood); each pack
    keeps its members' order and holds at most ``runs_per_job`` runs."""
    size = max(1, int(runs_per_job))
    out: list[list[PackMember]] = []
    open_pack: dict[tuple[str, ...], list[PackMember]] = {}
    for m in members:
        key = pack_key(m) if size > 1 else None
        if key is None:
            out.append([m])
            continue
        current = open_pack.get(key)
        if current is None or len(current) >= size:
            current = []
            open_pack[key] = current
            out.append(current)
        current.append(m)
    return out


def pack_command(commands: Sequence[Sequence[str]]) -> list[str] | None:
    """One warm worker's command for runs whose own commands are ``python -m xcost_tui.job RUN_DIR``
    (``python -m xcost_tui.job --runs RUN_DIR ...``); None when they are not (a test's job command):
    the node then runs each run's command in turn (runner/slurm.py ``SlurmRun``)."""
    if not commands:
        return None
    prefix = list(commands[0][:-1])
    if tuple(prefix[-2:]) != JOB_MODULE or any(list(c[:-1]) != prefix for c in commands):
        return None
    return [*prefix, "--runs", *(c[-1] for c in commands)]
