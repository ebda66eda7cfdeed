"""The hub loader through a local stand-in for the hub ($XCOST_HUB_MIRROR): the same
``datasets.load_dataset`` call the hub gets runs for real on folders laid out like hub
repositories, including one that holds only a loading script (datasets refuses it with its own
error, and the loader falls back to the repository's Parquet export) and one that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.hub_mirror import cosmos_rows, jsonl, siqa_rows, write_parquet_export, write_repo, write_script_only

from xcost_tui.errors import DataError
from xcost_tui.tasks import HUB_MIRROR_ENV, load_split
from xcost_tui.tasks.loading import clear_caches, mirror_folder
from xcost_tui.tasks.sources import HUB_MIRROR, PARQUET_BRANCH

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, data_dir) -> Path:
    m = tmp_path_factory.mktemp("hub")
    write_repo(m, "lighteval/siqa", {"default": {"train": siqa_rows(30), "validation": siqa_rows(6)}})
    write_script_only(m, "allenai/cosmos_qa")
    write_parquet_export(
        m,
        "allenai/cosmos_qa",
        {"default": {"train": cosmos_rows(20), "validation": cosmos_rows(6), "test": cosmos_rows(7, labelled=False)}},
    )
    write_script_only(m, "Rowan/hellaswag")  # a script and no Parquet export
    write_repo(
        m,
        "cambridgeltl/xcopa",
        {
            lang: {
                "validation": jsonl(data_dir / "xcopa" / lang / "val.jsonl"),
                "test": jsonl(data_dir / "xcopa" / lang / "test.jsonl"),
            }
            for lang in ("th", "it")
        },
    )
    write_repo(
        m,
        "aps/super_glue",
        {
            "copa": {
                split: jsonl(data_dir / "copa" / f"{name}.jsonl")
                for split, name in (("train", "train"), ("validation", "val"), ("test", "test"))
            }
        },
    )
    return m


@pytest.fixture
def hub(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv(HUB_MIRROR_ENV, str(mirror))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    calls = []
    real = datasets.load_dataset

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", spy)
    clear_caches()
    yield calls
    clear_caches()


def test_a_script_free_repository_loads_through_load_dataset(hub, mirror):
    loaded = load_split("siqa", "train", role="train")
    assert len(loaded.examples) == 30 and loaded.examples[0].context == "Tracy did 0. What next?"
    folder = str(mirror_folder(mirror, "lighteval/siqa", None))
    assert hub == [((folder, None), {"split": "train"})]  # the hub's call, on the stand-in
    src = loaded.source
    assert (src.source, src.repo, src.config, src.hub_split, src.revision, src.fallback) == (
        HUB_MIRROR,
        "lighteval/siqa",
        None,
        "train",
        None,
        None,
    )
    assert src.path == folder and re.fullmatch(r"[0-9a-f]{64}", src.sha256)
    assert (src.rows, src.used, src.subset, src.role) == (30, 30, "all", "train")


def test_the_stand_in_reproduces_datasets_refusal_of_a_script(mirror):
    with pytest.raises(RuntimeError, match=r"Dataset scripts are no longer supported, but found cosmos_qa.py"):
        datasets.load_dataset(str(mirror_folder(mirror, "allenai/cosmos_qa", None)), split="train")


def test_a_script_only_repository_falls_back_to_its_parquet_export(hub, mirror):
    said = []
    loaded = load_split("cosmosqa", "validation", log=said.append)
    assert [e.idx for e in loaded.examples] == [f"c{i}" for i in range(6)]
    # first the default branch (refused), then the Parquet export with its files named
    assert [c[0][0] for c in hub] == [
        str(mirror_folder(mirror, "allenai/cosmos_qa", None)),
        str(mirror_folder(mirror, "allenai/cosmos_qa", PARQUET_BRANCH)),
    ]
    assert hub[1][1] == {"data_files": {"validation": "default/validation/*.parquet"}, "split": "validation"}
    src = loaded.source
    assert src.fallback == PARQUET_BRANCH and src.revision == PARQUET_BRANCH
    assert "holds only a loading script" in src.note and "cosmos_qa.py" in src.note
    assert len(said) == 1 and "allenai/cosmos_qa holds only a loading script" in said[0] and PARQUET_BRANCH in said[0]
    test = load_split("cosmosqa", "test")
    assert {e.label for e in test.examples} == {-1}  # the unlabelled test split is allowed


def test_a_script_only_repository_without_an_export_is_one_clear_error(hub):
    with pytest.raises(DataError) as e:
        load_split("hellaswag", "train")
    msg = str(e.value)
    assert "Rowan/hellaswag holds only a loading script" in msg and PARQUET_BRANCH in msg
    assert "could not be read either" in msg and "no offline copy" in msg


def test_a_missing_repository_is_datasets_own_error(hub, mirror):
    with pytest.raises(DataError) as e:
        load_split("mnli", "train")
    msg = str(e.value)
    assert "nyu-mll/glue" in msg and "'mnli'" in msg and "FileNotFoundError" in msg
    assert str(mirror_folder(mirror, "nyu-mll/glue", None)) in msg and HUB_MIRROR_ENV in msg


def test_xcopa_from_the_hub_takes_its_questions_from_copa(hub, mirror):
    th = load_split("xcopa", "test", lang="th", role="eval")
    assert th.examples[0].context.endswith("What was the cause?")
    main, questions = th.sources
    assert (main.repo, main.config, main.questions_corrected, main.xcopa_question) == (
        "cambridgeltl/xcopa",
        "th",
        250,
        "copa",
    )
    assert (questions.task, questions.repo, questions.config, questions.split, questions.role) == (
        "copa",
        "aps/super_glue",
        "copa",
        "test",
        "questions",
    )
    published = load_split("xcopa", "test", lang="th", xcopa_question="published")
    assert published.examples[0].context.endswith("What happened as a result?")
    assert len(published.sources) == 1 and published.source.questions_corrected == 0
    assert [e.label for e in published.examples] == [e.label for e in th.examples]
