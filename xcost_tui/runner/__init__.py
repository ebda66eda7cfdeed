"""The supervisor side of runs: queue, processes, sampling, live state (no torch here).

- ``scheduler``: ``Scheduler`` runs RunSpecs as ``python -m xcost_tui.job RUN_DIR`` subprocesses.
- ``api``: ``RunnerAPI``, the protocol the app and the headless mode use (``Scheduler`` satisfies it).
- ``claims``: which supervisor launches and follows a run (a flock per run in ``STORE/locks/``).
- ``shared``: which queued runs share an intermediate phase (pure decisions).
- ``ingestor``: the thread that loads runs into the store.
- ``live``: ``LiveRun`` snapshots and ``RunHistory`` for the app and the headless mode.
- ``notes``: ``Note(level, text)``, what the runner tells its user.
- ``sampler``: the thread writing samples.jsonl (psutil process tree, NVML per GPU and pid).
- ``procs``: spawning, liveness and signals (by process identity, never a bare pid), GPU detection.

docs/runner.md describes the process model.
"""

from .api import RunnerAPI
from .live import QUEUED, WAITING, LiveRun, RunHistory
from .notes import Note, NoteLevel
from .sampler import Sampler, SampleTarget
from .scheduler import Scheduler

__all__ = [
    "QUEUED",
    "WAITING",
    "LiveRun",
    "Note",
    "NoteLevel",
    "RunHistory",
    "RunnerAPI",
    "SampleTarget",
    "Sampler",
    "Scheduler",
]
