"""SQuAD's metrics and answer selection (tasks/squad.py) against hand-computed values, the row
converter, the span windows of ``job/batching.py``, SNLI's dropped rows and the composite ANLI+.

The ``evaluate`` package's "squad"/"squad_v2" metrics load their scripts from the hub, which the
build machines cannot reach, so the reference here is the official scripts' logic (evaluate-v1.1.py,
evaluate-v2.0.py), ported in tasks/squad.py, and values worked out by hand below."""

from __future__ import annotations

import pytest
from support.hub_mirror import nli_rows, squad_rows

from xcost_tui.errors import DataError
from xcost_tui.tasks import load_split
from xcost_tui.tasks.converters import convert_squad
from xcost_tui.tasks.registry import SPAN, get_task
from xcost_tui.tasks.squad import WindowLogits, best_answer, exact_match, f1, normalize_answer, score

# ---- metrics ------------------------------------------------------------------------------------


def test_normalisation_is_the_official_scripts():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("a cat, an owl and THE dog.") == "cat owl and dog"
    assert normalize_answer("Theatre") == "theatre"  # articles only as whole words
    assert normalize_answer("") == ""


def test_exact_match_and_f1_by_hand():
    assert exact_match("The Eiffel Tower", "eiffel tower.") == 1
    assert exact_match("Eiffel Tower", "Tower") == 0
    # gold {eiffel, tower, paris} vs prediction {tower, in, paris}: 2 common,
    # precision 2/3, recall 2/3, F1 2/3
    assert f1("Eiffel Tower Paris", "the tower in Paris") == pytest.approx(2 / 3)
    # gold {1889}, prediction {in, 1889}: precision 1/2, recall 1, F1 2/3
    assert f1("1889", "in 1889") == pytest.approx(2 / 3)
    assert f1("red", "blue") == 0.0
    # repeated tokens count as often as both sides have them (Counter intersection)
    assert f1("a b b c", "b b b") == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))


def test_no_answer_scoring_is_v2():
    # v2.0: an unanswerable question's only gold answer is the empty string
    assert score([], "") == (1, 1.0)
    assert score([], "the tower") == (0, 0.0)
    assert score(["Eiffel Tower"], "") == (0, 0.0)
    # the best over the golds
    assert score(["Paris", "in Paris, France"], "Paris France") == (0, pytest.approx(max(2 / 3, 0.8)))
    assert score(["Denver Broncos", "Broncos"], "broncos") == (1, 1.0)


# ---- answer selection -----------------------------------------------------------------------------


def _window(start, end, offsets):
    return WindowLogits(start, end, offsets)


def test_the_best_span_over_windows_and_the_null_answer():
    context = "alpha beta gamma delta"
    #          0     6    11    17
    offs = [None, None, (0, 5), (6, 10), (11, 16), (17, 22), None]
    w1 = _window([1.0, 9, 0, 2, 0, 0, 9], [1.0, 9, 0, 0, 3, 0, 9], offs)  # question/special tokens never win
    w2 = _window([0.5, 0, 0, 0, 0, 4, 0], [0.5, 0, 0, 0, 0, 4.5, 0], offs)
    got = best_answer(context, [w1, w2], with_negative=False)
    assert (got.text, got.score, got.is_null) == ("delta", 8.5, False)
    # v2.0: the null score is the lowest CLS start + end over the windows (1.0 here): the span wins
    assert best_answer(context, [w1, w2], with_negative=True).text == "delta"
    high_null = _window([9.0, 0, 0, 0, 0, 0, 0], [9.0, 0, 0, 0, 0, 0, 0], offs)
    null = best_answer(context, [high_null], with_negative=True)
    assert null.text == "" and null.is_null and null.null_score == 18.0
    # v1.1 never answers "" while a valid span exists
    assert best_answer(context, [high_null], with_negative=False).text != ""


def test_spans_that_end_before_they_start_or_run_too_long_are_not_candidates():
    context = "one two three"
    offs = [None, (0, 3), (4, 7), (8, 13)]
    w = _window([0.0, 0, 0, 5], [0.0, 6, 0, 0], offs)  # the best start (token 3) after the best end (token 1)
    got = best_answer(context, [w], with_negative=False)
    assert (got.text, got.score) == ("one", 6.0)  # (1, 1) scores 0 + 6; (3, 1) is no span; (3, 3) 5 + 0
    long = _window([0.0, 3, 0, 0], [0.0, 0, 0, 3], offs)  # "one two three" (3 tokens) scores 6
    assert best_answer(context, [long], with_negative=False).text == "one two three"
    assert best_answer(context, [long], with_negative=False, max_answer_len=2).text == "one"


# ---- rows and windows -------------------------------------------------------------------------------


def test_the_converter_checks_that_answers_are_spans():
    row = squad_rows(1, long_every=99)[0]
    ex = convert_squad(row)
    assert ex.answerable and ex.context[ex.answer_starts[0] :].startswith(ex.answers[0])
    bad = {**row, "answers": {"text": ["nowhere"], "answer_start": [0]}}
    with pytest.raises(ValueError, match="not the context's span"):
        convert_squad(bad)
    assert not convert_squad({**row, "answers": {"text": [], "answer_start": []}}).answerable


