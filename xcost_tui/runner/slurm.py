"""Runs as SLURM jobs: submitted through submitit, followed with squeue and sacct, cancelled with scancel.

One run is one SLURM job running ``python -m xcost_tui.job RUN_DIR`` on a compute node
(docs/cluster.md). Its run directory lies on the cluster's shared filesystem; submitit's files
(the batch script, the pickled ``SlurmRun``, its log) go to ``RUN_DIR/slurm/``, the job's own
output to ``RUN_DIR/job.log`` as locally.

- **submit** (``SlurmExecutor.submit``): ``submitit.SlurmExecutor`` writes the batch script from
  the plan's ``[executor]`` table (partition, account, qos, time, ``--gres=gpu:N``, CPUs, memory,
  constraint, extra ``sbatch`` arguments), always with ``--job-name=<run id>``,
  ``--chdir=RUN_DIR``, ``--no-requeue`` (a preempted run ends as failed with SLURM's reason, it
  is not rerun behind the store's back) and, for a run that starts from another run's encoder,
  ``--dependency=afterok:<producer job>`` with ``--kill-on-invalid-dep=yes`` (SLURM cancels it
  when the producer fails, rather than leaving it pending forever).
- **follow** (``query``): one ``squeue`` for the jobs SLURM still holds (state, pending
  reason, node), one ``sacct`` for those it has let go (final state, reason, exit code, elapsed
  time, allocated resources). submitit's own watcher asks sacct for the state only; these two
  calls give the reason and the accounting too, in one call per poll for every run.
- **cancel**: ``scancel`` (submitit's ``SlurmJob.cancel``); a forced cancel is
  ``scancel --signal=KILL --full``.

The parsing (``parse_squeue``, ``parse_sacct``), the command lines (``sbatch_parameters``) and the
state mapping (``JobInfo``, ``describe_end``) are pure and unit-tested (tests/test_slurm_unit.py).
No torch here.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import XcostError
from ..rundir import RunDir, RunStatus

SLURM_FOLDER = "slurm"  # RUN_DIR/slurm/: submitit's batch script, pickles and log

# SLURM job states (squeue(1), sacct(1)) in which the job is still the cluster's business.
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "RESV_DEL_HOLD",
        "SPECIAL_EXIT",
        "STOPPED",
    }
)
# Final states and what a run that did not record its own end becomes.
WHY = {
    "COMPLETED": "the job completed",
    "FAILED": "the job failed",
    "CANCELLED": "the job was cancelled",
    "TIMEOUT": "the job reached its time limit",
    "PREEMPTED": "the job was preempted",
    "NODE_FAIL": "its node failed",
    "OUT_OF_MEMORY": "the job ran out of memory",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "the job reached its deadline",
    "REVOKED": "the job was revoked (federation)",
}


class SlurmError(XcostError):
    """A SLURM command failed (not installed, no controller, a refused submission)."""


# ---- what SLURM says about a job -----------------------------------------------------------------


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ... (the first word)
    reason: str | None = None  # squeue's pending reason, sacct's Reason (None: "None")
    node: str | None = None
    exit_code: str | None = None  # sacct's "code:signal"
    elapsed_s: float | None = None
    start: str | None = None
    end: str | None = None
    alloc_tres: str | None = None  # e.g. "billing=1,cpu=4,gres/gpu=1,mem=16G,node=1"
    detail: str | None = None  # the rest of the state ("by 1000" of "CANCELLED by 1000")
    source: str = "squeue"  # which command said so

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def pending(self) -> bool:
        return self.state == "PENDING"

    @property
    def started(self) -> bool:
        """It ran on a node (sacct has a start time); a pending job cancelled never started."""
        return self.state != "PENDING" and self.start not in (None, "", "None", "Unknown")

    @property
    def killed_by_slurm(self) -> bool:
        from ..rundir.status import EXECUTOR_KILLED

        return self.state in EXECUTOR_KILLED

    @property
    def dependency_never_satisfied(self) -> bool:
        return (self.reason or "").startswith("DependencyNeverSatisfied") or (
            self.state == "CANCELLED" and not self.started and (self.reason or "") == "Dependency"
        )

    @property
    def gpus(self) -> int | None:
        """GPUs allocated to the job (from AllocTRES), None when sacct did not say."""
        if not self.alloc_tres:
            return None
        n = 0
        for part in self.alloc_tres.split(","):
            key, _, value = part.partition("=")
            if key == "gres/gpu" and value.isdigit():
                n += int(value)
        return n

    def accounting(self) -> dict[str, Any]:
        """What status.json keeps of the attempt (``executor_info``)."""
        return {
            "node": self.node,
            "exit_code": self.exit_code,
            "elapsed_s": self.elapsed_s,
            "gpus": self.gpus,
            "alloc_tres": self.alloc_tres,
            "start": self.start,
            "end": self.end,
            "source": self.source,
        }

    def describe(self) -> str:
        """'TIMEOUT: the job reached its time limit (job 12, node n1, exit 0:15, 1m27s)'."""
        bits = [f"job {self.job_id}"]
        if self.node:
            bits.append(f"node {self.node}")
        if self.exit_code and self.exit_code != "0:0":
            bits.append(f"exit {self.exit_code}")
        if self.reason:
            bits.append(f"reason {self.reason}")
        why = WHY.get(self.state, "")
        return f"{self.state}{' ' + self.detail if self.detail else ''}: {why + ' ' if why else ''}({', '.join(bits)})"


def _state(raw: str) -> tuple[str, str | None]:
    word, _, rest = raw.strip().partition(" ")
    return word.upper(), (rest.strip() or None)


def _reason(raw: str | None) -> str | None:
    raw = (raw or "").strip()
    return None if raw in ("", "None", "(null)") else raw


def parse_elapsed(text: str) -> float | None:
    """SLURM's [D-]HH:MM:SS (or MM:SS) as seconds."""
    text = (text or "").strip()
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:\.\d+)?", text)
    if not m:
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + s)


