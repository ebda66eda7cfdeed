"""The verdict's statistics against independent references (scipy, statsmodels) on fixed data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from xcost_tui.verdict import stats as vs


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
    assert vs.binom_test(k, n, p) == pytest.approx(sps.binomtest(k, n, p).pvalue, rel=1e-9, abs=1e-12)


def test_mcnemar_matches_statsmodels():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.random(200) < 0.6
        b = rng.random(200) < 0.55
        table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
        assert vs.mcnemar_exact(a, b) == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)
    assert vs.mcnemar_exact([True, False], [True, False]) == 1.0  # no discordant pair


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.5, 0.002, 0.04]
    assert vs.holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert vs.holm([]) == []


def test_one_run_interval_matches_scipys_percentile_bootstrap():
    """With one run the two-level bootstrap is the item bootstrap of a mean: scipy's percentile
    interval on the same fixed data lands within Monte Carlo error."""
    rng = np.random.default_rng(0)
    correct = rng.random(500) < 0.62
    ours = vs.accuracy_interval(correct[None, :], n_resamples=20000, seed=1)
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
    ours = vs.accuracy_interval(correct, n_resamples=20000, seed=5)
    loop = np.random.default_rng(6)
    reps = []
    for _ in range(20000):
        s = loop.integers(0, 3, 3)
        i = loop.integers(0, 300, 300)
        reps.append(correct[s][:, i].mean())
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert ours.low == pytest.approx(lo, abs=0.005) and ours.high == pytest.approx(hi, abs=0.005)
    item_only = vs.accuracy_interval(correct[:1], n_resamples=5000, seed=5)
    assert ours.half_width > item_only.half_width  # seed variation widens the interval


def test_paired_difference_on_fixed_data():
    rng = np.random.default_rng(7)
    base = rng.random((3, 500)) < 0.6
    better = base | (rng.random((3, 500)) < 0.15)  # A gets extra items right: a real gain
    d = vs.paired_difference(better, base, seed=8)
    assert d.diff == pytest.approx((better.astype(float) - base).mean())
    assert d.low > 0 and d.significant and d.p_value < 0.01
    assert d.equiv_low > d.low and d.equiv_high < d.high  # the 90% interval is inside the 95% one
    same = vs.paired_difference(base, base, seed=8)
    assert same.diff == 0 and same.similar and same.p_value == 1.0


def test_similar_needs_the_whole_equivalence_interval_inside_delta():
    rng = np.random.default_rng(9)
    a = rng.random((3, 100)) < 0.6
    b = a.copy()
    flip = rng.random((3, 100)) < 0.05
    b[flip] = ~b[flip]
    small_n = vs.paired_difference(a, b, delta=0.02, seed=1)
    assert not small_n.similar  # 100 items cannot show ±2 points
    assert vs.paired_difference(a, b, delta=0.5, seed=1).similar


def test_paired_p_value_agrees_with_mcnemar_in_order_of_magnitude():
    rng = np.random.default_rng(11)
    a = rng.random(500) < 0.65
    b = rng.random(500) < 0.58
    boot = vs.paired_difference(a[None], b[None], n_resamples=20000, seed=2).p_value
    exact = vs.mcnemar_exact(a, b)
    assert 0.3 < boot / exact < 3


def test_shared_item_weights_are_used():
    w = vs.ItemWeights.draw(50, 200, seed=1)
    m = np.ones((2, 50), dtype=bool)
    assert vs.accuracy_interval(m, items=w).low == 1.0
    with pytest.raises(ValueError, match="50 items"):
        vs.accuracy_interval(np.ones((1, 40), dtype=bool), items=w)


def test_chance_flag():
    rng = np.random.default_rng(0)
    noise = rng.random((3, 100)) < 0.5
    assert vs.indistinguishable_from_chance(vs.accuracy_interval(noise))
    assert not vs.indistinguishable_from_chance(vs.accuracy_interval(np.ones((3, 100), dtype=bool)))


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
    be = vs.break_even(*args)
    assert be.queries == (pytest.approx(queries) if queries is not None else None)
    assert (be.cheaper_before, be.cheaper_after) == (before, after)


def test_cost_to_reach_interpolates_and_says_not_reached():
    costs, accs = [0.0, 10.0, 20.0, 30.0], [0.5, 0.55, 0.65, 0.64]
    assert vs.cost_to_reach(costs, accs, 0.60) == pytest.approx(15.0)
    assert vs.cost_to_reach(costs, accs, 0.50) == 0.0
    assert vs.cost_to_reach(costs, accs, 0.70) is None
    with pytest.raises(ValueError):
        vs.cost_to_reach([1.0, 0.5], [0.5, 0.6], 0.55)
