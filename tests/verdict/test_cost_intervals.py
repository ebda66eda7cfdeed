"""Costs with their spread: the t quantiles, a cost's interval over runs, the ratio of two costs and
the break-even N* with their intervals, against scipy and numpy simulations (stats/costs.py,
stats/student_t.py; docs/statistics.md, "Cost")."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from scipy import stats as sps

from xcost_tui.stats.costs import (
    NEGATIVE,
    ONE_RUN,
    SAME_TRAINING,
    break_even,
    break_even_estimate,
    cost_estimate,
    ratio_estimate,
    welch_df,
)
from xcost_tui.stats.student_t import EXACT_DF, t975_sql, t_quantile


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_t_quantiles_match_scipy(level):
    for df in [*range(1, EXACT_DF + 40), 250, 1000, 10**6]:
        assert t_quantile(df, level) == pytest.approx(sps.t.ppf((1 + level) / 2, df), rel=1e-9)


def test_non_integer_df_is_rounded_down_and_sql_gives_the_same_quantile():
    assert t_quantile(4.9) == t_quantile(4)  # conservative: fewer degrees of freedom, a wider interval
    with pytest.raises(ValueError):
        t_quantile(0.5)
    dfs = [1.0, 2.0, 2.7, 3.0, 17.5, 99.0, 100.0, 100.9, 101.0, 2500.0, 0.4]
    got = duckdb.sql(f"SELECT {t975_sql('x')} FROM unnest(?) AS t(x)", params=[dfs]).fetchall()
    for df, (q,) in zip(dfs, got, strict=True):
        assert (q is None) if df < 1 else q == t_quantile(df)


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_a_cost_interval_is_the_t_interval_of_scipy(n):
    x = np.random.default_rng(n).lognormal(0.0, 0.25, n)
    est = cost_estimate(list(x))
    lo, hi = sps.t.interval(0.95, n - 1, loc=x.mean(), scale=sps.sem(x))
    assert est.mean == pytest.approx(x.mean()) and est.sd == pytest.approx(x.std(ddof=1))
    assert (est.low, est.high) == (pytest.approx(lo), pytest.approx(hi))
    assert est.n == n and est.reason is None


def test_one_run_has_no_spread_and_says_so():
    one = cost_estimate([3.0])
    assert (one.mean, one.sd, one.low, one.high, one.reason) == (3.0, None, None, None, ONE_RUN)
    none = cost_estimate([])
    assert none.mean is None and none.reason == "no run"
    exact = cost_estimate([5.0, 5.0, 5.0])  # analytic FLOPs of equal runs: no spread at all
    assert (exact.sd, exact.low, exact.high) == (0.0, 5.0, 5.0)


def test_welch_df_matches_scipy_welch_test():
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 2, 4), rng.normal(12, 5, 7)
    df = welch_df([(a.var(ddof=1) / 4, 3), (b.var(ddof=1) / 7, 6)])
    assert df == pytest.approx(sps.ttest_ind(a, b, equal_var=False).df)
    assert welch_df([(0.0, 3), (0.0, 5)]) is None


def test_ratio_interval_is_the_delta_method_on_the_log_scale():
    rng = np.random.default_rng(2)
    a, b = rng.lognormal(1.0, 0.2, 5), rng.lognormal(0.5, 0.3, 4)
    r = ratio_estimate(cost_estimate(list(a)), cost_estimate(list(b)))
    va = a.var(ddof=1) / (5 * a.mean() ** 2)
    vb = b.var(ddof=1) / (4 * b.mean() ** 2)
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 3)
    half = sps.t.ppf(0.975, math.floor(df)) * math.sqrt(va + vb)
    assert r.ratio == pytest.approx(a.mean() / b.mean())
    assert r.low == pytest.approx(a.mean() / b.mean() * math.exp(-half))
    assert r.high == pytest.approx(a.mean() / b.mean() * math.exp(half))
    back = ratio_estimate(cost_estimate(list(b)), cost_estimate(list(a)))  # swapping gives the reciprocal
    assert (back.low, back.high) == (pytest.approx(1 / r.high), pytest.approx(1 / r.low))


@pytest.mark.parametrize("n_a,n_b,cv_a,cv_b", [(3, 3, 0.2, 0.2), (3, 5, 0.1, 0.3), (5, 5, 0.3, 0.15)])
def test_ratio_interval_covers_the_true_ratio(n_a, n_b, cv_a, cv_b):
    """Timing noise of 10-30% over 3-5 seeds (the issue: 12-30%): the 95% interval of the ratio of
    the true means covers it in about 95% of simulated studies."""
    rng = np.random.default_rng(7)
    mu_a, mu_b, reps = 2.4, 1.0, 3000
    s_a, s_b = math.sqrt(math.log1p(cv_a**2)), math.sqrt(math.log1p(cv_b**2))
    truth = (mu_a * math.exp(s_a**2 / 2)) / (mu_b * math.exp(s_b**2 / 2))  # ratio of lognormal means
    hit = 0
    for _ in range(reps):
        a = rng.lognormal(math.log(mu_a), s_a, n_a)
        b = rng.lognormal(math.log(mu_b), s_b, n_b)
        r = ratio_estimate(cost_estimate(list(a)), cost_estimate(list(b)))
        hit += r.low <= truth <= r.high
    assert 0.93 <= hit / reps <= 0.985


def test_ratio_refuses_negative_and_zero_and_declares_same_training():
    pos, neg = cost_estimate([1.0, 1.2, 0.9]), cost_estimate([-1.0, -1.1, -0.9])
    assert ratio_estimate(neg, pos).ratio is None and ratio_estimate(neg, pos).reason == NEGATIVE
    assert ratio_estimate(pos, neg).ratio is None  # never a ratio of -100
    assert ratio_estimate(pos, cost_estimate([0.0, 0.0])).ratio is None
    zero = ratio_estimate(cost_estimate([0.0, 0.0, 0.0]), pos)  # icl trains nothing: exactly 0
    assert (zero.ratio, zero.low, zero.high) == (0.0, 0.0, 0.0)
    same = ratio_estimate(cost_estimate([0.8, 0.9, 1.0]), cost_estimate([1.0, 1.1, 1.3]), same_training=True)
    assert (same.ratio, same.low, same.high, same.reason) == (1.0, 1.0, 1.0, SAME_TRAINING)
    one = ratio_estimate(cost_estimate([2.0]), pos)
    assert one.ratio == pytest.approx(2.0 / pos.mean) and one.low is None and one.reason == ONE_RUN


def _fieller(d_train, v_t, d_query, v_q, t):
    """Fieller's set {θ : (ΔT − θΔq)² ≤ t²(v_T + θ² v_q)}, found on a grid (an independent route)."""
    grid = np.linspace(0, 4 * d_train / d_query, 400_001)
    inside = (d_train - grid * d_query) ** 2 <= t * t * (v_t + grid**2 * v_q)
    return grid[inside].min(), grid[inside].max()


