"""Intervals that follow the study's design: runs clustered by their random factor, test items
crossed with every run, and a generalized confidence interval over the variance components
(numpy only).

The design (docs/statistics.md, "The design"):

- a configuration's **runs** come in **clusters**: the training seed of a fine-tuned
  configuration (its shot draws, when it draws shots, are nested in the seed and averaged
  within it), the shot draw of an in-context configuration (it trains nothing: its draws are its
  only run factor), or the run itself;
- the **items** of a language's test set are crossed with every run: every run, of every
  configuration, scores the same items, so the item effect is shared and differences are
  paired on items;
- two configurations are **paired** only through a factor they truly share (the training seed of
  two fine-tuned arms): then the cluster means are subtracted seed by seed; otherwise their
  clusters are independent and only the items pair them.

For a (K clusters × N items) matrix Y of cluster means, the two-way crossed random-effects
model Y = μ + a_k + u_i + e_ki gives the variance of the grand mean

    Var(Ȳ) = σ²_a / K + σ²_u / N + σ²_e / (K N)

with each component estimated from the ANOVA mean squares. With K = 3 seeds the seed term rests
on 2 degrees of freedom, and a t-interval with Satterthwaite's df covers the truth in only
92–93% of simulations when the seed term dominates (its df is estimated from the same noisy
mean square that sets the width). The **generalized confidence interval** (Weerahandi 1993)
carries that noise through instead: each mean square is replaced by draws of its pivot
MS / (χ²_df / df), Var(Ȳ) is recomputed per draw, and the interval is the quantiles of
R = Ȳ − Z √Var*. One cluster: the seed term cannot be estimated and the interval covers the items
only.

The p-value, the 95% interval and the equivalence test (TOST, the 1 − 2α interval inside ±δ)
are tail shares and quantiles of the same draws, so they cannot disagree; with 20,000 draws a
p-value near 0.05 has a Monte-Carlo standard error of 0.0015. The draws are fixed (common random
numbers): a rerun gives the same numbers. ``tests/stats/test_design.py`` checks the estimator
against statsmodels and scipy and its coverage against a simulation with known truth;
``benchmarks/bench_coverage.py`` checks coverage through the store.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .thresholds import CHANCE, DEFAULT_ALPHA, DEFAULT_DELTA, SENSITIVITY_DELTAS

Matrix = NDArray[np.float64]


# ---- clusters ---------------------------------------------------------------------------------------


def cluster_means(m: Matrix, clusters: Sequence[Hashable]) -> tuple[Matrix, list[Hashable], list[int]]:
    """Rows of ``m`` averaged within their cluster: (K × N) means, the cluster keys in first-seen
    order, and how many rows each cluster holds."""
    if m.ndim != 2 or m.shape[0] != len(clusters):
        raise ValueError(f"one cluster key per row: {m.shape[0]} rows, {len(clusters)} keys")
    keys: list[Hashable] = []
    where: dict[Hashable, list[int]] = {}
    for row, key in enumerate(clusters):
        if key not in where:
            keys.append(key)
            where[key] = []
        where[key].append(row)
    means = np.stack([m[where[k]].mean(axis=0) for k in keys])
    return means, keys, [len(where[k]) for k in keys]


@dataclass(frozen=True)
class Crossed:
    """The ANOVA of a (K × N) matrix under the crossed model: mean squares and their df."""

    k: int
    n: int
    mean: float
    ms_rows: float  # E = σ²_e + N σ²_a
    ms_items: float  # E = σ²_e + K σ²_u
    ms_resid: float  # E = σ²_e

    @classmethod
    def of(cls, y: Matrix) -> Crossed:
        k, n = y.shape
        grand = float(y.mean())
        rows, items = y.mean(axis=1), y.mean(axis=0)
        ms_rows = n * float(((rows - grand) ** 2).sum()) / (k - 1) if k > 1 else math.nan
        ms_items = k * float(((items - grand) ** 2).sum()) / (n - 1) if n > 1 else math.nan
        if k > 1 and n > 1:
            resid = y - rows[:, None] - items[None, :] + grand
            ms_resid = float((resid**2).sum()) / ((k - 1) * (n - 1))
        else:
            ms_resid = math.nan
        return cls(k, n, grand, ms_rows, ms_items, ms_resid)

    @property
    def row_sd(self) -> float | None:
        """SD of the row effect (a new seed's, or draw's, accuracy around the mean), floored at 0."""
        if self.k < 2 or self.n < 2:
            return None
        return math.sqrt(max(0.0, (self.ms_rows - self.ms_resid) / self.n))


# ---- the generalized pivots -----------------------------------------------------------------------
#
# Each mean square MS on df degrees of freedom has the pivot MS / (χ²_df / df): a draw of the variance
# it estimates. A draw of Var(Ȳ) is the components' formula over those draws (a component whose ANOVA
# estimate is not above 0 stays 0 in every draw), and R = Ȳ − Z √Var* is a draw of the mean's
# generalized pivotal quantity (Weerahandi 1993). The interval is R's quantiles and the p-values
# are R's tail shares, from one set of draws.

GCI_DRAWS = 20_000  # the p-value's Monte-Carlo SE near 0.05 is √(0.05 · 0.95 / 20,000) = 0.0015
GCI_SEED = 20_261_207


class _Pivots:
    """Fixed draws shared by every interval (common random numbers: reruns give the same
    numbers, and configurations with equal shapes the same Monte-Carlo error)."""

    def __init__(self, draws: int = GCI_DRAWS, seed: int = GCI_SEED):
        self.draws = draws
        self.seed = seed
        self._z: Matrix | None = None
        self._chi: dict[tuple[int, int], Matrix] = {}

    @property
    def z(self) -> Matrix:
        if self._z is None:
            self._z = np.random.default_rng((self.seed, 0)).standard_normal(self.draws)
        return self._z

    def ms(self, value: float, df: int, slot: int = 0) -> Matrix:
        """Draws of the variance a mean square ``value`` on ``df`` degrees of freedom estimates;
        mean squares that are independent use different ``slot``s (equal df would otherwise
        share one draw)."""
        key = (df, slot)
        if key not in self._chi:
            rng = np.random.default_rng((self.seed, 1 + slot, df))
            self._chi[key] = rng.chisquare(df, self.draws) / df
        return value / self._chi[key]


PIVOTS = _Pivots()


def _component(pivots: _Pivots, ms_effect: float, df: int, slot: int, ms_resid: float, resid: Matrix) -> Matrix | float:
    """Draws of one variance component's numerator, MS_effect − MS_resid (a mean square on ``df``
    degrees of freedom less the residual's draws), floored at 0; 0 in every draw when its ANOVA
    estimate is not above 0 (the point estimate decides whether the term exists)."""
    if not ms_effect > ms_resid:
        return 0.0
    return np.maximum(0.0, pivots.ms(ms_effect, df, slot) - resid)


def _variance_draws(c: Crossed, pivots: _Pivots, slot: int = 0) -> Matrix:
    """Draws of Var(Ȳ) = σ²_a/K + σ²_u/N + σ²_e/(KN) for one crossed matrix.

    A component enters when its ANOVA estimate is above 0 (MS_rows > MS_resid: a seed effect is
    seen), and then each draw of it is floored at 0. Entering it whatever its estimate (the plain
    generalized pivot) covers 98–99% when seeds truly do not matter, because a 2-df pivot's heavy
    tail then only widens; the point estimate's sign keeps those cells near 95–97% (the coverage
    study, docs/benchmarks.md)."""
    k, n = c.k, c.n
    if k == 1:  # one cluster: the items only (σ²_u + σ²_e on N − 1 df)
        return pivots.ms(c.ms_items, n - 1, slot) / n if n > 1 else np.zeros(pivots.draws)
    if n == 1:
        return pivots.ms(c.ms_rows, k - 1, slot) / k
    resid = pivots.ms(c.ms_resid, (k - 1) * (n - 1), slot + 2)
    seeds = _component(pivots, c.ms_rows, k - 1, slot, c.ms_resid, resid)
    items = _component(pivots, c.ms_items, n - 1, slot + 1, c.ms_resid, resid)
    return (resid + seeds + items) / (k * n)


def _point_variance(c: Crossed) -> float:
    """The ANOVA estimate of Var(Ȳ), components floored at 0 (the standard error shown)."""
    k, n = c.k, c.n
    if k == 1:
        return c.ms_items / n if n > 1 else 0.0
    if n == 1:
        return c.ms_rows / k
    return (
        max(0.0, c.ms_rows - c.ms_resid) / (n * k) + max(0.0, c.ms_items - c.ms_resid) / (k * n) + c.ms_resid / (k * n)
    )


def _quantiles(r: Matrix, probs: Sequence[float]) -> list[float]:
    return [float(x) for x in np.quantile(r, probs)]


def _tail(count: int, draws: int) -> float:
    return min(1.0, (count + 1) / (draws + 1))


# ---- one configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignInterval:
    """A configuration's mean accuracy with its generalized interval over clusters and items."""

    estimate: float
    se: float  # the ANOVA standard error (for display; the interval is the pivot's quantiles)
    low: float
    high: float
    level: float
    n_clusters: int  # seeds (fine-tuned), shot draws (in-context), or runs
    n_runs: int
    n_items: int
    cluster_sd: float | None  # SD of a new cluster's accuracy (a seed's, or an ICL draw's)
    within_sd: float | None  # SD of a new draw's accuracy within one seed (draws nested in seeds)

    @property
    def seed_variation(self) -> bool:
        return self.n_clusters > 1

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def _nested_sd(m: Matrix, clusters: Sequence[Hashable]) -> float | None:
    """SD of the draw effect nested in clusters: each cluster with ≥ 2 rows is a crossed
    (draws × items) matrix; their row and residual mean squares pooled."""
    _, keys, counts = cluster_means(m, clusters)
    rows_ss = rows_df = resid_ss = resid_df = 0.0
    n = m.shape[1]
    for key, count in zip(keys, counts):
        if count < 2:
            continue
        c = Crossed.of(m[[i for i, k in enumerate(clusters) if k == key]])
        rows_ss += c.ms_rows * (c.k - 1)
        rows_df += c.k - 1
        if n > 1:
            resid_ss += c.ms_resid * (c.k - 1) * (n - 1)
            resid_df += (c.k - 1) * (n - 1)
    if rows_df == 0 or resid_df == 0:
        return None
    return math.sqrt(max(0.0, (rows_ss / rows_df - resid_ss / resid_df) / n))


