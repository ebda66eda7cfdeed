"""Collapsed fine-tunes: a target phase whose model degenerated — it answers one choice for nearly
every item, or its training loss did not fall.

XLM-R large fine-tuned on COPA's 400 examples sometimes fails to train. Mosbach, Andriushchenko &
Klakow (2021), "On the Stability of Fine-tuning BERT: Misconceptions, Explanations, and Strong
Baselines" (ICLR 2021), call a fine-tune *failed* when its accuracy is at or below the
majority-class baseline, and show that such runs are those whose training loss does not fall
(vanishing gradients early in training). The check follows them: it asks whether the model is
degenerate, not whether it is significantly better than chance. A weak model that learnt (55% on
100 items) is a result to report, not a run to retry: retrying it until it clears a significance
test would report the best of several attempts (docs/user-guide.md, "Collapsed fine-tunes").

The job checks the target phase on English validation (``check_collapse``), records the verdict
(a ``collapse_check`` event) and, with ``collapse_retries``, trains the target phase again from a
derived seed.

Pure Python, no torch and no scipy: the exact binomial test (``stats.exact.binomial_test``,
checked against ``scipy.stats.binomtest`` in the tests) is kept as information only (``within_chance``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from .stats.exact import binomial_test

ALPHA = 0.05  # two-sided level of the "within chance" information (not a reason to collapse)
MAJORITY = 0.9  # a model that gives this share of its answers to one choice index has collapsed
# The training loss "fell" when the mean over the last LOSS_WINDOW of the steps is below the mean
# over the first LOSS_WINDOW by more than LOSS_TOLERANCE of the first (2% of ln 2 = 0.014 nats on
# COPA): a failed fine-tune stays at its starting loss (Mosbach et al. 2021, Fig. 2), a learning one
# falls by far more.
LOSS_WINDOW = 0.1
LOSS_TOLERANCE = 0.02


@dataclass(frozen=True)
class LossTrend:
    """The training loss at the start and the end of a phase (means over ``window`` steps each)."""

    first: float
    last: float
    steps: int  # optimiser steps with a finite loss
    window: int  # steps averaged at each end
    tolerance: float  # the fall required: LOSS_TOLERANCE × first

    @property
    def finite(self) -> bool:
        return math.isfinite(self.first) and math.isfinite(self.last)

    @property
    def fell(self) -> bool:
        """A diverged phase (a loss that is not finite) did not fall."""
        return self.finite and self.last < self.first - self.tolerance


def loss_trend(
    losses: Sequence[float], *, window: float = LOSS_WINDOW, tolerance: float = LOSS_TOLERANCE
) -> LossTrend | None:
    """The mean loss of the first and the last ``window`` share of the steps (at least one step
    each, at most half of them); None with fewer than 2 steps (a single step has no trend)."""
    values = [float(x) for x in losses]
    if len(values) < 2:
        return None
    w = max(1, min(len(values) // 2, round(window * len(values))))
    first = sum(values[:w]) / w
    last = sum(values[-w:]) / w
    return LossTrend(first, last, len(values), w, tolerance * abs(first) if math.isfinite(first) else math.inf)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None  # JSON has no NaN


@dataclass(frozen=True)
class CollapseVerdict:
    """What the check saw on one evaluation, and whether the model collapsed (with why)."""

    n: int  # labelled items
    correct: int
    accuracy: float | None
    chance: float  # 1 / number of choices
    p_value: float | None  # two-sided exact binomial test of accuracy == chance (information only)
    majority_choice: int | None  # the choice index predicted most often
    majority_share: float | None  # its share of all predictions
    collapsed: bool | None  # None: nothing to judge (no labelled items and no loss trend)
    reasons: list[str] = field(default_factory=list)
    alpha: float = ALPHA
    majority: float = MAJORITY
    within_chance: bool | None = None  # information: p_value >= alpha (never a reason by itself)
    loss_first: float | None = None  # mean training loss of the first LOSS_WINDOW of the steps
    loss_last: float | None = None  # ... and of the last
    loss_steps: int | None = None
    loss_tolerance: float | None = None
    loss_fell: bool | None = None  # None: no loss history to judge

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_collapse(
    preds: Sequence[int],
    labels: Sequence[int],
    n_choices: int = 2,
    *,
    losses: Sequence[float] | None = None,
    alpha: float = ALPHA,
    majority: float = MAJORITY,
) -> CollapseVerdict:
    """A model collapsed (degenerated) when at least ``majority`` of its predictions are one
    choice index, or when its training loss did not fall (``losses``: the phase's loss per
    optimiser step; ``loss_trend``). An accuracy within chance (the exact two-sided binomial test
    does not reject accuracy == 1/n_choices at ``alpha``) is recorded, never a reason.

    ``labels`` of -1 (unlabelled items) count for the share of predictions, not for accuracy.
    """
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions but {len(labels)} labels")
    if n_choices < 2:
        raise ValueError(f"a choice needs at least 2 options, got {n_choices}")
    chance = 1.0 / n_choices
    labelled = [(p, y) for p, y in zip(preds, labels) if y >= 0]
    n = len(labelled)
    correct = sum(1 for p, y in labelled if p == y)
    counts = Counter(preds)
    majority_choice, top = counts.most_common(1)[0] if counts else (None, 0)
    share = top / len(preds) if preds else None
    trend = loss_trend(losses) if losses is not None else None
    p_value = binomial_test(correct, n, Fraction(1, n_choices)) if n else None
    reasons = []
    if share is not None and share >= majority:
        reasons.append(f"{share:.0%} of the predictions are choice {majority_choice} (>= {majority:.0%})")
    if trend is not None and not trend.finite:
        reasons.append(f"the training loss is not finite (diverged) in the first or last {trend.window} steps")
    elif trend is not None and not trend.fell:
        reasons.append(
            f"the training loss did not fall: {trend.last:.4g} over the last {trend.window} of {trend.steps} "
            f"steps vs {trend.first:.4g} over the first (a fall of more than {trend.tolerance:.2g} needed)"
        )
    judged = n > 0 or trend is not None
    return CollapseVerdict(
        n,
        correct,
        correct / n if n else None,
        chance,
        p_value,
        majority_choice,
        share,
        bool(reasons) if judged else None,
        reasons,
        alpha,
        majority,
        None if p_value is None else p_value >= alpha,
        None if trend is None else _finite(trend.first),
        None if trend is None else _finite(trend.last),
        None if trend is None else trend.steps,
        None if trend is None else _finite(trend.tolerance),
        None if trend is None else trend.fell,
    )
