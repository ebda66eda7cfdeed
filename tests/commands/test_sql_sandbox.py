"""User SQL cannot write or read files: every attack of the stress test, through `xcost-tui sql`,
the query API and the app, is refused with a message and leaves every file as it was."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pytest
from support.store_fixtures import make_standard_store

from xcost_tui.cli import main
from xcost_tui.commands.sql import sql_command
from xcost_tui.store import db, query
from xcost_tui.store.ingest import ingest

QUERIES = Path(__file__).resolve().parents[2] / "store" / "queries"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox") / "store"
    make_standard_store(root)
    ingest(root)
    return root


@pytest.fixture(scope="module")
def pristine(store):
    """The store's files as ingest left them, before any attack."""
    return tree(store)


@pytest.fixture
def outside(tmp_path, store):
    """A directory outside the store, with a DuckDB file and a CSV file that are not the store's,
    and a hard link to the store's file (DuckDB cannot tell it is the store)."""
    os.link(db.db_path(store), tmp_path / "link.duckdb")
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    other.execute("CREATE TABLE secret AS SELECT 42 AS x")
    other.close()
    (tmp_path / "notes.csv").write_text("secret,value\nkey,42\n")
    return tmp_path


def tree(*roots: Path) -> dict[str, tuple[int, str]]:
    """Every file under the roots: size and hash (so a write anywhere shows)."""
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[str(p)] = (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def events_file(store: Path) -> Path:
    return store / "runs" / "direct-s0" / "events.jsonl"


def attacks(store: Path, outside: Path) -> dict[str, str]:
    ev = events_file(store)
    return {
        "copy-to-new-file": f"COPY (SELECT 1 AS a) TO '{outside / 'out.csv'}'",
        "copy-over-events": f"COPY (SELECT 'x' AS junk) TO '{ev}' (FORMAT json)",
        "copy-over-the-store": f"COPY (SELECT 1 AS a) TO '{db.db_path(store)}' (FORMAT csv)",
        "copy-over-the-store-wal": f"COPY (SELECT 1 AS a) TO '{db.db_path(store)}.wal' (FORMAT csv)",
        "copy-over-a-hard-link-to-the-store": f"COPY (SELECT 1 AS a) TO '{outside / 'link.duckdb'}' (FORMAT csv)",
        "attach-new-file": f"ATTACH '{outside / 'new.duckdb'}' AS n",
        "attach-new-file-read-write": f"ATTACH '{outside / 'new.duckdb'}' AS n (READ_WRITE)",
        "attach-new-file-read-only-false": f"ATTACH '{outside / 'new.duckdb'}' AS n (READ_ONLY false)",
        "attach-the-store-read-write": f"ATTACH '{db.db_path(store)}' AS again (READ_WRITE)",
        "attach-other-db": f"ATTACH '{outside / 'other.duckdb'}' AS o",
        "export-database": f"EXPORT DATABASE '{outside / 'export'}'",
        "pragma-profile-output": f"PRAGMA profile_output = '{outside / 'profile.json'}'",
        "set-profile-output": f"SET profile_output = '{outside / 'profile.json'}'",
        "enable-profiling": "PRAGMA enable_profiling = 'json'",
        "log-query-path": f"SET log_query_path = '{outside / 'queries.log'}'",
        "read-csv-passwd": "SELECT * FROM read_csv('/etc/passwd')",
        "read-text-passwd": "SELECT * FROM read_text('/etc/passwd')",
        "read-text-outside": f"SELECT * FROM read_text('{outside / 'notes.csv'}')",
        "read-json-run-file": f"SELECT * FROM read_json_auto('{ev}')",
        "replacement-scan": f"SELECT * FROM '{outside / 'notes.csv'}'",
        "glob": "SELECT * FROM glob('/etc/*')",
        "unlock-external-access": "SET enable_external_access = true",
        "unlock-configuration": "SET lock_configuration = false",
        "temp-directory": f"SET temp_directory = '{outside / 'tmp'}'",
        "install": "INSTALL httpfs",
        "load": "LOAD httpfs",
        "write-a-table": "CREATE TABLE pwned AS SELECT 1",
        "delete-rows": "DELETE FROM runs",
    }


ATTACKS = sorted(attacks(Path("s"), Path("o")))
# Refused by the sandbox (the message then says what to do instead), or by DuckDB's read-only mode.
SANDBOX = (
    "Permission Error",
    "the configuration has been locked",
    "belongs to an attached database",
    "disabled through configuration",
)
REFUSED = SANDBOX + ("read-only", "is already attached")


def _check_refused(message: str, name: str) -> None:
    assert any(r in message for r in REFUSED), f"{name}: {message}"
    if any(r in message for r in SANDBOX):
        assert "cannot read or write files" in message and "--output FILE" in message, message


@pytest.mark.parametrize("name", ATTACKS)
def test_cli_refuses_and_changes_nothing(store, pristine, outside, name, capsys):
    sql = attacks(store, outside)[name]
    before = tree(store, outside)
    assert main(["sql", "--store", str(store), sql]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xcost-tui: error: ") and "Traceback" not in err
    _check_refused(err, name)
    assert tree(store, outside) == before  # nothing created, nothing changed
    assert not (outside / "out.csv").exists() and not (outside / "new.duckdb").exists()
    assert not (outside / "export").exists() and not (outside / "profile.json").exists()


@pytest.mark.parametrize("name", ATTACKS)
def test_query_api_refuses_and_changes_nothing(store, pristine, outside, name):
    sql = attacks(store, outside)[name]
    before = tree(store, outside)
    with pytest.raises(query.SqlError) as err:
        query.run_sql(store, sql)
    _check_refused(str(err.value), name)
    with pytest.raises(query.SqlError):
        with query.sql_reader(store, sql) as reader:
            reader.read_all()
    assert tree(store, outside) == before


def test_profiling_leaves_no_file_after_a_query(store, outside):
    """Even a query after the refused PRAGMA, on the same connection, writes no profile."""
    sql = f"PRAGMA profile_output = '{outside / 'p.json'}'; SELECT count(*) FROM runs"
    with pytest.raises(query.SqlError, match="configuration has been locked"):
        query.run_statements(store, sql, 10)
    assert not (outside / "p.json").exists()


def test_the_store_survives_the_attacks(store, pristine, outside, capsys):
    for sql in attacks(store, outside).values():
        sql_command(store, sql)
    capsys.readouterr()
    assert tree(store) == pristine
    with db.connect_ro(store) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(6,)]
        assert "pwned" not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}


