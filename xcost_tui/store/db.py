"""Opening the results database: one writer at a time, briefly; readers read-only and sandboxed.

DuckDB locks the database file per process: while one process has it open read-write, no
other process can open it at all, not even read-only; while processes hold it read-only, no
process can open it read-write. Within one process, a read-only and a read-write connection
cannot coexist either. So every connection here is short (one ingest batch, one query), and
opening retries with backoff for a few seconds before it gives up with a clear
``StoreLocked``. Never keep a connection open while waiting for a person.

Writers queue: before ``connect_rw`` opens the database it takes an exclusive ``flock`` on
``<store>/.xcost.duckdb.lock`` and waits for it as long as it takes, so a second ingest runs
after the first instead of giving up after the reader's few seconds.

Every read-only connection runs with DuckDB's external access off and its configuration
locked (``SANDBOX_CONFIG``): user SQL (``connect_user_sql``) must not read or write files, and
DuckDB refuses two configurations for one file in one process, so the app's own readers use
the same settings.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from .. import __version__
from ..errors import (
    REFUSALS,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreMissing,
    StoreSchemaMismatch,
    WriteError,
    os_error_from_text,
    path_error,
)
from ..rundir import layout
from . import schema

try:  # the write queue needs flock (Linux, macOS); elsewhere writers fall back to DuckDB's lock
    import fcntl
except ImportError:  # pragma: no cover - not a platform the app targets
    fcntl = None  # type: ignore[assignment]

# The store's paths are named once, in xcost_tui.rundir.layout.
DB_NAME = layout.DB_NAME
RUNS_DIR = layout.RUNS
LOCK_TIMEOUT_ENV = "XCOST_STORE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 5.0

# enable_external_access=false: no COPY TO/FROM, ATTACH of other files, EXPORT DATABASE, read_csv,
# read_text, extensions or secrets; the one file left readable is the store itself.
# lock_configuration=true: SET / PRAGMA cannot turn that back on, nor point profile_output,
# log_query_path or temp_directory at a file.
SANDBOX_CONFIG: dict[str, Any] = {"enable_external_access": False, "lock_configuration": True}

# One read-write connection per process at a time (threads of the app queue here).
_WRITE_LOCK = threading.RLock()
# Held while _WRITE_LOCK is: how deep this process is in connect_rw (nested calls reuse the flock).
_flock_depth = 0

WaitNotice = Callable[[str], None]


def db_path(store_root: Path | str) -> Path:
    return layout.StoreLayout(Path(store_root)).db


def runs_dir(store_root: Path | str) -> Path:
    return layout.StoreLayout(Path(store_root)).runs


def write_lock_path(store_root: Path | str) -> Path:
    return layout.StoreLayout(Path(store_root)).write_lock


def _lock_timeout(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    try:
        return float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_S))
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT_S


# ---- errors -----------------------------------------------------------------------------------

# What DuckDB 1.x/2.x says about a damaged file: random bytes or an empty file (at open), a
# truncated file (at open or at the first read past the end), a flipped block (checksum).
_CORRUPT_SIGNS = ("not a valid DuckDB database file", "Corrupt database file", "Could not read enough bytes from file")


def is_corrupt(exc: BaseException) -> bool:
    """True for DuckDB's errors that mean the database file itself is damaged.

    Also for pyarrow's OSError, which carries DuckDB's message when the damage is met while
    streaming a result."""
    text = str(exc)
    return any(sign in text for sign in _CORRUPT_SIGNS)


def corrupt_error(store_root: Path | str, exc: BaseException | str) -> StoreCorrupt:
    path = db_path(store_root)
    wal = path.with_name(path.name + ".wal")
    also = f" (and {wal} beside it)" if wal.exists() else ""
    said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    said = said if isinstance(exc, str) else f"DuckDB said: {said}"
    return StoreCorrupt(
        f"the store {path} is damaged and cannot be read ({said}). "
        f"Delete it{also} and rebuild it with `xcost-tui ingest --store {store_root}`: "
        f"the run directories are the source of truth, so nothing is lost"
    )


@contextlib.contextmanager
def _translating(store_root: Path | str) -> Iterator[None]:
    """Turns a damaged-file error met inside the block into StoreCorrupt; other errors pass."""
    try:
        yield
    except (duckdb.Error, OSError) as exc:
        if is_corrupt(exc):
            raise corrupt_error(store_root, exc) from None
        raise


def refused_write(store_root: Path | str, exc: BaseException) -> WriteError | None:
    """A write into the store that the system refused (a full disk, a read-only file system, no
    permission, a file where a folder should be), in the one shape every command uses
    (errors.path_error); None for any other error. DuckDB reports the OS error in words only
    (an IOException, or a TransactionException when the COMMIT's WAL write failed)."""
    if isinstance(exc, OSError) and exc.errno in REFUSALS and not is_corrupt(exc):
        refused: OSError | None = exc
    elif isinstance(exc, duckdb.Error):
        refused = os_error_from_text(str(exc))
    else:
        refused = None
    if refused is None:
        return None
    return path_error(
        refused,
        refused.filename or db_path(store_root),
        retry=f"xcost-tui ingest --store {store_root}",
        fix="give --store a folder you can write to",
    )


@contextlib.contextmanager
def _translating_writes(store_root: Path | str) -> Iterator[None]:
    """_translating, and a refused write turned into the one WriteError (``refused_write``)."""
    try:
        with _translating(store_root):
            yield
    except (duckdb.Error, OSError) as exc:
        refused = refused_write(store_root, exc)
        if refused is not None:
            raise refused from None
        raise


def _is_busy(exc: Exception) -> bool:
    """True for the errors that mean "someone else has the file open right now"."""
    text = str(exc)
    if isinstance(exc, duckdb.IOException) and ("lock" in text.lower()):
        return True
    # The same process already holds the file with the other access mode (read-only vs read-write).
    return isinstance(exc, duckdb.ConnectionException) and "different configuration" in text


def _busy_message(path: Path, exc: Exception, waited: float, reading: bool) -> str:
    match = re.search(r"PID (\d+)", str(exc))
    who = (
        f"another process (pid {match.group(1)})"
        if match
        else (
            "this process (another connection is open)"
            if isinstance(exc, duckdb.ConnectionException)
            else "another process"
        )
    )
    what = "read" if reading else "write to"
    return (
        f"the store {path} is locked by {who}: could not {what} it for {waited:.0f} s. "
        f"Close it (an ingest, an open `duckdb` shell, the app) or try again; "
        f"{LOCK_TIMEOUT_ENV} sets how long to wait. DuckDB said: {exc}"
    )


def _remove_unborn(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(OSError):
            p.unlink()


def _open(
    store_root: Path | str, *, read_only: bool, timeout: float | None, config: dict[str, Any] | None
) -> duckdb.DuckDBPyConnection:
    path = db_path(store_root)
    new = not read_only and not path.exists()
    deadline_s = _lock_timeout(timeout)
    start = time.monotonic()
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=dict(config or {}))
        except duckdb.Error as exc:
            # Checked first: a damaged file is not busy, and waiting would not mend it.
            if is_corrupt(exc):
                raise corrupt_error(store_root, exc) from None
            if not _is_busy(exc):
                refused = None if read_only else refused_write(store_root, exc)
                if refused is not None:
                    if new:  # a database DuckDB began on a full disk holds nothing, and would read as damaged
                        _remove_unborn(path)
                    raise refused from None
                raise StoreError(f"cannot open the store {path}: {exc}") from None
            waited = time.monotonic() - start
            if waited >= deadline_s:
                raise StoreLocked(_busy_message(path, exc, waited, read_only)) from None
            time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline_s - waited)))
            delay = min(delay * 2, 0.5)


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
    return (
        f"{path} {have}, this xcost-tui expects {schema.SCHEMA_VERSION}: "
        f"run `xcost-tui ingest` to rebuild it from the run directories"
    )


