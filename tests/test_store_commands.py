"""`xcost-tui ingest` and `xcost-tui sql`."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from store_fixtures import make_run_dir, make_standard_store
from xcost_tui.cli import main
from xcost_tui.store.commands import ingest_command, sql_command


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

    code = ("import sys, xcost_tui.store.query, xcost_tui.store.ingest, xcost_tui.store.commands; "
            "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
