"""Trials of writes the system refuses (issue 20): a full disk, a read-only file system, a file where
a folder should be, and a damaged status.json. Every one ends in one line of the one shape
("<problem> <path>: <what to do>", errors.path_error), exit 1 for a full disk and 2 for a path to
change, and no result is dropped.

The command line runs in-process (``cli.main``): the trials need its parsing and its one handler,
not a new interpreter."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from support.store_fixtures import make_run_dir
from support.tiny_specs import TINY_PLAN

from xcost_tui.cli import main
from xcost_tui.commands.estimate import estimate_command
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest


def _one_error_line(err: str) -> str:
    """The command's one error line: nothing else on stderr, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("xcost-tui: error: "), err
    return lines[0]


def _runs(store: Path) -> dict[str, tuple[str, int]]:
    """run_id -> (status, predictions) of what the store holds."""
    with connect_ro(store) as con:
        rows = con.execute(
            "SELECT r.run_id, r.status, (SELECT count(*) FROM predictions p WHERE p.run_id = r.run_id) FROM runs r"
        ).fetchall()
    return {rid: (status, n) for rid, status, n in rows}


def test_a_finished_run_with_a_damaged_status_json_is_ingested_from_its_events(tmp_path, capsys):
    store = tmp_path / "store"
    run = make_run_dir(store, run_id="finished")  # 12 languages x 100 items: 1,200 predictions
    make_run_dir(store, run_id="other", seed=1)
    (run / "status.json").write_text('{"status": "succ')  # cut off mid-write
    assert main(["ingest", "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    assert "ingested finished: succeeded" in out and "2 runs ingested" in out, out
    assert _runs(store)["finished"] == ("succeeded", 1200)
    warning = next(line for line in err.splitlines() if "status.json" in line)
    assert "not valid JSON" in warning and "ingested from events.jsonl, whose run_end says succeeded" in warning
    repair = warning.split("Repair the file (else a plan's next run starts this run afresh): ", 1)[1]
    assert repair.startswith("echo ") and str(run / "status.json") in repair
    subprocess.run(repair, shell=True, check=True)  # the advice, as a user follows it
    assert main(["ingest", "--store", str(store)]) == 0
    assert "status.json" not in capsys.readouterr().err
    assert _runs(store)["finished"] == ("succeeded", 1200)


def test_a_damaged_status_json_without_a_run_end_is_skipped_with_the_advice(tmp_path):
    store = tmp_path / "store"
    run = make_run_dir(store, run_id="crashed", status="running")  # no run_end: how it ended is unknown
    (run / "status.json").write_text("[]")
    report = ingest(store)
    assert report.skipped == [run] and not report.ingested
    assert any("events.jsonl has no run_end either" in w and "then `xcost-tui ingest`" in w for w in report.warnings)


def test_ingest_on_a_full_disk_says_free_space_and_exits_1(disks, capsys):
    def prepare(disk: Path) -> None:
        make_run_dir(disk / "store", run_id="first")
        ingest(disk / "store")
        for seed in range(1, 4):
            make_run_dir(disk / "store", run_id=f"later{seed}", seed=seed, n_eval=300)

    disk = disks.full("8m", prepare)
    store = disk / "store"
    assert main(["ingest", "--store", str(store)]) == 1  # the WAL's COMMIT finds the disk full
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"xcost-tui: error: no space left on {store}/"), line
    assert line.endswith(f": free space and run `xcost-tui ingest --store {store}` again"), line
    (disk / "filler").unlink()
    assert main(["ingest", "--store", str(store)]) == 0  # as the message says: nothing was lost
    assert sorted(_runs(store)) == ["first", "later1", "later2", "later3"]


def test_ingest_of_a_new_store_on_a_full_disk_says_free_space_and_exits_1(disks, capsys):
    disk = disks.full("2m", lambda d: make_run_dir(d / "store", run_id="r"))
    assert main(["ingest", "--store", str(disk / "store")]) == 1  # the database file itself cannot be made
    line = _one_error_line(capsys.readouterr().err)
    assert f"no space left on {disk / 'store'}" in line and "free space and run `xcost-tui ingest" in line, line
    (disk / "filler").unlink()
    assert main(["ingest", "--store", str(disk / "store")]) == 0, capsys.readouterr().err
    assert list(_runs(disk / "store")) == ["r"]


def test_ingest_into_a_new_folder_on_a_read_only_disk_exits_2(disks, capsys):
    store = disks.read_only() / "store"
    assert main(["ingest", "--store", str(store)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"xcost-tui: error: read-only: {store}: give --store a folder you can write to"


def test_run_out_on_a_read_only_disk_exits_2(disks, capsys):
    out = disks.read_only() / "r1"
    assert main(["run", "--out", str(out), "--method", "direct", "--model", "tiny-xlmr"]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert line == f"xcost-tui: error: read-only: {out}: give --out a folder you can write to"
    assert "run directory:" not in captured.out, "no job was started"


@pytest.mark.parametrize("home", ["read-only", "a file", "below a file"])
def test_stage_with_hf_home_read_only_or_a_file_exits_2(home, disks, tmp_path, monkeypatch, capsys, data_dir):
    if home == "read-only":
        hf, said = disks.read_only() / "hf", "read-only: {hf}"
    else:
        (tmp_path / "hf-file").write_text("not a folder")
        hf = tmp_path / "hf-file" if home == "a file" else tmp_path / "hf-file" / "cache"
        said = (
            "not a folder: {hf} is a file" if home == "a file" else "not a folder: {file} is a file, in the way of {hf}"
        )
    monkeypatch.setenv("HF_HOME", str(hf))
    assert main(["stage", "demo", "--data-dir", str(data_dir)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    problem = said.format(hf=hf, file=tmp_path / "hf-file")
    assert line == f"xcost-tui: error: {problem}: set HF_HOME to a folder you can write to"


def test_plan_estimate_on_a_read_only_store_prints_the_forecast_then_one_warning(disks, tmp_path, data_dir):
    plan = tmp_path / "tiny.toml"
    plan.write_text(TINY_PLAN)
    store = disks.read_only() / "store"
    both = io.StringIO()  # stdout and stderr in one stream: their order is what a terminal shows
    code = estimate_command(
        str(plan), data_dir=str(data_dir), device_profile="L4", store=str(store), out=both, err=both
    )
    text = both.getvalue()
    assert code == 0, text
    warnings = [line for line in text.splitlines() if line.startswith("xcost-tui: warning: ")]
    assert warnings == [
        f"xcost-tui: warning: the forecast was not saved: read-only: {store}: give --store a folder you can "
        f"write to, or use --no-save"
    ], text
    assert "forecast of plan tiny" in text and text.index("forecast of plan tiny") < text.index(warnings[0])
    assert "Traceback" not in text and not store.exists()
