"""Where everything lives: the files of one run directory and the folders of a store.

Every path a run, the runner, the store or the app uses is named here and nowhere else::

    STORE/xcost.duckdb               the DuckDB index (rebuildable from the run directories)
    STORE/.xcost.duckdb.lock         writers of the database queue on it
    STORE/runs/<run_id>/             one run directory per run (the source of truth)
    STORE/archive/<run_id>-<time>/   earlier attempts of a rerun run
    STORE/locks/<run_id>.lock        a supervisor's claim on a run while it launches and follows it
    STORE/forecasts/<id>.json        a plan's forecast (``xcost-tui plan estimate``; the forecasts table)
    STORE/workers/<worker_id>/       a warm worker (job/worker.py): worker.jsonl (rundir/worker.py), worker.log

    RUN_DIR/spec.json                the RunSpec, written before the job starts
    RUN_DIR/status.json              StatusRecord (status.py), replaced atomically
    RUN_DIR/events.jsonl             typed events (events.py), append-only
    RUN_DIR/predictions.jsonl        one Prediction (records.py) per evaluated example
    RUN_DIR/samples.jsonl            one Sample (records.py) per resource sample
    RUN_DIR/translations.jsonl       translate-test: one Translation (records.py) per item and language
    RUN_DIR/loglikelihoods.jsonl     icl: every query's prompt, continuations and log-likelihoods
    RUN_DIR/job.log                  the job's stdout and stderr
    RUN_DIR/checkpoints/intermediate/  a saved encoder other runs may start from (+ phase.json)
    RUN_DIR/checkpoints/target/      the model after the target phase other runs may start from (+ phase.json)
    RUN_DIR/checkpoints/resume/<n>/  the latest resume checkpoint of an unfinished run (rundir/resume.py)
    RUN_DIR/cancel.request           a supervisor's request to cancel this run only (a run in a warm
                                     worker or a packed SLURM job: rundir/cancel.py)

Paths kept in the store are relative to the store root when they lie under it, so a copied
or moved store still reads its own run directories (``StoreLayout.relative``/``resolve``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jsonl import read_json_object

SPEC = "spec.json"
STATUS = "status.json"
EVENTS = "events.jsonl"
PREDICTIONS = "predictions.jsonl"
SAMPLES = "samples.jsonl"
TRANSLATIONS = "translations.jsonl"
LOGLIKELIHOODS = "loglikelihoods.jsonl"
LOG = "job.log"
CHECKPOINTS = "checkpoints"
INTERMEDIATE = "intermediate"
TARGET = "target"
RESUME = "resume"
PHASE_META = "phase.json"
CANCEL_REQUEST = "cancel.request"

DB_NAME = "xcost.duckdb"
WRITE_LOCK = ".xcost.duckdb.lock"  # writers of the database queue on it (flock)
RUNS = "runs"
ARCHIVE = "archive"
LOCKS = "locks"
FORECASTS = "forecasts"
WORKERS = "workers"
WORKER_LOG = "worker.jsonl"
WORKER_OUTPUT = "worker.log"

# The files a run's rows in the store are built from (their sizes and times say whether it changed).
INGESTED_FILES = (SPEC, STATUS, EVENTS, PREDICTIONS, SAMPLES, TRANSLATIONS)


@dataclass(frozen=True)
class RunDir:
    """The files of one run directory."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def spec(self) -> Path:
        return self.path / SPEC

    @property
    def status(self) -> Path:
        return self.path / STATUS

    @property
    def events(self) -> Path:
        return self.path / EVENTS

    @property
    def predictions(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def translations(self) -> Path:
        return self.path / TRANSLATIONS

    @property
    def loglikelihoods(self) -> Path:
        return self.path / LOGLIKELIHOODS

    @property
    def log(self) -> Path:
        return self.path / LOG

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def intermediate_checkpoint(self) -> Path:
        """Where the encoder after the intermediate phase(s) is saved for reuse."""
        return self.path / CHECKPOINTS / INTERMEDIATE

    @property
    def cancel_request(self) -> Path:
        """A supervisor's request to cancel this run alone (rundir/cancel.py)."""
        return self.path / CANCEL_REQUEST

    @property
    def target_checkpoint(self) -> Path:
        """Where the model after the target phase (its English validation, collapse retries and
        learning curve) is saved for reuse (issue 18)."""
        return self.path / CHECKPOINTS / TARGET

    @property
    def resume_checkpoints(self) -> Path:
        """Where a training phase's resume checkpoints are written (rundir/resume.py)."""
        return self.path / CHECKPOINTS / RESUME

    def read_spec(self) -> dict[str, Any]:
        """spec.json as a dict, not validated (a spec of another version must still be readable).
        Raises FileNotFoundError when absent, ValueError when it is not a JSON object."""
        data = read_json_object(self.spec)
        if data is None:
            raise FileNotFoundError(str(self.spec))
        return data

    def exists(self) -> bool:
        """A folder holding at least one of the files a job or the runner writes first."""
        return self.path.is_dir() and any((self.path / f).exists() for f in (SPEC, STATUS, EVENTS))

    def signature(self) -> str:
        """Size and modification time of the ingested files: unchanged signature, unchanged rows."""
        parts = []
        for name in INGESTED_FILES:
            try:
                st = (self.path / name).stat()
                parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
            except FileNotFoundError:
                parts.append(f"{name}:-")
        return "|".join(parts)


@dataclass(frozen=True)
class WorkerDir:
    """The files of one warm worker (job/worker.py): its record and its own output."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def worker_id(self) -> str:
        return self.path.name

    @property
    def record(self) -> Path:
        """worker.jsonl: worker_start, one line per run, worker_end (rundir/worker.py)."""
        return self.path / WORKER_LOG

    @property
    def log(self) -> Path:
        """The worker's stdout and stderr outside its runs (each run's go to its job.log)."""
        return self.path / WORKER_OUTPUT


@dataclass(frozen=True)
class StoreLayout:
    """The folders of a store (``--store DIR``)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def db(self) -> Path:
        return self.root / DB_NAME

    @property
    def write_lock(self) -> Path:
        return self.root / WRITE_LOCK

    @property
    def runs(self) -> Path:
        return self.root / RUNS

    @property
    def archive(self) -> Path:
        return self.root / ARCHIVE

    @property
    def locks(self) -> Path:
        return self.root / LOCKS

    @property
    def forecasts(self) -> Path:
        """Forecasts of plans (xcost_tui/estimate): the source of truth of the store's forecasts table."""
        return self.root / FORECASTS

    @property
    def workers(self) -> Path:
        """Warm workers' folders (job/worker.py): the source of truth of the store's workers table."""
        return self.root / WORKERS

    def worker_dir(self, worker_id: str) -> WorkerDir:
        return WorkerDir(self.workers / worker_id)

    def worker_dirs(self) -> list[WorkerDir]:
        """Every worker folder holding a worker.jsonl, sorted by name."""
        if not self.workers.is_dir():
            return []
        return sorted(
            (WorkerDir(p) for p in self.workers.iterdir() if (p / WORKER_LOG).is_file()), key=lambda w: w.worker_id
        )

    def run_dir(self, run_id: str) -> RunDir:
        return RunDir(self.runs / run_id)

    def lock_file(self, run_id: str) -> Path:
        return self.locks / f"{run_id}.lock"

    def run_dirs(self) -> list[RunDir]:
        """Every run directory under runs/, sorted by name."""
        if not self.runs.is_dir():
            return []
        found = (RunDir(p) for p in self.runs.iterdir())
        return sorted((d for d in found if d.exists()), key=lambda d: d.run_id)

    def contains(self, path: Path | str) -> bool:
        try:
            Path(os.path.abspath(path)).relative_to(os.path.abspath(self.root))
        except ValueError:
            return False
        return True

    def relative(self, path: Path | str) -> str:
        """``path`` as the store records it: relative to the root when under it, else absolute."""
        absolute = Path(os.path.abspath(path))
        try:
            return absolute.relative_to(os.path.abspath(self.root)).as_posix()
        except ValueError:
            return str(absolute)

    def resolve(self, recorded: str | None) -> Path | None:
        """The path a recorded (relative or absolute) path names now."""
        if not recorded:
            return None
        p = Path(recorded)
        return p if p.is_absolute() else self.root / p
