"""The verdict follows the design (issue 16): runs cluster by their random factor, two
configurations pair only through a shared training seed, any configuration can be the baseline,
words come from Holm-adjusted tests, and equivalence stands beside significance."""

from __future__ import annotations

import numpy as np
import pytest
from support.store_fixtures import make_run_dir

from xcost_tui.stats import significance
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest
from xcost_tui.verdict.api import ComparisonRow, delta_sensitivity, finding, sensitivity_line, verdict

LANGS = ["it", "zh"]


def _items(rng: np.random.Generator, p: float, n: int = 100) -> list[bool]:
    return [bool(x) for x in rng.random(n) < p]


@pytest.fixture(scope="module")
def methods(tmp_path_factory):
    """demo-methods' shape with shot_seeds = [0, 1, 2]: direct over 3 seeds, icl over 3 shot
    draws (its training seed is 0 throughout: it trains nothing), few-shot over 3 seeds × 3 draws."""
    root = tmp_path_factory.mktemp("methods")
    rng = np.random.default_rng(7)
    for seed in range(3):
        make_run_dir(
            root, seed=seed, langs=LANGS, correct_items={lang: _items(rng, 0.6 + 0.02 * seed) for lang in LANGS}
        )
        for draw in range(3):
            make_run_dir(
                root,
                method="few-shot",
                k=16,
                seed=seed,
                shot_seed=draw,
                langs=LANGS,
                correct_items={lang: _items(rng, 0.62) for lang in LANGS},
            )
    for draw in range(3):
        make_run_dir(
            root,
            method="icl",
            model="tiny-gpt2",
            k=4,
            shot_seed=draw,
            langs=LANGS,
            correct_items={lang: _items(rng, 0.55) for lang in LANGS},
        )
    ingest(root)
    return root


def _ids(store) -> dict[str, str]:
    with connect_ro(store) as con:
        return {
            label.split(" ")[0]: cid
            for cid, label in con.execute("SELECT config_id, label FROM configurations").fetchall()
        }


def test_icl_against_direct_uses_every_direct_seed(methods):
    v = verdict(methods)
    ids = _ids(methods)
    icl = [c for c in v.comparisons if c.config_id == ids["icl"]]
    assert icl, "an icl configuration gets a default baseline: the direct configuration on the same items"
    assert {c.baseline_id for c in icl} == {ids["direct"]}
    for c in icl:
        assert not c.paired  # its seed means nothing: independent arms, items paired
        assert (c.n_a, c.n_b) == (3, 3)  # 3 shot draws against all 3 direct seeds


def test_icl_as_the_baseline_gives_comparisons(methods):
    ids = _ids(methods)
    v = verdict(methods, baseline=ids["icl"])
    against = {c.config_id for c in v.comparisons}
    assert against == {ids["direct"], ids["few-shot"]}
    assert all(not c.paired and c.n_b == 3 for c in v.comparisons)


def test_shot_draws_are_nested_in_their_seed(methods):
    """few-shot's 9 runs are 3 seeds × 3 draws: 3 seed pairs with direct, not 9 independent pairs."""
    ids = _ids(methods)
    rows = [c for c in verdict(methods).comparisons if c.config_id == ids["few-shot"]]
    assert rows and all(c.paired and c.n_pairs == 3 and (c.n_a, c.n_b) == (3, 3) for c in rows)
    cfg = verdict(methods).configurations[ids["few-shot"]]
    assert cfg.n_clusters == 3 and cfg.covers == "seeds, shot draws and items"
    assert verdict(methods).configurations[ids["icl"]].covers == "shot draws and items"


def test_the_headline_is_holm_adjusted_over_the_configurations(methods):
    v = verdict(methods)
    avg = sorted((c for c in v.comparisons if c.lang == "avg"), key=lambda c: c.config_id)
    assert len(avg) == 2
    assert [c.p_holm for c in avg] == pytest.approx(significance.holm([c.p_value for c in avg]))
    assert all(c.holm_family == "configurations" and c.holm_n == 2 for c in avg)
    assert "Holm over 2 configurations compared with direct" in avg[0].family
    per_lang = [c for c in v.comparisons if c.lang in LANGS]
    assert all(c.holm_family == "languages" and c.holm_n == 2 for c in per_lang)


