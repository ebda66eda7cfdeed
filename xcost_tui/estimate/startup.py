"""What a plan costs outside its phases, and what shared target phases leave out: the forecast's
arithmetic of process start-ups, model loads, restores and post-target checkpoints, for one
process per run or one warm worker per device (issue 18; docs/plans.md, "Forecasts").

- **One process per run** (the old way, ``[executor] process_per_run``): every run pays a process
  start-up: interpreter, imports, CUDA context, data and tokenizer, and its model's load from the
  local cache (``process_s``: the probe's measured start-up, else ``STARTUP_ALLOWANCE_S``).
- **A warm worker per device**: each worker pays that start-up once (with its first model's load),
  and loads each further distinct model of the plan once into its host-RAM cache (weights bytes /
  ``DISK_READ_BYTES_PER_S``). Each run then restores a fresh model from host RAM onto the device
  (weights bytes / the device's host link, ``profiles.HOST_LINK``) plus ``RUN_OVERHEAD_S``. An ICL
  run's causal LM stays on the device across k and shot draws: no restore.
- **Shared target phases** (``plan.shared_target_groups``): a consumer runs none of the target
  phase, eval:en, their collapse retries, the target's learning curve nor the intermediate phases
  before it; it reads the producer's post-target checkpoint from disk (weights bytes / disk rate),
  which the producer writes once per group.

A worker's models are not known before the queue runs: every worker is assumed to load every
distinct model of the plan (an upper bound; exact for one worker). Pure arithmetic, torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# A process's start-up before its first phase when the probe did not measure it: interpreter,
# imports, CUDA context, data sets and tokenizer read, and the model's weights read from the local
# cache (a tiny built-in model has none). xcost-tui's allowance, as the forecast has always used.
STARTUP_ALLOWANCE_S = {"built-in": 10.0, "default": 60.0}
# Reading a checkpoint or a pretrained model from disk, and writing one: a conservative rate, under a
# node-local NVMe drive's sequential rate (PCIe 3.0 x4: ~3.9 GB/s) and above a SATA SSD's link
# (6 Gb/s, 8b/10b: 600 MB/s); a parallel file system per client is of that order. An assumption.
DISK_READ_BYTES_PER_S = 1e9
DISK_WRITE_BYTES_PER_S = 1e9
# Per run in a warm worker besides the weights' copy: a fresh module from the host-RAM copy (a
# memory copy of the weights), its optimizer, data from the worker's cache, the run directory and
# its events. xcost-tui's assumption (the demo's measured figure replaces it: docs/plans.md).
RUN_OVERHEAD_S = 3.0
WEIGHT_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}  # per parameter, as the weights are stored and restored


@dataclass(frozen=True)
class RunNeeds:
    """What one run needs outside its phases."""

    run_id: str
    model_key: str  # one host-RAM cache entry per worker: the model id (and a tiny model's dimensions)
    weights_bytes: int
    process_s: float  # a process start-up for it, with its model's load
    restores: bool = True  # a fresh model per run (False: ICL keeps its causal LM on the device)
    reads_checkpoint: bool = False  # it reuses another run's target phase
    writes_checkpoint: bool = False  # another run reuses its target phase


@dataclass(frozen=True)
class Rates:
    host_to_device: float | None  # bytes/s (None: a CPU, no copy)
    disk_read: float = DISK_READ_BYTES_PER_S
    disk_write: float = DISK_WRITE_BYTES_PER_S
    run_overhead_s: float = RUN_OVERHEAD_S


@dataclass(frozen=True)
class RunCost:
    process_s: float
    restore_s: float
    checkpoint_s: float

    @property
    def total_s(self) -> float:
        return self.process_s + self.restore_s + self.checkpoint_s


@dataclass(frozen=True)
class WorkerCost:
    workers: int
    start_s: float  # each worker: the longest process start-up of the plan's runs (its first model's load in it)
    further_loads_s: float  # each worker: the loads of the other distinct models
    distinct_models: int
    model_loads: int  # all workers together

    @property
    def total_s(self) -> float:
        return self.workers * (self.start_s + self.further_loads_s)


def load_s(weights_bytes: int, rates: Rates) -> float:
    """Pretrained weights from disk into host RAM."""
    return weights_bytes / rates.disk_read


def restore_s(needs: RunNeeds, rates: Rates) -> float:
    """A fresh model from the worker's host-RAM copy onto the device, and the run's own set-up."""
    copy = needs.weights_bytes / rates.host_to_device if (needs.restores and rates.host_to_device) else 0.0
    return copy + rates.run_overhead_s


def checkpoint_s(needs: RunNeeds, rates: Rates) -> float:
    """The post-target checkpoint: read by a consumer, written once by its producer."""
    read = needs.weights_bytes / rates.disk_read if needs.reads_checkpoint else 0.0
    write = needs.weights_bytes / rates.disk_write if needs.writes_checkpoint else 0.0
    return read + write


def run_cost(needs: RunNeeds, rates: Rates, process_per_run: bool) -> RunCost:
    """What one run pays itself: its process start-up (one process per run), or its restore (warm worker)."""
    if process_per_run:
        return RunCost(needs.process_s, 0.0, checkpoint_s(needs, rates))
    return RunCost(0.0, restore_s(needs, rates), checkpoint_s(needs, rates))


def worker_cost(runs: Iterable[RunNeeds], workers: int, rates: Rates) -> WorkerCost:
    """The warm workers' own cost: each starts once (the longest start-up of the plan's runs) and
    loads every distinct model; the start-up holds one load (of the smallest model, so the
    further loads are never under-counted). No runs: no worker starts."""
    runs = list(runs)
    if not runs:
        return WorkerCost(0, 0.0, 0.0, 0, 0)
    workers = max(1, min(int(workers), len(runs)))
    sizes: dict[str, int] = {}
    for r in runs:
        sizes[r.model_key] = max(sizes.get(r.model_key, 0), r.weights_bytes)
    ordered = sorted(sizes.values())
    further = sum(load_s(b, rates) for b in ordered[1:])
    start = max(r.process_s for r in runs)
    return WorkerCost(workers, start, further, len(sizes), workers * len(sizes))


def weights_bytes(params: int, dtype: str = "fp32") -> int:
    return int(params) * WEIGHT_BYTES.get(dtype, 4)
