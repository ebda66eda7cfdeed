"""One run in the foreground (``xcost-tui run``, commands/run.py): its run directory written, its
job started with its output going both to the terminal and to job.log, its end recorded.

Beside the job's own log lines the launcher says where the run stands, as headless does and in
the same words (runner/progress.py): each phase as it starts, and every $XCOST_PROGRESS_EVERY_S
seconds (10 by default) the phase's step/total, loss, examples/s, the sampler's memory and the
time elapsed, read from the run directory's events and samples (runner/live.py's tracker).

After the job ends its record is made whole by the rule every supervisor uses (runner/outcome.py):
a job that died without writing a final status (SIGKILL, out of memory) is recorded ``failed``
with the reason (``cancelled`` after Ctrl-C, SIGTERM or SIGHUP to the launcher, which pass a
cancel on to the job).

No torch here: the job subprocess imports it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import SpecError, WriteError
from ..rundir import (
    EventWriter,
    ProcessRef,
    RunDir,
    RunEnd,
    RunStatus,
    mark_running_here,
    update_status,
    write_json_atomic,
)
from ..rundir.cancel import clear_cancel_request, request_cancel
from ..rundir.status import read_status_lenient
from ..spec import RunSpec
from .live import LiveRun, RunTracker
from .outcome import describe_exit, job_outcome
from .procs import default_job_command, signal_group, spawn
from .progress import ProgressLines, progress_every_s


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


def record_outcome(
    run_dir: Path, returncode: int, identity: ProcessRef, *, cancelled: bool = False, reason: str | None = None
) -> tuple[str, int]:
    """The run's final status and the launcher's exit code, once the job process has ended: the
    job's own end, else the one runner/outcome.py decides (a cancel's ``reason`` in place of the
    word "cancelled"), written with the exit code."""
    current = read_status_lenient(run_dir)
    outcome = job_outcome(current, returncode, cancelled=cancelled)
    if not outcome.recorded and cancelled and reason:
        outcome = dataclasses.replace(outcome, error=f"{reason} ({describe_exit(returncode)})")
    if outcome.recorded:
        if current is not None and current.job != identity:  # a concurrent write of the job dropped them
            update_status(run_dir, outcome.status, job=identity)
        return outcome.status.value, exit_code(returncode)
    update_status(run_dir, outcome.status, ended=outcome.ended, error=outcome.error, exit_code=returncode, job=identity)
    return outcome.status.value, exit_code(returncode) or 1


# The signals that stop ``xcost-tui run`` (kill, Ctrl-C, a closed terminal or dropped SSH session),
# and the reason each one gives the run.
STOP_SIGNALS = {
    signal.SIGTERM: "cancelled: xcost-tui run received SIGTERM",
    signal.SIGINT: "cancelled: xcost-tui run received SIGINT (Ctrl-C)",
    signal.SIGHUP: "cancelled: xcost-tui run received SIGHUP (its terminal or SSH session closed)",
}
KILL_AFTER_S = 30.0  # from the cancel to a SIGKILL of a job that does not stop (a second signal: at once)
POLL_S = 0.1  # how often job.log is copied to the terminal
LOOK_S = 0.25  # how often the run directory's events and samples are read for the progress lines


class _Terminal:
    """The launcher's stdout, for the job's output. Once it cannot be written (the terminal or SSH
    session is gone: EIO, a closed pipe) the job's output goes on to job.log alone, and what the
    launcher would still print is dropped rather than raised: the run must still be recorded."""

    def __init__(self) -> None:
        self.ok = True
        self.line_start = True  # the last byte written ended a line

    def write(self, data: bytes) -> None:
        if not self.ok or not data:
            return
        self.line_start = data.endswith(b"\n")
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        except (OSError, ValueError):
            self.ok = False
            devnull = open(os.devnull, "w")  # noqa: SIM115 - replaces the dead streams until exit
            sys.stdout = sys.stderr = devnull


class _Stop:
    """The stop signals the launcher received, acted on by its loop (a handler only notes them)."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.handled = 0
        self.kill_at: float | None = None

    def note(self, signum: int, frame: object) -> None:
        self.received.append(signum)

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    def reason(self) -> str | None:
        return STOP_SIGNALS[signal.Signals(self.first)] if self.first is not None else None

    def act(self, run_dir: Path, identity: ProcessRef, terminal: _Terminal) -> None:
        """Passes a new stop on to the job: the first as a cancel (its reason in the cancel request,
        then SIGTERM to the job's group), a second one, or the grace run out, as SIGKILL."""
        now = time.monotonic()
        if len(self.received) > self.handled:
            if self.handled == 0:
                name = signal.Signals(self.received[0]).name
                try:
                    request_cancel(run_dir, grace_s=KILL_AFTER_S, reason=self.reason())
                except WriteError:
                    pass  # the job then records the signal it received, in its own words
                signal_group(identity, signal.SIGTERM)
                self.kill_at = now + KILL_AFTER_S
                terminal.write(
                    f"xcost-tui run: {name}: cancelling the run after its current batch (again to kill it)\n".encode()
                )
            else:
                self.kill_at = now
            self.handled = len(self.received)
        if self.kill_at is not None and now >= self.kill_at:
            self.kill_at = None
            signal_group(identity, signal.SIGKILL)
            terminal.write(b"xcost-tui run: killing the job (SIGKILL)\n")


