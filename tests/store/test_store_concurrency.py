"""One writer at a time: concurrent ingests in two processes, and a store held by another process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from support.store_fixtures import make_run_dir

from xcost_tui.errors import StoreError
from xcost_tui.store import db
from xcost_tui.store.db import connect_ro, connect_rw
from xcost_tui.store.ingest import ingest

REPO = Path(__file__).resolve().parents[2]


def _env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _python(code: str, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _dump(store) -> dict[str, list]:
    with connect_ro(store, timeout=10) as con:
        return {
            t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("runs", "phases", "evals", "predictions", "samples", "events", "leaderboard")
        }


def test_two_ingests_at_once_do_not_corrupt(tmp_path):
    for i in range(6):
        make_run_dir(tmp_path, run_id=f"r{i}", seed=i, langs=["it", "zh"], n_samples=3000, n_gpus=1)
    code = f"""
        from xcost_tui.store.ingest import ingest
        r = ingest({str(tmp_path)!r}, batch_runs=1)   # open and close the store once per run: many chances to collide
        print(len(r.ingested))
    """
    procs = [_python(code, XCOST_STORE_LOCK_TIMEOUT="30") for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip() == "6"
    after = _dump(tmp_path)
    assert len(after["runs"]) == 6 and len(after["samples"]) == 6 * 3000
    assert len(after["leaderboard"]) == 6
    ingest(tmp_path)  # one more, alone: nothing changes
    assert _dump(tmp_path) == after


HOLD = """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1] if len(sys.argv) > 1 else {path!r}, read_only={ro})
    print("ready", flush=True)
    time.sleep({seconds})
    con.close()
"""


@pytest.fixture
def small_store(tmp_path):
    make_run_dir(tmp_path, run_id="r", langs=["it"])
    ingest(tmp_path)
    return tmp_path


def _hold(store, *, seconds: float, read_only: bool = False) -> subprocess.Popen:
    p = _python(HOLD.format(path=str(db.db_path(store)), ro=read_only, seconds=seconds))
    assert p.stdout.readline().strip() == "ready"
    return p


def test_locked_store_is_reported_in_words(small_store):
    holder = _hold(small_store, seconds=30)
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreError) as err:
            with connect_ro(small_store, timeout=0.5):
                pass
        assert time.monotonic() - t0 >= 0.4  # it retried before giving up
        msg = str(err.value)
        assert f"locked by another process (pid {holder.pid})" in msg and "try again" in msg
        with pytest.raises(StoreError, match=rf"locked by another process \(pid {holder.pid}\).*could not write"):
            with connect_rw(small_store, timeout=0.3):
                pass
        with pytest.raises(StoreError, match="locked by another process"):
            ingest(small_store, timeout=0.3)
    finally:
        holder.kill()
        holder.communicate()


def test_a_reader_blocks_the_writer_until_it_closes(small_store):
    holder = _hold(small_store, seconds=1.0, read_only=True)
    try:
        report = ingest(small_store, timeout=15)  # waits for the reader to go
        assert [s.run_id for s in report.ingested] == ["r"]
    finally:
        holder.communicate(timeout=30)


def test_readers_wait_for_a_short_writer(small_store):
    holder = _hold(small_store, seconds=1.0)
    try:
        with connect_ro(small_store, timeout=15) as con:
            assert con.execute("SELECT count(*) FROM runs").fetchall() == [(1,)]
    finally:
        holder.communicate(timeout=30)


def test_same_process_reader_and_writer(small_store):
    """A read-only and a read-write connection cannot coexist in one process either: the later one waits."""
    with connect_ro(small_store):
        with pytest.raises(StoreError, match="this process"):
            with connect_rw(small_store, timeout=0.2):
                pass
    with connect_rw(small_store):
        with pytest.raises(StoreError, match="this process"):
            with connect_ro(small_store, timeout=0.2):
                pass


# ---- writers queue --------------------------------------------------------------------------------

WRITER = """
    import sys, time
    from xcost_tui.store import db
    with db.connect_rw({store!r}):
        print("ready", flush=True)
        time.sleep({seconds})
