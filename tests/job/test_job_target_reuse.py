"""Shared target phases, job side (issue 18): a run with ``save_target`` saves the model after its
target phase with everything a consumer records of it; a run with ``init_target_from`` starts
from it, records those phases as reused, and its own results are bit-identical to a run that
trained its target phase itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.jobutil import events, phase_ends, run_cli

from xcost_tui.rundir import read_jsonl
from xcost_tui.rundir.layout import PREDICTIONS

pytestmark = pytest.mark.xdist_group("job_target_reuse")

LANGS = ["it", "qu"]
SMALL = {
    "model": "tiny-xlmr",
    "seed": 3,
    "langs": LANGS,
    "max_eval_examples": 12,
    "collapse_retries": 1,
    "hparams": {"max_examples": 32, "max_steps": 3, "batch_size": 8, "grad_accum": 1, "max_seq_len": 48},
    "few_shot_hparams": {"max_steps": 2, "batch_size": 4, "grad_accum": 1, "max_seq_len": 48},
    "measure": {"curve_points": 2},
}


def run_spec(out: Path, data_dir: Path, **fields) -> Path:
    spec = {**SMALL, "data_dir": str(data_dir), **fields}
    path = out.with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec), encoding="utf-8")
    proc = run_cli(["run", "--method", spec["method"], "--spec", str(path), "--out", str(out)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("target_reuse")
    producer = run_spec(root / "direct", data_dir, method="direct", save_target=True)
    ckpt = producer / "checkpoints" / "target"
    own = run_spec(root / "own", data_dir, method="few-shot", few_shot_k=4)
    shared = run_spec(root / "shared", data_dir, method="few-shot", few_shot_k=4, init_target_from=str(ckpt))
    return {"direct": producer, "own": own, "shared": shared, "ckpt": ckpt}


def _shared_phases(run_dir: Path) -> list[str]:
    return [
        e["phase"]
        for e in events(run_dir)
        if e["type"] == "phase_end"
        and (e["kind"] in ("intermediate", "target") or e["phase"].startswith(("eval:en", "curve:target")))
    ]


def test_the_producer_saves_the_model_and_what_a_consumer_records(runs):
    meta = json.loads((runs["ckpt"] / "phase.json").read_text())
    assert meta["kind"] == "target" and meta["run_id"] == "direct"
    assert [p["phase"] for p in meta["phases"]] == _shared_phases(runs["direct"])
    assert {e["phase"] for e in meta["evals"]} >= {"eval:en"}
    assert meta["collapse_checks"] and meta["curve_points"]
    assert meta["predictions"] and {r["phase"] for r in meta["predictions"]} <= {p["phase"] for p in meta["phases"]}
    saved = [e for e in events(runs["direct"]) if e["type"] == "checkpoint_saved"]
    assert [(e["kind"], e["path"]) for e in saved] == [("target", "checkpoints/target")]


def test_the_consumer_records_the_shared_phases_as_reused(runs):
    ends = phase_ends(runs["shared"])
    reused = _shared_phases(runs["shared"])
    assert reused == _shared_phases(runs["direct"])
    for name in reused:
        end = ends[name]
        assert end["reused_from"]["run_id"] == "direct" and end["reused_from"]["phase"] == name
        assert end["costs"]["wall_s"]["value"] is None
        assert end["costs"]["wall_s"]["reason"] == "reused: counted in direct"
        assert end["info"]["original_costs"]["wall_s"]["value"] is not None
    assert ends["eval:en"]["lang"] == "en"
    # the few-shot phases are its own
    assert all(ends[f"few-shot:{lang}"]["reused_from"] is None for lang in LANGS)
    # eval:en's results, predictions, collapse checks and curve points are the producer's
    for kind in ("eval_result", "collapse_check"):
        mine = [{k: v for k, v in e.items() if k != "t"} for e in events(runs["shared"]) if e["type"] == kind]
        theirs = [{k: v for k, v in e.items() if k != "t"} for e in events(runs["direct"]) if e["type"] == kind]
        if kind == "eval_result":
            theirs = [e for e in theirs if e["lang"] == "en"]
            mine = [e for e in mine if e["lang"] == "en"]
        assert mine == theirs, kind

    def curve(run_dir: Path) -> list[dict]:
        return [
            {k: v for k, v in e.items() if k != "t"}
            for e in events(run_dir)
            if e["type"] == "curve_point" and e["phase"].startswith("target:")
        ]

    assert curve(runs["direct"]) and curve(runs["shared"]) == curve(runs["direct"])
    en = [r for r in read_jsonl(runs["shared"] / PREDICTIONS) if r["phase"].startswith("eval:en")]
    assert en == [r for r in read_jsonl(runs["direct"] / PREDICTIONS) if r["phase"].startswith("eval:en")]


def test_results_are_identical_to_training_the_target_phase(runs):
    """The point of sharing: the same results as a run that trained its own target phase."""

    def own_rows(run_dir: Path) -> list[dict]:
        return [r for r in read_jsonl(run_dir / PREDICTIONS) if r["lang"] in LANGS]

    own, shared = own_rows(runs["own"]), own_rows(runs["shared"])
    assert own and [r["scores"] for r in own] == [r["scores"] for r in shared]
    assert own == shared
    # and the target phase the consumer reused gave the same English results as its own
    en = [r for r in read_jsonl(runs["own"] / PREDICTIONS) if r["lang"] == "en"]
    assert en == [r for r in read_jsonl(runs["shared"] / PREDICTIONS) if r["lang"] == "en"]


def test_a_checkpoint_of_another_target_key_is_refused(runs, data_dir, tmp_path):
    spec = {**SMALL, "data_dir": str(data_dir), "method": "few-shot", "few_shot_k": 4, "seed": 4}
    spec["init_target_from"] = str(runs["ckpt"])
    path = tmp_path / "other.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    proc = run_cli(["run", "--method", "few-shot", "--spec", str(path), "--out", str(tmp_path / "other")])
    assert proc.returncode != 0
    assert "init_target_from" in proc.stdout + proc.stderr and "other settings" in proc.stdout + proc.stderr
