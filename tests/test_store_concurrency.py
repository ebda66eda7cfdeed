"""One writer at a time: concurrent ingests in two processes, and a store held by another process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from store_fixtures import make_run_dir
from xcost_tui.errors import StoreError
from xcost_tui.store import connect_ro, connect_rw, db
from xcost_tui.store.ingest import ingest

REPO = Path(__file__).resolve().parents[1]


def _env(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _python(code: str, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _dump(store) -> dict[str, list]:
    with connect_ro(store, timeout=10) as con:
        return {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("runs", "phases", "evals", "predictions", "samples", "events", "leaderboard")}


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
