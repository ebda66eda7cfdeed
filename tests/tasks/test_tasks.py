"""The task registry and loaders: offline copies, hub-format converters and error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xcost_tui import XCOPA_LANGS
from xcost_tui.errors import DataError, UnknownTaskError
from xcost_tui.tasks import (
    CLASSIFICATION,
    MULTIPLE_CHOICE,
    TASK_NAMES,
    MCExample,
    PairExample,
    all_texts,
    copa_context,
    get_task,
    load_examples,
)
from xcost_tui.tasks.registry import SPAN

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("XCOST_DATA_DIR") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="module")
def data() -> Path:
    # Not a skip: without the offline copies these tests would prove nothing.
    assert (DATA / "xcopa").is_dir(), f"offline data not found at {DATA}; set XCOST_DATA_DIR"
    return DATA


# ---- registry ------------------------------------------------------------------------------------


def test_registry_has_required_tasks():
    required = {
        "copa",
        "xcopa",
        "siqa",
        "hellaswag",
        "commonsenseqa",
        "cosmosqa",
        "mnli",
        "anli",
        "qqp",
        "sst2",
        "arc_challenge",
        "rte",
    }
    assert required <= set(TASK_NAMES)
    for name in TASK_NAMES:
        t = get_task(name)
        if t.head == SPAN:  # SQuAD: exact match (the phase's accuracy) and F1 (docs/tasks.md)
            assert t.metric == "exact_match" and t.num_labels is None
            continue
        assert t.metric == "accuracy"
        assert t.head in (MULTIPLE_CHOICE, CLASSIFICATION)
        assert (t.num_labels is None) == (t.head == MULTIPLE_CHOICE)
        assert set(t.hub_configs) == set(t.languages)
    assert get_task("xcopa").languages == XCOPA_LANGS
    assert get_task("xcopa").hub_config("sw") == "sw"
    assert get_task("mnli").hub_splits["validation"] == "validation_matched"
    assert get_task("copa").hub_id == "aps/super_glue" and get_task("copa").hub_config("en") == "copa"
    offline = {n for n in TASK_NAMES if get_task(n).has_offline_copy}
    assert offline == {"copa", "xcopa", "arc_challenge", "rte", "xcopa-translate-test"}


def test_unknown_task_suggests_closest():
    with pytest.raises(UnknownTaskError) as e:
        get_task("hellaswg")
    msg = str(e.value)
    assert "'hellaswag'" in msg and "did you mean" in msg
    assert all(name in msg for name in TASK_NAMES)
    with pytest.raises(UnknownTaskError):
        load_examples("nope", "train", data_dir=DATA)


# ---- offline copies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task,split,n",
    [
        ("copa", "train", 400),
        ("copa", "validation", 100),
        ("copa", "test", 500),
        ("arc_challenge", "train", 1119),
        ("arc_challenge", "validation", 299),
        ("arc_challenge", "test", 1172),
        ("rte", "train", 1000),
        ("rte", "validation", 277),
    ],
)
def test_local_row_counts(data, task, split, n):
    exs = load_examples(task, split, data_dir=data)
    assert len(exs) == n
    kind = PairExample if get_task(task).head == CLASSIFICATION else MCExample
    assert all(isinstance(e, kind) and e.lang == "en" for e in exs)


@pytest.mark.parametrize("lang", XCOPA_LANGS)
def test_xcopa_every_language(data, lang):
    val = load_examples("xcopa", "validation", data_dir=data, lang=lang)
    test = load_examples("xcopa", "test", data_dir=data, lang=lang)
    assert (len(val), len(test)) == (100, 500)
    assert all(e.lang == lang and len(e.choices) == 2 and e.label in (0, 1) for e in val + test)
    # the question words are the same English words for every language
    assert all(e.context.endswith(("What was the cause?", "What happened as a result?")) for e in val)


def test_val_alias_and_limit(data):
    assert load_examples("xcopa", "val", data_dir=data, lang="et") == load_examples(
        "xcopa", "validation", data_dir=data, lang="et"
    )
    first = load_examples("copa", "train", data_dir=str(data), limit=5)
    assert first == load_examples("copa", "train", data_dir=data)[:5]
    assert load_examples("copa", "train", data_dir=data, limit=0) == []


def test_copa_prompt_form(data):
    ex = load_examples("copa", "train", data_dir=data, limit=1)[0]
    assert ex == MCExample(
        0,
        "My body cast a shadow over the grass. What was the cause?",
        ("The sun was rising.", "The grass was cut."),
        0,
        "en",
    )
    assert copa_context("I fell.", "effect") == "I fell. What happened as a result?"
    with pytest.raises(ValueError):
        copa_context("I fell.", "why")


def test_copa_test_is_unlabelled(data):
    assert {e.label for e in load_examples("copa", "test", data_dir=data)} == {-1}


def test_arc_variable_choices_and_keys(data):
    exs = load_examples("arc_challenge", "train", data_dir=data)
    assert {len(e.choices) for e in exs} >= {3, 4, 5}
    assert all(0 <= e.label < len(e.choices) for e in exs)
    conv = get_task("arc_challenge").converter
    digit = {
        "id": "d",
        "question": "Q?",
        "choices": {"text": ["a", "b", "c"], "label": ["1", "2", "3"]},
        "answerKey": "3",
    }
    letter = {"id": "l", "question": "Q?", "choices": {"text": list("abcde"), "label": list("ABCDE")}, "answerKey": "B"}
    assert conv(digit) == MCExample("d", "Q?", ("a", "b", "c"), 2)
    assert conv(letter) == MCExample("l", "Q?", tuple("abcde"), 1)
    with pytest.raises(ValueError, match="answerKey"):
        conv({**letter, "answerKey": "F"})


def test_xcopa_needs_a_language(data):
    with pytest.raises(DataError, match="needs a language"):
        load_examples("xcopa", "test", data_dir=data)
    with pytest.raises(DataError, match="'zh'"):
        load_examples("xcopa", "test", data_dir=data, lang="zhh")
    with pytest.raises(DataError, match="no language"):
        load_examples("copa", "train", data_dir=data, lang="et")


def test_unknown_or_missing_split(data):
    with pytest.raises(DataError, match="no split 'dev2'"):
        load_examples("copa", "dev2", data_dir=data)
    with pytest.raises(DataError, match="no split 'train'"):
        load_examples("xcopa", "train", data_dir=data, lang="et")
    with pytest.raises(DataError, match="no offline 'test' split"):
        load_examples("rte", "test", data_dir=data)


def test_hub_only_task_from_data_dir(data):
    with pytest.raises(DataError) as e:
        load_examples("siqa", "train", data_dir=data)
    assert "no offline copy" in str(e.value) and "lighteval/siqa" in str(e.value)


def test_every_hub_id_is_namespaced_and_siqa_is_script_free():
    # allenai/social_i_qa holds only a loading script, which datasets >= 4 refuses: 15 of the 51
    # runs of xcopa-stilts read it. lighteval/siqa is its script-free copy (docs/tasks.md).
    assert get_task("siqa").hub_id == "lighteval/siqa"
    for name in TASK_NAMES:
        org, _, repo = get_task(name).hub_id.partition("/")
        assert org and repo, f"{name}: hub id {get_task(name).hub_id!r} has no namespace"


def test_limit_with_a_seed_draws_a_seeded_subset(data):
    first = load_examples("rte", "train", data_dir=data, limit=50)
    a = load_examples("rte", "train", data_dir=data, limit=50, seed=0)
    assert a == load_examples("rte", "train", data_dir=data, limit=50, seed=0)  # the same seed: the same rows
    assert a != first and a != load_examples("rte", "train", data_dir=data, limit=50, seed=1)
    everything = load_examples("rte", "train", data_dir=data)
    assert all(e in everything for e in a) and len(set(e.idx for e in a)) == 50
    positions = [everything.index(e) for e in a]
    assert positions == sorted(positions) and positions[-1] > 100  # file order kept, drawn from the whole split
    assert load_examples("rte", "train", data_dir=data, limit=5000, seed=0) == everything


def test_all_texts():
    exs = [MCExample(0, "c", ("x", "y"), 0), PairExample(1, "a", "b", 1), PairExample(2, "s", None, 0)]
    assert all_texts(exs) == ["c", "x", "y", "a", "b", "s"]


# ---- converters of the hub-only tasks, on rows in the hub's format --------------------------------------


def _conv(task):
    return get_task(task).converter


def test_siqa_converter():
    row = {
        "context": "Tracy didn't go home.",
        "question": "What will Tracy want to do?",
        "answerA": "stay out",
        "answerB": "go home",
        "answerC": "sleep",
        "label": "1",
    }
    assert _conv("siqa")(row) == MCExample(
        0, "Tracy didn't go home. What will Tracy want to do?", ("stay out", "go home", "sleep"), 0
    )
    assert _conv("siqa")({**row, "label": "3"}, pos=7) == MCExample(
        7, row["context"] + " " + row["question"], ("stay out", "go home", "sleep"), 2
    )
    with pytest.raises(ValueError, match="out of range"):
        _conv("siqa")({**row, "label": "4"})


def test_hellaswag_converter():
    row = {"ind": 4, "ctx": "A man is sitting on a roof. he", "endings": ["a", "b", "c", "d"], "label": "3"}
    assert _conv("hellaswag")(row) == MCExample(4, row["ctx"], ("a", "b", "c", "d"), 3)
    assert _conv("hellaswag")({**row, "label": ""}).label == -1  # the hub's test split


def test_commonsenseqa_converter():
    row = {
        "id": "q1",
        "question": "Where is a fox?",
        "question_concept": "fox",
        "choices": {"label": ["A", "B", "C", "D", "E"], "text": ["den", "sea", "sky", "car", "pot"]},
        "answerKey": "A",
    }
    assert _conv("commonsenseqa")(row) == MCExample("q1", "Where is a fox?", ("den", "sea", "sky", "car", "pot"), 0)
    assert _conv("commonsenseqa")({**row, "answerKey": ""}).label == -1


def test_cosmosqa_converter():
    row = {
        "id": "c1",
        "context": "It rained.",
        "question": "Why wet?",
        "answer0": "rain",
        "answer1": "sun",
        "answer2": "snow",
        "answer3": "None of the above choices .",
        "label": 0,
    }
    ex = _conv("cosmosqa")(row)
    assert ex == MCExample("c1", "It rained. Why wet?", ("rain", "sun", "snow", "None of the above choices ."), 0)


def test_nli_and_pair_converters():
    nli = {"premise": "A dog runs.", "hypothesis": "An animal moves.", "label": 0, "idx": 3}
    assert _conv("mnli")({**nli, "label": 2}) == PairExample(3, "A dog runs.", "An animal moves.", 2)
    assert _conv("anli")({"uid": "u1", "premise": "p", "hypothesis": "h", "label": 1, "reason": ""}) == PairExample(
        "u1", "p", "h", 1
    )
    assert _conv("qqp")({"question1": "a?", "question2": "b?", "label": 1, "idx": 0}) == PairExample(0, "a?", "b?", 1)
    assert _conv("sst2")({"sentence": "great film", "label": 1, "idx": 9}) == PairExample(9, "great film", None, 1)
    assert _conv("rte")(nli) == PairExample(3, "A dog runs.", "An animal moves.", 0)
    assert _conv("mnli")({**nli, "label": -1}).label == -1  # GLUE's unlabelled test split
    with pytest.raises(ValueError, match="out of range"):
        _conv("qqp")({"question1": "a?", "question2": "b?", "label": 2, "idx": 0})
    with pytest.raises(ValueError, match="missing field 'hypothesis'"):
        _conv("anli")({"uid": "u1", "premise": "p", "label": 1})


# ---- malformed local files ---------------------------------------------------------------------------


def _write(root: Path, rel: str, lines: list[str]) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"premise": "P.", "choice1": "a", "choice2": "b", "question": "cause", "label": 1, "idx": 0})


def test_missing_file_names_path_and_layout(tmp_path):
    with pytest.raises(DataError) as e:
        load_examples("xcopa", "test", data_dir=tmp_path, lang="qu")
    msg = str(e.value)
    assert "'xcopa'" in msg and str(tmp_path / "xcopa" / "qu" / "test.jsonl") in msg and "val.jsonl" in msg


def test_malformed_json_names_file_and_line(tmp_path):
    path = _write(tmp_path, "copa/train.jsonl", [GOOD, GOOD, '{"premise": "P.", "choice1"'])
    with pytest.raises(DataError) as e:
        load_examples("copa", "train", data_dir=tmp_path)
    assert f"{path} line 3" in str(e.value) and "not valid JSON" in str(e.value) and "'copa'" in str(e.value)


def test_missing_field_names_file_and_line(tmp_path):
    row = json.loads(GOOD)
    del row["choice2"]
    path = _write(tmp_path, "copa/val.jsonl", [GOOD, json.dumps(row)])
    with pytest.raises(DataError) as e:
        load_examples("copa", "val", data_dir=tmp_path)
    assert f"{path} line 2" in str(e.value) and "missing field 'choice2'" in str(e.value)


def test_label_out_of_range_and_unlabelled_train(tmp_path):
    path = _write(tmp_path, "rte/train.jsonl", [json.dumps({"premise": "p", "hypothesis": "h", "label": 5, "idx": 0})])
    with pytest.raises(DataError, match=f"{path} line 1: label 5 is out of range"):
        load_examples("rte", "train", data_dir=tmp_path)
    unlabelled = json.loads(GOOD) | {"label": -1}
    path = _write(tmp_path, "copa/train.jsonl", [GOOD, json.dumps(unlabelled)])
    with pytest.raises(DataError, match="line 2: the row has no label"):
        load_examples("copa", "train", data_dir=tmp_path)
    _write(tmp_path, "copa/test.jsonl", [json.dumps(unlabelled)])
    assert load_examples("copa", "test", data_dir=tmp_path)[0].label == -1


def test_bad_question_word_is_a_data_error(tmp_path):
    _write(tmp_path, "copa/train.jsonl", [json.dumps(json.loads(GOOD) | {"question": "reason"})])
    with pytest.raises(DataError, match="line 1: question must be 'cause' or 'effect'"):
        load_examples("copa", "train", data_dir=tmp_path)


# ---- the hub -------------------------------------------------------------------------------------------


def test_hub_failure_is_a_data_error(monkeypatch):
    datasets = pytest.importorskip("datasets")
    calls = []

    def fail(*args, **kwargs):
        calls.append((args, kwargs))
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(datasets, "load_dataset", fail)
    with pytest.raises(DataError) as e:
        load_examples("xcopa", "test", lang="ht")
    msg = str(e.value)
    assert "cambridgeltl/xcopa" in msg and "'ht'" in msg and "Couldn't reach the Hub" in msg and "--data-dir" in msg
    assert calls == [(("cambridgeltl/xcopa", "ht"), {"split": "test"})]
    with pytest.raises(DataError, match="--data-dir"):
        load_examples("mnli", "validation")
    assert calls[-1] == (("nyu-mll/glue", "mnli"), {"split": "validation_matched"})


def test_hub_rows_are_converted(monkeypatch):
    datasets = pytest.importorskip("datasets")
    rows = [
        {"sentence": "good", "label": 1, "idx": 0},
        {"sentence": "bad", "label": 0, "idx": 1},
        {"sentence": "meh", "label": 7, "idx": 2},
    ]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: rows)
    assert load_examples("sst2", "train", limit=2) == [PairExample(0, "good", None, 1), PairExample(1, "bad", None, 0)]
    with pytest.raises(DataError, match="row 2: label 7 is out of range"):
        load_examples("sst2", "train")


def test_import_is_light():
    code = (
        "import sys, xcost_tui.tasks, xcost_tui.spec; "
        "print(','.join(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == ""
