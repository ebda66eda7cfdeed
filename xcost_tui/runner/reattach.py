"""Runs found running, and runs another supervisor runs: re-attach, follow, take over.

A run whose status.json says ``running`` is one of three things to a supervisor (docs/runner.md):

- its claim (runner/claims.py) is held by another supervisor: it is **followed** here (its events
  tailed, its end waited for), never written; it shows as queued until its attempt is seen running;
- its claim is free and its job is alive: the job is **adopted** (its executor finds it: a process
  identity, or a SLURM job) and this supervisor records its end;
- its claim is free and its job is gone: it is recorded as failed (the job process disappeared).

A followed run whose holder lets go is taken over by the same rule. These functions act on one
run under the scheduler's lock; the scheduler calls them from ``submit``, ``attach_existing``,
its launch (a run another supervisor started meanwhile) and each step of its control loop.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from ..errors import WriteError
from ..rundir import RunDir, RunStatus, StatusRecord
from . import procs, storage
from .claims import Claim, describe_holder
from .executors import Executors
from .live import QUEUED, RUNNING
from .outcome import DISAPPEARED
from .runs import AdoptReason, Run, Supervisor, peek_status, status_and_attempt
from .slurm import SLURM, SlurmError
from .slurm_jobs import accountable


class Host(Supervisor, Protocol):
    """The scheduler, with the executors that find a running run's job."""

    executors: Executors


def attach_running(sup: Host, run: Run, status: StatusRecord, *, requeue: bool) -> None:
    """A run status.json says is running: follow it (its claim is held elsewhere), adopt it
    (its job is alive and identified) or record it as failed (the job is gone). ``requeue``: it
    was submitted again (a dead one is queued to run again), else found in the store."""
    live, run_dir, run_id = run.live, run.run_dir, run.live.run_id
    claims = sup.claims_of(run_dir)
    try:
        claim = claims.try_take(run_id)
    except WriteError as exc:  # a store we cannot write: follow what can be seen, record nothing
        sup.storage_failed(exc)
        job = procs.identify(status.job, run_dir, written=status.updated)
        if job is None:
            run.load(status)
            live.status, live.ended = RunStatus.FAILED, time.time()
            live.error = f"{DISAPPEARED} (not recorded: {exc})"
        else:
            follow_elsewhere(sup, run, status)
        return
    if claim is None:
        follow_elsewhere(sup, run, status)
        return
    run.claim = claim
    planned = _wiring(run)
    take_disk_wiring(run)
    if _adopt(sup, run, status, claim, AdoptReason.SUBMITTED if requeue else AdoptReason.ATTACHED):
        return
    try:
        recorded = _record_disappeared(sup, run_dir, status)
    finally:
        run.release_claim()
    if requeue:
        # queued again: wired afresh around today's queue (shared.wire_queue), not by the dead
        # launch's spec.json, whose checkpoint may not exist yet (its producer still running: on
        # SLURM it must wait for it, afterok, which only the queue's wiring adds)
        _set_wiring(run, planned)
        sup.warn(f"{run_id}: was left running by a job that is gone; marked failed and queued again", run_id)
        return
    run.load(recorded or status)
    live.status, live.error = RunStatus.FAILED, DISAPPEARED
    sup.warn(f"{run_id}: {DISAPPEARED}; recorded as failed", run_id)
    sup.ingest(run_dir)


def found_attempt(sup: Host, run: Run, status: StatusRecord) -> None:
    """We claimed a run to launch it and found an attempt another supervisor made meanwhile:
    it is that attempt's run now (followed if running, its result if over), never rerun."""
    live = run.live
    if status.status == RUNNING:
        assert run.claim is not None  # claimed to be launched
        if _adopt(sup, run, status, run.claim, AdoptReason.MEANWHILE):
            return
        recorded = _record_disappeared(sup, run.run_dir, status)
        run.load(recorded or status)
        live.status, live.error = RunStatus.FAILED, DISAPPEARED
        sup.warn(f"{live.label}: {DISAPPEARED}; recorded as failed", live.run_id)
    else:
        run.load(status)
        live.attached = live.elsewhere = True  # not started here: it ran under another supervisor
        sup.note(f"{live.label}: {status.status} in another supervisor meanwhile; not run again", live.run_id)
    sup.finished(run)


def follow_elsewhere(sup: Supervisor, run: Run, status: StatusRecord | None) -> None:
    """Another supervisor holds the run's claim: watch it (events, status), never write it.
    Until its attempt is seen running the run shows as queued here."""
    live = run.live
    run.elsewhere, run.claim, run.popen = True, None, None
    live.attached = live.elsewhere = True
    run.following = False
    run.tracker.reset_tails(clear_live=False)
    if status is not None and status.status == RUNNING:
        _see_running_elsewhere(run, status)
    holder = sup.claims_of(run.run_dir).holder(live.run_id)
    sup.note(f"{live.label}: claimed by {describe_holder(holder)}; followed here, not started again", live.run_id)


