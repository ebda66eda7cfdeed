"""The scheduler: a queue of runs, each executed as its own process, on device slots.

Process model (docs/runner.md):

- A run is launched only by the supervisor holding its claim (runner/claims.py: a flock on
  ``STORE/locks/<run_id>.lock``), taken before anything in the run directory is archived or
  written. A supervisor that cannot take it follows the run as running elsewhere (tails its
  events, waits for its end) and never writes it.
- Each run gets ``<store>/runs/<run_id>/``; the scheduler writes spec.json and a ``running``
  status.json, then spawns ``python -m xcost_tui.job RUN_DIR`` with a list argv (never a shell),
  stdin from /dev/null, stdout/stderr appended to job.log, in its own session
  (``start_new_session``: a closed terminal or dropped SSH does not reach it), with
  ``PYTHONUNBUFFERED=1`` and, on a GPU machine, ``CUDA_VISIBLE_DEVICES`` naming its GPU.
- The job owns status.json from its first line on; the scheduler writes it only before the job
  starts (``running``, no pid yet), to add the pid right after the spawn when the job has not
  yet, and after the job has exited without a final status (``failed``, or ``cancelled`` when
  we cancelled it), never while the job may be writing its own.
- Processes are known by ``ProcessRef`` (pid + create time + host): a pid reused by an
  unrelated process is never adopted as a job, nor signalled.
- A control thread polls the jobs (exit codes, events.jsonl), picks queued runs for free slots
  (the launch itself runs outside the lock, so a slow disk never blocks ``snapshot``), delivers
  cancels (SIGTERM to the process group, SIGKILL after ``grace_s``; a cancel that comes before
  the pid is known is delivered right after the spawn) and wires shared intermediate phases
  (runner/shared.py). The sampler runs beside each job (runner/sampler.py: the job starts it), so
  the supervisor only reads samples.jsonl; an ingest thread (runner/ingestor.py) loads the runs
  into the store.
- Where a run executes is its executor (runner/executors.py): ``local`` subprocesses, or ``slurm``
  jobs (runner/slurm.py), whose liveness is SLURM's word (squeue/sacct), never a pid.
- A write the store refuses (a full or read-only disk) is said once, as an error note; no
  further run is started, the runs already running go on and record their own end.

Nothing here imports torch, transformers or datasets.
"""

from __future__ import annotations

import copy
import errno
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..errors import RunDirError, WriteError
from ..rundir import (
    ProcessRef,
    RunDir,
    RunStatus,
    StatusRecord,
    StoreLayout,
    read_status,
    update_status,
    write_json_atomic,
)
from ..rundir.jsonl import write_error
from ..spec import RunSpec
from . import procs, shared
from .claims import Claim, Claims, describe_holder
from .executors import SLURM, UNLIMITED, Executor, LocalExecutor, cpu_share, make_executor, share_env
from .ingestor import Ingestor
from .live import HISTORY_LEN, QUEUED, RUNNING, WAITING, LiveRun, RunHistory, RunTracker
from .notes import STARTED, Note
from .sampler import HZ_ENV, NVML_ENV

if TYPE_CHECKING:
    from .slurm import JobInfo, SlurmExecutor

DISAPPEARED = "job process disappeared (killed?)"
JOB_WRITE_FAILED = 3  # the job's exit code when it could not record its end (job/main.py)
NOT_STARTED_STORAGE = "not started: the store could not be written (see the error above)"
_FULL = (errno.ENOSPC, errno.EDQUOT)
_STORAGE = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
_MALFORMED = "malformed"

# What is on disk of a run's attempt, to notice that another supervisor ran it meanwhile:
# (status, updated) of status.json, None without one, "malformed" for one that does not parse.
Attempt = tuple[str, float | None] | str | None


@dataclass
class _Run:
    tracker: RunTracker
    spec: RunSpec | None = None  # None for a run found on disk that this scheduler did not queue
    popen: subprocess.Popen[bytes] | None = None
    process: ProcessRef | None = None  # the job process, once known (pid + create time + host)
    claim: Claim | None = None  # held while this supervisor launches and follows the run
    elsewhere: bool = False  # another supervisor holds the claim: followed here, never written
    following: bool = False  # (elsewhere) the attempt being followed has been seen running
    followed_started: float | None = None
    starting: bool = False  # picked for launch (still shown as queued); the launch runs outside the lock
    seen: Attempt = None  # the attempt on disk when this supervisor queued or found the run
    cancel_requested: bool = False
    force: bool = False
    term_sent: bool = False
    kill_at: float | None = None
    sigkill_sent: bool = False
    queued_at: float = field(default_factory=time.time)
    # SLURM (remote executor): the job id once submitted, the producer's job it waits for, what
    # SLURM said at the last poll, and when SLURM stopped knowing it.
    job_id: str | None = None
    depends_on: str | None = None
    remote_info: object | None = None
    unknown_since: float | None = None
    cpu_share: dict[str, int] | None = None  # the CPU share given to a local job at its launch
    dependency_dead: bool = False  # SLURM says its afterok can never be satisfied: cancelled for that

    @property
    def live(self) -> LiveRun:
        return self.tracker.live

    @property
    def run_dir(self) -> Path:
        return self.tracker.live.run_dir


