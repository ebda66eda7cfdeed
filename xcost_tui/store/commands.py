"""``xcost-tui ingest`` and ``xcost-tui sql``."""

from __future__ import annotations

import json
import math
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from ..errors import XcostError
from . import db

MAX_TABLE_ROWS_ENV = "XCOST_SQL_MAX_ROWS"
DEFAULT_MAX_TABLE_ROWS = 100


def _err(message: str) -> None:
    print(f"xcost-tui: error: {message}", file=sys.stderr)


# ---- ingest -----------------------------------------------------------------------------------

def ingest_command(store_root: Path, run_dirs: list[Path]) -> int:
    """Ingest the named run directories, or (none named) rebuild the store from every run
    directory under <store>/runs. One line per run, then warnings and a summary."""
    from .ingest import ingest

    def on_run(staged) -> None:
        print(f"ingested {staged.summary()}", flush=True)
        for w in staged.warnings:
            print(f"  warning: {w}", file=sys.stderr, flush=True)

    try:
        report = ingest(store_root, run_dirs or None, on_run=on_run)
    except XcostError as exc:
        _err(str(exc))
        return 2
    for w in report.warnings:
        if not any(w in s.warnings for s in report.ingested):
            print(f"warning: {w}", file=sys.stderr)
    path = db.db_path(store_root)
    parts = [f"{len(report.ingested)} run{'s' if len(report.ingested) != 1 else ''} ingested"]
    if report.unchanged:
        parts.append(f"{len(report.unchanged)} unchanged")
    if report.pruned:
        parts.append(f"{len(report.pruned)} removed (run directory gone: {', '.join(report.pruned[:5])}"
                     f"{', ...' if len(report.pruned) > 5 else ''})")
    if report.rebuilt:
        parts.append("store (re)built from the run directories")
    if not report.ingested and not run_dirs:
        parts.append(f"no run directories under {db.runs_dir(store_root)}")
    print(f"{path}: {'; '.join(parts)} ({report.seconds:.2f} s)")
    return 1 if report.missing else 0


# ---- sql --------------------------------------------------------------------------------------

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
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def print_table(table: pa.Table, total: int, *, file: TextIO | None = None, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    target = file if file is not None else sys.stdout
    console = Console(file=target, width=None if target.isatty() else 200)
    out = Table(title=title, show_lines=False, header_style="bold")
    for field in table.schema:
        out.add_column(field.name, justify="right" if _is_numeric(field.type) else "left",
                       overflow="fold")
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
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_struct(t) or pa.types.is_map(t) \
                or pa.types.is_fixed_size_list(t):
            col = pa.array([None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                            for v in col.to_pylist()], pa.string())
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


def _write_stream(store_root: Path, query: str, fmt: str, output: str | None) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from .query import sql_reader

    rows = 0
    with sql_reader(store_root, query) as reader:
        if fmt == "parquet":
            with pq.ParquetWriter(output, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
            return rows
        binary = open(output, "wb") if output else sys.stdout.buffer
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
            if output:
                binary.close()
    return rows


def sql_command(store_root: Path, query: str, fmt: str = "table", output: str | None = None) -> int:
    """Run SQL on the store, read-only: a printed table (rows capped), or csv / json (one object
    per line) / parquet to --output or stdout. DuckDB's message on bad SQL, exit 1."""
    import duckdb

    from .query import SqlError, run_sql_capped

    if fmt not in ("table", "csv", "json", "parquet"):
        _err(f"unknown format {fmt!r}: choose table, csv, json or parquet")
        return 2
    if fmt == "parquet" and not output:
        _err("--format parquet writes a binary file: give it --output FILE")
        return 2
    try:
        if fmt == "table":
            cap = _max_rows()
            table, total = run_sql_capped(store_root, query, cap)
            if output:
                with open(output, "w", encoding="utf-8") as fh:
                    print_table(table, total, file=fh)
            else:
                print_table(table, total)
            return 0
        rows = _write_stream(store_root, query, fmt, output)
        if output:
            print(f"wrote {rows:,} row{'s' if rows != 1 else ''} to {output}", file=sys.stderr)
        return 0
    except SqlError as exc:
        _err(str(exc))
        return 1
    except duckdb.Error as exc:  # raised while streaming the result
        _err(str(exc))
        return 1
    except XcostError as exc:
        _err(str(exc))
        return 2
    except OSError as exc:
        _err(f"cannot write {output}: {exc}")
        return 2