class _Watch:
    """The progress lines of the run: its run directory read (through the live API's tracker) at
    most every LOOK_S, its lines written between the job's own, each on a line of its own."""

    def __init__(self, run_dir: Path, terminal: _Terminal) -> None:
        self.tracker = RunTracker(LiveRun.from_run_dir(run_dir))
        self.lines = ProgressLines(progress_every_s())
        self.terminal = terminal
        self.next_look = 0.0

    def look(self, *, last: bool = False) -> None:
        now = time.monotonic()
        if now < self.next_look and not last:
            return
        self.next_look = now + LOOK_S
        try:
            self.tracker.poll()
        except OSError:  # the events cannot be read now: the job's log still shows, the next look retries
            return
        run = self.tracker.live
        lines = self.lines.phase_lines(run, now) + self.lines.progress_lines(run, now)
        if lines:
            stamp = time.strftime("%H:%M:%S")
            text = "".join(f"[{stamp}] {line}\n" for line in lines)
            self.terminal.write(("" if self.terminal.line_start else "\n").encode() + text.encode())


def run_job(run_dir: Path) -> tuple[str, int]:
    """Runs the job of a prepared run directory in the foreground, its output going to job.log and
    from there to the terminal. SIGTERM, SIGINT (Ctrl-C) and SIGHUP (the terminal or SSH session
    closed) cancel it as the runner's cancel does: the reason in a cancel request, SIGTERM to the
    job (it records "cancelled" after its current batch), SIGKILL after a second signal or
    KILL_AFTER_S; the launcher then exits 128 + the signal. Returns the run's final status and the
    launcher's exit code.

    The job leads its own session and writes job.log itself, so nothing of the terminal reaches it
    but what the launcher passes on, and a launcher killed outright (SIGKILL) leaves it running to
    its end, recorded by itself."""
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop.note) for sig in STOP_SIGNALS}
    try:
        # A fresh "running" first: a final status left by an earlier run in the same --out folder
        # must not pass for this job's outcome if the job dies before writing its own.
        # Until the job's identity is known the launcher's own stands for it: a reader (`xcost-tui
        # ingest`, runner/gone.py) takes a run whose process is gone for one left running for good.
        mark_running_here(run_dir)
        clear_cancel_request(run_dir)
        if stop.first is not None:  # stopped before the job started: nothing to cancel
            return _stopped_before_start(run_dir, stop)
        terminal = _Terminal()
        with open(RunDir(run_dir).log, "ab+") as log:
            log.seek(0, os.SEEK_END)  # job.log is appended to: the terminal sees this attempt's lines
            proc = spawn(default_job_command(run_dir), run_dir, {**os.environ, "PYTHONUNBUFFERED": "1"})
            # At once, while the job is still starting its interpreter: the job's own status writes
            # keep these fields (write_status merges).
            identity = ProcessRef.of(proc.pid)
            _record_identity(run_dir, identity)
            watch = _Watch(run_dir, terminal)
            while True:
                stop.act(run_dir, identity, terminal)
                try:
                    code: int | None = proc.wait(POLL_S)
                except subprocess.TimeoutExpired:
                    code = None
                terminal.write(log.read())
                watch.look(last=code is not None)  # a last look: the phases the final poll missed
                if code is not None:
                    break
        status, exit_status = record_outcome(
            run_dir, code, identity, cancelled=stop.first is not None, reason=stop.reason()
        )
        if stop.first is not None and status == RunStatus.CANCELLED.value:
            exit_status = 128 + stop.first
        return status, exit_status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped_before_start(run_dir: Path, stop: _Stop) -> tuple[str, int]:
    reason = stop.reason()
    with EventWriter(RunDir(run_dir).events) as ev:
        ev.emit(RunEnd(RunStatus.CANCELLED.value, reason))
    update_status(run_dir, RunStatus.CANCELLED, ended=time.time(), error=reason)
    assert stop.first is not None
    return RunStatus.CANCELLED.value, 128 + stop.first
