"""Opening the results database: one writer at a time, briefly; readers read-only.

DuckDB locks the database file per process: while one process has it open read-write, no
other process can open it at all, not even read-only; while processes hold it read-only, no
process can open it read-write. Within one process, a read-only and a read-write connection
cannot coexist either. So every connection here is short (one ingest batch, one query), and
opening retries with backoff for a few seconds before it gives up with a clear
``StoreError``. Never keep a connection open while waiting for a person.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
import time
from pathlib import Path
from typing import Iterator

import duckdb

from ..errors import StoreError
from . import schema

DB_NAME = "xcost.duckdb"
RUNS_DIR = "runs"
LOCK_TIMEOUT_ENV = "XCOST_STORE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 5.0

# One read-write connection per process at a time (threads of the app queue here).
_WRITE_LOCK = threading.RLock()


def db_path(store_root: Path | str) -> Path:
    return Path(store_root) / DB_NAME


def runs_dir(store_root: Path | str) -> Path:
    return Path(store_root) / RUNS_DIR


def _lock_timeout(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    try:
        return float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_S))
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT_S


def _is_busy(exc: Exception) -> bool:
    """True for the errors that mean "someone else has the file open right now"."""
    text = str(exc)
    if isinstance(exc, duckdb.IOException) and ("lock" in text.lower()):
        return True
    # The same process already holds the file with the other access mode (read-only vs read-write).
    return isinstance(exc, duckdb.ConnectionException) and "different configuration" in text


def _busy_message(path: Path, exc: Exception, waited: float, reading: bool) -> str:
    match = re.search(r"PID (\d+)", str(exc))
    who = f"another process (pid {match.group(1)})" if match else (
        "this process (another connection is open)" if isinstance(exc, duckdb.ConnectionException) else "another process")
    what = "read" if reading else "write to"
    return (f"the store {path} is locked by {who}: could not {what} it for {waited:.0f} s. "
            f"Close it (an ingest, an open `duckdb` shell, the app) or try again; "
            f"{LOCK_TIMEOUT_ENV} sets how long to wait. DuckDB said: {exc}")


def _open(path: Path, *, read_only: bool, timeout: float | None) -> duckdb.DuckDBPyConnection:
    deadline_s = _lock_timeout(timeout)
    start = time.monotonic()
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_busy(exc):
                raise StoreError(f"cannot open the store {path}: {exc}") from None
            waited = time.monotonic() - start
            if waited >= deadline_s:
                raise StoreError(_busy_message(path, exc, waited, read_only)) from None
            time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline_s - waited)))
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open the store {path}: {exc}") from None


def read_schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The store's schema version, or None when the file holds no xcost-tui store."""
    try:
        rows = con.execute("SELECT value FROM main.meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:  # no meta table
        return None
    except duckdb.BinderException:  # a meta table of some other shape
        return None
    try:
        return int(rows[0][0]) if rows else None
    except (TypeError, ValueError):
        return None


def _mismatch_message(path: Path, found: int | None) -> str:
    have = f"has schema version {found}" if found is not None else "is not an xcost-tui store (no schema version)"
    return (f"{path} {have}, this xcost-tui expects {schema.SCHEMA_VERSION}: "
            f"run `xcost-tui ingest` to rebuild it from the run directories")


@contextlib.contextmanager
def connect_ro(store_root: Path | str, *, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for one query or a few; closed on exit.

    Raises StoreError when the database is missing, locked by a writer past the timeout,
    or from another schema version.
    """
    path = db_path(store_root)
    if not path.exists():
        raise StoreError(f"no results database at {path}: run a plan, or `xcost-tui ingest --store {store_root}` "
                         f"to build it from the run directories in {runs_dir(store_root)}")
    con = _open(path, read_only=True, timeout=timeout)
    try:
        found = read_schema_version(con)
        if found != schema.SCHEMA_VERSION:
            raise StoreError(_mismatch_message(path, found))
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN … COMMIT, ROLLBACK on error; a failing ROLLBACK never hides the error that caused it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # e.g. "no transaction is active" after a failed COMMIT: the cause is what matters
        raise


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    from .. import __version__

    with transaction(con):
        for stmt in schema.ddl():
            con.execute(stmt)
        con.execute("INSERT INTO meta VALUES ('schema_version', ?), ('created_by', ?), ('created', ?)",
                    [str(schema.SCHEMA_VERSION), f"xcost-tui {__version__}", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())])


def drop_everything(con: duckdb.DuckDBPyConnection) -> None:
    """Remove every view and table of the main schema (a store from another schema version)."""
    views = con.execute("SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
                        "AND schema_name = 'main' AND NOT internal").fetchall()
    for (name,) in views:
        con.execute(f'DROP VIEW IF EXISTS "{name}" CASCADE')
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                         "AND schema_name = 'main'").fetchall()
    for (name,) in tables:
        con.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')


@contextlib.contextmanager
def connect_rw(store_root: Path | str, *, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one ingest batch; closed (and checkpointed) on exit.

    Creates the database and its schema when missing. A store from another schema version
    is NOT touched here: see ``ensure_schema``.
    """
    path = db_path(store_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _WRITE_LOCK:
        con = _open(path, read_only=False, timeout=timeout)
        try:
            yield con
        finally:
            con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """Create the schema in an empty database, or drop and recreate a store of another version.

    Returns True when the store was (re)created empty, so the caller re-ingests every run.
    """
    found = read_schema_version(con)
    if found == schema.SCHEMA_VERSION:
        return False
    if found is not None or _has_tables(con):
        drop_everything(con)
    create_schema(con)
    return True


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'main'").fetchall()[0][0])
