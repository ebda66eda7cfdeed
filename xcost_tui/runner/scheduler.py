"""The scheduler: a queue of runs, each executed as its own process, on device slots.

Process model (docs/runner.md):

- Each run gets ``<store>/runs/<run_id>/``; the scheduler writes spec.json and a ``running``
  status.json, then spawns ``python -m xcost_tui.job RUN_DIR`` with a list argv (never a shell),
  stdin from /dev/null, stdout/stderr appended to job.log, in its own session
  (``start_new_session``: a closed terminal or dropped SSH does not reach it), with
  ``PYTHONUNBUFFERED=1`` and, on a GPU machine, ``CUDA_VISIBLE_DEVICES`` naming its GPU.
- The job owns status.json from its first line on; the scheduler writes it only before the job
  starts (``running``, no pid yet), to add the pid right after the spawn when the job has not
  yet, and after the job has exited without a final status (``failed``, or ``cancelled`` when
  we cancelled it), never while the job may be writing its own.
- A control thread polls the jobs (exit codes, events.jsonl), starts queued runs on free slots,
  escalates cancels (SIGTERM to the process group, SIGKILL after ``grace_s``) and wires shared
  intermediate phases. A sampler thread writes samples.jsonl. An ingest thread loads finished
  runs into the store at once and running runs every ``ingest_every_s``.

Nothing here imports torch, transformers or datasets.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import RunDirError, WriteError
from ..rundir import ProcessRef, RunDir, RunStatus, StatusRecord, read_status, update_status, write_json_atomic
from ..plan import intermediate_key_str
from ..spec import RunSpec
from . import procs
from .live import HISTORY_LEN, QUEUED, RUNNING, WAITING, LiveRun, RunHistory, RunTracker
from .sampler import SampleTarget, Sampler

CHECKPOINT = "intermediate"  # RUN_DIR/checkpoints/intermediate (the job's name for it)
DISAPPEARED = "job process disappeared (killed?)"


@dataclass
class _Run:
    tracker: RunTracker
    spec: RunSpec | None = None  # None for a run found on disk that this scheduler did not queue
    popen: subprocess.Popen | None = None
    process: ProcessRef | None = None  # the job process, once spawned (pid + create time + host)
    cancel_requested: bool = False
    kill_at: float | None = None
    sigkill_sent: bool = False
    sample: bool = True  # False when another live supervisor samples it already
    queued_at: float = field(default_factory=time.time)

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

    def __init__(self, store_root: Path | str, *, max_parallel: int | None = None,
                 gpus: int | Sequence[str | int] | None = None,
                 job_command: Callable[[Path], list[str]] | None = None, grace_s: float = 10.0,
                 sample_hz: float = 2.0, poll_s: float = 0.2, ingest: bool = True, ingest_every_s: float = 5.0,
                 rerun: bool = False, env: dict[str, str] | None = None, history_len: int = HISTORY_LEN,
                 use_nvml: bool = True, data_dir: str | os.PathLike | None = None):
        self.store_root = Path(store_root)
        self.data_dir = str(Path(data_dir).expanduser().resolve()) if data_dir else None
        self.runs_root = self.store_root / "runs"
        if gpus is None:
            self.gpu_ids, self.gpu_source = procs.detect_gpus() if use_nvml else ([], "NVML turned off")
        elif isinstance(gpus, int):
            self.gpu_ids, self.gpu_source = [str(i) for i in range(gpus)], f"{gpus} GPU(s) (given)"
        else:
            self.gpu_ids, self.gpu_source = [str(g) for g in gpus], f"GPUs {','.join(map(str, gpus))} (given)"
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        self.max_parallel = max_parallel or max(1, len(self.gpu_ids))
        self.job_command = job_command or procs.default_job_command
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.rerun = rerun
        self.extra_env = dict(env or {})
        self.history_len = history_len
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._runs: dict[str, _Run] = {}  # insertion order is queue order
        self._messages: deque[str] = deque(maxlen=1000)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._accepting = True
        self.sampler = Sampler(self._sample_targets, hz=sample_hz, on_note=self._note, use_nvml=use_nvml)
        self._ingestor = _Ingestor(self.store_root, ingest_every_s, self._active_dirs, self._note) if ingest else None

    # ==== the public API ==========================================================================
    def submit(self, specs: Iterable[RunSpec], *, rerun: bool | None = None) -> list[LiveRun]:
        """Queues runs (copies of the specs). A run that already succeeded is skipped (unless
        ``rerun``); one that is running in another process is attached, not started twice."""
        rerun = self.rerun if rerun is None else rerun
        added: list[LiveRun] = []
        with self._lock:
            if not self._accepting:
                raise RuntimeError("the scheduler is shutting down")
            for spec in specs:
                spec = copy.deepcopy(spec)
                if self.data_dir and not spec.data_dir:
                    spec.data_dir = self.data_dir
                run_id = spec.run_id()
                existing = self._runs.get(run_id)
                if existing is not None and not existing.live.done:
                    self._note(f"{run_id}: already in the queue")
                    continue
                run_dir = self.runs_root / run_id
                run = _Run(tracker=RunTracker(LiveRun.from_spec(spec, run_dir), self.history_len), spec=spec)
                try:
                    status = read_status(run_dir)
                except RunDirError as exc:
                    status = None
                    self._note(f"{run_id}: {exc}; the run directory is archived and the run started afresh")
                st = status.status if status else None
                if status is not None and st == RUNNING and procs.alive(status.job):
                    self._adopt(run, status)
                    self._note(f"{run_id}: already running (pid {status.pid}); attached, not started again")
                elif status is not None and st == RUNNING:
                    self._mark_disappeared(run_dir, status)
                    self._note(f"{run_id}: was left running by a job that is gone; marked failed and queued again")
                elif status is not None and st == RunStatus.SUCCEEDED and not rerun:
                    self._load_finished(run, status)
                    run.live.skipped = True
                self._runs[run_id] = run
                added.append(run.live)
            self._wire_shared()
            self._changed.notify_all()
        self._wake.set()
        return [r.copy() for r in added]

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="xcost-scheduler", daemon=True)
            self._thread.start()
        if self.gpu_ids:
            self._note(f"devices: {self.gpu_source}; up to {self.max_parallel} run(s) at once")
        else:  # the sampler's note says why there is no GPU
            self._note(f"devices: CPU only; up to {self.max_parallel} run(s) at once")
        self.sampler.start()
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

    def drain_messages(self) -> list[str]:
        """Notes since the last call: devices, shared phases, attaches, cancels, store errors."""
        with self._lock:
            out = list(self._messages)
            self._messages.clear()
            return out

    def cancel(self, run_id: str, *, force: bool = False) -> bool:
        """Cancels a queued run (it never starts) or a running one (SIGTERM to its process group,
        SIGKILL after the grace period, or at once with ``force``). False when the run is unknown
        or already over."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.live.done:
                return False
            live = run.live
            if live.status in (QUEUED, WAITING):
                live.status, live.ended, live.error = RunStatus.CANCELLED, time.time(), "cancelled before it started"
                self._changed.notify_all()
            elif live.status == RUNNING:
                if not run.cancel_requested:
                    run.cancel_requested = True
                    live.cancelling = True
                    run.kill_at = time.monotonic() + self.grace_s
                    if run.process is not None and not force:
                        procs.signal_group(run.process, signal.SIGTERM)
                        self._note(f"{live.label}: cancelling (SIGTERM; SIGKILL after {self.grace_s:g} s)")
                if force and run.process is not None and not run.sigkill_sent:
                    run.sigkill_sent = True
                    procs.signal_group(run.process, signal.SIGKILL)
                    self._note(f"{live.label}: killed (SIGKILL)")
        self._wake.set()
        return True

    def cancel_all(self) -> None:
        for live in self.snapshot():
            if not live.done:
                self.cancel(live.run_id)

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
        """Stops the scheduler. ``cancel_running``: cancel and wait for every run; otherwise runs
        already running keep running on their own (a later supervisor re-attaches them) and queued
        runs are dropped. Ends with a last ingest."""
        with self._lock:
            self._accepting = False
            for run in self._runs.values():
                if run.live.status in (QUEUED, WAITING):
                    live = run.live
                    live.status, live.ended = RunStatus.CANCELLED, time.time()
                    live.error = "cancelled before it started" if cancel_running else "not started: the supervisor stopped"
            self._changed.notify_all()
        if cancel_running:
            self.cancel_all()
            if self._thread is not None:
                self.wait(timeout if timeout is not None else self.grace_s + 30)
            else:  # never started: nothing polls, so reap here
                with self._lock:
                    self._step()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.sampler.stop()
        if self._ingestor is not None:
            self._ingestor.stop()

    def attach_existing(self, store_root: Path | str | None = None) -> list[LiveRun]:
        """Finds runs of the store left ``running``: a live job is tracked (and sampled, unless
        another live supervisor samples it); a dead one is recorded as failed."""
        runs_root = Path(store_root) / "runs" if store_root is not None else self.runs_root
        found: list[LiveRun] = []
        if not runs_root.is_dir():
            return found
        with self._lock:
            for run_dir in sorted(p for p in runs_root.iterdir() if p.is_dir()):
                try:
                    status = read_status(run_dir)
                except RunDirError as exc:
                    self._note(f"{run_dir.name}: skipped: {exc}")
                    continue
                if status is None or status.status != RUNNING:
                    continue
                run_id = run_dir.name
                if run_id in self._runs and not self._runs[run_id].live.done:
                    continue
                run = _Run(tracker=RunTracker(LiveRun.from_run_dir(run_dir), self.history_len))
                if procs.alive(status.job):
                    self._adopt(run, status)
                    self._note(f"{run_id}: re-attached to the running job (pid {status.pid})")
                else:
                    self._load_finished(run, self._mark_disappeared(run_dir, status))
                    self._note(f"{run_id}: {DISAPPEARED}; recorded as failed")
                    if self._ingestor is not None:
                        self._ingestor.request(run_dir)
                self._runs[run_id] = run
                found.append(run.live.copy())
            self._changed.notify_all()
        self._wake.set()
        return found

    # ==== the control loop ========================================================================
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    self._step()
            except Exception as exc:  # noqa: BLE001 - one bad poll never stops the queue
                self._note(f"scheduler: {type(exc).__name__}: {exc}")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _step(self) -> None:
        now = time.monotonic()
        for run in list(self._runs.values()):
            if run.live.status != RUNNING:
                continue
            run.tracker.poll()
            if run.popen is not None:
                rc = run.popen.poll()
                if rc is not None:
                    self._finish(run, rc)
                    continue
            elif not procs.alive(run.process):
                self._finish(run, None)
                continue
            if run.kill_at is not None and now >= run.kill_at and not run.sigkill_sent and run.process is not None:
                run.sigkill_sent = True
                procs.signal_group(run.process, signal.SIGKILL)
                self._note(f"{run.live.label}: still running {self.grace_s:g} s after SIGTERM; sent SIGKILL")
        self._release_waiting()
        self._launch_ready()

    def _release_waiting(self) -> None:
        for run in self._runs.values():
            live = run.live
            if live.status != WAITING:
                continue
            producer = self._runs.get(live.waiting_for or "")
            ckpt = self._checkpoint_of(producer) if producer else None
            if ckpt is not None:
                live.status = QUEUED
                self._set_init_from(run, str(ckpt))
            elif producer is None or producer.live.done:
                why = "was cancelled" if producer and producer.live.status == RunStatus.CANCELLED else "failed"
                if producer and producer.live.status == RunStatus.SUCCEEDED:
                    why = "saved no encoder"
                self._note(f"{live.label}: {live.waiting_for} {why}; this run trains its own intermediate phase")
                live.status, live.waiting_for = QUEUED, None
                self._set_init_from(run, None)

    def _checkpoint_of(self, producer: _Run) -> Path | None:
        """The producer's saved encoder, once it is complete (checkpoint_saved seen, phase.json there)."""
        path = RunDir(producer.run_dir).intermediate_checkpoint
        if producer.tracker.checkpoint_saved is None and producer.live.status != RunStatus.SUCCEEDED:
            return None
        return path if (path / "phase.json").is_file() else None

    def _set_init_from(self, run: _Run, path: str | None) -> None:
        if run.spec is not None:
            run.spec.init_from = path
        run.live.init_from = path

    def _launch_ready(self) -> None:
        busy = sum(1 for r in self._runs.values() if r.live.status == RUNNING)
        for run in self._runs.values():
            if busy >= self.max_parallel:
                return
            if run.live.status == QUEUED and run.spec is not None:
                self._launch(run)
                busy += 1

    def _pick_gpu(self, spec: RunSpec) -> str | None:
        if not self.gpu_ids or spec.device == "cpu" or spec.device.startswith("cuda:"):
            return None
        load = {g: 0 for g in self.gpu_ids}
        for r in self._runs.values():
            if r.live.status == RUNNING and r.live.gpu in load:
                load[r.live.gpu] += 1
        return min(self.gpu_ids, key=lambda g: load[g])  # the first of the least loaded

    def _launch(self, run: _Run) -> None:
        spec, live = run.spec, run.live
        assert spec is not None
        run_dir = live.run_dir
        self._archive_previous(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        run.tracker.reset_tails()
        gpu = self._pick_gpu(spec)
        started = time.time()
        write_json_atomic(RunDir(run_dir).spec, spec.to_dict())
        update_status(run_dir, RUNNING, job=None, started=started, ended=None, phase=None, error=None,
                      exit_code=None, gpu=gpu, supervisor=ProcessRef.current())
        env = {**os.environ, **self.extra_env, "PYTHONUNBUFFERED": "1"}
        if self.gpu_ids:
            if spec.device == "cpu":
                env["CUDA_VISIBLE_DEVICES"] = ""
            elif gpu is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpu
                env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # CUDA's numbering = NVML's
        live.status, live.started, live.ended, live.error, live.gpu = RUNNING, started, None, None, gpu
        live.exit_code, live.cancelling, live.skipped = None, False, False
        run.cancel_requested, run.kill_at, run.sigkill_sent = False, None, False
        try:
            cmd = self.job_command(run_dir)
            run.popen = procs.spawn(cmd, run_dir, env)
        except (OSError, ValueError) as exc:
            error = f"could not start the job: {type(exc).__name__}: {exc}"
            update_status(run_dir, RunStatus.FAILED, ended=time.time(), error=error)
            live.status, live.ended, live.error = RunStatus.FAILED, time.time(), error
            self._note(f"{live.label}: {error}")
            self._finished(run)
            return
        pid = run.popen.pid
        run.process = ProcessRef.of(pid)
        live.pid = pid
        current = self._read_status_quietly(run_dir)
        if current is not None and current.status == RUNNING and current.job is None:  # the job has not written yet
            update_status(run_dir, RUNNING, job=run.process)
        extra = f" on GPU {gpu}" if gpu is not None else ""
        extra += f", starting from {live.init_from}" if live.init_from else ""
        self._note(f"{live.label}: started (pid {pid}){extra}")
        self._changed.notify_all()

    def _read_status_quietly(self, run_dir: Path) -> StatusRecord | None:
        try:
            return read_status(run_dir)
        except RunDirError as exc:
            self._note(str(exc))
            return None

    def _archive_previous(self, run_dir: Path) -> None:
        """A rerun keeps the previous attempt under <store>/archive/, out of the store's way."""
        if not run_dir.exists() or not any(run_dir.iterdir()):
            return
        dest = self.store_root / "archive" / f"{run_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        n = 1
        while dest.exists():
            n += 1
            dest = dest.with_name(f"{dest.name.rsplit('.', 1)[0]}.{n}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(run_dir), str(dest))
        self._note(f"{run_dir.name}: the previous attempt moved to {dest}")

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
            try:
                update_status(live.run_dir, final, ended=ended, error=error, exit_code=rc)
            except WriteError as exc:
                self._note(f"{live.label}: could not record its end ({exc})")
        run.popen = None
        live.status, live.error, live.exit_code = final, error, rc
        live.ended = ended or time.time()
        live.cancelling = False
        self._finished(run)

    def _finished(self, run: _Run) -> None:
        if self._ingestor is not None:
            self._ingestor.request(run.run_dir)
        self._changed.notify_all()
        self._wake.set()

    # ==== shared intermediate phases ==============================================================
    def _wire_shared(self) -> None:
        """Runs in the queue that would train the same intermediate phase(s): the first saves its
        encoder, the others wait for it and start from it. An encoder already saved in the store
        (by a run not being rerun) is used at once."""
        pending = [r for r in self._runs.values() if r.spec is not None and r.live.status == QUEUED
                   and not r.live.waiting_for and _trains_intermediate(r.spec)]
        if not pending:
            return
        saved = self._saved_encoders()
        groups: dict[str, list[_Run]] = {}
        for r in pending:
            groups.setdefault(intermediate_key_str(r.spec), []).append(r)
        for key, members in groups.items():
            if key in saved:
                for r in members:
                    self._set_init_from(r, str(saved[key]))
                self._note(f"{len(members)} run(s) start from the saved encoder {saved[key]}")
                continue
            producer = next((r for r in self._runs.values() if r.spec is not None and not r.live.done
                             and r.live.status != WAITING and r.spec.save_encoder and _trains_intermediate(r.spec)
                             and intermediate_key_str(r.spec) == key), None)
            if producer is None:
                if len(members) < 2:
                    continue
                producer, members = members[0], members[1:]
                producer.spec.save_encoder = True
                producer.live.save_encoder = True
            else:
                members = [r for r in members if r is not producer]
            for r in members:
                r.live.status, r.live.waiting_for = WAITING, producer.live.run_id
            if members:
                self._note(f"shared intermediate phase: {producer.live.label} saves its encoder; "
                           f"{', '.join(r.live.label for r in members)} start from it")

    def _saved_encoders(self) -> dict[str, Path]:
        """Intermediate key -> a saved encoder under <store>/runs (not of runs about to be rerun)."""
        out: dict[str, Path] = {}
        if not self.runs_root.is_dir():
            return out
        requeued = {rid for rid, r in self._runs.items() if r.live.status in (QUEUED, WAITING, RUNNING)}
        for meta in sorted(self.runs_root.glob("*/checkpoints/intermediate/phase.json")):
            run_dir = meta.parents[2]
            if run_dir.name in requeued:
                continue
            try:
                key = json.loads(meta.read_text(encoding="utf-8")).get("key")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(key, dict):
                out.setdefault(json.dumps(key, sort_keys=True), meta.parent)
        return out

    # ==== bookkeeping =============================================================================
    def _adopt(self, run: _Run, status: StatusRecord) -> None:
        """Tracks a job that is already running (started by an earlier supervisor)."""
        live = run.live
        live.status, live.attached = RUNNING, True
        live.pid, live.started, live.gpu = status.pid, status.started, status.gpu
        run.process = status.job
        sup = status.supervisor
        run.sample = not (sup is not None and sup.pid != os.getpid() and procs.alive(sup))
        run.tracker.poll()

    def _load_finished(self, run: _Run, status: StatusRecord) -> None:
        live = run.live
        live.status = status.status
        live.started, live.ended, live.error = status.started, status.ended, status.error
        live.pid = status.pid
        run.tracker.poll()

    def _mark_disappeared(self, run_dir: Path, status: StatusRecord) -> StatusRecord:
        return update_status(run_dir, RunStatus.FAILED, ended=time.time(), error=DISAPPEARED, phase=status.phase)

    def _sample_targets(self) -> list[SampleTarget]:
        with self._lock:
            out = []
            for run in self._runs.values():
                live = run.live
                if live.status == RUNNING and live.pid and run.sample:
                    if live.gpu is not None and str(live.gpu).isdigit():
                        gpus: tuple[int, ...] | None = (int(live.gpu),)
                    elif run.spec is not None and run.spec.device == "cpu":
                        gpus = ()
                    else:
                        gpus = None  # every device
                    out.append(SampleTarget(live.run_id, live.pid, live.run_dir, live.phase, gpus))
            return out

    def _active_dirs(self) -> list[Path]:
        with self._lock:
            return [r.run_dir for r in self._runs.values() if r.live.status == RUNNING]

    def _note(self, message: str) -> None:
        with self._lock:
            self._messages.append(message)


def _trains_intermediate(spec: RunSpec) -> bool:
    return bool(spec.intermediate) and spec.method in ("intermediate", "few-shot") and not spec.init_from


# ==== the store ==================================================================================

def ingest_runs(store_root: Path, run_dirs: list[Path], *, only_changed: bool = False):
    """Loads run directories into the store (imported here: the store is not needed to run)."""
    from ..store.ingest import ingest

    return ingest(store_root, run_dirs, only_changed=only_changed)


class _Ingestor:
    """Ingests finished runs soon after they end and running runs every ``every_s`` (so SQL sees
    live progress). Store errors become notes, never exceptions."""

    def __init__(self, store_root: Path, every_s: float, active: Callable[[], list[Path]],
                 note: Callable[[str], None]):
        self.store_root = store_root
        self.every_s = every_s
        self.active = active
        self.note = note
        self.pending: set[Path] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.errors = 0
        self._last_error: str | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="xcost-ingest", daemon=True)
            self.thread.start()

    def request(self, run_dir: Path) -> None:
        with self.lock:
            self.pending.add(Path(run_dir))
        self.wake.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(60)
            self.thread = None
        self.flush(include_active=True)

    def _loop(self) -> None:
        last_live = time.monotonic()
        while not self.stop_event.is_set():
            self.wake.wait(self.every_s)
            self.wake.clear()
            if self.stop_event.is_set():
                break
            live_due = time.monotonic() - last_live >= self.every_s
            if live_due:
                last_live = time.monotonic()
            self.flush(include_active=live_due)
            time.sleep(0.2)  # coalesce a burst of finishing runs into one write

    def flush(self, include_active: bool = False) -> None:
        with self.lock:
            dirs = set(self.pending)
            self.pending.clear()
        if include_active:
            dirs |= set(self.active())
        dirs = {d for d in dirs if d.is_dir()}
        if not dirs:
            return
        try:
            ingest_runs(self.store_root, sorted(dirs), only_changed=True)
            self._last_error = None
        except Exception as exc:  # noqa: BLE001 - the store never stops the queue
            self.errors += 1
            msg = f"store: could not ingest {len(dirs)} run(s) ({type(exc).__name__}: {exc}); will retry"
            if msg != self._last_error:
                self.note(msg)
            self._last_error = msg
            with self.lock:
                self.pending |= dirs
