"""The exact two-sided binomial test, in exact rational arithmetic (pure Python).

One definition for every use: the collapse check of a fine-tune (xcost_tui/collapse.py),
McNemar's exact test and the chance tests of the verdict (stats/significance.py).
"""

from __future__ import annotations

from fractions import Fraction
from math import comb, exp, lgamma, log


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


def sign_test(k: int, n: int) -> float:
    """The exact two-sided binomial test at p = 1/2 (the sign test; McNemar's on discordant pairs)
    in floating point: the distribution is symmetric, so the p-value is 2 P(X <= min(k, n - k)),
    summed in log space. Fast for the thousands of discordant items of a stratified McNemar test,
    where exact rationals would build numbers of thousands of digits; equal to
    ``binomial_test(k, n)`` to about 1e-12 relative."""
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0 or 2 * k == n:
        return 1.0
    m = min(k, n - k)
    base = lgamma(n + 1) - n * log(2)
    terms = [base - lgamma(x + 1) - lgamma(n - x + 1) for x in range(m + 1)]
    top = max(terms)
    tail = exp(top) * sum(exp(t - top) for t in terms)
    return min(1.0, 2 * tail)
