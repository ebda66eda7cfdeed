"""The exact two-sided binomial test, in exact rational arithmetic (pure Python).

One definition for every use: the collapse check of a fine-tune (xcost_tui/collapse.py),
McNemar's exact test and the chance tests of the verdict (stats/significance.py).
"""

from __future__ import annotations

from fractions import Fraction
from math import comb


def binomial_test(k: int, n: int, p: float | Fraction = Fraction(1, 2)) -> float:
    """The exact two-sided binomial test: the p-value of ``k`` successes in ``n`` trials of success
    probability ``p``, the probability under the null of an outcome at most as likely as ``k``.

    This is the definition ``scipy.stats.binomtest(k, n, p).pvalue`` implements (with a relative
    tolerance of 1e-7 for float ties); here the probabilities are exact rationals, so ties are exact.
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    q = Fraction(p)
    if not 0 <= q <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if n == 0:
        return 1.0
    if q in (0, 1):
        return 1.0 if k == (n if q == 1 else 0) else 0.0
    # P(X = x) = C(n, x) q^x (1-q)^(n-x); with q = a/b this is C(n, x) a^x (b-a)^(n-x) / b^n, so the
    # integer numerators order the outcomes exactly.
    a, b = q.numerator, q.denominator
    weights = [comb(n, x) * a**x * (b - a) ** (n - x) for x in range(n + 1)]
    observed = weights[k]
    total = sum(w for w in weights if w <= observed)
    return min(1.0, float(Fraction(total, b**n)))
