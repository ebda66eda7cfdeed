"""Where runs execute: ``local`` (subprocesses of this machine, the default) or ``slurm`` (SLURM jobs).

The scheduler (runner/scheduler.py) keeps one queue and one bookkeeping for both; an executor
runs the life-cycle of one run (the ``Executor`` protocol: start, poll, finish, cancel, adopt),
and what differs is how (runner/local.py, runner/slurm.py):

| | local | slurm |
|---|---|---|
| start | ``subprocess.Popen`` in its own session (procs.spawn) | ``sbatch`` through submitit (runner/slurm.py) |
| alive? | the job's process identity (pid + create time + host) | ``squeue``/``sacct``, never a pid |
| shared phase | consumers wait for the producer's checkpoint | consumers are submitted at once with ``afterok:<producer>`` |
| cancel | SIGTERM to the process group, SIGKILL after the grace period | ``scancel`` (SLURM sends SIGTERM, then SIGKILL) |
| slots | one run per GPU, one without a GPU (``--max-parallel``) | every run is submitted; SLURM schedules (``--max-parallel`` caps it) |
| CPU share | each job gets ``cpus / runs at once`` threads | SLURM's ``--cpus-per-task`` |

``make_executor(settings)`` builds one from the plan's ``[executor]`` table (plan.ExecutorSettings);
``Executors`` picks the one of each run (a run with a SLURM job id is SLURM's, whoever follows it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from ..measure.contention import CPUS_ENV, RUNS_ENV, THREAD_ENV_VARS, THREADS_ENV, job_cpus
from ..plan import ExecutorSettings
from ..rundir import StatusRecord
from .claims import Claim
from .local import LOCAL, LocalExecutor
from .runs import AdoptReason, Run, Supervisor
from .slurm import SLURM, SlurmExecutor

EXECUTORS = (LOCAL, SLURM)
UNLIMITED = 1_000_000  # max_parallel of a SLURM runner without --max-parallel: every run is submitted


class Executor(Protocol):
    """Runs the life-cycle of a run for the scheduler. ``start`` is called outside the
    scheduler's lock; every other method holding it."""

    name: str
    remote: bool  # its jobs run on other nodes: absolute paths, no GPUs or CPU share of this machine

    def describe(self) -> str:
        """Where runs execute, for the user ("this machine", "SLURM (partition gpu, ...)")."""
        ...

    def check(self) -> None:
        """Raises XcostError when runs cannot execute there (SLURM unreachable)."""
        ...

    def start(
        self, sup: Supervisor, run: Run, command: Callable[[Path], list[str]], env: dict[str, str], started: float
    ) -> None:
        """Starts the job of a claimed run whose run directory is written. Raises WriteError when the
        store refused a write the start needs (the launch is undone), StartFailed when the job
        could not be started (the run failed with its message)."""
        ...

    def flush(self, sup: Supervisor) -> None:
        """After a round of ``start`` calls (outside the lock): submits what ``start`` held (SLURM
        packs the runs launched together into one job each: runner/packing.py); nothing locally."""
        ...

    def poll(self, sup: Supervisor, run: Run, now: float) -> None:
        """A running run, at each step of the control loop: what a cancel still owes its job, and
        its end (``finish``) once the job is over."""
        ...

    def finish(self, sup: Supervisor, run: Run) -> None:
        """The job is over: records the run's end (runner/outcome.py decides it)."""
        ...

    def cancel(self, sup: Supervisor, run: Run, now: float) -> None:
        """Delivers what a requested cancel still owes the job, once the job is known."""
        ...

    def adopt(self, sup: Supervisor, run: Run, status: StatusRecord, claim: Claim, why: AdoptReason) -> bool:
        """Takes over, as its claimer, a job status.json says is running (and says so); False
        when no such job can be found."""
        ...


class Executors:
    """The scheduler's executor, and the executors of the runs it finds or follows: a run with
    a SLURM job id is SLURM's (that executor is made on demand when a supervisor that runs
    locally finds one in the store), any other run is this machine's."""

    def __init__(self, main: Executor):
        self.main = main
        self.local: Executor = LocalExecutor() if main.remote else main
        self._slurm = main if isinstance(main, SlurmExecutor) else None

    def slurm(self) -> SlurmExecutor:
        if self._slurm is None:  # a SLURM run found in the store by a supervisor that runs locally
            self._slurm = SlurmExecutor(ExecutorSettings(kind=SLURM))
        return self._slurm

    def of(self, run: Run) -> Executor:
        """The executor that runs (or ran) ``run``."""
        return self.slurm() if run.job_id is not None else self.local

    def for_status(self, status: StatusRecord) -> list[Executor]:
        """The executors that may find the job of a run status.json says is running, in turn: a
        run handed to SLURM whose job cannot be found is looked for as a process too."""
        return [self.slurm(), self.local] if status.executor == SLURM else [self.local]

    def refresh(self, sup: Supervisor) -> None:
        """Asks SLURM about the SLURM jobs of unfinished runs (outside the lock)."""
        with sup.lock:
            job_ids = {r.job_id for r in sup.all_runs() if r.job_id is not None and not r.live.done}
        if job_ids:
            self.slurm().refresh(sup, job_ids)


def cpu_share(runs_at_once: int, env: dict[str, str] | None = None) -> dict[str, int]:
    """The CPU share of one local job when ``runs_at_once`` runs share this machine's CPUs (those
    the supervisor may use): ``cpus // runs`` threads, at least one. ``$XCOST_CPU_THREADS`` in the
    supervisor's environment overrides the threads."""
    source: Mapping[str, str] = os.environ if env is None else env
    cpus = len(job_cpus())
    runs = max(1, int(runs_at_once))
    threads = max(1, cpus // runs)
    given = (source.get(THREADS_ENV) or "").strip()
    if given.isdigit() and int(given) > 0:
        threads = int(given)
    return {"threads": threads, "cpus": cpus, "runs": runs}


def share_env(share: dict[str, int]) -> dict[str, str]:
    """The environment that gives a job its share: torch's intra-op threads (the job reads
    ``XCOST_CPU_THREADS``) and the OpenMP/MKL/OpenBLAS pools."""
    n = str(share["threads"])
    return {
        THREADS_ENV: n,
        CPUS_ENV: str(share["cpus"]),
        RUNS_ENV: str(share["runs"]),
        **{var: n for var in THREAD_ENV_VARS},
    }


def make_executor(settings: ExecutorSettings | None = None) -> Executor:
    """The executor of a plan's ``[executor]`` settings (None or kind "local": local)."""
    kind = (settings.kind if settings is not None else None) or LOCAL
    if kind == LOCAL:
        return LocalExecutor()
    if kind == SLURM and settings is not None:
        return SlurmExecutor(settings)
    raise ValueError(f"unknown executor {kind!r} (one of {', '.join(EXECUTORS)})")
