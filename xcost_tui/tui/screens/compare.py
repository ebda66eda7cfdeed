"""Compare: accuracy against compute as a scatter plot (one point per run, coloured by method,
the Pareto frontier marked), and the method × language accuracy grid."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, Select, Static

from ... import XCOPA_LANGS, present
from ...errors import StoreError
from ..columns import page_column
from ..widgets.empty import EmptyState
from ..widgets.pagetable import PageTable
from . import xcost_app

# the cost axes (x cycles them), as the catalogue names them: 'training energy (J)'
AXES = [present.column(key) for key in ("train_device_hours", "train_flops", "train_energy_j", "latency_p50_s",
                                        "query_flops")]
AXIS_LABEL = {c.key: c.label for c in AXES}
# the method x language grid (query.method_lang_grid)
GRID = [present.column("method"), present.N_RUNS, present.AVG_ACCURACY, present.EN_ACCURACY,
        *(present.LANG_ACCURACY[lang] for lang in XCOPA_LANGS)]
GRID_COLUMNS = [page_column(c, sortable=False) for c in GRID]


@dataclass
class CompareData:
    x: str
    points: dict[str, tuple[list[float], list[float], list[bool]]]  # method -> (xs, ys, on frontier)
    frontier: tuple[list[float], list[float]]
    frontier_runs: list[str]
    n_plotted: int
    n_missing: int
    log_x: bool
    grid: list[dict]


class CompareLoaded(Message):
    def __init__(self, data: CompareData | None, error: BaseException | None) -> None:
        super().__init__()
        self.data, self.error = data, error


def _rich_color(plotext_color: str) -> str:
    return {"orange": "dark_orange", "gray": "grey50", "green": "bright_green", "magenta": "deep_pink2"}.get(
        plotext_color, plotext_color)


def load_compare(store: Path, x: str) -> CompareData:
    from ...store import query

    table = query.cost_vs_accuracy(store, x)
    rows = table.to_pylist()
    grid = query.method_lang_grid(store).to_pylist()
    points: dict[str, tuple[list[float], list[float], list[bool]]] = {}
    fx, fy, fr = [], [], []
    plotted = missing = 0
    for r in rows:
        xv, yv = r.get(x), r.get("avg_accuracy")
        if xv is None or yv is None or (isinstance(xv, float) and math.isnan(xv)):
            missing += 1
            continue
        xs, ys, front = points.setdefault(str(r.get("method")), ([], [], []))
        xs.append(float(xv))
        ys.append(100.0 * float(yv))
        front.append(bool(r.get("on_frontier")))
        plotted += 1
        if r.get("on_frontier"):
            fx.append(float(xv))
            fy.append(100.0 * float(yv))
            fr.append(str(r.get("run_id")))
    allx = [v for xs, _, _ in points.values() for v in xs]
    positive = [v for v in allx if v > 0]
    log_x = bool(positive) and len(positive) == len(allx) and max(positive) / min(positive) > 100
    return CompareData(x, points, (fx, fy), fr, plotted, missing, log_x, grid)


class CompareScreen(Screen):
    BINDINGS = [
        Binding("x", "next_axis", "Next x axis"),
        Binding("e", "export_svg", "Save SVG"),
        Binding("ctrl+r,f5", "reload", "Reload", show=False),
    ]

    def __init__(self, store: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = Path(store)
        self.x = AXES[0].key
        self.data: CompareData | None = None
        self.loads = 0

    def compose(self) -> ComposeResult:
        from ..widgets.charts import Chart

        with Horizontal(id="compare-bar"):
            yield Label("x:")
            yield Select([(c.label, c.key) for c in AXES], value=self.x, allow_blank=False,
                         id="compare-x", compact=True)
            yield Static("", id="compare-info")
        yield EmptyState(self.store, id="compare-empty")
        yield Chart(id="compare-plot")
        yield Static("", id="compare-legend")
        yield PageTable(id="compare-grid")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(EmptyState).display = False
        self._load(self.x)

    def on_screen_resume(self) -> None:
        if self.loads:
            self._load(self.x)  # runs may have finished since

    def action_reload(self) -> None:
        self._load(self.x)

    def action_next_axis(self) -> None:
        keys = [c.key for c in AXES]
        self.query_one("#compare-x", Select).value = keys[(keys.index(self.x) + 1) % len(keys)]

    @on(Select.Changed, "#compare-x")
    def _axis_changed(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL and event.value != self.x:
            self.x = str(event.value)
            self._load(self.x)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load(self, x: str) -> None:
        try:
            data = load_compare(self.store, x)
        except StoreError as exc:
            self.post_message(CompareLoaded(None, exc))
            return
        except Exception as exc:  # noqa: BLE001
            self.post_message(CompareLoaded(None, StoreError(f"{type(exc).__name__}: {exc}")))
            return
        self.post_message(CompareLoaded(data, None))

    @on(CompareLoaded)
    def _loaded(self, msg: CompareLoaded) -> None:
        self.loads += 1
        from ..widgets.charts import Chart, method_color

        empty = self.query_one(EmptyState)
        plot = self.query_one("#compare-plot", Chart)
        grid = self.query_one("#compare-grid", PageTable)
        if msg.error is not None or msg.data is None or not msg.data.n_plotted:
            if msg.error is not None:
                empty.show_error(msg.error)
            else:
                empty.show("empty" if msg.data is None or not (msg.data.n_missing or msg.data.grid) else "error",
                           f"no run has both an average accuracy and {AXIS_LABEL.get(self.x, self.x)}"
                           if msg.data is not None and msg.data.n_missing else "")
            empty.display = True
            plot.display = grid.display = False
            self.query_one("#compare-legend").display = False
            self.query_one("#compare-info", Static).update("")
            self.data = msg.data
            if msg.data is not None and msg.data.grid:
                grid.display = True
                self._fill_grid(msg.data.grid)
            return
        data = msg.data
        self.data = data
        empty.display = False
        plot.display = grid.display = True
        self.query_one("#compare-legend").display = True
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        legend = []
        fx, fy = data.frontier
        if fx:  # the frontier line first, the points on top of it
            order = sorted(range(len(fx)), key=lambda i: fx[i])
            plt.plot([fx[i] for i in order], [fy[i] for i in order], color="red", marker="braille")
        for i, (method, (xs, ys, front)) in enumerate(sorted(data.points.items())):
            color = method_color(method, i)
            plt.scatter([x for x, f in zip(xs, front) if not f], [y for y, f in zip(ys, front) if not f],
                        color=color, marker="dot")
            if any(front):
                plt.scatter([x for x, f in zip(xs, front) if f], [y for y, f in zip(ys, front) if f],
                            color=color, marker="X")
            legend.append(f"[{_rich_color(color)}]●[/] {method}")
        if fx:
            legend.append("[red]─[/]X Pareto frontier")
        allx = [v for xs, _, _ in data.points.values() for v in xs]
        ally = [v for _, ys, _ in data.points.values() for v in ys]
        if data.log_x:
            plt.xscale("log")
        else:
            lo, hi = min(allx), max(allx)
            pad = (hi - lo) * 0.04 or abs(hi) * 0.1 or 1.0
            plt.xlim(lo - pad, hi + pad)
        ylo, yhi = min(ally), max(ally)
        ypad = (yhi - ylo) * 0.08 or 1.0
        plt.ylim(ylo - ypad, yhi + ypad)
        plt.title(f"avg XCOPA accuracy (%) vs {AXIS_LABEL[data.x]}")
        plt.xlabel(AXIS_LABEL[data.x] + (" (log)" if data.log_x else ""))
        plot.refresh()
        info = f" {data.n_plotted} runs, {len(data.frontier_runs)} on frontier"
        if data.n_missing:
            info += f", {data.n_missing} lack a figure"
        self.query_one("#compare-info", Static).update(info)
        self.query_one("#compare-legend", Static).update("  ".join(legend))
        self._fill_grid(data.grid)

    def _fill_grid(self, grid: list[dict]) -> None:
        rows, keys = [], []
        for g in grid:
            keys.append(str(g.get("method")))
            rows.append(present.cells(GRID, (g.get(c.key) for c in GRID)))
        self.query_one("#compare-grid", PageTable).set_page(GRID_COLUMNS, keys, rows)

    def action_export_svg(self) -> None:
        from .runs import export_path

        try:
            path = export_path(self.store, f"compare-{self.x}", "svg")
            written = self.app.save_screenshot(filename=path.name, path=str(path.parent))
        except Exception as exc:  # noqa: BLE001
            self.notify(f"could not save the SVG: {exc}", severity="error")
            return
        xcost_app(self).exported(Path(written), "the Compare view")
