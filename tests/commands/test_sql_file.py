"""``xcost-tui sql --file``: a file of SQL, or a shipped query (store/queries/*.sql) by its name,
run as the inline query is (read-only, sandboxed); a file that cannot be read is one message, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import xcost
from support.store_fixtures import make_standard_store

from xcost_tui.cli import build_parser, main
from xcost_tui.commands.queries import shipped_queries
from xcost_tui.commands.sql import sql_command
from xcost_tui.store.ingest import ingest

QUERIES = Path(__file__).resolve().parents[2] / "store" / "queries"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("sqlfile") / "store"
    make_standard_store(root)
    ingest(root)
    return root


def _json_rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("path", sorted(QUERIES.glob("*.sql")), ids=lambda p: p.stem)
def test_every_shipped_query_runs_by_its_name(store, path, capsys):
    assert path.stem in shipped_queries(store)
    rc = sql_command(store, None, fmt="json", query_file=path.stem)
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert _json_rows(out), f"{path.name} returned no rows on the fixture store"


def test_a_path_and_a_name_with_its_suffix(store, tmp_path, capsys):
    mine = tmp_path / "two.sql"
    mine.write_text("-- two statements\nSELECT count(*) AS n FROM runs;\nSELECT 7 AS seven;\n")
    assert main(["sql", "--store", str(store), "--file", str(mine)]) == 0
    out = capsys.readouterr().out
    assert "SELECT count(*) AS n FROM runs" in out and "seven" in out, "each statement printed under its title"
    assert main(["sql", "--store", str(store), "--format", "json", "-f", "leaderboard.sql"]) == 0
    assert len(_json_rows(capsys.readouterr().out)) == 6


def test_the_store_s_own_queries_folder_comes_first(store, tmp_path, capsys):
    own = tmp_path / "own"
    (own / "queries").mkdir(parents=True)
    (own / "queries" / "leaderboard.sql").write_text("SELECT 'mine' AS whose")
    (own / "queries" / "extra.sql").write_text("SELECT 1 AS one")
    found = shipped_queries(own)
    assert found["leaderboard"] == own / "queries" / "leaderboard.sql"
    assert "extra" in found and "pareto" in found  # the checkout's shipped queries too


def test_a_missing_file_names_it_and_the_shipped_queries(store, capsys):
    rc = sql_command(store, None, query_file="leaderbord")
    err = capsys.readouterr().err
    assert rc == 2
    assert "--file leaderbord: no such file" in err and "leaderboard" in err and "pareto" in err, err
    assert "Traceback" not in err


def test_a_folder_or_a_binary_file_is_one_message(store, tmp_path, capsys):
    assert sql_command(store, None, query_file=str(tmp_path)) == 2
    assert "is a folder" in capsys.readouterr().err
    binary = tmp_path / "q.sql"
    binary.write_bytes(b"\xff\xfe SELECT 1")
    assert sql_command(store, None, query_file=str(binary)) == 2
    assert "is not UTF-8 text" in capsys.readouterr().err


def test_an_error_in_a_file_names_the_file(store, tmp_path, capsys):
    bad = tmp_path / "bad.sql"
    bad.write_text("SELEC 1")
    assert sql_command(store, None, query_file=str(bad)) == 1
    assert f"--file {bad}: " in capsys.readouterr().err


def test_a_file_stays_in_the_sandbox(store, tmp_path, capsys):
    target = tmp_path / "leak.csv"
    attack = tmp_path / "attack.sql"
    attack.write_text(f"COPY (SELECT * FROM runs) TO '{target}' (FORMAT csv);")
    assert sql_command(store, None, query_file=str(attack)) == 1
    assert not target.exists()
    assert capsys.readouterr().err.strip()


def test_a_query_and_a_file_exclude_each_other():
    parser = build_parser()
    with pytest.raises(SystemExit) as both:
        parser.parse_args(["sql", "SELECT 1", "--file", "leaderboard"])
    assert both.value.code == 2
    with pytest.raises(SystemExit) as neither:
        parser.parse_args(["sql"])
    assert neither.value.code == 2
    assert parser.parse_args(["sql", "--file", "pareto"]).query is None


def test_sql_file_from_the_command_line(store):
    """As a user types it: a shipped query by name, its rows on stdout, no DuckDB CLI needed."""
    proc = xcost(["sql", "--store", str(store), "--format", "csv", "--file", "pareto"], 120)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) >= 2, proc.stdout
    proc = xcost(["sql", "--store", str(store), "--file", "no/such.sql"], 120)
    assert proc.returncode == 2 and "xcost-tui: error: --file no/such.sql: no such file" in proc.stderr
    help_text = xcost(["sql", "--help"], 60).stdout
    assert "leaderboard" in " ".join(help_text.split()) and "--file" in help_text


def test_an_installed_wheel_carries_the_shipped_queries(tmp_path):
    """`sql --file leaderboard` must work where the package is installed from a wheel, not a
    checkout: setup.py copies store/queries/*.sql into the wheel's xcost_tui/queries/."""
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(root),
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("xcost_tui-*.whl")
    inside = {Path(name).name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("xcost_tui/queries/")}
    shipped = {f.name for f in (root / "store" / "queries").glob("*.sql")}
    assert shipped and inside == shipped
