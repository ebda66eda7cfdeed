"""One run in the foreground (``xcost-tui run``, commands/run.py): its run directory written, its
job started with its output going both to the terminal and to job.log, its end recorded.

After the job ends its record is made whole by the rule every supervisor uses (runner/outcome.py):
a job that died without writing a final status (SIGKILL, out of memory) is recorded ``failed``
with the reason (``cancelled`` after Ctrl-C).

No torch here: the job subprocess imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..rundir import EventWriter, ProcessRef, RunDir, RunEnd, RunStatus, update_status, write_json_atomic
from ..rundir.status import read_status_lenient
from ..spec import RunSpec
from .outcome import job_outcome
from .procs import default_job_command


def prepare_run_dir(
    spec_dict: dict[str, Any], out: str | None, store: str
) -> tuple[Path, RunSpec | None, SpecError | None]:
    """Validates the spec and writes the run directory; an invalid spec still gets a run
    directory (when --out names one) with a failed status, so nothing fails silently."""
    try:
        spec = RunSpec.from_dict(spec_dict, where="run spec")
        error = None
    except SpecError as exc:
        spec, error = None, exc
    if out:
        run_dir = Path(out)
    elif spec is not None:
        run_dir = Path(store) / "runs" / spec.run_id()
    else:
        assert error is not None  # no spec: it did not validate
        raise error  # nowhere to record it: just report it
    run_dir.mkdir(parents=True, exist_ok=True)
    files = RunDir(run_dir)
    write_json_atomic(files.spec, spec.to_dict() if spec else spec_dict)
    if error is not None:
        with EventWriter(files.events) as ev:
            ev.emit(RunEnd(RunStatus.FAILED.value, str(error)))
        update_status(run_dir, RunStatus.FAILED, error=str(error), phase=None, ended=time.time())
    return run_dir, spec, error


def _record_identity(run_dir: Path, identity: ProcessRef) -> None:
    """Adds the job's identity (pid, create time, host) to status.json without touching the status
    the job may have written: a later reader never takes a process that reused the pid for the job."""
    current = read_status_lenient(run_dir)
    update_status(run_dir, current.status if current else RunStatus.RUNNING, job=identity)


def exit_code(returncode: int) -> int:
    """The launcher's exit status for the job's: a death by signal N as the shell reports it, 128 + N
    (Python would turn -9 into 247)."""
    return 128 - returncode if returncode < 0 else returncode


def record_outcome(run_dir: Path, returncode: int, identity: ProcessRef, *, cancelled: bool = False) -> tuple[str, int]:
    """The run's final status and the launcher's exit code, once the job process has ended: the
    job's own end, else the one runner/outcome.py decides, written with the exit code."""
    current = read_status_lenient(run_dir)
    outcome = job_outcome(current, returncode, cancelled=cancelled)
    if outcome.recorded:
        if current is not None and current.job != identity:  # a concurrent write of the job dropped them
            update_status(run_dir, outcome.status, job=identity)
        return outcome.status.value, exit_code(returncode)
    update_status(run_dir, outcome.status, ended=outcome.ended, error=outcome.error, exit_code=returncode, job=identity)
    return outcome.status.value, exit_code(returncode) or 1


def run_job(run_dir: Path) -> tuple[str, int]:
    """Runs the job of a prepared run directory in the foreground, its output going to the
    terminal and to job.log; Ctrl-C cancels it (the job records "cancelled" after its current
    batch). Returns its final status and the launcher's exit code."""
    # A fresh "running" first: a final status left by an earlier run in the same --out folder must
    # not pass for this job's outcome if the job dies before writing its own.
    update_status(run_dir, RunStatus.RUNNING, started=time.time(), ended=None, error=None, phase=None, exit_code=None)
    cancelled = False
    with open(RunDir(run_dir).log, "ab") as log:
        proc = subprocess.Popen(
            default_job_command(run_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        # At once, while the job is still starting its interpreter: the job's own status writes
        # keep these fields (write_status merges).
        identity = ProcessRef.of(proc.pid)
        _record_identity(run_dir, identity)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
        except KeyboardInterrupt:
            cancelled = True
            proc.terminate()  # the job records "cancelled" and stops after its current batch
        code = proc.wait()
    return record_outcome(run_dir, code, identity, cancelled=cancelled)
