"""Collapsed fine-tunes: a target phase whose model answers at chance, or always the same choice.

XLM-R large fine-tuned on COPA's 400 examples sometimes collapses (its English validation accuracy
stays at chance, or it predicts one choice index for nearly every item). Such a run says nothing
about cross-lingual transfer, so the job checks the target phase on English validation
(``check_collapse``), records the verdict (a ``collapse_check`` event) and, with
``collapse_retries``, trains the target phase again from a derived seed (docs/user-guide.md,
"Collapsed fine-tunes").

Pure Python, no torch and no scipy: the exact binomial test is ``stats.exact.binomial_test``
(checked against ``scipy.stats.binomtest`` in the tests), the one the verdict uses too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from .stats.exact import binomial_test

ALPHA = 0.05  # two-sided significance level of "better (or worse) than chance"
MAJORITY = 0.9  # a model that gives this share of its answers to one choice index has collapsed


@dataclass(frozen=True)
class CollapseVerdict:
    """What the check saw on one evaluation, and whether the model collapsed (with why)."""

    n: int  # labelled items
    correct: int
    accuracy: float | None
    chance: float  # 1 / number of choices
    p_value: float | None  # two-sided exact binomial test of accuracy == chance
    majority_choice: int | None  # the choice index predicted most often
    majority_share: float | None  # its share of all predictions
    collapsed: bool | None  # None: nothing to judge (no labelled items)
    reasons: list[str] = field(default_factory=list)
    alpha: float = ALPHA
    majority: float = MAJORITY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_collapse(
    preds: Sequence[int], labels: Sequence[int], n_choices: int = 2, *, alpha: float = ALPHA, majority: float = MAJORITY
) -> CollapseVerdict:
    """A model collapsed when its accuracy is within chance (the exact two-sided binomial test at
    its n labelled items does not reject accuracy == 1/n_choices at ``alpha``) or when at least
    ``majority`` of its predictions are one choice index.

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
    if n == 0:
        return CollapseVerdict(0, 0, None, chance, None, majority_choice, share, None, [], alpha, majority)
    p_value = binomial_test(correct, n, Fraction(1, n_choices))
    reasons = []
    if p_value >= alpha:
        reasons.append(
            f"accuracy {correct}/{n} = {correct / n:.3f} is within chance ({chance:g}): "
            f"two-sided exact binomial p = {p_value:.3g} >= {alpha:g}"
        )
    if share is not None and share >= majority:
        reasons.append(f"{share:.0%} of the predictions are choice {majority_choice} (>= {majority:.0%})")
    return CollapseVerdict(
        n, correct, correct / n, chance, p_value, majority_choice, share, bool(reasons), reasons, alpha, majority
    )
