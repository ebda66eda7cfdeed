"""The forecast file's record: per run and phase what a plan will process and cost, and its totals.

``plan estimate`` (xcost_tui/estimate) writes a ``PlanForecast`` as ``<store>/forecasts/<id>.json``
(``save_forecast``: the source of truth of the store's ``forecasts`` table, as run directories
are of the rest); ingest reads every file back (``load_forecasts``, ``PlanForecast.from_dict``)
and ``phase_row`` is the flat row of one phase that the CSV output and the store's rows both
start from. Plain data, torch-free and DuckDB-free.

Totals count a shared (reused) phase once: the run that trains it carries its cost, the runs
that reuse it carry none. The plan's wall time schedules the runs on the executor's parallel
slots, a run that reuses an encoder starting after the run that trains it.

Outside the phases (``ExecutionForecast``, estimate/startup.py's arithmetic): with one warm worker
per device each worker pays its start-up once, and each run its own share (its model restored onto
the device, a shared target phase's checkpoint read or written); with one process per run each run
pays a process start-up. ``compared`` holds the same plan costed the old way (one process per run,
no shared target phases): ``saving()`` is the difference. Files written before these fields read
as one process per run, with nothing to compare.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .jsonl import write_json_atomic
from .layout import StoreLayout

FORMAT_VERSION = 1
DEFAULT_SAFETY = 1.5  # suggested SLURM --time = forecast x this, plus the start-up allowance
MIN_TIME_LIMIT_S = 300.0


@dataclass
class PhaseForecast:
    phase: str
    kind: str
    ordinal: int
    examples: int | None = None
    steps: int | None = None
    micro_batch_size: int | None = None
    micro_batch_source: str | None = None  # set | default | probed (the job's search on a GPU)
    micro_batches: int | None = None
    tokens_nonpad: int | None = None
    tokens_padded: int | None = None
    flops: float | None = None
    wall_s: float | None = None
    device_hours: float | None = None
    energy_j: float | None = None
    energy_reason: str | None = None
    peak_mem_bytes: int | None = None
    peak_mem_source: str | None = None  # procfs | torch.cuda | analytic
    memory_total_bytes: int | None = None
    max_micro_batch: int | None = None  # the largest micro-batch that fits (training phases)
    fits: bool | None = None
    time_source: str | None = None  # probe | replay | profile
    lengths_source: str | None = None  # measured | sampled | assumed
    counts_source: str | None = None  # data | registry
    shared_from: str | None = None  # the run that trains this (reused) phase
    notes: list[str] = field(default_factory=list)

    @property
    def assumed(self) -> bool:
        return self.lengths_source == "assumed" or self.counts_source == "registry"

    @property
    def shared(self) -> bool:
        return self.shared_from is not None


@dataclass
class ExecutionForecast:
    """How the forecast assumed the runs execute, and what that costs outside the phases (per run
    the rest is on ``RunForecast``: ``process_s``, ``restore_s``, ``checkpoint_s``)."""

    process_per_run: bool = True  # files from before warm workers: one process per run
    workers: int = 0  # warm workers (0: one process per run)
    workers_reason: str = ""  # why that many (--workers, --slots, the device count)
    worker_start_s: float = 0.0  # one worker's start-up: interpreter, imports, CUDA context, its first model load
    further_loads_s: float = 0.0  # one worker's loads of the plan's other distinct models, disk -> host RAM
    distinct_models: int = 0
    process_starts: int = 0  # processes started: workers, or one per run
    model_loads: int = 0  # pretrained weights read from disk: once per worker and model, or once per process
    restores: int = 0  # fresh models copied from host RAM onto the device (warm workers)
    checkpoint_reads: int = 0  # post-target checkpoints read by the runs that share a target phase
    checkpoint_writes: int = 0  # ... written by the runs that train it for them
    shared_targets: bool = False  # target phases shared (issue 18); False in the old way
    shared_target_runs: int = 0  # runs that reuse another run's target phase
    shared_target_phases: int = 0  # phases they reuse (target, eval:en, and the intermediate phases before it)
    host_to_device_bytes_per_s: float | None = None  # None: a CPU (no copy)
    disk_bytes_per_s: float | None = None
    run_overhead_s: float | None = None  # per run in a warm worker: fresh module, data from the cache, events

    @property
    def workers_s(self) -> float:
        """All workers' own start-up and loads (nothing with one process per run)."""
        return self.workers * (self.worker_start_s + self.further_loads_s)


