"""What a phase does: the kinds a run records in ``events.jsonl`` (``phase_start.kind``).

The record of a file, so it stands with the run directory's records: the spec plans phases of
these kinds, the job writes them, the store reads them (which kinds are training) without
importing the spec and the task registry behind it (the app's first page goes through the store).
"""

from __future__ import annotations

import enum


class PhaseKind(str, enum.Enum):
    """What a phase does. The values are written to events.jsonl (``phase_start.kind``), so
    ``PhaseKind("eval")`` reads one back and ``PhaseKind.EVAL == "eval"``."""

    INTERMEDIATE = "intermediate"
    TARGET = "target"
    FEW_SHOT = "few-shot"
    EVAL = "eval"
    INFERENCE_BENCH = "inference-bench"
    TRANSLATE = "translate"  # translate-test: a language's test items into English (translate:<lang>)
    # the learning-curve evaluations made during a training phase (curve:<phase>): measured as their
    # own phase, never part of the training phase's figures (issue 17)
    CURVE = "curve"
    # one learning rate of a few-shot run's sweep (few-shot:<lang>@lr=<lr>): trained on the k shots,
    # then scored on held-out validation items inside the same measured phase (docs/methods.md,
    # "Few-shot protocol"); a training phase, so every trial is part of the run's training cost
    FEW_SHOT_TRIAL = "few-shot-trial"

    # The bare value in f-strings and str() on every Python (3.12 changed format() of mixed enums).
    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# The phases that train (their costs are the training cost of a run).
TRAINING_KINDS = (PhaseKind.INTERMEDIATE, PhaseKind.TARGET, PhaseKind.FEW_SHOT, PhaseKind.FEW_SHOT_TRIAL)


# ---- attempts of a phase (a collapsed target phase trained again) ---------------------------------
# Here, with the kinds, because the fold (``fold.py``: the phases a run planned) reads them as well
# as the spec and the job.


def attempt_phase(name: str, attempt: int) -> str:
    """The name of attempt ``attempt`` of a phase: the first keeps the plain name (``target:copa``),
    a retry after a collapse is ``target:copa#2``, ``eval:en#2``, ..."""
    return name if attempt <= 1 else f"{name}#{attempt}"


def phase_attempt(name: str) -> tuple[str, int]:
    """(base name, attempt) of a phase name: ``target:copa#2`` -> (``target:copa``, 2)."""
    base, sep, n = name.rpartition("#")
    if sep and n.isdigit() and int(n) >= 2:
        return base, int(n)
    return name, 1
