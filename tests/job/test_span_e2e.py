"""Issue 19 end to end on CPU: tiny-xlmr through ``xcost-tui run`` on synthetic SQuAD v2.0 and ANLI+
data served by the local hub stand-in (tests/support/hub_mirror.py), then COPA and XCOPA.

- intermediate SQuAD v2.0 -> COPA: the span head trains on windows (a long context makes several),
  its validation records exact match (the phase's accuracy) and F1;
- intermediate ANLI+ -> COPA: ANLI r1-r3 + MNLI + SNLI training rows in one 3-way head, every part's
  provenance recorded, SNLI's unlabelled rows dropped;
- a mixed phase of a span, a multiple-choice and a classification task trains with its three heads.
"""

from __future__ import annotations

import pytest
from support.hub_mirror import jsonl, nli_rows, siqa_rows, squad_rows, write_repo
from support.jobutil import QUICK, eval_results, events, phase_ends, run_cli, status

from xcost_tui.rundir import RunStatus
from xcost_tui.tasks import HUB_MIRROR_ENV

pytestmark = pytest.mark.xdist_group("job_e2e")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, data_dir):
    m = tmp_path_factory.mktemp("hub")
    write_repo(
        m,
        "rajpurkar/squad_v2",
        {"squad_v2": {"train": squad_rows(40, v2=True), "validation": squad_rows(12, v2=True, start=100)}},
    )
    write_repo(
        m,
        "facebook/anli",
        {
            "plain_text": {
                f"{split}_r{r}": nli_rows(n, id_field="uid", start=1000 * r)
                for r in (1, 2, 3)
                for split, n in (("train", 10), ("dev", 4), ("test", 4))
            }
        },
    )
    write_repo(
        m,
        "nyu-mll/glue",
        {"mnli": {"train": nli_rows(12), "validation_matched": nli_rows(4), "test_matched": nli_rows(4)}},
    )
    write_repo(
        m,
        "stanfordnlp/snli",
        {"plain_text": {"train": nli_rows(15, unlabelled_every=5), "validation": nli_rows(4), "test": nli_rows(4)}},
    )
    write_repo(m, "lighteval/siqa", {"default": {"train": siqa_rows(20), "validation": siqa_rows(6)}})
    write_repo(
        m,
        "aps/super_glue",
        {
            "copa": {
                s: jsonl(data_dir / "copa" / f"{n}.jsonl")
                for s, n in (("train", "train"), ("validation", "val"), ("test", "test"))
            }
        },
    )
    write_repo(
        m,
        "cambridgeltl/xcopa",
        {
            "it": {
                "validation": jsonl(data_dir / "xcopa" / "it" / "val.jsonl"),
                "test": jsonl(data_dir / "xcopa" / "it" / "test.jsonl"),
            }
        },
    )
    return m


