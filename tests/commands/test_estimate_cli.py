"""``xcost-tui plan estimate`` end to end: the probe on this machine, a device profile, the store, and the
headless line that compares the forecast with the runs."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from support.jobutil import run_cli
from support.tiny_specs import TINY_PLAN

from xcost_tui.store.db import connect_ro


@pytest.fixture
def tiny_plan(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_PLAN)
    return path


def test_a_profile_projection_of_a_plan_as_csv(tiny_plan, tmp_path, data_dir):
    proc = run_cli(
        [
            "plan",
            "estimate",
            str(tiny_plan),
            "--device-profile",
            "L4",
            "--format",
            "csv",
            "--data-dir",
            str(data_dir),
            "--store",
            str(tmp_path / "store"),
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["phase"] for r in rows] == ["target:copa", "eval:en", "eval:it", "inference-bench"]
    target = rows[0]
    assert target["mode"] == "profile" and target["device"] == "L4"
    assert int(target["steps"]) == 4 and int(target["examples"]) == 32
    assert float(target["flops"]) > 0 and float(target["wall_s"]) > 0 and float(target["energy_j"]) > 0
    assert target["fits"] == "True" and target["assumed"] == "False"
    assert (tmp_path / "store" / "forecasts").is_dir()
    with connect_ro(tmp_path / "store") as con:
        assert con.execute("SELECT count(*), any_value(device_profile) FROM forecasts").fetchone() == (4, "L4")
    assert "projected onto L4" in proc.stderr or "counting 1 runs" in proc.stderr


def test_an_unknown_profile_is_an_error_with_the_closest_name(tiny_plan, tmp_path):
    proc = run_cli(
        [
            "plan",
            "estimate",
            str(tiny_plan),
            "--device-profile",
            "H100-SMX",
            "--efficiency",
            "2",
            "--store",
            str(tmp_path / "store"),
        ]
    )
    assert proc.returncode == 2
    assert "efficiency" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_probe_forecast_then_the_runs_and_the_headless_line(tiny_plan, tmp_path, data_dir):
    """Probe here, run the plan, and the store compares them (FLOPs exactly; time and memory measured)."""
    store = tmp_path / "store"
    t0 = time.monotonic()
    proc = run_cli(
        ["plan", "estimate", str(tiny_plan), "--format", "json", "--data-dir", str(data_dir), "--store", str(store)]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    took = time.monotonic() - t0
    fc = json.loads(proc.stdout)
    assert fc["mode"] == "probe" and fc["device"]["type"] == "cpu"
    (run,) = fc["runs"]
    phases = {p["phase"]: p for p in run["phases"]}
    assert phases["target:copa"]["time_source"] == "probe" and phases["eval:it"]["time_source"] == "replay"
    for p in run["phases"]:
        assert p["wall_s"] > 0 and p["peak_mem_bytes"] > 0 and p["peak_mem_source"] == "procfs", p
    assert phases["target:copa"]["fits"] is True and phases["target:copa"]["max_micro_batch"] == 8
    assert fc["probes"] and all(s < 60 for s in fc["probes"][0]["phases"].values()), (took, fc["probes"])
    assert fc["env"]["torch"] and fc["env"]["device_type"] == "cpu"

    table = run_cli(
        [
            "plan",
            "estimate",
            str(tiny_plan),
            "--device-profile",
            "H100-SXM",
            "--data-dir",
            str(data_dir),
            "--store",
            str(store),
            "--phases",
        ]
    )
    assert table.returncode == 0, table.stderr[-3000:]
    assert "forecast of plan tiny" in table.stdout and "projected onto H100 SXM" in table.stdout
    assert "totals" in table.stdout and "plan wall time on 1 parallel slot" in table.stdout

    headless = run_cli(["--headless", str(tiny_plan), "--store", str(store), "--data-dir", str(data_dir)], timeout=600)
    assert headless.returncode == 0, headless.stdout[-3000:] + headless.stderr[-3000:]
    line = next((x for x in headless.stdout.splitlines() if x.startswith("forecast ")), None)
    assert line is not None, headless.stdout[-2000:]
    assert ", measured " in line and "probe forecast on" in line  # the probe's, made for this device
    with connect_ro(store) as con:
        rows = con.execute(
            "SELECT phase, flops_error, same_device FROM forecast_error WHERE kind != 'inference-bench'"
        ).fetchall()
    assert rows and all(abs(e) < 1e-9 for _, e, _ in rows)  # the count is the job's own count
    assert all(same for *_, same in rows)
    check = run_cli(["plan", "check", str(tiny_plan), "--store", str(store)])
    assert check.returncode == 0 and "warning" not in check.stdout


SHARED_PLAN = (
    TINY_PLAN
    + """
[[experiment]]
name = "few-shot"
method = "few-shot"
few_shot_k = 4
"""
)


def test_the_table_says_the_workers_the_shared_target_phases_and_the_saving(tmp_path, data_dir):
    """A direct run and a few-shot run that reuses its target phase, projected onto an H100: one warm
    worker, the shared phases, the start-up share and the saving; --process-per-run the old way."""
    path = tmp_path / "shared.toml"
    path.write_text(SHARED_PLAN)
    common = ["plan", "estimate", str(path), "--device-profile", "H100-SXM", "--data-dir", str(data_dir), "--no-save"]
    proc = run_cli([*common, "--format", "json"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    fc = json.loads(proc.stdout)
    ex = fc["execution"]
    assert ex["workers"] == 1 and not ex["process_per_run"] and "H100-SXM profile" in ex["workers_reason"]
    assert ex["shared_target_runs"] == 1 and ex["checkpoint_reads"] == 1 and ex["checkpoint_writes"] == 1
    few = next(r for r in fc["runs"] if r["method"] == "few-shot")
    shared = {p["phase"]: p["shared_from"] for p in few["phases"]}
    direct_id = next(r["run_id"] for r in fc["runs"] if r["method"] == "direct")
    assert shared["target:copa"] == shared["eval:en"] == direct_id and shared["eval:it"] is None
    old = fc["compared"][0]
    new_h = fc["totals"]["device_hours"]
    assert fc["totals"]["saving_device_hours"] == pytest.approx(old["phases_h"] + old["startup_h"] - new_h)

    table = run_cli([*common, "--workers", "2"])
    assert table.returncode == 0, table.stderr[-3000:]
    out = " ".join(table.stdout.split())  # the table wraps long lines
    assert "execution: 2 warm workers, --workers 2." in out
    assert "shared target phases: 1 run reuses another run's post-target model" in out
    assert "start-up share" in out and "saving: " in out and "against one process per run, no shared" in out

    ppr = run_cli([*common, "--process-per-run"])
    assert ppr.returncode == 0, ppr.stderr[-3000:]
    assert "execution: one process per run (2 start-ups" in " ".join(ppr.stdout.split())
    both = run_cli([*common, "--process-per-run", "--workers", "2"])
    assert both.returncode == 2 and "exclude each other" in both.stderr
