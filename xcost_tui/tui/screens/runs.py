"""Runs: every run in one table, sorted, filtered and paged by DuckDB.

The widget only ever holds one page (PAGE_SIZE rows): a DataTable with 10,000 rows takes
seconds to build, a page takes milliseconds. Sorting, filtering and counting happen in
``query.leaderboard`` / ``query.count_runs`` in a thread worker that posts the page back.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Select, Static

from ... import XCOPA_LANGS, present
from ...errors import StoreError
from ...present import Column, cell_style
from .. import columns as C
from ..widgets.empty import EmptyState
from ..widgets.pagetable import PageTable
from . import xcost_app

if TYPE_CHECKING:
    from textual.timer import Timer

PAGE_SIZE = 100
POLL_S = 2.0
INCOMPLETE_STYLE = "dim"
GRAND = (None, None, None, None, "", False)  # the count key of every run


@dataclass(frozen=True)
class RunsQuery:
    """What the table shows; every change makes a new one and a new fetch."""

    order_by: str = "avg_accuracy"
    descending: bool = True
    method: str | None = None
    model: str | None = None
    status: str | None = None
    config_id: str | None = None  # one configuration's runs (Compare: enter on a configuration)
    text: str = ""
    offset: int = 0
    langs: tuple[str, ...] = XCOPA_LANGS
    uncontended: bool = False  # leave out runs with a phase measured beside other work
    rank_all: bool = False  # False: complete runs are ranked, failed/running/partial ones follow them

    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: v
            for k, v in (
                ("method", self.method),
                ("model", self.model),
                ("status", self.status),
                ("config_id", self.config_id),
            )
            if v is not None
        }
        if self.uncontended:
            out["contended"] = False
        return out

    def count_key(self) -> tuple:
        return (self.method, self.model, self.status, self.config_id, self.text.strip(), self.uncontended)

    def columns(self) -> list[Column]:
        return C.visible_columns(self.langs)


class PageLoaded(Message):
    def __init__(
        self,
        seq: int,
        query: RunsQuery,
        table: Any,
        total: int,
        grand_total: int | None,
        elapsed: float,
        complete: int | None = None,
    ) -> None:
        super().__init__()
        self.seq, self.query, self.table, self.total = seq, query, table, total
        self.grand_total, self.elapsed, self.complete = grand_total, elapsed, complete


class LoadFailed(Message):
    def __init__(self, seq: int, error: BaseException) -> None:
        super().__init__()
        self.seq, self.error = seq, error


class FilterOptions(Message):
    def __init__(self, options: dict[str, list]) -> None:
        super().__init__()
        self.options = options


class StoreChanged(Message):
    pass


def store_signature(store: Path) -> tuple[tuple[int, int] | None, ...]:
    """Sizes and mtimes of the database files: a change means an ingest wrote."""
    sig: list[tuple[int, int] | None] = []
    for name in ("xcost.duckdb", "xcost.duckdb.wal"):
        try:
            st = os.stat(store / name)
            sig.append((st.st_size, st.st_mtime_ns))
        except OSError:
            sig.append(None)
    return tuple(sig)


class RunsScreen(Screen):
    """The leaderboard of every run."""

    BINDINGS = [
        Binding("s", "sort_pick", "Sort"),
        Binding("r", "reverse", "Reverse", show=False),
        Binding("a", "sort('avg_accuracy')", "Acc", show=False),
        Binding("c", "sort_compute", "Cost sort", show=False),
        Binding("less_than_sign", "sort_step(-1)", "Sort ←", show=False),
        Binding("greater_than_sign", "sort_step(1)", "Sort →", show=False),
        Binding("slash", "search", "Search"),
        Binding("f", "filters", "Filter", show=False),
        Binding("x", "clear_filters", "Clear", show=False),
        Binding("u", "toggle_uncontended", "Uncontended", show=False),
        Binding("l", "langs", "Langs"),
        Binding("right_square_bracket,n", "page(1)", "Next"),
        Binding("left_square_bracket,p", "page(-1)", "Prev", show=False),
        Binding("g", "page_to(0)", "First page", show=False),
        Binding("G", "page_to(-1)", "Last page", show=False),
        Binding("A", "rank_all", "Rank all", show=False),
        Binding("e", "export('csv')", "Export"),
        Binding("E", "export('parquet')", "Parquet", show=False),
        Binding("ctrl+r,f5", "reload", "Reload", show=False),
    ]

    def __init__(self, store: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = Path(store)
        self.q = RunsQuery()
        self.shown: RunsQuery | None = None
        self.total = 0
        self.grand_total: int | None = None
        self.last_elapsed = 0.0
        self.complete: int | None = None  # complete runs among those matching the filters
        self.version = 0  # +1 each time a page is put in the table (tests and benchmarks wait on it)
        self._seq = 0
        self._counts: dict[tuple, int] = {}
        self._sig: tuple | None = None
        self._search_timer: Timer | None = None
        self._any_contended = False  # the page shown has runs flagged contended (the legend in the status line)
        self._options_loaded = False
        self._state = "loading"

    # ---- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="runs-filters"):
            yield Input(placeholder="/ search", id="search", compact=True)
            yield Select([], prompt="method: any", id="f-method", compact=True)
            yield Select([], prompt="model: any", id="f-model", compact=True)
            yield Select([], prompt="status: any", id="f-status", compact=True)
        yield PageTable(id="runs-table")
        yield EmptyState(self.store, id="runs-empty")
        yield Static("", id="runs-status")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        xcost_app(self).steady_cursors(self)
        self.query_one(EmptyState).show("loading")
        self.query_one("#runs-table").display = False
        self.query_one("#runs-table").focus()
        self.fetch()
        self.set_timer(POLL_S, self._poll)

    # ---- fetching ----------------------------------------------------------------------------
    def fetch(self, q: RunsQuery | None = None, *, fresh: bool = False) -> None:
        if q is not None:
            self.q = q
        if fresh:
            self._counts.clear()
        self._seq += 1
        self._fetch(self._seq, self.q)

    @work(thread=True, exclusive=True, group="runs-page", exit_on_error=False)
    def _fetch(self, seq: int, q: RunsQuery) -> None:
        from ...store import query  # deferred: pulls in duckdb (start-up cost), here in a worker thread

        t0 = time.perf_counter()
        try:
            self._sig = store_signature(self.store)
            total = self._counts.get(q.count_key())
            if total is None:
                total = query.count_runs(self.store, q.filters(), q.text or None)
                self._counts[q.count_key()] = total
            grand = total if not (q.filters() or q.text.strip()) else self._counts.get(GRAND)
            if grand is None:
                grand = query.count_runs(self.store)
                self._counts[GRAND] = grand
            complete_key = ("complete", *q.count_key())
            complete = self._counts.get(complete_key)
            if complete is None:
                complete = query.count_runs(self.store, {**q.filters(), "complete": True}, q.text or None)
                self._counts[complete_key] = complete
            last_page = max(0, (total - 1) // PAGE_SIZE * PAGE_SIZE)
            if q.offset > last_page or q.offset < 0:
                q = replace(q, offset=last_page if q.offset > 0 else 0)
            table = query.leaderboard(
                self.store,
                order_by=C.sort_key(q.order_by),
                descending=q.descending,
                filters=q.filters(),
                text=q.text or None,
                limit=PAGE_SIZE,
                offset=q.offset,
                columns=C.fetched_columns(q.columns()),
                complete_first=not q.rank_all,
            )
        except StoreError as exc:
            self.post_message(LoadFailed(seq, exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown in place, never a traceback
            self.post_message(LoadFailed(seq, StoreError(f"{type(exc).__name__}: {exc}")))
            return
        self.post_message(PageLoaded(seq, q, table, total, grand, time.perf_counter() - t0, complete))
        if not self._options_loaded:
            self._load_options()

    @work(thread=True, exclusive=True, group="runs-options", exit_on_error=False)
    def _load_options(self) -> None:
        from ...store import query  # deferred: pulls in duckdb (start-up cost), here in a worker thread

        try:
            opts = {
                c: [v for v in query.distinct_values(self.store, c) if v is not None]
                for c in ("method", "model", "status")
            }
        except StoreError:
            return
        self._options_loaded = True
        self.post_message(FilterOptions(opts))

    def _poll(self) -> None:
        self._check_store()

    @work(thread=True, exclusive=True, group="runs-poll", exit_on_error=False)
    def _check_store(self) -> None:
        try:
            sig = store_signature(self.store)
            if sig != self._sig or self._state in ("locked", "error"):
                self._sig = sig
                self.post_message(StoreChanged())
        finally:
            try:
                self.app.call_from_thread(self.set_timer, POLL_S, self._poll)
            except Exception:  # app closing
                pass

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self._options_loaded = False
        self.fetch(fresh=True)

    # ---- showing -----------------------------------------------------------------------------
    @on(PageLoaded)
    def _page_loaded(self, msg: PageLoaded) -> None:
        if msg.seq != self._seq:
            return  # a newer request is under way
        self.q = msg.query
        self.total, self.grand_total, self.last_elapsed = msg.total, msg.grand_total, msg.elapsed
        self.complete = msg.complete
        table = self.query_one("#runs-table", PageTable)
        empty = self.query_one(EmptyState)
        if msg.total == 0:
            self._state = "empty" if not msg.grand_total else "nomatch"
            empty.show(self._state, f"store: {self.store}")
            table.display, empty.display = False, True
        else:
            self._state = "ok"
            table.display, empty.display = True, False
        self._fill(table, msg.query, msg.table)
        self._update_status()
        self.version += 1
        self.app.post_message(RunsReady(self.version))

    @on(LoadFailed)
    def _load_failed(self, msg: LoadFailed) -> None:
        if msg.seq != self._seq:
            return
        empty = self.query_one(EmptyState)
        empty.show_error(msg.error)
        self._state = empty.kind
        self.query_one("#runs-table").display = False
        empty.display = True
        self._update_status()
        self.version += 1
        self.app.post_message(RunsReady(self.version))

    def _fill(self, table: PageTable, q: RunsQuery, data: Any) -> None:
        prev_row = table.cursor_row if self.shown is not None and self.shown.offset == q.offset else 0
        cols = q.columns()
        run_ids = data.column("run_id").to_pylist()
        complete = data.column("complete").to_pylist()
        rendered = [C.column_cells(col, data) for col in cols]
        rows = [list(r) for r in zip(*rendered)] if run_ids else []
        self._any_contended = False
        if "contended" in data.column_names:  # the mark on the figures of runs measured beside other work
            flags = data.column("contended").to_pylist()
            rows = [present.contended_cells(cols, r, flag) for r, flag in zip(rows, flags)]
            self._any_contended = any(f is True for f in flags)
        # a status in its colour, a collapsed run in red (present.cell_style, from the raw values); a run
        # outside the ranking (failed, running, fewer languages than planned) reads dim
        raw = {col.key: data.column(col.key).to_pylist() for col in cols if col.key in data.column_names}
        styles = [
            [cell_style(col.key, raw[col.key][i]) if col.key in raw else None for col in cols] for i in range(len(rows))
        ]
        styles = [[s or (None if done else INCOMPLETE_STYLE) for s in r] for r, done in zip(styles, complete)]
        table.set_page(
            [C.page_column(c) for c in cols],
            run_ids,
            rows,
            styles,
            sort=(q.order_by, q.descending),
            cursor=prev_row,
            fixed=len(C.FIXED),
        )
        if self.shown is None or self.shown.order_by != q.order_by:
            table.call_after_refresh(table.scroll_to_column, q.order_by)
        self.shown = q

    def _update_status(self) -> None:
        q = self.q
        parts = []
        if self._state == "ok":
            first, last = q.offset + 1, min(q.offset + PAGE_SIZE, self.total)
            parts.append(f"rows {first:,}–{last:,} of {self.total:,}")
            if self.grand_total is not None and self.grand_total != self.total:
                parts[-1] += f" (of {self.grand_total:,} runs)"
            partial = self.total - (self.complete or 0) if self.complete is not None else 0
            if partial and not q.rank_all:
                parts.append(
                    f"ranked: {self.complete:,} complete, then {partial:,} failed/running/partial (A: rank all)"
                )
            elif partial:
                parts.append(f"all ranked, {partial:,} failed/running/partial among them (A: complete first)")
        elif self._state in ("empty", "nomatch"):
            parts.append("0 rows")
        col = C.BY_KEY.get(q.order_by)
        parts.append(f"sort {col.header if col else q.order_by} {'▼' if q.descending else '▲'}")
        filt = [f"{'configuration' if k == 'config_id' else k}={v}" for k, v in q.filters().items()]
        if q.text.strip():
            filt.append(f'"{q.text.strip()}"')
        if filt:
            parts.append("filter " + " ".join(filt))
        if len(q.langs) != len(XCOPA_LANGS):
            parts.append("langs " + ",".join(q.langs) if q.langs else "no langs")
        if self._any_contended:
            parts.append(present.CONTENDED_LEGEND.split(" (")[0])
        parts.append(f"store {self.store}")
        self.query_one("#runs-status", Static).update(" · ".join(parts))

    @on(FilterOptions)
    def _filter_options(self, msg: FilterOptions) -> None:
        for name, values in msg.options.items():
            select = self.query_one(f"#f-{name}", Select)
            current = select.value
            with select.prevent(Select.Changed):
                select.set_options([(str(v), v) for v in values])
                if current is not Select.NULL and current in values:
                    select.value = current

    # ---- actions -----------------------------------------------------------------------------
    def sort_by(self, key: str, descending: bool | None = None) -> None:
        if descending is None:
            descending = (not self.q.descending) if key == self.q.order_by else C.default_descending(key)
        self.fetch(replace(self.q, order_by=key, descending=descending, offset=0))

    def action_sort(self, key: str) -> None:
        self.sort_by(key)

    def action_rank_all(self) -> None:
        """Rank every run together, or (again) the complete ones first."""
        self.fetch(replace(self.q, rank_all=not self.q.rank_all, offset=0))

    def action_reverse(self) -> None:
        self.fetch(replace(self.q, descending=not self.q.descending, offset=0))

    def action_sort_compute(self) -> None:
        keys = C.COMPUTE_SORTS
        nxt = keys[(keys.index(self.q.order_by) + 1) % len(keys)] if self.q.order_by in keys else keys[0]
        self.sort_by(nxt, C.default_descending(nxt))

    def action_sort_step(self, step: int) -> None:
        keys = [c.key for c in self.q.columns()]
        i = keys.index(self.q.order_by) if self.q.order_by in keys else 0
        nxt = keys[(i + step) % len(keys)]
        self.sort_by(nxt, C.default_descending(nxt))

    def action_sort_pick(self) -> None:
        from .dialogs import PickModal  # deferred: a screen module (start-up cost: Runs is the first screen)

        shown = [c.key for c in self.q.columns()]
        choices = [(c.key, c.header) for c in self.q.columns()]
        choices += [(c.key, c.header) for key, c in C.BY_KEY.items() if key not in shown]

        def chosen(key: str | None) -> None:
            if key:
                self.sort_by(key, C.default_descending(key) if key != self.q.order_by else None)

        self.app.push_screen(PickModal("Sort by", choices, self.q.order_by), chosen)

    @on(PageTable.HeaderClicked)
    def _header_clicked(self, event: PageTable.HeaderClicked) -> None:
        self.sort_by(event.key)

    def action_page(self, step: int) -> None:
        offset = self.q.offset + step * PAGE_SIZE
        if offset < 0 or (step > 0 and offset >= self.total):
            self.app.bell()
            return
        self.fetch(replace(self.q, offset=offset))

    def action_page_to(self, which: int) -> None:
        offset = 0 if which == 0 else max(0, (self.total - 1) // PAGE_SIZE * PAGE_SIZE)
        self.fetch(replace(self.q, offset=offset))

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_filters(self) -> None:
        self.query_one("#f-method", Select).focus()

    def action_clear_filters(self) -> None:
        search = self.query_one("#search", Input)
        if self._search_timer is not None:
            self._search_timer.stop()
        with search.prevent(Input.Changed):
            search.value = ""
        for name in ("method", "model", "status"):
            select = self.query_one(f"#f-{name}", Select)
            with select.prevent(Select.Changed):
                select.clear()
        self.fetch(
            replace(self.q, method=None, model=None, status=None, config_id=None, text="", offset=0, uncontended=False)
        )

    def action_toggle_uncontended(self) -> None:
        """Leave out (or bring back) the runs with a phase measured beside other work (the mark *)."""
        on = not self.q.uncontended
        self.fetch(replace(self.q, uncontended=on, offset=0))
        self.notify("only runs measured without contention (u: every run)" if on else "every run", timeout=2)

    def set_filter(self, **kw: Any) -> None:
        """Programmatic filtering (tests, the command palette): method=, model=, status=, text=."""
        for name in ("method", "model", "status"):
            if name in kw:
                select = self.query_one(f"#f-{name}", Select)
                with select.prevent(Select.Changed):
                    if kw[name] is None:
                        select.clear()
                    else:
                        if not any(v == kw[name] for _, v in select._options):
                            select.set_options(
                                [
                                    *[(p, v) for p, v in select._options if v is not Select.NULL],
                                    (str(kw[name]), kw[name]),
                                ]
                            )
                        select.value = kw[name]
        if "text" in kw:
            search = self.query_one("#search", Input)
            with search.prevent(Input.Changed):
                search.value = kw["text"] or ""
        self.fetch(replace(self.q, offset=0, **kw))

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        name = (event.select.id or "").removeprefix("f-")
        if name in ("method", "model", "status"):
            value = None if event.value is Select.NULL else event.value
            if self.q.filters().get(name) != value:
                change: dict[str, Any] = {name: value}  # a str field, named at run time
                self.fetch(replace(self.q, offset=0, **change))

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        value = event.value
        self._search_timer = self.set_timer(0.25, lambda: self._apply_search(value))

    def _apply_search(self, value: str) -> None:
        if value != self.q.text:
            self.fetch(replace(self.q, text=value, offset=0))

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._apply_search(event.value)
        self.query_one("#runs-table").focus()

    def key_escape(self) -> None:
        if not isinstance(self.focused, PageTable):
            self.query_one("#runs-table").focus()

    def action_langs(self) -> None:
        from .dialogs import MultiPickModal  # deferred: a screen module (start-up cost, as above)

        def chosen(langs: list[str] | None) -> None:
            if langs is not None:
                keep = tuple(lang for lang in XCOPA_LANGS if lang in langs)
                order_by = self.q.order_by
                if order_by.startswith("acc_") and order_by[4:] not in keep and order_by[4:] in XCOPA_LANGS:
                    order_by = "avg_accuracy"
                self.fetch(replace(self.q, langs=keep, order_by=order_by))

        self.app.push_screen(
            MultiPickModal("Languages shown", [(lang, lang) for lang in XCOPA_LANGS], self.q.langs), chosen
        )

    def set_langs(self, langs: list[str]) -> None:
        self.fetch(replace(self.q, langs=tuple(lang for lang in XCOPA_LANGS if lang in langs)))

    def action_reload(self) -> None:
        self._options_loaded = False
        self.fetch(fresh=True)

    @on(PageTable.RowSelected, "#runs-table")
    def _row_selected(self, event: PageTable.RowSelected) -> None:
        self.open_run(event.key)

    def open_run(self, run_id: str) -> None:
        from .detail import RunDetailScreen  # deferred: a screen, with rundir and the store (start-up cost)

        self.app.push_screen(RunDetailScreen(self.store, run_id))

    def selected_run_id(self) -> str | None:
        return self.query_one("#runs-table", PageTable).cursor_key

    def page_run_ids(self) -> list[str]:
        return list(self.query_one("#runs-table", PageTable).keys)

    # ---- export ------------------------------------------------------------------------------
    def action_export(self, fmt: str) -> None:
        if self._state != "ok":
            self.notify("nothing to export", severity="warning")
            return
        self._export(self.q, fmt)

    @work(thread=True, group="runs-export", exit_on_error=False)
    def _export(self, q: RunsQuery, fmt: str) -> None:
        from ...store import query  # deferred: pulls in duckdb (start-up cost), here in a worker thread

        try:
            shown = [c.key for c in q.columns() if c.key not in C.SOURCES]
            table = query.leaderboard(
                self.store,
                order_by=C.sort_key(q.order_by),
                descending=q.descending,
                filters=q.filters(),
                text=q.text or None,
                columns=["run_id", "name", *shown, "n_langs", "n_langs_planned", "complete"],
                complete_first=not q.rank_all,
            )
            path = export_path(self.store, "runs", fmt)
            write_table(table, path, fmt)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"export failed: {exc}", severity="error", timeout=8)
            return
        self.app.call_from_thread(xcost_app(self).exported, path, f"{table.num_rows:,} runs")


class RunsReady(Message):
    """Posted to the app each time the Runs table shows a new page (or an error panel)."""

    def __init__(self, version: int) -> None:
        super().__init__()
        self.version = version


def export_path(store: Path, stem: str, ext: str) -> Path:
    folder = Path(store) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stem}-{stamp}.{ext}"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{stamp}-{n}.{ext}"
    return path


def write_table(table: Any, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, str(path))
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, str(path))