def test_break_even_interval_is_fiellers():
    rng = np.random.default_rng(4)
    ta, tb = rng.normal(10.0, 1.0, 4), rng.normal(2.0, 0.3, 4)
    qa, qb = rng.normal(0.001, 0.0001, 4), rng.normal(0.003, 0.0002, 4)
    est = break_even_estimate(*(cost_estimate(list(x)) for x in (ta, qa, tb, qb)))
    d_train, d_query = ta.mean() - tb.mean(), qb.mean() - qa.mean()
    v_t = ta.var(ddof=1) / 4 + tb.var(ddof=1) / 4
    v_q = qa.var(ddof=1) / 4 + qb.var(ddof=1) / 4
    n = d_train / d_query
    terms = [ta.var(ddof=1) / 4, tb.var(ddof=1) / 4, n * n * qa.var(ddof=1) / 4, n * n * qb.var(ddof=1) / 4]
    df = sum(terms) ** 2 / sum(x * x / 3 for x in terms)
    lo, hi = _fieller(d_train, v_t, d_query, v_q, sps.t.ppf(0.975, math.floor(df)))
    assert est.verdict == "crosses" and est.queries == pytest.approx(n)
    assert est.low == pytest.approx(lo, rel=1e-4) and est.high == pytest.approx(hi, rel=1e-4)
    assert est.low < est.queries < est.high


