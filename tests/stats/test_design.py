"""The design's intervals (xcost_tui/stats/design.py) against independent references: scipy's
t-tests where the design reduces to one, statsmodels' mixed model for the variance components,
and a simulation with known truth for coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats as sps
import statsmodels.formula.api as smf

from xcost_tui.stats import design, significance
from xcost_tui.stats.exact import sign_test


def _crossed(rng, k=4, n=40, sa=0.3, su=0.5, se=1.0, mu=0.0):
    return mu + rng.normal(0, sa, k)[:, None] + rng.normal(0, su, n)[None, :] + rng.normal(0, se, (k, n))


def test_one_run_is_the_t_interval_over_items():
    """One cluster: R = m − t_{N−1} s/√N in distribution, so the interval is scipy's t-interval
    (up to the Monte-Carlo error of 20,000 draws)."""
    rng = np.random.default_rng(1)
    y = rng.normal(0.6, 0.5, 200)
    iv = design.design_interval(y[None, :])
    lo, hi = sps.t.interval(0.95, len(y) - 1, loc=y.mean(), scale=sps.sem(y))
    width = hi - lo
    assert iv.low == pytest.approx(lo, abs=0.02 * width) and iv.high == pytest.approx(hi, abs=0.02 * width)
    assert iv.n_clusters == 1 and not iv.seed_variation and iv.cluster_sd is None


def test_a_paired_contrast_on_one_seed_is_the_paired_t_test():
    rng = np.random.default_rng(2)
    a, b = rng.random((1, 300)) < 0.62, rng.random((1, 300)) < 0.55
    c = design.paired_contrast(a, [0], b, [0])
    ref = sps.ttest_rel(a[0].astype(float), b[0].astype(float))
    assert c.p_value == pytest.approx(ref.pvalue, abs=0.005)
    assert c.se == pytest.approx(float(np.std(a[0].astype(float) - b[0], ddof=1) / np.sqrt(300)))


def test_the_standard_error_is_the_mixed_models():
    """Balanced crossed data: the ANOVA components are REML's (statsmodels MixedLM with crossed
    seed and item variance components), so the intercept's standard errors agree."""
    rng = np.random.default_rng(3)
    y = _crossed(rng, k=5, n=30, sa=0.6, su=0.8, se=0.7)
    k, n = y.shape
    df = pd.DataFrame({"y": y.ravel(), "seed": np.repeat(np.arange(k), n), "item": np.tile(np.arange(n), k), "g": 1})
    fit = smf.mixedlm("y ~ 1", df, groups="g", vc_formula={"seed": "0 + C(seed)", "item": "0 + C(item)"}).fit(reml=True)
    se_ref = float(np.sqrt(fit.cov_params().iloc[0, 0]))
    iv = design.design_interval(y)
    assert iv.estimate == pytest.approx(float(fit.fe_params.iloc[0]))
    assert iv.se == pytest.approx(se_ref, rel=0.02)
    vc = dict(zip(fit.model.exog_vc.names, fit.vcomp))
    assert iv.cluster_sd == pytest.approx(np.sqrt(vc["seed"]), rel=0.02)


def test_the_p_value_and_the_interval_agree():
    """One procedure: 0 is outside the 95% interval exactly when p < 0.05, and "similar" exactly
    when the 90% interval is inside ±delta."""
    rng = np.random.default_rng(4)
    for trial in range(60):
        shift = rng.normal(0, 0.05)
        a = _crossed(rng, k=3, n=60, sa=0.03, su=0.1, se=0.2, mu=shift)
        b = _crossed(rng, k=3, n=60, sa=0.03, su=0.1, se=0.2)
        for c in (design.paired_contrast(a, range(3), b, range(3)), design.independent_contrast(a, None, b, None)):
            assert (c.p_value < 0.05) == c.significant or abs(c.p_value - 0.05) < 0.002, trial
            inside = -c.delta < c.equiv_low and c.equiv_high < c.delta
            assert (c.p_equiv < 0.05) == inside or abs(c.p_equiv - 0.05) < 0.002, trial


def test_coverage_with_few_seeds_against_known_truth():
    """Three seeds whose effect dominates (the XLM-R-large-on-COPA case): the interval covers the
    true mean in 93–98% of simulations, where a normal interval on 3 seeds covers far less."""
    rng = np.random.default_rng(5)
    hits, reps = 0, 400
    for _ in range(reps):
        y = _crossed(rng, k=3, n=100, sa=0.05, su=0.2, se=0.45, mu=0.6)
        hits += design.design_interval(y).contains(0.6)
    assert 0.93 <= hits / reps <= 0.98


def test_independent_arms_carry_both_sides_variation():
    """An in-context arm against a fine-tuned one: each side's cluster variance counts, so the
    interval is wider than the paired one on the same numbers when the seeds do not co-vary."""
    rng = np.random.default_rng(6)
    a = _crossed(rng, k=3, n=200, sa=0.05, su=0.2, se=0.3)
    b = _crossed(rng, k=3, n=200, sa=0.05, su=0.2, se=0.3)
    ind = design.independent_contrast(a, None, b, None)
    one_a, one_b = design.design_interval(a), design.design_interval(b)
    assert ind.diff == pytest.approx(one_a.estimate - one_b.estimate)
    # its variance is at least each side's seed term
    assert ind.se**2 >= (max(0, design.Crossed.of(a).row_sd or 0) ** 2) / 3 * 0.99
    assert (ind.n_a, ind.n_b, ind.paired) == (3, 3, False)


def test_draws_are_averaged_within_their_seed():
    rng = np.random.default_rng(7)
    m = rng.random((6, 50))
    iv = design.design_interval(m, [0, 0, 1, 1, 2, 2])
    means = np.stack([m[0:2].mean(0), m[2:4].mean(0), m[4:6].mean(0)])
    assert iv.estimate == pytest.approx(means.mean())
    assert iv.se == pytest.approx(design.design_interval(means).se)
    assert (iv.n_clusters, iv.n_runs) == (3, 6) and iv.within_sd is not None


def test_rerunning_gives_the_same_numbers():
    y = _crossed(np.random.default_rng(8))
    assert design.design_interval(y) == design.design_interval(y)


def test_mcnemar_stratified_sums_the_discordant_pairs():
    rng = np.random.default_rng(9)
    strata = [(rng.random(80) < 0.6, rng.random(80) < 0.5) for _ in range(3)]
    only_a = sum(int(np.sum(a & ~b)) for a, b in strata)
    only_b = sum(int(np.sum(~a & b)) for a, b in strata)
    ref = sps.binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert significance.mcnemar_stratified(strata) == pytest.approx(ref, rel=1e-9)
    a, b = strata[0]
    assert significance.mcnemar_stratified([(a, b)]) == pytest.approx(significance.mcnemar_exact(a, b), rel=1e-9)


@pytest.mark.parametrize("k, n", [(0, 1), (3, 10), (5, 10), (40, 100), (1900, 4000), (2100, 4000), (0, 3000)])
def test_the_sign_test_is_the_exact_binomial_test(k, n):
    assert sign_test(k, n) == pytest.approx(sps.binomtest(k, n, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_the_default_margin_is_one_of_the_stored_ones():
    """The verdict reads stored equivalence tests at SENSITIVITY_DELTAS: the default must be among them."""
    from xcost_tui.stats.thresholds import DEFAULT_DELTA, SENSITIVITY_DELTAS

    assert DEFAULT_DELTA in SENSITIVITY_DELTAS
