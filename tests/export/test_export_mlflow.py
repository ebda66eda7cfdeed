"""`xcost-tui export mlflow` as a user runs it, read back with MLflow's own client: one MLflow run
per xcost run with its params, metrics and the report as artifacts; a second export updates
those runs (a changed accuracy carries its new value) and adds none."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from export_store import write_runs
from mlflow.tracking import MlflowClient  # the `export` extra, part of `dev`: not a skip
from support.cli import xcost
from support.store_fixtures import make_run_dir

from xcost_tui import cli
from xcost_tui.export.records import RUN_ID_TAG
from xcost_tui.store import query
from xcost_tui.store.ingest import ingest


def _client(uri: str) -> MlflowClient:
    # MLflow 3 opens a file store only when told (docs/export.md): the export tells itself, this
    # reader is told here, for the whole test process (the subprocess exports get it removed)
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    return MlflowClient(tracking_uri=uri)


def _runs(uri: str) -> dict[str, Any]:
    client = _client(uri)
    experiment = client.get_experiment_by_name("xcost")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    by_id = {r.data.tags[RUN_ID_TAG]: r for r in runs}
    assert len(by_id) == len(runs), "two MLflow runs for one xcost run"
    return by_id


def test_export_mlflow_round_trips_and_a_second_export_updates(store: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # as a user has it: the export must set it
    target = tmp_path / "mlruns"
    proc = xcost(["export", "mlflow", "--store", str(store), "--to", str(target)], 300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 new, 0 updated" in proc.stdout
    uri = target.as_uri()
    runs, client = _runs(uri), _client(uri)
    assert set(runs) == {"direct-s0", "direct-s1", "inter-s0", "direct-failed"}

    direct, detail = runs["direct-s0"], query.run_detail(store, "direct-s0")
    assert direct.data.params["method"] == "direct" and direct.data.params["seed"] == "0"
    assert direct.data.params["model"] == "tiny-xlmr"
    assert float(direct.data.params["hparams.learning_rate"]) == detail["run"]["spec"]["hparams"]["learning_rate"]
    assert direct.data.tags["xcost.config_label"] == detail["run"]["config_label"]
    target_phase = {p["phase"]: p for p in detail["phases"]}["target:copa"]
    metrics = direct.data.metrics
    assert metrics["accuracy/it"] == 0.61 and metrics["accuracy/avg"] == detail["leaderboard"]["avg_accuracy"]
    assert metrics["cost/target.copa/device_hours"] == target_phase["device_hours"] == 0.02
    assert metrics["cost/target.copa/energy_j"] == target_phase["energy_j"]
    assert metrics["cost/target.copa/wall_s"] == target_phase["wall_s"]
    assert metrics["cost/target.copa/peak_mem_bytes"] == target_phase["peak_mem_bytes"]
    assert "cost/target.copa/energy_j" not in runs["direct-s1"].data.metrics  # NULL in the store: not 0
    assert direct.info.status == "FINISHED" and runs["direct-failed"].info.status == "FAILED"
    artifacts = {a.path for a in client.list_artifacts(direct.info.run_id, "report")}
    assert {"report/report.md", "report/report.html", "report/table.tex"} <= artifacts
    assert any(a.endswith(".svg") for a in artifacts)
    assert {a.path for a in client.list_artifacts(direct.info.run_id, "xcost")} == {"xcost/spec.json"}

    # the store changes (the run directory written again, re-ingested): the same runs, new values
    write_runs(store, it_accuracy=0.57)
    ingest(store)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    again = ["export", "mlflow", "--store", str(store), "--tracking-uri", uri, "--no-report"]
    proc = xcost(again, 300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 new, 4 updated" in proc.stdout
    after = _runs(uri)
    assert set(after) == set(runs)
    assert after["direct-s0"].info.run_id == direct.info.run_id
    assert after["direct-s0"].data.metrics["accuracy/it"] == 0.57


def test_export_mlflow_where_picks_runs(store: Path, tmp_path: Path, capsys):
    target = tmp_path / "mlruns"
    argv = ["export", "mlflow", "--store", str(store), "--to", str(target), "--no-report"]
    assert cli.main([*argv, "--where", "method = 'intermediate'"]) == 0
    assert set(_runs(target.as_uri())) == {"inter-s0"}
    assert cli.main([*argv, "--where", "no_such_column = 1"]) == 2
    assert "--where 'no_such_column = 1' is not a condition on the runs table" in capsys.readouterr().err


def test_runs_with_nothing_to_report_are_exported_without_the_report(tmp_path: Path, capsys):
    store, target = tmp_path / "failed-only", tmp_path / "mlruns"
    make_run_dir(store, run_id="direct-failed", langs=["it"], status="failed")  # no succeeded run: no verdict
    ingest(store)
    assert cli.main(["export", "mlflow", "--store", str(store), "--to", str(target)]) == 0
    assert "xcost-tui: note: no report attached:" in capsys.readouterr().err
    (failed,) = _runs(target.as_uri()).values()
    client = _client(target.as_uri())
    assert failed.info.status == "FAILED" and not client.list_artifacts(failed.info.run_id, "report")


def test_export_says_how_to_install_a_missing_library(store: Path, tmp_path: Path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError, as when not installed
    assert cli.main(["export", "mlflow", "--store", str(store), "--to", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "xcost-tui export mlflow needs mlflow: pip install 'xcost-tui[export]'" in err
    assert not (tmp_path / "m").exists()


def test_an_empty_store_is_said(tmp_path: Path, capsys):
    empty = tmp_path / "empty"
    (empty / "runs").mkdir(parents=True)
    ingest(empty)
    assert cli.main(["export", "mlflow", "--store", str(empty), "--to", str(tmp_path / "m")]) == 2
    assert f"the store at {empty} holds no runs: nothing to export" in capsys.readouterr().err