def design_interval(
    m: Matrix | Sequence[Sequence[float]],
    clusters: Sequence[Hashable] | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    pivots: _Pivots = PIVOTS,
) -> DesignInterval:
    """Mean of ``m`` (runs × items, 0/1 or a share of languages right) with its (1 − alpha)
    interval; ``clusters``: each row's cluster key (None: every row its own cluster)."""
    m = _matrix(m)
    keys = list(clusters) if clusters is not None else list(range(m.shape[0]))
    y, _, _ = cluster_means(m, keys)
    c = Crossed.of(y)
    r = c.mean - pivots.z * np.sqrt(_variance_draws(c, pivots))
    low, high = _quantiles(r, (alpha / 2, 1 - alpha / 2))
    return DesignInterval(
        c.mean,
        math.sqrt(_point_variance(c)),
        min(low, c.mean),
        max(high, c.mean),
        1 - alpha,
        c.k,
        m.shape[0],
        m.shape[1],
        c.row_sd,
        _nested_sd(m, keys),
    )


def indistinguishable_from_chance(interval: DesignInterval, chance: float = CHANCE) -> bool:
    """The accuracy's interval contains chance: this language says nothing about the method."""
    return interval.contains(chance)


# ---- two configurations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Contrast:
    """A − B (fractions) on the same items, with the test, the interval and the equivalence test
    of one procedure (the same draws)."""

    diff: float
    se: float
    low: float  # the (1 − alpha) interval
    high: float
    p_value: float  # two-sided, "no difference"
    equiv_low: float  # the (1 − 2 alpha) interval: TOST's
    equiv_high: float
    p_equiv: float  # TOST: the larger of the two one-sided p-values against ±delta
    delta: float
    paired: bool  # through a shared training seed; False: the arms' clusters are independent
    n_pairs: int  # shared clusters when paired, else min(clusters of A, clusters of B)
    n_a: int  # clusters behind each side
    n_b: int
    n_items: int
    cluster_sd: float | None = None  # paired: SD over seeds of the difference; else None
    p_equiv_at: tuple[float, ...] = ()  # the TOST p-value at each of SENSITIVITY_DELTAS

    @property
    def significant(self) -> bool:
        return not (self.low <= 0.0 <= self.high)


