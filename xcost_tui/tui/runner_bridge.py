"""The one place the app touches the runner: creating it and reading its live API tolerantly.

The runner (``xcost_tui.runner``) is imported lazily; it never imports torch. Everything the
screens read from a live run goes through ``live_view`` so a missing field shows as '–'
rather than raising.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ACTIVE = ("queued", "waiting", "running")


def runner_available() -> bool:
    try:
        return importlib.util.find_spec("xcost_tui.runner") is not None
    except (ImportError, ValueError):
        return False


def make_runner(store: Path, data_dir: str | None, max_parallel: int | None) -> Any:
    from ..errors import XcostError

    if not runner_available():
        raise XcostError("the runner (xcost_tui.runner) is not installed in this build")
    from ..runner import Scheduler

    # data_dir travels in each RunSpec (plan.load_plan(data_dir=...)), not in the scheduler
    return Scheduler(store, max_parallel=max_parallel)


def snapshot(runner: Any) -> list[Any]:
    return list(runner.snapshot()) if runner is not None else []


def active_runs(runner: Any) -> list[Any]:
    return [r for r in snapshot(runner) if str(getattr(r, "status", "")) in ACTIVE]


def attach_existing(runner: Any, store: Path) -> int:
    """Re-attaches runs an earlier session left running; starts the runner when there are any
    (its control loop follows them, its sampler samples them). Returns how many are running."""
    runner.attach_existing(store)
    n = len(active_runs(runner))
    if n:
        runner.start()
    return n


def shutdown(runner: Any, cancel_running: bool) -> None:
    runner.shutdown(cancel_running=cancel_running)
