"""SQL: a query editor over the store (read-only), results capped, errors in place.

The query runs in ``@work(thread=True, exclusive=True)`` on its own read-only connection;
ctrl+g interrupts it (``DuckDBPyConnection.interrupt()``, from another worker). Only CAP + 1
rows are fetched: the last one tells "500 of >500" without reading the whole result.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static, TextArea

from ... import format as fmt
from ..widgets.pagetable import PageColumn, PageTable

CAP = 500
MAX_COL_WIDTH = 40
DEFAULT_SQL = """SELECT method, count(*) AS runs, round(avg(avg_accuracy), 4) AS avg_acc,
       round(avg(train_device_hours), 4) AS dev_hours
FROM leaderboard GROUP BY method ORDER BY avg_acc DESC
"""


class QueryDone(Message):
    def __init__(self, seq: int, table: Any, more: bool, elapsed: float) -> None:
        super().__init__()
        self.seq, self.table, self.more, self.elapsed = seq, table, more, elapsed


class QueryFailed(Message):
    def __init__(self, seq: int, error: str, cancelled: bool = False) -> None:
        super().__init__()
        self.seq, self.error, self.cancelled = seq, error, cancelled


def cell_text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return fmt.number(value)
    return str(value).replace("\n", " ")


class SqlScreen(Screen):
    BINDINGS = [
        Binding("ctrl+r,f5", "run_query", "Run", priority=True),
        Binding("ctrl+g", "cancel_query", "Cancel", priority=True),
        Binding("escape", "leave_editor", "Results", show=False),
        Binding("i", "edit", "Edit"),
    ]

    def __init__(self, store: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = Path(store)
        self._seq = 0
        self._con: Any = None
        self._con_lock = threading.Lock()
        self.running = False
        self.done = 0  # finished queries (tests wait on it)
        self.last_error: str | None = None
        self.result_rows = 0
        self.result_more = False

    def compose(self) -> ComposeResult:
        yield TextArea(DEFAULT_SQL, id="sql-editor", show_line_numbers=False, tab_behavior="indent")
        yield Static("", id="sql-error")
        yield PageTable(id="sql-results")
        yield Static("ready · ctrl+r run · ctrl+g cancel · esc leaves the editor, i returns · tables: runs, phases, evals, "
                     "predictions, samples, events · views: leaderboard, lang_accuracy, cost_vs_accuracy, pareto",
                     id="sql-status",
                     classes="status-line")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.app.steady_cursors(self)
        self.query_one("#sql-error").display = False
        self.query_one(TextArea).focus()

    def action_leave_editor(self) -> None:
        self.query_one("#sql-results").focus()

    def action_edit(self) -> None:
        self.query_one(TextArea).focus()

    def set_sql(self, sql: str) -> None:
        self.query_one(TextArea).text = sql

    def action_run_query(self) -> None:
        sql = self.query_one(TextArea).text.strip()
        if not sql or all(line.strip().startswith("--") or not line.strip() for line in sql.splitlines()):
            self.notify("nothing to run", severity="warning")
            return
        self._seq += 1
        self.running = True
        self.query_one("#sql-status", Static).update("running … (ctrl+g cancels)")
        self._run(self._seq, sql)

    @work(thread=True, exclusive=True, group="sql", exit_on_error=False)
    def _run(self, seq: int, sql: str) -> None:
        import duckdb
        import pyarrow as pa

        from ...errors import StoreError
        from ...store.db import connect_ro

        clock = getattr(self.app, "clock", None)
        timer = clock if callable(clock) else time.perf_counter  # a fixed clock in tests: stable snapshots
        t0 = timer()
        try:
            with connect_ro(self.store) as con:
                with self._con_lock:
                    self._con = con
                try:
                    rel = con.sql(sql)
                    if rel is None:  # a statement without a result (SET, PRAGMA, ...)
                        table, more = pa.table({"result": ["OK"]}), False
                    else:
                        reader = rel.to_arrow_reader(CAP + 1)
                        batches, have = [], 0
                        for batch in reader:
                            batches.append(batch)
                            have += batch.num_rows
                            if have > CAP:
                                break
                        table = pa.Table.from_batches(batches, schema=reader.schema)
                        more = table.num_rows > CAP
                        table = table.slice(0, CAP)
                finally:
                    with self._con_lock:
                        self._con = None
        except duckdb.InterruptException:
            self.post_message(QueryFailed(seq, "query cancelled", cancelled=True))
            return
        except (duckdb.Error, StoreError) as exc:
            self.post_message(QueryFailed(seq, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001
            self.post_message(QueryFailed(seq, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(QueryDone(seq, table, more, timer() - t0))

    def action_cancel_query(self) -> None:
        if not self.running:
            self.notify("no query is running", timeout=2)
            return
        self._interrupt()

    @work(thread=True, group="sql-cancel", exit_on_error=False)
    def _interrupt(self) -> None:
        with self._con_lock:
            con = self._con
        if con is not None:
            try:
                con.interrupt()
            except Exception:  # noqa: BLE001 - it may have just finished
                pass

    @on(QueryFailed)
    def _failed(self, msg: QueryFailed) -> None:
        if msg.seq != self._seq:
            return
        self.running = False
        self.done += 1
        self.last_error = msg.error
        err = self.query_one("#sql-error", Static)
        err.update(msg.error)
        err.display = True
        self.query_one("#sql-status", Static).update("cancelled" if msg.cancelled else "error (the store was not changed)")

    @on(QueryDone)
    def _done(self, msg: QueryDone) -> None:
        import pyarrow as pa

        if msg.seq != self._seq:
            return
        self.running = False
        self.done += 1
        self.last_error = None
        self.query_one("#sql-error").display = False
        table = msg.table
        names = table.column_names
        values = [table.column(n).to_pylist() for n in names]
        rows = [[cell_text(col[i]) for col in values] for i in range(table.num_rows)]
        columns = []
        for j, name in enumerate(names):
            width = max([len(name)] + [len(r[j]) for r in rows[:200]]) if rows else len(name)
            t = table.schema.field(j).type
            numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            columns.append(PageColumn(f"c{j}", name, max(3, min(MAX_COL_WIDTH, width)), numeric))
        self.query_one("#sql-results", PageTable).set_page(columns, [str(i) for i in range(len(rows))], rows)
        self.result_rows, self.result_more = len(rows), msg.more
        count = f"{len(rows):,} of >{CAP:,} rows" if msg.more else f"{len(rows):,} row{'s' if len(rows) != 1 else ''}"
        self.query_one("#sql-status", Static).update(f"{count} in {msg.elapsed:.2f} s · ctrl+r run · ctrl+g cancel")
