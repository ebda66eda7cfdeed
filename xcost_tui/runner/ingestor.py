"""The ingest thread: finished runs into the store soon after they end, running runs every few
seconds (so ``xcost-tui sql`` sees live progress).

The store (DuckDB) is imported only when a batch is written: the runner itself never needs it.
Store errors (a locked or broken database, a full disk) become one note per distinct error and
are retried; they never stop the queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from .notes import Note


class Ingestor:
    def __init__(
        self, store_root: Path, every_s: float, active: Callable[[], list[Path]], note: Callable[[Note], None]
    ):
        self.store_root = store_root
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

            ingest(self.store_root, sorted(dirs), only_changed=True)
            self._last_error = None
        except Exception as exc:  # noqa: BLE001 - the store never stops the queue
            self.errors += 1
            msg = f"store: could not ingest {len(dirs)} run(s) ({type(exc).__name__}: {exc}); will retry"
            if msg != self._last_error:
                self.note(Note.warning(msg))
            self._last_error = msg
            with self.lock:
                self.pending |= dirs
