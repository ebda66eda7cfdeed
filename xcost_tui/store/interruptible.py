"""ctrl-c and a time limit for a query a person typed (``xcost-tui sql``, ``xcost-tui report --where``).

While DuckDB computes, Python runs no signal handler, so a ctrl-c would wait for the query to end,
and the query holds the store open meanwhile (a live ingest waits on it). ``interruptible`` runs the
query in a thread and waits for it in the main thread, where SIGINT arrives; ctrl-c or the time
limit reach the query through its ``Cancel`` (``connection.interrupt()``), and ``Stopped`` says which.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .query import Cancel, QueryCancelled

T = TypeVar("T")


class Stopped(Exception):
    """The query was interrupted by ctrl-c (``why == "cancelled"``) or by the time limit (``"timeout"``)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why

    @property
    def exit_code(self) -> int:
        """The command's exit status: 124 for the time limit (as timeout(1)), 130 for ctrl-c (128 + SIGINT)."""
        return 124 if self.why == "timeout" else 130


def interruptible(work: Callable[[], T], cancel: Cancel, timeout_s: float | None) -> T:
    """``work()``, run in a thread that ``cancel`` can stop; raises ``Stopped`` when ctrl-c or
    ``timeout_s`` (None: no limit) stopped it, else returns its value or raises its error. ``work``
    must run its queries under ``cancel`` (``cancel.watching(con)`` or the query functions'
    ``cancel=``), or the interrupt reaches nothing."""
    box: dict[str, Any] = {}
    # An Event, not Thread.join: a KeyboardInterrupt inside join() can leave the thread looking
    # finished while it runs on (CPython gh-90882).
    finished = threading.Event()

    def target() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            box["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=target, name="xcost-query", daemon=True).start()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    why = None
    try:
        while not finished.wait(0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))):
            if deadline is not None and time.monotonic() >= deadline:
                why = "timeout"
                break
    except KeyboardInterrupt:
        why = "cancelled"
    if why is not None:
        cancel.interrupt()
        finished.wait()  # an interrupted query ends at once; a second ctrl-c leaves through cli.main
    if "error" in box:
        if why is not None and isinstance(box["error"], QueryCancelled):
            raise Stopped(why)
        raise box["error"]
    value: T = box["value"]  # it finished before the interrupt took effect: its output is complete
    return value
