"""The runner as the app and the headless mode see it: a typed protocol.

``Scheduler`` satisfies it; so does the tests' fake runner (tests/test_tui_support.py), and
mypy checks both against it. The front ends use nothing of a runner beyond this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Protocol, runtime_checkable

from ..spec import RunSpec
from .live import LiveRun, RunHistory


@runtime_checkable
class RunnerAPI(Protocol):
    def submit(self, specs: Iterable[RunSpec], *, rerun: bool | None = None) -> list[LiveRun]:
        """Queues runs; returns their live state."""

    def start(self) -> None:
        """Starts the control loop (idempotent)."""

    def snapshot(self) -> list[LiveRun]:
        """Copies of every run's live state, in queue order."""

    def history(self, run_id: str) -> RunHistory:
        """Recent samples and progress events of one run (for charts)."""

    def drain_messages(self) -> list[str]:
        """Notes since the last call."""

    def cancel(self, run_id: str, *, force: bool = False) -> bool:
        """Cancels a queued or running run; False when it is unknown or over."""

    def attach_existing(self, store_root: Path | str | None = None) -> list[LiveRun]:
        """Follows the runs of a store left running by an earlier session."""

    def shutdown(self, cancel_running: bool = True, timeout: float | None = None) -> None:
        """Stops; ``cancel_running`` False leaves running jobs running on their own."""
