"""A warm worker: one long-lived job process that runs many runs, one after another.

``python -m xcost_tui.job --worker WORKER_DIR`` reads one JSON request a line on stdin
(``{"run_dir": ..., "env": {...}}``: the run, and how its environment differs from the worker's,
e.g. its CPU share) and runs each as ``Job(run_dir).main()`` in this process, until stdin closes
(it then exits, after the run in hand). ``python -m xcost_tui.job --runs RUN_DIR ...`` runs a fixed
list the same way (a SLURM job that runs a packed list of runs).

The interpreter, the imports and the CUDA context are paid once, and recorded, not hidden: the
worker's start-up (creation until ready, wall and CPU seconds) in ``WORKER_DIR/worker.jsonl``
(rundir/worker.py) and in each run's events (``worker``), each run's model load or restore in its
``model_loaded`` (job/cache.py keeps what a run loaded for the next). Each run is the run it would
be in its own process: its own run directory, events, status and log (fds 1 and 2 point at its
job.log while it runs), its CPU share (torch.set_num_threads), its seeds set afresh, a fresh model
and optimiser; garbage is collected between runs, and after a CUDA out-of-memory the allocator's
cache is emptied.

Signals: SIGUSR1 cancels the run in hand when its cancel request exists (RUN_DIR/cancel.request,
rundir/cancel.py; the supervisor, or a packed SLURM job's driver, writes it, then signals this
process only, never its group: the sampler beside the run shares it); a run whose request exists
before it starts is recorded cancelled and not run.
SIGTERM or SIGINT cancels the run in hand and ends the worker after it. SIGKILL ends both (the
supervisor records the run's end and starts a new worker for the next).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..measure.contention import apply_thread_share
from ..methods import METHOD_TABLE
from ..rundir import ProcessRef, RunDir, StoreLayout, WorkerDir, WorkerInfo, read_status
from ..rundir.cancel import read_cancel_request
from ..rundir.jsonl import JsonlWriter
from ..rundir.worker import WorkerEnd, WorkerRun, WorkerStart
from .log import _log
from .main import USAGE, Job, deterministic_cublas

SLOT_ENV = "XCOST_WORKER_SLOT"  # the slot a worker serves ("0" for GPU 0, "cpu:1"), for its record
CANCELLED_BEFORE_START = "cancelled before it started"


class _Stop(Exception):
    """A signal asked an idle worker to end."""


class Worker:
    def __init__(self, worker_dir: WorkerDir):
        self.dir = worker_dir
        self.current: Job | None = None
        self.stop_reason: str | None = None
        self.index = 0
        self.info: WorkerStart | None = None
        self._threads: int | None = None
        self._record: JsonlWriter | None = None
        self._out = (os.dup(1), os.dup(2))  # the worker's own stdout and stderr, between runs

    # ---- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        """Everything a run would pay at its start and a worker pays once: the CPU share, torch and
        every method's runner imported, the CUDA context; then the record of what it cost."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGUSR1, self._on_cancel)
        threads = apply_thread_share()
        deterministic_cublas()
        # torch and the runners: the start-up this process pays once, imported after the CPU share
        # is applied to the environment (torch's thread pools read it on import)
        import torch

        # deferred: job/cache.py pulls in torch (start-up cost, after the CPU share is applied)
        from .cache import CACHE

        for runner in sorted({m.runner.partition(":")[0] for m in METHOD_TABLE.values()}):
            importlib.import_module(runner)
        if torch.cuda.is_available():
            torch.zeros(1, device="cuda")  # the CUDA context, once
        CACHE.enabled = True
        self._threads = torch.get_num_threads()  # the worker's own share: restored after each run
        gc.collect()
        gc.freeze()  # the start-up's objects are never garbage: later collections skip them
        ref = ProcessRef.current()
        created = ref.create_time
        now = time.time()
        self.info = WorkerStart(
            worker_id=self.dir.worker_id,
            pid=ref.pid,
            create_time=created,
            host=ref.host,
            slot=os.environ.get(SLOT_ENV),
            threads=threads,
            startup_wall_s=(now - created) if created else None,
            startup_cpu_s=time.process_time(),
            t=now,
        )
        self._record = JsonlWriter(self.dir.record)
        self._record.write(self.info.to_dict())
        _log(
            f"worker {self.dir.worker_id} (pid {ref.pid}) ready: start-up "
            f"{self.info.startup_wall_s or 0:.2f}s wall, {self.info.startup_cpu_s:.2f}s CPU"
        )

    # ---- the runs ------------------------------------------------------------------------------------
    def serve(self, requests: Iterator[dict[str, Any]]) -> int:
        reason = "no more runs"
        try:
            for request in requests:
                self.run_one(Path(request["run_dir"]), dict(request.get("env") or {}))
                if self.stop_reason is not None:
                    break
        except _Stop:
            pass
        if self.stop_reason is not None:
            reason = self.stop_reason
        if self._record is not None:
            self._record.write(WorkerEnd(self.index, time.process_time(), reason, time.time()).to_dict())
            self._record.close()
        _log(f"worker {self.dir.worker_id}: {self.index} run(s); ended ({reason})")
        return 0

    def run_one(self, run_dir: Path, env: dict[str, str]) -> None:
        assert self.info is not None
        started, cpu0 = time.time(), time.process_time()
        saved_env = dict(os.environ)
        os.environ.update({str(k): str(v) for k, v in env.items()})
        info = WorkerInfo(
            self.info.worker_id, self.info.pid, self.index, self.info.startup_wall_s, self.info.startup_cpu_s
        )
        job = Job(run_dir, cancel=threading.Event(), worker=info)
        code: int | None = None
        self._to_run_log(RunDir(run_dir).log)
        try:
            self.current = job  # from here a SIGUSR1 reaches this run (no window before the check)
            if read_cancel_request(run_dir) is not None:  # cancelled while it waited for this worker
                _log(f"run {run_dir.name}: {CANCELLED_BEFORE_START}; not run")
                code = job.cancel_before_start(CANCELLED_BEFORE_START)
            else:
                code = job.main()
        finally:
            self.current = None
            self._to_worker_log()
            os.environ.clear()
            os.environ.update(saved_env)
        self._after_run(job)
        status = _final_status(run_dir)
        ended = time.time()
        assert self._record is not None
        self._record.write(
            WorkerRun(run_dir.name, self.index, started, ended, cpu0, time.process_time(), status, code).to_dict()
        )
        self.index += 1

    def _after_run(self, job: Job) -> None:
        """Nothing of one run reaches the next: its objects collected, the allocator's cache emptied
        (after a CUDA out-of-memory, what the run held is given back before the next starts)."""
        import torch  # imported at start(): no cost here

        del job
        if self._threads is not None:  # a run's share (torch.set_num_threads) is that run's only
            torch.set_num_threads(self._threads)
        torch.use_deterministic_algorithms(False)  # as a fresh process has it; each run sets its own
        gc.collect()
        # What survives is alive for the next runs (the cache's data and models, imported modules):
        # frozen, later collections skip it. A full collection over the cache took 0.15 s a run
        # on demo-grid; one over what a run leaves behind takes a few ms. The cache unfreezes
        # before it drops an entry (job/cache.py), so nothing it lets go is kept for good.
        gc.freeze()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ---- output ----------------------------------------------------------------------------------
    def _to_run_log(self, log: Path) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        finally:
            os.close(fd)

    def _to_worker_log(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._out[0], 1)
        os.dup2(self._out[1], 2)

    # ---- signals -------------------------------------------------------------------------------------
    def _on_cancel(self, signum: int, frame: object) -> None:
        job = self.current
        if job is not None and read_cancel_request(job.run_dir) is not None:
            _log(f"run {job.run_dir.name}: cancel requested: cancelling after the current batch")
            job.cancel.set()

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stop_reason = f"signal {signal.Signals(signum).name}"
        job = self.current
        if job is not None:
            _log(f"received {signal.Signals(signum).name}: cancelling run {job.run_dir.name}; the worker ends after it")
            job.cancel.set()
        else:
            raise _Stop()


