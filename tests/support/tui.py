"""Shared pieces of the TUI tests: fixture stores, a fake runner fed with recorded events, and
helpers to drive an app with Pilot. (No tests here; imported by the test_tui_* modules.)"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from support.store_fixtures import make_run_dir, make_standard_store
from xcost_tui.store.ingest import ingest

REPO = Path(__file__).resolve().parents[2]
T_FIXED = 1_700_000_100.0  # the clock of the Live screen in tests

STD_ORDER_BY_ACC = ["fewshot-s0", "inter-s0", "inter-s0-reuse", "direct-s0", "direct-failed", "direct-running"]


def build_standard_store(root: Path) -> Path:
    """make_standard_store + ingest; also a job.log of 80 numbered lines in direct-s0."""
    runs = make_standard_store(root)
    with open(runs["direct"] / "job.log", "w", encoding="utf-8") as fh:
        for i in range(1, 81):
            fh.write(f"log line {i:03d}\n")
    ingest(root)
    return root


# The Compare store: four configuration families of tiny-xlmr, each over several seeds, with
# predictions (the verdict's intervals and paired comparisons) and learning curves; ht and qu at
# chance; no energy figure for the few-shot families.
VERDICT_CONFIGS = {
    # name: (method, intermediate, k, seeds, base accuracy, device-hours by phase)
    "direct": ("direct", [], None, 3, 0.56, {"target:copa": 0.01}),
    "siqa": ("intermediate", ["siqa"], None, 3, 0.62, {"intermediate:siqa": 0.06, "target:copa": 0.01}),
    "fewshot": ("few-shot", [], 16, 3, 0.59, None),
    "siqa-fewshot": ("few-shot", ["siqa"], 16, 2, 0.64, None),
}


def build_verdict_store(root: Path) -> Path:
    from xcost_tui import XCOPA_LANGS

    for name, (method, inter, k, seeds, base, dh) in VERDICT_CONFIGS.items():
        if dh is None:
            dh = {"target:copa": 0.01, **{f"few-shot:{lang}": 0.001 for lang in XCOPA_LANGS}}
            if inter:
                dh["intermediate:siqa"] = 0.06
        for seed in range(seeds):
            acc = {
                lang: (0.5 if lang in ("ht", "qu") else base + 0.01 * seed + 0.004 * i)
                for i, lang in enumerate(XCOPA_LANGS)
            }
            acc["en"] = base + 0.15
            make_run_dir(
                root,
                run_id=f"{name}-s{seed}",
                name=name,
                method=method,
                intermediate=inter,
                k=k,
                seed=seed,
                accuracies=acc,
                device_hours=dh,
                n_eval=100,
                curve_points=5,
                energy=None if k else 40.0 + 10 * len(inter),
            )
    ingest(root)
    return root


@pytest.fixture(scope="session")
def verdict_store_master(tmp_path_factory) -> Path:
    return build_verdict_store(tmp_path_factory.mktemp("tui-verdict") / "store")


@pytest.fixture
def verdict_store(verdict_store_master: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the Compare store at ``<tmp>/store`` (the cwd is ``<tmp>``)."""
    return private_copy(verdict_store_master, tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def std_store_master(tmp_path_factory) -> Path:
    return build_standard_store(tmp_path_factory.mktemp("tui-std") / "store")


@pytest.fixture
def std_store(std_store_master: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the standard store at ``<tmp>/store``; the cwd is ``<tmp>``, so the app
    shows the store as ``store`` (stable in snapshots)."""
    return private_copy(std_store_master, tmp_path, monkeypatch)


def private_copy(master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test's own copy of a session-built store at ``<tmp>/store``, the cwd ``<tmp>``: the app
    shows the store as ``store`` (stable in snapshots), and the test may write to it."""
    shutil.copytree(master, tmp_path / "store")
    monkeypatch.chdir(tmp_path)
    return Path("store")


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro_fn())


async def wait_for(pilot, pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def runs_ready(pilot, app, after: int = 0) -> None:
    await wait_for(pilot, lambda: app.runs_version > after, what="the runs table")
    await pilot.pause()


async def press_and_wait(pilot, app, *keys: str) -> None:
    """Press keys on the Runs screen and wait for the table to show the new page."""
    before = app.runs_version
    await pilot.press(*keys)
    await wait_for(pilot, lambda: app.runs_version > before, what=f"a new page after {keys}")
    await pilot.pause()


def make_app(store: Path, **kw):
    from xcost_tui.tui.app import XcostApp

    kw.setdefault("attach", False)
    kw.setdefault("clock", lambda: T_FIXED)
    return XcostApp(store, **kw)


# ---- a fake runner exposing the live API ------------------------------------------------------


def recorded_history(run_id: str, *, gpus: int = 0, n: int = 20, t0: float = T_FIXED - 20) -> tuple[list, list]:
    """(samples, progress events) as the sampler and the job write them, one per second (typed records)."""
    from xcost_tui.rundir import GpuReading, Progress, Sample

    samples, progress = [], []
    for i in range(n):
        t = t0 + i
        gpu_list = [
            GpuReading(
                g, "NVIDIA H100 80GB HBM3", None, (10 + i + g) * 2**30, 80 * 2**30, 90.0, 500.0, 60.0, (8 + i) * 2**30
            )
            for g in range(gpus)
        ]
        samples.append(Sample(t, "target:copa", 100.0 + i, int((1 + i / 10) * 2**30), gpu_list))
        progress.append(
            Progress(
                "target:copa",
                i + 1,
                40,
                epoch=0,
                loss=0.7 - i * 0.01,
                lr=3e-5,
                examples_per_s=30.0 + i,
                tokens_per_s=2000.0 + 10 * i,
                mem_bytes=int((2 + i / 10) * 2**30),
                peak_mem_bytes=3 * 2**30,
                mem_source="torch.cuda" if gpus else "procfs",
                t=t,
            )
        )
    return samples, progress


class FakeRunner:
    """The runner's live API (snapshot, history, cancel, shutdown, submit, start, drain_messages)."""

    def __init__(self, runs: list | None = None, histories: dict | None = None):
        self.runs = list(runs or [])
        self.histories = dict(histories or {})
        self.cancelled: list[str] = []
        self.shutdowns: list[bool] = []
        self.submitted: list = []
        self.started = 0
        self.max_parallel = 1
        self.messages: list = []  # runner notes (xcost_tui.runner.Note) for drain_messages

    def snapshot(self):
        return [r.copy() for r in self.runs]

    def history(self, run_id: str):
        from xcost_tui.runner import RunHistory

        samples, progress = self.histories.get(run_id, ([], []))
        return RunHistory(samples=list(samples), progress=list(progress))

    def attach_existing(self, store_root=None):
        return []

    def cancel(self, run_id: str, *, force: bool = False) -> bool:
        self.cancelled.append(run_id)
        for r in self.runs:
            if r.run_id == run_id:
                r.cancelling = True
        return True

    def shutdown(self, cancel_running: bool = True, timeout: float | None = None) -> None:
        self.shutdowns.append(cancel_running)

    def submit(self, specs, *, rerun=None):
        from xcost_tui.runner import LiveRun

        added = [LiveRun.from_spec(s, Path("store/runs") / s.run_id()) for s in specs]
        self.submitted.extend(specs)
        self.runs.extend(added)
        return [a.copy() for a in added]

    def start(self) -> None:
        self.started += 1

    def drain_messages(self) -> list:
        """Notes (xcost_tui.runner.Note, each with its level) since the last call."""
        out, self.messages = self.messages, []
        return out


def live_run(
    run_id: str,
    *,
    status: str = "running",
    name: str | None = None,
    step: int = 20,
    gpus: int = 0,
    phase: str = "target:copa",
):
    from xcost_tui.rundir import PhaseStart, RunFold, RunStatus
    from xcost_tui.runner import LiveRun

    samples, progress = recorded_history(run_id, gpus=gpus)
    # the ETA as the runner computes it: the run-directory fold over the phase's progress events
    fold = RunFold()
    fold.apply(PhaseStart(phase, "target", 40, t=T_FIXED - 21))
    for p in progress[:step]:
        fold.apply(p)
    running = status == "running"
    r = LiveRun(
        run_id=run_id,
        run_dir=Path("store/runs") / run_id,
        name=name,
        method="direct",
        model="tiny-xlmr",
        seed=0,
        langs=["it", "zh"],
        status=RunStatus(status),
        phase=phase if running else None,
        phases_done=1,
        phases_planned=6,
        progress=progress[step - 1] if running else None,
        eta_s=fold.state.eta_s() if running else None,
        sample=samples[-1],
        started=T_FIXED - 25,
        pid=4242 if running else None,
        accuracy={"en": 0.7, "it": 0.6} if not running else {},
    )
    return r, (samples, progress)


def fake_runner(*specs: dict) -> FakeRunner:
    runs, hist = [], {}
    for spec in specs:
        r, h = live_run(**spec)
        runs.append(r)
        hist[r.run_id] = h
    return FakeRunner(runs, hist)


def python_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


PY = sys.executable


def text_of(static) -> str:
    """The text a Static shows (str, rich Text or any rich renderable)."""
    import io

    from rich.console import Console

    content = static.content
    if isinstance(content, str):
        return content
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.export_text()


def screen_lines(app) -> list[str]:
    """The screen as a terminal shows it, one string per row, from ``app.export_screenshot()``.

    Rich's SVG writes each styled stretch of a row as a <text> at x = column × cell width and
    leaves out stretches of plain spaces; putting the stretches back at their columns gives
    the row as it is drawn (a modal over the screen included)."""
    import html
    import re

    svg = app.export_screenshot()
    width, height = app.size
    clip = re.search(r'<clipPath id="[\w-]+-line-0">\s*<rect x="0" y="[\d.]+" width="([\d.]+)"', svg)
    assert clip, "no line clip in the SVG"
    cell = float(clip.group(1)) / width
    rows = [[" "] * width for _ in range(height)]
    for x, line, text in re.findall(
        r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
        r'clip-path="url\(#[\w-]+-line-(\d+)\)">(.*?)</text>',
        svg,
    ):
        col, row = round(float(x) / cell), int(line)
        for i, ch in enumerate(html.unescape(text).replace("\xa0", " ")):
            if row < height and col + i < width:
                rows[row][col + i] = ch
    return ["".join(r) for r in rows]


def region_text(app, widget) -> str:
    """The words drawn inside ``widget`` (borders and padding dropped), wrapped lines re-joined."""
    region = widget.content_region
    lines = screen_lines(app)[region.y : region.y + region.height]
    return " ".join(" ".join(line[region.x : region.x + region.width] for line in lines).split())
