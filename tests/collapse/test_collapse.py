"""The collapse check: the exact binomial test against scipy (information only), and the verdict's
two criteria of degeneracy (Mosbach et al. 2021): one choice for nearly everything, a training
loss that does not fall."""

from __future__ import annotations

from fractions import Fraction

import pytest

from xcost_tui.collapse import ALPHA, LOSS_TOLERANCE, MAJORITY, binomial_test, check_collapse, loss_trend

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is in the dev extra (pip install -e .[dev])")


@pytest.mark.parametrize("n", [1, 2, 5, 10, 24, 99, 100, 101, 500])
def test_binomial_test_matches_scipy_for_every_k(n):
    for k in range(n + 1):
        ours = binomial_test(k, n)
        theirs = scipy_stats.binomtest(k, n, 0.5).pvalue
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-300), (k, n, ours, theirs)


@pytest.mark.parametrize(
    "k,n,p",
    [
        (3, 10, Fraction(1, 3)),
        (0, 7, Fraction(1, 4)),
        (40, 100, Fraction(1, 3)),
        (9, 12, Fraction(1, 4)),
        (1, 1, Fraction(1, 3)),
    ],
)
def test_binomial_test_matches_scipy_for_other_chance_levels(k, n, p):
    assert binomial_test(k, n, p) == pytest.approx(scipy_stats.binomtest(k, n, float(p)).pvalue, rel=1e-9)


def test_binomial_test_edges():
    assert binomial_test(50, 100) == 1.0  # the mode: nothing is less likely than... everything is
    assert binomial_test(0, 0) == 1.0
    with pytest.raises(ValueError):
        binomial_test(5, 4)
    # 61/100 is significant at 0.05 and 60/100 is not (a two-sided test at p = 0.5)
    assert binomial_test(61, 100) < ALPHA <= binomial_test(60, 100)
    assert binomial_test(39, 100) < ALPHA <= binomial_test(40, 100)


def test_chance_accuracy_alone_is_not_collapsed_but_recorded():
    # Changed by issue 16 (item 8): "within chance" was a reason to collapse (and to retry, which
    # reported weak configurations as the best of several attempts); now it is information only.
    preds = [i % 2 for i in range(100)]
    labels = [(i // 2) % 2 for i in range(100)]  # half right, both choices used
    v = check_collapse(preds, labels)
    assert v.collapsed is False and v.accuracy == 0.5 and v.p_value == 1.0 and v.n == 100
    assert v.within_chance is True and v.reasons == []


def test_a_weak_but_learning_model_is_not_collapsed():
    # 55% on 100 items is within chance (p = 0.37) but the model answers both choices and its loss fell
    labels = [i % 2 for i in range(100)]
    preds = [y if i < 55 else 1 - y for i, y in enumerate(labels)]
    losses = [0.70 - 0.002 * i for i in range(100)]  # 0.70 -> 0.50
    v = check_collapse(preds, labels, losses=losses)
    assert (
        v.accuracy == 0.55
        and v.within_chance is True
        and v.p_value == pytest.approx(scipy_stats.binomtest(55, 100, 0.5).pvalue)
    )
    assert v.collapsed is False and v.reasons == [] and v.loss_fell is True
    assert v.majority_share == pytest.approx(0.51)  # 45 wrong answers flip labels 55..99


def test_a_model_better_than_chance_is_not_collapsed():
    labels = [i % 2 for i in range(100)]
    preds = [y if i < 70 else 1 - y for i, y in enumerate(labels)]  # 70%
    v = check_collapse(preds, labels)
    assert v.collapsed is False and v.reasons == [] and v.p_value < ALPHA and v.within_chance is False


def test_always_choice_zero_is_collapsed():
    labels = [i % 2 for i in range(100)]
    preds = [0] * 100
    losses = [0.70 - 0.002 * i for i in range(100)]  # even with a falling loss
    v = check_collapse(preds, labels, losses=losses)
    assert v.collapsed is True and v.majority_choice == 0 and v.majority_share == 1.0
    assert len(v.reasons) == 1 and "choice 0" in v.reasons[0]


def test_a_flat_training_loss_is_collapsed():
    labels = [i % 2 for i in range(100)]
    preds = [y if i < 70 else 1 - y for i, y in enumerate(labels)]  # 70%, both choices
    flat = [0.6931 + 0.001 * ((-1) ** i) for i in range(50)]  # stays at ln 2
    v = check_collapse(preds, labels, losses=flat)
    assert v.collapsed is True and v.loss_fell is False and v.loss_steps == 50
    assert len(v.reasons) == 1 and "did not fall" in v.reasons[0]
    # a loss that rises is not a fall either
    assert check_collapse(preds, labels, losses=[0.6 + 0.01 * i for i in range(20)]).collapsed is True
    # no loss history: judged on the predictions alone
    assert check_collapse(preds, labels).loss_fell is None
    assert check_collapse(preds, labels).collapsed is False


def test_loss_trend_windows_and_tolerance():
    t = loss_trend([1.0] * 5 + [0.5] * 5)  # 10 steps: one step at each end
    assert t is not None and (t.window, t.first, t.last, t.steps) == (1, 1.0, 0.5, 10) and t.fell
    t = loss_trend([2.0, 2.0] + [1.0] * 16 + [0.5, 0.5])  # 20 steps: two at each end
    assert t is not None and (t.window, t.first, t.last) == (2, 2.0, 0.5)
    # a fall smaller than the tolerance (2% of the first) is no fall
    t = loss_trend([1.0, 1.0 - 0.5 * LOSS_TOLERANCE])
    assert t is not None and t.window == 1 and not t.fell
    t = loss_trend([1.0, 1.0 - 2 * LOSS_TOLERANCE])
    assert t is not None and t.fell
    assert loss_trend([0.7]) is None and loss_trend([]) is None  # one step has no trend
    # a diverged phase (a loss that is not finite) did not fall, and no NaN reaches the event's JSON
    t = loss_trend([0.7, float("nan")])
    assert t is not None and not t.finite and not t.fell
    labels = [i % 2 for i in range(10)]
    v = check_collapse(labels, labels, losses=[0.7] * 5 + [float("inf")] * 5)
    assert v.collapsed is True and "not finite" in v.reasons[0] and v.loss_fell is False
    assert v.loss_last is None and v.loss_first == 0.7


def test_one_choice_for_nearly_everything_is_collapsed_even_when_accurate():
    # 95% of the answers are choice 0 and the labels are too: accurate, but it always answers 0
    labels = [0] * 95 + [1] * 5
    preds = [0] * 100
    v = check_collapse(preds, labels)
    assert v.accuracy == 0.95 and v.p_value < ALPHA
    assert v.collapsed is True and v.majority_choice == 0 and v.majority_share == 1.0
    assert len(v.reasons) == 1 and "choice 0" in v.reasons[0]
    # just under the threshold: not collapsed by that criterion
    preds = [0] * 89 + [1] * 11
    labels = list(preds)
    assert check_collapse(preds, labels).collapsed is False
    assert MAJORITY == 0.9


def test_unlabelled_items_count_for_the_share_not_the_accuracy():
    v = check_collapse([0, 1, 0, 1], [-1, -1, -1, -1])
    assert v.collapsed is None and v.n == 0 and v.majority_share == 0.5
    v = check_collapse([1, 0, 1, 0, 1], [1, 0, 1, 0, -1])
    assert v.n == 4 and v.correct == 4
