"""Typed store errors (missing, locked, schema, corrupt), a damaged store file through every front
end, the app's panel for each type, and db.transaction."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from support.store_fixtures import make_run_dir, make_standard_store

from xcost_tui.cli import main
from xcost_tui.errors import StoreCorrupt, StoreError, StoreLocked, StoreMissing, StoreSchemaMismatch
from xcost_tui.store import db, query
from xcost_tui.store.ingest import ingest
from xcost_tui.tui.widgets.empty import classify

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    root = tmp_path_factory.mktemp("errors-master")
    make_standard_store(root)
    ingest(root)
    return root


def copy_store(master: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(master, to)
    return to


def truncate_half(store: Path) -> None:
    path = db.db_path(store)
    os.truncate(path, path.stat().st_size // 2)


def random_bytes(store: Path) -> None:
    path = db.db_path(store)
    path.write_bytes(os.urandom(path.stat().st_size))


DAMAGE = {"truncated": truncate_half, "random": random_bytes}


def check_corrupt_message(message: str, store: Path) -> None:
    assert f"the store {db.db_path(store)} is damaged" in message, message
    assert "Delete it" in message and f"`xcost-tui ingest --store {store}`" in message
    assert "nothing is lost" in message


# ---- the types ----------------------------------------------------------------------------------


def test_every_kind_is_a_store_error():
    for kind in (StoreMissing, StoreLocked, StoreSchemaMismatch, StoreCorrupt):
        assert issubclass(kind, StoreError)


def test_missing(tmp_path):
    with pytest.raises(StoreMissing, match="no results database at .*: run a plan, or `xcost-tui ingest --store"):
        with db.connect_ro(tmp_path):
            pass


def test_schema_mismatch(tmp_path):
    con = duckdb.connect(str(db.db_path(tmp_path)))
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    con.close()
    with pytest.raises(StoreSchemaMismatch, match="has schema version 0.*run `xcost-tui ingest` to rebuild it"):
        query.count_runs(tmp_path)
    db.db_path(tmp_path).unlink()
    duckdb.connect(str(db.db_path(tmp_path))).close()  # an empty DuckDB file: not an xcost-tui store
    with pytest.raises(StoreSchemaMismatch, match="is not an xcost-tui store"):
        query.count_runs(tmp_path)


def test_locked(tmp_path):
    make_run_dir(tmp_path, run_id="r", langs=["it"])
    ingest(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(db.db_path(tmp_path)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked, match=rf"locked by another process \(pid {holder.pid}\)"):
            with db.connect_ro(tmp_path, timeout=0.2):
                pass
        with pytest.raises(StoreLocked):
            with db.connect_rw(tmp_path, timeout=0.2):
                pass
    finally:
        holder.kill()
        holder.communicate()


# ---- a damaged store file -------------------------------------------------------------------------


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_store_through_the_query_api(master, tmp_path, damage):
    store = copy_store(master, tmp_path / "s")
    DAMAGE[damage](store)
    for ask in (
        lambda: query.leaderboard(store),
        lambda: query.count_runs(store),
        lambda: query.run_sql(store, "SELECT * FROM predictions"),
        lambda: query.schema_info(store),
        lambda: query.run_statements(store, "SELECT 1; SELECT count(*) FROM samples", 10),
    ):
        with pytest.raises(StoreCorrupt) as err:
            ask()
        check_corrupt_message(str(err.value), store)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_store_through_xcost_tui_sql(master, tmp_path, damage, capsys):
    store = copy_store(master, tmp_path / "s")
    DAMAGE[damage](store)
    for fmt in ("table", "csv"):
        assert main(["sql", "--store", str(store), "--format", fmt, "SELECT * FROM leaderboard"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("xcost-tui: error: the store ") and err.count("\n") == 1
        check_corrupt_message(err, store)


def test_damaged_store_in_a_real_process_has_no_traceback(master, tmp_path):
    store = copy_store(master, tmp_path / "s")
    truncate_half(store)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "xcost_tui",
            "sql",
            "--store",
            str(store),
            "SELECT run_id, avg_accuracy FROM leaderboard",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    check_corrupt_message(proc.stderr, store)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_store_ingest_says_so_and_the_advice_works(master, tmp_path, damage, capsys):
    store = copy_store(master, tmp_path / "s")
    before = query.count_runs(master)
    DAMAGE[damage](store)
    with pytest.raises(StoreCorrupt) as err:
        ingest(store)
    check_corrupt_message(str(err.value), store)
    db.db_path(store).unlink()  # what the message says to do
    assert main(["ingest", "--store", str(store)]) == 0
    capsys.readouterr()
    assert query.count_runs(store) == before


def test_corrupt_message_names_a_wal_to_delete(master, tmp_path):
    store = copy_store(master, tmp_path / "s")
    random_bytes(store)
    (store / "xcost.duckdb.wal").write_bytes(b"junk")
    with pytest.raises(StoreCorrupt, match=r"Delete it \(and .*xcost\.duckdb\.wal beside it\)"):
        query.count_runs(store)


def test_a_damaged_block_mid_file_is_corrupt(master, tmp_path):
    """A flipped block: the file has its full size, DuckDB's checksum catches it."""
    store = copy_store(master, tmp_path / "s")
    path = db.db_path(store)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        for offset in range(4096, size, 65536):  # every block, headers included
            fh.seek(offset)
            fh.write(os.urandom(64))
    with pytest.raises(StoreCorrupt):
        query.run_sql(store, "SELECT * FROM predictions")


