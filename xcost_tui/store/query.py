"""What the app and the headless mode ask of the store. The UI stays thin: it calls these.

Every function opens a short read-only connection (see ``db``), runs its query, closes it and
returns Arrow (or plain Python for ``run_detail``). Column names in ``order_by`` and
``filters`` are checked against the view's real columns, never pasted into SQL unchecked.

SQL a person typed (``run_statements``, ``run_sql``, ``run_sql_capped``, ``sql_reader``) runs
on ``db.connect_user_sql``, sandboxed: no file is read or written, no setting changed. A
``Cancel`` lets another thread interrupt it (ctrl-c, a timeout, ctrl+g in the app).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .. import XCOPA_LANGS
from ..errors import StoreError
from ..suggest import did_you_mean
from . import db, schema
from .db import connect_ro, connect_user_sql


class SqlError(StoreError):
    """DuckDB refused the query (syntax, a missing table, a write on the read-only store, a file
    or a setting the sandbox keeps out); the message is DuckDB's, with what to do instead."""


TEXT_COLUMNS = ("run_id", "name", "model", "method", "intermediate", "status")
Filters = dict[str, Any]


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM {relation} LIMIT 0").description]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_column(name: str, columns: list[str], what: str) -> str:
    if name not in columns:
        raise StoreError(
            f"{what}: no column {name!r} in the leaderboard{did_you_mean(name, columns, cutoff=0.6)}; "
            f"columns: {', '.join(columns)}"
        )
    return _quote(name)


def _where(columns: list[str], filters: Filters | None, text: str | None) -> tuple[str, list[Any]]:
    """WHERE clause and its parameters. A filter value is a list (any of; None matches NULL),
    or one value; an empty list constrains nothing. ``text``: every word must occur in one of
    run_id, name, model, method, intermediate or status (case-insensitive)."""
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in (filters or {}).items():
        col = _check_column(name, columns, "filter")
        values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        if not values:
            continue
        parts = []
        present = [v for v in values if v is not None]
        if present:
            parts.append(f"{col} IN ({', '.join('?' for _ in present)})")
            params += present
        if len(present) < len(values):
            parts.append(f"{col} IS NULL")
        clauses.append("(" + " OR ".join(parts) + ")")
    if text:
        hay = "lower(concat_ws(' ', " + ", ".join(_quote(c) for c in TEXT_COLUMNS if c in columns) + "))"
        for word in text.lower().split():
            clauses.append(f"contains({hay}, ?)")
            params.append(word)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pa.Table:
    return con.sql(sql, params=params or None).to_arrow_table()


def leaderboard_columns(store_root: Path | str) -> list[str]:
    with connect_ro(store_root) as con:
        return _columns(con, "leaderboard")


