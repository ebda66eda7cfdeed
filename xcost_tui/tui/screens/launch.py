"""Launch: open a plan, see its expanded runs, set parallelism, start the queue.

The runner lives on the App: runs started here keep going while you look at other screens.
Loading a plan (reading TOML, validating every run) and submitting it happen in workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from ... import format as fmt
from ...plan import Plan, load_plan
from ...present import status_style
from ..widgets.pagetable import PageColumn, PageTable
from . import xcost_app

if TYPE_CHECKING:
    from ...runner.live import LiveRun

COLUMNS = [
    PageColumn("n", "#", 3, True),
    PageColumn("name", "name", 18),
    PageColumn("state", "state", 10),
    PageColumn("method", "method", 12),
    PageColumn("model", "model", 17),
    PageColumn("intermediate", "interm.", 14),
    PageColumn("k", "k", 3, True),
    PageColumn("seed", "seed", 4, True),
    PageColumn("langs", "langs", 20),
]


class PlanLoaded(Message):
    def __init__(self, plan: Plan | None, error: str | None) -> None:
        super().__init__()
        self.plan, self.error = plan, error


class QueueStarted(Message):
    def __init__(self, added: list[LiveRun], error: str | None) -> None:
        super().__init__()
        self.added, self.error = added, error


class LaunchScreen(Screen):
    BINDINGS = [
        Binding("o", "load", "Open plan"),
        Binding("ctrl+s", "start", "Start queue"),
        Binding("plus,equals_sign", "parallel(1)", "+par", show=False),
        Binding("minus", "parallel(-1)", "-par", show=False),
        Binding("escape", "focus_runs", "Runs table", show=False),
    ]

    def __init__(
        self, plan: str | None = None, data_dir: str | None = None, max_parallel: int | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.plan_arg = plan
        self.data_dir = data_dir
        self.parallel = max_parallel
        self.plan: Plan | None = None
        self.loads = 0  # finished load attempts (tests wait on it)
        self.started = 0

    def compose(self) -> ComposeResult:
        with Horizontal(id="launch-bar"):
            yield Input(
                self.plan_arg or "",
                placeholder="plan file or built-in name (demo, xcopa-stilts)",
                id="launch-path",
                compact=True,
            )
            yield Button("Load", id="launch-load", compact=True)
            yield Label("parallel")
            yield Input(
                str(self.parallel or ""), placeholder="auto", id="launch-parallel", type="integer", compact=True
            )
            yield Button("Start ▶", id="launch-start", variant="success", compact=True)
        yield Static(
            "Open a plan: type a path (or a built-in plan name: demo, xcopa-stilts) and press enter.",
            id="launch-summary",
        )
        yield PageTable(id="launch-runs")
        yield Static("", id="launch-status", classes="status-line")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#launch-runs").display = False
        xcost_app(self).steady_cursors(self)
        self.set_interval(1.0, self._refresh_states)
        if self.plan_arg:
            self.load(self.plan_arg)
        else:
            self.query_one("#launch-path", Input).focus()

    def action_focus_runs(self) -> None:
        self.query_one("#launch-runs").focus()

    # ---- loading -----------------------------------------------------------------------------
    def action_load(self) -> None:
        path = self.query_one("#launch-path", Input).value.strip()
        if not path:
            self.query_one("#launch-path", Input).focus()
            return
        self.load(path)

    @on(Input.Submitted, "#launch-path")
    def _path_submitted(self) -> None:
        self.action_load()

    @on(Button.Pressed, "#launch-load")
    def _load_pressed(self) -> None:
        self.action_load()

    def load(self, path: str) -> None:
        self.query_one("#launch-summary", Static).update(f"loading {path} …")
        self._load(path)

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def _load(self, path: str) -> None:
        try:
            plan = load_plan(path, data_dir=self.data_dir)
        except Exception as exc:  # noqa: BLE001 - SpecError and friends: shown in place
            self.post_message(PlanLoaded(None, str(exc)))
            return
        self.post_message(PlanLoaded(plan, None))

    @on(PlanLoaded)
    def _plan_loaded(self, msg: PlanLoaded) -> None:
        self.loads += 1
        summary = self.query_one("#launch-summary", Static)
        plan = msg.plan
        if msg.error or plan is None:
            summary.update(Text(f"could not load the plan:\n{msg.error}", style="red"))
            self.query_one("#launch-runs").display = False
            self.plan = None
            return
        self.plan = plan
        lines = [Text.assemble((f"{plan.name}", "bold"), f"  {plan.label}  ·  {len(plan.runs)} runs")]
        if plan.description:
            lines.append(Text(plan.description, style="italic"))
        data = plan.data_dir or (plan.runs[0].data_dir if plan.runs else None)
        lines.append(Text(f"data: {data or 'the Hugging Face hub'}", style="dim"))
        for group in plan.shared_targets():
            lines.append(
                Text(
                    f"shared {', '.join(group.phases)}: {group.producer} saves the model, "
                    f"{len(group.consumers)} start from it",
                    style="dim",
                )
            )
        for shared in plan.shared_intermediates_left():
            lines.append(
                Text(
                    f"shared {', '.join(shared.phases)}: {shared.producer} saves, {len(shared.consumers)} reuse",
                    style="dim",
                )
            )
        for note in plan.notes:
            lines.append(Text(f"note: {note}", style="dim"))
        summary.update(Text("\n").join(lines))
        table = self.query_one("#launch-runs", PageTable)
        table.display = True
        self._fill(self._states())
        table.focus()

    def _states(self) -> dict[str, str]:
        runner = xcost_app(self).current_runner
        if runner is None:
            return {}
        try:
            return {r.run_id: ("skipped" if r.skipped else r.status.value) for r in runner.snapshot()}
        except Exception:  # noqa: BLE001 - the next refresh tries again
            return {}

    def _fill(self, states: dict[str, str]) -> None:
        if self.plan is None:
            return
        rows, keys, styles = [], [], []
        for i, spec in enumerate(self.plan.runs, 1):
            rid = spec.run_id()
            state = states.get(rid, "planned")
            rows.append(
                [
                    str(i),
                    spec.name or "",
                    state,
                    spec.method,
                    spec.model,
                    ",".join(spec.intermediate) or fmt.NULL,
                    fmt.integer(spec.few_shot_k),
                    str(spec.seed),
                    ",".join(spec.langs),
                ]
            )
            keys.append(rid)
            styles.append([None, None, status_style(state)] + [None] * 6)
        table = self.query_one("#launch-runs", PageTable)
        if table.rows != rows:
            table.set_page(COLUMNS, keys, rows, styles, cursor=table.cursor_row)
        counts: dict[str, int] = {}
        for s in (states.get(k, "planned") for k in keys):
            counts[s] = counts.get(s, 0) + 1
        runner = xcost_app(self).current_runner
        par = self.parallel or (runner.max_parallel if runner is not None else None)
        shown: int | str | None = par
        if par is not None and par >= 1_000_000:  # a SLURM runner submits every run (runner/executors.py)
            shown = "all"
        self.query_one("#launch-status", Static).update(
            " · ".join(f"{n} {s}" for s, n in counts.items())
            + f" · parallel {shown or 'auto'}"
            + " · ctrl+s start · 2 Live"
        )

    def _refresh_states(self) -> None:
        if self.plan is not None and self.is_current:
            self._fill(self._states())

    # ---- parallelism -------------------------------------------------------------------------
    def _read_parallel(self) -> int | None:
        text = self.query_one("#launch-parallel", Input).value.strip()
        if not text:
            return None
        try:
            n = int(text)
        except ValueError:
            return None
        return n if n >= 1 else None

    @on(Input.Changed, "#launch-parallel")
    def _parallel_changed(self) -> None:
        self.parallel = self._read_parallel()
        self._apply_parallel()

    def action_parallel(self, step: int) -> None:
        runner = xcost_app(self).current_runner
        current = self.parallel or (runner.max_parallel if runner is not None else 1)
        self.query_one("#launch-parallel", Input).value = str(max(1, current + step))

    def _apply_parallel(self) -> None:
        runner = xcost_app(self).current_runner
        if self.parallel and runner is not None:
            runner.max_parallel = self.parallel

    # ---- starting ----------------------------------------------------------------------------
    @on(Button.Pressed, "#launch-start")
    def _start_pressed(self) -> None:
        self.action_start()

    def action_start(self) -> None:
        if self.plan is None:
            self.notify("load a plan first (o)", severity="warning")
            return
        self.query_one("#launch-status", Static).update("starting the queue …")
        self._start(self.plan, self.parallel)

    @work(thread=True, exclusive=True, group="launch", exit_on_error=False)
    def _start(self, plan: Plan, parallel: int | None) -> None:
        try:
            runner = xcost_app(self).runner
            if parallel:
                runner.max_parallel = parallel
            added = runner.submit(plan.runs)
            runner.start()
        except Exception as exc:  # noqa: BLE001
            self.post_message(QueueStarted([], f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(QueueStarted(list(added or []), None))

    @on(QueueStarted)
    def _queue_started(self, msg: QueueStarted) -> None:
        self.started += 1
        if msg.error:
            self.notify(f"could not start the queue: {msg.error}", severity="error", timeout=10)
            return
        skipped = sum(1 for r in msg.added if r.skipped)
        text = f"queued {len(msg.added) - skipped} run(s)"
        if skipped:
            text += f"; {skipped} already succeeded (skipped)"
        self.notify(text + " · press 2 for Live", title="launch")
        self._fill(self._states())
