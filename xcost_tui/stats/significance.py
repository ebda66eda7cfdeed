"""The verdict's exact tests and its multiple-comparison correction (numpy for the counting).

- ``binom_test``: accuracy against chance, exactly (``exact.binomial_test`` at chance).
- ``mcnemar_exact``: two configurations' paired predictions, exactly (the discordant pairs).
- ``mcnemar_stratified``: the same over several strata (seed pairs), conditional on each
  stratum's discordant pairs: their sum is binomial under the null.
- ``holm``: Holm's step-down adjusted p-values over a family of tests (the XCOPA languages).

Tests check them against scipy and statsmodels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .exact import binomial_test, sign_test
from .thresholds import CHANCE


def binom_test(k: int, n: int, p: float = CHANCE) -> float:
    """Exact two-sided binomial test of k successes in n (``exact.binomial_test``, as scipy.stats.binomtest)."""
    return binomial_test(k, n, p)


def mcnemar_exact(
    a_correct: Sequence[bool] | NDArray[np.bool_], b_correct: Sequence[bool] | NDArray[np.bool_]
) -> float:
    """McNemar's exact test on paired predictions: the discordant pairs under a fair coin."""
    a, b = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("mcnemar_exact needs two equally long vectors")
    only_a = int(np.count_nonzero(a & ~b))
    only_b = int(np.count_nonzero(~a & b))
    return binomial_test(min(only_a, only_b), only_a + only_b, 0.5)


def mcnemar_stratified(
    strata: Sequence[tuple[Sequence[bool] | NDArray[np.bool_], Sequence[bool] | NDArray[np.bool_]]],
) -> float:
    """McNemar's exact test stratified over pairs of runs (the conditional test of a common odds
    ratio of 1 for matched pairs): under the null every discordant item of every stratum is a fair
    coin, so the discordant pairs won by A, summed over strata, are binomial(total discordant, 1/2).
    One stratum: ``mcnemar_exact``."""
    only_a = only_b = 0
    for a_correct, b_correct in strata:
        a, b = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
        if a.shape != b.shape:
            raise ValueError("mcnemar_stratified needs two equally long vectors per stratum")
        only_a += int(np.count_nonzero(a & ~b))
        only_b += int(np.count_nonzero(~a & b))
    return sign_test(min(only_a, only_b), only_a + only_b)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the order given."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return [float(x) for x in out]