def _final_status(run_dir: Path) -> str | None:
    try:
        record = read_status(run_dir)
    except Exception:  # noqa: BLE001 - the run's own record says; the worker's line stays written
        return None
    return record.status.value if record is not None else None


def _stdin_requests() -> Iterator[dict[str, Any]]:
    """One request a line until stdin closes; a line that is not a request is said and skipped."""
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("run_dir"), str):
                raise ValueError("not an object with a run_dir")
        except ValueError as exc:
            print(f"worker: request skipped ({exc}): {line[:200]}", file=sys.stderr, flush=True)
            continue
        yield request


def _list_requests(run_dirs: list[str]) -> Iterator[dict[str, Any]]:
    for run_dir in run_dirs:
        yield {"run_dir": run_dir, "env": {}}


def list_worker_dir(run_dir: Path) -> WorkerDir:
    """The worker folder of a ``--runs`` list: in the store of its first run (STORE/runs/<id>),
    named by the SLURM job (or the host) and the pid (a packed job restarts its worker after a kill)."""
    name = os.environ.get("SLURM_JOB_ID") or socket.gethostname()
    return StoreLayout(run_dir.resolve().parent.parent).worker_dir(f"list-{name}-{os.getpid()}")


def worker_main(argv: list[str]) -> int:
    mode, rest = argv[0], argv[1:]
    if mode == "--worker" and len(rest) == 1:
        worker_dir, requests = WorkerDir(Path(rest[0])), _stdin_requests()
    elif mode == "--runs" and rest:
        missing = [r for r in rest if not Path(r).is_dir()]
        if missing:
            print(f"error: run directory {missing[0]} does not exist", file=sys.stderr)
            return 2
        worker_dir, requests = list_worker_dir(Path(rest[0])), _list_requests(rest)
    else:
        print(USAGE, file=sys.stderr)
        return 2
    worker_dir.path.mkdir(parents=True, exist_ok=True)
    worker = Worker(worker_dir)
    try:
        worker.start()
    except _Stop:
        return 143
    return worker.serve(requests)
