"""``xcost-tui sql QUERY`` (or ``--file Q.sql``, or ``--file NAME`` of a shipped query in
``store/queries/``, commands/queries.py): run SQL on the store, read-only and sandboxed, and print
the result.

The store room runs the statements (``store.query``: ``run_statements``, ``sql_reader``, the
sandboxed connection); this verb prints them as tables or streams one result as CSV, JSON lines
or Parquet, and turns ctrl-c and ``--timeout`` into exit codes (130, 124).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pyarrow as pa

from ..errors import XcostError
from ..store.interruptible import Stopped, interruptible
from ..store.query import (
    Cancel,
    SqlError,
    run_statements,
    split_statements,
    sql_reader,
    statement_title,
)
from .queries import read_query_file

MAX_TABLE_ROWS_ENV = "XCOST_SQL_MAX_ROWS"
DEFAULT_MAX_TABLE_ROWS = 100


def _err(message: str) -> None:
    print(f"xcost-tui: error: {message}", file=sys.stderr)


def _max_rows() -> int:
    try:
        return max(1, int(os.environ.get(MAX_TABLE_ROWS_ENV, DEFAULT_MAX_TABLE_ROWS)))
    except ValueError:
        return DEFAULT_MAX_TABLE_ROWS


def format_value(value: Any) -> str:
    """How one value looks in a printed table."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        text = json.dumps(value, default=str, ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value)


def _is_numeric(t: pa.DataType) -> bool:
    numeric: bool = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)  # pyarrow is untyped
    return numeric


