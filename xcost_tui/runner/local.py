"""Runs as subprocesses of this machine: the local executor's life-cycle of a run.

- **start**: ``python -m xcost_tui.job RUN_DIR`` in its own session (procs.spawn), after the
  offline check (runner/offline.py: under HF_HUB_OFFLINE=1, what the run needs and nobody staged
  fails it at once); its process identity goes into status.json unless the job wrote it first.
- **poll**: the job's exit code (our child) or its liveness (a job adopted from an earlier
  supervisor: its process identity, never a bare pid).
- **finish**: the one rule of runner/outcome.py; exit code 3 says the job could not write its
  run directory, so the store takes no more runs.
- **cancel**: SIGTERM to the job's process group, SIGKILL after the grace period (or at once).
- **adopt**: a job left running by an earlier supervisor, identified by its process identity.

With warm workers (runner/workers.py, the default unless the plan or ``--process-per-run`` asks
for a process per run, or a custom job command is set) a run is handed to an idle worker of its
slot instead of being spawned: it is over when its status.json is final and its worker's record
closed it (or the worker died); a cancel writes RUN_DIR/cancel.request and sends SIGUSR1 to the
worker alone, a kill (forced, or after the grace period) SIGKILLs the worker's group.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import WriteError, write_error
from ..rundir import ProcessRef, RunDir, StatusRecord
from ..rundir.cancel import request_cancel
from . import procs, storage
from .claims import Claim
from .live import RUNNING
from .notes import STARTED
from .offline import offline_problems
from .outcome import JOB_WRITE_FAILED, job_outcome
from .runs import AdoptReason, Run, StartFailed, Supervisor, peek_status
from .workers import PoolWorker, WorkerPool, log_ready

LOCAL = "local"

# What the supervisor says as it takes over a running job, by why it does.
ADOPTED = {
    AdoptReason.SUBMITTED: "{run_id}: already running (pid {pid}); not started again",
    AdoptReason.ATTACHED: "{run_id}: re-attached to the running job (pid {pid}); not started again",
    AdoptReason.HOLDER_GONE: "{label}: the supervisor that ran it is gone; followed and recorded here now",
    AdoptReason.MEANWHILE: "{label}: already running (pid {pid}); followed, not started again",
}


class LocalExecutor:
    """Runs as subprocesses of this machine (the default)."""

    name = LOCAL
    remote = False

    def __init__(self, workers: WorkerPool | None = None):
        self.workers = workers  # warm workers (runner/workers.py); None: a process per run

    def describe(self) -> str:
        return "this machine"

    def check(self) -> None:
        return None

    def spawn(self, cmd: Sequence[str], run_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return procs.spawn(cmd, run_dir, env)

    def alive(self, ref: ProcessRef | None) -> bool:
        return procs.alive(ref)

    def signal(self, ref: ProcessRef | None, sig: int) -> bool:
        return procs.signal_group(ref, sig)

    # ---- the life-cycle of a run -------------------------------------------------------------------
    def start(
        self,
        sup: Supervisor,
        run: Run,
        command: Callable[[Path], list[str]],
        env: dict[str, str],
        started: float,
    ) -> None:
        """Spawns the job of a claimed run whose run directory is written (outside the lock).
        Raises WriteError when job.log cannot be opened on a store that takes no more writes,
        StartFailed when the job cannot be started."""
        live, run_dir, run_id = run.live, run.run_dir, run.live.run_id
        assert run.spec is not None
        offline = offline_problems(run.spec, env)  # HF_HUB_OFFLINE=1 and something not staged: fail at once
        popen: subprocess.Popen[bytes] | None = None
        worker: PoolWorker | None = None
        try:
            if offline:
                raise ValueError(offline)
            if self.workers is not None:
                log_ready(run_dir)
                worker = self.workers.hand(run_id, run_dir, env)
                ref = worker.ref
            else:
                popen = self.spawn(command(run_dir), run_dir, env)
                ref = ProcessRef.of(popen.pid)  # the child is not reaped yet, so its create time is readable
        except (OSError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno in storage.REFUSED:  # job.log could not be opened
                raise write_error(exc, RunDir(run_dir).log) from None
            raise StartFailed(
                str(exc) if offline else f"could not start the job: {type(exc).__name__}: {exc}"
            ) from None
        share, gpu = run.cpu_share, live.gpu
        with sup.lock:
            run.popen, run.worker, run.process, run.starting = popen, worker, ref, False
            live.status, live.started, live.ended, live.error, live.pid = RUNNING, started, None, None, ref.pid
            live.exit_code, live.cancelling, live.skipped = None, run.cancel_requested, False
            extra = f" on GPU {gpu}" if gpu is not None else ""
            extra += f", in worker {worker.worker_id}" if worker is not None else ""
            extra += (
                f", starting from {live.init_target_from or live.init_from}"
                if live.init_target_from or live.init_from
                else ""
            )
            if share is not None and share["runs"] > 1:
                extra += f", {share['threads']} of {share['cpus']} CPU threads ({share['runs']} runs share them)"
            sup.note(f"{live.label}: started (pid {ref.pid}){extra}", run_id, topic=STARTED)
            self.cancel(sup, run, time.monotonic())  # a cancel that came while it was starting
            sup.changed()
        try:
            storage.add_job_identity(run_dir, ref)
        except WriteError as exc:
            with sup.lock:
                sup.storage_failed(exc)

    def flush(self, sup: Supervisor) -> None:
        """Nothing held: every run started in ``start``."""
        return None

    def poll(self, sup: Supervisor, run: Run, now: float) -> None:
        """A running run: its end once its process is gone, else what a cancel still owes it."""
        run.tracker.poll()
        if run.worker is not None:
            # a warm worker's run: over once the job recorded its end and closed its files (the
            # worker's record says so), or when the worker died
            if not run.worker.alive() or (_recorded(run) and run.worker.ran(run.live.run_id)):
                self.finish(sup, run)
                return
        elif run.popen is not None:
            if run.popen.poll() is not None:
                self.finish(sup, run)
                return
        elif not self.alive(run.process) or _recorded(run):  # adopted: not our child (maybe a worker)
            self.finish(sup, run)
            return
        self.cancel(sup, run, now)

    def finish(self, sup: Supervisor, run: Run) -> None:
        """The job process is gone: record its final status (the job's own, when it wrote one)."""
        live = run.live
        rc = run.popen.returncode if run.popen is not None else None
        worker = run.worker
        if worker is not None:
            rc = worker.returncode  # None while it lives on (the run recorded its own end)
        run.tracker.poll()
        outcome = job_outcome(sup.read_status(live.run_dir), rc, cancelled=run.cancel_requested)
        if not outcome.recorded:
            sup.record_end(run, outcome.status, ended=outcome.ended, error=outcome.error, exit_code=rc)
            if rc == JOB_WRITE_FAILED:  # the job's own writes failed: the store is full or read-only
                sup.storage_failed(
                    f"{live.label}: its job could not write its run directory (exit code {rc}; "
                    f"{RunDir(live.run_dir).log} says why)"
                )
        run.popen = None
        if worker is not None:
            run.worker = None
            if self.workers is not None:
                self.workers.release(worker)
            record = sup.read_status(live.run_dir) if rc is None and outcome.recorded else None
            if record is not None:
                rc = record.exit_code  # the worker lives on: the run's own exit code, as its job recorded it
        live.status, live.error, live.exit_code = outcome.status, outcome.error, rc
        live.ended = outcome.ended or time.time()
        live.cancelling = False
        sup.finished(run)

    def cancel(self, sup: Supervisor, run: Run, now: float) -> None:
        """Sends what a requested cancel still owes the job, once its process is known."""
        if not run.cancel_requested or run.process is None:
            return
        label, grace_s = run.live.label, sup.grace_s
        if run.force:
            if not run.sigkill_sent:
                run.sigkill_sent = True
                self.signal(run.process, signal.SIGKILL)
                sup.note(f"{label}: killed (SIGKILL)", run.live.run_id)
        elif not run.term_sent:
            run.term_sent = True
            run.kill_at = now + grace_s
            if run.worker is not None:  # only this run: its request file, then SIGUSR1 to the worker alone
                _request_cancel(run, grace_s)
                procs.signal_process(run.process, signal.SIGUSR1)
                sup.note(f"{label}: cancelling (SIGUSR1 to its worker; SIGKILL after {grace_s:g} s)", run.live.run_id)
            else:
                self.signal(run.process, signal.SIGTERM)
                sup.note(f"{label}: cancelling (SIGTERM; SIGKILL after {grace_s:g} s)", run.live.run_id)
        elif run.kill_at is not None and now >= run.kill_at and not run.sigkill_sent:
            run.sigkill_sent = True
            self.signal(run.process, signal.SIGKILL)
            sup.warn(f"{label}: still running {grace_s:g} s after SIGTERM; sent SIGKILL", run.live.run_id)

    def adopt(self, sup: Supervisor, run: Run, status: StatusRecord, claim: Claim, why: AdoptReason) -> bool:
        """Tracks a job that is already running (started by an earlier supervisor), as its
        claimer, when its process is alive and is the one status.json names."""
        job = procs.identify(status.job, run.run_dir, written=status.updated)
        if job is None:
            return False
        live = run.live
        live.status, live.attached, live.elsewhere = RUNNING, True, False
        live.pid, live.started, live.gpu = job.pid, status.started, status.gpu
        run.process, run.claim, run.elsewhere = job, claim, False
        try:
            claim.reserve()
        except WriteError as exc:
            sup.storage_failed(exc)
        run.tracker.poll()
        sup.note(ADOPTED[why].format(run_id=live.run_id, label=live.label, pid=job.pid), live.run_id)
        return True


def _recorded(run: Run) -> bool:
    """The job wrote the run's end into status.json."""
    status = peek_status(run.run_dir)
    return status is not None and status.status.final


def _request_cancel(run: Run, grace_s: float) -> None:
    """The file that tells the worker which run the cancel is for (rundir/cancel.py; a worker that
    has not started the run yet records it cancelled without running it)."""
    try:
        request_cancel(run.run_dir, force=run.force, grace_s=grace_s)
    except WriteError:
        pass  # a store that takes no writes: the kill after the grace period still ends it