class Scheduler:
    """Runs RunSpecs as subprocesses; thread-safe; the live API of the app and the headless mode.

    ``job_command(run_dir) -> argv`` replaces ``python -m xcost_tui.job RUN_DIR`` (tests).
    ``gpus``: None detects them (NVML, respecting CUDA_VISIBLE_DEVICES); an int fakes that many;
    a list gives the CUDA_VISIBLE_DEVICES values to hand out. ``max_parallel`` defaults to one
    run per GPU, and one at a time without a GPU. ``data_dir`` is given to submitted specs that
    name none (it is not part of the run id).
    """

    def __init__(
        self,
        store_root: Path | str,
        *,
        max_parallel: int | None = None,
        gpus: int | Sequence[str | int] | None = None,
        job_command: Callable[[Path], list[str]] | None = None,
        grace_s: float = 10.0,
        sample_hz: float = 2.0,
        poll_s: float = 0.2,
        ingest: bool = True,
        ingest_every_s: float = 5.0,
        rerun: bool = False,
        env: dict[str, str] | None = None,
        history_len: int = HISTORY_LEN,
        use_nvml: bool = True,
        data_dir: str | os.PathLike[str] | None = None,
        executor: object | None = None,
    ):
        # an executor given as such (anything with ``remote``), else built from the plan's settings
        self.executor: Executor = cast("Executor", executor) if hasattr(executor, "remote") else make_executor(executor)
        remote = bool(self.executor.remote)
        # A remote job reads its run directory on another node: the paths it is given are absolute.
        self.store_root = Path(store_root).resolve() if remote else Path(store_root)
        self.layout = StoreLayout(self.store_root)
        self.data_dir = str(Path(data_dir).expanduser().resolve()) if data_dir else None
        self.runs_root = self.layout.runs
        self.gpu_ids: list[str]  # the CUDA_VISIBLE_DEVICES values handed out, one per run
        if remote:
            self.gpu_ids, self.gpu_source = [], self.executor.describe()
        elif gpus is None:
            self.gpu_ids, self.gpu_source = procs.detect_gpus() if use_nvml else ([], "NVML turned off")
        elif isinstance(gpus, int):
            self.gpu_ids, self.gpu_source = [str(i) for i in range(gpus)], f"{gpus} GPU(s) (given)"
        else:
            self.gpu_ids, self.gpu_source = [str(g) for g in gpus], f"GPUs {','.join(map(str, gpus))} (given)"
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        # SLURM schedules the runs it is given: every run is submitted unless --max-parallel says otherwise.
        self.max_parallel = max_parallel or (UNLIMITED if remote else max(1, len(self.gpu_ids)))
        self.job_command = job_command or procs.default_job_command
        self.sample_hz = float(sample_hz)
        if self.sample_hz <= 0:
            raise ValueError("the sampling rate must be > 0 Hz")
        self.use_nvml = use_nvml
        # made on demand to re-attach SLURM runs; a remote executor is the SLURM one
        self._slurm: SlurmExecutor | None = cast("SlurmExecutor", self.executor) if remote else None
        self._remote_polled = 0.0
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.rerun = rerun
        self.extra_env = dict(env or {})
        self.history_len = history_len
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._runs: dict[str, _Run] = {}  # insertion order is queue order
        self._messages: deque[Note] = deque(maxlen=1000)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._accepting = True
        self._claims = Claims(self.store_root)
        self._halted = False  # a store write failed: no run is started until the next submit
        self._storage_error: str | None = None
        self._last_loop_error: str | None = None
        self._ingestor = (
            Ingestor(self.store_root, ingest_every_s, self._active_dirs, self._add_note) if ingest else None
        )

    # ==== the public API ==========================================================================
    def submit(self, specs: Iterable[RunSpec], *, rerun: bool | None = None) -> list[LiveRun]:
        """Queues runs (copies of the specs). A run that already succeeded is skipped (unless
        ``rerun``); one that is running (here or under another supervisor) is followed, not
        started twice."""
        rerun = self.rerun if rerun is None else rerun
        added: list[_Run] = []
        with self._lock:
            if not self._accepting:
                raise RuntimeError("the scheduler is shutting down")
            self._halted = False  # after a storage error, a new submit tries again
            for spec in specs:
                spec = copy.deepcopy(spec)
                if self.data_dir and not spec.data_dir:
                    spec.data_dir = self.data_dir
                run_id = spec.run_id()
                existing = self._runs.get(run_id)
                if existing is not None and not existing.live.done:
                    self._note(f"{run_id}: already in the queue", run_id)
                    continue
                run_dir = self.layout.run_dir(run_id).path
                run = _Run(tracker=RunTracker(LiveRun.from_spec(spec, run_dir), self.history_len), spec=spec)
                self._runs[run_id] = run
                added.append(run)
                try:
                    status = read_status(run_dir)
                except RunDirError as exc:
                    status = None
                    self._warn(f"{run_id}: {exc}; the run directory is archived and the run started afresh", run_id)
                if status is not None and status.status == RUNNING:
                    self._attach_running(run, status, requeue=True)
                elif status is not None and status.status == RunStatus.SUCCEEDED and not rerun:
                    self._load_finished(run, status)
                    run.live.skipped = True
                run.seen = _attempt_on_disk(run_dir)
            self._wire_shared()
            self._changed.notify_all()
        self._wake.set()
        return [r.live.copy() for r in added]

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="xcost-scheduler", daemon=True)
            self._thread.start()
        if self.executor.remote:
            at_once = (
                "every run submitted"
                if self.max_parallel >= UNLIMITED
                else f"up to {self.max_parallel} run(s) submitted at once"
            )
            self._note(f"executor: {self.gpu_source}; {at_once}")
        elif self.gpu_ids:
            self._note(f"devices: {self.gpu_source}; up to {self.max_parallel} run(s) at once")
        else:  # the sampler beside each job says in its log why there is no GPU
            self._note(f"devices: CPU only; up to {self.max_parallel} run(s) at once")
        if self._ingestor is not None:
            self._ingestor.start()

    def snapshot(self) -> list[LiveRun]:
        """Copies of every run's live state, in queue order."""
        with self._lock:
            return [r.live.copy() for r in self._runs.values()]

    def get(self, run_id: str) -> LiveRun | None:
        with self._lock:
            run = self._runs.get(run_id)
            return run.live.copy() if run else None

    def history(self, run_id: str) -> RunHistory:
        with self._lock:
            run = self._runs.get(run_id)
            return run.tracker.history() if run else RunHistory()

    def drain_messages(self) -> list[Note]:
        """Notes since the last call: devices, shared phases, attaches, cancels, store errors."""
        with self._lock:
            out = list(self._messages)
            self._messages.clear()
            return out

    @property
    def storage_error(self) -> str | None:
        """The first store write that failed ("no space left on <path>", "read-only: <path>")."""
        return self._storage_error

    def cancel(self, run_id: str, *, force: bool = False) -> bool:
        """Cancels a queued run (it never starts) or a running one (SIGTERM to its process group,
        SIGKILL after the grace period, or at once with ``force``; a run still starting gets it
        right after its spawn). False when the run is unknown or already over."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.live.done:
                return False
            live = run.live
            if live.status in (QUEUED, WAITING) and not run.elsewhere and not run.starting:
                live.status, live.ended, live.error = RunStatus.CANCELLED, time.time(), "cancelled before it started"
                self._changed.notify_all()
            else:  # running, starting (delivered after the spawn) or followed (once its pid is known)
                run.cancel_requested = True
                run.force = run.force or force
                live.cancelling = True
                self._deliver_cancel(run, time.monotonic())
        self._wake.set()
        return True

    def cancel_all(self, *, force: bool = False) -> None:
        for live in self.snapshot():
            if not live.done:
                self.cancel(live.run_id, force=force)

    def interrupt(self, *, force: bool = False) -> None:
        """Stops the queue: queued runs are dropped, the runs this supervisor runs are cancelled
        (``force``: SIGKILL at once), runs followed for another supervisor are left to it.
        Never blocks; ``wait`` (or ``idle``) says when every run is over. Idempotent."""
        with self._lock:
            self._accepting = False
            for run_id, run in list(self._runs.items()):
                live = run.live
                if live.done:
                    continue
                if run.elsewhere:
                    self._stop_following(run_id)
                elif live.status in (QUEUED, WAITING) and not run.starting:
                    live.status, live.ended, live.error = (
                        RunStatus.CANCELLED,
                        time.time(),
                        "cancelled before it started",
                    )
                else:
                    run.cancel_requested = True
                    run.force = run.force or force
                    live.cancelling = True
                    self._deliver_cancel(run, time.monotonic())
            self._changed.notify_all()
        self._wake.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until every run is over; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while not all(r.live.done for r in self._runs.values()):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(0.5 if left is None else min(0.5, left))
        return True

    @property
    def idle(self) -> bool:
        with self._lock:
            return all(r.live.done for r in self._runs.values())

    def shutdown(self, cancel_running: bool = True, timeout: float | None = None) -> None:
        """Stops the scheduler. ``cancel_running``: cancel and wait for every run it runs;
        otherwise runs already running keep running on their own (a later supervisor re-attaches
        them) and queued runs are dropped. Its claims are released; ends with a last ingest."""
        if cancel_running:
            self.interrupt()
            if self._thread is not None:
                self.wait(timeout if timeout is not None else self.grace_s + 30)
            else:  # never started: nothing polls, so reap here
                with self._lock:
                    self._step()
        else:
            with self._lock:
                self._accepting = False
                for run_id, run in list(self._runs.items()):
                    if run.elsewhere and not run.live.done:
                        self._stop_following(run_id)
                    elif run.live.status in (QUEUED, WAITING) and not run.starting:  # a starting one will run
                        live = run.live
                        live.status, live.ended = RunStatus.CANCELLED, time.time()
                        live.error = "not started: the supervisor stopped"
                self._changed.notify_all()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with self._lock:
            for run in self._runs.values():
                self._release_claim(run)  # a run left running: the next supervisor takes it over
        if self._ingestor is not None:
            self._ingestor.stop()

    def attach_existing(self, store_root: Path | str | None = None) -> list[LiveRun]:
        """Finds runs of the store left ``running``: a live job is tracked (and sampled, unless
        another supervisor holds its claim: then it is only followed); a dead one is recorded as
        failed. A run directory that cannot be read is skipped and reported."""
        layout = StoreLayout(Path(store_root)) if store_root is not None else self.layout
        found: list[LiveRun] = []
        if not layout.runs.is_dir():
            return found
        with self._lock:
            for run_dir in sorted(p for p in layout.runs.iterdir() if p.is_dir()):
                try:
                    status = read_status(run_dir)
                except RunDirError as exc:
                    self._warn(f"{run_dir.name}: skipped: {exc}", run_dir.name)
                    continue
                except OSError as exc:
                    self._warn(f"{run_dir.name}: skipped: cannot read {run_dir}: {exc.strerror or exc}", run_dir.name)
                    continue
                if status is None or status.status != RUNNING:
                    continue
                run_id = run_dir.name
                if run_id in self._runs and not self._runs[run_id].live.done:
                    continue
                run = _Run(tracker=RunTracker(LiveRun.from_run_dir(run_dir), self.history_len))
                self._runs[run_id] = run
                self._attach_running(run, status, requeue=False)
                run.seen = _attempt_on_disk(run_dir)
                found.append(run.live.copy())
            self._changed.notify_all()
        self._wake.set()
        return found

    # ==== the control loop ========================================================================
    def _loop(self) -> None:
        while not self._stop.is_set():
            picked: list[_Run] = []
            try:
                self._refresh_remote()
                with self._lock:
                    self._step()
                    picked = self._pick_ready()
                self._last_loop_error = None
            except Exception as exc:  # noqa: BLE001 - one bad poll never stops the queue
                self._loop_error(exc)
            for run in picked:
                try:
                    self._launch(run)
                except Exception as exc:  # noqa: BLE001 - a bug launching one run fails that run only
                    self._launch_crashed(run, exc)
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _loop_error(self, exc: Exception) -> None:
        msg = f"scheduler: {type(exc).__name__}: {exc}"
        if msg != self._last_loop_error:  # said once, not five times a second
            self._warn(msg)
        self._last_loop_error = msg

    def _step(self) -> None:
        now = time.monotonic()
        for run in list(self._runs.values()):
            if run.starting or run.live.done:
                continue
            if run.elsewhere:
                self._step_elsewhere(run, now)
                continue
            if run.live.status != RUNNING:
                continue
            if run.job_id is not None:
                self._step_remote(run, now)
                continue
            run.tracker.poll()
            if run.popen is not None:
                rc = run.popen.poll()
                if rc is not None:
                    self._finish(run, rc)
                    continue
            elif not cast(LocalExecutor, self.executor_of(run)).alive(run.process):  # no job id: a local run
                self._finish(run, None)
                continue
            self._deliver_cancel(run, now)
        self._release_waiting()

    def _pick_ready(self) -> list[_Run]:
        """Queued runs for the free slots, marked starting (their launch runs outside the lock)."""
        if self._halted:
            self._not_start_queued()
            return []
        busy = sum(
            1
            for r in self._runs.values()
            if not r.live.done and (r.live.status == RUNNING or r.elsewhere or r.starting)
        )
        picked: list[_Run] = []
        # runs that share this machine's CPUs from now on (this one included): its CPU share
        pending = sum(1 for r in self._runs.values() if not r.live.done and not r.elsewhere)
        for run in self._runs.values():
            if busy >= self.max_parallel:
                break
            if run.live.status == QUEUED and run.spec is not None and not run.elsewhere and not run.starting:
                if not self.executor.remote:
                    run.cpu_share = cpu_share(min(self.max_parallel, pending))
                run.live.gpu = self._pick_gpu(run.spec)
                run.starting, run.process, run.popen = True, None, None
                run.cancel_requested = run.force = run.term_sent = run.sigkill_sent = False
                run.kill_at = None
                picked.append(run)
                busy += 1
        return picked

    def _pick_gpu(self, spec: RunSpec) -> str | None:
        if not self.gpu_ids or spec.device == "cpu" or spec.device.startswith("cuda:"):
            return None
        load = {g: 0 for g in self.gpu_ids}
        for r in self._runs.values():
            if (r.live.status == RUNNING or r.starting) and r.live.gpu in load:
                load[r.live.gpu] += 1
        return min(self.gpu_ids, key=lambda g: load[g])  # the first of the least loaded

    # ==== launching (control thread, outside the lock) ================================================
    def _launch(self, run: _Run) -> None:
        live, spec = run.live, run.spec
        assert spec is not None
        run_dir, run_id = live.run_dir, live.run_id
        try:
            claim = self._claims.try_take(run_id)
        except WriteError as exc:
            with self._lock:
                self._unpick(run)
                self._storage_failed(exc)
            return
        if claim is None:
            with self._lock:
                self._unpick(run)
                if run.cancel_requested:
                    self._cancelled_before_start(run)
                else:
                    self._follow_elsewhere(run, None)
            return
        run.claim = claim  # on the run at once: whatever happens next, it is released (_launch_crashed)
        # The claim is ours. Did another supervisor run it since we queued it?
        status, attempt = _status_and_attempt(run_dir)
        if attempt != run.seen and status is not None and (status.status == RUNNING or status.status.final):
            with self._lock:
                self._unpick(run)
                self._found_attempt(run, status)
            return
        with self._lock:
            if run.cancel_requested:  # cancelled while we were claiming: never spawn it
                self._release_claim(run)
                self._unpick(run)
                self._cancelled_before_start(run)
                return
        gpu, started = live.gpu, time.time()
        remote = bool(self.executor.remote)
        share = None if remote else run.cpu_share
        archived: Path | None = None
        ours = False  # whether the run directory holds only what this attempt wrote
        try:
            claim.reserve()
            archived = self._archive_previous(run_dir)
            ours = True
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json_atomic(RunDir(run_dir).spec, spec.to_dict())
            update_status(
                run_dir,
                RUNNING,
                job=None,
                started=started,
                ended=None,
                phase=None,
                error=None,
                exit_code=None,
                gpu=gpu,
                supervisor=self._claims.me,
                executor=self.executor.name,
                executor_job_id=None,
                executor_state=None,
                executor_reason=None,
                executor_info=None,
                cpu_share=share,
            )
        except (WriteError, OSError) as exc:
            if ours:
                _undo_launch(run_dir, archived)
            with self._lock:
                self._release_claim(run)
                self._unpick(run)
                self._storage_failed(exc if isinstance(exc, WriteError) else write_error(exc, run_dir))
            return
        run.tracker.reset_tails()
        env = {**os.environ, **self.extra_env, "PYTHONUNBUFFERED": "1", HZ_ENV: f"{self.sample_hz:g}"}
        if not self.use_nvml:
            env[NVML_ENV] = "0"
        if share is not None:
            env.update(share_env(share))
            live.cpu_threads = share["threads"]
        if self.gpu_ids:
            if spec.device == "cpu":
                env["CUDA_VISIBLE_DEVICES"] = ""
            elif gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpu
                env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # CUDA's numbering = NVML's
        if remote:
            job_env = {k: v for k, v in env.items() if os.environ.get(k) != v}  # sbatch exports the rest
            self._submit(run, job_env, started)
            return
        from .stage import offline_problems

        offline = offline_problems(spec, env)  # HF_HUB_OFFLINE=1 and something not staged: fail at once
        try:
            if offline:
                raise ValueError(offline)
            # not submitted to SLURM (no job id): it runs here
            popen = cast(LocalExecutor, self.executor_of(run)).spawn(self.job_command(run_dir), run_dir, env)
        except (OSError, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno in _STORAGE:  # job.log could not be opened
                _undo_launch(run_dir, archived)
                with self._lock:
                    self._release_claim(run)
                    self._unpick(run)
                    self._storage_failed(write_error(exc, RunDir(run_dir).log))
                return
            error = str(exc) if offline else f"could not start the job: {type(exc).__name__}: {exc}"
            with self._lock:
                run.starting = False
                ended = time.time()
                self._record_end(run, RunStatus.FAILED, ended=ended, error=error)
                live.status, live.started, live.ended, live.error = RunStatus.FAILED, started, ended, error
                self._warn(f"{live.label}: {error}", run_id)
                self._finished(run)
            return
        ref = ProcessRef.of(popen.pid)  # the child is not reaped yet, so its create time is readable
        with self._lock:
            run.popen, run.process, run.starting = popen, ref, False
            live.status, live.started, live.ended, live.error, live.pid = RUNNING, started, None, None, ref.pid
            live.exit_code, live.cancelling, live.skipped = None, run.cancel_requested, False
            extra = f" on GPU {gpu}" if gpu is not None else ""
            extra += f", starting from {live.init_from}" if live.init_from else ""
            if share is not None and share["runs"] > 1:
                extra += f", {share['threads']} of {share['cpus']} CPU threads ({share['runs']} runs share them)"
            self._note(f"{live.label}: started (pid {ref.pid}){extra}", run_id, topic=STARTED)
            self._deliver_cancel(run, time.monotonic())  # a cancel that came while it was starting
            self._changed.notify_all()
        current = _peek_status(run_dir)
        if current is not None and current.status == RUNNING and current.job is None:  # the job has not written yet
            try:
                update_status(run_dir, RUNNING, job=ref)
            except WriteError as exc:
                with self._lock:
                    self._storage_failed(exc)

    def _submit(self, run: _Run, env: dict[str, str], started: float) -> None:
        """Submits a claimed run to SLURM (the run directory is written): its job id goes into
        status.json; a refused submission fails the run with SLURM's message."""
        from .slurm import SlurmError

        live, run_dir, run_id = run.live, run.run_dir, run.live.run_id
        try:
            job_id = cast("SlurmExecutor", self.executor).submit(  # only a remote executor submits
                run_id=run_id, run_dir=run_dir, cmd=self.job_command(run_dir), env=env, depends_on=run.depends_on
            )
        except SlurmError as exc:
            error = f"could not submit the job: {exc}"
            with self._lock:
                run.starting = False
                ended = time.time()
                self._record_end(run, RunStatus.FAILED, ended=ended, error=error)
                live.status, live.started, live.ended, live.error = RunStatus.FAILED, started, ended, error
                self._warn(f"{live.label}: {error}", run_id)
                self._finished(run)
            return
        try:
            update_status(run_dir, RUNNING, executor_job_id=job_id)
        except WriteError as exc:
            with self._lock:
                self._storage_failed(exc)
        with self._lock:
            run.job_id, run.starting, run.process, run.popen = job_id, False, None, None
            live.status, live.started, live.ended, live.error, live.pid = RUNNING, started, None, None, None
            live.exit_code, live.cancelling, live.skipped = None, run.cancel_requested, False
            live.executor, live.job_id, live.executor_state, live.depends_on = SLURM, job_id, "PENDING", run.depends_on
            run.unknown_since = None
            extra = f" after job {run.depends_on} (afterok)" if run.depends_on else ""
            extra += f", starting from {live.init_from}" if live.init_from else ""
            self._note(f"{live.label}: submitted to SLURM (job {job_id}){extra}", run_id, topic=STARTED)
            self._deliver_cancel(run, time.monotonic())
            self._changed.notify_all()
        self._wake.set()

    def _launch_crashed(self, run: _Run, exc: Exception) -> None:
        with self._lock:
            if not run.starting:
                self._loop_error(exc)
                return
            run.starting = False
            live = run.live
            live.status, live.ended = RunStatus.FAILED, time.time()
            live.error = f"could not start the job: {type(exc).__name__}: {exc}"
            self._warn(f"{live.label}: {live.error}", live.run_id)
            on_disk = _peek_status(run.run_dir)
            if (
                run.claim is not None
                and on_disk is not None
                and on_disk.status == RUNNING
                and on_disk.supervisor == self._claims.me
            ):  # our attempt says running: say how it ended
                self._record_end(run, RunStatus.FAILED, ended=live.ended, error=live.error)
            self._release_claim(run)
            self._changed.notify_all()

    def _release_claim(self, run: _Run) -> None:
        if run.claim is not None:
            run.claim.release()
            run.claim = None

    def _unpick(self, run: _Run) -> None:
        """A picked run that was not launched (it stays queued, as it was shown)."""
        run.starting = False
        run.live.gpu = None

    def _cancelled_before_start(self, run: _Run) -> None:
        live = run.live
        live.status, live.ended, live.error = RunStatus.CANCELLED, time.time(), "cancelled before it started"
        live.cancelling = False
        self._changed.notify_all()

    def _archive_previous(self, run_dir: Path) -> Path | None:
        """A rerun keeps the previous attempt under <store>/archive/, out of the store's way.
        Returns where it went (None: there was nothing to keep). Raises OSError."""
        if not run_dir.exists() or not any(run_dir.iterdir()):
            return None
        dest = self.layout.archive / f"{run_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        n = 1
        while dest.exists():
            n += 1
            dest = dest.with_name(f"{dest.name.rsplit('.', 1)[0]}.{n}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(run_dir), str(dest))
        self._note(f"{run_dir.name}: the previous attempt moved to {dest}", run_dir.name)
        return dest

    # ==== SLURM runs ==================================================================================
    def executor_of(self, run: _Run) -> Executor:
        """The executor that runs (or ran) ``run``: SLURM for a run with a job id, else ours."""
        if run.job_id is not None:
            return self._slurm_executor()
        return self.executor if not self.executor.remote else LocalExecutor()

    def _slurm_executor(self) -> SlurmExecutor:
        if self._slurm is None:  # a SLURM run found in the store by a supervisor that runs locally
            from ..plan import ExecutorSettings

            self._slurm = cast("SlurmExecutor", make_executor(ExecutorSettings(kind=SLURM)))  # kind slurm
        return self._slurm

    def _refresh_remote(self, force: bool = False) -> None:
        """Asks SLURM about every SLURM run this supervisor follows (one squeue, one sacct), at
        most every ``poll_s`` of the executor; outside the lock (a slow controller never blocks
        ``snapshot``)."""
        with self._lock:
            ids = {r.job_id for r in self._runs.values() if r.job_id is not None and not r.live.done}
        if not ids:
            return
        slurm = self._slurm_executor()
        now = time.monotonic()
        if not force and now - self._remote_polled < slurm.poll_s:
            return
        self._remote_polled = now
        from .slurm import SlurmError

        try:
            infos = slurm.query(ids)
        except SlurmError as exc:
            with self._lock:
                self._loop_error(exc)
            return
        with self._lock:
            for run in self._runs.values():
                if run.job_id in ids:
                    info = infos.get(run.job_id)
                    run.remote_info = info
                    if info is None:
                        run.unknown_since = run.unknown_since or time.monotonic()
                    else:
                        run.unknown_since = None
                        live = run.live
                        live.executor_state, live.executor_reason = info.state, info.reason
                        live.node = info.node or live.node

    def _step_remote(self, run: _Run, now: float) -> None:
        from .slurm import JobInfo

        live = run.live
        run.tracker.poll()
        info = run.remote_info if isinstance(run.remote_info, JobInfo) else None
        if run.claim is None:  # followed for another supervisor: it records the end
            return
        if info is not None and info.pending and info.dependency_never_satisfied and not run.dependency_dead:
            run.dependency_dead = True  # SLURM would leave it pending forever: cancel it, and say why
            self._cancel_remote(run)
        self._deliver_cancel(run, now)
        if info is not None and not info.active:
            self._finish_remote(run, info)
        elif info is None and run.unknown_since is not None and now - run.unknown_since > 60:
            status = self._read_status_quietly(live.run_dir)
            if status is not None and status.status.final:
                self._load_finished(run, status)
            else:
                error = f"SLURM no longer knows job {run.job_id} and the run recorded no end"
                self._record_end(run, RunStatus.FAILED, ended=time.time(), error=error)
                live.status, live.ended, live.error = RunStatus.FAILED, time.time(), error
                self._warn(f"{live.label}: {error}", live.run_id)
            self._finished(run)

    def _finish_remote(self, run: _Run, info: JobInfo) -> None:
        """SLURM says the job is over: the run's end is the job's own, unless SLURM ended it
        (time limit, preemption, node failure: SLURM's reason wins) or it recorded none."""
        from .slurm import describe_end

        live = run.live
        run.tracker.poll()
        status = self._read_status_quietly(live.run_dir)
        producer = self._runs.get(live.waiting_for or "")
        account = dict(executor_state=info.state, executor_reason=info.reason, executor_info=info.accounting())
        if status is not None and status.status.final and not info.killed_by_slurm:
            final, error, ended = status.status, status.error, status.ended
            try:
                update_status(live.run_dir, final, **account)
            except WriteError as exc:
                self._storage_failed(exc)
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
            self._record_end(run, final, ended=ended, error=error, **account)
            if info.killed_by_slurm or final == RunStatus.FAILED:
                self._warn(f"{live.label}: {error}", live.run_id)
        live.status, live.error, live.ended = final, error, ended or time.time()
        live.executor_state, live.executor_reason = info.state, info.reason
        live.cancelling = False
        self._finished(run)

    def _adopt_remote(self, run: _Run, status: StatusRecord, job_id: str, claim: Claim | None) -> None:
        """Follows a SLURM run that is queued or running (its job id known), as its claimer."""
        live = run.live
        live.status, live.attached, live.elsewhere = RUNNING, True, claim is None
        live.started, live.gpu, live.pid = status.started, status.gpu, status.pid
        live.executor, live.job_id, live.node = SLURM, job_id, status.job.host if status.job else None
        run.job_id, run.claim, run.elsewhere, run.popen, run.process = job_id, claim, claim is None, None, None
        run.unknown_since = None
        if claim is not None:
            try:
                claim.reserve()
            except WriteError as exc:
                self._storage_failed(exc)
        run.tracker.poll()

    def _attach_slurm(self, run: _Run, status: StatusRecord, claim: Claim, what: str) -> bool:
        """A run status.json says was handed to SLURM: adopt its job (asking SLURM, never a pid
        table) or, SLURM done with it, record its end. False when no job of it can be found."""
        from .slurm import SlurmError

        slurm = self._slurm_executor()
        job_id = status.executor_job_id or slurm.find(run.live.run_id, run.run_dir)
        if job_id is None:
            return False
        if status.executor_job_id is None:
            try:
                update_status(run.run_dir, RUNNING, executor_job_id=job_id)
            except WriteError as exc:
                self._storage_failed(exc)
        self._adopt_remote(run, status, job_id, claim)
        try:
            info = slurm.query([job_id]).get(job_id)
        except SlurmError as exc:
            info = None
            self._warn(f"{run.live.label}: {exc}; asked again later", run.live.run_id)
        run.remote_info = info
        if info is not None:
            run.live.executor_state, run.live.executor_reason = info.state, info.reason
        self._note(
            f"{run.live.label}: {what} (SLURM job {job_id}"
            f"{', ' + info.state if info is not None else ''}); not submitted again",
            run.live.run_id,
        )
        if info is not None and not info.active:
            self._finish_remote(run, info)
        return True

    # ==== runs that are over ==================================================================
    def _finish(self, run: _Run, rc: int | None) -> None:
        """The job process is gone: record its final status (the job's own, when it wrote one)."""
        live = run.live
        run.tracker.poll()
        status = self._read_status_quietly(live.run_dir)
        if status is not None and status.status.final:
            final, error, ended = status.status, status.error, status.ended
        else:
            if run.cancel_requested:
                final, error = RunStatus.CANCELLED, f"cancelled ({procs.describe_exit(rc)})"
            elif run.popen is None:
                final, error = RunStatus.FAILED, DISAPPEARED
            else:
                final, error = RunStatus.FAILED, f"the job ended without a final status ({procs.describe_exit(rc)})"
            ended = time.time()
            self._record_end(run, final, ended=ended, error=error, exit_code=rc)  # says a failure of ours first
            if rc == JOB_WRITE_FAILED:  # the job's own writes failed: the store is full or read-only
                self._storage_failed(
                    f"{live.label}: its job could not write its run directory (exit code {rc}; "
                    f"{RunDir(live.run_dir).log} says why)"
                )
        run.popen = None
        live.status, live.error, live.exit_code = final, error, rc
        live.ended = ended or time.time()
        live.cancelling = False
        self._finished(run)

    def _record_end(self, run: _Run, status: RunStatus, **changes: object) -> bool:
        """Writes the run's end into status.json; on a full disk the claim's reserve is freed
        first. A write that still fails is reported (once for the store, once for the run)."""
        try:
            update_status(run.run_dir, status, **changes)
            return True
        except WriteError as exc:
            failure = exc
        if failure.errno in _FULL and run.claim is not None and run.claim.free_reserve():
            try:
                update_status(run.run_dir, status, **changes)
                return True
            except WriteError as again:
                failure = again
        self._storage_failed(failure)
        self._error(
            f"{run.live.label}: its end ({status}) could not be written to status.json; "
            "a later supervisor records it as failed (job process disappeared)",
            run.live.run_id,
        )
        return False

    def _finished(self, run: _Run) -> None:
        self._release_claim(run)
        run.elsewhere = False
        if self._ingestor is not None:
            self._ingestor.request(run.run_dir)
        self._changed.notify_all()
        self._wake.set()

    # ==== running runs found on disk, and runs another supervisor runs =========================
    def _attach_running(self, run: _Run, status: StatusRecord, *, requeue: bool) -> None:
        """A run status.json says is running: follow it (its claim is held elsewhere), adopt it
        (its job is alive and identified) or record it as failed (the job is gone)."""
        live, run_dir, run_id = run.live, run.run_dir, run.live.run_id
        claims = self._claims_of(run_dir)
        try:
            claim = claims.try_take(run_id)
        except WriteError as exc:  # a store we cannot write: follow what can be seen, record nothing
            self._storage_failed(exc)
            job = procs.identify(status.job, run_dir, written=status.updated)
            if job is None:
                self._load_finished(run, status)
                live.status, live.ended = RunStatus.FAILED, time.time()
                live.error = f"{DISAPPEARED} (not recorded: {exc})"
            else:
                self._follow_elsewhere(run, status)
            return
        if claim is None:
            self._follow_elsewhere(run, status)
            return
        run.claim = claim
        self._take_disk_wiring(run)
        if status.executor == SLURM and self._attach_slurm(
            run, status, claim, "already submitted" if requeue else "re-attached"
        ):
            return
        job = procs.identify(status.job, run_dir, written=status.updated)
        if job is not None:
            self._adopt(run, status, job, claim)
            what = "already running" if requeue else "re-attached to the running job"
            self._note(f"{run_id}: {what} (pid {job.pid}); not started again", run_id)
            return
        try:
            recorded = self._mark_disappeared(run_dir, status)
        except WriteError as exc:
            recorded = None
            self._storage_failed(exc)
        finally:
            self._release_claim(run)
        if requeue:
            self._warn(f"{run_id}: was left running by a job that is gone; marked failed and queued again", run_id)
            return
        self._load_finished(run, recorded or status)
        live.status, live.error = RunStatus.FAILED, DISAPPEARED
        self._warn(f"{run_id}: {DISAPPEARED}; recorded as failed", run_id)
        if self._ingestor is not None:
            self._ingestor.request(run_dir)

    def _take_disk_wiring(self, run: _Run) -> None:
        """A run found running keeps the wiring its launch wrote into spec.json (whether it saves
        its encoder for others, the encoder it starts from): the queue is wired around it."""
        try:
            disk = RunDir(run.run_dir).read_spec()
        except (OSError, ValueError):
            return
        if run.spec is not None:
            run.spec.save_encoder = bool(disk.get("save_encoder"))
            run.spec.init_from = disk.get("init_from") if isinstance(disk.get("init_from"), str) else run.spec.init_from
        run.live.save_encoder = bool(disk.get("save_encoder"))

    def _adopt(self, run: _Run, status: StatusRecord, job: ProcessRef, claim: Claim) -> None:
        """Tracks a job that is already running (started by an earlier supervisor), as its claimer."""
        live = run.live
        live.status, live.attached, live.elsewhere = RUNNING, True, False
        live.pid, live.started, live.gpu = job.pid, status.started, status.gpu
        run.process, run.claim, run.elsewhere = job, claim, False
        try:
            claim.reserve()
        except WriteError as exc:
            self._storage_failed(exc)
        run.tracker.poll()

    def _follow_elsewhere(self, run: _Run, status: StatusRecord | None) -> None:
        """Another supervisor holds the run's claim: watch it (events, status), never write it.
        Until its attempt is seen running the run shows as queued here."""
        live = run.live
        run.elsewhere, run.claim, run.popen = True, None, None
        live.attached = live.elsewhere = True
        run.following = False
        run.tracker.reset_tails(clear_live=False)
        if status is not None and status.status == RUNNING:
            self._see_running_elsewhere(run, status)
        holder = self._claims_of(run.run_dir).holder(live.run_id)
        self._note(f"{live.label}: claimed by {describe_holder(holder)}; followed here, not started again", live.run_id)

    def _see_running_elsewhere(self, run: _Run, status: StatusRecord) -> None:
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

    def _step_elsewhere(self, run: _Run, now: float) -> None:
        live, run_dir = run.live, run.run_dir
        status = _peek_status(run_dir)
        if status is not None and status.status == RUNNING:
            self._see_running_elsewhere(run, status)
        if run.following:
            run.tracker.poll()
        self._deliver_cancel(run, now)
        try:
            claim = self._claims_of(run_dir).try_take(live.run_id)
        except WriteError:  # a read-only store: nobody is writing it; judge by what can be seen
            if status is not None and status.status.final:
                self._load_finished(run, status)
                self._finished(run)
            elif run.following and not procs.alive(run.process):
                live.status, live.ended, live.error = RunStatus.FAILED, time.time(), f"{DISAPPEARED} (not recorded)"
                self._finished(run)
            return
        if claim is None:
            return  # still held: its holder records its end
        run.elsewhere, run.claim = False, claim  # its holder let go: it recorded the end, or it is gone
        status, attempt = _status_and_attempt(run_dir)
        if status is not None and status.status == RUNNING and status.executor == SLURM:
            if self._attach_slurm(
                run, status, claim, "the supervisor that followed it is gone; followed and recorded here now"
            ):
                return
        if status is not None and status.status == RUNNING:
            job = procs.identify(status.job, run_dir, written=status.updated)
            if job is not None:
                self._adopt(run, status, job, claim)
                self._note(
                    f"{live.label}: the supervisor that ran it is gone; followed and recorded here now", live.run_id
                )
                return
            try:
                recorded: StatusRecord | None = self._mark_disappeared(run_dir, status)
            except WriteError as exc:
                recorded = None
                self._storage_failed(exc)
            self._load_finished(run, recorded or status)
            live.status, live.error = RunStatus.FAILED, DISAPPEARED
            self._warn(f"{live.label}: {DISAPPEARED}; recorded as failed", live.run_id)
            self._finished(run)
        elif status is not None and status.status.final and (run.following or attempt != run.seen):
            self._load_finished(run, status)
            self._note(f"{live.label}: {status.status} (run by another supervisor)", live.run_id)
            self._finished(run)
        elif run.spec is not None:  # its claimer went away before starting it: ours to run again
            self._release_claim(run)
            live.status, live.attached, live.elsewhere = QUEUED, False, False
            self._note(
                f"{live.label}: the supervisor that claimed it stopped before starting it; queued here", live.run_id
            )
        else:
            live.status, live.ended, live.error = RunStatus.FAILED, time.time(), DISAPPEARED
            self._finished(run)

    def _found_attempt(self, run: _Run, status: StatusRecord) -> None:
        """We claimed a run to launch it and found an attempt another supervisor made meanwhile:
        it is that attempt's run now (followed if running, its result if over), never rerun."""
        live = run.live
        if status.status == RUNNING and status.executor == SLURM and run.claim is not None:
            if self._attach_slurm(run, status, run.claim, "already submitted by another supervisor meanwhile"):
                return
        if status.status == RUNNING:
            job = procs.identify(status.job, run.run_dir, written=status.updated)
            if job is not None:
                assert run.claim is not None
                self._adopt(run, status, job, run.claim)
                self._note(f"{live.label}: already running (pid {job.pid}); followed, not started again", live.run_id)
                return
            try:
                recorded: StatusRecord | None = self._mark_disappeared(run.run_dir, status)
            except WriteError as exc:
                recorded = None
                self._storage_failed(exc)
            self._load_finished(run, recorded or status)
            live.status, live.error = RunStatus.FAILED, DISAPPEARED
            self._warn(f"{live.label}: {DISAPPEARED}; recorded as failed", live.run_id)
        else:
            self._load_finished(run, status)
            live.attached = live.elsewhere = True  # not started here: it ran under another supervisor
            self._note(f"{live.label}: {status.status} in another supervisor meanwhile; not run again", live.run_id)
        self._finished(run)

    def _stop_following(self, run_id: str) -> None:
        run = self._runs.pop(run_id)
        self._note(f"{run.live.label}: left to the supervisor that runs it", run_id)

    def _load_finished(self, run: _Run, status: StatusRecord) -> None:
        live = run.live
        live.status = status.status
        live.started, live.ended, live.error = status.started, status.ended, status.error
        live.pid, live.exit_code = status.pid, status.exit_code
        run.tracker.poll()

    def _mark_disappeared(self, run_dir: Path, status: StatusRecord) -> StatusRecord:
        return update_status(run_dir, RunStatus.FAILED, ended=time.time(), error=DISAPPEARED, phase=status.phase)

    def _claims_of(self, run_dir: Path) -> Claims:
        if run_dir.parent == self.runs_root:
            return self._claims
        return Claims(run_dir.parent.parent)  # a run of another store (attach_existing(store))

    # ==== cancel ======================================================================================
    def _deliver_cancel(self, run: _Run, now: float) -> None:
        """Sends what a requested cancel still owes the job, once its process is known (a SLURM
        job: ``scancel``, once; SLURM sends SIGTERM, then SIGKILL after its KillWait)."""
        if run.cancel_requested and run.job_id is not None:
            self._cancel_remote(run)
            return
        if not run.cancel_requested or run.process is None:
            return
        label = run.live.label
        if run.force:
            if not run.sigkill_sent:
                run.sigkill_sent = True
                procs.signal_group(run.process, signal.SIGKILL)
                self._note(f"{label}: killed (SIGKILL)", run.live.run_id)
        elif not run.term_sent:
            run.term_sent = True
            run.kill_at = now + self.grace_s
            procs.signal_group(run.process, signal.SIGTERM)
            self._note(f"{label}: cancelling (SIGTERM; SIGKILL after {self.grace_s:g} s)", run.live.run_id)
        elif run.kill_at is not None and now >= run.kill_at and not run.sigkill_sent:
            run.sigkill_sent = True
            procs.signal_group(run.process, signal.SIGKILL)
            self._warn(f"{label}: still running {self.grace_s:g} s after SIGTERM; sent SIGKILL", run.live.run_id)

    def _cancel_remote(self, run: _Run) -> None:
        from .slurm import SlurmError

        if run.term_sent and (not run.force or run.sigkill_sent):
            return
        force = run.force and run.term_sent
        run.term_sent = True
        run.sigkill_sent = run.sigkill_sent or run.force
        try:
            self._slurm_executor().cancel(str(run.job_id), force=force or run.force)
        except SlurmError as exc:
            self._warn(f"{run.live.label}: {exc}", run.live.run_id)
            return
        how = "scancel --signal=KILL" if run.force else "scancel"
        self._note(f"{run.live.label}: cancelling SLURM job {run.job_id} ({how})", run.live.run_id)

    # ==== storage errors ==============================================================================
    def _storage_failed(self, exc: WriteError | str) -> None:
        """A store write failed (ours, or a job's: ``exc`` is then the text to say): said once;
        no further run is started (until the next submit)."""
        if self._storage_error is None:
            self._storage_error = str(exc)
        if self._halted:
            return
        self._halted = True
        waiting = sum(1 for r in self._runs.values() if r.live.status in (QUEUED, WAITING) and not r.elsewhere)
        self._error(
            f"{exc}: no further run is started ({waiting} not started); running runs go on and record their own end"
        )
        self._not_start_queued()

    def _not_start_queued(self) -> None:
        for run in self._runs.values():
            if run.live.status in (QUEUED, WAITING) and not run.elsewhere and not run.starting:
                live = run.live
                live.status, live.ended, live.error = RunStatus.CANCELLED, time.time(), NOT_STARTED_STORAGE
        self._changed.notify_all()

    # ==== shared intermediate phases ==============================================================
    def _entries(self) -> list[shared.Entry]:
        return [
            shared.Entry(
                rid,
                r.live.label,
                shared.key_of(r.spec) if r.spec is not None else None,
                r.live.status,
                r.live.waiting_for,
                bool(r.spec is not None and r.spec.save_encoder),
            )
            for rid, r in self._runs.items()
        ]

    def _wire_shared(self) -> None:
        entries = self._entries()
        if not any(e.key is not None and e.status == QUEUED and not e.waiting_for for e in entries):
            return
        again = [rid for rid, r in self._runs.items() if r.live.status.active]
        wiring = shared.wire(entries, shared.saved_encoders(self.runs_root, exclude=again))
        for rid, path in wiring.init_from.items():
            self._set_init_from(self._runs[rid], path)
        for rid in wiring.producers:
            run = self._runs[rid]
            assert run.spec is not None
            run.spec.save_encoder = run.live.save_encoder = True
        for rid, producer in wiring.waiting.items():
            live = self._runs[rid].live
            live.status, live.waiting_for = WAITING, producer
        for text in wiring.notes:
            self._note(text)

    def _release_waiting(self) -> None:
        waiting = [e for e in self._entries() if e.status == WAITING]
        if not waiting:
            return
        if self.executor.remote:
            self._release_waiting_remote(waiting)
            return
        producers: dict[str, shared.Producer] = {}
        for rid in {e.waiting_for for e in waiting if e.waiting_for}:
            p = self._runs.get(rid)
            if p is not None:
                ckpt = shared.checkpoint_of(
                    p.run_dir,
                    saw_checkpoint=p.tracker.checkpoint_saved is not None,
                    succeeded=p.live.status == RunStatus.SUCCEEDED,
                )
                producers[rid] = shared.Producer(p.live.status, ckpt)
        for rel in shared.release(waiting, producers):
            run = self._runs[rel.run_id]
            run.live.status = QUEUED
            if rel.init_from is None:
                run.live.waiting_for = None
            self._set_init_from(run, rel.init_from)
            if rel.note:
                self._warn(rel.note, rel.run_id)

    def _release_waiting_remote(self, waiting: list[shared.Entry]) -> None:
        """SLURM: consumers go as soon as their producer is submitted, with afterok on its job."""
        producers: dict[str, shared.RemoteProducer] = {}
        for rid in {e.waiting_for for e in waiting if e.waiting_for}:
            p = self._runs.get(rid)
            if p is not None:
                ckpt = RunDir(p.run_dir).intermediate_checkpoint
                complete = (
                    shared.checkpoint_of(
                        p.run_dir,
                        saw_checkpoint=p.tracker.checkpoint_saved is not None,
                        succeeded=p.live.status == RunStatus.SUCCEEDED,
                    )
                    is not None
                )
                producers[rid] = shared.RemoteProducer(p.live.label, p.live.status, p.job_id, ckpt.resolve(), complete)
        for rel in shared.release_remote(waiting, producers):
            run = self._runs[rel.run_id]
            live = run.live
            if rel.error:
                live.status, live.ended, live.error = RunStatus.FAILED, time.time(), rel.error
                self._warn(f"{live.label}: {rel.error}", rel.run_id)
                self._changed.notify_all()
                continue
            live.status = QUEUED
            run.depends_on = rel.depends_on
            if rel.init_from is None:
                live.waiting_for = None
            self._set_init_from(run, rel.init_from)
            if rel.note:
                self._warn(rel.note, rel.run_id)

    def _set_init_from(self, run: _Run, path: str | None) -> None:
        if run.spec is not None:
            run.spec.init_from = path
        run.live.init_from = path

    # ==== bookkeeping =============================================================================
    def _read_status_quietly(self, run_dir: Path) -> StatusRecord | None:
        try:
            return read_status(run_dir)
        except RunDirError as exc:
            self._warn(str(exc), run_dir.name)
            return None

    def _active_dirs(self) -> list[Path]:
        with self._lock:
            return [
                r.run_dir
                for r in self._runs.values()
                if r.live.status == RUNNING and r.claim is not None and not r.starting
            ]

    def _add_note(self, note: Note) -> None:
        with self._lock:
            self._messages.append(note)

    def _note(self, text: str, run_id: str | None = None, topic: str | None = None) -> None:
        self._add_note(Note.info(text, run_id, topic))

    def _warn(self, text: str, run_id: str | None = None) -> None:
        self._add_note(Note.warning(text, run_id))

    def _error(self, text: str, run_id: str | None = None) -> None:
        self._add_note(Note.error(text, run_id))


def _peek_status(run_dir: Path) -> StatusRecord | None:
    """status.json, or None when it is absent or does not parse (no note: polled often)."""
    try:
        return read_status(run_dir)
    except (RunDirError, OSError):
        return None


def _status_and_attempt(run_dir: Path) -> tuple[StatusRecord | None, Attempt]:
    try:
        status = read_status(run_dir)
    except (RunDirError, OSError):
        return None, _MALFORMED
    return status, (None if status is None else (status.status.value, status.updated))


def _attempt_on_disk(run_dir: Path) -> Attempt:
    return _status_and_attempt(run_dir)[1]


def _undo_launch(run_dir: Path, archived: Path | None) -> None:
    """A launch that could not write what it needs: remove what it wrote and put the previous
    attempt back, so the run directory says what it said before (nothing lost, nothing false)."""
    files = RunDir(run_dir)
    for path in (files.status, files.spec, files.log):
        try:
            path.unlink()
        except OSError:
            pass
    try:
        run_dir.rmdir()  # only when empty: never remove anything we did not write
    except OSError:
        return
    if archived is not None:
        try:
            os.rename(archived, run_dir)
        except OSError:
            pass  # the previous attempt stays in the archive, whole