def test_registry_entries():
    for name, repo, negative in (("squad", "rajpurkar/squad", False), ("squad_v2", "rajpurkar/squad_v2", True)):
        t = get_task(name)
        assert (t.head, t.hub_id, t.with_negative, t.metric, t.splits) == (
            SPAN,
            repo,
            negative,
            "exact_match",
            ("train", "validation"),
        )
    plus = get_task("anli_plus")
    assert plus.parts == {"train": ("anli", "mnli", "snli"), "validation": ("anli",)} and plus.num_labels == 3


def test_windows_label_the_answer_tokens_or_cls():
    from xcost_tui.job.batching import encode
    from xcost_tui.job.model import train_tiny_tokenizer
    from xcost_tui.tasks import all_texts

    exs = [convert_squad(r, pos=i) for i, r in enumerate(squad_rows(9, v2=True))]
    tok = train_tiny_tokenizer(all_texts(exs), 400)
    enc = encode(exs, tok, 64, offsets=True)
    assert len(enc) > len(exs)  # the long contexts (every fourth) take several windows
    assert {e.source for e in enc} == set(range(len(exs)))
    for e in enc:
        ex, (s, t) = exs[e.source], e.span
        assert len(e.seqs[0]) <= 64
        if not ex.answerable:
            assert (s, t) == (0, 0)
        elif (s, t) != (0, 0):  # a window holding the answer: its tokens cover exactly the answer's words
            text = ex.context[e.offsets[s][0] : e.offsets[t][1]]
            assert normalize_answer(text) == normalize_answer(ex.answers[0])
    for i, ex in enumerate(exs):  # every answerable question has a window that holds its answer
        if ex.answerable:
            assert any(e.span != (0, 0) for e in enc if e.source == i)


# ---- SNLI and ANLI+ through the hub stand-in ----------------------------------------------------------


@pytest.fixture
def hub(tmp_path, monkeypatch):
    from support.hub_mirror import write_repo

    from xcost_tui.tasks import HUB_MIRROR_ENV
    from xcost_tui.tasks.loading import clear_caches

    pytest.importorskip("datasets")
    write_repo(tmp_path, "stanfordnlp/snli", {"plain_text": {"train": nli_rows(10, unlabelled_every=4)}})
    write_repo(tmp_path, "nyu-mll/glue", {"mnli": {"train": nli_rows(6), "validation_matched": nli_rows(3)}})
    anli = {f"{s}_r{r}": nli_rows(4, id_field="uid", start=10 * r) for r in (1, 2, 3) for s in ("train", "dev")}
    write_repo(tmp_path, "facebook/anli", {"plain_text": anli})
    monkeypatch.setenv(HUB_MIRROR_ENV, str(tmp_path))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    clear_caches()
    yield tmp_path
    clear_caches()


def test_snli_drops_rows_without_a_gold_label(hub):
    got = load_split("snli", "train")
    assert len(got.examples) == 7 and all(e.label >= 0 for e in got.examples)  # rows 0, 4, 8: label -1
    assert (got.source.rows, got.source.used) == (10, 7)


def test_anli_plus_concatenates_its_parts_and_names_each_source(hub):
    got = load_split("anli_plus", "train", role="train")
    assert len(got.examples) == 12 + 6 + 7
    assert [s.task for s in got.sources] == ["anli", "mnli", "snli"]
    assert [s.used for s in got.sources] == [12, 6, 7]
    assert got.examples[0].idx == "anli:u10" and got.examples[-1].idx.startswith("snli:")
    assert len({e.idx for e in got.examples}) == len(got.examples)
    val = load_split("anli_plus", "validation")
    assert [s.task for s in val.sources] == ["anli"] and len(val.examples) == 12
    sub = load_split("anli_plus", "train", limit=10, seed=3)
    assert len(sub.examples) == 10 and sum(s.used for s in sub.sources) == 10
    assert sub.examples == load_split("anli_plus", "train", limit=10, seed=3).examples
    with pytest.raises(DataError, match="no split 'test'"):
        load_split("anli_plus", "test")


def test_a_span_intermediate_task_reads_its_validation_split_too():
    from xcost_tui.spec import RunSpec
    from xcost_tui.tasks.needs import INTERMEDIATE_EVAL, needs_of

    spec = RunSpec(method="intermediate", model="tiny-xlmr", intermediate=["squad_v2", "mnli"], langs=["it"])
    needs = [(n.task, n.split, n.role) for n in needs_of(spec)]
    assert ("squad_v2", "train", "train") in needs and ("squad_v2", "validation", INTERMEDIATE_EVAL) in needs
    assert ("mnli", "validation", INTERMEDIATE_EVAL) not in needs  # only span tasks are validated (EM/F1)
    reused = RunSpec(method="intermediate", model="tiny-xlmr", intermediate=["squad_v2"], init_from="/x", langs=["it"])
    assert not [n for n in needs_of(reused) if n.role == INTERMEDIATE_EVAL]  # a saved encoder: not trained here
