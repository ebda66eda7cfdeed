"""The collapse check: the exact binomial test against scipy, and the verdict's two criteria."""

from __future__ import annotations

from fractions import Fraction

import pytest

from xcost_tui.collapse import ALPHA, MAJORITY, binomial_test, check_collapse

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


def test_chance_accuracy_is_collapsed():
    preds = [i % 2 for i in range(100)]
    labels = [(i // 2) % 2 for i in range(100)]  # half right
    v = check_collapse(preds, labels)
    assert v.collapsed is True and v.accuracy == 0.5 and v.p_value == 1.0 and v.n == 100
    assert "within chance" in v.reasons[0] and len(v.reasons) == 1


def test_a_model_better_than_chance_is_not_collapsed():
    labels = [i % 2 for i in range(100)]
    preds = [y if i < 70 else 1 - y for i, y in enumerate(labels)]  # 70%
    v = check_collapse(preds, labels)
    assert v.collapsed is False and v.reasons == [] and v.p_value < ALPHA


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