"""


def _writer(store, seconds: float) -> subprocess.Popen:
    p = _python(WRITER.format(store=str(store), seconds=seconds))
    assert p.stdout.readline().strip() == "ready"
    return p


HOLDING_WRITER = """
    import sys
    from xcost_tui.store import db
    with db.connect_rw({store!r}):
        print("ready", flush=True)
        sys.stdin.readline()  # holds the write until the test says
"""


def test_a_second_ingest_waits_for_the_first(small_store):
    """Another process's write outlasts DuckDB's lock retry (0.3 s here): the ingest queues
    behind it, says so once with the writer's pid, and then runs. The first writer holds its
    write until the second has said it waits (not for a fixed time: a loaded machine may take
    longer than that to start the second)."""
    make_run_dir(small_store, run_id="r2", langs=["it"])
    first = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDING_WRITER.format(store=str(small_store)))],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "ready"
        second = _python(
            f"""
            from xcost_tui.store.ingest import ingest
            print(len(ingest({str(small_store)!r}).ingested))
        """,
            XCOST_STORE_LOCK_TIMEOUT="0.3",
        )
        assert second.stderr is not None
        said = []
        for line in second.stderr:  # ends when the second exits (it cannot before the first lets go)
            said.append(line)
            if "waiting for it to finish" in line:
                break
        first.communicate("go\n", timeout=60)
        out, err = second.communicate(timeout=120)
        err = "".join(said) + err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode == 0, err
    assert out.strip() == "2"
    assert err.count("waiting for it to finish") == 1 and f"(pid {first.pid})" in err
    assert len(_dump(small_store)["runs"]) == 2


def test_two_large_ingests_queue(tmp_path):
    """Two ingests of one big batch each, with a lock retry far shorter than a batch's write."""
    for i in range(4):
        make_run_dir(tmp_path, run_id=f"r{i}", seed=i, langs=["it", "zh"], n_samples=20000, n_gpus=2)
    code = f"""
        from xcost_tui.store.ingest import ingest
        print(len(ingest({str(tmp_path)!r}).ingested))
    """
    procs = [_python(code, XCOST_STORE_LOCK_TIMEOUT="0.05") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip() == "4"
    assert len(_dump(tmp_path)["samples"]) == 4 * 20000 * 2


def test_waiting_writer_callback_and_deadline(small_store):
    first = _writer(small_store, seconds=3.0)
    try:
        notes: list[str] = []
        with pytest.raises(StoreError, match=rf"being written by another writer \(pid {first.pid}\): gave up waiting"):
            with connect_rw(small_store, on_wait=notes.append, wait_timeout=0.3):
                pass
        assert len(notes) == 1 and f"pid {first.pid}" in notes[0] and str(db.db_path(small_store)) in notes[0]
        with connect_rw(small_store, on_wait=notes.append) as con:  # no deadline: it waits, then writes
            con.execute("CREATE TABLE queued AS SELECT 1 AS x")
        assert len(notes) == 2
    finally:
        first.communicate(timeout=30)


def test_write_lock_file_and_nesting(small_store):
    lock = db.write_lock_path(small_store)
    with connect_rw(small_store):
        assert lock.read_text().strip() == str(os.getpid())  # a waiting writer can name us
        with connect_rw(small_store, wait_timeout=0.1) as inner:  # the same thread again: no deadlock
            inner.execute("SELECT 1")
    assert lock.exists() and lock.read_text() == ""  # no stale pid for the next waiter


def test_readers_do_not_queue_behind_the_write_lock(small_store):
    """The queue is for writers; a reader only meets DuckDB's own lock, and only while a writer
    has the file open."""
    import fcntl

    with open(db.write_lock_path(small_store), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # as if a writer were queued up front, not yet open
        with connect_ro(small_store, timeout=1) as con:
            assert con.execute("SELECT count(*) FROM runs").fetchall() == [(1,)]
