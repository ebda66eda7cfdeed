"""`xcost-tui ingest` and `xcost-tui sql`."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support.store_fixtures import make_run_dir, make_standard_store

from xcost_tui.cli import main
from xcost_tui.commands.ingest import ingest_command
from xcost_tui.commands.sql import sql_command


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmd")
    make_standard_store(root)
    assert ingest_command(root, []) == 0
    return root


def test_ingest_command_prints_a_line_per_run(tmp_path, capsys):
    make_run_dir(tmp_path, run_id="a", langs=["it"])
    make_run_dir(tmp_path, run_id="b", langs=["it"], status="running", truncate=["events.jsonl"])
    assert main(["ingest", "--store", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    lines = [ln for ln in out.splitlines() if ln.startswith("ingested ")]
    assert len(lines) == 2
    assert lines[0].startswith("ingested a: succeeded") and "avg accuracy 0.5000 over 1 languages" in lines[0]
    assert "2 runs ingested" in out and "store (re)built" in out
    assert "warning:" in err and "events.jsonl: skipped 1 malformed line" in err


def test_ingest_command_named_dirs_and_missing(tmp_path, capsys):
    run = make_run_dir(tmp_path, run_id="a", langs=["it"])
    assert ingest_command(tmp_path, [run]) == 0
    assert ingest_command(tmp_path, [tmp_path / "nope"]) == 1
    assert "not a run directory" in capsys.readouterr().err


def test_ingest_command_empty_store(tmp_path, capsys):
    assert ingest_command(tmp_path, []) == 0
    assert "no run directories under" in capsys.readouterr().out


def test_sql_table(store, capsys):
    assert sql_command(store, "SELECT run_id, avg_accuracy, intermediate FROM leaderboard ORDER BY run_id") == 0
    out = capsys.readouterr().out
    assert "direct-s0" in out and "avg_accuracy" in out and "NULL" in out and "6 rows" in out


def test_sql_table_caps_rows(store, capsys, monkeypatch):
    monkeypatch.setenv("XCOST_SQL_MAX_ROWS", "5")
    assert main(["sql", "--store", str(store), "SELECT * FROM predictions"]) == 0
    out = capsys.readouterr().out
    assert "not shown (the first 5 are)" in out
    total = 1200 * 3 + 300 + 200
    assert f"{total:,} rows; {total - 5:,} not shown" in out


def test_sql_bad_query_prints_duckdb_message(store, capsys):
    assert sql_command(store, "SELEC * FROM runs") == 1
    err = capsys.readouterr().err
    assert "Parser Error" in err and "SELEC" in err
    assert sql_command(store, "SELECT * FROM no_such_table") == 1
    assert "no_such_table" in capsys.readouterr().err


def test_sql_cannot_write(store, capsys):
    assert main(["sql", "--store", str(store), "DROP TABLE runs"]) == 1
    err = capsys.readouterr().err
    assert 'Cannot execute statement of type "DROP"' in err and "read-only" in err
    assert sql_command(store, "SELECT count(*) AS n FROM runs", fmt="json") == 0
    assert json.loads(capsys.readouterr().out) == {"n": 6}


def test_sql_csv_stdout_and_file(store, capsys, tmp_path):
    q = "SELECT run_id, langs, avg_accuracy, runs.started FROM runs JOIN leaderboard USING (run_id) ORDER BY run_id"
    assert sql_command(store, q, fmt="csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 6 and rows[0]["run_id"] == "direct-failed"
    assert json.loads(rows[0]["langs"])[0] == "et"  # lists become JSON text
    out = tmp_path / "x.csv"
    assert sql_command(store, q, fmt="csv", output=str(out)) == 0
    assert out.read_text().splitlines()[0].replace('"', "") == "run_id,langs,avg_accuracy,started"
    assert sql_command(store, "SELECT * FROM runs WHERE false", fmt="csv", output=str(out)) == 0
    assert out.read_text().startswith('"run_id"')


def test_sql_json_lines(store, capsys):
    assert sql_command(store, "SELECT run_id, langs, started, spec FROM runs ORDER BY run_id", fmt="json") == 0
    lines = capsys.readouterr().out.splitlines()
    objs = [json.loads(ln) for ln in lines]
    assert len(objs) == 6 and objs[0]["langs"][0] == "et" and isinstance(objs[0]["started"], str)


def test_sql_parquet_needs_output(store, capsys, tmp_path):
    assert sql_command(store, "SELECT * FROM samples", fmt="parquet") == 2
    assert "--output" in capsys.readouterr().err
    out = tmp_path / "s.parquet"
    assert main(["sql", "--store", str(store), "SELECT * FROM samples", "--format", "parquet", "-o", str(out)]) == 0
    t = pq.read_table(out)
    assert t.num_rows == 6 * 20 and "gpu_index" in t.column_names


def test_sql_missing_store(tmp_path, capsys):
    assert sql_command(tmp_path, "SELECT 1") == 2
    assert "no results database" in capsys.readouterr().err


def test_store_never_imports_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys, xcost_tui.store.query, xcost_tui.store.ingest, xcost_tui.commands.ingest, xcost_tui.commands.sql; "
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---- several statements -------------------------------------------------------------------------


def test_sql_several_statements_print_each_titled(store, capsys):
    assert sql_command(store, "SELECT count(*) AS n_runs FROM runs; SELECT 'a;b' AS s, 2 AS two;") == 0
    out = capsys.readouterr().out
    assert out.startswith("SELECT count(*) AS n_runs FROM runs\n")  # each result under its statement
    assert "\nSELECT 'a;b' AS s, 2 AS two\n" in out
    assert out.index("n_runs") < out.index("a;b")  # in order
    assert "a;b" in out and out.count("1 row") == 2


def test_sql_statements_share_one_connection(store, capsys):
    assert sql_command(store, "SET VARIABLE k = 41; SELECT getvariable('k') + 1 AS answer") == 0
    out = capsys.readouterr().out
    assert out.startswith("SET VARIABLE k = 41\n") and "\nSELECT getvariable('k') + 1 AS answer\n" in out
    assert "42" in out


def test_sql_one_statement_has_no_title(store, capsys):
    assert sql_command(store, "SELECT 'x;y' AS s -- a ; in a comment") == 0
    out = capsys.readouterr().out
    assert "x;y" in out and "SELECT" not in out and "1 row" in out


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_sql_several_statements_refused_for_one_result_formats(store, capsys, tmp_path, fmt):
    out = tmp_path / f"x.{fmt}"
    assert sql_command(store, "SELECT 1; SELECT 2; SELECT 3", fmt=fmt, output=str(out)) == 2
    err = capsys.readouterr().err
    assert f"--format {fmt} writes one result, and the query has 3 statements" in err
    assert not out.exists()


def test_sql_nothing_to_run(store, capsys):
    assert sql_command(store, "-- just a comment\n ; ") == 1
    assert "no SQL statement to run" in capsys.readouterr().err


def test_sql_syntax_error_in_a_later_statement_runs_nothing(store, capsys):
    assert sql_command(store, "SELECT 1 AS first; SELEC 2") == 1
    out, err = capsys.readouterr()
    assert "Parser Error" in err and "first" not in out


def test_sql_failed_file_write_leaves_the_old_file(store, capsys, tmp_path):
    out = tmp_path / "old.csv"
    out.write_text("keep me\n")
    assert sql_command(store, "SELECT * FROM no_such_table", fmt="csv", output=str(out)) == 1
    capsys.readouterr()
    assert out.read_text() == "keep me\n" and [p.name for p in tmp_path.iterdir()] == ["old.csv"]


# ---- ctrl-c and --timeout -----------------------------------------------------------------------

SLOW = "SELECT count(*) FROM range(100000000000) a, range(10) b WHERE a.range % 7 = b.range"


def test_sql_timeout_stops_the_query(store, capsys):
    t0 = time.monotonic()
    assert sql_command(store, SLOW, timeout_s=0.5) == 124
    assert time.monotonic() - t0 < 10
    err = capsys.readouterr().err
    assert "ran longer than --timeout 0.5 s and was stopped" in err and "Traceback" not in err


def test_sql_timeout_of_a_streamed_result_writes_no_file(store, capsys, tmp_path):
    out = tmp_path / "big.csv"
    assert sql_command(store, "SELECT * FROM range(100000000000)", fmt="csv", output=str(out), timeout_s=0.5) == 124
    assert f"{out} was not written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_sql_fast_query_within_the_timeout(store, capsys):
    assert sql_command(store, "SELECT count(*) AS n FROM runs", fmt="json", timeout_s=30) == 0
    assert json.loads(capsys.readouterr().out) == {"n": 6}
    assert sql_command(store, "SELECT 1", timeout_s=0) == 2
    assert "--timeout" in capsys.readouterr().err


def test_sql_ctrl_c_cancels_the_query(store):
    """SIGINT to a real `xcost-tui sql` process: one line, exit 130, no traceback, at once."""
    import signal
    import subprocess
    import sys

    import psutil

    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "xcost_tui", "sql", "--store", str(store), SLOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # The query runs in a worker thread beside the main one and DuckDB's own: wait for them.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and psutil.Process(proc.pid).num_threads() < 3:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 130, err
    assert err.strip() == "xcost-tui: query cancelled"
    assert out == ""
