"""The scheduler: a queue of runs, each executed as its own process, on device slots.

Process model (docs/runner.md):

- A run is launched only by the supervisor holding its claim (runner/claims.py: a flock on
  ``STORE/locks/<run_id>.lock``), taken before anything in the run directory is archived or
  written. A supervisor that cannot take it follows the run as running elsewhere (tails its
  events, waits for its end) and never writes it (runner/reattach.py).
- Each run gets ``<store>/runs/<run_id>/``; the scheduler writes spec.json and a ``running``
  status.json (runner/storage.py), then its executor starts ``python -m xcost_tui.job RUN_DIR``:
  locally (runner/local.py) with a list argv (never a shell), stdin from /dev/null, stdout/stderr
  appended to job.log, in its own session (``start_new_session``: a closed terminal or dropped
  SSH does not reach it), with ``PYTHONUNBUFFERED=1`` and, on a GPU machine,
  ``CUDA_VISIBLE_DEVICES`` naming its GPU; or as a SLURM job (runner/slurm.py), whose liveness
  is SLURM's word (squeue/sacct), never a pid.
- The job owns status.json from its first line on; the supervisor writes it only before the job
  starts (``running``, no pid yet), to add the pid right after the spawn when the job has not
  yet, and after the job has exited without a final status (runner/outcome.py: ``failed``, or
  ``cancelled`` when we cancelled it), never while the job may be writing its own.
- Processes are known by ``ProcessRef`` (pid + create time + host): a pid reused by an
  unrelated process is never adopted as a job, nor signalled.
- A control thread polls the jobs through their executors (runner/executors.py: exit codes or
  SLURM's word, events.jsonl), picks queued runs for free slots (the launch itself runs outside
  the lock, so a slow disk never blocks ``snapshot``), has the executors deliver cancels (a
  cancel that comes before the job is known is delivered right after its start) and wires shared
  intermediate phases (runner/shared.py). The sampler runs beside each job
  (measure/sampler.py: the job starts it), so the supervisor only reads samples.jsonl; an ingest
  thread (runner/ingestor.py) loads the runs into the store.
- A write the store refuses (a full or read-only disk) is said once, as an error note; no
  further run is started, the runs already running go on and record their own end.

Nothing here imports torch, transformers or datasets.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..errors import RunDirError, WriteError, write_error
from ..measure.sampler import HZ_ENV, NVML_ENV
from ..plan import ExecutorSettings
from ..rundir import RunStatus, StatusRecord, StoreLayout, read_status
from ..rundir.resume import EVERY_MIN_ENV
from ..spec import RunSpec
from . import procs, reattach, shared, storage
from .claims import Claims
from .executors import UNLIMITED, Executor, Executors, cpu_share, make_executor, share_env
from .ingestor import Ingestor
from .live import HISTORY_LEN, QUEUED, RUNNING, WAITING, LiveRun, RunHistory, RunTracker
from .local import LocalExecutor
from .notes import Note
from .runs import Run, StartFailed, attempt_on_disk, peek_status, status_and_attempt
from .workers import WorkerPool


class Scheduler:
    """Runs RunSpecs as subprocesses; thread-safe; the live API of the app and the headless mode.

    ``job_command(run_dir) -> argv`` replaces ``python -m xcost_tui.job RUN_DIR`` (tests).
    ``gpus``: None detects them (NVML, respecting CUDA_VISIBLE_DEVICES); an int fakes that many;
    a list gives the CUDA_VISIBLE_DEVICES values to hand out. ``max_parallel`` defaults to one
    run per GPU, and one at a time without a GPU. ``data_dir`` is given to submitted specs that
    name none (it is not part of the run id). ``executor``: an executor (runner/executors.py), or
    the plan's ``[executor]`` settings to build one from (None: this machine).
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
        executor: Executor | ExecutorSettings | None = None,
        process_per_run: bool | None = None,
    ):
        settings = executor if isinstance(executor, ExecutorSettings) else None
        if executor is None or isinstance(executor, ExecutorSettings):
            executor = make_executor(executor)
        self.executor: Executor = executor
        self.executors = Executors(executor)
        remote = self.executor.remote
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
        # Warm workers (runner/workers.py, docs/runner.md): one long-lived job process per slot, unless
        # asked for a process per run (the plan's [executor] process_per_run, --process-per-run) or a
        # job command of its own is given (tests' fake jobs run one process per run).
        if process_per_run is None:
            custom = job_command is not None or bool(os.environ.get(procs.JOB_COMMAND_ENV))
            process_per_run = custom or bool(settings is not None and settings.process_per_run)
        self.process_per_run = process_per_run
        self._workers: WorkerPool | None = None
        local = self.executors.local
        if not process_per_run and not remote and isinstance(local, LocalExecutor):
            self._workers = local.workers = WorkerPool(self.layout)
        self.sample_hz = float(sample_hz)
        if self.sample_hz <= 0:
            raise ValueError("the sampling rate must be > 0 Hz")
        self.use_nvml = use_nvml
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.rerun = rerun
        self.extra_env = dict(env or {})
        if settings is not None and settings.checkpoint_every_min is not None:
            self.extra_env.setdefault(EVERY_MIN_ENV, f"{settings.checkpoint_every_min:g}")
        self.history_len = history_len
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._runs: dict[str, Run] = {}  # insertion order is queue order
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
            Ingestor(self.store_root, ingest_every_s, self._active_dirs, self._add_note, lambda: self._storage_error)
            if ingest
            else None
        )

    # ==== the public API ==========================================================================
    def submit(self, specs: Iterable[RunSpec], *, rerun: bool | None = None) -> list[LiveRun]:
        """Queues runs (copies of the specs). A run that already succeeded is skipped (unless
        ``rerun``); one that is running (here or under another supervisor) is followed, not
        started twice."""
        rerun = self.rerun if rerun is None else rerun
        added: list[Run] = []
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
                    self.note(f"{run_id}: already in the queue", run_id)
                    continue
                run_dir = self.layout.run_dir(run_id).path
                run = Run(tracker=RunTracker(LiveRun.from_spec(spec, run_dir), self.history_len), spec=spec)
                self._runs[run_id] = run
                added.append(run)
                try:
                    status = read_status(run_dir)
                except RunDirError as exc:
                    status = None
                    self.warn(f"{run_id}: {exc}; the run directory is archived and the run started afresh", run_id)
                if status is not None and status.status == RUNNING:
                    reattach.attach_running(self, run, status, requeue=True)
                elif status is not None and status.status == RunStatus.SUCCEEDED and not rerun:
                    run.load(status)
                    run.live.skipped = True
                run.seen = attempt_on_disk(run_dir)
            shared.wire_queue(self, self._runs, self.runs_root)
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
            self.note(f"executor: {self.gpu_source}; {at_once}")
        elif self.gpu_ids:
            self.note(f"devices: {self.gpu_source}; up to {self.max_parallel} run(s) at once")
        else:  # the sampler beside each job says in its log why there is no GPU
            self.note(f"devices: CPU only; up to {self.max_parallel} run(s) at once")
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
                run.release_claim()  # a run left running: the next supervisor takes it over
        if self._workers is not None:
            self._workers.close_all()  # each ends once its run in hand (left running) is over
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
                    self.warn(f"{run_dir.name}: skipped: {exc}", run_dir.name)
                    continue
                except OSError as exc:
                    self.warn(f"{run_dir.name}: skipped: cannot read {run_dir}: {exc.strerror or exc}", run_dir.name)
                    continue
                if status is None or status.status != RUNNING:
                    continue
                run_id = run_dir.name
                if run_id in self._runs and not self._runs[run_id].live.done:
                    continue
                run = Run(tracker=RunTracker(LiveRun.from_run_dir(run_dir), self.history_len))
                self._runs[run_id] = run
                reattach.attach_running(self, run, status, requeue=False)
                run.seen = attempt_on_disk(run_dir)
                found.append(run.live.copy())
            self._changed.notify_all()
        self._wake.set()
        return found

    # ==== the control loop ========================================================================
    def _loop(self) -> None:
        while not self._stop.is_set():
            picked: list[Run] = []
            try:
                self.executors.refresh(self)
                with self._lock:
                    self._step()
                    picked = self._pick_ready()
                    queued = any(r.starting or r.live.status in (QUEUED, WAITING) for r in self._runs.values())
                if self._workers is not None and not queued and not picked:
                    self._workers.close_idle()  # nothing left for an idle worker: it ends
                self._last_loop_error = None
            except Exception as exc:  # noqa: BLE001 - one bad poll never stops the queue
                self.loop_error(exc)
            for run in picked:
                try:
                    self._launch(run)
                except Exception as exc:  # noqa: BLE001 - a bug launching one run fails that run only
                    self._launch_crashed(run, exc)
            if picked:
                try:
                    self.executor.flush(self)  # SLURM submits the runs it held, packed
                except Exception as exc:  # noqa: BLE001 - one bad submission never stops the queue
                    self.loop_error(exc)
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _step(self) -> None:
        now = time.monotonic()
        for run in list(self._runs.values()):
            if run.starting or run.live.done:
                continue
            if run.elsewhere:
                reattach.step_elsewhere(self, run, now)
            elif run.live.status == RUNNING:
                self.executors.of(run).poll(self, run, now)
        shared.release_queue(self, self._runs, at_submission=self.executor.remote)

    def _pick_ready(self) -> list[Run]:
        """Queued runs for the free slots, marked starting (their launch runs outside the lock)."""
        if self._halted:
            self._not_start_queued()
            return []
        busy = sum(
            1
            for r in self._runs.values()
            if not r.live.done and (r.live.status == RUNNING or r.elsewhere or r.starting)
        )
        picked: list[Run] = []
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
    def _launch(self, run: Run) -> None:
        live, spec = run.live, run.spec
        assert spec is not None
        run_dir, run_id = live.run_dir, live.run_id
        try:
            claim = self._claims.try_take(run_id)
        except WriteError as exc:
            with self._lock:
                self._unpick(run)
                self.storage_failed(exc)
            return
        if claim is None:
            with self._lock:
                self._unpick(run)
                if run.cancel_requested:
                    self._cancelled_before_start(run)
                else:
                    reattach.follow_elsewhere(self, run, None)
            return
        run.claim = claim  # on the run at once: whatever happens next, it is released (_launch_crashed)
        # The claim is ours. Did another supervisor run it since we queued it?
        status, attempt = status_and_attempt(run_dir)
        if attempt != run.seen and status is not None and (status.status == RUNNING or status.status.final):
            with self._lock:
                self._unpick(run)
                reattach.found_attempt(self, run, status)
            return
        with self._lock:
            if run.cancel_requested:  # cancelled while we were claiming: never spawn it
                run.release_claim()
                self._unpick(run)
                self._cancelled_before_start(run)
                return
        gpu, started = live.gpu, time.time()
        share = run.cpu_share  # None for a remote executor (_pick_ready)
        archived: Path | None = None
        ours = False  # whether the run directory holds only what this attempt wrote
        try:
            claim.reserve()
            reattach.account_previous(self, run_dir)  # SLURM's account of a job that ended unfollowed
            point = storage.resumable(run_dir, status)
            if point is not None:  # the job continues from it, in this run directory (job/resume.py)
                self.note(
                    f"{run_dir.name}: resumes from its checkpoint ({point.phase}, step {point.step})", run_dir.name
                )
            else:
                archived = storage.archive_previous(self.layout, run_dir)
            if archived is not None:
                self.note(f"{run_dir.name}: the previous attempt moved to {archived}", run_dir.name)
            ours = point is None  # a resumed run's directory holds the earlier attempts: never undone
            storage.write_launch(
                run_dir,
                spec.to_dict(),
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
                storage.undo_launch(run_dir, archived)
            with self._lock:
                run.release_claim()
                self._unpick(run)
                self.storage_failed(exc if isinstance(exc, WriteError) else write_error(exc, run_dir))
            return
        run.tracker.reset_tails()
        try:
            self.executor.start(self, run, self.job_command, self._job_env(run, share), started)
        except WriteError as exc:  # the store takes no more writes (job.log could not be opened)
            storage.undo_launch(run_dir, archived)
            with self._lock:
                run.release_claim()
                self._unpick(run)
                self.storage_failed(exc)
        except StartFailed as exc:
            self.start_failed(run, started, str(exc))

    def start_failed(self, run: Run, started: float, error: str) -> None:
        """The job of a launched run could not be started (``StartFailed``, or a packed SLURM
        submission sbatch refused): the run failed with the message."""
        live = run.live
        with self._lock:
            run.starting = False
            ended = time.time()
            self.record_end(run, RunStatus.FAILED, ended=ended, error=error)
            live.status, live.started, live.ended, live.error = RunStatus.FAILED, started, ended, error
            self.warn(f"{live.label}: {error}", live.run_id)
            self.finished(run)

    def _job_env(self, run: Run, share: dict[str, int] | None) -> dict[str, str]:
        """The job's environment: the supervisor's, the sampling rate, its CPU share and its GPU."""
        spec, gpu = run.spec, run.live.gpu
        assert spec is not None
        env = {**os.environ, **self.extra_env, "PYTHONUNBUFFERED": "1", HZ_ENV: f"{self.sample_hz:g}"}
        if not self.use_nvml:
            env[NVML_ENV] = "0"
        if share is not None:
            env.update(share_env(share))
            run.live.cpu_threads = share["threads"]
        if self.gpu_ids:
            if spec.device == "cpu":
                env["CUDA_VISIBLE_DEVICES"] = ""
            elif gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpu
                env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # CUDA's numbering = NVML's
        return env

    def _launch_crashed(self, run: Run, exc: Exception) -> None:
        with self._lock:
            if not run.starting:
                self.loop_error(exc)
                return
            run.starting = False
            live = run.live
            live.status, live.ended = RunStatus.FAILED, time.time()
            live.error = f"could not start the job: {type(exc).__name__}: {exc}"
            self.warn(f"{live.label}: {live.error}", live.run_id)
            on_disk = peek_status(run.run_dir)
            if (
                run.claim is not None
                and on_disk is not None
                and on_disk.status == RUNNING
                and on_disk.supervisor == self._claims.me
            ):  # our attempt says running: say how it ended
                self.record_end(run, RunStatus.FAILED, ended=live.ended, error=live.error)
            run.release_claim()
            self._changed.notify_all()

    def _unpick(self, run: Run) -> None:
        """A picked run that was not launched (it stays queued, as it was shown)."""
        run.starting = False
        run.live.gpu = None

    def _cancelled_before_start(self, run: Run) -> None:
        live = run.live
        live.status, live.ended, live.error = RunStatus.CANCELLED, time.time(), "cancelled before it started"
        live.cancelling = False
        self._changed.notify_all()

    def _deliver_cancel(self, run: Run, now: float) -> None:
        """Has the run's executor send what a requested cancel still owes its job."""
        self.executors.of(run).cancel(self, run, now)

    def _stop_following(self, run_id: str) -> None:
        run = self._runs.pop(run_id)
        self.note(f"{run.live.label}: left to the supervisor that runs it", run_id)

    # ==== storage errors ==============================================================================
    def storage_failed(self, exc: WriteError | str) -> None:
        """A store write failed (ours, or a job's: ``exc`` is then the text to say): said once;
        no further run is started (until the next submit)."""
        if self._storage_error is None:
            self._storage_error = str(exc)
        if self._halted:
            return
        self._halted = True
        waiting = sum(1 for r in self._runs.values() if r.live.status in (QUEUED, WAITING) and not r.elsewhere)
        self.error(
            f"{exc}: no further run is started ({waiting} not started); running runs go on and record their own end"
        )
        self._not_start_queued()

    def _not_start_queued(self) -> None:
        for run in self._runs.values():
            if run.live.status in (QUEUED, WAITING) and not run.elsewhere and not run.starting:
                live = run.live
                live.status, live.ended, live.error = RunStatus.CANCELLED, time.time(), storage.NOT_STARTED_STORAGE
        self._changed.notify_all()

    def record_end(self, run: Run, status: RunStatus, **changes: object) -> bool:
        """Writes the run's end into status.json (runner/storage.py). A write that fails is
        reported (once for the store, once for the run)."""
        failure = storage.write_end(run.run_dir, run.claim, status, **changes)
        if failure is None:
            return True
        self.storage_failed(failure)
        self.error(
            f"{run.live.label}: its end ({status}) could not be written to status.json; "
            "a later supervisor records it as failed (job process disappeared)",
            run.live.run_id,
        )
        return False

    # ==== bookkeeping (runs.Supervisor: what the executors and helpers ask) ===========================
    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def find_run(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def all_runs(self) -> list[Run]:
        return list(self._runs.values())

    def read_status(self, run_dir: Path) -> StatusRecord | None:
        try:
            return read_status(run_dir)
        except RunDirError as exc:
            self.warn(str(exc), run_dir.name)
            return None

    def finished(self, run: Run) -> None:
        run.release_claim()
        run.elsewhere = False
        self.ingest(run.run_dir)
        self._changed.notify_all()
        self._wake.set()

    def changed(self) -> None:
        self._changed.notify_all()

    def wake(self) -> None:
        self._wake.set()

    def ingest(self, run_dir: Path) -> None:
        if self._ingestor is not None:
            self._ingestor.request(run_dir)

    def claims_of(self, run_dir: Path) -> Claims:
        if run_dir.parent == self.runs_root:
            return self._claims
        return Claims(run_dir.parent.parent)  # a run of another store (attach_existing(store))

    def loop_error(self, exc: Exception) -> None:
        msg = f"scheduler: {type(exc).__name__}: {exc}"
        if msg != self._last_loop_error:  # said once, not five times a second
            self.warn(msg)
        self._last_loop_error = msg

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

    def note(self, text: str, run_id: str | None = None, topic: str | None = None) -> None:
        self._add_note(Note.info(text, run_id, topic))

    def warn(self, text: str, run_id: str | None = None) -> None:
        self._add_note(Note.warning(text, run_id))

    def error(self, text: str, run_id: str | None = None) -> None:
        self._add_note(Note.error(text, run_id))
