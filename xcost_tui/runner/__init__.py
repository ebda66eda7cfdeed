"""The supervisor side of runs: queue, processes, sampling, live state (no torch here).

- ``scheduler``: ``Scheduler`` runs RunSpecs as ``python -m xcost_tui.job RUN_DIR`` subprocesses.
- ``live``: ``LiveRun`` snapshots and ``RunHistory`` for the app and the headless mode.
- ``sampler``: the thread writing samples.jsonl (psutil process tree, NVML per GPU and pid).
- ``procs``: spawning, liveness and signals (by process identity, never a bare pid), GPU detection.

docs/runner.md describes the process model.
"""

from .live import QUEUED, WAITING, LiveRun, RunHistory
from .sampler import SampleTarget, Sampler
from .scheduler import Scheduler, ingest_runs

__all__ = ["QUEUED", "WAITING", "LiveRun", "RunHistory", "SampleTarget", "Sampler", "Scheduler", "ingest_runs"]