def leaderboard(
    store_root: Path | str,
    *,
    order_by: str = "avg_accuracy",
    descending: bool = True,
    filters: Filters | None = None,
    text: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    columns: Iterable[str] | None = None,
    complete_first: bool = False,
) -> pa.Table:
    """One row per run (the ``leaderboard`` view), sorted with NULLs last, ties by run_id.
    ``complete_first``: the ranking holds the complete runs (succeeded, every planned language
    evaluated: the ``complete`` column); failed, running and partial runs follow, in the same order."""
    with connect_ro(store_root) as con:
        cols = _columns(con, "leaderboard")
        order = _check_column(order_by, cols, "order_by")
        select = ", ".join(_check_column(c, cols, "columns") for c in columns) if columns else "*"
        where, params = _where(cols, filters, text)
        first = "complete DESC, " if complete_first else ""
        sql = (
            f"SELECT {select} FROM leaderboard{where} "
            f"ORDER BY {first}{order} {'DESC' if descending else 'ASC'} NULLS LAST, run_id"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        if offset:
            sql += " OFFSET ?"
            params.append(int(offset))
        return _arrow(con, sql, params)


def count_runs(store_root: Path | str, filters: Filters | None = None, text: str | None = None) -> int:
    with connect_ro(store_root) as con:
        where, params = _where(_columns(con, "leaderboard"), filters, text)
        return int(con.execute(f"SELECT count(*) FROM leaderboard{where}", params).fetchall()[0][0])


def distinct_values(store_root: Path | str, column: str) -> list[Any]:
    """The values a leaderboard column takes (for filter pickers), NULL last."""
    with connect_ro(store_root) as con:
        col = _check_column(column, _columns(con, "leaderboard"), "column")
        return [r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM leaderboard ORDER BY 1 NULLS LAST").fetchall()]


def lang_accuracy(store_root: Path | str, run_ids: Iterable[str] | None = None) -> pa.Table:
    """Long form: one row per run × evaluated language ('en' is English COPA)."""
    with connect_ro(store_root) as con:
        if run_ids is None:
            return _arrow(con, "SELECT * FROM lang_accuracy ORDER BY run_id, lang")
        return _arrow(
            con, "SELECT * FROM lang_accuracy WHERE list_contains(?, run_id) ORDER BY run_id, lang", [list(run_ids)]
        )


def method_lang_grid(
    store_root: Path | str, *, group_by: Iterable[str] = ("method",), statuses: Iterable[str] | None = ("succeeded",)
) -> pa.Table:
    """Mean accuracy per group (default: method) × language: columns are the group columns,
    n_runs, avg_accuracy, en_accuracy and acc_<lang> for the 11 XCOPA languages."""
    group = list(group_by)
    with connect_ro(store_root) as con:
        cols = _columns(con, "leaderboard")
        keys = ", ".join(_check_column(c, cols, "group_by") for c in group)
        where, params = _where(cols, {"status": list(statuses)} if statuses else None, None)
        accs = ", ".join(f"avg(acc_{lang}) AS acc_{lang}" for lang in XCOPA_LANGS)
        sql = (
            f"SELECT {keys}, count(*) AS n_runs, avg(avg_accuracy) AS avg_accuracy, avg(en_accuracy) AS en_accuracy, "
            f"{accs} FROM leaderboard{where} GROUP BY {keys} ORDER BY {keys}"
        )
        return _arrow(con, sql, params)


def _check_axis(x: str) -> str:
    if x not in schema.PARETO_AXES:
        raise StoreError(f"no cost axis {x!r}; choose one of {', '.join(schema.PARETO_AXES)}")
    return x


def cost_vs_accuracy(store_root: Path | str, x: str = "train_device_hours") -> pa.Table:
    """Every run: run_id, name, model, method, intermediate, k, seed, status, x, avg_accuracy,
    on_frontier (the cost axis ``x`` is minimised, avg_accuracy maximised; only succeeded runs
    with both figures can be on the frontier). Sorted by x."""
    _check_axis(x)
    with connect_ro(store_root) as con:
        return _arrow(
            con,
            f"SELECT run_id, name, model, method, intermediate, k, seed, status, x AS {x}, avg_accuracy, on_frontier "
            "FROM cost_vs_accuracy WHERE x_name = ? ORDER BY x NULLS LAST, avg_accuracy DESC, run_id",
            [x],
        )


def pareto(store_root: Path | str, x: str = "train_device_hours") -> pa.Table:
    """The runs on the cost/accuracy frontier over ``x``, cheapest first."""
    _check_axis(x)
    with connect_ro(store_root) as con:
        return _arrow(
            con,
            f"SELECT run_id, name, model, method, intermediate, k, seed, x AS {x}, avg_accuracy "
            "FROM cost_vs_accuracy WHERE x_name = ? AND on_frontier ORDER BY x, avg_accuracy DESC, run_id",
            [x],
        )


def run_detail(store_root: Path | str, run_id: str) -> dict[str, Any]:
    """{"run": runs row, "leaderboard": leaderboard row, "phases": [...], "evals": [...]} as plain Python
    (JSON columns spec, env, costs, info parsed). StoreError when the run is not in the store."""
    with connect_ro(store_root) as con:
        run = _arrow(con, "SELECT * FROM runs WHERE run_id = ?", [run_id]).to_pylist()
        if not run:
            raise StoreError(f"no run {run_id!r} in the store; `xcost-tui ingest` reads new run directories")
        board = _arrow(con, "SELECT * FROM leaderboard WHERE run_id = ?", [run_id]).to_pylist()
        phases = _arrow(con, "SELECT * FROM phases WHERE run_id = ? ORDER BY ordinal", [run_id]).to_pylist()
        evals = _arrow(
            con, "SELECT * FROM evals WHERE run_id = ? ORDER BY lang = 'en' DESC, lang", [run_id]
        ).to_pylist()
    run = _parse_json(run[0], ("spec", "env"))
    phases = [_parse_json(p, ("costs", "info")) for p in phases]
    return {"run": run, "leaderboard": board[0] if board else None, "phases": phases, "evals": evals}


def _parse_json(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in keys:
        if isinstance(row.get(key), str):
            try:
                row[key] = json.loads(row[key])
            except ValueError:
                pass
    return row


def run_samples(store_root: Path | str, run_id: str, *, max_points: int | None = None) -> pa.Table:
    """A run's resource samples ordered by time; ``max_points`` thins them evenly (for charts)."""
    with connect_ro(store_root) as con:
        if max_points:
            sql = """SELECT * EXCLUDE (rn, total) FROM (
                       SELECT *, row_number() OVER (ORDER BY t, gpu_index) - 1 AS rn, count(*) OVER () AS total
                       FROM samples WHERE run_id = ?)
                     WHERE total <= ? OR rn % ceil(total / ?)::BIGINT = 0 ORDER BY t, gpu_index"""
            return _arrow(con, sql, [run_id, max_points, max_points])
        return _arrow(con, "SELECT * FROM samples WHERE run_id = ? ORDER BY t, gpu_index", [run_id])


# ---- user SQL ---------------------------------------------------------------------------------


class QueryCancelled(SqlError):
    """The query was interrupted (ctrl-c, a timeout, ctrl+g in the app) before it finished."""


class Cancel:
    """Interrupts the user query running under it, from another thread (ctrl-c, a timeout, ctrl+g).

    DuckDB forgets an ``interrupt()`` that arrives between two statements, so the request is
    also remembered here and checked before each statement and each batch.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self.requested = False

    @property
    def connection(self) -> duckdb.DuckDBPyConnection | None:
        """The connection a query is running on now, or None."""
        return self._con

    def interrupt(self) -> None:
        with self._lock:  # held so the connection cannot be closed under the call
            self.requested = True
            if self._con is not None:
                with contextlib.suppress(duckdb.Error):  # it may have just finished
                    self._con.interrupt()

    def check(self) -> None:
        if self.requested:
            raise QueryCancelled("query cancelled")

    @contextlib.contextmanager
    def watching(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        with self._lock:
            self.check()
            self._con = con
        try:
            yield
        finally:
            with self._lock:
                self._con = None


@dataclass
class StatementResult:
    """One statement's result. ``table`` is None for a statement without one (SET VARIABLE,
    CREATE TEMP TABLE); ``total`` is None when the rows past the cap were not counted."""

    statement: str
    table: pa.Table | None
    total: int | None
    more: bool


_SANDBOX_HINT = (
    "the SQL console reads the store's tables and views and nothing else: it cannot read or write "
    "files, attach other databases or change settings. To save a result, use "
    "`xcost-tui sql --format csv|json|parquet --output FILE` (or e / E on the Runs screen)"
)


def _explain(exc: BaseException) -> str:
    """DuckDB's message, with what to do instead when the sandbox refused the statement."""
    text = str(exc)
    refused = (
        isinstance(exc, duckdb.PermissionException)
        or "file system operations are disabled" in text
        or "the configuration has been locked" in text
        or "belongs to an attached database" in text
        or "disabled through configuration" in text
    )
    return f"{text} ({_SANDBOX_HINT})" if refused else text


def _sql_error(exc: BaseException, store_root: Path | str, cancel: Cancel | None) -> StoreError:
    if (cancel is not None and cancel.requested) or isinstance(exc, duckdb.InterruptException):
        return QueryCancelled("query cancelled")
    if db.is_corrupt(exc):
        return db.corrupt_error(store_root, exc)
    return SqlError(_explain(exc))


def split_statements(sql: str) -> list[str]:
    """The statements of a query, each as written (DuckDB's parser: a ';' inside a string or a
    comment does not split). [] for nothing but blanks and comments; SqlError on bad syntax."""
    try:
        return [s.query for s in duckdb.extract_statements(sql)]
    except duckdb.Error as exc:
        raise SqlError(str(exc)) from None


def statement_title(statement: str, width: int = 100) -> str:
    """A statement on one line, without its ';', for a table's title."""
    text = " ".join(statement.split()).rstrip(";").rstrip()
    return text if len(text) <= width else text[: width - 3] + "..."


def _only_statement(sql: str) -> str:
    statements = split_statements(sql)
    if len(statements) != 1:
        raise SqlError(
            f"expected one SQL statement, the query has {len(statements)}"
            + ("" if statements else " (only blanks or comments)")
            + ("; run_statements runs several" if len(statements) > 1 else "")
        )
    return statements[0]


def _fetch(rel: duckdb.DuckDBPyRelation, cap: int | None, count: bool, cancel: Cancel) -> tuple[pa.Table, int, bool]:
    """(the first ``cap`` rows, rows seen, whether there are more); stops early unless ``count``."""
    reader = rel.to_arrow_reader(8192 if count or cap is None else min(8192, cap + 1))
    kept: list[pa.RecordBatch] = []
    have = total = 0
    for batch in reader:
        cancel.check()
        total += batch.num_rows
        if cap is None or have < cap:
            take = batch if cap is None else batch.slice(0, cap - have)
            kept.append(take)
            have += take.num_rows
        if cap is not None and total > cap and not count:
            break
    return pa.Table.from_batches(kept, schema=reader.schema), total, cap is not None and total > cap


def _run_statement(
    con: duckdb.DuckDBPyConnection, statement: str, cap: int | None, count: bool, cancel: Cancel, store_root: Path | str
) -> StatementResult:
    cancel.check()
    try:
        rel = con.sql(statement)
        if rel is None:
            return StatementResult(statement, None, 0, False)
        table, total, more = _fetch(rel, cap, count, cancel)
    except (duckdb.Error, OSError) as exc:  # pyarrow raises OSError with DuckDB's message mid-stream
        raise _sql_error(exc, store_root, cancel) from None
    return StatementResult(statement, table, total if count else None, more)


def run_statements(
    store_root: Path | str, sql: str, cap: int | None, *, count: bool = True, cancel: Cancel | None = None
) -> list[StatementResult]:
    """Every statement of ``sql`` in order, on one sandboxed connection (``db.connect_user_sql``),
    each result capped at ``cap`` rows. ``count=False`` stops reading at cap + 1 rows (the app's
    "500 of >500"). SqlError (DuckDB's message; a refusal by the sandbox says what to do instead),
    QueryCancelled when ``cancel`` interrupted it, StoreCorrupt for a damaged store file."""
    statements = split_statements(sql)
    if not statements:
        raise SqlError("no SQL statement to run: the query is empty or only comments")
    cancel = cancel or Cancel()
    with connect_user_sql(store_root) as con, cancel.watching(con):
        return [_run_statement(con, s, cap, count, cancel, store_root) for s in statements]


def runs_where(store_root: Path | str, where: str, column: str, *, cancel: Cancel | None = None) -> list[str]:
    """The distinct ``column`` values (not NULL, sorted) of the runs — table ``runs``, any status —
    that satisfy ``where``: the ``--where`` condition of ``report`` and ``export``, SQL a person
    typed, so on the sandboxed connection and interruptible (``cancel``: ctrl-c, ``--timeout``).
    SqlError saying the condition is empty or not one on the runs table (DuckDB's words, not its
    echo of the SQL); QueryCancelled when ``cancel`` interrupted it."""
    if not where.strip():
        raise SqlError("--where is empty: give a condition on the runs table, e.g. --where \"method = 'direct'\"")
    cancel = cancel or Cancel()
    with connect_user_sql(store_root) as con, cancel.watching(con):
        try:
            rows = con.execute(
                f"SELECT DISTINCT {column} FROM runs WHERE ({where}) AND {column} IS NOT NULL ORDER BY 1"
            ).fetchall()
        except duckdb.Error as exc:
            if cancel.requested or isinstance(exc, duckdb.InterruptException):
                raise QueryCancelled("query cancelled") from None
            message = " ".join(_explain(exc).split("\nLINE ")[0].split())
            raise SqlError(f"--where {where!r} is not a condition on the runs table: {message}") from None
    return [str(r[0]) for r in rows]


def run_sql(store_root: Path | str, sql: str, limit: int | None = None, *, cancel: Cancel | None = None) -> pa.Table:
    """One statement on the sandboxed read-only connection (a write fails with DuckDB's message).
    ``limit`` keeps the first rows."""
    table, _ = run_sql_capped(store_root, sql, limit, cancel=cancel)
    return table


def run_sql_capped(
    store_root: Path | str, sql: str, cap: int | None, *, cancel: Cancel | None = None
) -> tuple[pa.Table, int]:
    """(the first ``cap`` rows, the total number of rows) of one statement, streaming so a huge
    result is not held. More than one statement is a SqlError: see ``run_statements``."""
    statement = _only_statement(sql)
    cancel = cancel or Cancel()
    with connect_user_sql(store_root) as con, cancel.watching(con):
        result = _run_statement(con, statement, cap, True, cancel, store_root)
    return (result.table if result.table is not None else pa.table({})), result.total or 0


def _translated(reader: pa.RecordBatchReader, store_root: Path | str, cancel: Cancel) -> Iterator[pa.RecordBatch]:
    try:
        for batch in reader:
            cancel.check()
            yield batch
    except (duckdb.Error, OSError) as exc:
        raise _sql_error(exc, store_root, cancel) from None


@contextlib.contextmanager
def sql_reader(
    store_root: Path | str, sql: str, batch_size: int = 65536, *, cancel: Cancel | None = None
) -> Iterator[pa.RecordBatchReader]:
    """One statement's result as a stream of Arrow batches (for writing files without holding it
    all), on the sandboxed connection. Iterating may raise SqlError, QueryCancelled or StoreCorrupt."""
    statement = _only_statement(sql)
    cancel = cancel or Cancel()
    with connect_user_sql(store_root) as con, cancel.watching(con):
        try:
            rel = con.sql(statement)
            reader = None if rel is None else rel.to_arrow_reader(batch_size)
        except (duckdb.Error, OSError) as exc:
            raise _sql_error(exc, store_root, cancel) from None
        if reader is None:
            yield pa.RecordBatchReader.from_batches(pa.schema([]), [])
            return
        yield pa.RecordBatchReader.from_batches(reader.schema, _translated(reader, store_root, cancel))


def schema_info(store_root: Path | str) -> dict[str, dict[str, Any]]:
    """Tables and views of the store: name → {"kind": "table"|"view", "columns": [(name, type)], "rows": n|None}."""
    with connect_ro(store_root) as con:
        out: dict[str, dict[str, Any]] = {}
        rows = con.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY table_type, table_name"
        ).fetchall()
        for name, kind in rows:
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
                "AND table_catalog = current_database() AND table_name = ? ORDER BY ordinal_position",
                [name],
            ).fetchall()
            is_table = kind == "BASE TABLE"
            n = con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchall()[0][0] if is_table else None
            out[name] = {"kind": "table" if is_table else "view", "columns": cols, "rows": n}
        out["meta"]["values"] = dict(con.execute("SELECT key, value FROM meta").fetchall()) if "meta" in out else {}
        return out
