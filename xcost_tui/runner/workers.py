"""Warm workers of the local executor: one long-lived job process per slot (docs/runner.md, "Warm workers").

A slot is what a worker's process fixes at its start: the GPU it sees (``CUDA_VISIBLE_DEVICES``;
None on a machine without GPUs). ``WorkerPool.hand`` gives a run to an idle worker of its slot, or
starts one (``python -m xcost_tui.job --worker STORE/workers/<id>``, in its own session, stdin a
pipe, its own output in the worker folder's worker.log); a worker runs one run at a time, so there
are as many workers as runs at once. A worker that died is replaced at the next run of its slot.
``close_idle`` ends the workers nothing is queued for (stdin closed: they exit), ``close_all`` ends
every worker once its run in hand is over (a supervisor that stops without cancelling).

Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..rundir import JsonlReader, ProcessRef, RunDir, StoreLayout, WorkerDir
from ..rundir.worker import WorkerRun

WORKER_SLOT_ENV = "XCOST_WORKER_SLOT"  # job/worker.py records it (the slot it serves)
GPU_ENV = "CUDA_VISIBLE_DEVICES"


@dataclass
class PoolWorker:
    """One warm worker process of this supervisor."""

    dir: WorkerDir
    slot: str | None
    popen: subprocess.Popen[bytes]
    ref: ProcessRef
    env: dict[str, str]  # the environment it was started with: a run sends what differs
    run_id: str | None = None  # the run it is running (handed, not yet over)
    closed: bool = False
    _reader: JsonlReader | None = None
    _ran: set[str] = field(default_factory=set)

    @property
    def worker_id(self) -> str:
        return self.dir.worker_id

    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def ran(self, run_id: str) -> bool:
        """Whether its record says it is done with ``run_id`` (the run's files closed)."""
        if run_id in self._ran:
            return True
        if self._reader is None:
            self._reader = JsonlReader(self.dir.record)
        for obj in self._reader.read():
            if obj.get("type") == WorkerRun.TYPE and isinstance(obj.get("run_id"), str):
                self._ran.add(obj["run_id"])
        return run_id in self._ran

    def close(self) -> None:
        """Closes its stdin: it exits once its run in hand (if any) is over."""
        if not self.closed:
            self.closed = True
            try:
                if self.popen.stdin is not None:
                    self.popen.stdin.close()
            except OSError:
                pass


class WorkerPool:
    def __init__(self, layout: StoreLayout):
        self.layout = layout
        self.workers: list[PoolWorker] = []
        self._lock = threading.Lock()
        self._n = 0

    def hand(self, run_id: str, run_dir: Path, env: dict[str, str]) -> PoolWorker:
        """Gives the run to an idle worker of its slot (started when there is none); raises
        OSError when no worker could take it."""
        slot = env.get(GPU_ENV)
        with self._lock:
            self._reap()
            worker = next((w for w in self.workers if w.slot == slot and w.run_id is None and not w.closed), None)
            if worker is None:
                worker = self._spawn(slot, env)
            worker.run_id = run_id
        diff = {k: v for k, v in env.items() if worker.env.get(k) != v}
        line = json.dumps({"run_dir": str(run_dir), "env": diff}) + "\n"
        try:
            assert worker.popen.stdin is not None
            worker.popen.stdin.write(line.encode())
            worker.popen.stdin.flush()
        except (OSError, ValueError) as exc:  # it died meanwhile: a fresh one takes the run
            worker.run_id = None
            worker.close()
            with self._lock:
                fresh = self._spawn(slot, env)
                fresh.run_id = run_id
            try:
                assert fresh.popen.stdin is not None
                fresh.popen.stdin.write(json.dumps({"run_dir": str(run_dir), "env": {}}).encode() + b"\n")
                fresh.popen.stdin.flush()
            except (OSError, ValueError):
                fresh.run_id = None
                raise OSError(f"the worker of slot {slot or 'cpu'} could not take the run ({exc})") from exc
            return fresh
        return worker

    def _spawn(self, slot: str | None, env: dict[str, str]) -> PoolWorker:
        self._n += 1
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{self._n}"
        wdir = self.layout.worker_dir(name)
        wdir.path.mkdir(parents=True, exist_ok=True)
        env = {**env, WORKER_SLOT_ENV: slot if slot is not None else f"cpu:{self._n}"}
        with open(wdir.log, "ab") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "xcost_tui.job", "--worker", str(wdir.path)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        worker = PoolWorker(wdir, slot, popen, ProcessRef.of(popen.pid), env)
        self.workers.append(worker)
        return worker

    def release(self, worker: PoolWorker) -> None:
        """The worker's run is over: it takes the next (or, dead, is dropped)."""
        with self._lock:
            worker.run_id = None
            self._reap()

    def _reap(self) -> None:
        for w in [w for w in self.workers if not w.alive()]:
            if w.run_id is None:
                w.close()
                self.workers.remove(w)

    def close_idle(self) -> None:
        with self._lock:
            for w in self.workers:
                if w.run_id is None:
                    w.close()
            self._reap()

    def close_all(self, wait_s: float = 10.0) -> None:
        """Closes every worker's stdin, then waits (``wait_s`` at most) for those with no run in
        hand to exit: their record's end is written, and they are reaped, before the supervisor's
        last ingest. One with a run in hand (left running) ends after that run, on its own."""
        with self._lock:
            for w in self.workers:
                w.close()
            idle = [w for w in self.workers if w.run_id is None]
        deadline = time.monotonic() + wait_s
        for w in idle:
            try:
                w.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        with self._lock:
            self._reap()

    def running(self) -> int:
        with self._lock:
            return sum(1 for w in self.workers if w.alive())


def log_ready(run_dir: Path) -> None:
    """Opens the run's job.log once, as a spawn would: a store that takes no writes fails here."""
    with open(RunDir(run_dir).log, "ab"):
        pass
