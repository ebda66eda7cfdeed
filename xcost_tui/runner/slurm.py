"""Runs as SLURM jobs: submitted through submitit, followed with squeue and sacct, cancelled with scancel.

One run is one SLURM job running ``python -m xcost_tui.job RUN_DIR`` on a compute node
(docs/cluster.md). Its run directory lies on the cluster's shared filesystem; submitit's files
(the batch script, the pickled ``SlurmRun``, its log) go to ``RUN_DIR/slurm/``, the job's own
output to ``RUN_DIR/job.log`` as locally.

- **submit** (``SlurmExecutor.submit``): ``submitit.SlurmExecutor`` writes the batch script from
  the plan's ``[executor]`` table (partition, account, qos, time, ``--gres=gpu:N``, CPUs, memory,
  constraint, extra ``sbatch`` arguments), always with ``--job-name=<run id>``,
  ``--chdir=RUN_DIR``, ``--requeue`` (a preempted job is requeued by SLURM; its run continues
  from its resume checkpoint, job/resume.py, or starts again when it has none) and, for a run that starts from another run's encoder,
  ``--dependency=afterok:<producer job>`` with ``--kill-on-invalid-dep=yes`` (SLURM cancels it
  when the producer fails, rather than leaving it pending forever).
- **follow** (``query``): one ``squeue`` for the jobs SLURM still holds (state, pending
  reason, node), one ``sacct`` for those it has let go (final state, reason, exit code, elapsed
  time, allocated resources). submitit's own watcher asks sacct for the state only; these two
  calls give the reason and the accounting too, in one call per poll for every run.
- **cancel** (``scancel``): submitit's ``SlurmJob.cancel``; a forced cancel is
  ``scancel --signal=KILL --full``.

The parsing (``parse_squeue``, ``parse_sacct``), the command lines (``sbatch_parameters``) and the
state mapping (``JobInfo``, ``describe_end``) are pure and unit-tested (runner/slurm_jobs.py,
tests/runner/test_slurm_unit.py). ``SlurmExecutor`` runs the life-cycle of a SLURM run for the scheduler
(start, poll, finish, cancel, adopt: runner/executors.py); ``SlurmRun`` is what runs on the node
(pickled by its import path, ``xcost_tui.runner.slurm.SlurmRun``: a job submitted before an upgrade
still finds it).
No torch here.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RunDirError, WriteError, XcostError
from ..plan import ExecutorSettings
from ..rundir import ProcessRef, RunDir, RunStatus, StatusRecord, read_status, update_status
from ..rundir.cancel import read_cancel_request, request_cancel
from ..rundir.resume import latest as latest_resume
from . import storage
from .claims import Claim
from .live import RUNNING
from .notes import STARTED
from .offline import offline_problems
from .outcome import recorded_end
from .packing import PackMember, pack_command, packs
from .runs import AdoptReason, Run, Supervisor, peek_status
from .slurm_jobs import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    JobInfo,
    accountable,
    describe_end,
    ended_account,
    parse_sacct,
    parse_squeue,
    sbatch_parameters,
)

SLURM = "slurm"
SLURM_FOLDER = "slurm"  # RUN_DIR/slurm/: submitit's batch script, pickles and log
UNKNOWN_AFTER_S = 60.0  # a job SLURM no longer knows, and whose run recorded no end, failed after this

# What the supervisor says as it takes over a job already submitted, by why it does.
ADOPTED = {
    AdoptReason.SUBMITTED: "already submitted",
    AdoptReason.ATTACHED: "re-attached",
    AdoptReason.HOLDER_GONE: "the supervisor that followed it is gone; followed and recorded here now",
    AdoptReason.MEANWHILE: "already submitted by another supervisor meanwhile",
}


class SlurmError(XcostError):
    """A SLURM command failed (not installed, no controller, a refused submission)."""


# ---- on the node: what submitit runs ----------------------------------------------------------------


class RunFailed(Exception):
    """The run's job exited non-zero: the SLURM job fails, so ``afterok`` dependants do not start."""