def _contrast(
    diff: float,
    se: float,
    variance: Matrix,
    pivots: _Pivots,
    *,
    alpha: float,
    delta: float,
    paired: bool,
    n_a: int,
    n_b: int,
    n_pairs: int,
    n: int,
    cluster_sd: float | None = None,
) -> Contrast:
    r = diff - pivots.z * np.sqrt(variance)
    low, high, elow, ehigh = _quantiles(r, (alpha / 2, 1 - alpha / 2, alpha, 1 - alpha))
    draws = len(r)
    below, above = int(np.count_nonzero(r <= 0.0)), int(np.count_nonzero(r >= 0.0))
    p = _tail(2 * min(below, above), draws)

    def tost(margin: float) -> float:
        return max(_tail(int(np.count_nonzero(r <= -margin)), draws), _tail(int(np.count_nonzero(r >= margin)), draws))

    p_equiv = tost(delta)
    return Contrast(
        diff,
        se,
        min(low, diff),
        max(high, diff),
        p,
        min(elow, diff),
        max(ehigh, diff),
        p_equiv,
        delta,
        paired,
        n_pairs,
        n_a,
        n_b,
        n,
        cluster_sd,
        tuple(tost(margin) for margin in SENSITIVITY_DELTAS),
    )


def paired_contrast(
    a: Matrix | Sequence[Sequence[float]],
    clusters_a: Sequence[Hashable],
    b: Matrix | Sequence[Sequence[float]],
    clusters_b: Sequence[Hashable],
    *,
    alpha: float = DEFAULT_ALPHA,
    delta: float = DEFAULT_DELTA,
    pivots: _Pivots = PIVOTS,
) -> Contrast:
    """A − B paired through the clusters both share (equal training seed): each side averaged
    within its cluster, the cluster means subtracted seed by seed, and the (K × N) differences
    analysed as one crossed matrix. Clusters of one side only are left out."""
    ma, mb = _matrix(a), _matrix(b)
    _same_items(ma, mb)
    ya, ka, _ = cluster_means(ma, list(clusters_a))
    yb, kb, _ = cluster_means(mb, list(clusters_b))
    in_b = set(kb)
    shared = [k for k in ka if k in in_b]
    if not shared:
        raise ValueError("paired_contrast: the two sides share no cluster")
    d = np.stack([ya[ka.index(k)] - yb[kb.index(k)] for k in shared])
    c = Crossed.of(d)
    return _contrast(
        c.mean,
        math.sqrt(_point_variance(c)),
        _variance_draws(c, pivots),
        pivots,
        alpha=alpha,
        delta=delta,
        paired=True,
        n_a=len(ka),
        n_b=len(kb),
        n_pairs=len(shared),
        n=d.shape[1],
        cluster_sd=c.row_sd,
    )


