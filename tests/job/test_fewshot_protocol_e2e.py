"""The few-shot protocol end to end on tiny-xlmr (issue 19), headless through the runner, the real
job and ingest, then the report: a learning-rate sweep (two rates, k = 4, Italian) records every
trial as a measured few-shot-trial phase, scores each on the same held-out validation items (none a
shot), evaluates the selected trial's model on test (its scores are those of a run trained at that
rate alone), and the store's pipeline cost counts every trial. The annotation cost, set on the
sweep's configuration and unset on the others, is stored and stated by the report."""

from __future__ import annotations

import json

import pytest
from support.cli import run_and_report, sql_rows

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fewshot_protocol_e2e")]

RATES = (1e-5, 1e-3)
SELECTION_ITEMS = 8
HOURS = 0.05  # person-hours per labelled example

PLAN = f"""
[plan]
name = "fewshot-protocol"
description = "a learning-rate sweep and single-rate runs at k = 4, tiny-xlmr, it"

[defaults]
model = "tiny-xlmr"
langs = ["it"]
eval_english = true
max_eval_examples = 12
eval_batch_size = 8

[defaults.hparams]
max_examples = 24
max_steps = 2
batch_size = 8
max_seq_len = 64

[defaults.few_shot_hparams]
recipe = "xcost-few-shot"
max_steps = 3
max_seq_len = 64

[defaults.measure]
inference_bench_examples = 2
inference_warmup = 1
curve_points = 0

[[experiment]]
name = "direct"
method = "direct"

[[experiment]]
name = "sweep"
method = "few-shot"
few_shot_k = 4
lr_sweep = [{RATES[0]}, {RATES[1]}]
lr_sweep_items = {SELECTION_ITEMS}
annotation_hours_per_example = {HOURS}

[[experiment]]
name = "lr-low"
method = "few-shot"
few_shot_k = 4
few_shot_hparams = {{ recipe = "xcost-few-shot", max_steps = 3, max_seq_len = 64, learning_rate = {RATES[0]} }}

[[experiment]]
name = "lr-high"
method = "few-shot"
few_shot_k = 4
few_shot_hparams = {{ recipe = "xcost-few-shot", max_steps = 3, max_seq_len = 64, learning_rate = {RATES[1]} }}
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory, data_dir):
    plan = tmp_path_factory.mktemp("fewshot-protocol") / "plan.toml"
    plan.write_text(PLAN, encoding="utf-8")
    store, out, _ = run_and_report(plan, data_dir, 4, no_heavy_imports=False)
    runs = {r["name"]: r for r in sql_rows(store, "SELECT * FROM runs")}
    return store, out, runs


def test_every_trial_is_a_measured_training_phase(swept):
    store, _, runs = swept
    rid = runs["sweep"]["run_id"]
    phases = sql_rows(store, f"SELECT * FROM phases WHERE run_id = '{rid}' ORDER BY ordinal")
    trials = [p for p in phases if p["kind"] == "few-shot-trial"]
    assert [p["phase"] for p in trials] == [f"few-shot:it@lr={r:g}" for r in RATES]
    assert "few-shot:it" not in {p["phase"] for p in phases}  # the sweep replaces the single phase
    for p in trials:
        assert p["completed"] and p["reused_from_run"] is None
        assert p["wall_s"] > 0 and p["flops_analytic"] > 0 and p["steps"] == 3
        info = json.loads(p["info"])
        # the selection's scoring is inside the trial: its items and FLOPs are part of the phase's
        assert info["selection_n"] == SELECTION_ITEMS and info["selection_examples"] == SELECTION_ITEMS
        assert 0 < info["selection_flops"] < p["flops_analytic"]
        assert p["examples"] == 3 * 4 + SELECTION_ITEMS  # 3 steps of the 4 shots, then the selection items
        # the same held-out items for every trial, never a shot
        assert not set(info["selection_indices"]) & set(info["few_shot_indices"])
    infos = [json.loads(p["info"]) for p in trials]
    assert infos[0]["selection_indices"] == infos[1]["selection_indices"]
    assert infos[0]["few_shot_indices"] == infos[1]["few_shot_indices"]
    assert [i["learning_rate"] for i in infos] == list(RATES)


def test_the_selection_is_recorded_and_test_uses_the_selected_trial(swept):
    store, _, runs = swept
    rid = runs["sweep"]["run_id"]
    (ev,) = sql_rows(store, f"SELECT info FROM phases WHERE run_id = '{rid}' AND phase = 'eval:it'")
    sel = json.loads(ev["info"])["lr_sweep"]
    trials = {t["learning_rate"]: t for t in sel["trials"]}
    best = max(t["correct"] for t in trials.values())
    assert sel["selected_lr"] == min(lr for lr, t in trials.items() if t["correct"] == best)  # the tie rule
    assert (
        sel["selection_items"] == SELECTION_ITEMS and sel["selected_phase"] == f"few-shot:it@lr={sel['selected_lr']:g}"
    )
    # a trial differs from a run trained at its rate alone by nothing: same seed, order and shots, so
    # the selected model's test scores are the single-rate run's
    alone = runs["lr-low" if sel["selected_lr"] == RATES[0] else "lr-high"]["run_id"]

    def scores(run_id: str) -> dict[int, list[float]]:
        rows = sql_rows(store, f"SELECT idx, scores FROM predictions WHERE run_id = '{run_id}' AND phase = 'eval:it'")
        return {r["idx"]: r["scores"] for r in rows}

    mine, theirs = scores(rid), scores(alone)
    assert mine.keys() == theirs.keys() and len(mine) == 12
    for idx, s in mine.items():
        assert s == pytest.approx(theirs[idx], abs=1e-5)
    other = runs["lr-high" if alone == runs["lr-low"]["run_id"] else "lr-low"]["run_id"]
    assert scores(other) != mine  # the other rate's model gives other scores


def test_the_pipeline_cost_counts_every_trial(swept):
    store, _, runs = swept
    rid, direct = runs["sweep"]["run_id"], runs["direct"]["run_id"]
    (lb,) = sql_rows(store, f"SELECT * FROM leaderboard WHERE run_id = '{rid}'")
    trials = sql_rows(store, f"SELECT * FROM phases WHERE run_id = '{rid}' AND kind = 'few-shot-trial'")
    (target,) = sql_rows(store, f"SELECT * FROM phases WHERE run_id = '{direct}' AND phase = 'target:copa'")
    # the run's own training is its trials; its full pipeline adds the target phase it reused
    assert lb["own_train_flops"] == pytest.approx(sum(p["flops_analytic"] for p in trials))
    assert lb["own_train_device_hours"] == pytest.approx(sum(p["device_hours"] for p in trials))
    assert lb["train_flops"] == pytest.approx(target["flops_analytic"] + sum(p["flops_analytic"] for p in trials))
    assert lb["train_device_hours"] == pytest.approx(target["device_hours"] + sum(p["device_hours"] for p in trials))
    # a single-rate run trains once: the sweep's own training is more than either single run's
    for name in ("lr-low", "lr-high"):
        (one,) = sql_rows(store, f"SELECT own_train_flops FROM leaderboard WHERE run_id = '{runs[name]['run_id']}'")
        assert lb["own_train_flops"] > one["own_train_flops"]


def test_annotation_cost_set_and_unset(swept):
    store, _, runs = swept
    sweep = runs["sweep"]
    assert sweep["lr_sweep"] == list(RATES)
    assert sweep["annotated_examples"] == 4 + SELECTION_ITEMS  # k shots of it, plus its selection items
    assert sweep["annotation_hours_per_example"] == HOURS
    assert sweep["annotation_hours"] == pytest.approx((4 + SELECTION_ITEMS) * HOURS)
    for name in ("lr-low", "lr-high"):
        assert runs[name]["annotated_examples"] == 4 and runs[name]["annotation_hours"] is None
        assert runs[name]["lr_sweep"] == []
    assert runs["direct"]["annotated_examples"] is None and runs["direct"]["lr_sweep"] is None
    (cfg,) = sql_rows(store, f"SELECT annotation_hours FROM configurations WHERE config_id = '{sweep['config_id']}'")
    assert cfg["annotation_hours"] == pytest.approx((4 + SELECTION_ITEMS) * HOURS)
    (lb,) = sql_rows(
        store, f"SELECT annotation_hours, annotated_examples FROM leaderboard WHERE run_id = '{sweep['run_id']}'"
    )
    assert lb["annotated_examples"] == 4 + SELECTION_ITEMS


def test_the_report_states_the_protocol_and_the_annotation_boundary(swept):
    _, out, _ = swept
    md = (out / "report.md").read_text(encoding="utf-8")
    # two single-rate configurations unset, the sweep's set: both sentences, each naming its configurations
    assert "The cost of annotating the k target-language examples is outside every figure of" in md
    assert "Annotation cost of" in md and f"× {HOURS:g} person-hours per example" in md
    assert "never added to device-hours" in md
    assert "Learning-rate sweep (1 configuration(s); rates 1e-05, 0.001)" in md
    assert "ties: the smallest rate" in md
    assert "annotation person-hours" in md  # the cost column, shown since a configuration prices it
