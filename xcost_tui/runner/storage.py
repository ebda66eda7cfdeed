"""What the supervisor writes into a run directory, and what it does when the store refuses.

The supervisor writes a run directory only before its job starts (the launch record: spec.json
and a ``running`` status.json), to add the job's process identity when the job has not yet,
and after the job has gone without recording its end. A launch whose writes are refused (a full
or read-only disk) is undone, so the run directory says what it said before; an end that cannot
be written is tried once more after freeing the claim's reserve (runner/claims.py).

The scheduler says the first refusal once and starts no further run (runner/scheduler.py).
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ..errors import FULL_DISK, WriteError
from ..rundir import ProcessRef, RunDir, RunStatus, StatusRecord, StoreLayout, update_status, write_json_atomic
from ..rundir.resume import ResumePoint
from ..rundir.resume import latest as latest_resume
from .claims import Claim
from .outcome import DISAPPEARED
from .runs import peek_status

REFUSED = FULL_DISK | {errno.EROFS}  # errors of a store that takes no more writes
STORAGE_SAID_ABOVE = "the store could not be written (see the error above)"
NOT_STARTED_STORAGE = f"not started: {STORAGE_SAID_ABOVE}"


def store_failure(exc: BaseException, storage_error: str | None) -> str:
    """An ingest's failure in words: a refused write (WriteError) after the store's first failed
    write was said (``storage_error``) is the same cause, said once, so only pointed to."""
    if storage_error is not None and isinstance(exc, WriteError):
        return STORAGE_SAID_ABOVE
    return f"{type(exc).__name__}: {exc}"


def archive_previous(layout: StoreLayout, run_dir: Path) -> Path | None:
    """A rerun keeps the previous attempt under <store>/archive/, out of the store's way.
    Returns where it went (None: there was nothing to keep). Raises OSError."""
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return None
    dest = layout.archive / f"{run_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while dest.exists():
        n += 1
        dest = dest.with_name(f"{dest.name.rsplit('.', 1)[0]}.{n}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run_dir), str(dest))
    return dest


def resumable(run_dir: Path, status: StatusRecord | None) -> ResumePoint | None:
    """The resume checkpoint a launch continues from instead of archiving the previous attempt: the
    run did not succeed and left one (an interrupted training phase: job/resume.py). The job checks
    that it is this run's (the run id is the directory's name, the spec's identity)."""
    if status is not None and status.status == RunStatus.SUCCEEDED:
        return None
    return latest_resume(run_dir)


def write_launch(run_dir: Path, spec: dict[str, Any], **status: Any) -> None:
    """The launch record: spec.json and a ``running`` status.json with ``status``'s fields.
    Raises WriteError (or OSError making the folder)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RunDir(run_dir).spec, spec)
    update_status(run_dir, RunStatus.RUNNING, **status)


def undo_launch(run_dir: Path, archived: Path | None) -> None:
    """A launch that could not write what it needs: remove what it wrote and put the previous
    attempt back, so the run directory says what it said before (nothing lost, nothing false)."""
    files = RunDir(run_dir)
    for path in (files.status, files.spec, files.log):
        try:
            path.unlink()
        except OSError:
            pass
    try:
        run_dir.rmdir()  # only when empty: never remove anything we did not write
    except OSError:
        return
    if archived is not None:
        try:
            os.rename(archived, run_dir)
        except OSError:
            pass  # the previous attempt stays in the archive, whole


def add_job_identity(run_dir: Path, job: ProcessRef) -> None:
    """The job's process identity, right after the spawn, when the job has not written its own
    status yet (never over a status the job wrote). Raises WriteError."""
    current = peek_status(run_dir)
    if current is not None and current.status == RunStatus.RUNNING and current.job is None:
        update_status(run_dir, RunStatus.RUNNING, job=job)


def write_end(run_dir: Path, claim: Claim | None, status: RunStatus, **changes: Any) -> WriteError | None:
    """Writes the run's end into status.json; on a full disk the claim's reserve is freed and
    the write tried once more. Returns the refusal that remains, None once written."""
    try:
        update_status(run_dir, status, **changes)
        return None
    except WriteError as exc:
        failure = exc
    if failure.errno in FULL_DISK and claim is not None and claim.free_reserve():
        try:
            update_status(run_dir, status, **changes)
            return None
        except WriteError as again:
            failure = again
    return failure


def mark_disappeared(run_dir: Path, status: StatusRecord) -> StatusRecord:
    """A run status.json says is running, whose job is gone: recorded as failed. Raises WriteError."""
    return update_status(run_dir, RunStatus.FAILED, ended=time.time(), error=DISAPPEARED, phase=status.phase)


def amend(run_dir: Path, status: RunStatus, **changes: Any) -> None:
    """Adds what the supervisor learnt of the job (its SLURM job id, SLURM's accounting) to
    status.json. Raises WriteError."""
    update_status(run_dir, status, **changes)
