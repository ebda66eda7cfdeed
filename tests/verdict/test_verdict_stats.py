"""The verdict's statistics against independent references (scipy, statsmodels) on fixed data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from xcost_tui.stats import bootstrap, significance
from xcost_tui.stats.costs import break_even, cost_to_reach


@pytest.mark.parametrize(
    "k,n,p",
    [
        (0, 10, 0.5),
        (3, 10, 0.5),
        (50, 100, 0.5),
        (61, 100, 0.5),
        (40, 100, 0.5),
        (7, 20, 0.3),
        (12, 12, 0.5),
        (1, 500, 0.01),
        (259, 500, 0.5),
    ],
)
def test_binom_test_matches_scipy(k, n, p):
    assert significance.binom_test(k, n, p) == pytest.approx(sps.binomtest(k, n, p).pvalue, rel=1e-9, abs=1e-12)


def test_mcnemar_matches_statsmodels():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.random(200) < 0.6
        b = rng.random(200) < 0.55
        table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
        assert significance.mcnemar_exact(a, b) == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)
    assert significance.mcnemar_exact([True, False], [True, False]) == 1.0  # no discordant pair


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.5, 0.002, 0.04]
    assert significance.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert significance.holm([]) == []


def test_one_run_interval_matches_scipys_percentile_bootstrap():
    """With one run the two-level bootstrap is the item bootstrap of a mean: scipy's percentile
    interval on the same fixed data lands within Monte Carlo error."""
    rng = np.random.default_rng(0)
    correct = rng.random(500) < 0.62
    ours = bootstrap.accuracy_interval(correct[None, :], n_resamples=20000, seed=1)
    ref = sps.bootstrap(
        (correct.astype(float),), np.mean, n_resamples=20000, method="percentile", confidence_level=0.95, random_state=2
    ).confidence_interval
    assert ours.estimate == pytest.approx(correct.mean())
    assert ours.low == pytest.approx(ref.low, abs=0.004) and ours.high == pytest.approx(ref.high, abs=0.004)
    assert not ours.seed_variation


def test_two_level_interval_matches_an_explicit_loop_with_index_resampling():
    """The weight-matrix bootstrap is the classical one: resample seeds, then items, average."""
    rng = np.random.default_rng(4)
    # three seeds with different skill: seed variation matters
    correct = np.stack([rng.random(300) < q for q in (0.55, 0.62, 0.70)])
    ours = bootstrap.accuracy_interval(correct, n_resamples=20000, seed=5)
    loop = np.random.default_rng(6)
    reps = []
    for _ in range(20000):
        s = loop.integers(0, 3, 3)
        i = loop.integers(0, 300, 300)
        reps.append(correct[s][:, i].mean())
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert ours.low == pytest.approx(lo, abs=0.005) and ours.high == pytest.approx(hi, abs=0.005)
    item_only = bootstrap.accuracy_interval(correct[:1], n_resamples=5000, seed=5)
    assert ours.half_width > item_only.half_width  # seed variation widens the interval


def test_paired_difference_on_fixed_data():
    rng = np.random.default_rng(7)
    base = rng.random((3, 500)) < 0.6
    better = base | (rng.random((3, 500)) < 0.15)  # A gets extra items right: a real gain
    d = bootstrap.paired_difference(better, base, seed=8)
    assert d.diff == pytest.approx((better.astype(float) - base).mean())
    assert d.low > 0 and d.significant and d.p_value < 0.01
    assert d.equiv_low > d.low and d.equiv_high < d.high  # the 90% interval is inside the 95% one
    same = bootstrap.paired_difference(base, base, seed=8)
    assert same.diff == 0 and same.similar and same.p_value == 1.0


def test_similar_needs_the_whole_equivalence_interval_inside_delta():
    rng = np.random.default_rng(9)
    a = rng.random((3, 100)) < 0.6
    b = a.copy()
    flip = rng.random((3, 100)) < 0.05
    b[flip] = ~b[flip]
    small_n = bootstrap.paired_difference(a, b, delta=0.02, seed=1)
    assert not small_n.similar  # 100 items cannot show ±2 points
    assert bootstrap.paired_difference(a, b, delta=0.5, seed=1).similar


def test_paired_p_value_agrees_with_mcnemar_in_order_of_magnitude():
    rng = np.random.default_rng(11)
    a = rng.random(500) < 0.65
    b = rng.random(500) < 0.58
    boot = bootstrap.paired_difference(a[None], b[None], n_resamples=20000, seed=2).p_value
    exact = significance.mcnemar_exact(a, b)
    assert 0.3 < boot / exact < 3


def test_shared_item_weights_are_used():
    w = bootstrap.ItemWeights.draw(50, 200, seed=1)
    m = np.ones((2, 50), dtype=bool)
    assert bootstrap.accuracy_interval(m, items=w).low == 1.0
    with pytest.raises(ValueError, match="50 items"):
        bootstrap.accuracy_interval(np.ones((1, 40), dtype=bool), items=w)


def test_chance_flag():
    rng = np.random.default_rng(0)
    noise = rng.random((3, 100)) < 0.5
    assert bootstrap.indistinguishable_from_chance(bootstrap.accuracy_interval(noise))
    assert not bootstrap.indistinguishable_from_chance(bootstrap.accuracy_interval(np.ones((3, 100), dtype=bool)))


@pytest.mark.parametrize(
    "args,queries,before,after",
    [
        ((10.0, 1.0, 4.0, 1.0), None, "b", "b"),  # same per-query cost: never
        ((10.0, 1.0, 4.0, 3.0), 3.0, "b", "a"),  # A trains 6 more, saves 2 per query
        ((4.0, 3.0, 10.0, 1.0), 3.0, "a", "b"),  # the other way round
        ((4.0, 1.0, 10.0, 3.0), None, "a", "a"),  # A cheaper in both
        ((10.0, 3.0, 4.0, 1.0), None, "b", "b"),  # B cheaper in both
    ],
)
def test_break_even(args, queries, before, after):
    be = break_even(*args)
    assert be.queries == (pytest.approx(queries) if queries is not None else None)
    assert (be.cheaper_before, be.cheaper_after) == (before, after)


def test_cost_to_reach_interpolates_and_says_not_reached():
    costs, accs = [0.0, 10.0, 20.0, 30.0], [0.5, 0.55, 0.65, 0.64]
    assert cost_to_reach(costs, accs, 0.60) == pytest.approx(15.0)
    assert cost_to_reach(costs, accs, 0.50) == 0.0
    assert cost_to_reach(costs, accs, 0.70) is None
    with pytest.raises(ValueError):
        cost_to_reach([1.0, 0.5], [0.5, 0.6], 0.55)


# ---- the behaviours once tested on measure/stats.py's duplicates, on the real implementation ------
# wilson_interval, bootstrap_ci and paired_bootstrap_diff (pure Python, used only by their tests)
# were removed; these tests keep their data and their claims, on accuracy_interval and
# paired_difference. Where the real method differs, the assertion says the real method's answer.


def test_accuracy_interval_of_one_run_at_50_0_and_100_percent():
    """(was test_wilson_interval) The Wilson interval of 50/100 is 0.4038-0.5962; the percentile
    bootstrap's is close to it. At 0% and 100% the bootstrap of one run cannot move (every
    resample is all wrong, or all right): the interval is the point, inside [0, 1]."""
    iv = bootstrap.accuracy_interval([[True] * 50 + [False] * 50])
    assert iv.estimate == 0.5 and 0.38 < iv.low < 0.5 < iv.high < 0.62
    zero = bootstrap.accuracy_interval([[False] * 10])
    assert zero.low == zero.high == 0.0
    full = bootstrap.accuracy_interval([[True] * 10])
    assert full.low == full.high == 1.0
    x = [[True] * 55 + [False] * 45]
    wide, narrow = bootstrap.accuracy_interval(x, alpha=0.01), bootstrap.accuracy_interval(x)  # 99%: wider than 95%
    assert wide.low < narrow.low and wide.high > narrow.high
    with pytest.raises(ValueError):
        bootstrap.accuracy_interval([[]])


def test_accuracy_interval_of_values():
    """(was test_bootstrap_ci) mean 0.5, se ~0.035; constant values; deterministic per seed."""
    values = [[float(i % 2) for i in range(200)]]
    iv = bootstrap.accuracy_interval(values, n_resamples=400, seed=1)
    assert iv.estimate == 0.5 and 0.40 < iv.low < 0.5 < iv.high < 0.60
    same = bootstrap.accuracy_interval([[3.0, 3.0, 3.0]])
    assert (same.estimate, same.low, same.high) == (3.0, 3.0, 3.0)
    assert bootstrap.accuracy_interval(values, n_resamples=50, seed=7) == bootstrap.accuracy_interval(
        values, n_resamples=50, seed=7
    )


def test_paired_difference_clear_difference():
    """(was test_paired_bootstrap_clear_difference)"""
    a = [True] * 80 + [False] * 20
    b = [True] * 50 + [False] * 50
    res = bootstrap.paired_difference(a, b, n_resamples=500)
    assert res.diff == pytest.approx(0.3) and 0.15 < res.low < 0.3 < res.high < 0.45
    assert res.p_value < 0.01 and res.p_value > 0  # +1 correction: never exactly 0
    swapped = bootstrap.paired_difference(b, a, n_resamples=500)
    assert swapped.diff == pytest.approx(-0.3) and swapped.p_value < 0.01


def test_paired_difference_no_difference():
    """(was test_paired_bootstrap_no_difference)"""
    a = [True] * 80 + [False] * 20
    same = bootstrap.paired_difference(a, a, n_resamples=200)
    assert same.diff == 0 and same.low == same.high == 0 and same.p_value == 1.0
    # Disagreeing on items but equally accurate: no evidence either way.
    c = [True, False] * 50
    d = [False, True] * 50
    tie = bootstrap.paired_difference(c, d, n_resamples=300)
    assert tie.diff == 0 and tie.low < 0 < tie.high and tie.p_value > 0.5


def test_paired_difference_small_difference_is_not_significant():
    """(was test_paired_bootstrap_small_difference_is_not_significant) A wins on 3 items, B on 1,
    96 ties: diff 0.02, not significant."""
    a = [True] * 3 + [False] + [True] * 96
    b = [False] * 3 + [True] + [True] * 96
    res = bootstrap.paired_difference(a, b, n_resamples=1000, seed=3)
    assert res.diff == pytest.approx(0.02) and res.p_value > 0.05 and not math.isnan(res.p_value)


def test_paired_difference_is_deterministic_and_checks_input():
    """(was test_paired_bootstrap_is_deterministic_and_checks_input)"""
    a, b = [True, False, True, True], [False, False, True, False]
    assert bootstrap.paired_difference(a, b, seed=5) == bootstrap.paired_difference(a, b, seed=5)
    with pytest.raises(ValueError):
        bootstrap.paired_difference([True], [True, False])
    with pytest.raises(ValueError):
        bootstrap.paired_difference([], [])