@pytest.mark.parametrize("n", [3, 5])
def test_break_even_interval_covers_the_true_crossing(n):
    """Costs with 20% noise over n runs: where N* is determined, Fieller's 95% interval covers the
    true crossing in about 95% of simulated studies (with 3 runs a fifth are "undetermined")."""
    rng = np.random.default_rng(5)
    truth, reps, hit, determined = (10.0 - 4.0) / (3e-3 - 1e-3), 2000, 0, 0
    for _ in range(reps):
        parts = [rng.normal(m, 0.2 * m, n) for m in (10.0, 1e-3, 4.0, 3e-3)]
        est = break_even_estimate(*(cost_estimate(list(x)) for x in parts))
        assert est.verdict in ("crosses", "undetermined")
        if est.verdict == "crosses":
            determined += 1
            hit += est.low <= truth <= est.high
    assert determined >= 0.7 * reps
    assert 0.93 <= hit / determined <= 0.98


def test_break_even_is_undetermined_when_the_per_query_difference_is_noise():
    rng = np.random.default_rng(6)
    qa, qb = rng.normal(1.00, 0.2, 3), rng.normal(1.05, 0.2, 3)
    est = break_even_estimate(
        cost_estimate([10.0, 11.0, 12.0]),
        cost_estimate(list(qa)),
        cost_estimate([1.0, 1.1, 0.9]),
        cost_estimate(list(qb)),
    )
    assert sps.ttest_ind(qa, qb, equal_var=False).pvalue > 0.05  # scipy: the per-query costs are not told apart
    assert est.verdict == "undetermined" and est.queries is None and est.low is None


def test_exact_flops_give_a_point_and_one_run_no_interval():
    flops = [cost_estimate([v] * 3) for v in (9e15, 1e9, 1e15, 3e9)]  # analytic: equal over runs
    exact = break_even_estimate(*flops)
    assert exact.verdict == "crosses" and exact.low == exact.high == exact.queries == pytest.approx(8e15 / 2e9)
    one = break_even_estimate(*(cost_estimate([v]) for v in (9e15, 1e9, 1e15, 3e9)))
    assert one.queries == pytest.approx(4e6) and one.low is None and one.reason == ONE_RUN


def test_negative_cost_is_never_always_cheaper():
    assert break_even(-5.0, 1.0, 2.0, 2.0).cheaper_before is None
    est = break_even_estimate(*(cost_estimate([v, v]) for v in (-5.0, 1.0, 2.0, 2.0)))
    assert est.verdict == NEGATIVE and est.queries is None


def test_same_training_counts_the_training_once():
    """translate-test's classifier is direct's: ΔC_train is 0 by declaration, whatever the timing
    noise, so the cheaper per query is always cheaper (no made-up crossing)."""
    train_a, train_b = cost_estimate([0.81, 0.7, 0.95]), cost_estimate([1.0, 1.2, 0.9])
    query_a, query_b = cost_estimate([3.0, 3.1, 2.9]), cost_estimate([1.0, 1.02, 0.98])
    plain = break_even_estimate(train_a, query_a, train_b, query_b)
    assert plain.verdict == "crosses"  # from the noise of two measurements of one training
    same = break_even_estimate(train_a, query_a, train_b, query_b, same_training=True)
    assert same.verdict == "always b" and same.queries is None
