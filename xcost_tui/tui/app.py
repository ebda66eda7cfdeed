"""The xcost-tui app: five screens (modes) over the store and the runner.

    1 Runs   2 Live   3 Launch   4 Compare   5 SQL      F1/? help · ctrl+p palette · q quit

The App holds the runner (``self.runner``), so runs started on Launch keep going while you
look at other screens. Screens are built the first time they are shown; Runs is first, and
is usable as soon as its first page arrives from DuckDB (a thread worker).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .runner_bridge import attach_existing, make_runner, own_active_runs, runner_available, shutdown
from .screens.runs import RunsReady, RunsScreen, store_signature

if TYPE_CHECKING:  # types only (the runner package is imported on first use, not at start-up)
    from textual.widgets import Input, TextArea

    from ..plan import ExecutorSettings
    from ..runner.api import RunnerAPI
    from ..runner.notes import Note


SCREENS_GROUP = Binding.Group("screens", compact=True)
MODE_ORDER = ("runs", "live", "launch", "compare", "sql")
MODE_TITLES = {"runs": "Runs", "live": "Live", "launch": "Launch", "compare": "Compare", "sql": "SQL"}


class XcostApp(App):
    """``XcostApp(store, plan=None, data_dir=None, max_parallel=None, runner=None)``.

    ``runner``: an object with the runner's live API (tests pass a fake); by default the real
    runner is created on first use (Launch, Live, quitting) or at start-up to re-attach runs
    a previous session left running. ``clock``: the time the Live screen shows (tests fix it).
    """

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "xcost-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("1", "goto('runs')", "Runs", group=SCREENS_GROUP),
        Binding("2", "goto('live')", "Live", group=SCREENS_GROUP),
        Binding("3", "goto('launch')", "Launch", group=SCREENS_GROUP),
        Binding("4", "goto('compare')", "Compare", group=SCREENS_GROUP),
        Binding("5", "goto('sql')", "SQL", group=SCREENS_GROUP),
        Binding("R", "goto('runs')", "Runs", show=False),
        Binding("L", "goto('live')", "Live", show=False),
        Binding("P", "goto('launch')", "Launch", show=False),
        Binding("C", "goto('compare')", "Compare", show=False),
        Binding("S", "goto('sql')", "SQL", show=False),
        Binding("f1,question_mark", "help", "Help"),
        Binding("q", "quit_app", "Quit"),
        Binding("ctrl+q", "quit_app", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        store: Path | str = "store",
        plan: str | None = None,
        data_dir: str | None = None,
        max_parallel: int | None = None,
        runner: RunnerAPI | None = None,
        attach: bool = True,
        clock: Callable[[], float] | None = None,
        executor: ExecutorSettings | None = None,
    ) -> None:
        super().__init__()
        self.executor = executor  # plan.ExecutorSettings (--executor): where the app's runner runs runs
        self.store = Path(store)
        self.plan_arg = plan
        self.data_dir = data_dir
        self.max_parallel = max_parallel
        self._runner: RunnerAPI | None = runner
        self._attach_existing_runs = attach and runner is None  # (not _attach: that is Textual's method)
        self.clock = clock
        self.exports: list[Path] = []
        self.runs_version = 0
        self.compare_warm = False  # Compare's modules imported in the background (benchmarks wait on it)
        self.compare_prefetch: tuple[Any, Any] | None = None  # (store signature, CompareData) read while warming
        self.runner_notes: deque[str] = deque(maxlen=500)  # the runner's messages, oldest first
        self.runner_notes_total = 0
        self.add_mode("runs", lambda: RunsScreen(self.store, id="runs"))
        self.add_mode("live", self._make_live)
        self.add_mode("launch", self._make_launch)
        self.add_mode("compare", self._make_compare)
        self.add_mode("sql", self._make_sql)

    # ---- screens -----------------------------------------------------------------------------
    def _make_live(self) -> Screen:
        from .screens.live import LiveScreen  # deferred: a screen is imported when first shown (start-up cost)

        return LiveScreen(id="live")

    def _make_launch(self) -> Screen:
        from .screens.launch import LaunchScreen  # deferred: a screen is imported when first shown (start-up cost)

        return LaunchScreen(plan=self.plan_arg, data_dir=self.data_dir, max_parallel=self.max_parallel, id="launch")

    def _make_compare(self) -> Screen:
        from .screens.compare import CompareScreen  # deferred: a screen is imported when first shown (start-up cost)

        return CompareScreen(self.store, id="compare")

    def _make_sql(self) -> Screen:
        from .screens.sql import SqlScreen  # deferred: a screen is imported when first shown (start-up cost)

        return SqlScreen(self.store, id="sql")

    def on_mount(self) -> None:
        self.switch_mode("launch" if self.plan_arg else "runs")
        if self._attach_existing_runs:
            self.call_after_refresh(self._attach_existing)
        self.set_interval(1.0, self._poll_notes)

    def steady_cursors(self, screen: Screen) -> None:
        """No blinking text cursors when headless (tests, snapshots): a blink is not a change."""
        if self.is_headless:
            for widget in screen.query("Input, TextArea"):
                cast("Input | TextArea", widget).cursor_blink = False

    def action_goto(self, mode: str) -> None:
        self.switch_mode(mode)

    def action_help(self) -> None:
        from .screens.dialogs import HelpScreen  # deferred: a screen is imported when first shown (start-up cost)

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    @on(RunsReady)
    def _runs_ready(self, msg: RunsReady) -> None:
        self.runs_version = msg.version
        if msg.version == 1:
            self.call_after_refresh(self._warm_compare)  # once the first page is painted

    @work(thread=True, group="warm", exit_on_error=False)
    def _warm_compare(self) -> None:
        """Import what Compare needs (its screen, plotext, the verdict API and numpy) while the
        user reads the Runs table, so that 4 shows the verdict without waiting on imports."""
        import importlib

        for name in (
            "xcost_tui.tui.screens.compare",
            "xcost_tui.tui.widgets.charts",
            "xcost_tui.tui.widgets.textpanel",
            "xcost_tui.verdict.api",
            "xcost_tui.stats.costs",
        ):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the screen reports a failing import when it opens
                return
        # and read the verdict of the default settings: 4 then shows it at once (the screen takes
        # it only if the store has not changed since; anything else it reads itself)
        from .screens.compare import (  # deferred: the Compare screen, warmed above off the first paint (start-up cost)
            CompareSettings,
            load_compare,
        )

        try:
            sig = store_signature(Path(self.store))
            self.compare_prefetch = (sig, load_compare(self.store, CompareSettings()))
        except Exception:  # noqa: BLE001 - the screen reads (and reports) it again when it opens
            self.compare_prefetch = None
        self.compare_warm = True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for i, mode in enumerate(MODE_ORDER, 1):
            yield SystemCommand(
                f"Go to {MODE_TITLES[mode]} ({i})",
                f"show the {MODE_TITLES[mode]} screen",
                lambda m=mode: self.switch_mode(m),
            )
        yield SystemCommand("Help (F1)", "keys of every screen", self.action_help)
        if isinstance(screen, RunsScreen):
            yield SystemCommand(
                "Export runs to CSV (e)",
                "all rows with the current sort and filters",
                lambda: screen.action_export("csv"),
            )
            yield SystemCommand(
                "Export runs to Parquet (E)",
                "all rows with the current sort and filters",
                lambda: screen.action_export("parquet"),
            )
            yield SystemCommand("Sort by… (s)", "pick a column to sort the runs by", screen.action_sort_pick)
            yield SystemCommand("Languages shown… (l)", "pick the language columns", screen.action_langs)
            yield SystemCommand("Clear filters (x)", "show every run", screen.action_clear_filters)
            yield SystemCommand(
                "Rank every run (A)",
                "failed, running and partial runs among the complete ones, or (again) after them",
                screen.action_rank_all,
            )
        # deferred: a screen is imported when first shown (start-up cost)
        from .screens.compare import VIEW_KEYS, VIEW_TITLES, VIEWS, CompareScreen

        if isinstance(screen, CompareScreen):
            yield SystemCommand(
                "Save Compare view as SVG (e)", "a screenshot of the view as shown", screen.action_export_svg
            )
            yield SystemCommand(
                "Baseline… (b)", "the configuration every other one is compared with", screen.action_pick_baseline
            )
            yield SystemCommand(
                "Similar accuracy δ… (d)",
                "how close two configurations must be to count as similar",
                screen.action_pick_delta,
            )
            yield SystemCommand(
                "Amortisation N… (n)",
                "how many target tasks the intermediate encoder serves",
                screen.action_pick_amortise,
            )
            yield SystemCommand(
                "Cost measure… (m)", "the x axis of the frontier and the curves", screen.action_pick_measure
            )
            for view in VIEWS:
                yield SystemCommand(
                    f"{VIEW_TITLES[view]} view ({VIEW_KEYS[view]})",
                    f"Compare's {view} view",
                    lambda v=view: screen.action_view(v),
                )

    def exported(self, path: Path, what: str) -> None:
        self.exports.append(Path(path))
        self.notify(f"wrote {what} to {path}", title="export", timeout=8)

    # ---- the runner --------------------------------------------------------------------------
    @property
    def runner(self) -> RunnerAPI:
        """The runner, created on first use (importing it never imports torch)."""
        if self._runner is None:
            self._runner = make_runner(self.store, self.data_dir, self.max_parallel, self.executor)
        return self._runner

    @property
    def has_runner(self) -> bool:
        return self._runner is not None

    @property
    def current_runner(self) -> RunnerAPI | None:
        """The runner if it exists already: looking at a screen does not create one."""
        return self._runner

    def now(self) -> float:
        return self.clock() if self.clock is not None else time.time()

    @work(thread=True, group="attach", exit_on_error=False)
    def _attach_existing(self) -> None:
        if not runner_available():
            return
        try:
            n = attach_existing(self.runner, self.store)
        except Exception as exc:  # noqa: BLE001 - a note, never a crash
            self.call_from_thread(self.notify, f"could not re-attach running runs: {exc}", severity="warning")
            return
        if n:
            self.call_from_thread(
                self.notify,
                f"{n} run{'s' if n != 1 else ''} from an earlier session still running: press 2 (Live)",
                title="runs",
                timeout=10,
            )

    def _poll_notes(self) -> None:
        if self._runner is not None:
            self._drain_notes()

    @work(thread=True, exclusive=True, group="runner-notes", exit_on_error=False)
    def _drain_notes(self) -> None:
        runner: RunnerAPI | None = self._runner
        if runner is None:
            return
        try:
            notes = runner.drain_messages()
        except Exception:  # noqa: BLE001 - notes are never worth a crash
            return
        if notes:
            self.call_from_thread(self._got_notes, notes)

    def _got_notes(self, notes: list[Note]) -> None:
        """Every note goes to the Live screen's log; warnings and errors also pop up."""
        from ..runner.notes import NoteLevel  # deferred: the runner package (start-up cost); loaded by now

        self.runner_notes.extend(str(note) for note in notes)
        self.runner_notes_total += len(notes)
        for note in notes:
            if note.level == NoteLevel.ERROR:
                self.notify(note.text, title="runner", severity="error", timeout=12)
            elif note.level == NoteLevel.WARNING:
                self.notify(note.text, title="runner", severity="warning", timeout=6)

    def running_count(self) -> int:
        """Runs of this app's runner that quitting would leave or cancel (not those another
        supervisor holds)."""
        if self._runner is None:
            return 0
        try:
            return len(own_active_runs(self._runner))
        except Exception:  # noqa: BLE001
            return 0

    # ---- quitting ----------------------------------------------------------------------------
    def action_quit_app(self) -> None:
        from .screens.dialogs import QuitModal  # deferred: a screen is imported when first shown (start-up cost)

        n = self.running_count()
        if not n:
            self._shutdown_and_exit(None)
            return
        if isinstance(self.screen, QuitModal):
            return
        # deferred: ~30 ms before the first paint (start-up cost); the runner has loaded it by now
        from ..rundir import RunStatus

        try:
            running = sum(1 for r in own_active_runs(self._runner) if r.status == RunStatus.RUNNING)
        except Exception:  # noqa: BLE001
            running = n

        def chosen(choice: str | None) -> None:
            if choice == "leave":
                self._shutdown_and_exit(False)
            elif choice == "cancel":
                self._shutdown_and_exit(True)

        self.push_screen(QuitModal(running, n - running), chosen)

    @work(thread=True, group="quit", exit_on_error=False)
    def _shutdown_and_exit(self, cancel_running: bool | None) -> None:
        if self._runner is not None:
            try:
                shutdown(self._runner, cancel_running=bool(cancel_running))
            except Exception as exc:  # noqa: BLE001
                self.call_from_thread(self.notify, f"runner shutdown: {exc}", severity="error")
        self.call_from_thread(self.exit, 0)


def run_app(
    store: Path,
    plan: str | None = None,
    data_dir: str | None = None,
    max_parallel: int | None = None,
    executor: str | None = None,
    process_per_run: bool = False,
) -> int:
    """Entry point of ``xcost-tui [plan.toml]``. ``executor`` (``--executor slurm``): the app's runner
    submits to SLURM, with the plan's ``[executor]`` settings when a plan is given.
    ``process_per_run`` (``--process-per-run``): a process per run instead of warm workers."""
    settings = None
    if executor is not None or process_per_run:
        from ..plan import ExecutorSettings, load_plan  # deferred: plan, spec and tasks (start-up cost)

        kind = executor or "local"
        settings = load_plan(plan, data_dir=data_dir, executor=kind).executor if plan else ExecutorSettings(kind=kind)
        settings.process_per_run = settings.process_per_run or process_per_run
    app = XcostApp(store=store, plan=plan, data_dir=data_dir, max_parallel=max_parallel, executor=settings)
    result = app.run()
    return int(result or 0) if isinstance(result, int) else 0
