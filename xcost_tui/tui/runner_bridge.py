"""The one place the app touches the runner: creating it and reading its live API.

The runner (``xcost_tui.runner``) is imported lazily; it never imports torch. Everything the app
uses of a runner is ``RunnerAPI`` (runner/api.py); the Scheduler and the tests' fake satisfy it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import XcostError

if TYPE_CHECKING:
    from ..plan import ExecutorSettings
    from ..runner.api import RunnerAPI
    from ..runner.live import LiveRun


def runner_available() -> bool:
    try:
        return importlib.util.find_spec("xcost_tui.runner") is not None
    except (ImportError, ValueError):
        return False


def make_runner(
    store: Path, data_dir: str | None, max_parallel: int | None, executor: ExecutorSettings | None = None
) -> RunnerAPI:
    if not runner_available():
        raise XcostError("the runner (xcost_tui.runner) is not installed in this build")
    from ..runner import Scheduler  # deferred: the runner package and psutil (start-up cost)

    # data_dir travels in each RunSpec (plan.load_plan(data_dir=...)), not in the scheduler
    return Scheduler(store, max_parallel=max_parallel, executor=executor)


def snapshot(runner: RunnerAPI | None) -> list[LiveRun]:
    return list(runner.snapshot()) if runner is not None else []


def active_runs(runner: RunnerAPI | None) -> list[LiveRun]:
    """Runs queued, waiting or running (those followed for another supervisor included)."""
    return [r for r in snapshot(runner) if r.status.active]


def own_active_runs(runner: RunnerAPI | None) -> list[LiveRun]:
    """The active runs this app's runner launched or took over: quitting may leave or cancel
    them. Runs another supervisor holds (``elsewhere``) are never this app's to stop."""
    return [r for r in active_runs(runner) if not r.elsewhere]


def attach_existing(runner: RunnerAPI, store: Path) -> int:
    """Re-attaches runs an earlier session left running; starts the runner when there are any
    (its control loop follows them, its sampler samples them). Returns how many are running."""
    runner.attach_existing(store)
    n = len(active_runs(runner))
    if n:
        runner.start()
    return n


def shutdown(runner: RunnerAPI, cancel_running: bool) -> None:
    runner.shutdown(cancel_running=cancel_running)
