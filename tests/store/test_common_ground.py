"""Rank on common ground (issue 16, item 7): the languages every configuration evaluated, each
one's mean over them (accuracy.common_ground, checked against a numpy reference), the
leaderboard's common_accuracy (the same rule in SQL), the frontier and the report on it."""

from __future__ import annotations

import numpy as np
import pytest
from support.store_fixtures import make_run_dir

from xcost_tui import XCOPA_LANGS
from xcost_tui.accuracy import COMMON_MARK, common_ground
from xcost_tui.report.data import gather
from xcost_tui.report.select import everything
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest
from xcost_tui.verdict.api import common_ground_of, frontier, verdict

# direct on all three languages, Quechua hard; translate-test on the published translations has no
# Quechua: its own average (0.62) is above direct's (0.60) while it is worse on both shared languages
DIRECT = {"it": 0.70, "zh": 0.70, "qu": 0.40}
TT = {"it": 0.62, "zh": 0.62}


def test_the_common_set_and_the_means_match_a_numpy_reference():
    rng = np.random.default_rng(7)
    by_id = {}
    for i in range(6):
        langs = [lang for lang in XCOPA_LANGS if rng.random() < 0.8] or ["it"]
        by_id[f"c{i}"] = {lang: float(rng.uniform(0.4, 0.9)) for lang in langs}
    by_id["c0"]["it"] = 0.5  # every one evaluated it
    for v in by_id.values():
        v.setdefault("it", 0.6)
    cg = common_ground(by_id)
    mask = np.array([[lang in v for lang in XCOPA_LANGS] for v in by_id.values()])
    expected = [lang for lang, every in zip(XCOPA_LANGS, mask.all(axis=0)) if every]
    assert list(cg.langs) == expected and "it" in cg.langs
    for key, v in by_id.items():
        assert cg.means[key] == pytest.approx(np.mean([v[lang] for lang in expected]))
        assert cg.differs(key) == (set(v) != set(expected))


def test_a_configuration_without_quechua_does_not_rank_above_for_that_alone():
    cg = common_ground({"direct": DIRECT, "tt": TT, "none": {"en": 0.9}})
    assert cg.langs == ("it", "zh")
    assert cg.means == {"direct": pytest.approx(0.70), "tt": pytest.approx(0.62), "none": None}
    assert sorted(["tt", "direct", "none"], key=cg.rank_key) == ["direct", "tt", "none"]
    assert cg.mark("direct") == COMMON_MARK and cg.mark("tt") == "" and cg.mark("none") == ""
    assert cg.note("direct") == "evaluated on 3 of 11 languages; ranked on the 2 common ones"
    assert cg.note("tt") is None
    assert "ranked on the 2 XCOPA languages every configuration evaluated (it, zh)" in cg.statement()
    assert COMMON_MARK in cg.statement() and "qu" in cg.statement()
    # nothing in common: no mean, and the statement says so
    empty = common_ground({"a": {"it": 0.6}, "b": {"zh": 0.7}})
    assert empty.langs == () and empty.means == {"a": None, "b": None}
    assert "nothing to rank" in empty.statement()


@pytest.fixture()
def store(tmp_path):
    for seed in (0, 1):
        make_run_dir(tmp_path, run_id=f"direct-s{seed}", seed=seed, langs=list(DIRECT), accuracies=DIRECT)

        def published(spec):
            spec.method = "translate-test"
            spec.translations = "published"

        make_run_dir(
            tmp_path,
            run_id=f"tt-s{seed}",
            seed=seed,
            langs=list(TT),
            accuracies=TT,
            device_hours=0.001,  # cheaper: on the frontier by its own average, not on common ground
            spec_edit=published,
        )
    ingest(tmp_path)
    return tmp_path


def test_the_leaderboard_and_the_frontier_rank_on_common_ground(store):
    with connect_ro(store) as con:
        rows = con.execute(
            "SELECT config_label, avg(avg_accuracy), avg(common_accuracy), any_value(n_common_langs) "
            "FROM leaderboard GROUP BY 1"
        ).fetchall()
    by_label = {lab.split(" · ")[0]: (avg, common, n) for lab, avg, common, n in rows}
    assert by_label["direct"] == (pytest.approx(0.60), pytest.approx(0.70), 2)
    assert by_label["translate-test"] == (pytest.approx(0.62), pytest.approx(0.62), 2)
    v = verdict(store)
    configs = list(v.configurations.values())
    ids = {c.method: c.config_id for c in configs}
    cg = common_ground_of(configs)
    assert cg.langs == ("it", "zh") and cg.means[ids["direct"]] == pytest.approx(0.70)
    # by each one's own average translate-test (cheaper, "more accurate") is alone on the frontier;
    # on common ground direct is more accurate, so both are on it
    assert frontier(configs, "train_device_hours") == [ids["translate-test"]]
    assert frontier(configs, "train_device_hours", accuracy="common") == [ids["translate-test"], ids["direct"]]


def test_the_report_states_the_common_set_and_marks_the_others(store, tmp_path):
    from xcost_tui.report import write_report

    md = (write_report(store, tmp_path / "out").out / "report.md").read_text(encoding="utf-8")
    assert "ranked on the 2 XCOPA languages every configuration evaluated (it, zh)" in md
    assert f"70.0{COMMON_MARK}" in md  # direct's common mean, marked: it evaluated qu too
    d = gather(store, everything())
    assert d.common.langs == ("it", "zh")
    assert set(d.frontier) == set(d.verdict.configurations)
    lang_flags = [f for f in d.flags if f.kind == "languages"]
    assert len(lang_flags) == 1 and lang_flags[0].label.startswith("direct")
    assert "evaluated on 3 of 11 languages; ranked on the 2 common ones" in lang_flags[0].text
