"""One run: its phases with their costs, per-language accuracy, and the tail of its log."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Static, TabbedContent, TabPane

from ... import format as fmt
from ... import present
from ...errors import StoreError
from ...rundir import RunDir, StoreLayout
from ...store import query
from ...store.forecasts import phase_forecasts
from ..widgets.empty import EmptyState

LOG_LINES = 50
LOG_POLL_S = 2.0


def tail_lines(path: Path, n: int = LOG_LINES, block: int = 8192) -> list[str]:
    """The last ``n`` lines of a text file, reading backwards from the end (never the whole file)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            end = fh.tell()
            data = b""
            pos = end
            while pos > 0 and data.count(b"\n") <= n:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-n:]


class DetailLoaded(Message):
    def __init__(self, detail: dict | None, error: BaseException | None) -> None:
        super().__init__()
        self.detail, self.error = detail, error


class LogLoaded(Message):
    def __init__(self, path: Path, lines: list[str]) -> None:
        super().__init__()
        self.path, self.lines = path, lines


# the figures of one run's headline, as the Runs table and the headless leaderboard write them
HEADLINE_ACC = ("avg_accuracy", "en_accuracy")
HEADLINE_COST = ("train_device_hours", "train_flops", "train_energy_j", "peak_train_mem_bytes", "latency_p50_s")


class RunDetailScreen(Screen):
    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("ctrl+r,f5", "reload", "Reload"),
    ]

    def __init__(self, store: Path, run_id: str) -> None:
        super().__init__()
        self.store = Path(store)
        self.run_id = run_id
        self.detail: dict | None = None
        self.log_path: Path | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(f"run {self.run_id}", id="detail-summary")
        yield EmptyState(self.store, id="detail-empty")
        with TabbedContent(id="detail-tabs"):
            with TabPane("Phases", id="tab-phases"):
                yield DataTable(id="detail-phases", cursor_type="row", zebra_stripes=True)
            with TabPane("Accuracy", id="tab-acc"):
                yield Static("", id="detail-acc")
            with TabPane("Log", id="tab-log"):
                yield Log(id="detail-log", max_lines=1000)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(EmptyState).display = False
        self._load()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _load(self) -> None:
        try:
            detail = query.run_detail(self.store, self.run_id)
        except StoreError as exc:
            self.post_message(DetailLoaded(None, exc))
            return
        add_forecasts(self.store, self.run_id, detail["phases"])
        self.post_message(DetailLoaded(detail, None))
        run_dir = StoreLayout(self.store).resolve(detail["run"].get("run_dir"))
        if run_dir is not None:
            self._tail(RunDir(run_dir).log, detail["run"].get("status") == "running")

    @work(thread=True, exclusive=True, group="detail-log", exit_on_error=False)
    def _tail(self, path: Path, follow: bool) -> None:
        lines = tail_lines(path)
        self.post_message(LogLoaded(path, lines))
        if follow:
            try:
                self.app.call_from_thread(self.set_timer, LOG_POLL_S, lambda: self._tail(path, True))
            except Exception:  # the screen is gone
                pass

    @on(DetailLoaded)
    def _loaded(self, msg: DetailLoaded) -> None:
        self.loaded = True
        empty = self.query_one(EmptyState)
        detail = msg.detail
        if msg.error is not None or detail is None:
            empty.show_error(msg.error or StoreError(f"no run {self.run_id}"))
            empty.display = True
            self.query_one(TabbedContent).display = False
            return
        self.detail = detail
        self.query_one("#detail-summary", Static).update(summary(detail))
        self._fill_phases(detail["phases"])
        self.query_one("#detail-acc", Static).update(accuracy_table(detail))

    @on(LogLoaded)
    def _log_loaded(self, msg: LogLoaded) -> None:
        log = self.query_one(Log)
        log.clear()
        if not msg.lines:
            log.write_line(f"(no log at {msg.path})")
        else:
            log.write_lines(msg.lines)

    def _fill_phases(self, phases: list[dict]) -> None:
        table = self.query_one("#detail-phases", DataTable)
        table.clear(columns=True)
        for col in present.PHASES:
            table.add_column(col.header, key=col.key)
        for p in phases:
            cells = []
            texts = present.contended_cells(
                present.PHASES, [col.cell(p.get(col.key)) for col in present.PHASES], p.get("contended")
            )
            for col, text in zip(present.PHASES, texts):
                if col.key == "phase" and not p.get("completed"):
                    text += " …"
                cells.append(Text(text, justify="right" if col.numeric else "left"))
            table.add_row(*cells)


