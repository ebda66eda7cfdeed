"""Contention: did other work share the job's CPUs or GPUs while a phase was measured?

The same spec took 9.3 s of training wall time on a busy machine and 1.9 s on a quiet one;
device-hours and throughput moved with it. This module measures the evidence beside the job
(in the job process for a phase, in the sampler process for each sample), so it holds on a
shared cluster node as on a workstation (docs/measurement.md, "Contention"):

- **CPU**: the busy time of the CPUs the job may run on (its affinity: on SLURM, the CPUs of its
  allocation) from the kernel's per-CPU counters (``psutil.cpu_times(percpu=True)``: user, nice,
  system, irq, softirq and steal, which is time a hypervisor gave to another guest), minus the CPU
  time of the job's own process tree (the job, its live children and the children it reaped).
  What is left is other processes' work on those CPUs: ``other_cpu_s``.
- **GPU**: every process NVML lists on the job's GPUs that is not in the job's process tree.

``judge`` turns the evidence into the ``contended`` flag with the thresholds named below. No
torch here: the sampler process (torch-free) uses it too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import psutil

# Busy fields of /proc/stat. guest and guest_nice are already inside user and nice; idle and
# iowait are not work.
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")

# The flag (docs/measurement.md): CPU contention when other processes used, on average, more of
# the job's CPUs than its thread share leaves free plus this fraction of the share (a job alone
# with all N CPUs: more than N/4 cores of other work; one of two runs sharing 2 CPUs with 1 thread
# each: more than 1.25 cores); GPU contention when at least this many other processes were on the
# job's GPUs at any sample or at either end of the phase.
CPU_SHARE_THRESHOLD = 0.25
GPU_PROCESS_THRESHOLD = 1
MIN_WALL_S = 0.1  # shorter phases: the kernel counts CPU time in 10 ms ticks, too coarse to tell

THREADS_ENV = "XCOST_CPU_THREADS"  # the threads the runner gave the job (its CPU share)
RUNS_ENV = "XCOST_RUNS_SHARING"  # how many runs shared the machine's CPUs when it was launched
CPUS_ENV = "XCOST_CPU_SHARE_CPUS"  # the CPUs the share was computed from


def job_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity; SLURM's cpuset on a cluster node)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


def busy_seconds(cpus: Iterable[int]) -> float:
    """Busy CPU seconds so far of ``cpus`` (all CPUs when the per-CPU list cannot be indexed)."""
    cpus = list(cpus)
    per = psutil.cpu_times(percpu=True)
    if cpus and max(cpus) < len(per):
        return sum(sum(getattr(per[c], f, 0.0) for f in BUSY_FIELDS) for c in cpus)
    total = psutil.cpu_times()
    return sum(getattr(total, f, 0.0) for f in BUSY_FIELDS)


def tree_seconds(root: psutil.Process) -> tuple[float, set[int]]:
    """CPU seconds of a process tree so far: the root (with the children it reaped) and its live
    descendants; and the tree's pids. A child that exits moves from the second sum into the
    root's ``children_*`` once reaped, so the total does not jump."""
    pids = {root.pid}
    try:
        t = root.cpu_times()
        total = t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
        children = root.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return 0.0, pids
    for c in children:
        try:
            ct = c.cpu_times()
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
        pids.add(c.pid)
        total += ct.user + ct.system
    return total, pids


@dataclass(frozen=True)
class CpuSnapshot:
    """One reading of the job's CPUs and its own tree."""

    t: float  # monotonic
    busy_s: float
    own_s: float
    cpus: int
    pids: frozenset[int] = frozenset()

    @classmethod
    def take(
        cls, root: psutil.Process | int | None = None, cpus: list[int] | None = None, *, busy_first: bool = False
    ) -> CpuSnapshot:
        """``busy_first``: read the CPUs' counters before the process tree (the end of a window:
        the slow tree walk then falls outside it; at the start the tree is read first)."""
        proc = root if isinstance(root, psutil.Process) else psutil.Process(root or os.getpid())
        cpus = cpus if cpus is not None else job_cpus()
        if busy_first:
            t, busy = time.monotonic(), busy_seconds(cpus)
            own, pids = tree_seconds(proc)
        else:
            own, pids = tree_seconds(proc)
            t, busy = time.monotonic(), busy_seconds(cpus)
        return cls(t, busy, own, len(cpus), frozenset(pids))


@dataclass(frozen=True)
class CpuWindow:
    """What other processes did on the job's CPUs between two snapshots."""

    wall_s: float
    busy_s: float
    own_s: float
    cpus: int

    @property
    def other_s(self) -> float:
        """Other processes' CPU seconds (never below 0: the two counters tick separately)."""
        return max(0.0, self.busy_s - self.own_s)

    @property
    def other_cores(self) -> float | None:
        return self.other_s / self.wall_s if self.wall_s > 0 else None

    @classmethod
    def between(cls, a: CpuSnapshot, b: CpuSnapshot) -> CpuWindow:
        return cls(b.t - a.t, max(0.0, b.busy_s - a.busy_s), max(0.0, b.own_s - a.own_s), b.cpus)

    @classmethod
    def total(cls, windows: Sequence[CpuWindow | None]) -> CpuWindow | None:
        """Several windows of one phase as one (a phase paused for its learning-curve evaluations);
        None when there are none or one could not be read."""
        if not windows or any(w is None for w in windows):
            return None
        ws = [w for w in windows if w is not None]
        if len(ws) == 1:
            return ws[0]
        return cls(sum(w.wall_s for w in ws), sum(w.busy_s for w in ws), sum(w.own_s for w in ws), ws[-1].cpus)