def print_table(table: pa.Table, total: int, *, file: TextIO | None = None, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    target = file if file is not None else sys.stdout
    console = Console(file=target, width=None if target.isatty() else 200)
    out = Table(title=title, show_lines=False, header_style="bold")
    for field in table.schema:
        out.add_column(field.name, justify="right" if _is_numeric(field.type) else "left", overflow="fold")
    for row in table.to_pylist():
        out.add_row(*[Text("NULL", style="dim") if v is None else Text(format_value(v)) for v in row.values()])
    console.print(out)
    hidden = total - table.num_rows
    note = f"{total:,} row{'s' if total != 1 else ''}"
    if hidden > 0:
        note += f"; {hidden:,} not shown (the first {table.num_rows:,} are): use --format csv|json|parquet --output FILE for all"
    console.print(note, style="dim", highlight=False)


def _flatten_nested(batch: pa.RecordBatch) -> pa.RecordBatch:
    """CSV has no lists or structs: nested values become JSON text."""
    cols, fields = [], []
    for field, col in zip(batch.schema, batch.columns):
        t = field.type
        if (
            pa.types.is_list(t)
            or pa.types.is_large_list(t)
            or pa.types.is_struct(t)
            or pa.types.is_map(t)
            or pa.types.is_fixed_size_list(t)
        ):
            col = pa.array(
                [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in col.to_pylist()],
                pa.string(),
            )
            field = pa.field(field.name, pa.string())
        cols.append(col)
        fields.append(field)
    return pa.RecordBatch.from_arrays(cols, schema=pa.schema(fields))


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    return v


@contextlib.contextmanager
def _output_file(output: str) -> Iterator[str]:
    """Where to write ``output``: a temporary file beside it, renamed over it only when the whole
    result is written, so a cancelled or failed query leaves no half file (and an old one intact).
    A device or pipe (``/dev/stdout``) is written directly."""
    if os.path.exists(output) and not os.path.isfile(output):
        yield output
        return
    tmp = f"{output}.partial-{os.getpid()}"
    try:
        yield tmp
        os.replace(tmp, output)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _write_stream(store_root: Path, query: str, fmt: str, output: str | None, cancel: Cancel) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows = 0
    with (
        sql_reader(store_root, query, cancel=cancel) as reader,
        _output_file(output) if output else contextlib.nullcontext(None) as path,
    ):
        if fmt == "parquet":
            with pq.ParquetWriter(path, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
            return rows
        binary = open(path, "wb") if path else sys.stdout.buffer
        try:
            if fmt == "csv":
                writer = None
                for batch in reader:
                    batch = _flatten_nested(batch)
                    if writer is None:
                        writer = pacsv.CSVWriter(binary, batch.schema)
                    writer.write_batch(batch)
                    rows += batch.num_rows
                if writer is None:  # no rows: still write the header
                    empty = _flatten_nested(pa.RecordBatch.from_pylist([], schema=reader.schema))
                    writer = pacsv.CSVWriter(binary, empty.schema)
                writer.close()
            else:  # json: one object per line, like DuckDB's COPY ... (FORMAT json)
                for batch in reader:
                    lines = [json.dumps(_json_value(r), default=str, ensure_ascii=False) for r in batch.to_pylist()]
                    if lines:
                        binary.write(("\n".join(lines) + "\n").encode("utf-8"))
                    rows += batch.num_rows
            binary.flush()
        finally:
            if path:
                binary.close()
    return rows


def _print_results(store_root: Path, query: str, output: str | None, cancel: Cancel) -> None:
    """Every statement's result as a table; with several, each under its statement (on a line of
    its own: a table's title would wrap to the table's width)."""
    results = run_statements(store_root, query, _max_rows(), cancel=cancel)
    titled = len(results) > 1
    with _output_file(output) if output else contextlib.nullcontext(None) as path:
        with open(path, "w", encoding="utf-8") if path else contextlib.nullcontext(None) as fh:
            for i, result in enumerate(results):
                if titled:
                    print(("\n" if i else "") + statement_title(result.statement, 1000), file=fh)
                if result.table is None:  # DuckDB before 1.1 gave no relation for SET and the like
                    print("OK", file=fh)
                else:
                    print_table(result.table, result.total or 0, file=fh)


def sql_command(
    store_root: Path,
    query: str | None,
    fmt: str = "table",
    output: str | None = None,
    *,
    timeout_s: float | None = None,
    query_file: str | None = None,
) -> int:
    """Run SQL on the store, read-only and sandboxed (``db.connect_user_sql``): printed tables (rows
    capped; one per statement), or one statement's result as csv / json (one object per line) /
    parquet to --output or stdout. Bad SQL: DuckDB's message, exit 1. ctrl-c: "query cancelled",
    exit 130. ``timeout_s``: the query is stopped after that many seconds, exit 124.
    ``query_file`` (``--file``): the SQL is that file's, or a shipped query's by name; a file that
    cannot be read (or both, or neither, given): exit 2."""
    if (query is None) == (query_file is None):
        _err("give either a query or --file FILE, not " + ("both" if query is not None else "neither"))
        return 2
    if query_file is not None:
        try:
            query = read_query_file(query_file, store_root)
        except XcostError as exc:
            _err(str(exc))
            return 2
    assert query is not None
    if fmt not in ("table", "csv", "json", "parquet"):
        _err(f"unknown format {fmt!r}: choose table, csv, json or parquet")
        return 2
    if fmt == "parquet" and not output:
        _err("--format parquet writes a binary file: give it --output FILE")
        return 2
    if timeout_s is not None and not timeout_s > 0:
        _err(f"--timeout {timeout_s}: give a number of seconds greater than 0")
        return 2
    where = f"--file {query_file}: " if query_file is not None else ""
    try:
        statements = split_statements(query)
    except SqlError as exc:
        _err(f"{where}{exc}")
        return 1
    if not statements:
        _err(f"{where}no SQL statement to run: the query is empty or only comments")
        return 1
    if fmt != "table" and len(statements) > 1:
        _err(
            f"--format {fmt} writes one result, and the query has {len(statements)} statements: "
            f"run them one at a time, or use --format table to print each"
        )
        return 2
    cancel = Cancel()
    try:
        if fmt == "table":
            interruptible(lambda: _print_results(store_root, query, output, cancel), cancel, timeout_s)
            return 0
        rows = interruptible(lambda: _write_stream(store_root, query, fmt, output, cancel), cancel, timeout_s)
        if output:
            print(f"wrote {rows:,} row{'s' if rows != 1 else ''} to {output}", file=sys.stderr)
        return 0
    except Stopped as stop:
        if stop.why == "timeout":
            _err(
                f"the query ran longer than --timeout {timeout_s:g} s and was stopped"
                + (f"; {output} was not written" if output else "")
            )
        else:
            print("xcost-tui: query cancelled", file=sys.stderr)
        return stop.exit_code
    except SqlError as exc:
        _err(f"{where}{exc}")
        return 1
    except duckdb.Error as exc:  # not expected: the query functions translate DuckDB's errors
        _err(str(exc))
        return 1
    except XcostError as exc:
        _err(str(exc))
        return 2
    except OSError as exc:
        _err(f"cannot write {output or 'the result'}: {exc}")
        return 2