SQUEUE_FORMAT = "%i|%T|%r|%N|%j|%Z"  # job id, state, reason, node, name, working directory


def parse_squeue(text: str) -> dict[str, JobInfo]:
    """``squeue -h -o '%i|%T|%r|%N|%j|%Z'`` output -> job id -> JobInfo."""
    out: dict[str, JobInfo] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2 or not parts[0]:
            continue
        state, detail = _state(parts[1])
        node = parts[3].strip() if len(parts) > 3 and parts[3].strip() else None
        out[parts[0].strip()] = JobInfo(
            parts[0].strip(), state, _reason(parts[2] if len(parts) > 2 else None), node, detail=detail, source="squeue"
        )
    return out


SACCT_FIELDS = ("JobID", "State", "ExitCode", "Reason", "Elapsed", "NodeList", "Start", "End", "AllocTRES")


def parse_sacct(text: str) -> dict[str, JobInfo]:
    """``sacct -n -P -X -o JobID,State,ExitCode,Reason,Elapsed,NodeList,Start,End,AllocTRES``
    output -> job id -> JobInfo (job steps, ``123.batch``, are skipped; the last line of a job
    id wins: a requeued job is listed once per attempt)."""
    out: dict[str, JobInfo] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < len(SACCT_FIELDS) or not parts[0] or "." in parts[0]:
            continue
        row = dict(zip(SACCT_FIELDS, parts))
        state, detail = _state(row["State"])
        node = row["NodeList"].strip()
        out[row["JobID"]] = JobInfo(
            row["JobID"],
            state,
            _reason(row["Reason"]),
            None if node in ("", "None assigned") else node,
            row["ExitCode"] or None,
            parse_elapsed(row["Elapsed"]),
            row["Start"] or None,
            row["End"] or None,
            row["AllocTRES"] or None,
            detail,
            source="sacct",
        )
    return out


