"""Provenance: every split a run read (``data_loaded``), its model (``model_loaded``) and the library
versions, from the job's events through the fold into the store's ``data_sources`` table and
``runs`` columns; tiny-xlmr's tokenizer sees training text only."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from support.jobutil import phase_ends, run_job
from support.store_fixtures import make_run_dir

from xcost_tui.rundir import EventWriter, RunFold, parse_event, read_jsonl
from xcost_tui.rundir.events import DataLoaded, ModelLoaded
from xcost_tui.rundir.layout import EVENTS
from xcost_tui.spec import RunSpec
from xcost_tui.store import schema
from xcost_tui.store.ingest import ingest

REPO = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"


def data_event(**kw) -> DataLoaded:
    base = dict(
        task="siqa",
        split="train",
        lang="en",
        role="train",
        source="hub",
        repo="lighteval/siqa",
        hub_split="train",
        resolved_revision=SHA,
        rows=33410,
        used=1000,
        subset="seeded",
    )
    return DataLoaded(**{**base, **kw})


def test_events_round_trip_and_read_tolerantly():
    ev = data_event(fallback=None, t=5.0)
    assert parse_event(ev.to_dict()) == ev
    model = ModelLoaded("FacebookAI/xlm-roberta-base", "hub", SHA, None, "pretrained", t=6.0)
    assert parse_event(model.to_dict()) == model
    damaged = parse_event({"type": "data_loaded", "task": 3, "rows": "many", "used": 2.0, "questions_corrected": []})
    assert isinstance(damaged, DataLoaded) and damaged.task == "3" and damaged.rows is None and damaged.used == 2
    assert damaged.questions_corrected is None
    odd = parse_event({"type": "model_loaded", "model": "m", "tokenizer_splits": "copa:train"})
    assert isinstance(odd, ModelLoaded) and odd.tokenizer_splits == ["copa:train"] and odd.revision is None


def test_the_fold_keeps_every_split_and_the_model():
    fold = RunFold()
    fold.apply_all(
        [
            data_event(),
            data_event(task="copa", repo="aps/super_glue", role="questions", split="test"),
            ModelLoaded("tiny-xlmr", "built-in", tokenizer="trained-in-process", tokenizer_texts=12),
        ]
    )
    assert [d.task for d in fold.state.data_sources] == ["siqa", "copa"]
    assert fold.state.model is not None and fold.state.model.tokenizer_texts == 12


def test_ingest_writes_data_sources_and_runs_columns(tmp_path):
    run_dir = make_run_dir(tmp_path, langs=["th"], run_id="r1")
    with EventWriter(run_dir / EVENTS) as w:
        w.emit(data_event())
        w.emit(
            data_event(
                task="xcopa",
                split="test",
                lang="th",
                role="eval",
                source="local",
                repo="cambridgeltl/xcopa",
                config="th",
                resolved_revision=None,
                path="/data/xcopa/th/test.jsonl",
                sha256="ab" * 32,
                rows=500,
                used=500,
                subset="all",
                xcopa_question="copa",
                questions_corrected=250,
            )
        )
        w.emit(ModelLoaded("FacebookAI/xlm-roberta-base", "hub", SHA, None, "pretrained"))
    ingest(tmp_path)
    ingest(tmp_path)  # idempotent
    con = duckdb.connect(str(tmp_path / "xcost.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT seq, task, split, lang, role, source, repo, config, resolved_revision, path, sha256, "
            "rows, used, subset, questions_corrected FROM data_sources WHERE run_id = 'r1' "
            "ORDER BY seq"
        ).fetchall()
        runs = con.execute("SELECT model_source, model_revision, data_sources FROM runs WHERE run_id = 'r1'").fetchall()
    finally:
        con.close()
    assert rows == [
        (
            0,
            "siqa",
            "train",
            "en",
            "train",
            "hub",
            "lighteval/siqa",
            None,
            SHA,
            None,
            None,
            33410,
            1000,
            "seeded",
            None,
        ),
        (
            1,
            "xcopa",
            "test",
            "th",
            "eval",
            "local",
            "cambridgeltl/xcopa",
            "th",
            None,
            "/data/xcopa/th/test.jsonl",
            "ab" * 32,
            500,
            500,
            "all",
            250,
        ),
    ]
    assert runs == [("hub", SHA, 2)]
    assert schema.SCHEMA_VERSION >= 3


def test_schema_doc_names_every_data_sources_column():
    doc = (REPO / "docs" / "schema.md").read_text()
    assert "### data_sources" in doc
    section = doc.split("### data_sources", 1)[1].split("\n### ", 1)[0]
    for col, _ in schema.TABLES["data_sources"]:
        if col != "run_id":
            assert re.search(rf"\b{col}\b", section), col
    assert "data_loaded" in (REPO / "docs" / "run-directory.md").read_text()


def test_the_tokenizer_learns_from_training_splits_only(data_dir):
    from xcost_tui.job.data import few_shot_sample, load_run_data
    from xcost_tui.tasks import all_texts

    spec = RunSpec.from_dict(
        {
            "method": "few-shot",
            "model": "tiny-xlmr",
            "few_shot_k": 4,
            "langs": ["it", "th"],
            "data_dir": str(data_dir),
            "intermediate": ["rte"],
        }
    )
    data = load_run_data(spec)
    # the rule (issue 18): a few-shot run's target phase may be shared, so by default its tokenizer
    # learns what the shared pipeline's did, without the shots
    assert [name for name, _ in data.tokenizer_lists(spec)] == ["rte:train", "copa:train"]
    lists = list(data.tokenizer_lists(spec, shots=True))
    assert [name for name, _ in lists] == [
        "rte:train",
        "copa:train",
        "xcopa:validation:it (4 few-shot examples)",
        "xcopa:validation:th (4 few-shot examples)",
    ]
    texts = {t for _, exs in lists for t in all_texts(exs)}
    train = set(all_texts(data.target_train)) | set(all_texts(data.intermediate["rte"]))
    shots = {
        lang: [pool[j] for j in few_shot_sample(pool, 4, spec.seed, lang)] for lang, pool in data.few_shot_pool.items()
    }
    assert texts == train | {t for exs in shots.values() for t in all_texts(exs)}
    for lang, exs in data.target_eval.items():  # XCOPA test: never
        assert not texts & set(all_texts(exs)), lang
    assert not {e.context for e in data.english_eval} & texts  # English COPA validation: never
    rest = [e for lang, pool in data.few_shot_pool.items() for e in pool if e not in shots[lang]]
    assert not {e.context for e in rest} & texts  # nor the pool's other examples


def test_run_start_env_has_the_data_and_tokenizer_versions():
    import datasets
    import tokenizers

    from xcost_tui.measure.env import collect_env

    env = collect_env("cpu", "cpu", 1, "fp32")
    assert env["datasets"] == datasets.__version__ and env["tokenizers"] == tokenizers.__version__
    assert env["torch"] and env["transformers"]


@pytest.mark.slow
def test_a_run_records_its_data_and_model(tmp_path, data_dir):
    proc = run_job(tmp_path / "r", data_dir, "--method", "few-shot", "--shots", "4", "--langs", "th,zh")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    evs = read_jsonl(tmp_path / "r" / EVENTS)
    loaded = [e for e in evs if e["type"] == "data_loaded"]
    first_phase = next(i for i, e in enumerate(evs) if e["type"] == "phase_start")
    assert all(evs.index(e) < first_phase for e in loaded)  # recorded before any training
    seen = {(e["task"], e["split"], e["lang"], e["role"]) for e in loaded}
    assert seen == {
        ("copa", "train", "en", "train"),
        ("copa", "validation", "en", "eval"),
        ("xcopa", "test", "th", "eval"),
        ("xcopa", "test", "zh", "eval"),
        ("xcopa", "validation", "th", "few-shot-pool"),
        ("xcopa", "validation", "zh", "few-shot-pool"),
        ("copa", "test", "en", "questions"),
        ("copa", "validation", "en", "questions"),
    }
    train = next(e for e in loaded if e["role"] == "train")
    assert (train["rows"], train["used"], train["subset"], train["source"]) == (400, 48, "seeded", "local")
    assert train["path"].endswith("copa/train.jsonl") and re.fullmatch(r"[0-9a-f]{64}", train["sha256"])
    th_pool = next(e for e in loaded if e["lang"] == "th" and e["role"] == "few-shot-pool")
    assert th_pool["questions_corrected"] == 52 and th_pool["xcopa_question"] == "copa"
    model = next(e for e in evs if e["type"] == "model_loaded")
    assert model["source"] == "built-in" and model["tokenizer"] == "trained-in-process"
    # the shots are left out of tiny-xlmr's tokenizer: a few-shot run's target phase may be shared
    # (issue 18), so it is trained with the shared pipeline's tokenizer (tokenizer_lists(shots=False))
    assert model["tokenizer_splits"] == ["copa:train"]
    ends = phase_ends(tmp_path / "r")
    assert ends["eval:th"]["info"]["xcopa_question"] == "copa"
    assert (
        0 < ends["eval:th"]["info"]["questions_corrected"] <= 24 and ends["eval:zh"]["info"]["questions_corrected"] == 0
    )
    assert "questions_corrected" in ends["few-shot:th"]["info"]
    log = (tmp_path / "r" / "job.log").read_text() if (tmp_path / "r" / "job.log").exists() else proc.stdout
    assert "data: copa train (train): 48 of 400 rows" in log and "model: tiny-xlmr (built-in)" in log