def independent_contrast(
    a: Matrix | Sequence[Sequence[float]],
    clusters_a: Sequence[Hashable] | None,
    b: Matrix | Sequence[Sequence[float]],
    clusters_b: Sequence[Hashable] | None,
    *,
    alpha: float = DEFAULT_ALPHA,
    delta: float = DEFAULT_DELTA,
    pivots: _Pivots = PIVOTS,
) -> Contrast:
    """A − B when the two share no random factor but the items (an in-context configuration
    against a fine-tuned one): each side's cluster variance counts on its own, and the items
    pair them.

    Var = σ²_A/K_A + σ²_B/K_B + Var_i(item effect of A − item effect of B)/N + the residuals,
    where the per-item difference of the two sides' means estimates the item term together with
    both residual terms (σ²_eA/K_A + σ²_eB/K_B), so it is never taken below them."""
    ma, mb = _matrix(a), _matrix(b)
    _same_items(ma, mb)
    ya, _, _ = cluster_means(ma, list(clusters_a) if clusters_a is not None else list(range(ma.shape[0])))
    yb, _, _ = cluster_means(mb, list(clusters_b) if clusters_b is not None else list(range(mb.shape[0])))
    n = ya.shape[1]
    ca, cb = Crossed.of(ya), Crossed.of(yb)
    var_draws: Matrix = np.zeros(pivots.draws)
    point = 0.0
    resid_floor_draws: Matrix = np.zeros(pivots.draws)
    resid_floor = 0.0
    for slot, c in enumerate((ca, cb), start=1):
        if c.k < 2:
            continue
        if n == 1:
            var_draws = var_draws + pivots.ms(c.ms_rows, c.k - 1, 10 * slot) / c.k
            point += c.ms_rows / c.k
            continue
        resid = pivots.ms(c.ms_resid, (c.k - 1) * (n - 1), 10 * slot + 1)
        var_draws = var_draws + _component(pivots, c.ms_rows, c.k - 1, 10 * slot, c.ms_resid, resid) / (n * c.k)
        point += max(0.0, c.ms_rows - c.ms_resid) / (n * c.k)
        resid_floor_draws = resid_floor_draws + resid / c.k
        resid_floor += c.ms_resid / c.k
    if n > 1:
        item_diff = ya.mean(axis=0) - yb.mean(axis=0)
        s2 = float(item_diff.var(ddof=1))
        var_draws = var_draws + np.maximum(pivots.ms(s2, n - 1, 30), resid_floor_draws) / n
        point += max(s2, resid_floor) / n
    return _contrast(
        float(ya.mean() - yb.mean()),
        math.sqrt(point),
        var_draws,
        pivots,
        alpha=alpha,
        delta=delta,
        paired=False,
        n_a=ca.k,
        n_b=cb.k,
        n_pairs=min(ca.k, cb.k),
        n=n,
    )


def _matrix(m: Matrix | Sequence[Sequence[float]]) -> Matrix:
    out = np.asarray(m, dtype=np.float64)
    if out.ndim == 1:
        out = out[None, :]
    if out.ndim != 2 or out.shape[0] == 0 or out.shape[1] == 0:
        raise ValueError(f"expected a (runs, items) matrix with at least one run and one item, got {out.shape}")
    return out


def _same_items(a: Matrix, b: Matrix) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two sides must score the same items: {a.shape[1]} vs {b.shape[1]}")