@dataclass
class CostSummary:
    """A plan's device-hours executed one way: in its phases, outside them (start-ups, loads,
    restores, checkpoints), and the counts behind them."""

    label: str
    phases_h: float
    startup_h: float
    process_starts: int = 0
    model_loads: int = 0
    shared_target_runs: int = 0

    @property
    def total_h(self) -> float:
        return self.phases_h + self.startup_h

    @property
    def startup_share(self) -> float | None:
        return self.startup_h / self.total_h if self.total_h > 0 else None


@dataclass
class RunForecast:
    run_id: str
    name: str | None
    method: str
    model: str
    seed: int
    phases: list[PhaseForecast]
    startup_s: float = 0.0  # what this run pays outside its phases: process_s + restore_s + checkpoint_s
    suggested_time_s: float | None = None
    depends_on: str | None = None  # the run whose saved encoder (or post-target model) this one starts from
    notes: list[str] = field(default_factory=list)
    process_s: float = 0.0  # its own process start-up, with its model's load (one process per run)
    restore_s: float = 0.0  # its fresh model from the worker's host-RAM copy onto the device, and per-run work
    checkpoint_s: float = 0.0  # reading (or, for its consumers, writing) a post-target checkpoint
    target_from: str | None = None  # the run whose target phase this one reuses

    def total(self, figure: str) -> float | None:
        vals = [getattr(p, figure) for p in self.phases if not p.shared]
        known = [v for v in vals if v is not None]
        return sum(known) if known else None

    @property
    def wall_s(self) -> float:
        return (self.total("wall_s") or 0.0) + self.startup_s

    @property
    def peak_mem_bytes(self) -> int | None:
        vals = [p.peak_mem_bytes for p in self.phases if p.peak_mem_bytes is not None and not p.shared]
        return max(vals) if vals else None

    @property
    def fits(self) -> bool | None:
        vals = [p.fits for p in self.phases if p.fits is not None and not p.shared]
        return all(vals) if vals else None

    @property
    def assumed(self) -> bool:
        return any(p.assumed for p in self.phases if not p.shared)


def phase_row(run: RunForecast, p: PhaseForecast) -> dict[str, Any]:
    """One phase of one run as a flat row: the run's identity, every field of the phase (notes as a
    list) and the derived flags; the CSV output and the store's rows both start from it."""
    row: dict[str, Any] = {
        "run_id": run.run_id,
        "run_name": run.name,
        "method": run.method,
        "model": run.model,
        "seed": run.seed,
    }
    row.update({f.name: getattr(p, f.name) for f in dataclasses.fields(p)})
    row.update(assumed=p.assumed, shared=p.shared, run_suggested_time_s=run.suggested_time_s)
    return row


