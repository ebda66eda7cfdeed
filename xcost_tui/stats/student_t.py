"""Student's t quantiles in pure Python (math only), for the cost intervals the store writes in SQL.

DuckDB has no t quantile and scipy is not a dependency of the store, so the 97.5% quantile for
integer degrees of freedom is computed here once: exactly up to ``EXACT_DF`` (the closed form of
the t distribution's CDF for integer ν, Abramowitz & Stegun 26.7.3–4, solved by Newton's
method), and above it by the Cornish–Fisher expansion (A&S 26.7.5, four terms: an error below
1e-9 at ν = 100). ``t975_sql`` writes the same rule as a SQL expression, so the ``configurations``
and ``comparisons`` views and the verdict's Python agree to the last digit. Non-integer
(Welch–Satterthwaite) degrees of freedom are rounded down: a slightly wider, conservative
interval. tests/verdict/test_cost_intervals.py checks the quantiles against scipy.
"""

from __future__ import annotations

import functools
import math

EXACT_DF = 100
LEVEL = 0.95  # the verdict's cost intervals (stats.thresholds.DEFAULT_ALPHA = 0.05)


def _normal_quantile(p: float) -> float:
    """The standard normal quantile, by Newton's method on math.erf (no statistics import at start-up)."""
    z = 0.0
    for _ in range(100):
        cdf = 0.5 * (1 + math.erf(z / math.sqrt(2)))
        step = (cdf - p) / (math.exp(-z * z / 2) / math.sqrt(2 * math.pi))
        z -= step
        if abs(step) < 1e-15:
            break
    return z


def _central_mass(t: float, nu: int) -> float:
    """P(|T| < t) for integer ν ≥ 1 (A&S 26.7.3 for odd ν, 26.7.4 for even ν)."""
    theta = math.atan(t / math.sqrt(nu))
    s, c = math.sin(theta), math.cos(theta)
    c2 = c * c
    if nu % 2 == 1:
        if nu == 1:
            return 2 * theta / math.pi
        term, total = c, c  # cosθ (1 + 2/3 cos²θ + (2·4)/(1·3·5)... )
        for k in range(1, (nu - 3) // 2 + 1):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        return 2 / math.pi * (theta + s * total)
    term, total = 1.0, 1.0
    for k in range(1, (nu - 2) // 2 + 1):
        term *= c2 * (2 * k - 1) / (2 * k)
        total += term
    return s * total


def _cornish_fisher(z: float, nu: float) -> float:
    """A&S 26.7.5: the t quantile from the normal one, four terms in 1/ν."""
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / nu + g2 / nu**2 + g3 / nu**3 + g4 / nu**4


def _exact_quantile(nu: int, level: float) -> float:
    if nu == 1:
        return math.tan(math.pi * level / 2)
    if nu == 2:
        return level * math.sqrt(2 / (1 - level * level))
    t = _cornish_fisher(_normal_quantile((1 + level) / 2), nu)
    log_c = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    for _ in range(50):
        density = 2 * math.exp(log_c - (nu + 1) / 2 * math.log1p(t * t / nu))  # d/dt P(|T| < t)
        step = (_central_mass(t, nu) - level) / density
        t -= step
        if abs(step) < 1e-13 * t:
            break
    return t


@functools.cache
def _table(level: float) -> tuple[float, ...]:
    return tuple(_exact_quantile(nu, level) for nu in range(1, EXACT_DF + 1))


def t_quantile(df: float, level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of Student's t (t_{(1+level)/2, df}), df rounded down; df ≥ 1."""
    nu = math.floor(df)
    if nu < 1:
        raise ValueError(f"a t quantile needs at least 1 degree of freedom, got {df}")
    if nu <= EXACT_DF:
        return _table(level)[nu - 1]
    return _cornish_fisher(_normal_quantile((1 + level) / 2), nu)


def t975_sql(df: str) -> str:
    """The SQL of ``t_quantile(df)`` at the verdict's level: NULL for a NULL df or df < 1."""
    table = ", ".join(repr(x) for x in _table(LEVEL))
    z = _normal_quantile((1 + LEVEL) / 2)
    g = [
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    ]
    nu = f"floor({df})"
    cf = f"({z!r} + {g[0]!r} / {nu} + {g[1]!r} / {nu}^2 + {g[2]!r} / {nu}^3 + {g[3]!r} / {nu}^4)"
    return (
        f"(CASE WHEN {nu} >= 1 AND {nu} <= {EXACT_DF} THEN [{table}][{nu}::BIGINT] "
        f"WHEN {nu} > {EXACT_DF} THEN {cf} END)"
    )
