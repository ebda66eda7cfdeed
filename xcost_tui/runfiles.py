"""The run directory: the source of truth for one run.

Layout (every file is plain text; see docs/run-directory.md)::

    RUN_DIR/spec.json          the RunSpec, as written before the job starts
    RUN_DIR/status.json        {"status": running|succeeded|failed|cancelled, ...}, replaced atomically
    RUN_DIR/events.jsonl       append-only, one JSON object per line, flushed per line
    RUN_DIR/predictions.jsonl  one row per evaluated example
    RUN_DIR/samples.jsonl      supervisor-side resource samples (written by the runner)
    RUN_DIR/job.log            the job's stdout and stderr
    RUN_DIR/checkpoints/<phase>/  saved encoders that other runs may start from

This module never imports torch: the supervisor, the store and the TUI use it.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

SPEC = "spec.json"
STATUS = "status.json"
EVENTS = "events.jsonl"
PREDICTIONS = "predictions.jsonl"
SAMPLES = "samples.jsonl"
LOG = "job.log"
CHECKPOINTS = "checkpoints"

RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"
FINAL_STATUSES = (SUCCEEDED, FAILED, CANCELLED)


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf; a non-finite float becomes null rather than invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(obj: Any) -> str:
    return json.dumps(_clean(obj), separators=(",", ":"), ensure_ascii=False, default=str)


class JsonlWriter:
    """Appends one JSON object per line and flushes each line, so a crash loses at most one line."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8", buffering=1)

    def write(self, obj: dict) -> None:
        self._fh.write(dumps(obj) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventWriter(JsonlWriter):
    """Writes ``{"t": <unix seconds>, "type": <type>, ...}`` events."""

    def emit(self, type_: str, **fields: Any) -> dict:
        event = {"t": time.time(), "type": type_, **fields}
        self.write(event)
        return event


def iter_jsonl(path: Path | str, *, warn: bool = True) -> Iterator[dict]:
    """Yields the objects of a JSONL file; a malformed line (a crash's half-written last line) is skipped with a warning."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                if warn:
                    warnings.warn(f"{path}:{lineno}: skipped a malformed line (a crash can leave a half-written last line)")
                continue
            if isinstance(obj, dict):
                yield obj


def read_jsonl(path: Path | str, *, warn: bool = True) -> list[dict]:
    return list(iter_jsonl(path, warn=warn))


def write_json_atomic(path: Path | str, obj: Any) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(dumps(obj) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_status(run_dir: Path | str, status: str, **extra: Any) -> dict:
    run_dir = Path(run_dir)
    previous = read_status(run_dir) or {}
    record = {**previous, "status": status, "updated": time.time(), **extra}
    write_json_atomic(run_dir / STATUS, record)
    return record


def read_status(run_dir: Path | str) -> dict | None:
    path = Path(run_dir) / STATUS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_spec(run_dir: Path | str) -> dict:
    return json.loads((Path(run_dir) / SPEC).read_text(encoding="utf-8"))
