"""``xcost-tui --headless PLAN``: run a plan without the app, then print the leaderboard.

On a terminal: rich progress bars (one per running run: name, phase, step/total, examples/s,
memory; one for the whole plan). Without one (CI, nohup, ``ssh`` without ``-t``, TERM=dumb):
plain lines: runs starting and ending, phase starts, progress at most every few seconds.
Exit status: 0 when every run succeeded, 1 when any failed or was cancelled or a store write
failed (a full or read-only disk), 2 for a bad plan or one whose data cannot be loaded (the data
pre-flight loads every split the runs need once, in a subprocess, before the first run starts;
``--skip-data-check`` skips it), 130 after Ctrl-C (running runs are cancelled cleanly first).

Ctrl-C never raises here: the SIGINT handler only counts (``_Interrupts``), and the loop that
watches the queue acts on it (first: cancel, second: kill), so no lock of the scheduler is ever
left half-taken by an exception landing in the middle of it.

No torch here: the runs are subprocesses. ``XCOST_ASSERT_NO_HEAVY_IMPORTS=1`` makes the command
fail (exit 3) if torch, transformers or datasets got imported into this process anyway (a test hook).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from . import format as fmt
from . import present
from .errors import XcostError
from .plan import describe_data, load_plan
from .rundir import JsonlReader, RunDir, RunFold, RunStatus, parse_event, read_status
from .runner import Scheduler
from .runner.executors import make_executor
from .runner.live import LiveRun
from .runner.notes import STARTED, Note, NoteLevel
from .runner.procs import JOB_COMMAND_ENV
from .runner.progress import ProgressLines, fmt_duration, mem_text, progress_every_s, speed_text, step_text
from .runner.storage import store_failure
from .store.forecasts import forecast_summary
from .store.ingest import ingest as ingest_runs
from .store.query import leaderboard
from .tasks import preflight
from .verdict.api import verdict

HEAVY = ("torch", "transformers", "datasets")
ASSERT_ENV = "XCOST_ASSERT_NO_HEAVY_IMPORTS"


def heavy_modules_loaded() -> list[str]:
    return sorted(m for m in HEAVY if m in sys.modules)


def _plain_terminal(stream: TextIO) -> bool:
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return not tty or os.environ.get("TERM") == "dumb"


# ---- what a finished run's lines say (its progress lines: runner/progress.py) -------------


def collapse_of(run_dir: Path) -> tuple[bool | None, int | None]:
    """(collapsed, target attempts) of a run from its events (the fold's reading, as ingest's):
    (None, None) when nothing was judged or the events cannot be read."""
    try:
        lines = JsonlReader(RunDir(Path(run_dir)).events).read_all_lines(final=True)
    except OSError:
        return None, None
    fold = RunFold()
    for line in lines:
        event = parse_event(line.obj)
        if event is not None:
            fold.apply(event)
    state = fold.state
    return state.collapsed, (state.target_attempts if state.collapsed is not None else None)


def end_line(run: LiveRun) -> str:
    """'direct: succeeded in 1m15s, avg accuracy 62.3% (it 60.0, zh 64.5), en 70.0': the figures
    written as the leaderboard and the app write them (present.py)."""
    elapsed = run.elapsed_s(time.time())
    wall = present.cell("duration_s", None if elapsed is None else max(0.0, elapsed))
    if run.skipped:
        text = f"{run.label}: already succeeded, not run again (--rerun runs it)"
    else:
        text = f"{run.label}: {run.status} in {wall}"
    avg = present.AVG_ACCURACY
    if run.avg_accuracy is not None:
        langs = ", ".join(
            f"{k} {present.cell(f'acc_{k}', v)}"
            for k, v in sorted(run.accuracy.items())
            if f"acc_{k}" in present.LEADERBOARD
        )
        text += f", avg accuracy {avg.cell(run.avg_accuracy)}{avg.unit} ({langs})"
    if run.en_accuracy is not None:
        text += f", en {present.EN_ACCURACY.cell(run.en_accuracy)}"
    collapse = present.collapse_text(*collapse_of(run.run_dir)) if run.done and not run.skipped else ""
    if collapse:
        text += f", {collapse}"
    if run.contended_phases:
        text += f", {run.contended_phases} phase(s) contended{present.CONTENDED_MARK}"
    if run.job_id is not None:
        text += f" (SLURM job {run.job_id}{' ' + run.executor_state if run.executor_state else ''})"
    if run.status != RunStatus.SUCCEEDED and run.error:
        text += f": {run.error}"
    return text


# ---- watching the queue ---------------------------------------------------------------------


class _Watcher:
    """Turns successive snapshots into lines: starts, phases, periodic progress, ends."""

    def __init__(self, progress_every_s: float):
        self.progress = ProgressLines(progress_every_s)  # phases and progress: as `xcost-tui run` says them
        self.status: dict[str, str] = {}
        self.remote: dict[str, str] = {}  # the SLURM state last said, per run

    def lines(self, snapshot, sched, *, phases: bool, progress: bool) -> list[str]:
        out = [note_line(n) for n in sched.drain_messages() if n.topic != STARTED]  # starts: our own line below
        now = time.monotonic()
        for run in snapshot:
            rid = run.run_id
            prev = self.status.get(rid)
            if run.status != prev:
                self.status[rid] = run.status
                started_now = run.status == RunStatus.RUNNING or (
                    run.done and not run.skipped and run.pid is not None and prev in (None, "queued", "waiting")
                )
                if started_now:
                    how = "attached to the running job" if run.attached else "started"
                    where = f" on GPU {run.gpu}" if run.gpu is not None else ""
                    start = run.init_target_from or run.init_from  # a post-target model replaces the encoder too
                    reuse = f", reusing {start}" if start else ""
                    if run.job_id is not None:
                        how = "attached to its SLURM job" if run.attached else "submitted to SLURM"
                        after = f", after job {run.depends_on} (afterok)" if run.depends_on else ""
                        out.append(f"{run.label} ({rid}): {how} (job {run.job_id}{after}){reuse}")
                    else:
                        out.append(f"{run.label} ({rid}): {how} (pid {run.pid}){where}{reuse}")
                if run.done:
                    if phases:
                        out += self.progress.phase_lines(run, now)
                    out.append(end_line(run))
                elif run.status == "waiting" and prev is None:
                    what = "post-target model" if run.waiting_target else "encoder"
                    out.append(f"{run.label} ({rid}): waits for the {what} of {run.waiting_for}")
            if run.status != RunStatus.RUNNING:
                continue
            if run.job_id is not None and run.executor_state and run.executor_state != self.remote.get(rid):
                self.remote[rid] = run.executor_state
                why = f" ({run.executor_reason})" if run.executor_reason and run.executor_state == "PENDING" else ""
                node = f" on {run.node}" if run.node and run.executor_state != "PENDING" else ""
                out.append(f"{run.label}: SLURM job {run.job_id} {run.executor_state}{why}{node}")
            if phases:
                out += self.progress.phase_lines(run, now)
            if progress:
                out += self.progress.progress_lines(run, now)
        return out


def note_line(note: Note) -> str:
    """A runner note as headless prints it: ``note:``, ``warning:`` or ``error:`` and its text."""
    prefix = {NoteLevel.INFO: "note", NoteLevel.WARNING: "warning", NoteLevel.ERROR: "error"}[note.level]
    return f"{prefix}: {note.text}"


class _Interrupts:
    """Ctrl-C as a count: the SIGINT handler only counts and wakes the loop, which acts on it
    between its own steps (``check``). First Ctrl-C: cancel the running runs (SIGTERM, SIGKILL
    after the grace period); second: kill them at once. Later ones change nothing."""

    def __init__(self, grace_s: float):
        self.count = 0
        self.acted = 0  # how many of them the loop has acted on
        self.wake = threading.Event()
        self.grace_s = grace_s
        self.deadline: float | None = None  # when to stop waiting for the runs to end
        # the SIGINT handler before ours (what signal.signal returns), put back by restore()
        self._previous: Callable[[int, FrameType | None], Any] | int | None = None

    def _on_sigint(self, signum, frame) -> None:
        self.count += 1
        self.wake.set()

    def install(self) -> None:
        try:
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread (an embedding): Ctrl-C is not ours to handle
            self._previous = None

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    def sleep(self, seconds: float) -> None:
        """A pause that a Ctrl-C cuts short."""
        if self.wake.wait(seconds):
            self.wake.clear()

    def check(self, sched) -> tuple[list[str], bool]:
        """Acts on new Ctrl-Cs; returns the lines to print and whether to stop waiting (the
        runs did not end in time even after SIGKILL)."""
        lines: list[str] = []
        count = self.count
        if count > self.acted:
            if self.acted == 0:
                lines.append("interrupted: cancelling the running runs (Ctrl-C again to kill them at once)")
                sched.interrupt()
                self.deadline = time.monotonic() + self.grace_s + 30
            if count >= 2 and self.acted < 2:
                lines.append("interrupted again: killing the running runs (SIGKILL)")
                sched.interrupt(force=True)
                self.deadline = time.monotonic() + 10
            self.acted = count
        if self.deadline is not None and time.monotonic() > self.deadline:
            if self.acted < 2:  # SIGTERM was not enough: kill, and give it a last few seconds
                lines.append("the running runs did not stop: killing them (SIGKILL)")
                sched.interrupt(force=True)
                self.acted, self.deadline = 2, time.monotonic() + 10
            else:
                lines.append("some runs did not end after SIGKILL; not waiting for them")
                return lines, True
        return lines, False


def _run_plain(sched, out: TextIO, every_s: float, interrupts: _Interrupts) -> None:
    watcher = _Watcher(every_s)
    while True:
        extra, give_up = interrupts.check(sched)
        for line in extra:
            print(line, file=out, flush=True)
        idle = sched.idle
        for line in watcher.lines(sched.snapshot(), sched, phases=True, progress=True):
            print(f"[{time.strftime('%H:%M:%S')}] {line}", file=out, flush=True)
        if idle or give_up:
            return
        interrupts.sleep(0.25)


def _run_rich(sched, console, total: int, interrupts: _Interrupts) -> None:
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    watcher = _Watcher(float("inf"))
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        TextColumn("{task.fields[step]}"),
        TextColumn("{task.fields[info]}", style="dim"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, refresh_per_second=4, transient=False) as progress:
        overall = progress.add_task("[bold]plan", total=total, step="", info="")
        tasks: dict[str, TaskID] = {}
        while True:
            extra, give_up = interrupts.check(sched)
            for line in extra:
                progress.console.print(line, markup=False, highlight=False)
            idle = sched.idle
            snap = sched.snapshot()
            for line in watcher.lines(snap, sched, phases=False, progress=False):
                progress.console.print(line, markup=False, highlight=False)
            done = sum(1 for r in snap if r.done)
            running = [r for r in snap if r.status == RunStatus.RUNNING]
            progress.update(
                overall,
                completed=done,
                info=f"{done}/{len(snap)} runs done, {len(running)} running, "
                f"{sum(1 for r in snap if r.status in ('queued', 'waiting'))} queued",
            )
            for r in running:
                if r.run_id not in tasks:
                    tasks[r.run_id] = progress.add_task(escape(r.label), total=None, step="", info="")
                # The description is Rich markup (the [dim] part): the run's name and phase are the
                # user's text, escaped so a name such as "a[/]b" prints as written.
                desc = (
                    f"{escape(r.label)} [dim]{escape(r.phase or 'starting')} ({r.phases_done}/{r.phases_planned})[/dim]"
                )
                progress.update(
                    tasks[r.run_id],
                    description=desc,
                    completed=r.step or 0,
                    total=r.total_steps,
                    step=step_text(r),
                    info=" ".join(b for b in (speed_text(r), mem_text(r)) if b),
                )
            for rid in [rid for rid in tasks if rid not in {r.run_id for r in running}]:
                progress.remove_task(tasks.pop(rid))
            if idle or give_up:
                return
            interrupts.sleep(0.25)


# ---- the leaderboard ---------------------------------------------------------------------------

# The leaderboard's columns, in order: keys of the presentation catalogue (present.py), which
# names each one's header, unit and formatter for the app and this table alike.
LEADERBOARD_COLUMNS = (
    "name",
    "method",
    "model",
    "intermediate",
    "k",
    "seed",
    "status",
    "avg_accuracy",
    "en_accuracy",
    "train_device_hours",
    "train_flops",
    "train_energy_j",
    "peak_train_mem_bytes",
    "latency_p50_s",
    "run_id",
)


def _cell(col: str, v):
    """A cell as the app's Runs table writes it; the status in its colour. A Text, never markup:
    a run name with brackets prints as it is."""
    from rich.text import Text

    style = (present.status_style(v) if col == "status" else None) or ""
    return Text(present.cell(col, v), style=style)


# dropped first when the terminal is too narrow for the whole table
NARROW_DROP = (
    "run_id",
    "latency_p50_s",
    "model",
    "train_energy_j",
    "peak_train_mem_bytes",
    "seed",
    "k",
    "train_flops",
    "en_accuracy",
)


def _leaderboard_table(rows: list[dict], cols: list[str], title: str):
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for c in cols:
        col = present.column(c)
        out.add_column(col.title, justify="right" if col.numeric else "left", no_wrap=True)
    for r in rows:
        cells = [_cell(c, r.get(c)) for c in cols]
        if r.get("contended") is True:  # the mark on the figures that moved with the contention
            for i, c in enumerate(cols):
                if c in present.CONTENDED_FIGURES and cells[i].plain != fmt.NULL:
                    cells[i].append(present.CONTENDED_MARK)
        out.add_row(*cells)
    return out


def print_leaderboard(store: Path, run_ids: list[str], console) -> bool:
    try:
        table = leaderboard(store, order_by="avg_accuracy", descending=True)
    except XcostError as exc:
        console.print(f"leaderboard: {exc}", markup=False, highlight=False)
        return False
    wanted = set(run_ids)
    rows = [r for r in table.to_pylist() if r.get("run_id") in wanted]
    title = f"leaderboard: {len(rows)} run(s) of this plan, by average XCOPA accuracy"
    cols = [c for c in LEADERBOARD_COLUMNS if c in table.column_names]
    dropped: list[str] = []
    out = _leaderboard_table(rows, cols, title)
    from rich.measure import Measurement

    def natural_width(table) -> int:
        return Measurement.get(console, console.options.update_width(10_000), table).maximum

    for col in NARROW_DROP:
        if natural_width(out) <= console.width:
            break
        if col in cols:
            cols = [c for c in cols if c != col]
            dropped.append(col)
            out = _leaderboard_table(rows, cols, title)
    console.print(out)
    if any(r.get("contended") is True for r in rows):
        console.print(
            present.CONTENDED_LEGEND + '; `xcost-tui sql "SELECT * FROM leaderboard WHERE NOT '
            'contended"` leaves them out',
            markup=False,
            highlight=False,
        )
    if dropped:
        console.print(
            f"(left out for the terminal's width: {', '.join(dropped)}; "
            f'`xcost-tui sql "SELECT * FROM leaderboard"` shows every column)',
            markup=False,
            highlight=False,
        )
    return True


# ---- the verdict -------------------------------------------------------------------------------


def restart_lines(v, config_ids: set[str]) -> list[str]:
    """'restarts: few-shot k=16 · xlm-roberta-large: 3 of 15 runs restarted' for each configuration
    whose target phase was trained again after a collapse (the retry rate beside the verdict)."""
    out = []
    for cid in sorted(config_ids & set(v.configurations), key=lambda c: v.configurations[c].label):
        c = v.configurations[cid]
        if c.restarted_runs:
            out.append(
                f"restarts: {c.label}: {c.restarted_runs} of {c.n_runs} run{'s' if c.n_runs != 1 else ''} "
                "restarted (target phase trained again after a collapse; each run reports its last attempt)"
            )
    return out


def print_verdict(store: Path, specs: list, console) -> bool:
    """After the leaderboard: each configuration of the plan against its baseline, in a sentence,
    and the table of the averaged comparisons (xcost_tui.verdict; docs/statistics.md)."""
    from rich.table import Table
    from rich.text import Text

    config_ids = {s.configuration_id() for s in specs}
    try:
        v = verdict(store, config_ids=config_ids)
    except XcostError as exc:
        console.print(f"verdict: {exc}", markup=False, highlight=False)
        return False
    rows = [c for c in v.averaged() if c.config_id in config_ids]
    for line in restart_lines(v, config_ids):
        console.print(line, markup=False, highlight=False)
    console.print(
        f"verdict: {len(rows)} comparison(s) of this plan's configurations with their baselines "
        f"(average accuracy over the languages both evaluated; 95% intervals over seeds, shot draws and "
        f"items; words from Holm-adjusted tests; similar = within ±{100 * v.delta:g} points; docs/statistics.md)",
        markup=False,
        highlight=False,
    )
    if not rows:
        console.print(
            "  no comparison: a configuration needs a succeeded baseline scored on the same items "
            "(direct fine-tuning of the same model and recipe, else the direct configuration with most runs)",
            markup=False,
            highlight=False,
        )
        return True
    for c in rows:
        console.print(f"  {v.sentences()[v.averaged().index(c)]}", markup=False, highlight=False)
    table = Table(title="verdict (average accuracy)", title_justify="left")
    for col, right in (
        ("configuration", False),
        ("baseline", False),
        ("design", True),
        ("diff (points)", True),
        ("95% interval", True),
        ("Holm p", True),
        ("finding", False),
        ("train cost ×", True),
    ):
        table.add_column(col, justify="right" if right else "left", no_wrap=not right)
    for c in rows:
        ratio = None  # 1 for trainings identical by spec (one training), never two timings' noise
        if c.config_id in v.configurations and c.baseline_id in v.configurations:
            ratio = v.cost_ratio(c.config_id, c.baseline_id, "train_device_hours").ratio
        finding = c.outcome
        table.add_row(
            Text(c.label),
            Text(c.baseline_label),
            c.design,
            f"{100 * c.diff:+.1f}",
            f"[{100 * c.low:+.1f}, {100 * c.high:+.1f}]",
            f"{c.p_adjusted:.3g}",
            finding,
            "–" if ratio is None else f"{ratio:.2g}",
        )
    console.print(table)
    return True


def print_forecast_line(store: Path, run_ids: list[str], out: TextIO) -> None:
    """'forecast 1.9 h, measured 2.1 h, +11% (...)' when ``xcost-tui plan estimate`` forecast these runs."""
    try:
        line = forecast_summary(store, run_ids)
    except XcostError:
        return
    if line:
        print(line, file=out, flush=True)


# ---- the command ----------------------------------------------------------------------------


def _data_preflight(loaded, store: Path, rerun: bool, out: TextIO, scheduler_options: dict | None) -> bool:
    """Before the first run: every split the plan's runs need, loaded once (tasks/preflight.py).
    False (and one message per data set that cannot be loaded, on stderr) stops the plan."""
    custom = (scheduler_options or {}).get("job_command") or os.environ.get(JOB_COMMAND_ENV)
    if custom:
        print("data pre-flight: skipped (the runs use another job command, which reads no data)", file=out, flush=True)
        return True

    def done(spec) -> bool:
        try:
            status = read_status(store / "runs" / spec.run_id())
        except XcostError:
            return False
        return not rerun and status is not None and status.status == RunStatus.SUCCEEDED

    todo = [s for s in loaded.runs if not done(s)]
    if not todo:
        return True
    if preflight.data_check(todo, out) == 0:
        return True
    print(
        "xcost-tui: error: no run was started: the plan's data cannot be loaded or used (see above); "
        "`xcost-tui plan check --data PLAN` repeats this check without running anything",
        file=sys.stderr,
        flush=True,
    )
    return False


def headless_command(
    plan: str,
    store: Path,
    data_dir: str | None = None,
    max_parallel: int | None = None,
    rerun: bool = False,
    *,
    out: TextIO | None = None,
    scheduler_options: dict | None = None,
    data_check: bool = True,
    executor: str | None = None,
    ingest: bool = True,
    process_per_run: bool = False,
) -> int:
    """``executor`` (``--executor``: local, slurm) overrides the plan's ``[executor]`` kind;
    ``ingest`` False (``--no-ingest``) leaves the DuckDB store alone (run directories only);
    ``process_per_run`` (``--process-per-run``) starts a process per run instead of warm workers."""
    if process_per_run:
        scheduler_options = {**(scheduler_options or {}), "process_per_run": True}
    interrupts = _Interrupts(grace_s=10.0)
    interrupts.install()  # first: a Ctrl-C from here on is counted, never raised
    try:
        return _headless(
            plan, store, data_dir, max_parallel, rerun, out, scheduler_options, interrupts, data_check, executor, ingest
        )
    finally:
        interrupts.restore()


def _headless(
    plan: str,
    store: Path,
    data_dir: str | None,
    max_parallel: int | None,
    rerun: bool,
    out: TextIO | None,
    scheduler_options: dict | None,
    interrupts: _Interrupts,
    data_check: bool,
    executor: str | None = None,
    ingest_store: bool = True,
) -> int:
    from rich.console import Console

    out = out if out is not None else sys.stdout
    plain = _plain_terminal(out)
    # Without a terminal nothing wraps lines for us: let tables take their natural width.
    console = Console(
        file=out,
        width=1000 if plain else None,
        force_terminal=None if not plain else False,
        no_color=plain,
        highlight=False,
    )
    try:
        loaded = load_plan(plan, data_dir=data_dir, executor=executor)
        runner_executor = None
        if loaded.executor.kind != "local":
            runner_executor = make_executor(loaded.executor)
            runner_executor.check()  # SLURM reachable, before the pre-flight and any submission
    except XcostError as exc:
        print(f"xcost-tui: error: {exc}", file=sys.stderr, flush=True)
        return 2
    store = Path(store)
    every = progress_every_s()

    run_ids = loaded.run_ids()
    where = f"; executor: {runner_executor.describe()}" if runner_executor is not None else ""
    print(
        f"plan {loaded.name}: {len(run_ids)} runs; data: {describe_data(loaded)}; store: {store}{where}",
        file=out,
        flush=True,
    )
    for note in loaded.notes:
        print(f"note: {note}", file=out, flush=True)
    if data_check and not _data_preflight(loaded, store, rerun, out, scheduler_options):
        return 130 if interrupts.interrupted else 2
    if interrupts.interrupted:
        print("interrupted before any run started", file=out, flush=True)
        return 130
    options = dict(scheduler_options or {})
    if not ingest_store:
        options["ingest"] = False
    if runner_executor is not None:
        options.setdefault("executor", runner_executor)
    elif loaded.executor.process_per_run:
        options.setdefault("process_per_run", True)
    sched = Scheduler(store, max_parallel=max_parallel, rerun=rerun, **options)
    interrupts.grace_s = sched.grace_s
    started = time.time()
    sched.submit(loaded.runs)
    sched.start()
    if plain:
        _run_plain(sched, out, every, interrupts)
    else:
        _run_rich(sched, console, len(run_ids), interrupts)
    interrupted = interrupts.interrupted
    sched.shutdown(cancel_running=True, timeout=5 if interrupted else None)  # idle by now, unless we gave up
    for msg in sched.drain_messages():
        print(note_line(msg), file=out, flush=True)

    snap = {r.run_id: r for r in sched.snapshot()}
    if interrupted:
        for r in snap.values():
            if r.status == RunStatus.CANCELLED:
                print(end_line(r), file=out, flush=True)

    # The scheduler ingested each run as it ended; once more for all of the plan's runs (the
    # skipped ones too: the store may be new), then the leaderboard.
    dirs = [store / "runs" / rid for rid in run_ids if (store / "runs" / rid).is_dir()]
    if dirs and not ingest_store:
        print(
            f"store: not written (--no-ingest); `xcost-tui ingest --store DIR {store / 'runs'}/*` reads the run "
            "directories into a store",
            file=out,
            flush=True,
        )
    elif dirs:
        try:
            report = ingest_runs(store, dirs, only_changed=True)
            for w in getattr(report, "warnings", [])[:20]:
                print(f"store: {w}", file=out, flush=True)
        except Exception as exc:  # noqa: BLE001 - the results are on disk; the store can be rebuilt
            print(
                f"store: could not ingest the runs ({store_failure(exc, sched.storage_error)}); "
                f"`xcost-tui ingest --store {store}` retries",
                file=out,
                flush=True,
            )
        print_leaderboard(store, run_ids, console)
        print_verdict(store, loaded.runs, console)
        print_forecast_line(store, run_ids, out)

    statuses = [snap[rid].status if rid in snap else "unknown" for rid in run_ids]
    ok = sum(s == RunStatus.SUCCEEDED for s in statuses)
    failed = sum(s == RunStatus.FAILED for s in statuses)
    cancelled = sum(s == RunStatus.CANCELLED for s in statuses)
    skipped = sum(1 for rid in run_ids if rid in snap and snap[rid].skipped)
    print(
        f"{ok}/{len(run_ids)} runs succeeded"
        + (f" ({skipped} already had)" if skipped else "")
        + (f", {failed} failed" if failed else "")
        + (f", {cancelled} cancelled" if cancelled else "")
        + f" in {fmt_duration(time.time() - started)}; run directories in {store / 'runs'}",
        file=out,
        flush=True,
    )

    if os.environ.get(ASSERT_ENV) == "1":
        heavy = heavy_modules_loaded()
        if heavy:
            print(f"xcost-tui: error: the supervisor imported {', '.join(heavy)}", file=sys.stderr, flush=True)
            return 3
    if interrupted:
        return 130
    if sched.storage_error is not None:  # said once above, as an error note
        return 1
    return 0 if ok == len(run_ids) else 1
