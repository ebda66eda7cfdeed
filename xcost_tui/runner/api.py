"""The runner as the app sees it: a typed protocol.

``Scheduler`` satisfies it; so does the tests' fake runner (tests/support/tui.py), and a
test checks both (``isinstance``, the protocol being runtime-checkable; mypy checks the
signatures). The app uses nothing of a runner beyond this; the headless mode uses the
``Scheduler`` itself (``interrupt``, ``idle``, ``storage_error``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..spec import RunSpec
from .live import LiveRun, RunHistory
from .notes import Note


@runtime_checkable
class RunnerAPI(Protocol):
    max_parallel: int  # runs at once; the Launch screen may change it before submitting

    def submit(self, specs: Iterable[RunSpec], *, rerun: bool | None = None) -> list[LiveRun]:
        """Queues runs; returns their live state."""
        ...

    def start(self) -> None:
        """Starts the control loop (idempotent)."""
        ...

    def snapshot(self) -> list[LiveRun]:
        """Copies of every run's live state, in queue order."""
        ...

    def history(self, run_id: str) -> RunHistory:
        """Recent samples and progress events of one run (for charts)."""
        ...

    def drain_messages(self) -> list[Note]:
        """Notes since the last call, each with its level (info, warning, error)."""
        ...

    def cancel(self, run_id: str, *, force: bool = False) -> bool:
        """Cancels a queued or running run; False when it is unknown or over."""
        ...

    def attach_existing(self, store_root: Path | str | None = None) -> list[LiveRun]:
        """Follows the runs of a store left running by an earlier session (or another supervisor)."""
        ...

    def shutdown(self, cancel_running: bool = True, timeout: float | None = None) -> None:
        """Stops; ``cancel_running`` False leaves running jobs running on their own."""
        ...