@pytest.fixture(scope="module")
def runs(mirror, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.setenv(HUB_MIRROR_ENV, str(mirror))
    mp.setenv("HF_DATASETS_CACHE", str(root / "hf-cache"))
    mp.delenv("XCOST_DATA_DIR", raising=False)
    specs = {
        "squad_v2": ["--intermediate", "squad_v2"],
        "anli_plus": ["--intermediate", "anli_plus"],
        "mixed": ["--intermediate", "squad_v2,siqa,anli_plus", "--intermediate-mode", "mixed"],
    }
    out = {}
    try:
        for name, extra in specs.items():
            args = [
                "run",
                "--model",
                "tiny-xlmr",
                "--out",
                str(root / name),
                "--method",
                "intermediate",
                "--langs",
                "it",
                *extra,
                *QUICK,
            ]
            proc = run_cli(args)
            assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            out[name] = root / name
    finally:
        mp.undo()
    return out


def test_squad_v2_then_copa_records_exact_match_and_f1(runs):
    run_dir = runs["squad_v2"]
    assert status(run_dir) == RunStatus.SUCCEEDED
    ends = phase_ends(run_dir)
    phase = ends["intermediate:squad_v2"]
    info = phase["info"]
    assert info["head_initialised"] == {"squad_v2": True}
    val = info["validation"]["squad_v2"]
    # 12 validation questions, every third unanswerable, the long contexts in several windows
    assert val["n"] == 12 and val["answerable"] == 8 and val["windows"] > 12
    assert 0.0 <= val["exact_match"] <= val["f1"] <= 1.0
    assert info["accuracy"] == val["exact_match"] and info["f1"] == val["f1"]
    assert val["flops_analytic"] > 0 and val["wall_s"] > 0
    # the training phase's analytic FLOPs agree with FlopCounterMode's count of the same shapes
    costs = phase["costs"]
    assert costs["flops_measured"]["ratio"] == pytest.approx(1.0, rel=0.02)
    # training counts windows: more than the 24 training questions QUICK takes (long contexts)
    assert costs["examples"]["value"] >= 24
    assert {"en", "it"} <= set(eval_results(run_dir))
    loaded = [e for e in events(run_dir) if e["type"] == "data_loaded" and e["task"] == "squad_v2"]
    assert {(e["split"], e["role"]) for e in loaded} == {("train", "train"), ("validation", "intermediate-eval")}


def test_anli_plus_then_copa_reads_every_part(runs):
    run_dir = runs["anli_plus"]
    assert status(run_dir) == RunStatus.SUCCEEDED
    ends = phase_ends(run_dir)
    assert "intermediate:anli_plus" in ends and ends["intermediate:anli_plus"]["info"]["head_initialised"] == {
        "anli_plus": True
    }
    loaded = [e for e in events(run_dir) if e["type"] == "data_loaded" and e["role"] == "train"]
    parts = {e["task"]: e for e in loaded if e["task"] != "copa"}
    assert set(parts) == {"anli", "mnli", "snli"}
    assert parts["anli"]["rows"] == 30 and parts["mnli"]["rows"] == 12
    # SNLI: 15 rows, 3 of them label -1 (dropped): 12 examples join the pool, at most 12 are used
    assert parts["snli"]["rows"] == 15 and parts["snli"]["used"] <= 12
    # 30 + 12 + 12 = 54 pooled examples, of which QUICK's --max-train-examples 48 drawn by the seed
    assert sum(p["used"] for p in parts.values()) == 48 and all(p["subset"] == "seeded" for p in parts.values())
    assert all(p["note"] == "part of anli_plus" for p in parts.values())


def test_a_mixed_phase_trains_span_multiple_choice_and_classification_heads(runs):
    run_dir = runs["mixed"]
    assert status(run_dir) == RunStatus.SUCCEEDED
    phase = phase_ends(run_dir)["intermediate:squad_v2+siqa+anli_plus"]
    assert phase["info"]["head_initialised"] == {"squad_v2": True, "siqa": True, "anli_plus": True}
    assert phase["info"]["validation"]["squad_v2"]["n"] == 12
    assert phase["costs"]["flops_measured"]["ratio"] == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize("name", ["squad_v2", "mixed"])
def test_the_estimate_counts_the_windows_the_job_trained_on(runs, mirror, monkeypatch, tmp_path, name):
    """The forecast's count of the intermediate phase (estimate/counting.py: the job's own encode,
    step groups and FLOP formulas) equals the job's record: windows, steps, tokens, FLOPs."""
    import json

    from xcost_tui.estimate.counting import Counter
    from xcost_tui.rundir.layout import SPEC
    from xcost_tui.tasks.loading import clear_caches

    monkeypatch.setenv(HUB_MIRROR_ENV, str(mirror))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    clear_caches()
    spec = json.loads((runs[name] / SPEC).read_text())
    counted = Counter().count_run({"run_id": "x", "spec": spec, "device_type": "cpu"})
    ends = phase_ends(runs[name])
    (p,) = [p for p in counted["phases"] if p["kind"] == "intermediate"]
    costs = ends[p["name"]]["costs"]
    figures = p["by_micro"]["8"]
    assert p["examples"] == costs["examples"]["value"] and p["steps"] == costs["steps"]["value"]
    assert p["tokens_nonpad"] == costs["tokens_nonpad"]["value"]
    assert figures["flops"] == costs["flops_analytic"]["value"]
    assert p["lengths_source"] == "measured" and p["counts_source"] == "data"


def test_the_store_ingests_the_runs_with_exact_match_and_f1(runs, tmp_path):
    """The span phase's EM/F1 reach the store (phases.info) and no eval row is made of them: the
    English accuracy stays COPA's."""
    from xcost_tui.store.db import connect_ro
    from xcost_tui.store.ingest import ingest

    ingest(tmp_path, [runs["squad_v2"], runs["anli_plus"]])
    with connect_ro(tmp_path) as con:
        em, f1 = con.execute(
            "SELECT CAST(json_extract_string(info, '$.exact_match') AS DOUBLE), "
            "CAST(json_extract_string(info, '$.validation.squad_v2.f1') AS DOUBLE) "
            "FROM phases WHERE phase = 'intermediate:squad_v2'"
        ).fetchone()
        tasks = {t for (t,) in con.execute("SELECT DISTINCT task FROM evals").fetchall()}
    info = phase_ends(runs["squad_v2"])["intermediate:squad_v2"]["info"]
    assert em == pytest.approx(info["exact_match"]) and f1 == pytest.approx(info["f1"])
    assert tasks == {"copa", "xcopa"}
