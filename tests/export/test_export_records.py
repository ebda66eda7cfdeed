"""A store's run as a tracker run (export/records.py): no tracker library needed. The numbers are
read back from the store's own query API and compared with the record's."""

from __future__ import annotations

from pathlib import Path

from xcost_tui.export.records import RUN_ID_TAG, metric_key, tracker_run, wandb_run_id
from xcost_tui.export.select import tracker_runs
from xcost_tui.store import query


def test_a_run_maps_its_spec_to_params_and_its_measurements_to_metrics(store: Path):
    detail = query.run_detail(store, "direct-s0")
    run = tracker_run(detail)
    spec = detail["run"]["spec"]
    assert run.params["method"] == "direct" and run.params["model"] == spec["model"] == "tiny-xlmr"
    assert run.params["seed"] == "0" and run.config["seed"] == 0
    assert run.params["hparams.learning_rate"] == str(spec["hparams"]["learning_rate"])
    assert run.params["langs"] == "it,zh,sw" and run.config["langs"] == ["it", "zh", "sw"]
    assert run.params[RUN_ID_TAG] == "direct-s0" and run.params["xcost.config_id"] == detail["run"]["config_id"]
    assert "name" not in run.params  # a NULL setting is no value
    assert run.tags["xcost.status"] == "succeeded" and run.tags["xcost.config_label"] == detail["run"]["config_label"]
    board = detail["leaderboard"]
    assert run.metrics["accuracy/it"] == board["acc_it"] == 0.61
    assert run.metrics["accuracy/en"] == board["en_accuracy"]
    assert run.metrics["accuracy/avg"] == board["avg_accuracy"]
    assert run.metrics["run/train_device_hours"] == board["train_device_hours"]
    phases = {p["phase"]: p for p in detail["phases"]}
    target = phases["target:copa"]
    for figure in ("wall_s", "device_hours", "flops_analytic", "energy_j", "peak_mem_bytes"):
        assert run.metrics[f"cost/target.copa/{figure}"] == target[figure], figure
    assert run.metrics["cost/eval.it/device_hours"] == phases["eval:it"]["device_hours"]
    assert run.metrics["cost/inference-bench/latency_p50_s"] == phases["inference-bench"]["latency_p50_s"]
    assert run.mlflow_status == "FINISHED" and run.group == detail["run"]["config_id"]


def test_a_figure_the_store_holds_as_null_is_left_out_not_zero(store: Path):
    detail = query.run_detail(store, "direct-s1")
    unmeasured = tracker_run(detail)
    assert {p["phase"]: p for p in detail["phases"]}["target:copa"]["energy_j"] is None
    assert not any(k.endswith("/energy_j") for k in unmeasured.metrics if k.startswith("cost/target"))
    assert "cost/target.copa/mfu" not in unmeasured.metrics  # NULL with a reason in the fixture
    assert "accuracy/zh" in unmeasured.metrics  # evaluated (0.5), kept
    failed = tracker_run(query.run_detail(store, "direct-failed"))
    assert failed.mlflow_status == "FAILED" and not any(k.startswith("accuracy/") for k in failed.metrics)


def test_metric_names_and_wandb_ids_are_ones_the_trackers_accept():
    assert metric_key("cost", "eval:en#2", "wall_s") == "cost/eval.en_2/wall_s"
    assert wandb_run_id("direct-tiny-xlmr-s0-abc") == "direct-tiny-xlmr-s0-abc"
    odd = wandb_run_id("direct/xlm:r s0")
    assert odd.startswith("direct-xlm-r-s0-") and odd == wandb_run_id("direct/xlm:r s0")
    assert wandb_run_id("direct/xlm:r s1") != odd


def test_the_selection_every_run_by_id_or_where(store: Path):
    assert [r.run_id for r in tracker_runs(store)] == ["direct-failed", "direct-s0", "direct-s1", "inter-s0"]
    assert [r.run_id for r in tracker_runs(store, run_ids=["inter-s0"])] == ["inter-s0"]
    assert [r.run_id for r in tracker_runs(store, where="method = 'direct' AND status = 'succeeded'")] == [
        "direct-s0",
        "direct-s1",
    ]
