"""The stress test's trials of ``xcost-tui report``, ``plan estimate --safety`` and ``plan check
--data`` (issue 20): every bad input ends in one clear message, and nothing is silently wrong."""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from support.cli import xcost
from support.store_fixtures import make_run_dir

from xcost_tui import cli
from xcost_tui.commands.estimate import estimate_command
from xcost_tui.report import write_report
from xcost_tui.store.ingest import ingest

# A --where condition that runs for minutes on any store: a cross join of ranges in a subquery.
EXPENSIVE_WHERE = "(SELECT count(*) FROM range(100000000000) a, range(10) b WHERE a.range % 7 = b.range) > 0"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Two configurations with predictions (direct, intermediate) in a store."""
    root = tmp_path_factory.mktemp("faults-report") / "store"
    for seed in (0, 1):
        make_run_dir(root, method="direct", seed=seed, langs=["it", "zh"], run_id=f"direct-s{seed}")
    ingest(root)
    return root


# ---- 3: --where ignored ctrl-c and had no time limit ---------------------------------------------


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _wait_for_the_query(pid: int, database: Path) -> None:
    """Until the query computes: the process holds the store's database open (the --where query's
    connection) and has spent CPU time since (DuckDB's threads at work), so ctrl-c comes while
    DuckDB runs, not while the connection opens. CPU time, not a sleep: the machine may be loaded."""
    proc = psutil.Process(pid)
    deadline = time.monotonic() + 120
    opened_at = None
    while time.monotonic() < deadline:
        assert proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE, "the report ended before ctrl-c"
        try:
            if opened_at is None and any(Path(f.path) == database for f in proc.open_files()):
                opened_at = _cpu_s(proc)
            if opened_at is not None and _cpu_s(proc) - opened_at >= 0.5:
                return
        except psutil.Error:
            pass
        time.sleep(0.05)
    raise AssertionError("the report's --where query never started")


def test_report_where_expensive_ctrl_c_cancels(store, tmp_path):
    """SIGINT to a real `xcost-tui report --where <expensive>`: "cancelled", exit 130, no traceback,
    at once (before, it ran on until the query ended, holding the store)."""
    out = tmp_path / "report"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xcost_tui",
            "report",
            "--store",
            str(store),
            "--out",
            str(out),
            "--where",
            EXPENSIVE_WHERE,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_the_query(proc.pid, (store / "xcost.duckdb").resolve())
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)  # before the fix: on until the query ended (hours)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "xcost-tui: report cancelled (no report was written)"
    assert stdout == ""
    assert list(out.iterdir()) == []


def test_report_where_expensive_timeout(store, tmp_path, capsys):
    """--timeout 1 stops the --where query: one line, exit 124, nothing written."""
    out = tmp_path / "report"
    code = cli.main(["report", "--store", str(store), "--out", str(out), "--where", EXPENSIVE_WHERE, "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == 124, err
    assert err.strip() == (
        "xcost-tui: error: the --where condition ran longer than --timeout 1 s and was stopped; no report was written"
    )
    assert list(out.iterdir()) == []


def test_report_where_timeout_needs_where_and_seconds(store, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["report", "--out", str(tmp_path), "--timeout", "0"])
    assert exc.value.code == 2 and "argument --timeout: must be a number of seconds > 0" in capsys.readouterr().err
    assert cli.main(["report", "--store", str(store), "--out", str(tmp_path), "--timeout", "5"]) == 2
    assert "--timeout limits the --where condition's query: give it with --where" in capsys.readouterr().err


def test_report_where_within_the_timeout(store, tmp_path, capsys):
    code = cli.main(
        ["report", "--store", str(store), "--out", str(tmp_path), "--where", "method = 'direct'", "--timeout", "60"]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "report.md").is_file()


# ---- 7: --out '' wrote 27 files into the current folder -------------------------------------------


def test_report_out_empty(store, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.md").write_text("mine")
    for given in ("", "  "):
        assert cli.main(["report", "--store", str(store), "--out", given]) == 2
        err = capsys.readouterr().err
        assert (
            err.strip() == "xcost-tui: error: --out is empty: give a folder for the report's files, e.g. --out report/"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
    assert (tmp_path / "report.md").read_text() == "mine"
    with pytest.raises(cli.XcostError, match="--out is empty"):
        write_report(store, "")


# ---- 10: the report's NULL accuracy and its suggestion for a plan file ------------------------------


def test_report_evals_without_predictions_say_why(tmp_path, capsys):
    """A store with evaluations but no per-example predictions: the accuracy is blank, and the
    report (the command's output, the Flags, the flags table) says why and what to do."""
    root = tmp_path / "store"
    for seed in (0, 1):
        make_run_dir(root, method="direct", seed=seed, langs=["it"], run_id=f"bare-s{seed}", with_predictions=False)
    ingest(root)
    out = tmp_path / "report"
    assert cli.main(["report", "--store", str(root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    why = (
        "no per-example predictions were recorded for 2 of its 2 succeeded run(s): bare-s0 (en, it), "
        "bare-s1 (en, it); the accuracy and its intervals are computed from each run's predictions.jsonl, "
        "so its accuracy is blank. Re-run them, or put their predictions.jsonl back in their run directories "
        "and `xcost-tui ingest`"
    )
    assert f"note: direct · tiny-xlmr: {why}" in printed
    md = (out / "report.md").read_text(encoding="utf-8")
    assert why in md and "A blank accuracy: its runs recorded no per-example predictions (Flags)." in md
    assert "no-predictions" in (out / "flags.csv").read_text(encoding="utf-8")


def test_report_with_predictions_has_no_such_note(store, tmp_path):
    r = write_report(store, tmp_path / "out")
    assert not [f for f in r.data.flags if f.kind == "no-predictions"]


def test_report_plan_file_suggestion_names_the_file(store, tmp_path, capsys):
    """A plan file not yet run: the suggestion runs that file, not a built-in plan of its [plan] name."""
    folder = tmp_path / "my plans"
    folder.mkdir()
    plan = folder / "mine.toml"
    plan.write_text(
        '[plan]\nname = "mine"\n[defaults]\nmodel = "tiny-xlmr"\nlangs = ["qu"]\n'
        '[[experiment]]\nname = "fs"\nmethod = "few-shot"\nfew_shot_k = 4\n'
    )
    assert cli.main(["report", str(plan), "--store", str(store), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"run the plan first (`xcost-tui --headless '{plan}' --store {store}`)" in err, err
    assert cli.main(["report", "demo", "--store", str(store), "--out", str(tmp_path / "out")]) == 2
    assert f"(`xcost-tui --headless demo --store {store}`)" in capsys.readouterr().err


# ---- 8: plan estimate --safety 0 and -1 were accepted -----------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "0.5", "nan", "inf", "x"])
def test_plan_estimate_safety_refused(value, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["plan", "estimate", "demo", "--safety", value])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "argument --safety:" in err and "at least 1" in err, err


def test_plan_estimate_safety_text_uses_the_value(tmp_path, data_dir):
    """The forecast's text names the factor given (before, --safety 0 fell back to 1.5 silently)."""
    assert cli.build_parser().parse_args(["plan", "estimate", "demo", "--safety", "2"]).safety == 2.0
    plan = tmp_path / "tiny.toml"
    plan.write_text(
        '[plan]\nname = "tiny"\n[defaults]\nmodel = "tiny-xlmr"\nlangs = ["it"]\nmax_eval_examples = 8\n'
        "[defaults.hparams]\nmax_examples = 16\nmax_steps = 2\nbatch_size = 8\nmax_seq_len = 32\n"
        '[[experiment]]\nname = "direct"\nmethod = "direct"\n'
    )
    out, err = io.StringIO(), io.StringIO()
    code = estimate_command(
        str(plan), data_dir=str(data_dir), device_profile="L4", save=False, safety=2.0, out=out, err=err
    )
    assert code == 0, err.getvalue()
    assert "suggested SLURM --time per run: the forecast x 2," in out.getvalue()


# ---- 10: plan check --data: a folder where a data file belongs ------------------------------------


def test_plan_check_data_folder_instead_of_file(tmp_path, data_dir):
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    (data / "xcopa" / "it" / "test.jsonl").unlink()
    (data / "xcopa" / "it" / "test.jsonl").mkdir()
    plan = tmp_path / "p.toml"
    plan.write_text(
        '[plan]\nname = "p"\n[defaults]\nmodel = "tiny-xlmr"\nlangs = ["it"]\neval_english = false\n'
        '[[experiment]]\nname = "direct"\nmethod = "direct"\n'
    )
    proc = xcost(["plan", "check", "--data", str(plan), "--data-dir", str(data)], 120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"the 'test' file {data}/xcopa/it/test.jsonl is a folder, not a file" in proc.stderr
    assert "does not exist" not in proc.stderr


def test_plan_check_data_dir_is_a_file(tmp_path, capsys):
    from xcost_tui.commands.plan_check import check_command

    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("")
    assert check_command("demo", data_dir=str(not_a_folder), store=str(tmp_path / "store")) == 0
    out = capsys.readouterr().out
    assert f"warning: data folder {not_a_folder} is a file, not a folder" in out
    assert "does not exist" not in out