@dataclass
class PlanForecast:
    forecast_id: str
    made_at: float
    plan: str
    plan_label: str
    mode: str  # probe | profile
    device: dict[str, Any]  # type, name, precision, label, family, memory_bytes, power_w
    efficiency: float | None
    env: dict[str, Any]
    runs: list[RunForecast]
    slots: int = 1
    safety: float = DEFAULT_SAFETY
    notes: list[str] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)  # per probed kind of run: label, seconds
    seconds: float = 0.0  # how long the estimate took
    execution: ExecutionForecast = field(default_factory=ExecutionForecast)
    compared: list[CostSummary] = field(default_factory=list)  # the same plan another way; the first: the old way

    # ---- totals -------------------------------------------------------------------------------
    def phases(self) -> Iterable[tuple[RunForecast, PhaseForecast]]:
        for run in self.runs:
            for p in run.phases:
                yield run, p

    def totals(self, key: str | None = None) -> dict[str, dict[str, float | None]]:
        """{group: {device_hours, flops, energy_j, wall_s, phases}} grouped by ``kind``, ``method`` or
        (None) overall; a shared phase counts once (for its producer)."""
        out: dict[str, dict[str, Any]] = {}
        for run, p in self.phases():
            if p.shared:
                continue
            group = "all" if key is None else (p.kind if key == "kind" else run.method)
            g = out.setdefault(
                group,
                {"device_hours": 0.0, "flops": 0.0, "energy_j": 0.0, "wall_s": 0.0, "phases": 0, "energy_known": True},
            )
            g["phases"] += 1
            for fig in ("device_hours", "flops", "wall_s"):
                g[fig] += getattr(p, fig) or 0.0
            if p.energy_j is None:
                g["energy_known"] = False
            else:
                g["energy_j"] += p.energy_j
        for g in out.values():
            if not g.pop("energy_known"):
                g["energy_j"] = None
        return out

    def phases_device_hours(self) -> float:
        return float(self.totals().get("all", {}).get("device_hours") or 0.0)

    def startup_device_hours(self) -> float:
        """Device-hours outside the phases: the runs' own (process start-ups or restores, checkpoints)
        and the warm workers' start-ups and loads (a run or worker holds one device)."""
        return (sum(r.startup_s for r in self.runs) + self.execution.workers_s) / 3600.0

    def summary(self, label: str = "this forecast") -> CostSummary:
        ex = self.execution
        return CostSummary(
            label,
            self.phases_device_hours(),
            self.startup_device_hours(),
            ex.process_starts or len(self.runs),
            ex.model_loads or len(self.runs),
            ex.shared_target_runs,
        )

    def saving(self) -> tuple[float, float | None] | None:
        """(device-hours saved, fraction of the old way's) against ``compared[0]``; None without it."""
        if not self.compared:
            return None
        old, new = self.compared[0].total_h, self.summary().total_h
        return old - new, ((old - new) / old if old > 0 else None)

    def makespan_s(self, slots: int | None = None) -> float:
        """The plan's wall time on ``slots`` parallel slots: runs start in plan order on the first
        free slot (after a warm worker's start-up), a run that reuses an encoder or a target phase
        no earlier than the end of the run that trains it."""
        ex = self.execution
        return schedule(
            [(r.run_id, r.wall_s, r.depends_on) for r in self.runs],
            slots or self.slots,
            ex.worker_start_s + ex.further_loads_s if ex.workers else 0.0,
        )

    # ---- files ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["format"] = FORMAT_VERSION
        d["totals"] = {
            "by_kind": self.totals("kind"),
            "by_method": self.totals("method"),
            "all": self.totals().get("all", {}),
            "makespan_s": self.makespan_s(),
            "phases_device_hours": self.phases_device_hours(),
            "startup_device_hours": self.startup_device_hours(),
            "device_hours": self.summary().total_h,
        }
        saving = self.saving()
        if saving is not None:
            d["totals"]["saving_device_hours"], d["totals"]["saving_fraction"] = saving
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlanForecast:
        runs = []
        for r in d.get("runs") or []:
            phases = [
                PhaseForecast(**{k: v for k, v in p.items() if k in _PHASE_FIELDS}) for p in r.get("phases") or []
            ]
            runs.append(
                RunForecast(**{**{k: v for k, v in r.items() if k in _RUN_FIELDS and k != "phases"}, "phases": phases})
            )
        kw = {k: v for k, v in d.items() if k in _PLAN_FIELDS and k not in ("runs", "execution", "compared")}
        ex = d.get("execution") or {}
        execution = ExecutionForecast(**{k: v for k, v in ex.items() if k in _EXECUTION_FIELDS})
        compared = [CostSummary(**{k: v for k, v in c.items() if k in _COST_FIELDS}) for c in d.get("compared") or []]
        return cls(**kw, runs=runs, execution=execution, compared=compared)


