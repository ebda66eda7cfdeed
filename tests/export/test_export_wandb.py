"""`xcost-tui export wandb` as a user runs it, offline: the runs read back from the offline run
files with wandb's own record format (wandb_records.py): config, summary, the report as the run's
files; a second export leaves one run folder per run, with the new values."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_store import write_runs
from support.cli import xcost
from wandb_records import read_offline_run

from xcost_tui.export.to_wandb import run_folders
from xcost_tui.store import query
from xcost_tui.store.ingest import ingest


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline and self-contained: W&B's settings, cache and staging under the test's folder, so
    nothing reads the user's ~/.config/wandb or tries the network (xcost() passes the environment on)."""
    home = tmp_path / "home"
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-default"))


def _export(store: Path, out: Path, *extra: str):
    return xcost(["export", "wandb", "--store", str(store), "--dir", str(out), *extra], 300)


def test_export_wandb_round_trips_offline_and_a_second_export_replaces(store: Path, tmp_path: Path):
    out = tmp_path / "wb"
    only = ["--where", "run_id IN ('direct-s0', 'direct-s1', 'direct-failed')"]
    proc = _export(store, out, *only)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 new, 0 updated" in proc.stdout and "wandb sync" in proc.stdout
    (folder,) = run_folders(out, "direct-s0")
    run = read_offline_run(folder)
    detail = query.run_detail(store, "direct-s0")
    target = {p["phase"]: p for p in detail["phases"]}["target:copa"]
    assert run.run_id == "direct-s0" and run.exit_code == 0
    assert run.config["method"] == "direct" and run.config["seed"] == 0 and run.config["model"] == "tiny-xlmr"
    assert run.config["hparams.learning_rate"] == detail["run"]["spec"]["hparams"]["learning_rate"]
    assert run.config["xcost.config_label"] == detail["run"]["config_label"]
    assert run.summary["accuracy/it"] == 0.61 and run.summary["accuracy/avg"] == detail["leaderboard"]["avg_accuracy"]
    assert run.summary["cost/target.copa/device_hours"] == target["device_hours"]
    assert run.summary["cost/target.copa/energy_j"] == target["energy_j"]
    assert run.summary["cost/target.copa/peak_mem_bytes"] == target["peak_mem_bytes"]
    assert {"report/report.md", "report/report.html", "report/table.tex", "xcost/spec.json"} <= set(run.files)
    assert (folder / "files" / "report" / "report.md").is_file()
    unmeasured = read_offline_run(run_folders(out, "direct-s1")[0])
    assert "cost/target.copa/energy_j" not in unmeasured.summary  # NULL in the store: not 0
    assert read_offline_run(run_folders(out, "direct-failed")[0]).exit_code == 1

    write_runs(store, it_accuracy=0.57)
    ingest(store)
    proc = _export(store, out, *only, "--no-report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 new, 3 updated" in proc.stdout
    folders = sorted((out / "wandb").glob("offline-run-*"))
    assert len(folders) == 3, folders  # one offline run per xcost run: `wandb sync` sends each once
    (again,) = run_folders(out, "direct-s0")
    assert read_offline_run(again).summary["accuracy/it"] == 0.57


def test_exports_within_one_second_still_leave_one_run_folder(store: Path, tmp_path: Path):
    """W&B names an offline folder by the second it started: an export repeated at once would find
    the earlier folder under the very name it writes. In-process, back to back, as a script would."""
    import wandb

    from xcost_tui.export.select import tracker_runs
    from xcost_tui.export.to_wandb import export_wandb

    out = tmp_path / "wb"
    (run,) = tracker_runs(store, run_ids=["direct-s0"])
    try:
        for _ in range(3):
            (done,) = export_wandb([run], out)
    finally:
        wandb.teardown()  # the wandb-core service this process started
    assert not done.created
    (folder,) = run_folders(out, "direct-s0")
    assert [p.name for p in (out / "wandb").iterdir() if "offline-run" in p.name] == [folder.name]  # none set aside
    assert read_offline_run(folder).summary["accuracy/it"] == 0.61