def describe_end(
    info: JobInfo,
    *,
    cancel_requested: bool,
    producer: str | None = None,
    depends_on: str | None = None,
    never_started: bool | None = None,
) -> tuple[RunStatus, str]:
    """The final status and error of a run whose SLURM job ended without the run recording its
    own end (or whose end SLURM imposed: a time limit, a preemption, a node failure).
    ``never_started``: the run directory shows the job never ran (no run_start, no pid): sacct's
    start time of a job cancelled while pending is not always empty."""
    what = info.describe()
    not_started = (not info.started) if never_started is None else never_started
    if not cancel_requested and (
        info.dependency_never_satisfied or (depends_on and info.state == "CANCELLED" and not_started)
    ):
        who = (
            f"{producer} "
            if producer
            else (f"the run of job {depends_on} " if depends_on else "the run it depends on ")
        )
        return RunStatus.FAILED, (
            f"not started: it starts from the encoder of {who}which did not succeed, so its "
            f"SLURM dependency can never be satisfied ({what})"
        )
    if info.state == "CANCELLED":
        if not_started:
            return RunStatus.CANCELLED, f"cancelled before it started (SLURM: {what})"
        return RunStatus.CANCELLED, (
            f"cancelled ({'scancel by this supervisor' if cancel_requested else 'scancel'}; SLURM: {what})"
        )
    if info.state == "COMPLETED":
        return RunStatus.FAILED, f"the job ended without a final status (SLURM: {what})"
    return RunStatus.FAILED, f"SLURM: {what}"


# ---- the [executor] settings as sbatch parameters -------------------------------------------------


def parse_sbatch_args(args: Sequence[str]) -> dict[str, Any]:
    """Extra ``sbatch`` arguments (``["--exclusive", "--reservation=gpu", "--mail-type", "END"]``) as
    submitit's ``additional_parameters`` ({"exclusive": True, "reservation": "gpu", ...})."""
    out: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise XcostError(
                f"executor.sbatch_args: {arg!r} is not a long sbatch option (write --name=value or "
                f"--flag; short options such as -N are not accepted)"
            )
        key, eq, value = arg[2:].partition("=")
        if eq:
            out[key] = value
        elif i + 1 < len(items) and not items[i + 1].startswith("--"):
            out[key] = items[i + 1]
            i += 1
        else:
            out[key] = True
        i += 1
    return out


def sbatch_parameters(settings: Any, *, run_id: str, run_dir: Path, depends_on: str | None = None) -> dict[str, Any]:
    """submitit ``SlurmExecutor.update_parameters`` keywords for one run (``settings``: the plan's
    ``ExecutorSettings``). Values submitit would convert (time in minutes, memory in GB) go
    through ``additional_parameters`` as SLURM writes them ("1-00:00:00", "32G")."""
    extra: dict[str, Any] = {"chdir": str(run_dir), "no-requeue": True}
    if settings.time:
        extra["time"] = str(settings.time)
    if settings.mem:
        extra["mem"] = str(settings.mem)
    if depends_on:
        extra["dependency"] = f"afterok:{depends_on}"
        extra["kill-on-invalid-dep"] = "yes"
    extra.update(parse_sbatch_args(settings.sbatch_args or []))
    params: dict[str, Any] = {
        "job_name": run_id,
        "use_srun": False,
        "stderr_to_stdout": True,
        "additional_parameters": extra,
    }
    for key in ("partition", "account", "qos", "constraint"):
        value = getattr(settings, key, None)
        if value:
            params[key] = str(value)
    if settings.gres:
        params["gres"] = str(settings.gres)
    elif settings.gpus_per_run:
        params["gres"] = f"gpu:{int(settings.gpus_per_run)}"
    if settings.cpus_per_run:
        params["cpus_per_task"] = int(settings.cpus_per_run)
    return params


# ---- on the node: what submitit runs ----------------------------------------------------------------


class RunFailed(Exception):
    """The run's job exited non-zero: the SLURM job fails, so ``afterok`` dependants do not start."""