# ---- the app's panel ------------------------------------------------------------------------------


def test_panel_kind_follows_the_type_not_the_words():
    assert classify(StoreMissing("x")) == "missing"
    assert classify(StoreLocked("x")) == "locked"
    assert classify(StoreSchemaMismatch("x")) == "schema"
    assert classify(StoreCorrupt("x")) == "corrupt"
    # the words of another kind do not change a plain StoreError's panel
    assert classify(StoreError("no results database at X; is locked by; schema version")) == "error"
    assert classify(ValueError("boom")) == "error"


def test_app_shows_the_corrupt_panel(master, tmp_path):
    from support.tui import make_app, run, text_of, wait_for

    store = copy_store(master, tmp_path / "s")
    truncate_half(store)

    async def go():
        app = make_app(store)
        async with app.run_test(size=(100, 24)) as pilot:
            await wait_for(
                pilot,
                lambda: (
                    app.screen.query_one("#runs-empty").display
                    and app.screen.query_one("#runs-empty").kind != "loading"
                ),
                what="the panel",
            )
            panel = app.screen.query_one("#runs-empty")
            text = text_of(panel)
            assert panel.kind == "corrupt" and "The store file is damaged" in text
            assert "xcost-tui ingest --store" in text and "nothing is lost" in text

    run(go)


# ---- db.transaction -------------------------------------------------------------------------------


class FullDisk:
    """A connection whose COMMIT fails the way DuckDB's does on a full disk: the transaction is
    already gone, so a ROLLBACK after it fails with "no transaction is active"."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.sent: list[str] = []

    def execute(self, sql: str, *args):
        self.sent.append(sql.split()[0].upper())
        if sql.strip().upper() == "COMMIT":
            self.con.execute("ROLLBACK")
            raise duckdb.IOException("IO Error: Could not write file: No space left on device")
        return self.con.execute(sql, *args)


def test_transaction_commits():
    con = duckdb.connect()
    with db.transaction(con):
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert con.execute("SELECT * FROM t").fetchall() == [(1,)]


def test_transaction_rolls_back_and_keeps_the_error():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x INT)")
    with pytest.raises(ZeroDivisionError):
        with db.transaction(con):
            con.execute("INSERT INTO t VALUES (1)")
            raise ZeroDivisionError("a failure inside the transaction")
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
    with pytest.raises(KeyboardInterrupt):  # ctrl-c inside: rolled back too
        with db.transaction(con):
            con.execute("INSERT INTO t VALUES (2)")
            raise KeyboardInterrupt
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(0,)]


def test_failed_commit_raises_the_commit_error_not_the_rollbacks():
    fake = FullDisk(duckdb.connect())
    with pytest.raises(duckdb.IOException, match="No space left on device") as err:
        with db.transaction(fake):
            fake.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert fake.sent == ["BEGIN", "CREATE", "COMMIT", "ROLLBACK"]
    assert "no transaction is active" in " ".join(getattr(err.value, "__notes__", []))  # kept, as a note


def test_create_schema_uses_the_transaction():
    real = duckdb.connect()
    fake = FullDisk(real)
    with pytest.raises(duckdb.IOException, match="No space left on device"):
        db.create_schema(fake)
    assert fake.sent[0] == "BEGIN" and fake.sent[-2:] == ["COMMIT", "ROLLBACK"]
    assert db.read_schema_version(real) is None  # nothing half-made
