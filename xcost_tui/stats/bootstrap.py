"""Bootstrap intervals over 0/1 correctness matrices (numpy): one configuration's accuracy, and
the paired difference of two with its equivalence test.

- ``accuracy_interval``: a configuration's mean accuracy with a 95% interval that accounts for
  both seed-to-seed variation and the finite test set (a two-level bootstrap: resample seeds,
  and test items, together).
- ``paired_difference``: A − B on the same items, pairing runs of equal seed (and shot draw),
  with a paired bootstrap interval, a two-sided p-value, and the (1 − 2α) interval of the
  equivalence test (TOST): "similar" when it lies inside ±δ.

Bootstrap resamples are drawn as multinomial weights (a resample of n things is a vector of
counts summing to n), so a replicate's statistic is a matrix product: fast, and the item
weights of one test set can be shared by every configuration evaluated on it (common random
numbers make the configurations' intervals and their differences coherent). The method is
explained in docs/statistics.md; tests check it against scipy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .thresholds import CHANCE, DEFAULT_ALPHA, DEFAULT_DELTA, DEFAULT_RESAMPLES

# (runs × items) correctness: True/False, or a share of languages right (an average over languages)
Correctness = NDArray[np.bool_] | NDArray[np.float64] | Sequence[Sequence[bool]]

# ---- resample weights ----------------------------------------------------------------------------


def multinomial_weights(n: int, n_resamples: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """(n_resamples, n) counts: row b says how often each of n things is drawn in resample b."""
    if n <= 0:
        raise ValueError("a resample needs at least one thing to draw")
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(np.float64)


@dataclass
class ItemWeights:
    """Bootstrap weights of one test set's items, drawn once and shared by every configuration
    evaluated on those items (common random numbers)."""

    weights: NDArray[np.float64]  # (n_resamples, n_items)

    @classmethod
    def draw(cls, n_items: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> ItemWeights:
        return cls(multinomial_weights(n_items, n_resamples, np.random.default_rng(seed)))

    @property
    def n_resamples(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.weights.shape[1])


def _as_matrix(correct: Correctness, what: str) -> NDArray[np.float64]:
    m = np.asarray(correct, dtype=np.float64)
    if m.ndim == 1:
        m = m[None, :]
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] == 0:
        raise ValueError(f"{what}: expected a (runs, items) matrix with at least one run and one item, got {m.shape}")
    return m


def _replicates(
    m: NDArray[np.float64], items: ItemWeights, rng: np.random.Generator, resample_rows: bool
) -> NDArray[np.float64]:
    """The statistic mean(m) under each bootstrap replicate: items resampled with ``items``'
    weights, rows (seeds, or seed pairs) resampled too when ``resample_rows``."""
    if items.n_items != m.shape[1]:
        raise ValueError(f"item weights are for {items.n_items} items, the matrix has {m.shape[1]}")
    per_row: NDArray[np.float64] = items.weights @ m.T / m.shape[1]  # (B, rows): each row's mean per item resample
    if not resample_rows or m.shape[0] == 1:
        means: NDArray[np.float64] = per_row.mean(axis=1)
        return means
    rows = multinomial_weights(m.shape[0], items.n_resamples, rng)  # (B, rows)
    reps: NDArray[np.float64] = (rows * per_row).sum(axis=1) / m.shape[0]
    return reps


def _percentile(samples: NDArray[np.float64], alpha: float) -> tuple[float, float]:
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# ---- one configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """An estimate with its percentile interval at ``level``."""

    estimate: float
    low: float
    high: float
    level: float
    n_runs: int  # seeds (or seed pairs) behind it
    n_items: int
    seed_variation: bool  # False: one run only, the interval covers the test set's noise alone

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def accuracy_interval(
    correct: Correctness,
    *,
    items: ItemWeights | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
) -> Interval:
    """Mean accuracy of a configuration's runs (rows: seeds or shot draws; columns: the same test
    items in the same order) with a two-level percentile bootstrap interval at 1 − alpha."""
    m = _as_matrix(correct, "accuracy_interval")
    rng = np.random.default_rng(seed)
    items = items or ItemWeights(multinomial_weights(m.shape[1], n_resamples, rng))
    reps = _replicates(m, items, rng, resample_rows=True)
    lo, hi = _percentile(reps, alpha)
    return Interval(float(m.mean()), lo, hi, 1 - alpha, m.shape[0], m.shape[1], m.shape[0] > 1)


def indistinguishable_from_chance(interval: Interval, chance: float = CHANCE) -> bool:
    """The accuracy's interval contains chance: this language says nothing about the method."""
    return interval.contains(chance)


# ---- two configurations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A − B in accuracy (fractions; × 100 for points) over paired runs and the same items."""

    diff: float
    low: float  # the (1 − alpha) interval
    high: float
    p_value: float  # two-sided, "no difference"
    equiv_low: float  # the (1 − 2·alpha) interval of the equivalence test (TOST)
    equiv_high: float
    delta: float
    n_pairs: int
    n_items: int

    @property
    def similar(self) -> bool:
        """Equivalent within ±delta: both one-sided tests reject (TOST at alpha)."""
        return -self.delta < self.equiv_low and self.equiv_high < self.delta

    @property
    def significant(self) -> bool:
        return not (self.low <= 0.0 <= self.high)


def paired_difference(
    a: Correctness,
    b: Correctness,
    *,
    items: ItemWeights | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    alpha: float = DEFAULT_ALPHA,
    delta: float = DEFAULT_DELTA,
    seed: int = 0,
) -> Difference:
    """Row p of ``a`` and ``b`` are a pair (equal seed and shot draw), columns the same items.

    The bootstrap resamples pairs and items together; the p-value is the share of replicates at
    least as far from the observed difference as the observed difference is from zero (the
    bootstrap distribution shifted to the null, Berg-Kirkpatrick et al. 2012), with the +1
    correction so it is never exactly 0."""
    ma, mb = _as_matrix(a, "paired_difference (a)"), _as_matrix(b, "paired_difference (b)")
    if ma.shape != mb.shape:
        raise ValueError(f"paired runs must have the same shape: {ma.shape} vs {mb.shape}")
    d = ma - mb
    rng = np.random.default_rng(seed)
    items = items or ItemWeights(multinomial_weights(d.shape[1], n_resamples, rng))
    reps = _replicates(d, items, rng, resample_rows=True)
    observed = float(d.mean())
    lo, hi = _percentile(reps, alpha)
    elo, ehi = _percentile(reps, 2 * alpha)
    extreme = int(np.count_nonzero(np.abs(reps - observed) >= abs(observed) - 1e-12))
    p = min(1.0, (extreme + 1) / (len(reps) + 1))
    return Difference(observed, lo, hi, p, elo, ehi, delta, d.shape[0], d.shape[1])
