"""Where runs execute: ``local`` (subprocesses of this machine, the default) or ``slurm`` (SLURM jobs).

The scheduler (runner/scheduler.py) keeps one queue and one bookkeeping for both; what differs
is how a run is started, how its liveness is known and how it is stopped:

| | local | slurm |
|---|---|---|
| start | ``subprocess.Popen`` in its own session (procs.spawn) | ``sbatch`` through submitit (runner/slurm.py) |
| alive? | the job's process identity (pid + create time + host) | ``squeue``/``sacct``, never a pid |
| shared phase | consumers wait for the producer's checkpoint | consumers are submitted at once with ``afterok:<producer>`` |
| cancel | SIGTERM to the process group, SIGKILL after the grace period | ``scancel`` (SLURM sends SIGTERM, then SIGKILL) |
| slots | one run per GPU, one without a GPU (``--max-parallel``) | every run is submitted; SLURM schedules (``--max-parallel`` caps it) |
| CPU share | each job gets ``cpus / runs at once`` threads | SLURM's ``--cpus-per-task`` |

``make_executor(settings)`` builds one from the plan's ``[executor]`` table (plan.ExecutorSettings).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from ..measure.contention import CPUS_ENV, RUNS_ENV, THREAD_ENV_VARS, THREADS_ENV, job_cpus
from ..rundir import ProcessRef
from . import procs

if TYPE_CHECKING:
    from .slurm import SlurmExecutor

LOCAL, SLURM = "local", "slurm"
EXECUTORS = (LOCAL, SLURM)
UNLIMITED = 1_000_000  # max_parallel of a SLURM runner without --max-parallel: every run is submitted


class LocalExecutor:
    """Runs as subprocesses of this machine (today's behaviour)."""

    name = LOCAL
    remote = False

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


# What make_executor builds (the scheduler holds one); the SLURM one is imported lazily.
Executor: TypeAlias = "LocalExecutor | SlurmExecutor"


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


def make_executor(settings: Any = None) -> Executor:
    """The executor of a plan's ``[executor]`` settings (None or kind "local": local)."""
    kind = getattr(settings, "kind", None) or LOCAL
    if kind == LOCAL:
        return LocalExecutor()
    if kind == SLURM:
        from .slurm import SlurmExecutor

        return SlurmExecutor(settings)
    raise ValueError(f"unknown executor {kind!r} (one of {', '.join(EXECUTORS)})")