@dataclass(frozen=True)
class Share:
    """The CPU share the runner gave the job (docs/runner.md, "CPU share"), from its environment."""

    threads: int | None = None
    cpus: int | None = None
    runs: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Share:
        env = os.environ if env is None else env
        return cls(_int(env.get(THREADS_ENV)), _int(env.get(CPUS_ENV)), _int(env.get(RUNS_ENV)))

    def to_dict(self) -> dict[str, Any]:
        return {"threads": self.threads, "cpus": self.cpus, "runs": self.runs}


def _int(v: Any) -> int | None:
    try:
        n = int(str(v).strip())
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


@dataclass
class Verdict:
    contended: bool | None  # None: could not tell (reason says why)
    reasons: list[str] = field(default_factory=list)  # the evidence of a flag
    reason: str | None = None  # why it could not tell


def allowance_cores(cpus: int, threads: int | None) -> float:
    """Other work (in cores) the job's CPUs may carry before the phase counts as contended: what
    the job's thread share leaves free, plus CPU_SHARE_THRESHOLD of the share."""
    share = min(threads or cpus, cpus)
    return max(0, cpus - share) + CPU_SHARE_THRESHOLD * share


def judge(cpu: CpuWindow | None, threads: int | None, gpu_others: list[int] | None, *, gpus_watched: bool) -> Verdict:
    """The contention flag of one phase from its evidence (thresholds above).

    ``gpu_others``: the pids of other processes seen on the job's GPUs (None: NVML could not
    tell); ``gpus_watched``: the phase ran on GPUs that were watched."""
    reasons: list[str] = []
    unknown: list[str] = []
    if cpu is None:
        unknown.append("the CPU counters could not be read")
    elif cpu.wall_s < MIN_WALL_S:
        unknown.append(f"the phase was too short to tell ({cpu.wall_s:.3f} s < {MIN_WALL_S} s)")
    else:
        cores = cpu.other_cores or 0.0
        limit = allowance_cores(cpu.cpus, threads)
        if cores > limit:
            share = f", its share {threads} thread(s)" if threads else ""
            reasons.append(
                f"cpu: other processes used {cores:.2f} of the job's {cpu.cpus} CPU(s) on average "
                f"(more than {limit:.2f}{share})"
            )
    if gpus_watched:
        if gpu_others is None:
            unknown.append("NVML could not list the processes on the job's GPUs")
        elif len(gpu_others) >= GPU_PROCESS_THRESHOLD:
            reasons.append(
                f"gpu: {len(gpu_others)} other process(es) on the job's GPUs "
                f"(pid {', '.join(map(str, gpu_others[:8]))})"
            )
    if reasons:
        return Verdict(True, reasons)
    if unknown:
        return Verdict(None, [], "; ".join(unknown))
    return Verdict(False)


# ---- GPUs ---------------------------------------------------------------------------------------


def gpu_others(
    nvml: ModuleType, indices: Iterable[int], own: set[int]
) -> dict[int, list[tuple[int, int | None]]] | None:
    """NVML index -> [(pid, bytes or None)] of the processes on that GPU that are not ``own``;
    None when NVML cannot list them, or lists only pids this pid namespace does not have (a
    container: ours cannot be told from others)."""
    out: dict[int, list[tuple[int, int | None]]] = {}
    for i in indices:
        listed = nvml.processes(i)
        if listed is nvml.NA:
            return None
        procs = [(p.pid, nvml.value(p.used_bytes)) for p in listed]
        if procs and not any(pid in own for pid, _ in procs) and not any(psutil.pid_exists(pid) for pid, _ in procs):
            return None
        out[i] = [(pid, used) for pid, used in procs if pid not in own]
    return out


# ---- the CPU share (docs/runner.md, "CPU share") ---------------------------------------------------

# The thread pools a job's libraries size from the environment (read once, at import): OpenMP
# (torch's intra-op pool on most builds), MKL, OpenBLAS, and numexpr/Accelerate for good measure.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def share_threads(env: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """The threads a job should use and where that comes from: the runner's share
    (``$XCOST_CPU_THREADS``), else the CPUs SLURM allocated to the job (``--cpus-per-task``:
    ``$SLURM_CPUS_PER_TASK``, else ``$SLURM_JOB_CPUS_PER_NODE``, "4" or "4(x2)"), else None (the
    libraries' own default)."""
    env = os.environ if env is None else env
    n = _int(env.get(THREADS_ENV))
    if n:
        return n, "runner"
    n = _int(env.get("SLURM_CPUS_PER_TASK"))
    if n:
        return n, "slurm"
    per_node = (env.get("SLURM_JOB_CPUS_PER_NODE") or "").split("(")[0].split(",")[0]
    n = _int(per_node)
    if n:
        return n, "slurm"
    return None, "default"


def apply_thread_share(env: MutableMapping[str, str] | None = None) -> int | None:
    """Sets the thread pools' variables (before torch is imported) to the job's share; returns
    it (None: nothing to apply). A variable the user set explicitly for the job is kept."""
    env = os.environ if env is None else env
    n, origin = share_threads(env)
    if n is None:
        return None
    env.setdefault(THREADS_ENV, str(n))
    for var in THREAD_ENV_VARS:
        if origin == "slurm" or var not in env:
            env[var] = str(n)
    return n