def _check_complete(con: duckdb.DuckDBPyConnection, store_root: Path | str) -> None:
    """StoreCorrupt when the file is shorter than the blocks its header counts (a truncated copy).

    DuckDB itself only notices when a query reads a missing block, so a half file would answer
    some queries and fail others; this makes it fail at once, whatever the query. For readers
    only, and only without a WAL: a read-write connection, or the replay of a WAL, counts blocks
    that are not in the file yet."""
    path = db_path(store_root)
    if path.with_name(path.name + ".wal").exists():
        return
    rows = con.execute(
        "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchall()
    if not rows or rows[0][0] is None or rows[0][1] is None:
        return
    block_size, blocks = int(rows[0][0]), int(rows[0][1])
    # Used blocks may sit anywhere in the file (free ones between them, trailing free ones cut
    # off), so the file holds at least this many bytes (plus 12 KiB of headers, left out).
    need = block_size * blocks
    have = path.stat().st_size
    if have < need:
        raise corrupt_error(
            store_root,
            f"the file has {have:,} bytes but its header counts {blocks} blocks in use of "
            f"{block_size:,} bytes: it was truncated",
        )


# ---- readers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _connect_read(store_root: Path | str, timeout: float | None) -> Iterator[duckdb.DuckDBPyConnection]:
    path = db_path(store_root)
    if not path.exists():
        raise StoreMissing(
            f"no results database at {path}: run a plan, or `xcost-tui ingest --store {store_root}` "
            f"to build it from the run directories in {runs_dir(store_root)}"
        )
    con = _open(store_root, read_only=True, timeout=timeout, config=SANDBOX_CONFIG)
    try:
        with _translating(store_root):
            _check_complete(con, store_root)
            found = read_schema_version(con)
            if found != schema.SCHEMA_VERSION:
                raise StoreSchemaMismatch(_mismatch_message(path, found))
            yield con
    finally:
        con.close()


def connect_ro(
    store_root: Path | str, *, timeout: float | None = None
) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A read-only connection for one query or a few; closed on exit.

    Raises StoreMissing, StoreLocked (a writer past the timeout), StoreSchemaMismatch, or
    StoreCorrupt (also for damage met by a query inside the block). Sandboxed like
    ``connect_user_sql``: DuckDB allows one configuration per file per process.
    """
    return _connect_read(store_root, timeout)


def connect_user_sql(
    store_root: Path | str, *, timeout: float | None = None
) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
    """The connection for SQL a person typed (the app's SQL screen, ``xcost-tui sql``).

    Read-only, with DuckDB's external access off and the configuration locked
    (``SANDBOX_CONFIG``): the query sees the store's tables and views and nothing else. COPY ...
    TO, EXPORT DATABASE, ATTACH of another file, read_csv / read_text / read_json of any path,
    INSTALL / LOAD and SET / PRAGMA of a setting are refused by DuckDB with a "Permission Error"
    or "the configuration has been locked", and no file is created or changed.
    """
    return _connect_read(store_root, timeout)


# ---- transactions -----------------------------------------------------------------------------


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``with transaction(con): ...`` runs the block between BEGIN and COMMIT, or rolls it back.

    The error that comes out is always the one that made it roll back. After a failed COMMIT
    (a full disk, say) DuckDB has already ended the transaction, and its ROLLBACK then fails with
    "cannot rollback - no transaction is active", a message that would hide the real cause.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException as exc:
        _rollback_keeping(con, exc)
        raise


def _rollback_keeping(con: duckdb.DuckDBPyConnection, cause: BaseException) -> None:
    try:
        con.execute("ROLLBACK")
    except Exception as exc:  # noqa: BLE001 - the cause is what matters; keep this one as a note
        if sys.version_info >= (3, 11):  # add_note is 3.11+; on 3.10 the note would be an AttributeError
            cause.add_note(f"(the ROLLBACK after it failed too: {exc})")


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    with transaction(con):
        for stmt in schema.ddl():
            con.execute(stmt)
        con.execute(
            "INSERT INTO meta VALUES ('schema_version', ?), ('created_by', ?), ('created', ?)",
            [
                str(schema.SCHEMA_VERSION),
                f"xcost-tui {__version__}",
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            ],
        )


def drop_everything(con: duckdb.DuckDBPyConnection) -> None:
    """Remove every view and table of the main schema (a store from another schema version)."""
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT internal"
    ).fetchall()
    for (name,) in views:
        con.execute(f'DROP VIEW IF EXISTS "{name}" CASCADE')
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    for (name,) in tables:
        con.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')


# ---- the writer -------------------------------------------------------------------------------


def _print_wait(message: str) -> None:
    # sys.stderr is looked up now: inside the app, Textual has redirected it away from the screen.
    print(f"xcost-tui: {message}", file=sys.stderr, flush=True)


def _holder_pid(fd: int) -> int | None:
    """The pid the current writer wrote into the lock file, when it has (it may be mid-write)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _wait_message(store_root: Path | str, pid: int | None) -> str:
    who = f"another writer (pid {pid})" if pid else "another writer"
    return (
        f"the store {db_path(store_root)} is being written by {who}, an ingest; "
        f"waiting for it to finish, then this one runs (ctrl-c stops waiting)"
    )


def _flock(fd: int, store_root: Path | str, on_wait: WaitNotice | None, wait_timeout: float | None) -> None:
    """Takes the exclusive lock on fd, waiting (and saying so once) while another writer has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    pid = _holder_pid(fd)
    (on_wait or _print_wait)(_wait_message(store_root, pid))
    if wait_timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as long as it takes; ctrl-c interrupts it (PEP 475)
        return
    deadline = time.monotonic() + wait_timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                who = f"another writer (pid {pid})" if pid else "another writer"
                raise StoreLocked(
                    f"the store {db_path(store_root)} is being written by {who}: gave up waiting "
                    f"after {wait_timeout:.0f} s. Try again when it has finished"
                ) from None
            time.sleep(0.05)


def _write_holder(fd: int) -> None:
    """Our pid into the lock file, so a waiting writer can name us. Best effort: on a full disk the
    few bytes may not fit, and the write the ingest came for says so in its own words."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass


# Lock files this process holds, with how deep it is in connect_rw on each (nested calls reuse it).
_held: dict[str, int] = {}


@contextlib.contextmanager
def _writer_queue(store_root: Path | str, on_wait: WaitNotice | None, wait_timeout: float | None) -> Iterator[None]:
    """The inter-process write lock: writers of one store run one after another. Call with _WRITE_LOCK held."""
    lock = write_lock_path(store_root)
    key = os.path.abspath(lock)
    if fcntl is None or key in _held:
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
        return
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by the jobs this process starts
    except OSError as exc:
        raise refused_write(store_root, exc) or exc from None
    try:
        _flock(fd, store_root, on_wait, wait_timeout)
        _write_holder(fd)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            os.ftruncate(fd, 0)  # the next waiter must not name a writer that has gone
    finally:
        os.close(fd)  # releases the flock


@contextlib.contextmanager
def connect_rw(
    store_root: Path | str,
    *,
    timeout: float | None = None,
    on_wait: WaitNotice | None = None,
    wait_timeout: float | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for one ingest batch; closed (and checkpointed) on exit.

    Writers queue: while another writer (of any process) has the store, this waits for it
    without a deadline (``wait_timeout`` sets one), telling ``on_wait`` once (default: a line
    on stderr naming the writer's pid). Then, like readers, it retries DuckDB's own lock (held
    by a reader or a `duckdb` shell) for ``timeout`` seconds before StoreLocked.

    Creates the database when missing. A store from another schema version is NOT touched
    here: see ``ensure_schema``. A write the system refuses (a full disk, a read-only store) is
    a WriteError in the one shape (``refused_write``), at the open, the COMMIT or the close.
    """
    with _translating_writes(store_root):
        db_path(store_root).parent.mkdir(parents=True, exist_ok=True)
    with _WRITE_LOCK, _writer_queue(store_root, on_wait, wait_timeout):
        con = _open(store_root, read_only=False, timeout=timeout, config=None)
        try:
            with _translating_writes(store_root):
                yield con
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # the error in flight says more than one from closing
                con.close()
            raise
        with _translating_writes(store_root):
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
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()[0][0]
    )