_PHASE_FIELDS = {f.name for f in dataclasses.fields(PhaseForecast)}
_RUN_FIELDS = {f.name for f in dataclasses.fields(RunForecast)}
_PLAN_FIELDS = {f.name for f in dataclasses.fields(PlanForecast)}
_EXECUTION_FIELDS = {f.name for f in dataclasses.fields(ExecutionForecast)}
_COST_FIELDS = {f.name for f in dataclasses.fields(CostSummary)}


def schedule(runs: list[tuple[str, float, str | None]], slots: int, slot_start_s: float = 0.0) -> float:
    """Greedy list scheduling of (run id, seconds, depends on) in order on ``slots`` slots, each
    free from ``slot_start_s`` (a warm worker's start-up): the makespan."""
    slots = max(1, int(slots))
    free = [max(0.0, slot_start_s)] * slots
    heapq.heapify(free)
    ends: dict[str, float] = {}
    for rid, seconds, dep in runs:
        start = heapq.heappop(free)
        if dep is not None and dep in ends:
            start = max(start, ends[dep])
        ends[rid] = start + max(0.0, seconds)
        heapq.heappush(free, ends[rid])
    return max(ends.values(), default=0.0)


def time_limit(wall_s: float, safety: float = DEFAULT_SAFETY) -> float:
    """A SLURM --time for a run forecast to take ``wall_s``: x ``safety``, rounded up to whole
    minutes, at least MIN_TIME_LIMIT_S."""
    return float(max(MIN_TIME_LIMIT_S, math.ceil(wall_s * safety / 60.0) * 60.0))


def slurm_time(seconds: float) -> str:
    """``--time`` syntax: D-HH:MM:SS, or HH:MM:SS under a day."""
    s = int(math.ceil(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}-{h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"


# ---- the files ------------------------------------------------------------------------------------


def save_forecast(store: str | os.PathLike[str], fc: PlanForecast) -> Path:
    """Writes ``<store>/forecasts/<forecast_id>.json`` (atomically) and returns its path."""
    folder = StoreLayout(Path(store)).forecasts
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{fc.forecast_id}.json"
    write_json_atomic(path, fc.to_dict())
    return path


def forecast_files(store: str | os.PathLike[str]) -> list[Path]:
    folder = StoreLayout(Path(store)).forecasts
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file())


def files_signature(store: str | os.PathLike[str]) -> str:
    """Names, sizes and times of the forecast files: unchanged signature, unchanged table."""
    parts = []
    for p in forecast_files(store):
        try:
            st = p.stat()
        except OSError:
            continue
        parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def read_forecast(path: Path) -> PlanForecast | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return PlanForecast.from_dict(data)
    except (TypeError, ValueError, KeyError):
        return None


def load_forecasts(store: str | os.PathLike[str], warnings: list[str] | None = None) -> list[tuple[Path, PlanForecast]]:
    """Every readable forecast of the store, oldest first; an unreadable file is skipped and named in ``warnings``."""
    out = []
    for path in forecast_files(store):
        fc = read_forecast(path)
        if fc is None:
            if warnings is not None:
                warnings.append(f"{path}: not a forecast (unreadable JSON or another shape); skipped")
            continue
        out.append((path, fc))
    out.sort(key=lambda pf: pf[1].made_at)
    return out


def latest_run_forecasts(
    store: str | os.PathLike[str], run_ids: Iterable[str] | None = None
) -> dict[str, tuple[PlanForecast, RunForecast]]:
    """{run id: (PlanForecast, RunForecast)} of the newest forecast of each run, from the files."""
    wanted = set(run_ids) if run_ids is not None else None
    out: dict[str, tuple[PlanForecast, RunForecast]] = {}
    for _, fc in load_forecasts(store):
        for run in fc.runs:
            if wanted is None or run.run_id in wanted:
                out[run.run_id] = (fc, run)  # oldest first: the newest wins
    return out
