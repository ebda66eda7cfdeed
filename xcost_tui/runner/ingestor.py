"""The ingest thread: finished runs into the store soon after they end, running runs every few
seconds (so ``xcost-tui sql`` sees live progress).

The store (DuckDB) is imported only when a batch is written: the runner itself never needs it.
Store errors (a locked or broken database, a full disk) become one note per distinct error and
are retried; they never stop the queue.

The verdict tables (store/verdict_tables.py) are refreshed by this thread too, but not while a
local job of this machine is in a measured phase (``measuring_here``): their statistics are CPU
work on the job's CPUs, which the job's contention check would count against the phase (it counts
every other process, whatever its priority, so a lower priority would not do). The refresh waits
for a moment when none measures, and always runs when the ingestor stops (the end of the queue),
so a headless run's final verdict is complete. Rows go live as before; only the verdict waits.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import RunDirError
from ..rundir import RunStatus, read_status
from .notes import Note
from .storage import store_failure


def measuring_here(run_dirs: Iterable[Path], host: str | None = None) -> list[Path]:
    """The run directories whose job runs on this machine and is in a measured phase: running,
    with a phase in status.json (a job names its phase as it starts it, and every phase is
    measured). A job on another host (a SLURM node) does not share these CPUs; where status.json
    names no host, its executor decides (local, or none recorded: here)."""
    host = host or socket.gethostname()
    out = []
    for d in run_dirs:
        try:
            rec = read_status(d)
        except (RunDirError, OSError):
            continue
        if rec is None or rec.status != RunStatus.RUNNING or not rec.phase:
            continue
        job_host = rec.job.host if rec.job is not None else None
        if (job_host == host) if job_host else rec.executor in (None, "local"):
            out.append(Path(d))
    return out


class Ingestor:
    def __init__(
        self,
        store_root: Path,
        every_s: float,
        active: Callable[[], list[Path]],
        note: Callable[[Note], None],
        storage_error: Callable[[], str | None] = lambda: None,
    ):
        self.store_root = store_root
        self.storage_error = storage_error  # the supervisor's first failed store write, said already
        self.every_s = every_s
        self.active = active  # the run directories of the running runs, for the live refresh
        self.note = note
        self.pending: set[Path] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.errors = 0
        self._last_error: str | None = None
        self.verdict_due = False  # runs were ingested since the verdict was last refreshed
        self.verdict_deferred = 0  # refreshes put off while a local job measured

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="xcost-ingest", daemon=True)
            self.thread.start()

    def request(self, run_dir: Path) -> None:
        with self.lock:
            self.pending.add(Path(run_dir))
        self.wake.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(60)
            self.thread = None
        self.flush(include_active=True)
        self.refresh_verdict(final=True)

    def _loop(self) -> None:
        last_live = time.monotonic()
        while not self.stop_event.is_set():
            self.wake.wait(self.every_s)
            self.wake.clear()
            if self.stop_event.is_set():
                break
            live_due = time.monotonic() - last_live >= self.every_s
            if live_due:
                last_live = time.monotonic()
            self.flush(include_active=live_due)
            self.refresh_verdict()
            self.stop_event.wait(0.2)  # coalesce a burst of finishing runs into one write

    def flush(self, include_active: bool = False) -> None:
        with self.lock:
            dirs = set(self.pending)
            self.pending.clear()
        if include_active:
            dirs |= set(self.active())
        dirs = {d for d in dirs if d.is_dir()}
        if not dirs:
            return
        try:
            from ..store.ingest import ingest  # deferred: pulls in DuckDB (start-up cost), loaded once there is work

            report = ingest(self.store_root, sorted(dirs), only_changed=True, verdict=False)
            self._last_error = None
        except Exception as exc:  # noqa: BLE001 - the store never stops the queue
            self._failed(f"could not ingest {len(dirs)} run(s)", exc)
            with self.lock:
                self.pending |= dirs
            return
        if report.ingested or report.pruned or report.rebuilt:
            self.verdict_due = True

    def refresh_verdict(self, final: bool = False) -> bool:
        """The verdict tables brought up to date, unless a local job measures now (then later:
        the loop tries again after every batch); ``final`` (the end of the queue) runs it anyway.
        True when it ran."""
        if not self.verdict_due:
            return False
        if not final and measuring_here(self.active()):
            self.verdict_deferred += 1
            return False
        try:
            from ..store.ingest import refresh_verdict_of  # deferred: pulls in DuckDB (start-up cost)

            refresh_verdict_of(self.store_root)
            self.verdict_due = False
            self._last_error = None
            return True
        except Exception as exc:  # noqa: BLE001 - the store never stops the queue
            self._failed("could not refresh the verdict", exc)
            return False

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        msg = f"store: {what} ({store_failure(exc, self.storage_error())}); will retry"
        if msg != self._last_error:
            self.note(Note.warning(msg))
        self._last_error = msg
