"""XCOPA's published cause/effect field disagrees with English COPA for th, tr, sw, id and it; the
loader takes the question from COPA by idx (``xcopa_question = "copa"``, the default) unless a
run asks for the published field. Verified here on the shipped data (docs/tasks.md)."""

from __future__ import annotations

import json

import pytest

from xcost_tui import XCOPA_LANGS
from xcost_tui.errors import DataError, SpecError
from xcost_tui.spec import RunSpec
from xcost_tui.tasks import load_examples, load_split
from xcost_tui.tasks.loading import clear_caches

# (test, validation) items whose published question disagrees with English COPA's (same idx)
DISAGREE = {"th": (250, 52), "tr": (51, 52), "sw": (37, 6), "id": (4, 5), "it": (4, 5)}


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def fresh():
    clear_caches()
    yield
    clear_caches()


def test_the_published_field_disagrees_with_copa_exactly_here(data_dir):
    copa = {
        split: {r["idx"]: r for r in rows(data_dir / "copa" / f"{name}.jsonl")}
        for split, name in (("test", "test"), ("val", "val"))
    }
    for lang in XCOPA_LANGS:
        for i, split in enumerate(("test", "val")):
            xcopa = rows(data_dir / "xcopa" / lang / f"{split}.jsonl")
            differ = sum(r["question"] != copa[split][r["idx"]]["question"] for r in xcopa)
            assert differ == DISAGREE.get(lang, (0, 0))[i], (lang, split, differ)
            if split == "val":  # COPA's test labels are withheld; its validation labels agree everywhere
                assert all(r["label"] == copa[split][r["idx"]]["label"] for r in xcopa), lang
    # test labels are withheld in COPA, but the 11 languages' test labels agree item for item
    labels = {
        lang: [(r["idx"], r["label"]) for r in rows(data_dir / "xcopa" / lang / "test.jsonl")] for lang in XCOPA_LANGS
    }
    assert all(sorted(v) == sorted(labels["et"]) for v in labels.values())
    # Thai says "effect" for every item of both splits
    assert {r["question"] for s in ("test", "val") for r in rows(data_dir / "xcopa" / "th" / f"{s}.jsonl")} == {
        "effect"
    }


def test_the_default_corrects_them_and_counts_them(data_dir):
    for lang in XCOPA_LANGS:
        for i, split in enumerate(("test", "validation")):
            loaded = load_split("xcopa", split, data_dir=data_dir, lang=lang)
            expected = DISAGREE.get(lang, (0, 0))[i]
            assert loaded.source.questions_corrected == expected == len(loaded.corrected), (lang, split)
            assert loaded.source.xcopa_question == "copa"
            assert loaded.sources[1].task == "copa" and loaded.sources[1].split == split
            published = load_split("xcopa", split, data_dir=data_dir, lang=lang, xcopa_question="published")
            assert published.source.questions_corrected == 0 and len(published.sources) == 1
            assert [e.label for e in published.examples] == [e.label for e in loaded.examples]
            assert sum(a.context != b.context for a, b in zip(loaded.examples, published.examples)) == expected


def test_thai_item_0_is_a_cause_question_by_default(data_dir):
    default = load_examples("xcopa", "test", data_dir=data_dir, lang="th")[0]
    published = load_examples("xcopa", "test", data_dir=data_dir, lang="th", xcopa_question="published")[0]
    assert default.idx == published.idx == 0
    assert default.context == "สิ่งของถูกห่อไว้ในพลาสติก What was the cause?"
    assert published.context == "สิ่งของถูกห่อไว้ในพลาสติก What happened as a result?"
    # English COPA test item 0: "The item was packaged in bubble wrap." asks for the cause
    assert rows(data_dir / "copa" / "test.jsonl")[0]["question"] == "cause"


def test_a_missing_copa_split_says_where_the_questions_come_from(tmp_path, data_dir):
    (tmp_path / "xcopa" / "th").mkdir(parents=True)
    (tmp_path / "xcopa" / "th" / "test.jsonl").write_text((data_dir / "xcopa" / "th" / "test.jsonl").read_text())
    with pytest.raises(DataError) as e:
        load_examples("xcopa", "test", data_dir=tmp_path, lang="th")
    assert "English COPA test" in str(e.value) and 'xcopa_question = "published"' in str(e.value)
    assert len(load_examples("xcopa", "test", data_dir=tmp_path, lang="th", xcopa_question="published")) == 500


def test_an_xcopa_item_without_a_copa_twin_is_refused(tmp_path, data_dir):
    for rel in ("copa/test.jsonl", "xcopa/th/test.jsonl"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((data_dir / rel).read_text())
    lines = (tmp_path / "copa" / "test.jsonl").read_text().splitlines()
    (tmp_path / "copa" / "test.jsonl").write_text("\n".join(lines[1:]) + "\n")  # drop COPA idx 0
    with pytest.raises(DataError, match=r"xcopa/th/test.jsonl line 1: idx 0 has no item in English COPA test"):
        load_examples("xcopa", "test", data_dir=tmp_path, lang="th")


def test_the_spec_field_is_validated_and_part_of_the_run(tmp_path):
    spec = RunSpec(method="direct", model="tiny-xlmr")
    assert spec.xcopa_question == "copa" and spec.to_dict()["xcopa_question"] == "copa"
    published = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "xcopa_question": "published"})
    assert published.run_id() != spec.run_id()  # other inputs, other results: another run
    with pytest.raises(SpecError, match=r"xcopa_question must be one of 'copa', 'published', got 'copa2'.*'copa'"):
        RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "xcopa_question": "copa2"})


def test_few_shot_examples_take_the_same_option(data_dir):
    from xcost_tui.job.data import load_run_data

    base = {
        "method": "few-shot",
        "model": "tiny-xlmr",
        "few_shot_k": 4,
        "langs": ["th"],
        "data_dir": str(data_dir),
        "max_eval_examples": 8,
        "hparams": {"max_examples": 16},
    }
    default = load_run_data(RunSpec.from_dict(base))
    published = load_run_data(RunSpec.from_dict({**base, "xcopa_question": "published"}))
    assert {e.context.endswith("result?") for e in published.few_shot_pool["th"]} == {True}  # all "effect"
    assert sum(e.context.endswith("cause?") for e in default.few_shot_pool["th"]) == 52
    shots = default.few_shot_pool["th"][:10]
    info = default.questions_info(RunSpec.from_dict(base), "validation", "th", shots)
    assert info == {"xcopa_question": "copa", "questions_corrected": sum(e.context.endswith("cause?") for e in shots)}
