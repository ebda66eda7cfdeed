"""The few-shot protocol's facts for the report: shot draws, learning-rate sweeps and where the
cost of annotating target-language examples stands (docs/methods.md, "Few-shot protocol").

Pure: ``gather`` (report/data.py) reads the runs' columns into ``ProtocolFacts``; ``sentences``
words them. The boundary sentence is said either way: unset, the annotation cost is outside every
figure; set, how it was counted (its own column, person-hours, never added to device-hours).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..format import NULL

UNSET = "The cost of annotating the k target-language examples is outside every figure"


@dataclass(frozen=True)
class ConfigProtocol:
    """One configuration's protocol facts (its succeeded runs)."""

    label: str
    method: str
    k: int | None
    draws: int  # distinct shot seeds
    lr_sweep: tuple[float, ...]  # empty: no sweep
    annotated_examples: int | None  # per run (the largest)
    hours_per_example: float | None  # None: unset


@dataclass(frozen=True)
class ProtocolFacts:
    configs: list[ConfigProtocol] = field(default_factory=list)  # the shown configurations that draw k > 0 shots


def sentences(facts: ProtocolFacts) -> list[str]:
    """What the report says of the protocol; nothing when no shown configuration draws shots."""
    if not facts.configs:
        return []
    out: list[str] = []
    draws = sorted({c.draws for c in facts.configs})
    out.append(
        f"Shot draws: {' or '.join(str(n) for n in draws)} per few-shot or in-context configuration (the k "
        "examples drawn from XCOPA validation by each shot seed; Zhao et al. 2021 put the draw's effect above "
        "10 points)."
    )
    swept = [c for c in facts.configs if c.lr_sweep]
    if swept:
        rates = sorted({lr for c in swept for lr in c.lr_sweep})
        out.append(
            f"Learning-rate sweep ({len(swept)} configuration(s); rates {', '.join(f'{r:g}' for r in rates)}): per "
            "language every rate is a trial fine-tuned from the same post-target model on the same k shots and "
            "scored on held-out XCOPA validation items never drawn as shots (the same seeded items for every "
            "trial); the highest selection accuracy is kept (ties: the smallest rate) and evaluated on test. "
            "Every trial's cost is in the training figures."
        )
    priced = [c for c in facts.configs if c.hours_per_example is not None]
    unpriced = [c for c in facts.configs if c.hours_per_example is None]
    if unpriced:
        which = "" if not priced else f" of {', '.join(c.label for c in unpriced)}"
        out.append(f"{UNSET}{which} (annotation_hours_per_example unset).")
    if priced:
        rates_h = sorted({c.hours_per_example for c in priced if c.hours_per_example is not None})
        out.append(
            "Annotation cost"
            + ("" if not unpriced else f" of {', '.join(c.label for c in priced)}")
            + ": each run's labelled target-language examples (k per language, plus a sweep's selection items per "
            f"language) × {' / '.join(f'{r:g}' for r in rates_h)} person-hours per example "
            "(annotation_hours_per_example), shown as its own cost column in person-hours and never added to "
            f"device-hours (examples per run: {', '.join(_n(c.annotated_examples) for c in priced)})."
        )
    return out


def _n(x: int | None) -> str:
    return NULL if x is None else f"{x:,}"
