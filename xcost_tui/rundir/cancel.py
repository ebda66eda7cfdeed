"""RUN_DIR/cancel.request: a supervisor's request to cancel one run, where a signal cannot say which.

A run that shares its process with other runs (a warm worker, job/worker.py; a packed SLURM job,
runner/slurm.py) cannot be cancelled by signalling the process: that would end every run in it.
The supervisor writes this file instead; whoever runs the run (the worker, or the packed job's
driver on the node) reads it, cancels that run alone (SIGTERM's meaning for a run in its own
process) and, for a forced cancel or one still running ``grace_s`` later, kills what runs it.
``xcost-tui run`` writes one too, with a ``reason`` (which signal stopped it), before it signals its
job: the job records that reason as the run's error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .fields import as_bool, as_float
from .jsonl import read_json_object, write_json_atomic
from .layout import RunDir


@dataclass(frozen=True)
class CancelRequest:
    force: bool = False  # kill at once (the run's process, or the worker running it)
    grace_s: float = 10.0  # from the request to a kill, when the run has not stopped
    t: float = 0.0  # when it was asked (time.time())
    reason: str | None = None  # why, in words, for the run's error (None: the job's own words)

    def kill_due(self, now: float | None = None) -> bool:
        """Whether whoever runs the run should kill it now."""
        return self.force or (time.time() if now is None else now) >= self.t + self.grace_s


def request_cancel(
    run_dir: Path | str, *, force: bool = False, grace_s: float = 10.0, reason: str | None = None
) -> CancelRequest:
    """Writes the request (atomically; a later one replaces it). Raises WriteError."""
    request = CancelRequest(force, float(grace_s), time.time(), reason)
    record: dict[str, object] = {"force": force, "grace_s": request.grace_s, "t": request.t}
    if reason is not None:
        record["reason"] = reason
    write_json_atomic(RunDir(Path(run_dir)).cancel_request, record)
    return request


def read_cancel_request(run_dir: Path | str) -> CancelRequest | None:
    """The request, None without one (a file that does not parse still asks for a cancel)."""
    path = RunDir(Path(run_dir)).cancel_request
    if not path.exists():
        return None
    try:
        data = read_json_object(path) or {}
    except (OSError, ValueError):
        data = {}
    return CancelRequest(
        bool(as_bool(data.get("force"))),
        as_float(data.get("grace_s")) or 10.0,
        as_float(data.get("t")) or 0.0,
        data["reason"] if isinstance(data.get("reason"), str) else None,
    )


def clear_cancel_request(run_dir: Path | str) -> None:
    """Removes a request (a new attempt of the run starts without one)."""
    try:
        RunDir(Path(run_dir)).cancel_request.unlink()
    except FileNotFoundError:
        pass