def add_forecasts(store: Path, run_id: str, phases: list[dict]) -> None:
    """Each phase's newest forecast and its error (the fc dev-h and fc err columns), where one exists."""
    try:
        forecasts = phase_forecasts(store, run_id)
    except Exception:  # noqa: BLE001 - the forecast columns are extra: without them the detail still shows
        return
    for p in phases:
        p.update(forecasts.get(cast(str, p.get("phase")), {}))  # a phase row names its phase (None finds none)


def _figures(board: dict, keys: tuple[str, ...]) -> str:
    """'avg 62.3  en 70.0': each figure under its column header, written as in the Runs table."""
    return "  ".join(f"{present.column(k).header} {present.cell(k, board.get(k))}" for k in keys)


def _collapse(run: dict) -> tuple:
    """'  collapsed yes (2 target attempts)' (red when collapsed) for the accuracy line; nothing when not judged."""
    text = present.collapse_text(run.get("collapsed"), run.get("target_attempts"))
    if not text:
        return ()
    return ("  ", (text, present.cell_style("collapsed", run.get("collapsed")) or ""))


def summary(detail: dict) -> Text:
    """A few dense lines: identity, status, headline accuracy and costs (each fits 80 columns)."""
    run, board = detail["run"], detail.get("leaderboard") or {}
    status = run.get("status") or "unknown"
    style = present.status_style(status) or "dim"
    inter = fmt.text(board.get("intermediate") or run.get("intermediate"))
    planned = run.get("phases_planned") or []
    lines = [
        Text.assemble(
            (str(run.get("run_id")), "bold"),
            "  ",
            (status, style),
            f"  {run.get('phases_done') or 0}/{len(planned) or '?'} phases",
            f"  {fmt.seconds(run.get('duration_s'))}",
        ),
        Text(
            f"{fmt.text(run.get('model'))} · {run.get('method')} · interm. {inter} · k {fmt.integer(run.get('k'))}"
            f" · seed {run.get('seed')} · {fmt.text(run.get('device_name'))} ×{fmt.integer(run.get('device_count'))}"
            f" {fmt.text(run.get('precision'))}"
        ),
        # the configuration the run is one seed of (Compare aggregates it), and whether it is ranked
        Text.assemble(
            ("config ", "bold"),
            fmt.text(run.get("config_label")),
            "  ",
            (fmt.text(run.get("config_id")), "dim"),
            "  ",
            (
                "ranked" if board.get("complete") else "not ranked: failed, running or partial",
                "" if board.get("complete") else "dim",
            ),
        ),
        # accuracy and cost on lines of their own: together they wrap mid-figure at 80 columns
        Text.assemble(
            ("acc  ", "bold"),
            _figures(board, HEADLINE_ACC),
            "  langs ",
            present.langs_cell(board.get("n_langs"), board.get("n_langs_planned")),
            *_collapse(run),
        ),
        Text.assemble(("cost ", "bold"), _figures(board, HEADLINE_COST)),
    ]
    if run.get("executor") == "slurm":
        lines.append(
            Text(
                f"SLURM job {fmt.text(run.get('executor_job_id'))} · {fmt.text(run.get('executor_state'))}"
                + (f" ({run['executor_reason']})" if run.get("executor_reason") else "")
                + f" · node {fmt.text(run.get('node'))}"
            )
        )
    if (run.get("runs_sharing") or 0) > 1:
        lines.append(
            Text(
                f"cpu share: {run.get('cpu_threads')} thread(s), measured beside {run['runs_sharing'] - 1} "
                f"other run(s) sharing the machine's CPUs"
            )
        )
    contended = [p for p in detail.get("phases") or [] if p.get("contended")]
    if contended:
        first = contended[0]
        lines.append(
            Text(
                f"{present.CONTENDED_MARK} contended: {len(contended)} phase(s), e.g. {first.get('phase')}: "
                f"{first.get('contention') or 'other work on its CPUs or GPUs'}",
                style="yellow",
            )
        )
    if run.get("error"):
        lines.append(Text(f"error in {fmt.text(run.get('failed_phase'))}: {run['error']}", style="red"))
    return Text("\n").join(lines)


def accuracy_table(detail: dict) -> Table:
    t = Table(box=None, padding=(0, 1), show_edge=False)
    t.add_column("lang", style="bold")
    t.add_column("acc %", justify="right")
    t.add_column("correct/n", justify="right")
    t.add_column("")
    for e in detail["evals"]:
        acc = e.get("accuracy")
        bar = "█" * int(round((acc or 0) * 30))
        t.add_row(
            e.get("lang"),
            present.AVG_ACCURACY.cell(acc),
            f"{fmt.integer(e.get('correct'))}/{fmt.integer(e.get('n'))}",
            Text(bar, style="cyan" if e.get("lang") != "en" else "magenta"),
        )
    if not detail["evals"]:
        t.add_row("–", "no accuracy yet", "", "")
    return t