@dataclass
class SlurmRun:
    """The callable submitit pickles and runs on the node: the job's command with its output
    appended to RUN_DIR/job.log. It fails (the SLURM job FAILED) when the job exits non-zero.

    A packed job (runner/packing.py) runs several runs: ``pack`` lists their run directories in
    order. With ``pack_cmds`` None, ``cmd`` is one warm worker for all of them
    (``python -m xcost_tui.job --runs ...``); otherwise each run's own command runs in turn. Either
    way this driver follows each run's cancel request (rundir/cancel.py: a run in a pack cannot be
    scancelled alone), and a worker killed in the middle of a run is started again for the runs
    after it. The job fails when any of its runs did not succeed.

    submitit answers its time-out signal (USR2, ``signal_delay_s`` before the limit) by calling
    ``checkpoint``: a run with a resume checkpoint is stopped and requeued to continue from it;
    any other waits for the job to end (SLURM's SIGTERM at the limit stops it, and it records its
    end) and asks for no requeue, so the run ends as SLURM ended it."""

    cmd: list[str]
    run_dir: str
    env: dict[str, str] = field(default_factory=dict)
    _pid: int | None = None
    pack: list[str] = field(default_factory=list)
    pack_cmds: list[list[str]] | None = None

    def __call__(self) -> int:
        env = {**os.environ, **self.env}
        if self.pack:
            return self._run_pack(env)
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

    # ---- a packed job ---------------------------------------------------------------------------
    def _run_pack(self, env: dict[str, str]) -> int:
        dirs: list[str] = []
        failed: list[str] = []
        for d in self.pack:
            problems = offline_check(Path(d), env)
            if problems:
                _record_offline_failure(Path(d), problems)
                failed.append(d)
            else:
                dirs.append(d)
        if self.pack_cmds is None:
            failed += self._run_worker(dirs, env)
        else:
            cmds = dict(zip(self.pack, self.pack_cmds, strict=True))
            for d in dirs:
                if not self._run_one(cmds[d], d, env):
                    failed.append(d)
        if failed:
            raise RunFailed(
                f"{len(failed)} of the {len(self.pack)} runs of this packed job did not succeed: {', '.join(failed)}"
            )
        return 0

    def _run_one(self, cmd: list[str], run_dir: str, env: dict[str, str]) -> bool:
        """One run of a pack in its own process, its cancel request answered with SIGTERM (SIGKILL
        when forced or after its grace); True when it succeeded."""
        if read_cancel_request(run_dir) is not None:
            _record_node_end(
                Path(run_dir), RunStatus.CANCELLED, "cancelled before it started (a request in its packed job)", 143
            )
            return False
        with open(RunDir(Path(run_dir)).log, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=run_dir,
                close_fds=True,
            )
        self._pid = proc.pid
        termed = False
        while proc.poll() is None:
            request = read_cancel_request(run_dir)
            if request is not None:
                if request.kill_due():
                    proc.kill()
                elif not termed:
                    proc.terminate()
                    termed = True
            time.sleep(0.5)
        self._pid = None
        if proc.returncode != 0 and not _final(Path(run_dir)):
            _record_node_end(Path(run_dir), *_killed(proc.returncode, run_dir))
        return proc.returncode == 0

    def _run_worker(self, dirs: list[str], env: dict[str, str]) -> list[str]:
        """The pack's runs in one warm worker; a worker killed in the middle of a run (a forced
        cancel, a crash) is started again for the runs after it. Returns the runs that failed."""
        prefix = self.cmd[: self.cmd.index("--runs") + 1] if "--runs" in self.cmd else list(self.cmd)
        failed: list[str] = []
        remaining = list(dirs)
        while remaining:
            log_path = Path(remaining[0]) / SLURM_FOLDER / "worker.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(
                    [*prefix, *remaining],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=remaining[0],
                    close_fds=True,
                )
            self._pid = proc.pid
            woken: set[str] = set()
            while proc.poll() is None:
                current = next((d for d in remaining if _running(Path(d))), None)
                request = read_cancel_request(current) if current else None
                if current and request is not None:
                    if request.kill_due():
                        proc.kill()
                    elif current not in woken:
                        woken.add(current)
                        _signal(proc.pid, signal.SIGUSR1)  # the worker cancels that run alone
                time.sleep(0.5)
            self._pid = None
            left = [d for d in remaining if not _final(Path(d))]
            failed += [d for d in remaining if d not in left and _status(Path(d)) != RunStatus.SUCCEEDED]
            if not left or proc.returncode == 0:
                failed += left
                break
            # the worker died: the run it was in ends here, the rest go to a new worker
            victim = next((d for d in left if _running(Path(d))), None)
            if victim is not None:
                _record_node_end(Path(victim), *_killed(proc.returncode, victim))
                failed.append(victim)
                left.remove(victim)
            elif left:
                failed.append(left[0])
                _record_node_end(
                    Path(left[0]),
                    RunStatus.FAILED,
                    f"its worker exited with {proc.returncode} before it",
                    proc.returncode,
                )
                left = left[1:]
            remaining = left
        return failed

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """submitit's time-out signal. A run that has written a resume checkpoint (a long training
        phase: job/resume.py) is stopped now, while there is time (SIGTERM: it writes a checkpoint
        where it is), and the job is requeued (submitit's DelayedSubmission, at most its
        ``max_num_timeout`` times): the same run continues from it in the same run directory, its
        status ``running`` meanwhile. Any other run is waited for, and not requeued."""
        pid = self._pid
        run_dir = Path(self.run_dir)
        resumable = not self.pack and pid is not None and latest_resume(run_dir) is not None
        if resumable and pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self._wait(pid)
        if resumable and latest_resume(run_dir) is not None and _status(run_dir) != RunStatus.SUCCEEDED:
            update_status(
                run_dir,
                RunStatus.RUNNING,
                job=None,
                ended=None,
                error=None,
                exit_code=None,
                executor_state="REQUEUED",
                executor_reason="time limit: requeued to continue from its resume checkpoint",
            )
            # deferred: submitit is imported where a SLURM job is submitted or runs (start-up cost)
            import submitit

            return submitit.helpers.DelayedSubmission(self)
        return None

    @staticmethod
    def _wait(pid: int | None) -> None:
        while pid is not None:
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                break
            if info is not None:
                break
            time.sleep(0.5)
        return None


