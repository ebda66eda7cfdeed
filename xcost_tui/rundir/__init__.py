"""The run directory: the contract between the job, the runner, the store and the app (and the
record of every other file one room writes and another reads: the forecast files).

Torch-free and DuckDB-free. Its modules:

- ``layout``: every path of a run directory and of a store (``RunDir``, ``StoreLayout``).
- ``events``: one typed record per event type of events.jsonl, ``parse_event``, ``EventWriter``.
- ``fold``: ``RunFold.apply(event)``, the meaning of events, used by the live view and ingest.
- ``status``: status.json (``StatusRecord``, ``RunStatus``, ``ProcessRef``) and ``final_status``.
- ``records``: the rows of predictions.jsonl and samples.jsonl.
- ``cost``: ``Cost``, a figure with its unit and source, or null with the reason.
- ``jsonl``: the one writer, the one tolerant reader, atomic JSON replacement.
- ``fields``: the one set of tolerant field readers every reader of these files uses.
- ``worker``: a warm worker's record (``STORE/workers/<id>/worker.jsonl``).
- ``forecast``: a plan's forecast file (``<store>/forecasts/<id>.json``): its record and row shape.

docs/run-directory.md explains the files; this package is their definition.
"""

from .cost import Cost
from .events import (
    CheckpointSaved,
    CollapseCheck,
    CurvePoint,
    DataLoaded,
    EvalResult,
    Event,
    EventWriter,
    PhaseEnd,
    PhaseStart,
    Progress,
    Resumed,
    ReusedFrom,
    RunEnd,
    RunStart,
    RunWarning,
    UnknownEvent,
    Warmup,
    WorkerInfo,
    parse_event,
)
from .fold import PhaseState, RunFold, RunState
from .jsonl import JsonlLine, JsonlReader, JsonlWriter, dumps, read_json_object, read_jsonl, write_json_atomic
from .layout import RunDir, StoreLayout, WorkerDir
from .records import GpuReading, Prediction, Sample
from .status import (
    FINAL,
    ProcessRef,
    RunStatus,
    StatusRecord,
    final_status,
    mark_running_here,
    read_status,
    update_status,
)

__all__ = [
    "FINAL",
    "CheckpointSaved",
    "CollapseCheck",
    "Cost",
    "CurvePoint",
    "Warmup",
    "WorkerDir",
    "WorkerInfo",
    "DataLoaded",
    "EvalResult",
    "Event",
    "EventWriter",
    "GpuReading",
    "JsonlLine",
    "JsonlReader",
    "JsonlWriter",
    "PhaseEnd",
    "PhaseStart",
    "PhaseState",
    "Prediction",
    "ProcessRef",
    "Progress",
    "Resumed",
    "ReusedFrom",
    "RunDir",
    "RunEnd",
    "RunFold",
    "RunStart",
    "RunState",
    "RunStatus",
    "RunWarning",
    "Sample",
    "StatusRecord",
    "StoreLayout",
    "UnknownEvent",
    "dumps",
    "final_status",
    "parse_event",
    "read_json_object",
    "read_jsonl",
    "read_status",
    "update_status",
    "mark_running_here",
    "write_json_atomic",
]
