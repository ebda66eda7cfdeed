"""Live: the runs executing now, from the runner's live API (``snapshot()`` and ``history()``).

Every REFRESH_S a thread worker copies the snapshot and the selected run's history and turns
them into rows and chart series; the UI thread only paints. The next refresh is scheduled
when the previous one has been painted (a slow poll never piles up).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from ... import present
from ...rundir import Progress, RunStatus, Sample
from ...runner.api import RunnerAPI
from ...runner.live import LiveRun
from ..columns import page_column
from ..widgets.charts import Chart
from ..widgets.empty import EmptyState
from ..widgets.pagetable import PageTable
from . import xcost_app
from .dialogs import ConfirmModal

REFRESH_S = 0.5
IDLE_REFRESH_S = 1.0  # while the screen is not shown
GIB = 1024**3

COLUMNS = [page_column(c, sortable=False) for c in present.LIVE]
JOB_COLUMNS = [*COLUMNS, page_column(present.LIVE_JOB, sortable=False)]  # when a run executes on SLURM
STATUS_COLUMN = [c.key for c in present.LIVE].index("status")


@dataclass
class LiveData:
    rows: list[tuple[str, list[str], list[str | None]]]  # (run_id, cells, styles)
    runs: dict[str, LiveRun]
    selected: str | None
    charts: dict[str, Any] = field(default_factory=dict)
    headline: str = ""
    n_active: int = 0
    has_gpu: bool = False
    slurm: bool = False  # some run executes on SLURM: the job column is shown


class LiveUpdate(Message):
    def __init__(self, data: LiveData | None, error: str | None = None, tick: bool = True) -> None:
        super().__init__()
        self.data, self.error, self.tick = data, error, tick


def gather(runner: RunnerAPI | None, selected: str | None, now: float) -> LiveData:
    """Everything the screen paints, computed off the UI thread."""
    runs = list(runner.snapshot()) if runner is not None else []
    runs.sort(key=lambda r: not r.status.active)  # active first, stable otherwise
    by_id = {r.run_id: r for r in runs}
    if selected not in by_id:
        selected = next((rid for rid, r in by_id.items() if r.status == RunStatus.RUNNING), next(iter(by_id), None))
    history = runner.history(selected) if runner is not None and selected else None
    slurm = any(r.executor == "slurm" or r.job_id is not None for r in runs)
    rows = [(r.run_id, *row_cells(r, job=slurm)) for r in runs]
    n_active = sum(1 for r in runs if r.status.active)
    data = LiveData(rows=rows, runs=by_id, selected=selected, n_active=n_active, slurm=slurm)
    if selected and history is not None:
        data.charts, data.has_gpu = chart_series(history.samples, history.progress, now)
        data.headline = headline(by_id[selected], now)
    return data


def row_cells(r: LiveRun, job: bool = False) -> tuple[list[str], list[str | None]]:
    """One run's row of the Live table (present.LIVE's columns, and the SLURM job column when
    ``job``) and its cell styles. Every value comes from the run's own snapshot: the ETA of each
    running run, not only the selected one."""
    prog = r.progress
    sample = r.sample
    status = "cancelling" if r.cancelling else r.display_status
    step, total = (prog.step, prog.total_steps) if prog else (None, None)
    values = [
        r.label,
        status,
        r.phase,
        f"{r.phases_done}/{r.phases_planned}",
        f"{step}/{total}" if step is not None and total else step,
        r.eta_s,
        prog.loss if prog else None,
        prog.examples_per_s if prog else None,
        prog.tokens_per_s if prog else None,
        prog.mem_bytes if prog else None,
        sample.cpu_percent if sample else None,
        sample.rss_bytes if sample else None,
        r.avg_accuracy,
    ]
    cells = present.cells(present.LIVE, values)
    if job:
        cells.append(present.LIVE_JOB.cell(r.where or None))
    styles: list[str | None] = [None] * len(cells)
    styles[STATUS_COLUMN] = present.status_style(status)
    return cells, styles


def headline(r: LiveRun, now: float) -> str:
    prog = r.progress
    parts = [r.label, r.status.value]
    if r.phase:
        parts.append(f"phase {r.phase}")
    parts.append(f"{r.phases_done}/{r.phases_planned} phases")
    if prog is not None and prog.step is not None and prog.total_steps:
        pct = 100 * prog.step / prog.total_steps
        parts.append(f"step {prog.step}/{prog.total_steps} ({pct:.0f}%)")
        if r.eta_s is not None:
            parts.append(f"phase ETA {present.ETA.cell(r.eta_s)}")
    elapsed = r.elapsed_s(now)
    if elapsed is not None:
        parts.append(f"elapsed {present.cell('duration_s', max(0.0, elapsed))}")
    if r.gpu is not None:
        parts.append(f"GPU {r.gpu}")
    if r.job_id is not None:
        parts.append(
            f"SLURM job {r.job_id} {r.executor_state or ''}".rstrip()
            + (f" ({r.executor_reason})" if r.executor_reason and r.executor_state == "PENDING" else "")
            + (f" on {r.node}" if r.node else "")
            + (f" after job {r.depends_on}" if r.depends_on else "")
        )
    if r.error:
        parts.append(f"error: {r.error}")
    return " · ".join(parts)


def _gib(v: int | float | None) -> float | None:
    return None if v is None else v / GIB


def chart_series(samples: list[Sample], progress: list[Progress], now: float) -> tuple[dict[str, Any], bool]:
    """(chart name -> kwargs for Chart.show, whether any sample saw a GPU)."""
    has_gpu = any(s.gpus for s in samples)
    ts = [s.t - now for s in samples]
    pts = [p.t - now for p in progress]
    charts: dict[str, Any] = {}
    job_mem = [_gib(p.mem_bytes) if p.mem_bytes else None for p in progress]
    if has_gpu:
        indices = sorted({g.index for s in samples for g in s.gpus})
        series = []
        for n, idx in enumerate(indices):
            used = [next((_gib(g.mem_used_bytes or 0) for g in s.gpus if g.index == idx), None) for s in samples]
            series.append((f"GPU{idx} used", ts, used, ["cyan", "blue", "magenta", "white"][n % 4], "left"))
        own: list[float | None] = [sum((g.proc_mem_bytes or 0) for g in s.gpus) / GIB for s in samples]
        series.append(("this run", ts, own, "green", "left"))
        if any(job_mem):
            series.append(("allocated", pts, job_mem, "yellow", "left"))
        charts["mem"] = dict(title="GPU memory (GiB)", series=series)
    else:
        series = [("RSS", ts, [_gib(s.rss_bytes) for s in samples], "green", "left")]
        if any(job_mem):
            series.append(("job mem", pts, job_mem, "yellow", "left"))
        charts["mem"] = dict(title="no GPU: process memory (GiB)", series=series)
    charts["thr"] = dict(
        title="throughput: ex/s (l), tok/s (r)",
        series=[
            ("ex/s", pts, [p.examples_per_s for p in progress], "cyan", "left"),
            ("tok/s", pts, [p.tokens_per_s for p in progress], "magenta", "right"),
        ],
    )
    charts["loss"] = dict(title="loss", series=[("loss", pts, [p.loss for p in progress], "yellow", "left")])
    charts["cpu"] = dict(
        title="CPU % (l), RSS GiB (r)",
        series=[
            ("cpu%", ts, [s.cpu_percent for s in samples], "cyan", "left"),
            ("RSS", ts, [_gib(s.rss_bytes) for s in samples], "green", "right"),
        ],
    )
    return charts, has_gpu


class LiveScreen(Screen):
    BINDINGS = [
        Binding("k,delete", "cancel_run", "Cancel run"),
        Binding("space", "pause", "Pause charts"),
        Binding("enter", "open", "Detail", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.selected: str | None = None
        self.paused = False
        self.updates = 0  # painted refreshes (tests wait on it)
        self.data: LiveData | None = None
        self._notes_shown = 0
        self._tick_started = time.monotonic()

    def compose(self) -> ComposeResult:
        yield PageTable(id="live-runs")
        yield Static("", id="live-progress")
        yield EmptyState(id="live-empty")
        with Grid(id="live-charts"):
            for name in ("mem", "thr", "loss", "cpu"):
                yield Chart(id=f"chart-{name}")
        yield Log(id="live-notes", max_lines=200)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#live-runs").display = False
        self.query_one("#live-charts").display = False
        self.query_one(EmptyState).show("loading")
        self._tick()

    def now(self) -> float:
        return xcost_app(self).now()

    def _tick(self) -> None:
        if not self.app.is_running:
            return
        if not self.is_current and self.updates:
            self.set_timer(IDLE_REFRESH_S, self._tick)
            return
        self._tick_started = time.monotonic()
        self._gather(xcost_app(self).current_runner, self.selected, self.now())

    @work(thread=True, group="live", exit_on_error=False)
    def _gather(self, runner: RunnerAPI | None, selected: str | None, now: float, tick: bool = True) -> None:
        """One refresh. ``tick``: part of the timer chain (its message schedules the next one)."""
        try:
            data = gather(runner, selected, now)
        except Exception as exc:  # noqa: BLE001 - shown, and the next refresh tries again
            self.post_message(LiveUpdate(None, f"{type(exc).__name__}: {exc}", tick))
            return
        self.post_message(LiveUpdate(data, tick=tick))

    @work(thread=True, exclusive=True, group="live-now", exit_on_error=False)
    def _gather_now(self, runner: RunnerAPI | None, selected: str | None, now: float) -> None:
        data = gather(runner, selected, now)
        self.post_message(LiveUpdate(data, tick=False))

    @on(LiveUpdate)
    def _update(self, msg: LiveUpdate) -> None:
        try:
            if msg.error:
                self.query_one(EmptyState).show("error", msg.error)
            elif msg.data is not None:
                self._paint(msg.data)
        finally:
            self.updates += 1
            if msg.tick:
                # the next refresh REFRESH_S after this one started (never less than 0.1 s from now)
                spent = time.monotonic() - self._tick_started
                self.set_timer(max(0.1, REFRESH_S - spent), self._tick)

    def _paint(self, data: LiveData) -> None:
        self._show_notes()
        self.data = data
        table = self.query_one("#live-runs", PageTable)
        empty = self.query_one(EmptyState)
        charts = self.query_one("#live-charts")
        if not data.rows:
            table.display = charts.display = False
            empty.display = True
            empty.show(
                "no runs",
                "No runs are executing in this session. Press 3 (Launch) to open a plan and "
                "start its queue; runs left running by an earlier session are re-attached "
                "when the app starts.",
            )
            self.query_one("#live-progress", Static).update("")
            return
        empty.display = False
        table.display = charts.display = True
        keys = [rid for rid, _, _ in data.rows]
        cursor = keys.index(data.selected) if data.selected in keys else 0
        if table.keys != keys or table.rows != [cells for _, cells, _ in data.rows]:
            keep_cursor = table.cursor_key if table.keys == keys else None
            table.set_page(
                JOB_COLUMNS if data.slurm else COLUMNS,
                keys,
                [c for _, c, _ in data.rows],
                [s for _, _, s in data.rows],
                cursor=keys.index(keep_cursor) if keep_cursor in keys else cursor,
            )
        self.selected = table.cursor_key or data.selected
        active = f"{data.n_active} active" if data.n_active else "none active"
        self.query_one("#live-progress", Static).update(
            f"{data.headline}\n[dim]{len(keys)} runs, {active} · ↑↓ pick · k cancel · space pause[/]"
        )
        if self.paused or not data.charts:
            return
        for name, spec in data.charts.items():
            self.query_one(f"#chart-{name}", Chart).show(spec["title"], spec["series"], xlabel="s")

    @on(PageTable.RowSelected, "#live-runs")
    def _row_selected(self, event: PageTable.RowSelected) -> None:
        self.selected = event.key

    def _show_notes(self) -> None:
        app = xcost_app(self)
        notes, total = app.runner_notes, app.runner_notes_total
        log = self.query_one("#live-notes", Log)
        log.display = bool(notes)
        if total > self._notes_shown:
            fresh = min(total - self._notes_shown, len(notes))
            log.write_lines(list(notes)[len(notes) - fresh :])
            self._notes_shown = total

    @on(PageTable.CursorMoved, "#live-runs")
    def _cursor_moved(self, event: PageTable.CursorMoved) -> None:
        if event.key and event.key != self.selected:
            self.selected = event.key
            self._gather_now(xcost_app(self).current_runner, event.key, self.now())

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.notify("charts paused" if self.paused else "charts resumed", timeout=2)

    def action_open(self) -> None:
        key = self.query_one("#live-runs", PageTable).cursor_key
        if key:
            self.selected = key

    def action_cancel_run(self) -> None:
        table = self.query_one("#live-runs", PageTable)
        run_id = table.cursor_key
        run = (self.data.runs if self.data else {}).get(run_id or "")
        if run is None or not run.status.active:
            self.notify("no active run selected", severity="warning")
            return
        label = run.label

        def answer(yes: bool | None) -> None:
            if yes:
                self._cancel(run_id)

        self.app.push_screen(ConfirmModal(f"Cancel run {label} ({run_id})?", yes="Cancel run", no="Keep"), answer)

    @work(thread=True, group="live-cancel", exit_on_error=False)
    def _cancel(self, run_id: str) -> None:
        runner = xcost_app(self).current_runner
        if runner is None:
            return
        try:
            ok = runner.cancel(run_id)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"cancel failed: {exc}", severity="error")
            return
        self.app.call_from_thread(
            self.notify, f"cancelling {run_id}" if ok is not False else f"{run_id} is already over"
        )