def step_elsewhere(sup: Host, run: Run, now: float) -> None:
    """A followed run, at each step of the control loop: its progress, a cancel asked here, and
    its end or its take-over once its holder lets go of the claim."""
    live, run_dir = run.live, run.run_dir
    status = peek_status(run_dir)
    if status is not None and status.status == RUNNING:
        _see_running_elsewhere(run, status)
    if run.following:
        run.tracker.poll()
    sup.executors.of(run).cancel(sup, run, now)
    try:
        claim = sup.claims_of(run_dir).try_take(live.run_id)
    except WriteError:  # a read-only store: nobody is writing it; judge by what can be seen
        if status is not None and status.status.final:
            run.load(status)
            sup.finished(run)
        elif run.following and not procs.alive(run.process):
            live.status, live.ended, live.error = RunStatus.FAILED, time.time(), f"{DISAPPEARED} (not recorded)"
            sup.finished(run)
        return
    if claim is None:
        return  # still held: its holder records its end
    run.elsewhere, run.claim = False, claim  # its holder let go: it recorded the end, or it is gone
    status, attempt = status_and_attempt(run_dir)
    if status is not None and status.status == RUNNING:
        if _adopt(sup, run, status, claim, AdoptReason.HOLDER_GONE):
            return
        recorded = _record_disappeared(sup, run_dir, status)
        run.load(recorded or status)
        live.status, live.error = RunStatus.FAILED, DISAPPEARED
        sup.warn(f"{live.label}: {DISAPPEARED}; recorded as failed", live.run_id)
        sup.finished(run)
    elif status is not None and status.status.final and (run.following or attempt != run.seen):
        run.load(status)
        sup.note(f"{live.label}: {status.status} (run by another supervisor)", live.run_id)
        sup.finished(run)
    elif run.spec is not None:  # its claimer went away before starting it: ours to run again
        run.release_claim()
        live.status, live.attached, live.elsewhere = QUEUED, False, False
        sup.note(f"{live.label}: the supervisor that claimed it stopped before starting it; queued here", live.run_id)
    else:
        live.status, live.ended, live.error = RunStatus.FAILED, time.time(), DISAPPEARED
        sup.finished(run)


def account_previous(sup: Host, run_dir: Path) -> None:
    """Before a rerun archives the previous attempt (the caller holds its claim): SLURM's account
    of its job, when that job ended while no supervisor followed it (scancelled or out of time
    while none ran: the job recorded its end, nobody asked sacct; SlurmExecutor.account_ended).
    A SLURM that does not answer leaves the attempt as it is, and says so. Raises WriteError."""
    status = peek_status(run_dir)
    if status is None or not accountable(status):
        return
    try:
        sup.executors.slurm().account_ended(run_dir)
    except SlurmError as exc:
        sup.warn(
            f"{run_dir.name}: the previous attempt is archived without SLURM's account of its job "
            f"{status.executor_job_id} ({exc})",
            run_dir.name,
        )


def take_disk_wiring(run: Run) -> None:
    """A run found running keeps the wiring its launch wrote into spec.json (whether it saves
    its encoder or its post-target model for others, the checkpoint it starts from): the queue
    is wired around it."""
    try:
        disk = RunDir(run.run_dir).read_spec()
    except (OSError, ValueError):
        return
    for save, init in (("save_encoder", "init_from"), ("save_target", "init_target_from")):
        saved = disk.get(init)
        if run.spec is not None:
            setattr(run.spec, save, bool(disk.get(save)))
            setattr(run.spec, init, saved if isinstance(saved, str) else getattr(run.spec, init))
        setattr(run.live, save, bool(disk.get(save)))
        if isinstance(saved, str):
            setattr(run.live, init, saved)


_WIRING = ("save_encoder", "init_from", "save_target", "init_target_from")


def _wiring(run: Run) -> dict[str, object]:
    """The run's sharing fields as the plan gave them (before any launch's wiring)."""
    source = run.spec if run.spec is not None else run.live
    return {name: getattr(source, name) for name in _WIRING}


def _set_wiring(run: Run, values: dict[str, object]) -> None:
    for name, value in values.items():
        if run.spec is not None:
            setattr(run.spec, name, value)
        setattr(run.live, name, value)


def _record_disappeared(sup: Supervisor, run_dir: Path, status: StatusRecord) -> StatusRecord | None:
    """Records a run whose job is gone as failed; None (and the queue told) when the store takes no writes."""
    try:
        return storage.mark_disappeared(run_dir, status)
    except WriteError as exc:
        sup.storage_failed(exc)
        return None


def _adopt(sup: Host, run: Run, status: StatusRecord, claim: Claim, why: AdoptReason) -> bool:
    """Whether an executor found the run's job and took it over (a SLURM run's job is looked
    for as SLURM's first, then as a process)."""
    return any(executor.adopt(sup, run, status, claim, why) for executor in sup.executors.for_status(status))


def _see_running_elsewhere(run: Run, status: StatusRecord) -> None:
    live = run.live
    if not run.following or status.started != run.followed_started:
        if run.following:  # a new attempt: read its files from the start
            run.tracker.reset_tails()
        run.following, run.followed_started = True, status.started
        live.status, live.started, live.gpu = RUNNING, status.started, status.gpu
    if status.executor_job_id is not None:  # a SLURM run: its state comes from SLURM
        run.job_id = live.job_id = status.executor_job_id
        live.executor = SLURM
    if status.job is not None and (run.process is None or run.process.pid != status.job.pid):
        run.process = procs.identify(status.job, run.run_dir, written=status.updated)
        live.pid = status.job.pid
