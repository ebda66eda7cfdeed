"""The supervisor side of runs: queue, executors, live state (no torch here).

- ``scheduler``: ``Scheduler``, the queue and its control loop: RunSpecs run as ``python -m xcost_tui.job RUN_DIR``.
- ``api``: ``RunnerAPI``, the protocol the app and the headless mode use (``Scheduler`` satisfies it).
- ``runs``: ``Run``, one run as the scheduler keeps it, and ``Supervisor``, the scheduler as the rest sees it.
- ``executors``: the ``Executor`` protocol (start, poll, finish, cancel, adopt) and which one runs a run;
  ``local`` (subprocesses of this machine) and ``slurm`` (SLURM jobs; ``slurm_jobs``: what SLURM says, parsed).
- ``outcome``: the one rule for a run's end once its job process is gone.
- ``reattach``: runs found running, and runs another supervisor runs (follow, adopt, take over).
- ``gone``: a run left running whose job is gone, recorded failed outside a supervisor (``xcost-tui ingest``).
- ``claims``: which supervisor launches and follows a run (a flock per run in ``STORE/locks/``).
- ``storage``: what the supervisor writes into a run directory, and a store that refuses it.
- ``shared``: which queued runs share a target or an intermediate phase (pure decisions, applied to the queue).
- ``offline``: what a run needs from the Hugging Face hub, staged or not (``HF_HUB_OFFLINE=1``).
- ``foreground``: one run in the foreground (``xcost-tui run``: commands/run.py).
- ``ingestor``: the thread that loads runs into the store.
- ``live``: ``LiveRun`` snapshots and ``RunHistory`` for the app and the headless mode.
- ``notes``: ``Note(level, text)``, what the runner tells its user.
- ``procs``: spawning, liveness and signals (by process identity, never a bare pid), GPU detection.

The sampler beside each job is job-side code: measure/sampler.py. docs/runner.md describes the
process model.
"""

from .api import RunnerAPI
from .live import QUEUED, WAITING, LiveRun, RunHistory
from .notes import Note, NoteLevel
from .scheduler import Scheduler

__all__ = [
    "QUEUED",
    "WAITING",
    "LiveRun",
    "Note",
    "NoteLevel",
    "RunHistory",
    "RunnerAPI",
    "Scheduler",
]
