"""Processes of the jobs: spawning in their own session, liveness, signals, GPU slots.

Never imports torch: the GPU count comes from NVML through ``xcost_tui.measure.nvml``. How a
job's exit reads ("killed by SIGKILL") is runner/outcome.py's.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from ..measure import nvml
from ..measure.sampler import strip_reason
from ..rundir import ProcessRef, RunDir

JobCommand = Callable[[Path], list[str]]
JOB_COMMAND_ENV = "XCOST_JOB_CMD"  # test hook: a command prefix (split like a shell, never run by one)


def default_job_command(run_dir: Path) -> list[str]:
    """``python -m xcost_tui.job RUN_DIR``, or ``$XCOST_JOB_CMD RUN_DIR`` when that is set (tests)."""
    prefix = os.environ.get(JOB_COMMAND_ENV)
    if prefix:
        return [*shlex.split(prefix), str(run_dir)]
    return [sys.executable, "-m", "xcost_tui.job", str(run_dir)]


def spawn(cmd: Sequence[str], run_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Starts a job in its own session (a closed terminal or dropped SSH does not reach it),
    stdin from /dev/null, stdout and stderr appended to RUN_DIR/job.log."""
    with open(RunDir(run_dir).log, "ab") as log:
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )


def _matches(proc: psutil.Process, ref: ProcessRef) -> bool:
    """Whether the live process ``proc`` is the one ``ref`` recorded (and not a later one that reused the pid)."""
    if ref.host is not None and ref.host != socket.gethostname():
        return False
    if ref.create_time is None:
        return False  # an identity we cannot check is not a match
    created: float = proc.create_time()  # psutil is untyped
    return abs(created - ref.create_time) <= 1.0


def _elsewhere(ref: ProcessRef) -> bool:
    return ref.host is not None and ref.host != socket.gethostname()


def alive(ref: ProcessRef | None) -> bool:
    """Whether the process ``ref`` names is alive (not a zombie) and is still that process.

    A ref without a create time cannot be checked and is not alive (``identify`` can vouch for
    one from its command line). A process recorded on another host cannot be seen from here:
    it counts as alive (a supervisor must not mark a run on another node failed), but is never
    signalled."""
    if ref is None or ref.pid <= 0:
        return False
    if _elsewhere(ref):
        return True
    try:
        proc = psutil.Process(ref.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return _matches(proc, ref)
    except (psutil.ZombieProcess, psutil.NoSuchProcess, psutil.AccessDenied):
        return False  # AccessDenied: someone else's process with this pid


def identify(ref: ProcessRef | None, run_dir: Path, *, written: float | None = None) -> ProcessRef | None:
    """The job process of ``run_dir`` that status.json recorded as ``ref``, when it is alive and
    is that process; None otherwise (gone, or the pid now belongs to an unrelated process).

    A ref with a create time must match it. A ref without one (a status.json written before
    create times were recorded) is vouched for only when the live process's command line names
    the run directory (``... xcost_tui.job RUN_DIR``) and it started before ``written`` (when
    status.json was written): a pid reused by anything else is treated as gone. The answer
    then carries the create time seen now, so it can be signalled safely later."""
    if ref is None or ref.pid <= 0:
        return None
    if _elsewhere(ref):
        return ref
    if ref.create_time is not None:
        return ref if alive(ref) else None
    try:
        proc = psutil.Process(ref.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        created = proc.create_time()
        args = proc.cmdline()[1:]
    except (psutil.Error, ValueError):
        return None
    if written is not None and created > written + 1.0:
        return None  # started after the status was written: not the process it names
    if not any(Path(a).name == run_dir.name for a in args if a):
        return None
    return ProcessRef(ref.pid, created, ref.host or socket.gethostname())


def signal_group(ref: ProcessRef | None, sig: int) -> bool:
    """Sends ``sig`` to the job's process group (the job leads its own session, so pgid == pid),
    falling back to the process alone, but only when the live process with that pid is the one
    ``ref`` recorded: a pid reused by an unrelated process is never signalled. False when
    nothing was signalled."""
    if ref is None:
        return False
    try:
        if not _matches(psutil.Process(ref.pid), ref):
            return False
    except (psutil.Error, ValueError):
        return False
    try:
        os.killpg(ref.pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(ref.pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_process(ref: ProcessRef | None, sig: int) -> bool:
    """Sends ``sig`` to that one process (not its group: a warm worker shares its group with the
    sampler beside its run), only when the live process with that pid is the one ``ref`` recorded."""
    if ref is None:
        return False
    try:
        if not _matches(psutil.Process(ref.pid), ref):
            return False
        os.kill(ref.pid, sig)
        return True
    except (psutil.Error, ValueError, ProcessLookupError, PermissionError):
        return False


def detect_gpus() -> tuple[list[str], str]:
    """The GPUs to hand out, one per run (CUDA_VISIBLE_DEVICES values), and how they were found."""
    try:
        ok, reason = nvml.nvml_available()
    except Exception as exc:  # noqa: BLE001 - a broken driver never stops the supervisor
        return [], f"NVML failed ({type(exc).__name__}: {exc})"
    if not ok:
        return [], f"no GPU: NVML not available ({strip_reason(reason)})"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [x.strip() for x in visible.split(",") if x.strip()]
        return ids, f"{len(ids)} GPU(s) from CUDA_VISIBLE_DEVICES={visible}"
    n = nvml.device_count()
    n = int(n) if n else 0
    return [str(i) for i in range(n)], f"{n} GPU(s) found by NVML"
