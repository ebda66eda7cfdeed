"""A torch-free pipe to a helper subprocess: ``python -m MODULE`` fed one JSON request on stdin,
answering with marked JSON lines on stdout.

The supervisor side never imports torch or datasets (the import-linter contract), so work that
needs them — the data pre-flight (``tasks/preflight.py``) and the estimate's probe
(``estimate/run.py``) — runs in a subprocess through this one pipe. Lines that do not start with
the mark (a library's own output) are ignored; stderr is kept, its tail for the error message.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


class WorkerTimeout(Exception):
    """The worker ran past its time limit (the caller names what it was doing)."""


class WorkerPipe:
    def __init__(
        self, module: str, args: list[str], request: dict[str, Any], mark: str, python: str | None = None
    ) -> None:
        env = dict(os.environ)
        pkg_parent = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH", "")) if p)
        env.pop("XCOST_ASSERT_NO_HEAVY_IMPORTS", None)  # the subprocess is where torch/datasets are meant to be
        self.mark = mark
        self.proc = subprocess.Popen(
            [python or sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._err_tail: collections.deque[str] = collections.deque(maxlen=200)
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines.put), daemon=True).start()
        self._err_reader = threading.Thread(
            target=self._pump, args=(self.proc.stderr, self._err_tail.append), daemon=True
        )
        self._err_reader.start()
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request))
            self.proc.stdin.close()
        except BrokenPipeError:  # it died at once: said by stopped_message()
            pass

    def _pump(self, stream: IO[str] | None, sink: Callable[[str], None]) -> None:
        assert stream is not None
        for line in stream:
            sink(line)
        if stream is self.proc.stdout:
            self._lines.put(None)

    def events(self, timeout_s: float, t0: float | None = None) -> Iterator[dict[str, Any]]:
        """Each marked event until stdout closes; WorkerTimeout once ``timeout_s`` has passed since
        ``t0`` (default: now)."""
        start = time.monotonic() if t0 is None else t0
        while True:
            left = timeout_s - (time.monotonic() - start)
            if left <= 0:
                raise WorkerTimeout()
            try:
                line = self._lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line is None:
                return
            if not line.startswith(self.mark):
                continue
            try:
                event = json.loads(line[len(self.mark) :])
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event

    def stopped_message(self, what: str, tail_lines: int) -> str:
        """'<what> stopped before it finished (exit 1): <the last lines of its stderr>'."""
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._err_reader.join(timeout=2)
        tail = "".join(self._err_tail).strip().splitlines()[-tail_lines:]
        code = self.proc.poll()
        return (
            f"{what} stopped before it finished"
            + (f" (exit {code})" if code is not None else "")
            + (": " + " / ".join(tail) if tail else "")
        )

    def kill(self, grace_s: float = 0.0) -> None:
        """Ends the worker's whole process group (after ``grace_s`` for it to exit on its own)."""
        proc = self.proc
        if proc.poll() is not None:
            return
        if grace_s:
            try:
                proc.wait(timeout=grace_s)
                return
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
