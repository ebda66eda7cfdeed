"""The average accuracy's forms: one definition (xcost_tui/accuracy.py) in Python and in the store's SQL."""

from __future__ import annotations

import pytest
from support.store_fixtures import make_run_dir

from xcost_tui import XCOPA_LANGS
from xcost_tui.accuracy import (
    CHANCE,
    FORM_COLUMNS,
    PRETRAINING_LANGS,
    average_accuracy,
    average_forms,
    model_family,
    seen_langs,
)
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest

ACC = {lang: 0.55 + 0.02 * i for i, lang in enumerate(XCOPA_LANGS)}


@pytest.mark.parametrize(
    "model,family",
    [
        ("xlm-roberta-large", "xlm-roberta"),
        ("FacebookAI/xlm-roberta-base", "xlm-roberta"),
        ("/models/xlm-roberta-large/", "xlm-roberta"),
        ("XLM-RoBERTa-Large", "xlm-roberta"),
        ("bert-base-multilingual-cased", "mbert-cased"),
        ("google-bert/bert-base-multilingual-uncased", "mbert-uncased"),
        ("tiny-xlmr", None),
        ("roberta-large", None),
        ("", None),
        (None, None),
    ],
)
def test_model_family(model, family):
    assert model_family(model) == family


def test_xlmr_saw_every_xcopa_language_but_ht_and_qu():
    assert set(XCOPA_LANGS) - set(PRETRAINING_LANGS["xlm-roberta"]) == {"ht", "qu"}
    assert set(XCOPA_LANGS) - set(PRETRAINING_LANGS["mbert-cased"]) == {"qu"}
    assert seen_langs("tiny-xlmr") is None


def test_the_four_forms_by_hand():
    by_lang = {**ACC, "en": 0.9}
    mean = sum(ACC.values()) / 11
    assert average_accuracy(by_lang) == pytest.approx(mean)  # English never counts
    assert average_accuracy(by_lang, "all") == pytest.approx(mean)
    seen = [ACC[lang] for lang in XCOPA_LANGS if lang not in ("ht", "qu")]
    assert average_accuracy(by_lang, "published", "xlm-roberta-large") == pytest.approx((sum(seen) + 2 * CHANCE) / 11)
    assert average_accuracy(by_lang, "seen", "xlm-roberta-large") == pytest.approx(sum(seen) / 9)
    # an unknown family: no published or seen form
    assert average_accuracy(by_lang, "published", "tiny-xlmr") is None
    assert average_accuracy(by_lang, "seen", "tiny-xlmr") is None
    # a subset of languages: "all" needs all 11; published needs every seen one, not ht/qu
    part = {lang: a for lang, a in ACC.items() if lang not in ("ht", "qu")}
    assert average_accuracy(part, "all") is None
    assert average_accuracy(part, "published", "xlm-roberta-base") == pytest.approx((sum(seen) + 1.0) / 11)
    no_it = {lang: a for lang, a in ACC.items() if lang != "it"}
    assert average_accuracy(no_it, "published", "xlm-roberta-base") is None
    assert average_accuracy(no_it, "seen", "xlm-roberta-base") == pytest.approx(
        sum(ACC[lang] for lang in PRETRAINING_LANGS["xlm-roberta"] if lang != "it") / 8
    )
    assert average_accuracy({}, "seen", "xlm-roberta-base") is None
    with pytest.raises(ValueError, match="unknown average form"):
        average_accuracy(ACC, "mean")


CASES = {
    "xlmr-all": ("xlm-roberta-large", list(XCOPA_LANGS)),
    "xlmr-no-qu": ("xlm-roberta-base", [lang for lang in XCOPA_LANGS if lang != "qu"]),
    "xlmr-no-it": ("xlm-roberta-base", [lang for lang in XCOPA_LANGS if lang != "it"]),
    "mbert-three": ("bert-base-multilingual-cased", ["it", "ht", "qu"]),
    "mbert-uncased": ("bert-base-multilingual-uncased", list(XCOPA_LANGS)),
    "tiny": ("tiny-xlmr", ["it", "zh", "qu"]),
    "hub-path": ("FacebookAI/xlm-roberta-large", ["ht", "qu"]),
}


def test_the_store_computes_the_same_forms_as_python(tmp_path):
    for run_id, (model, langs) in CASES.items():
        make_run_dir(tmp_path, run_id=run_id, model=model, langs=langs, accuracies={**ACC, "en": 0.8}, n_eval=1000)
    ingest(tmp_path)
    cols = ["model_family", *FORM_COLUMNS.values()]
    with connect_ro(tmp_path) as con:
        rows = {
            r[0]: dict(zip(cols, r[1:]))
            for r in con.execute(f"SELECT run_id, {', '.join(cols)} FROM leaderboard").fetchall()
        }
        accs = {}
        for run_id, lang, acc in con.execute("SELECT run_id, lang, accuracy FROM evals").fetchall():
            accs.setdefault(run_id, {})[lang] = acc
    for run_id, (model, _langs) in CASES.items():
        expected = average_forms(accs[run_id], model)
        got = rows[run_id]
        assert got["model_family"] == model_family(model), run_id
        for col, value in expected.items():
            if value is None:
                assert got[col] is None, (run_id, col, got[col])
            else:
                assert got[col] == pytest.approx(value, abs=1e-12), (run_id, col)
    assert rows["xlmr-all"]["avg_accuracy_published"] is not None
    assert rows["hub-path"]["avg_accuracy_published"] is None  # no seen language evaluated
    assert rows["hub-path"]["avg_accuracy_seen"] is None
    assert rows["tiny"]["avg_accuracy"] is not None and rows["tiny"]["avg_accuracy_seen"] is None


def test_the_fold_gives_the_same_forms_as_the_store(tmp_path):
    from xcost_tui.rundir import RunFold, parse_event, read_jsonl

    run = make_run_dir(tmp_path, run_id="r", model="xlm-roberta-large", accuracies={**ACC, "en": 0.8}, n_eval=1000)
    fold = RunFold()
    for line in read_jsonl(run / "events.jsonl"):
        fold.apply(parse_event(line))
    forms = fold.state.average_forms()
    ingest(tmp_path)
    with connect_ro(tmp_path) as con:
        row = con.execute(f"SELECT {', '.join(forms)} FROM leaderboard").fetchone()
    assert forms["avg_accuracy"] == fold.state.avg_accuracy
    for (col, value), stored in zip(forms.items(), row):
        assert stored == pytest.approx(value, abs=1e-12), col