def test_the_view_and_the_api_say_the_same_words(methods):
    v = verdict(methods)
    with connect_ro(methods) as con:
        sql = {
            (a, lang): o for a, lang, o in con.execute("SELECT config_id, lang, outcome FROM comparisons").fetchall()
        }
    assert sql == {(c.config_id, c.lang): c.outcome for c in v.comparisons}


def _row(**kw) -> ComparisonRow:
    base = dict(
        config_id="a",
        label="A",
        baseline_id="b",
        baseline_label="B",
        lang="it",
        n_pairs=3,
        n_items=500,
        diff=-0.12,
        low=-0.25,
        high=-0.01,
        p_value=0.04,
        p_holm=0.18,
        mcnemar_p=None,
        equiv_low=-0.22,
        equiv_high=-0.02,
        delta=0.02,
        p_equiv=0.9,
        p_equiv_holm=0.9,
        holm_family="languages",
        holm_n=11,
    )
    base.update(kw)
    return ComparisonRow(**base)  # type: ignore[arg-type]


def test_words_come_from_the_adjusted_test():
    """The new user's case: −12.0 [−25.0, −1.0] with p = 0.04 but Holm p = 0.18 is not "worse"."""
    row = _row()
    assert row.significant is False and row.outcome == "not distinguishable"
    assert "worse" not in finding(row) and "Holm p = 0.18" in finding(row)
    assert "out of reach" in finding(row)  # a 90% half-width of 10 points cannot show ±2
    assert _row(p_holm=0.01).outcome == "worse"


def test_equivalence_beside_significance():
    tight = dict(diff=0.01, low=0.004, high=0.016, equiv_low=0.005, equiv_high=0.015)
    assert _row(**tight, p_holm=0.001, p_equiv_holm=0.001).outcome == "better but within ±δ"
    assert _row(**tight, p_holm=0.3, p_equiv_holm=0.001).outcome == "similar"
    assert _row(**tight, p_holm=0.3, p_equiv_holm=0.3).outcome == "not distinguishable"
    assert _row(**tight).equivalence_reachable and not _row().equivalence_reachable
    assert "within ±2 points" in finding(_row(**tight, p_holm=0.001, p_equiv_holm=0.001))


@pytest.mark.parametrize("delta", [0.01, 0.03, 0.05])
def test_a_stored_margin_reads_as_a_recomputed_one(methods, delta):
    """The Compare screen's δ picker reads the stored equivalence tests at its margins; the words
    are those of a full recomputation at that margin."""
    from xcost_tui.store.verdict_tables import compare_to

    stored = verdict(methods, delta=delta)
    with connect_ro(methods) as con:
        again = compare_to(con, None, delta)
    want = {(r["config_id"], r["lang"]): (r["p_equiv"], r["p_equiv_holm"]) for r in again}
    got = {(c.config_id, c.lang): (c.p_equiv, c.p_equiv_holm) for c in stored.comparisons}
    assert got.keys() == want.keys()
    for key, (p, holm) in got.items():
        assert p == pytest.approx(want[key][0]), key
        assert (holm is None) == (want[key][1] is None) and (holm is None or holm == pytest.approx(want[key][1])), key
    assert all(c.delta == delta for c in stored.comparisons)


def test_another_delta_recomputes_the_equivalence(methods):
    wide = verdict(methods, delta=0.5)
    assert all(c.delta == 0.5 for c in wide.comparisons)
    assert all(c.similar for c in wide.comparisons if c.lang in LANGS)  # every difference is within ±50 points


def test_the_delta_sensitivity_line_counts_the_headline_words(methods):
    v = verdict(methods)
    at = delta_sensitivity(v)
    assert sorted(at) == [0.01, 0.02, 0.03, 0.05]
    assert at[0.02] == {w: sum(c.outcome == w for c in v.averaged()) for w in {c.outcome for c in v.averaged()}}
    assert all(sum(counts.values()) == len(v.averaged()) for counts in at.values())
    # a wider margin never makes fewer comparisons similar
    similar = [sum(n for w, n in at[d].items() if "within" in w or w == "similar") for d in sorted(at)]
    assert similar == sorted(similar)
    assert sensitivity_line(at).startswith("±1 point: ")
