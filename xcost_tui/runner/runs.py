"""One run as the scheduler keeps it (``Run``), and the scheduler as the rest of the runner sees it.

The scheduler (runner/scheduler.py) owns the queue of ``Run`` records and the lock that guards
them. The executors (runner/local.py, runner/slurm.py), the re-attach logic (runner/reattach.py)
and the shared-phase wiring (runner/shared.py) act on one record at a time, under that lock, and
reach the rest of the scheduler only through ``Supervisor``: its notes, its bookkeeping of a run's
end, and its handling of a store that refuses a write.
"""

from __future__ import annotations

import enum
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import RunDirError, WriteError
from ..rundir import ProcessRef, RunStatus, StatusRecord, read_status
from ..spec import RunSpec
from .claims import Claim, Claims
from .live import LiveRun, RunTracker
from .slurm_jobs import JobInfo

if TYPE_CHECKING:
    from .workers import PoolWorker

MALFORMED = "malformed"

# What is on disk of a run's attempt, to notice that another supervisor ran it meanwhile:
# (status, updated) of status.json, None without one, "malformed" for one that does not parse.
Attempt = tuple[str, float | None] | str | None


@dataclass
class Run:
    tracker: RunTracker
    spec: RunSpec | None = None  # None for a run found on disk that this scheduler did not queue
    claim: Claim | None = None  # held while this supervisor launches and follows the run
    elsewhere: bool = False  # another supervisor holds the claim: followed here, never written
    following: bool = False  # (elsewhere) the attempt being followed has been seen running
    followed_started: float | None = None
    starting: bool = False  # picked for launch (still shown as queued); the launch runs outside the lock
    seen: Attempt = None  # the attempt on disk when this supervisor queued or found the run
    queued_at: float = field(default_factory=time.time)
    cpu_share: dict[str, int] | None = None  # the CPU share given to a local job at its launch
    # A cancel: what was asked, and what has been sent to the job so far.
    cancel_requested: bool = False
    force: bool = False
    term_sent: bool = False
    kill_at: float | None = None
    sigkill_sent: bool = False
    # The job as a process of this machine (runner/local.py).
    popen: subprocess.Popen[bytes] | None = None
    worker: PoolWorker | None = None  # the warm worker running it (runner/workers.py), instead of a popen
    process: ProcessRef | None = None  # the job process, once known (pid + create time + host)
    # The job as a SLURM job (runner/slurm.py): its id once submitted, the producer's job it waits
    # for, what SLURM said at the last poll, and when SLURM stopped knowing it.
    job_id: str | None = None
    depends_on: str | None = None
    remote_info: JobInfo | None = None
    unknown_since: float | None = None
    dependency_dead: bool = False  # SLURM says its afterok can never be satisfied: cancelled for that

    @property
    def live(self) -> LiveRun:
        return self.tracker.live

    @property
    def run_dir(self) -> Path:
        return self.tracker.live.run_dir

    def release_claim(self) -> None:
        if self.claim is not None:
            self.claim.release()
            self.claim = None

    def load(self, status: StatusRecord) -> None:
        """Takes the run's state from its status.json (an end recorded, or an attempt found)."""
        live = self.live
        live.status = status.status
        live.started, live.ended, live.error = status.started, status.ended, status.error
        live.pid, live.exit_code = status.pid, status.exit_code
        self.tracker.poll()


class AdoptReason(enum.Enum):
    """Why a supervisor takes over a job that is already running (each executor says it its way)."""

    SUBMITTED = "submitted"  # queued again while its job still runs
    ATTACHED = "attached"  # found running in the store (attach_existing)
    HOLDER_GONE = "holder gone"  # the supervisor that held its claim is gone
    MEANWHILE = "meanwhile"  # another supervisor started it while it was queued here


class StartFailed(Exception):
    """The job could not be started (its message is the run's error); the run failed."""


class Supervisor(Protocol):
    """The scheduler as its executors and helpers see it. They call it holding ``lock`` (an
    executor's ``start``, which runs outside it, takes it)."""

    @property
    def lock(self) -> threading.RLock:
        """The scheduler's lock (an executor's start takes it; every other call holds it)."""
        ...

    @property
    def grace_s(self) -> float:
        """SIGTERM to SIGKILL, for a cancel."""
        ...

    def find_run(self, run_id: str) -> Run | None:
        """The run of that id in the queue."""
        ...

    def all_runs(self) -> Iterable[Run]:
        """Every run of the queue, in queue order."""
        ...

    def note(self, text: str, run_id: str | None = None, topic: str | None = None) -> None: ...

    def warn(self, text: str, run_id: str | None = None) -> None: ...

    def loop_error(self, exc: Exception) -> None:
        """A poll that failed: said once, not at every poll."""
        ...

    def storage_failed(self, exc: WriteError | str) -> None:
        """A store write failed: said once; no further run is started."""
        ...

    def read_status(self, run_dir: Path) -> StatusRecord | None:
        """status.json, None without one; one that cannot be read is said and taken as none."""
        ...

    def record_end(self, run: Run, status: RunStatus, **changes: object) -> bool:
        """Writes the run's end into status.json (a write that fails is said); False when it failed."""
        ...

    def finished(self, run: Run) -> None:
        """The run is over: its claim released, its ingest requested, waiters woken."""
        ...

    def start_failed(self, run: Run, started: float, error: str) -> None:
        """The job of a launched run could not be started: the run failed with ``error`` (takes the lock)."""
        ...

    def changed(self) -> None:
        """Wakes whoever waits for a run's state to change."""
        ...

    def wake(self) -> None:
        """Wakes the control loop."""
        ...

    def claims_of(self, run_dir: Path) -> Claims:
        """The claims of the store the run directory belongs to."""
        ...

    def ingest(self, run_dir: Path) -> None:
        """Asks for the run directory to be loaded into the store."""
        ...


def peek_status(run_dir: Path) -> StatusRecord | None:
    """status.json, or None when it is absent or does not parse (no note: polled often)."""
    try:
        return read_status(run_dir)
    except (RunDirError, OSError):
        return None


def status_and_attempt(run_dir: Path) -> tuple[StatusRecord | None, Attempt]:
    try:
        status = read_status(run_dir)
    except (RunDirError, OSError):
        return None, MALFORMED
    return status, (None if status is None else (status.status.value, status.updated))


def attempt_on_disk(run_dir: Path) -> Attempt:
    return status_and_attempt(run_dir)[1]