@pytest.mark.parametrize(
    "view",
    [
        "leaderboard",
        "lang_accuracy",
        "cost_vs_accuracy",
        "pareto",
        "runs",
        "phases",
        "evals",
        "predictions",
        "samples",
        "events",
        "meta",
    ],
)
def test_normal_views_still_work(store, view, capsys):
    assert sql_command(store, f"SELECT * FROM {view} LIMIT 3", fmt="json") == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("path", sorted(QUERIES.glob("*.sql")), ids=lambda p: p.name)
def test_example_queries_run_sandboxed(store, path):
    assert query.run_sql(store, path.read_text()).num_rows > 0


def test_temp_tables_and_variables_are_allowed(store):
    """In-memory, per-connection state is fine: it writes no file and is gone when the query ends."""
    results = query.run_statements(
        store,
        "CREATE TEMP TABLE t AS SELECT run_id FROM runs; "
        "SET VARIABLE n = (SELECT count(*) FROM t); SELECT getvariable('n') AS n",
        5,
    )
    assert results[-1].table.to_pylist() == [{"n": 6}]
    with pytest.raises(query.SqlError, match="t does not exist"):
        query.run_sql(store, "SELECT * FROM t")


def test_sandbox_is_locked_on_the_connection(store):
    with db.connect_user_sql(store) as con:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('enable_external_access', 'lock_configuration')"
            ).fetchall()
        )
        assert settings == {"enable_external_access": "false", "lock_configuration": "true"}
        assert con.execute("SELECT count(*) FROM leaderboard").fetchall() == [(6,)]


def test_app_readers_and_user_sql_share_the_process(store):
    """DuckDB refuses a second configuration for one file in one process: the app's readers
    (connect_ro) run while a user query is open on connect_user_sql."""
    with db.connect_user_sql(store) as con:
        assert query.count_runs(store) == 6
        assert query.leaderboard(store, limit=2).num_rows == 2
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(6,)]


def test_app_sql_screen_is_sandboxed(store, outside):
    from support.tui import make_app, run, runs_ready, wait_for

    ev = events_file(store)
    before = tree(store, outside)

    async def go():
        app = make_app(store)
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("5")
            screen = app.screen
            for sql in (
                f"COPY (SELECT 1) TO '{ev}'",
                f"COPY (SELECT 1) TO '{outside / 'x.csv'}'",
                "SELECT * FROM read_text('/etc/passwd')",
                f"ATTACH '{outside / 'n.duckdb'}' AS n",
                "SET enable_external_access = true",
            ):
                done = screen.done
                screen.set_sql(sql)
                await pilot.press("ctrl+r")
                await wait_for(pilot, lambda done=done: screen.done > done, what=sql)
                assert screen.last_error and any(r in screen.last_error for r in REFUSED), screen.last_error
            # and the console still answers
            done = screen.done
            screen.set_sql("SELECT count(*) AS n FROM leaderboard")
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen.done > done)
            assert screen.last_error is None and screen.result_rows == 1

    run(go)
    assert tree(store, outside) == before


def test_app_shows_each_statement_and_flips_between_them(store):
    from support.tui import make_app, run, runs_ready, text_of, wait_for

    async def go():
        app = make_app(store)
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("5")
            screen = app.screen
            screen.set_sql("SELECT run_id FROM runs ORDER BY run_id; SELECT 'a;b' AS s; SET VARIABLE v = 1")
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen.done >= 1, what="the query")
            await pilot.pause()
            assert screen.last_error is None and len(screen.results) == 3
            status = text_of(screen.query_one("#sql-status"))
            assert "result 1 of 3: SELECT run_id FROM runs ORDER BY run_id" in status and "6 rows" in status
            await pilot.press("escape", "]")  # leave the editor; ] shows the next result
            await pilot.pause()
            assert screen.shown == 1 and screen.query_one("#sql-results").rows == [["a;b"]]
            assert "result 2 of 3" in text_of(screen.query_one("#sql-status"))
            await pilot.press("]", "]")  # round to the first again
            await pilot.pause()
            assert screen.shown == 0 and screen.result_rows == 6
            await pilot.press("[")
            await pilot.pause()
            assert screen.shown == 2
            # one statement: the status line is as it always was
            done = screen.done
            screen.set_sql("SELECT 1 AS one")
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen.done > done)
            await pilot.pause()
            assert text_of(screen.query_one("#sql-status")).startswith("1 row in ")

    run(go)