def _status(run_dir: Path) -> RunStatus | None:
    try:
        status = read_status(run_dir)
    except (RunDirError, OSError):
        return None
    return status.status if status is not None else None


def _final(run_dir: Path) -> bool:
    status = _status(run_dir)
    return status is not None and status.final


def _running(run_dir: Path) -> bool:
    """The run has started on the node (its job wrote its own running status with its process)."""
    try:
        status = read_status(run_dir)
    except (RunDirError, OSError):
        return False
    return status is not None and status.status == RunStatus.RUNNING and status.job is not None


def _killed(returncode: int, run_dir: str) -> tuple[RunStatus, str, int]:
    asked = read_cancel_request(run_dir) is not None
    how = f"killed by signal {-returncode}" if returncode < 0 else f"exited with {returncode}"
    if asked:
        return RunStatus.CANCELLED, f"cancelled (a request in its packed job; its process {how})", returncode
    return RunStatus.FAILED, f"its process {how} without recording an end", returncode


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _record_node_end(run_dir: Path, status: RunStatus, message: str, exit_code: int) -> None:
    """The end of a run of a pack that its process did not record, written on the node (the run
    directory is the job's from submission on)."""
    with open(RunDir(run_dir).log, "a", encoding="utf-8") as log:
        print(f"error: {message}", file=log, flush=True)
    now = time.time()
    update_status(run_dir, status, ended=now, error=message, exit_code=exit_code)


def offline_check(run_dir: Path, env: Mapping[str, str]) -> str | None:
    """With HF_HUB_OFFLINE=1: what the run needs from the hub that ``xcost-tui stage`` has not put
    in the cache (one message naming it and the stage command), else None."""
    try:
        spec = RunDir(run_dir).read_spec()
    except (OSError, ValueError):
        return None
    return offline_problems(spec, env)


