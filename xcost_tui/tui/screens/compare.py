"""Compare: configurations, not runs. Four views over the verdict (``xcost_tui.verdict.api``):

- **Frontier** (f): mean average XCOPA accuracy of each configuration with its 95% interval
  (a bar) against a cost, one marker and colour per configuration family, the frontier of
  configurations (no other is at most as costly and at least as accurate); below, the
  configurations as a table.
- **Languages** (g): per configuration and language, the mean with the half-width of its 95%
  interval; a language not distinguishable from chance is flagged.
- **Verdict** (v): the same sentences as the headless mode (``Verdict.sentences()``).
- **Curves** (c): held-out accuracy against cumulative training cost (``learning_curves``).

The baseline (b), δ (d), the cost measure (x, m) and the amortisation N (n) are set on screen.
Every read runs in a thread worker; a baseline other than the default one is computed on demand
(``verdict(store, baseline=...)``) while the status line says "computing…". No statistics here:
the numbers are the verdict API's; this module only draws them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static

from ... import XCOPA_LANGS, present
from ... import format as fmt
from ...accuracy import COMMON_MARK
from ...errors import StoreError
from ...verdict.api import (
    ConfigurationRow,
    Curve,
    Verdict,
    common_ground_of,
    frontier,
    learning_curves,
    unmeasured_reasons,
    verdict,
)
from ..widgets.charts import Chart
from ..widgets.empty import EmptyState
from ..widgets.pagetable import PageColumn, PageTable
from ..widgets.textpanel import TextPanel
from . import xcost_app
from .dialogs import PickModal
from .runs import RunsScreen, export_path, store_signature

# the cost axes, in the order x cycles them (present.MEASURES names them once)
MEASURES = list(present.MEASURES.values())
AXIS_LABEL = {m.key: m.name for m in MEASURES}
VIEWS = ("frontier", "languages", "verdict", "curves")
VIEW_TITLES = {"frontier": "Frontier", "languages": "Languages", "verdict": "Verdict", "curves": "Curves"}
VIEW_KEYS = {"frontier": "f", "languages": "g", "verdict": "v", "curves": "c"}
DELTAS = (0.01, 0.02, 0.03, 0.05)  # points / 100
AMORTISE = (1, 2, 3, 5, 10, 20, 50)
DEFAULT_BASELINE = "default"  # the picker's value for "each configuration's default baseline"
CHANCE_MARK = "~"
LOG_RATIO = 100  # a positive axis spanning more than this factor is drawn on a log scale

# the Languages grid: configuration | runs | avg | en | et … zh | flags
LANG_COLS = ["avg", "en", *XCOPA_LANGS]
INTERVAL_WIDTH = 9  # '55.0±4.8~'


@dataclass(frozen=True)
class CompareSettings:
    """What the verdict is computed with (a change reloads it)."""

    baseline: str | None = None  # a config id; None: each configuration's default baseline
    delta: float = 0.02
    amortise_n: float = 1.0


@dataclass
class CompareData:
    settings: CompareSettings
    verdict: Verdict
    reasons: dict[str, str]  # measure key -> why it is NULL on this machine
    elapsed: float
    sentences: list[str] = field(default_factory=list)

    @property
    def configurations(self) -> list[ConfigurationRow]:
        return list(self.verdict.configurations.values())


class CompareLoaded(Message):
    def __init__(self, seq: int, data: CompareData | None, error: BaseException | None) -> None:
        super().__init__()
        self.seq, self.data, self.error = seq, data, error


class CurvesLoaded(Message):
    def __init__(self, key: tuple, curves: dict[str, Curve] | None, error: BaseException | None) -> None:
        super().__init__()
        self.key, self.curves, self.error = key, curves, error


def load_compare(store: Path | str, settings: CompareSettings) -> CompareData:
    """What the screen's worker reads: the verdict (materialised at ingest for the default
    baseline; computed now for another one) and why unmeasured costs are NULL."""
    t0 = time.perf_counter()
    v = verdict(store, baseline=settings.baseline, delta=settings.delta, amortise_n=settings.amortise_n, light=True)
    missing = {
        m.key: (m.figure, m.phase_kinds)
        for m in MEASURES
        if m.figure and any(c.costs.get(m.key) is None for c in v.configurations.values())
    }
    reasons = unmeasured_reasons(store, missing) if missing else {}
    data = CompareData(settings, v, reasons, 0.0, v.sentences())
    data.elapsed = time.perf_counter() - t0
    return data


# ---- pure helpers (tested on their own) ---------------------------------------------------------


def interval_cell(est: Any, chance: bool = False) -> str:
    """'55.0±4.8' (the mean and the half-width of its 95% interval, in points; '±12' from 10 points
    up, so the cell keeps its width); '~' marks a language not distinguishable from chance; '55.0'
    when there is no interval."""
    if est is None or est.value is None:
        return fmt.NULL
    text = f"{100 * est.value:.1f}"
    if est.low is not None and est.high is not None:
        half = 100 * (est.high - est.low) / 2
        text += f"±{half:.1f}" if half < 9.95 else f"±{half:.0f}"
    return text + (CHANCE_MARK if chance else "")


def grid_columns(configs: list[ConfigurationRow]) -> list[str]:
    """The Languages grid's columns: those of ``LANG_COLS`` at least one configuration shown has a
    figure for (a store of runs evaluated on 3 languages draws 3 columns, not 8 empty ones)."""
    return [
        name for name in LANG_COLS if any(getattr(c.accuracy.get(name), "value", None) is not None for c in configs)
    ]


def range_cell(est: Any) -> str:
    """'59.5 [50.2, 68.2]'."""
    if est is None or est.value is None:
        return fmt.NULL
    if est.low is None or est.high is None:
        return f"{100 * est.value:.1f}"
    return f"{100 * est.value:.1f} [{100 * est.low:.1f}, {100 * est.high:.1f}]"


def flags_of(c: ConfigurationRow) -> str:
    """'1 seed', '2 collapsed', '3 failed', 'chance: ht,qu' — what to read its numbers with."""
    out = []
    if c.seed_variation is False:
        out.append("1 seed: test-set interval only")
    if c.collapsed_runs:
        out.append(f"{c.collapsed_runs} collapsed")
    if c.n_failed:
        out.append(f"{c.n_failed} failed")
    if c.chance_langs:
        out.append("chance: " + ",".join(c.chance_langs))
    return "; ".join(out)


def legend_text(families: list[str], frontier: bool = True, intervals: bool = True) -> Text:
    """One marker and colour per family present, then the frontier and the interval bars."""
    text = Text()
    for fam in families:
        style = present.family_style(fam)
        if text:
            text.append("  ")
        text.append(style.marker, style=f"bold {style.color}")
        text.append(f" {fam}")
    if frontier:
        text.append("   ")
        text.append("──", style=f"bold {present.FRONTIER_COLOR}")
        text.append(" frontier")
    if intervals:
        text.append("  ")
        text.append(present.INTERVAL_BAR, style="bold")
        text.append(" 95% interval")
    return text


def families_in(configs: list[ConfigurationRow]) -> list[str]:
    order = list(present.FAMILY_STYLES)
    found = {c.family for c in configs}
    return [f for f in order if f in found] + sorted(f for f in found if f not in present.FAMILY_STYLES)


def sorted_configs(configs: list[ConfigurationRow]) -> list[ConfigurationRow]:
    """Best mean accuracy over the languages all of them evaluated first (common ground: a
    configuration without Quechua does not rank higher for that alone); those without one last,
    by label."""
    common = common_ground_of(configs)
    return sorted(configs, key=lambda c: (*common.rank_key(c.config_id), c.label))


def common_cell(c: ConfigurationRow, common) -> str:
    """The mean over the common languages, '†' when the configuration evaluated others too."""
    m = common.means.get(c.config_id)
    return fmt.NULL if m is None else f"{100 * m:.1f}{common.mark(c.config_id)}"


@dataclass
class Axis:
    lo: float
    hi: float
    log: bool
    ticks: list[float]  # in plot coordinates (log10 of the value on a log axis)
    labels: list[str]

    def at(self, v: float) -> float:
        return math.log10(v) if self.log else v


def make_axis(values: list[float], kind: str, pad: float = 0.05, n: int = 5) -> Axis:
    """Limits with a margin, log scale for a wide positive range, ticks written by format.axis_ticks."""
    lo, hi = min(values), max(values)
    log = lo > 0 and hi / lo > LOG_RATIO
    if log:
        llo, lhi = math.log10(lo), math.log10(hi)
        margin = (lhi - llo) * pad
        values_t, labels = fmt.axis_ticks(10 ** (llo - margin), 10 ** (lhi + margin), kind, n, log=True)
        return Axis(llo - margin, lhi + margin, True, [math.log10(v) for v in values_t], labels)
    span = hi - lo
    margin = span * pad or abs(hi) * 0.1 or 1.0
    lo2, hi2 = lo - margin, hi + margin
    if lo >= 0 > lo2:  # a cost is never negative: no "-0.002" tick
        lo2 = 0.0
    ticks, labels = fmt.axis_ticks(lo2, hi2, kind, n)
    return Axis(lo2, hi2, False, ticks, labels)


class CompareScreen(Screen):
    BINDINGS = [
        # the views' keys are on the tab line at the top
        Binding("f", "view('frontier')", "Frontier", show=False),
        Binding("g", "view('languages')", "Languages", show=False),
        Binding("v", "view('verdict')", "Verdict", show=False),
        Binding("c", "view('curves')", "Curves", show=False),
        Binding("x", "next_axis", "Cost"),
        Binding("m", "pick_measure", "Cost…", show=False),
        Binding("b", "pick_baseline", "Baseline"),
        Binding("d", "pick_delta", "δ"),
        Binding("n", "pick_amortise", "N"),
        Binding("l", "pick_curve", "Curve lang", show=False),
        Binding("e", "export_svg", "SVG", show=False),
        Binding("ctrl+r,f5", "reload", "Reload", show=False),
    ]

    def __init__(self, store: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = Path(store)
        self.view = "frontier"
        self.measure = MEASURES[0].key
        self.settings = CompareSettings()
        self.curve_choice = ("target", "avg")  # (phase, lang)
        self.data: CompareData | None = None
        self.curves: dict[str, Curve] | None = None
        self.curves_key: tuple | None = None
        self.loads = 0  # +1 per verdict shown (or error panel)
        self.curve_loads = 0
        self.computing = False
        self.painted_verdict = 0  # +1 each time the Verdict panel was filled (benchmarks wait on it)
        self.painted_grid = 0
        self.frontier_ids: list[str] = []
        self._seq = 0
        self._curve_seq: tuple | None = None
        self._error: BaseException | None = None
        self._stale: set[str] = set()  # views to fill when next shown
        self._sig: tuple | None = None  # the store's files when last read

    # ---- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="compare-bar"):
            yield Static("", id="compare-tabs")
            yield Static("", id="compare-info")
        yield EmptyState(self.store, id="compare-empty")
        with ContentSwitcher(initial="view-frontier", id="compare-views"):
            with Vertical(id="view-frontier"):
                yield Chart(id="compare-plot")
                yield Static("", id="compare-unmeasured")
                yield Static("", id="compare-legend")
                yield PageTable(id="compare-configs")
            with Vertical(id="view-languages"):
                yield Static("", id="grid-legend")
                yield PageTable(id="compare-grid")
            with Vertical(id="view-verdict"):
                yield TextPanel(id="compare-verdict")
            with Vertical(id="view-curves"):
                yield Chart(id="compare-curves")
                yield Static("", id="curves-legend")
        yield Static("", id="compare-status", classes="status-line")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(EmptyState).display = False
        self.query_one("#compare-unmeasured").display = False
        self._show_tabs()
        self._load()

    def on_screen_resume(self) -> None:
        # runs may have finished since: read again when an ingest changed the store (another
        # baseline is computed again only then, not each time the screen is shown)
        if self.loads and (store_signature(self.store) != self._sig or self._error is not None):
            self.curves_key = None
            self._load()

    # ---- loading -----------------------------------------------------------------------------
    def _load(self, settings: CompareSettings | None = None) -> None:
        if settings is not None:
            self.settings = settings
        self._sig = store_signature(self.store)
        self._seq += 1
        self.computing = True
        self._show_status()
        if self.data is not None:
            self._stale.add("verdict")  # "computing…" over the sentences of the previous settings
            self._fill_view(self.view)
        app = xcost_app(self)
        prefetched = app.compare_prefetch
        if prefetched is not None:
            app.compare_prefetch = None  # used once: later loads read anew
            sig, data = prefetched
            if sig == self._sig and data.settings == self.settings:  # what the app read while warming
                self.post_message(CompareLoaded(self._seq, data, None))
                return
        self._load_worker(self._seq, self.settings)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load_worker(self, seq: int, settings: CompareSettings) -> None:
        try:
            data = load_compare(self.store, settings)
        except StoreError as exc:
            self.post_message(CompareLoaded(seq, None, exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown in place, never a traceback
            self.post_message(CompareLoaded(seq, None, StoreError(f"{type(exc).__name__}: {exc}")))
            return
        self.post_message(CompareLoaded(seq, data, None))

    def action_reload(self) -> None:
        self.curves_key = None
        self._load()

    @on(CompareLoaded)
    def _loaded(self, msg: CompareLoaded) -> None:
        if msg.seq != self._seq:
            return  # a newer setting is being computed
        self.computing = False
        self.loads += 1
        self._error = msg.error
        empty = self.query_one(EmptyState)
        views = self.query_one("#compare-views")
        if msg.error is not None or msg.data is None or not msg.data.verdict.configurations:
            if msg.error is not None:
                empty.show_error(msg.error)
            else:
                empty.show("no configuration", f"store: {self.store}")
            empty.display, views.display = True, False
            self.data = msg.data
            self._show_status()
            return
        empty.display, views.display = False, True
        self.data = msg.data
        self._refresh_views()
        if self.view == "curves":
            self._ensure_curves()

    def _refresh_views(self) -> None:
        """Fill the view on screen; the others are filled when they are shown (a store of 200
        configurations draws one view, not four)."""
        self._stale = set(VIEWS) if self.curves is not None else set(VIEWS) - {"curves"}
        self._fill_view(self.view)
        self._show_tabs()
        self._show_status()

    def _fill_view(self, view: str) -> None:
        if view not in self._stale or self.data is None:
            return
        self._stale.discard(view)
        {
            "frontier": self._fill_frontier,
            "languages": self._fill_grid,
            "verdict": self._fill_verdict,
            "curves": self._fill_curves,
        }[view]()

    # ---- views and settings ------------------------------------------------------------------
    def action_view(self, view: str) -> None:
        if view not in VIEWS:
            return
        self.view = view
        self.query_one("#compare-views", ContentSwitcher).current = f"view-{view}"
        self._fill_view(view)
        self._show_tabs()
        self._show_status()
        if view == "curves":
            self._ensure_curves()
        focus = {"frontier": "#compare-configs", "languages": "#compare-grid", "verdict": "#compare-verdict"}.get(view)
        if focus:
            self.query_one(focus).focus()

    def set_measure(self, key: str) -> None:
        if key not in present.MEASURES or key == self.measure:
            return
        self.measure = key
        if self.data is not None:
            self._stale |= {"frontier"}
            self._fill_view(self.view)
            self._show_status()
            if self.view == "curves":
                self._ensure_curves()
        self._show_tabs()

    def action_next_axis(self) -> None:
        keys = [m.key for m in MEASURES]
        self.set_measure(keys[(keys.index(self.measure) + 1) % len(keys)])

    def action_pick_measure(self) -> None:
        self.app.push_screen(
            PickModal("Cost measure (x axis)", [(m.key, m.name) for m in MEASURES], self.measure),
            self._picked_measure,
        )

    def _picked_measure(self, key: str | None) -> None:
        if key:
            self.set_measure(key)

    def set_baseline(self, config_id: str | None) -> None:
        """None: each configuration's default baseline (direct of the same model and recipe)."""
        config_id = None if config_id in (None, "", DEFAULT_BASELINE) else config_id
        if config_id != self.settings.baseline:
            self._load(replace(self.settings, baseline=config_id))

    def action_pick_baseline(self) -> None:
        choices = [(DEFAULT_BASELINE, "default: direct fine-tuning of the same model and recipe")]
        if self.data is not None:
            choices += [(c.config_id, c.label) for c in sorted(self.data.configurations, key=lambda c: c.label)]

        def chosen(value: str | None) -> None:
            if value is not None:
                self.set_baseline(value)

        self.app.push_screen(
            PickModal(
                "Baseline every configuration is compared with", choices, self.settings.baseline or DEFAULT_BASELINE
            ),
            chosen,
        )

    def set_delta(self, delta: float) -> None:
        if delta > 0 and delta != self.settings.delta:
            self._load(replace(self.settings, delta=float(delta)))

    def action_pick_delta(self) -> None:
        choices = [(str(d), f"±{100 * d:g} points") for d in DELTAS]
        self.app.push_screen(
            PickModal(
                "δ: similar accuracy means the difference's 90% interval lies inside ±δ (TOST, Holm-adjusted)",
                choices,
                str(self.settings.delta),
            ),
            self._picked_delta,
        )

    def _picked_delta(self, v: str | None) -> None:
        if v:
            self.set_delta(float(v))

    def set_amortise(self, n: float) -> None:
        if n >= 1 and n != self.settings.amortise_n:
            self._load(replace(self.settings, amortise_n=float(n)))

    def action_pick_amortise(self) -> None:
        choices = [
            (
                str(n),
                "1: the intermediate phase serves this target task alone"
                if n == 1
                else f"{n}: the intermediate encoder serves {n} target tasks",
            )
            for n in AMORTISE
        ]
        self.app.push_screen(
            PickModal(
                "Amortisation N of the intermediate phase",
                choices,
                str(int(self.settings.amortise_n))
                if self.settings.amortise_n.is_integer()
                else str(self.settings.amortise_n),
            ),
            self._picked_amortise,
        )

    def _picked_amortise(self, v: str | None) -> None:
        if v:
            self.set_amortise(float(v))

    def set_curve(self, phase: str, lang: str) -> None:
        self.curve_choice = (phase, lang)
        if self.view == "curves":
            self._ensure_curves()

    def action_pick_curve(self) -> None:
        choices = [
            ("target:avg", "target phase, mean over the XCOPA languages"),
            ("target:en", "target phase, English COPA validation"),
        ]
        choices += [(f"target:{lang}", f"target phase, XCOPA {lang}") for lang in XCOPA_LANGS]
        choices += [(f"few-shot:{lang}", f"few-shot phase on {lang}") for lang in XCOPA_LANGS]

        def chosen(value: str | None) -> None:
            if value:
                phase, lang = value.split(":", 1)
                self.set_curve(phase, lang)

        self.app.push_screen(PickModal("Learning curve", choices, ":".join(self.curve_choice)), chosen)

    # ---- status --------------------------------------------------------------------------------
    def _measure(self) -> present.Measure:
        return present.MEASURES[self.measure]

    def _baseline_text(self) -> str:
        b = self.settings.baseline
        if b is None:
            return "default (direct)"
        cfg = self.data.verdict.configurations.get(b) if self.data is not None else None
        return cfg.label if cfg is not None else b

    def _show_tabs(self) -> None:
        text = Text()
        for view in VIEWS:
            key = VIEW_KEYS[view]
            label = f" {key} {VIEW_TITLES[view]} "
            text.append(label, style="bold reverse" if view == self.view else "")
        self.query_one("#compare-tabs", Static).update(text)
        m = self._measure()
        amortised = " amortised" if m.amortised and self.settings.amortise_n != 1 else ""
        self.query_one("#compare-info", Static).update(f" x: {m.header}{amortised} (x next · m list)")

    def settings_text(self) -> str:
        """'baseline default (direct) · δ ±2 · N 1': what the numbers on screen are computed with."""
        return (
            f"baseline {self._baseline_text()} · δ ±{100 * self.settings.delta:g} points · "
            f"N {self.settings.amortise_n:g}"
        )

    def _computing_what(self) -> str:
        return (
            f"comparing every configuration with {self._baseline_text()}"
            if self.settings.baseline is not None
            else "reading the verdict"
        )

    def _show_status(self) -> None:
        parts = [self.settings_text()]
        if self.computing:
            parts.append(f"computing… ({self._computing_what()})")
        if self.data is not None:
            v = self.data.verdict
            n_runs = sum(c.n_runs for c in v.configurations.values())
            parts.append(f"{len(v.configurations):,} configurations ({n_runs:,} succeeded runs)")
            parts.append(f"{len(v.averaged()):,} comparisons")
        elif self._error is not None and not self.computing:
            parts.append("the store could not be read")
        parts.append(f"store {self.store}")
        self.query_one("#compare-status", Static).update(" · ".join(parts))
        self._show_tabs()

    def _label_width(self) -> int:
        """Room for the longest '◆ label', up to a quarter of the screen (at least 26 cells)."""
        longest = max((len(c.label) + 2 for c in self.data.configurations), default=26) if self.data else 26
        return max(13, min(longest, max(26, self.size.width // 4)))

    def on_resize(self) -> None:
        if self.data is not None:
            self._stale |= {"frontier", "languages"}
            self._fill_view(self.view)

    # ---- the frontier view ---------------------------------------------------------------------
    def _fill_frontier(self) -> None:
        data = self.data
        if data is None:
            return
        m = self._measure()
        key = m.key_for(self.settings.amortise_n)
        configs = data.configurations
        common = common_ground_of(configs)  # ranked and drawn on the languages all of them evaluated
        with_x = [c for c in configs if c.costs.get(key) is not None and common.means.get(c.config_id) is not None]
        lacking = [c for c in configs if c.costs.get(key) is None]
        self.frontier_ids = frontier(configs, key, accuracy="common")
        on_front = set(self.frontier_ids)
        plot = self.query_one("#compare-plot")
        unmeasured = self.query_one("#compare-unmeasured", Static)
        label = m.axis_label(self.settings.amortise_n)
        reason = data.reasons.get(m.key)
        if not with_x:
            plot.display = False
            unmeasured.display = True
            why = f" ({reason})" if reason else ""
            unmeasured.update(
                Text.assemble(
                    (f"{label}: not measured on this machine{why}", "bold"),
                    "\n\n",
                    ("No configuration has this figure. x picks another cost (m: a list of them).", "italic"),
                )
            )
        else:
            plot.display = True
            unmeasured.display = False
            self._draw_frontier(with_x, key, label, on_front)
        legend = legend_text(families_in(configs), frontier=bool(with_x), intervals=bool(with_x))
        if lacking and with_x:
            legend.append(f"   {len(lacking)} lack {m.header}" + (f": {reason}" if reason else ""), style="dim")
        legend.append("\n" + common.statement(), style="dim")
        self.query_one("#compare-legend", Static).update(legend)
        self._fill_config_table(configs, key, m, on_front)

    def _draw_frontier(self, configs: list[ConfigurationRow], key: str, label: str, on_front: set[str]) -> None:
        plot = cast("Chart", self.query_one("#compare-plot"))  # Chart is imported with the screen's widgets
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        # configs: those with this cost and a mean over the common languages (the caller's with_x);
        # the interval bar is the average's, drawn only where the configuration evaluated exactly
        # the common languages (there the average is over them: its interval belongs to the point)
        common = common_ground_of(self.data.configurations if self.data is not None else configs)
        xs = [float(cast(float, c.costs[key])) for c in configs]
        ys = [100 * cast(float, common.means[c.config_id]) for c in configs]
        same = [not common.differs(c.config_id) and c.avg.value is not None for c in configs]
        lows = [100 * c.avg.low if ok and c.avg.low is not None else y for c, y, ok in zip(configs, ys, same)]
        highs = [100 * c.avg.high if ok and c.avg.high is not None else y for c, y, ok in zip(configs, ys, same)]
        xa = make_axis(xs, self._measure().tick)
        ya = make_axis(lows + highs, "percent", pad=0.06)
        # interval bars first, then the frontier line, then the markers on top
        for c, x, lo, hi in zip(configs, xs, lows, highs):
            if hi > lo:
                plt.plot(
                    [xa.at(x), xa.at(x)],
                    [lo, hi],
                    marker=present.INTERVAL_BAR,
                    color=present.family_style(c.family).rgb,
                )
        front = sorted((xa.at(x), y) for c, x, y in zip(configs, xs, ys) if c.config_id in on_front)
        if len(front) > 1:
            # a step line: cost rises, accuracy rises; nothing lies above-left of it
            fx, fy = [front[0][0]], [front[0][1]]
            for x, y in front[1:]:
                fx += [x, x]
                fy += [fy[-1], y]
            plt.plot(fx, fy, marker="·", color=_hex_rgb(present.FRONTIER_COLOR))
        for fam in families_in(configs):
            style = present.family_style(fam)
            pts = [(xa.at(x), y) for c, x, y in zip(configs, xs, ys) if c.family == fam]
            plt.scatter([p[0] for p in pts], [p[1] for p in pts], marker=style.marker, color=style.rgb)
        plt.xlim(xa.lo, xa.hi)
        plt.ylim(ya.lo, ya.hi)
        plt.xticks(xa.ticks, xa.labels)
        plt.yticks(ya.ticks, ya.labels)
        plt.title(f"XCOPA accuracy (%) over the {len(common.langs)} common languages, 95% intervals")
        plt.xlabel(label + (" (log scale)" if xa.log else ""))
        plot.refresh()

    def _fill_config_table(
        self, configs: list[ConfigurationRow], key: str, m: present.Measure, on_front: set[str]
    ) -> None:
        cols = [
            PageColumn("label", "configuration", self._label_width()),
            PageColumn("runs", "runs", 4, True),
            PageColumn("avg", "avg [95% interval]", 18, True),
            PageColumn("cost", m.column.header, 9, True),
            PageColumn("frontier", "frontier", 8),
            PageColumn("common", "common", 7, True),
            PageColumn("flags", "flags", 40),
        ]
        common = common_ground_of(configs)
        rows, keys, styles = [], [], []
        for c in sorted_configs(configs):
            style = present.family_style(c.family)
            keys.append(c.config_id)
            note = common.note(c.config_id)
            rows.append(
                [
                    f"{style.marker} {c.label}",
                    str(c.n_runs),
                    range_cell(c.avg),
                    m.column.cell(c.costs.get(key)),
                    "yes" if c.config_id in on_front else "",
                    common_cell(c, common),
                    "; ".join(x for x in (flags_of(c), f"{COMMON_MARK} {note}" if note else "") if x),
                ]
            )
            styles.append([style.color, None, None, None, "bold" if c.config_id in on_front else None, None, "dim"])
        self.query_one("#compare-configs", PageTable).set_page(cols, keys, rows, styles, fixed=1)

    # ---- the languages view --------------------------------------------------------------------
    def _fill_grid(self) -> None:
        if self.data is None:
            return
        configs = sorted_configs(self.data.configurations)
        shown = grid_columns(configs)
        cols = [PageColumn("label", "configuration", self._label_width()), PageColumn("runs", "runs", 4, True)]
        cols += [PageColumn(name, name, INTERVAL_WIDTH, True) for name in shown]
        cols.append(PageColumn("flags", "flags", 40))
        rows, keys, styles = [], [], []
        for c in configs:
            style = present.family_style(c.family)
            chance = set(c.chance_langs)
            cells = [f"{style.marker} {c.label}", str(c.n_runs)]
            cell_styles: list[str | None] = [style.color, None]
            for name in shown:
                flagged = name in chance
                cells.append(interval_cell(c.accuracy.get(name), flagged))
                cell_styles.append("dim" if flagged else None)
            cells.append(flags_of(c))
            cell_styles.append("dim")
            rows.append(cells)
            keys.append(c.config_id)
            styles.append(cell_styles)
        self.query_one("#compare-grid", PageTable).set_page(cols, keys, rows, styles, fixed=1)
        self.query_one("#grid-legend", Static).update(
            Text.assemble(
                "mean ± half-width of its 95% interval (seeds and test items), in points · ",
                (f"dim, {CHANCE_MARK}", "dim"),
                ": not distinguishable from chance (50%)",
            )
        )
        self.painted_grid += 1

    # ---- the verdict view ----------------------------------------------------------------------
    def verdict_text(self) -> Text:
        data = self.data
        text = Text()
        if data is None:
            return text
        v = data.verdict
        base = (
            "each configuration's default: direct fine-tuning of the same model and recipe"
            if self.settings.baseline is None
            else self._baseline_text()
        )
        text.append("Verdict", style="bold")
        text.append(
            f"  baseline: {base} · similar: within ±{100 * v.delta:g} points (δ, d) · "
            f"intermediate phase serves N = {v.amortise_n:g} target task{'s' if v.amortise_n != 1 else ''} "
            "(n) · b picks the baseline\n",
            style="dim",
        )
        if self.computing:
            text.append(
                f"computing… ({self._computing_what()}); the sentences below are of the previous settings\n",
                style="bold yellow",
            )
        averaged = v.averaged()
        if not averaged:
            text.append(
                "\nNo comparison yet: a configuration is compared with its baseline once both have "
                "succeeded runs scored on the same items (direct fine-tuning of the same model and recipe, "
                "else the direct configuration with most runs, or the baseline picked with b).\n"
            )
        for c, sentence in zip(averaged, data.sentences):
            cfg = v.configurations.get(c.config_id)
            style = present.family_style(cfg.family if cfg is not None else "?")
            text.append("\n")
            text.append(style.marker + " ", style=f"bold {style.color}")
            text.append(sentence + "\n")
        flagged = [c for c in sorted_configs(data.configurations) if flags_of(c)]
        if flagged:
            text.append("\nFlags\n", style="bold")
            for row in flagged:
                text.append(f"  {row.label}: {flags_of(row)}\n", style="dim")
        return text

    def _fill_verdict(self) -> None:
        self.query_one("#compare-verdict", TextPanel).update(self.verdict_text())
        self.painted_verdict += 1

    # ---- the curves view -----------------------------------------------------------------------
    def _curve_measure(self) -> present.Measure:
        m = self._measure()
        return m if m.curve else present.MEASURES["train_device_hours"]

    def _ensure_curves(self) -> None:
        phase, lang = self.curve_choice
        key = (self._curve_measure().curve, phase, lang)
        if self.curves_key == key or self._curve_seq == key:
            return
        self._curve_seq = key
        self._curves_worker(key)

    @work(thread=True, exclusive=True, group="compare-curves", exit_on_error=False)
    def _curves_worker(self, key: tuple) -> None:
        cost, phase, lang = key
        try:
            curves = learning_curves(self.store, cost=cost, lang=lang, phase=phase)
        except StoreError as exc:
            self.post_message(CurvesLoaded(key, None, exc))
            return
        except Exception as exc:  # noqa: BLE001
            self.post_message(CurvesLoaded(key, None, StoreError(f"{type(exc).__name__}: {exc}")))
            return
        self.post_message(CurvesLoaded(key, curves, None))

    @on(CurvesLoaded)
    def _curves_loaded(self, msg: CurvesLoaded) -> None:
        if msg.key != self._curve_seq:
            return
        self._curve_seq = None
        self.curves_key = msg.key
        self.curves = msg.curves if msg.error is None else {}
        self.curve_loads += 1
        self._fill_curves(msg.error)

    def _fill_curves(self, error: BaseException | None = None) -> None:
        chart = cast("Chart", self.query_one("#compare-curves"))  # Chart is imported with the screen's widgets
        legend = self.query_one("#curves-legend", Static)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        m = self._curve_measure()
        phase, lang = self.curve_choice
        configs = self.data.verdict.configurations if self.data is not None else {}
        curves = [c for c in (self.curves or {}).values() if c.cost]
        where = "mean over the XCOPA languages" if lang == "avg" else ("English COPA" if lang == "en" else lang)
        what = f"{'target' if phase == 'target' else 'few-shot'} phase · {where}"
        if not curves:
            plt.title(f"learning curves ({what}): none in the store")
            chart.refresh()
            legend.update(
                Text(
                    str(error)
                    if error is not None
                    else "Runs record a curve while they train (spec curve_points, default 5 points: the "
                    "held-out validation items not drawn as shots); runs made before that, or with "
                    "curve_points = 0, have none. l picks another language or phase.",
                    style="italic",
                )
            )
            return
        xs = [x for c in curves for x in c.cost]
        ys = [100 * a for c in curves for a in c.accuracy]
        xa = make_axis(xs, m.tick)
        ya = make_axis(ys, "percent", pad=0.06)
        fams = []
        for c in sorted(curves, key=lambda c: c.config_id):
            cfg = configs.get(c.config_id)
            fam = cfg.family if cfg is not None else "?"
            fams.append(fam)
            style = present.family_style(fam)
            px = [xa.at(x) for x in c.cost]
            py = [100 * a for a in c.accuracy]
            plt.plot(px, py, marker="braille", color=style.rgb)
            plt.scatter(px[-1:], py[-1:], marker=style.marker, color=style.rgb)
        plt.xlim(xa.lo, xa.hi)
        plt.ylim(ya.lo, ya.hi)
        plt.xticks(xa.ticks, xa.labels)
        plt.yticks(ya.ticks, ya.labels)
        title = f"held-out accuracy (%) vs cumulative training cost · {what}"
        if len(title) > chart.size.width - 2:
            short = "XCOPA mean" if lang == "avg" else where
            title = f"held-out accuracy (%) · {'target' if phase == 'target' else 'few-shot'} · {short}"
        plt.title(title)
        unit = m.name.replace("training ", "cumulative training ")
        note = "" if m.key == self.measure else f" (the x measure has no curve: {m.header})"
        plt.xlabel(unit + (" (log scale)" if xa.log else "") + note)
        chart.refresh()
        text = legend_text(
            sorted(set(fams), key=lambda f: list(present.FAMILY_STYLES).index(f) if f in present.FAMILY_STYLES else 99),
            frontier=False,
            intervals=False,
        )
        text.append(f"   {len(curves)} configurations, mean over runs · l: language, phase", style="dim")
        legend.update(text)

    # ---- runs of a configuration ---------------------------------------------------------------
    @on(PageTable.RowSelected, "#compare-configs,#compare-grid")
    def _config_selected(self, event: PageTable.RowSelected) -> None:
        self.show_runs(event.key)

    def show_runs(self, config_id: str) -> None:
        """The Runs screen filtered to one configuration's runs (x clears the filter)."""
        app = xcost_app(self)
        app.switch_mode("runs")
        runs = app.screen
        if isinstance(runs, RunsScreen):
            runs.set_filter(config_id=config_id)

    # ---- export --------------------------------------------------------------------------------
    def action_export_svg(self) -> None:
        try:
            path = export_path(self.store, f"compare-{self.view}-{self.measure}", "svg")
            written = self.app.save_screenshot(filename=path.name, path=str(path.parent))
        except Exception as exc:  # noqa: BLE001
            self.notify(f"could not save the SVG: {exc}", severity="error")
            return
        xcost_app(self).exported(Path(written), "the Compare view")


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