@dataclass
class SlurmRun:
    """The callable submitit pickles and runs on the node: the job's command with its output
    appended to RUN_DIR/job.log. It fails (the SLURM job FAILED) when the job exits non-zero.

    submitit answers its time-out signal (USR2, ``signal_delay_s`` before the limit) by calling
    ``checkpoint``: this one waits for the job to end (SLURM's SIGTERM at the limit stops it, and
    it records its end) and asks for no requeue, so the run ends as SLURM ended it."""

    cmd: list[str]
    run_dir: str
    env: dict[str, str] = field(default_factory=dict)
    _pid: int | None = None

    def __call__(self) -> int:
        env = {**os.environ, **self.env}
        problems = offline_check(Path(self.run_dir), env)
        log_path = RunDir(Path(self.run_dir)).log
        if problems:
            _record_offline_failure(Path(self.run_dir), problems)
            raise RunFailed(problems)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.run_dir,
                close_fds=True,
            )
        self._pid = proc.pid
        while proc.poll() is None:
            time.sleep(0.5)
        if proc.returncode != 0:
            raise RunFailed(f"the run's job exited with {proc.returncode} (its end is in {self.run_dir}/status.json)")
        return 0

    def checkpoint(self, *args: Any, **kwargs: Any) -> None:
        pid = self._pid
        while pid is not None:
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                break
            if info is not None:
                break
            time.sleep(0.5)
        return None


def offline_check(run_dir: Path, env: Mapping[str, str]) -> str | None:
    """With HF_HUB_OFFLINE=1: what the run needs from the hub that ``xcost-tui stage`` has not put
    in the cache (one message naming it and the stage command), else None."""
    from .stage import offline_problems

    try:
        spec = RunDir(run_dir).read_spec()
    except (OSError, ValueError):
        return None
    return offline_problems(spec, env)


def _record_offline_failure(run_dir: Path, message: str) -> None:
    from ..rundir import ProcessRef, update_status

    with open(RunDir(run_dir).log, "a", encoding="utf-8") as log:
        print(f"error: {message}", file=log, flush=True)
    now = time.time()
    update_status(
        run_dir, RunStatus.FAILED, job=ProcessRef.current(), started=now, ended=now, error=message, exit_code=2
    )


# ---- the supervisor's side ------------------------------------------------------------------------


def _run(cmd: list[str], timeout: float = 30.0) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SlurmError(
            f"{cmd[0]} not found: SLURM's commands are not installed on this machine (a login "
            f"node of the cluster has them; docs/cluster.md)"
        ) from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{shlex.join(cmd)} did not answer in {timeout:g} s (is slurmctld up?)") from None
    if out.returncode != 0:
        raise SlurmError(f"{shlex.join(cmd)} failed (exit {out.returncode}): {(out.stderr or out.stdout).strip()}")
    return out.stdout


def available() -> tuple[bool, str]:
    """Whether this machine can submit to SLURM (sbatch found, the controller answers)."""
    if shutil.which("sbatch") is None:
        return False, "sbatch not found (SLURM's client commands are not installed)"
    try:
        _run(["squeue", "-h", "-o", "%i", "-u", getpass.getuser()], timeout=15)
    except SlurmError as exc:
        return False, str(exc)
    return True, "ok"