def _record_offline_failure(run_dir: Path, message: str) -> None:
    """The job's own end, written on the node for a job that never started (the job's write, not
    the supervisor's: the run directory is the job's from here)."""
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


@dataclass
class _Staged:
    """A run ``start`` holds until ``flush`` submits it (alone or packed)."""

    run: Run
    cmd: list[str]
    env: dict[str, str]
    started: float


class SlurmExecutor:
    """Runs as SLURM jobs (see the module doc). ``settings``: the plan's ExecutorSettings."""

    name = SLURM
    remote = True

    def __init__(self, settings: ExecutorSettings):
        self.settings = settings
        self.poll_s = float(settings.poll_s or 2.0)
        self._sacct_ok: bool | None = None
        self._polled = 0.0  # when squeue/sacct were last asked (monotonic)
        self.runs_per_job = int(getattr(settings, "runs_per_job", 1) or 1)
        self._staged: list[_Staged] = []  # started runs waiting for flush (the control thread's)

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
        self,
        *,
        run_id: str,
        run_dir: Path,
        cmd: list[str],
        env: dict[str, str],
        depends_on: str | None = None,
        pack: list[str] | None = None,
        pack_cmds: list[list[str]] | None = None,
    ) -> str:
        """Submits the run (``pack``: the run directories of a packed job, ``run_dir`` the first;
        ``SlurmRun``); returns its SLURM job id. Raises SlurmError."""
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
            job = ex.submit(SlurmRun(list(cmd), str(run_dir), dict(env), pack=list(pack or []), pack_cmds=pack_cmds))
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

    def scancel(self, job_id: str, *, force: bool = False) -> None:
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

    # ---- the life-cycle of a run (runner/executors.py) -------------------------------------------
    def start(
        self,
        sup: Supervisor,
        run: Run,
        command: Callable[[Path], list[str]],
        env: dict[str, str],
        started: float,
    ) -> None:
        """A claimed run whose run directory is written (outside the lock): held for ``flush``,
        which packs the runs launched together (runner/packing.py) and submits them; submitted at
        once with ``runs_per_job = 1``."""
        job_env = {k: v for k, v in env.items() if os.environ.get(k) != v}  # sbatch exports the rest
        staged = _Staged(run, command(run.run_dir), job_env, started)
        if self.runs_per_job <= 1:
            self._submit_pack(sup, [staged])
        else:
            self._staged.append(staged)

    def flush(self, sup: Supervisor) -> None:
        """Submits the runs ``start`` held, packed (the scheduler calls it after a round of launches)."""
        staged, self._staged = self._staged, []
        if not staged:
            return
        by_id = {s.run.live.run_id: s for s in staged}
        members = [
            PackMember(s.run.live.run_id, s.run.spec, s.run.depends_on) for s in staged if s.run.spec is not None
        ]
        for pack in packs(members, self.runs_per_job):
            self._submit_pack(sup, [by_id[m.run_id] for m in pack])

    def _submit_pack(self, sup: Supervisor, items: list[_Staged]) -> None:
        """One SLURM job for ``items`` (one run, or a pack run in turn by one worker); its job id
        goes into each run's status.json. sbatch's refusal fails each run with SLURM's message."""
        first = items[0]
        cmds = [s.cmd for s in items]
        pack: list[str] | None = None
        pack_cmds: list[list[str]] | None = None
        cmd = cmds[0]
        if len(items) > 1:
            pack = [str(Path(s.run.run_dir).resolve()) for s in items]
            worker = pack_command(cmds)
            cmd, pack_cmds = (worker, None) if worker is not None else (cmds[0], cmds)
        try:
            job_id = self.submit(
                run_id=first.run.live.run_id,
                run_dir=first.run.run_dir,
                cmd=cmd,
                env=first.env,
                depends_on=first.run.depends_on,
                pack=pack,
                pack_cmds=pack_cmds,
            )
        except SlurmError as exc:
            for s in items:
                sup.start_failed(s.run, s.started, f"could not submit the job: {exc}")
            return
        for s in items:
            self._submitted(sup, s.run, job_id, s.started, len(items))
        sup.wake()

    def _submitted(self, sup: Supervisor, run: Run, job_id: str, started: float, packed: int) -> None:
        live, run_dir, run_id = run.live, run.run_dir, run.live.run_id
        try:
            storage.amend(run_dir, RUNNING, executor_job_id=job_id)
        except WriteError as exc:
            with sup.lock:
                sup.storage_failed(exc)
        with sup.lock:
            run.job_id, run.starting, run.process, run.popen = job_id, False, None, None
            live.status, live.started, live.ended, live.error, live.pid = RUNNING, started, None, None, None
            live.exit_code, live.cancelling, live.skipped = None, run.cancel_requested, False
            live.executor, live.job_id, live.executor_state, live.depends_on = SLURM, job_id, "PENDING", run.depends_on
            run.unknown_since = None
            extra = f", one of {packed} runs of the job (one worker)" if packed > 1 else ""
            extra += f" after job {run.depends_on} (afterok)" if run.depends_on else ""
            start_from = live.init_target_from or live.init_from
            extra += f", starting from {start_from}" if start_from else ""
            sup.note(f"{live.label}: submitted to SLURM (job {job_id}{extra})", run_id, topic=STARTED)
            self.cancel(sup, run, time.monotonic())
            sup.changed()

    def refresh(self, sup: Supervisor, job_ids: set[str]) -> None:
        """Asks SLURM about the jobs of the runs the scheduler follows (one squeue, one sacct), at
        most every ``poll_s``; outside the lock (a slow controller never blocks ``snapshot``)."""
        now = time.monotonic()
        if now - self._polled < self.poll_s:
            return
        self._polled = now
        try:
            infos = self.query(job_ids)
        except SlurmError as exc:
            with sup.lock:
                sup.loop_error(exc)
            return
        with sup.lock:
            for run in sup.all_runs():
                if run.job_id in job_ids:
                    info = infos.get(run.job_id)
                    run.remote_info = info
                    if info is None:
                        run.unknown_since = run.unknown_since or time.monotonic()
                    else:
                        run.unknown_since = None
                        live = run.live
                        live.executor_state, live.executor_reason = info.state, info.reason
                        live.node = info.node or live.node

    def poll(self, sup: Supervisor, run: Run, now: float) -> None:
        """A submitted run, by what SLURM said at the last refresh: its end once SLURM is done with
        the job (or has forgotten it for a minute), what a cancel still owes it, and the cancel of
        a job whose dependency can never be satisfied."""
        live = run.live
        run.tracker.poll()
        info = run.remote_info
        if run.claim is None:  # followed for another supervisor: it records the end
            return
        if info is not None and info.pending and info.dependency_never_satisfied and not run.dependency_dead:
            run.dependency_dead = True  # SLURM would leave it pending forever: cancel it, and say why
            self._scancel_run(sup, run)
        self.cancel(sup, run, now)
        if info is not None and not info.active:
            self.finish(sup, run)
        elif info is not None and self._packed(sup, run) and self._own_end(sup, run):
            return
        elif info is None and run.unknown_since is not None and now - run.unknown_since > UNKNOWN_AFTER_S:
            status = sup.read_status(live.run_dir)
            if status is not None and status.status.final:
                run.load(status)
            else:
                error = f"SLURM no longer knows job {run.job_id} and the run recorded no end"
                sup.record_end(run, RunStatus.FAILED, ended=time.time(), error=error)
                live.status, live.ended, live.error = RunStatus.FAILED, time.time(), error
                sup.warn(f"{live.label}: {error}", live.run_id)
            sup.finished(run)

    def finish(self, sup: Supervisor, run: Run) -> None:
        """SLURM says the job is over: the run's end is the job's own, unless SLURM ended it
        (time limit, preemption, node failure: SLURM's reason wins) or it recorded none."""
        info = run.remote_info
        assert info is not None  # finished only on SLURM's word
        live = run.live
        run.tracker.poll()
        status = sup.read_status(live.run_dir)
        producer = sup.find_run(live.waiting_for or "")
        account = dict(executor_state=info.state, executor_reason=info.reason, executor_info=info.accounting())
        own = recorded_end(status)
        if status is not None and own is not None and not info.killed_by_slurm:
            final, error, ended = own, status.error, status.ended
            try:
                storage.amend(live.run_dir, final, **account)
            except WriteError as exc:
                sup.storage_failed(exc)
        else:
            never_started = run.tracker.fold.state.run_start is None and (status is None or status.job is None)
            final, error = describe_end(
                info,
                cancel_requested=run.cancel_requested,
                producer=producer.live.label if producer else None,
                depends_on=run.depends_on,
                never_started=never_started,
            )
            if status is not None and status.status.final and status.error:
                error += f"; the job recorded: {status.status} ({status.error})"
            ended = (status.ended if status is not None and status.status.final else None) or time.time()
            sup.record_end(run, final, ended=ended, error=error, **account)
            if info.killed_by_slurm or final == RunStatus.FAILED:
                sup.warn(f"{live.label}: {error}", live.run_id)
        live.status, live.error, live.ended = final, error, ended or time.time()
        live.executor_state, live.executor_reason = info.state, info.reason
        live.cancelling = False
        self._amend_pack(sup, run, account)
        sup.finished(run)

    def _amend_pack(self, sup: Supervisor, run: Run, account: dict[str, Any]) -> None:
        """The runs of ``run``'s pack that ended while their job went on (``_own_end``) learn how
        the job ended too: SLURM's state and accounting are the job's, shared by its runs."""
        for other in sup.all_runs():
            if other is run or other.job_id != run.job_id or not other.live.done:
                continue
            recorded = peek_status(other.run_dir)
            if recorded is None or recorded.executor_state is not None:
                continue  # its end was SLURM's word already (finish), or it has no record to amend
            try:
                storage.amend(other.live.run_dir, other.live.status, **account)
            except WriteError as exc:
                sup.storage_failed(exc)
                return
            other.live.executor_state, other.live.executor_reason = (
                account["executor_state"],
                account["executor_reason"],
            )

    def cancel(self, sup: Supervisor, run: Run, now: float) -> None:
        """A requested cancel: ``scancel``, once (SLURM sends SIGTERM, then SIGKILL after its
        KillWait); a forced one after it: ``scancel --signal=KILL``."""
        if run.cancel_requested:
            self._scancel_run(sup, run)

    def _packed(self, sup: Supervisor, run: Run) -> bool:
        """Whether other runs of its SLURM job (a pack) are still to end: then neither its end nor a
        cancel is the job's."""
        return any(r is not run and r.job_id == run.job_id and not r.live.done for r in sup.all_runs())

    def _own_end(self, sup: Supervisor, run: Run) -> bool:
        """A run of a pack whose job goes on: over once its own status.json says so."""
        status = peek_status(run.run_dir)
        own = recorded_end(status)
        if status is None or own is None:
            return False
        live = run.live
        run.tracker.poll()
        live.status, live.error, live.ended = own, status.error, status.ended or time.time()
        live.exit_code, live.cancelling = status.exit_code, False
        sup.finished(run)
        return True

    def _request_cancel(self, sup: Supervisor, run: Run) -> None:
        """A run of a pack: a request its job's driver reads (rundir/cancel.py), not a scancel that
        would end the job's other runs; one not reached yet ends here and now."""
        if run.term_sent and (not run.force or run.sigkill_sent):
            return
        run.term_sent = True
        run.sigkill_sent = run.sigkill_sent or run.force
        live = run.live
        try:
            request_cancel(run.run_dir, force=run.force, grace_s=sup.grace_s)
        except WriteError as exc:
            sup.storage_failed(exc)
            return
        info = run.remote_info
        if (info is None or info.pending) and run.tracker.fold.state.run_start is None:
            error = f"cancelled before it started (a request to its packed SLURM job {run.job_id})"
            sup.record_end(run, RunStatus.CANCELLED, ended=time.time(), error=error, exit_code=None)
            live.status, live.ended, live.error, live.cancelling = RunStatus.CANCELLED, time.time(), error, False
            sup.note(f"{live.label}: {error}", live.run_id)
            sup.finished(run)
            return
        how = "at once" if run.force else f"SIGKILL after {sup.grace_s:g} s"
        sup.note(
            f"{live.label}: cancelling (a request to its packed SLURM job {run.job_id}, {how}; the job's other runs go on)",
            live.run_id,
        )

    def _scancel_run(self, sup: Supervisor, run: Run) -> None:
        if self._packed(sup, run) and not run.dependency_dead:
            self._request_cancel(sup, run)
            return
        if run.term_sent and (not run.force or run.sigkill_sent):
            return
        force = run.force and run.term_sent
        run.term_sent = True
        run.sigkill_sent = run.sigkill_sent or run.force
        try:
            self.scancel(str(run.job_id), force=force or run.force)
        except SlurmError as exc:
            sup.warn(f"{run.live.label}: {exc}", run.live.run_id)
            return
        how = "scancel --signal=KILL" if run.force else "scancel"
        sup.note(f"{run.live.label}: cancelling SLURM job {run.job_id} ({how})", run.live.run_id)

    def account_ended(self, run_dir: Path) -> StatusRecord | None:
        """SLURM's account of an attempt whose job ended while no supervisor followed it (scancelled,
        out of time, while none ran): the job recorded its end, nobody asked sacct. Its state,
        reason and accounting (exit code, elapsed, node, resources) are added to status.json as
        ``finish`` adds them (SLURM's own end wins, ``describe_end``), before a rerun archives the
        attempt. The caller holds the run's claim. None when there is nothing to add (not a SLURM
        attempt, already accounted for, still running, or SLURM does not know the job). Raises
        SlurmError, WriteError."""
        status = peek_status(run_dir)
        if status is None or not accountable(status):
            return None
        job_id = str(status.executor_job_id)
        info = self.query([job_id]).get(job_id)
        if info is None or info.active:
            return None
        final, changes = ended_account(status, info)
        return update_status(run_dir, final, **changes)

    def adopt(self, sup: Supervisor, run: Run, status: StatusRecord, claim: Claim, why: AdoptReason) -> bool:
        """A run status.json says was handed to SLURM: adopt its job (asking SLURM, never a pid
        table) or, SLURM done with it, record its end. False when no job of it can be found."""
        live = run.live
        job_id = status.executor_job_id or self.find(live.run_id, run.run_dir)
        if job_id is None:
            return False
        if status.executor_job_id is None:
            try:
                storage.amend(run.run_dir, RUNNING, executor_job_id=job_id)
            except WriteError as exc:
                sup.storage_failed(exc)
        live.status, live.attached, live.elsewhere = RUNNING, True, False
        live.started, live.gpu, live.pid = status.started, status.gpu, status.pid
        live.executor, live.job_id, live.node = SLURM, job_id, status.job.host if status.job else None
        run.job_id, run.claim, run.elsewhere, run.popen, run.process = job_id, claim, False, None, None
        run.unknown_since = None
        try:
            claim.reserve()
        except WriteError as exc:
            sup.storage_failed(exc)
        run.tracker.poll()
        try:
            info = self.query([job_id]).get(job_id)
        except SlurmError as exc:
            info = None
            sup.warn(f"{live.label}: {exc}; asked again later", live.run_id)
        run.remote_info = info
        if info is not None:
            live.executor_state, live.executor_reason = info.state, info.reason
        sup.note(
            f"{live.label}: {ADOPTED[why]} (SLURM job {job_id}"
            f"{', ' + info.state if info is not None else ''}); not submitted again",
            live.run_id,
        )
        if info is not None and not info.active:
            self.finish(sup, run)
        return True
