"""SQL: a query editor over the store (read-only, sandboxed), results capped, errors in place.

The query runs in ``@work(thread=True, exclusive=True)`` through ``query.run_statements`` on
the sandboxed connection of ``db.connect_user_sql`` (no files read or written, no settings
changed); ctrl+g interrupts it (``query.Cancel`` → ``DuckDBPyConnection.interrupt()``, from
another worker). Only CAP + 1 rows are fetched: the last one tells "500 of >500" without reading
the whole result. Several statements run in order; each result is kept and [ / ] flip between them.
"""

from __future__ import annotations

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
from ...errors import StoreError
from ...store import query
from ..widgets.pagetable import PageColumn, PageTable
from . import xcost_app

CAP = 500
MAX_COL_WIDTH = 40
DEFAULT_SQL = """SELECT method, count(*) AS runs, round(avg(avg_accuracy), 4) AS avg_acc,
       round(avg(train_device_hours), 4) AS dev_hours
FROM leaderboard GROUP BY method ORDER BY avg_acc DESC
"""


class QueryDone(Message):
    def __init__(self, seq: int, results: list, elapsed: float) -> None:
        super().__init__()
        self.seq, self.results, self.elapsed = seq, results, elapsed


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
        Binding("left_square_bracket", "show_result(-1)", "Previous result", show=False),
        Binding("right_square_bracket", "show_result(1)", "Next result", show=False),
    ]

    def __init__(self, store: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = Path(store)
        self._seq = 0
        self._cancel: Any = None  # the running query's query.Cancel
        self.running = False
        self.done = 0  # finished queries (tests wait on it)
        self.last_error: str | None = None
        self.result_rows = 0
        self.result_more = False
        self.results: list = []  # query.StatementResult of each statement of the last query
        self.shown = 0  # which of them the table shows
        self._elapsed = 0.0

    @property
    def _con(self) -> Any:
        """The connection the running query is on (None between queries)."""
        return self._cancel.connection if self._cancel is not None else None

    def compose(self) -> ComposeResult:
        yield TextArea(DEFAULT_SQL, id="sql-editor", show_line_numbers=False, tab_behavior="indent")
        yield Static("", id="sql-error")
        yield PageTable(id="sql-results")
        yield Static(
            "ready · ctrl+r run · ctrl+g cancel · esc leaves the editor, i returns · tables: runs, phases, evals, "
            "predictions, samples, events · views: leaderboard, lang_accuracy, cost_vs_accuracy, pareto",
            id="sql-status",
            classes="status-line",
        )
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        xcost_app(self).steady_cursors(self)
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
        if self._cancel is not None:  # a query still running: its result would be dropped anyway
            self._cancel.interrupt()
        # Made here, not in the worker: a ctrl+g pressed before the worker starts still counts.
        self._cancel = query.Cancel()
        self._run(self._seq, sql, self._cancel)

    @work(thread=True, exclusive=True, group="sql", exit_on_error=False)
    def _run(self, seq: int, sql: str, cancel: Any) -> None:
        clock = getattr(self.app, "clock", None)
        timer = clock if callable(clock) else time.perf_counter  # a fixed clock in tests: stable snapshots
        t0 = timer()
        try:
            results = query.run_statements(self.store, sql, CAP, count=False, cancel=cancel)
        except query.QueryCancelled:
            self.post_message(QueryFailed(seq, "query cancelled", cancelled=True))
            return
        except StoreError as exc:
            self.post_message(QueryFailed(seq, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - shown in place, never a traceback
            self.post_message(QueryFailed(seq, f"{type(exc).__name__}: {exc}"))
            return
        finally:
            if self._cancel is cancel:
                self._cancel = None
        self.post_message(QueryDone(seq, results, timer() - t0))

    def action_cancel_query(self) -> None:
        if not self.running:
            self.notify("no query is running", timeout=2)
            return
        self._interrupt()

    @work(thread=True, group="sql-cancel", exit_on_error=False)
    def _interrupt(self) -> None:
        cancel = self._cancel
        if cancel is not None:
            cancel.interrupt()

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
        self.query_one("#sql-status", Static).update(
            "cancelled" if msg.cancelled else "error (the store was not changed)"
        )

    @on(QueryDone)
    def _done(self, msg: QueryDone) -> None:
        if msg.seq != self._seq:
            return
        self.running = False
        self.done += 1
        self.last_error = None
        self.query_one("#sql-error").display = False
        self.results, self._elapsed = msg.results, msg.elapsed
        self._show(0)

    def action_show_result(self, step: int) -> None:
        if len(self.results) > 1:
            self._show((self.shown + step) % len(self.results))

    def _show(self, index: int) -> None:
        """Puts result ``index`` of the last query in the table and says which it is."""
        import pyarrow as pa

        self.shown = index
        result = self.results[index]
        table = result.table if result.table is not None else pa.table({"result": ["OK"]})
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
        self.result_rows, self.result_more = len(rows), result.more
        count = (
            f"{len(rows):,} of >{CAP:,} rows" if result.more else f"{len(rows):,} row{'s' if len(rows) != 1 else ''}"
        )
        status = f"{count} in {self._elapsed:.2f} s · ctrl+r run · ctrl+g cancel"
        if len(self.results) > 1:
            status = (
                f"result {index + 1} of {len(self.results)}: {query.statement_title(result.statement, 60)} · "
                f"{status} · [ ] other results"
            )
        self.query_one("#sql-status", Static).update(status)