class SlurmExecutor:
    """Runs as SLURM jobs (see the module doc). ``settings``: the plan's ExecutorSettings."""

    name = "slurm"
    remote = True

    def __init__(self, settings: Any):
        self.settings = settings
        self.poll_s = float(getattr(settings, "poll_s", None) or 2.0)
        self._sacct_ok: bool | None = None

    def describe(self) -> str:
        s = self.settings
        bits = [f"partition {s.partition}" if s.partition else "the default partition"]
        if s.gres or s.gpus_per_run:
            bits.append(f"--gres={s.gres or f'gpu:{s.gpus_per_run}'}")
        if s.cpus_per_run:
            bits.append(f"{s.cpus_per_run} CPUs")
        if s.time:
            bits.append(f"time {s.time}")
        return "SLURM (" + ", ".join(bits) + ")"

    def check(self) -> None:
        ok, why = available()
        if not ok:
            raise SlurmError(f"--executor slurm: {why}")

    def submit(
        self, *, run_id: str, run_dir: Path, cmd: list[str], env: dict[str, str], depends_on: str | None = None
    ) -> str:
        """Submits the run; returns its SLURM job id. Raises SlurmError."""
        try:
            import submitit
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise SlurmError(f"submitit is not installed ({exc}); pip install submitit") from None
        run_dir = Path(run_dir).resolve()
        folder = run_dir / SLURM_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        python = self.settings.python or shlex.quote(sys.executable)
        try:
            ex = submitit.SlurmExecutor(folder=folder, python=python, max_num_timeout=0)
            ex.update_parameters(
                **sbatch_parameters(self.settings, run_id=run_id, run_dir=run_dir, depends_on=depends_on)
            )
            job = ex.submit(SlurmRun(list(cmd), str(run_dir), dict(env)))
        except (subprocess.CalledProcessError, OSError, ValueError, RuntimeError) as exc:
            detail = getattr(exc, "stderr", None) or getattr(exc, "output", None) or exc
            if isinstance(detail, bytes):
                detail = detail.decode(errors="replace")
            raise SlurmError(f"sbatch refused {run_id}: {str(detail).strip()}") from None
        return str(job.job_id)

    def query(self, job_ids: Iterable[str]) -> dict[str, JobInfo]:
        """What SLURM says about these jobs now: squeue for the jobs it holds, sacct for the others.
        A job neither knows is absent from the answer. Raises SlurmError."""
        ids = sorted({str(j) for j in job_ids if j})
        if not ids:
            return {}
        cmd = ["squeue", "-h", "--states=all", "-j", ",".join(ids), "-o", SQUEUE_FORMAT]
        try:
            held = parse_squeue(_run(cmd))
        except SlurmError as exc:
            if "Invalid job id" not in str(exc):
                raise
            held = {}  # every one of them is gone from the controller (older than MinJobAge)
        out = {k: v for k, v in held.items() if v.active}
        gone = [j for j in ids if j not in out]
        if gone and self._sacct_ok is not False:
            try:
                done = parse_sacct(
                    _run(["sacct", "-n", "-P", "-X", "-j", ",".join(gone), "-o", ",".join(SACCT_FIELDS)])
                )
                self._sacct_ok = True
                for j, info in list(done.items()):  # accounting lags the controller by a moment
                    if info.active and j in held and not held[j].active:
                        done[j] = held[j]
            except SlurmError:
                if self._sacct_ok is None:
                    self._sacct_ok = False  # accounting is off: squeue's last word, then the run directory
                done = {}
            out.update(done)
        for j in gone:  # without accounting (or before sacct has it): what the controller still remembers
            if j not in out and j in held:
                out[j] = held[j]
        return out

    def cancel(self, job_id: str, *, force: bool = False) -> None:
        if force:
            _run(["scancel", "--signal=KILL", "--full", str(job_id)])
            _run(["scancel", str(job_id)])
            return
        try:
            import submitit

            submitit.SlurmJob(folder=".", job_id=str(job_id)).cancel(check=True)
        except subprocess.CalledProcessError as exc:
            raise SlurmError(f"scancel {job_id} failed (exit {exc.returncode})") from None

    def find(self, run_id: str, run_dir: Path) -> str | None:
        """The SLURM job of a run whose job id was not recorded (the supervisor stopped between
        sbatch and writing status.json): the newest job id submitit filed in RUN_DIR/slurm/, else
        a job of this user named after the run whose working directory is the run directory."""
        folder = Path(run_dir) / SLURM_FOLDER
        ids = sorted(
            (p.name.split("_", 1)[0] for p in folder.glob("*_submitted.pkl") if p.name.split("_", 1)[0].isdigit()),
            key=int,
        )
        if ids:
            return ids[-1]
        try:
            text = _run(["squeue", "-h", "-u", getpass.getuser(), "-n", run_id, "-o", SQUEUE_FORMAT])
        except SlurmError:
            return None
        want = os.path.abspath(run_dir)
        for line in text.splitlines():
            parts = line.split("|")
            if len(parts) >= 6 and os.path.abspath(parts[5].strip()) == want:
                return parts[0].strip()
        return None
