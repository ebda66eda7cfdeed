"""translate-test's MT quality (issue 19): chrF and BLEU of the English text the classifier read,
per language, against the original English COPA items of the same idx (and, for an MT model,
against XCOPA's published translations), recorded in the translate:<lang> phase's info. The job's
figures are recomputed here from the files with sacrebleu's own corpus_chrf / corpus_bleu; an
English-only classifier (tiny-roberta-en) runs translate-test end to end; Quechua is NULL with a
reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu
from support.injob import ends, run_in_process

BASE = {
    "method": "translate-test",
    "langs": ["it", "qu"],
    "max_eval_examples": 6,
    "eval_batch_size": 4,
    "hparams": {"max_steps": 1, "batch_size": 8, "max_examples": 16, "max_seq_len": 48},
    "measure": {"inference_bench_examples": 2, "inference_warmup": 1, "curve_points": 0},
}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _segments(rows: list[dict]) -> dict[int, list[str]]:
    return {int(r["idx"]): [r["premise"], r["choice1"], r["choice2"]] for r in rows}


def _recompute(hyp: dict[int, list[str]], ref: dict[int, list[str]]) -> tuple[float, float, int]:
    hyps = [t for i in hyp for t in hyp[i]]
    refs = [t for i in hyp for t in ref[i]]
    return sacrebleu.corpus_chrf(hyps, [refs]).score, sacrebleu.corpus_bleu(hyps, [refs]).score, len(hyp)


def _run(tmp_path_factory, data_dir, name: str, **changes) -> tuple[Path, list[dict]]:
    run_dir = tmp_path_factory.mktemp(name) / f"tt-{name}"  # run ids differ (the store keys on them)
    events = run_in_process(run_dir, {**BASE, "data_dir": str(data_dir), **changes})
    return run_dir, events


@pytest.fixture(scope="module")
def published(tmp_path_factory, data_dir):
    return _run(tmp_path_factory, data_dir, "pub", model="tiny-roberta-en", translations="published")


@pytest.fixture(scope="module")
def marian(tmp_path_factory, data_dir):
    return _run(tmp_path_factory, data_dir, "mt", model="tiny-xlmr", translations="tiny-marian", mt_max_new_tokens=4)


def _quality(events, phase: str) -> dict[str, dict]:
    return {q["reference"]: q for q in ends(events)[phase]["info"]["mt_quality"]}


def test_the_english_only_classifier_runs_translate_test(published):
    run_dir, events = published
    assert "inference-bench" in ends(events)  # every phase ran
    loaded = next(e for e in events if e["type"] == "model_loaded")
    assert loaded["model"] == "tiny-roberta-en" and loaded["source"] == "built-in"
    accs = {e["lang"]: e["accuracy"] for e in events if e["type"] == "eval_result"}
    assert accs["it"] is not None and accs["qu"] is None  # Quechua: no published translation


def test_published_translations_scored_against_copa_as_sacrebleu_scores_them(published, data_dir):
    run_dir, events = published
    q = _quality(events, "translate:it")
    assert set(q) == {"copa"}  # no second reference for the published translations themselves
    hyp = _segments([r for r in _rows(run_dir / "translations.jsonl") if r["lang"] == "it"])
    copa = {
        int(r["idx"]): [r["premise"], r["choice1"], r["choice2"]] for r in _rows(Path(data_dir) / "copa/test.jsonl")
    }
    chrf, bleu, n = _recompute(hyp, copa)
    c = q["copa"]
    assert (c["items"], c["segments"]) == (n, 3 * n) == (6, 18)
    assert c["chrf"] == pytest.approx(chrf, abs=1e-9) and c["bleu"] == pytest.approx(bleu, abs=1e-9)
    # Google Translate's English of Italian is close to COPA's original, far from chance
    assert 40 < c["chrf"] < 100 and c["bleu"] > 10
    assert c["chrf_signature"].startswith("nrefs:1|") and f"version:{sacrebleu.__version__}" in c["bleu_signature"]
    assert c["translator"] == "published" and c["split"] == "test" and c["missing"] is None


def test_quechua_has_no_score_and_says_why(published):
    _, events = published
    (q,) = ends(events)["translate:qu"]["info"]["mt_quality"]
    assert q["chrf"] is None and q["bleu"] is None and q["items"] is None
    assert "XCOPA ships none for Quechua" in q["missing"]


def test_an_mt_model_is_scored_against_copa_and_the_published_translations(marian, data_dir):
    run_dir, events = marian
    assert "inference-bench" in ends(events)
    q = _quality(events, "translate:it")
    assert set(q) == {"copa", "published"}
    hyp = _segments([r for r in _rows(run_dir / "translations.jsonl") if r["lang"] == "it"])
    refs = {
        "copa": Path(data_dir) / "copa/test.jsonl",
        "published": Path(data_dir) / "xcopa-translate-test-en/it/test.jsonl",
    }
    for kind, path in refs.items():
        ref = {int(r["idx"]): [r["premise"], r["choice1"], r["choice2"]] for r in _rows(path)}
        chrf, bleu, n = _recompute(hyp, ref)
        assert q[kind]["items"] == n == 6
        assert q[kind]["chrf"] == pytest.approx(chrf, abs=1e-9) and q[kind]["bleu"] == pytest.approx(bleu, abs=1e-9)
        assert q[kind]["chrf"] < 40  # tiny-marian's random weights: garbage, and the score says so
    qu = _quality(events, "translate:qu")
    assert qu["copa"]["chrf"] is not None  # Quechua translated by the MT model: scored against COPA
    assert qu["published"]["chrf"] is None and "no published English translation of qu" in qu["published"]["missing"]
    sources = [e for e in events if e["type"] == "data_loaded" and e.get("role") == "mt-reference"]
    assert {(s["task"], s["lang"]) for s in sources} == {("copa", "en"), ("xcopa-translate-test", "it")}


def test_the_scores_land_in_the_store(published, marian, tmp_path):
    """Ingested, both runs' scores are rows of mt_quality, and lang_accuracy shows chrF and BLEU
    beside the translate-test accuracy."""
    from xcost_tui.store import db
    from xcost_tui.store.ingest import ingest

    ingest(tmp_path / "store", [published[0], marian[0]])
    with db.connect_ro(tmp_path / "store") as con:
        rows = con.sql(
            "SELECT translator, lang, reference, chrf, bleu, missing FROM mt_quality ORDER BY translator, lang, reference"
        ).fetchall()
        la = con.sql("SELECT lang, accuracy, mt_chrf, mt_bleu FROM lang_accuracy WHERE lang = 'it'").fetchall()
    got = {(t, lang, ref): (chrf, bleu, missing) for t, lang, ref, chrf, bleu, missing in rows}
    assert set(got) == {
        ("published", "it", "copa"),
        ("published", "qu", "copa"),
        ("tiny-marian", "it", "copa"),
        ("tiny-marian", "it", "published"),
        ("tiny-marian", "qu", "copa"),
        ("tiny-marian", "qu", "published"),
    }
    pub_it = _quality(published[1], "translate:it")["copa"]
    assert got[("published", "it", "copa")][:2] == (pub_it["chrf"], pub_it["bleu"])
    assert got[("published", "qu", "copa")][0] is None and got[("published", "qu", "copa")][2]
    assert len(la) == 2 and all(acc is not None and chrf is not None and bleu is not None for _, acc, chrf, bleu in la)
