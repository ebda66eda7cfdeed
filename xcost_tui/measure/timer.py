"""PhaseMeter: one measured window — wall and CPU time, peak memory, energy and contention together."""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ..rundir.cost import Cost
from ..rundir.jsonl import JsonlReader
from ..rundir.records import Sample
from . import nvml
from .contention import CPU_SHARE_THRESHOLD, CpuSnapshot, CpuWindow, Share, gpu_others, judge
from .energy import EnergyMeter, sum_energy
from .memory import MemoryProbe, lifetime_peak

MEMORY_OFF = "measurement off (measure.enabled = false)"
CONTENTION_FIGURES = (("other_cpu_s", "s"), ("other_gpu_processes", "count"), ("contended", "flag"))


class SampleWatch:
    """The samples the sampler beside the job writes (RUN_DIR/samples.jsonl), read incrementally:
    which other processes it saw on the job's GPUs, and when (for the contention of a phase)."""

    def __init__(self, path: Path | str):
        self.reader = JsonlReader(Path(path))
        self.entries: list[tuple[float, list[int] | None]] = []  # (t, other pids; None: NVML could not tell)

    def _read(self) -> None:
        for obj in self.reader.read_all():
            sample = Sample.from_dict(obj)
            if sample is None or not sample.gpus:
                continue
            unknown = any(g.other_pids is None for g in sample.gpus)
            self.entries.append((sample.t, None if unknown else sample.other_gpu_pids))

    def others_between(self, t0: float, t1: float) -> tuple[set[int], int, int]:
        """(other pids seen, samples in the window, samples that could not tell); forgets what is
        older than ``t0`` (phases do not overlap)."""
        try:
            self._read()
        except OSError:
            pass
        pids: set[int] = set()
        n = unknown = 0
        for t, others in self.entries:
            if t0 <= t <= t1:
                n += 1
                if others is None:
                    unknown += 1
                else:
                    pids.update(others)
        self.entries = [e for e in self.entries if e[0] >= t1]
        return pids, n, unknown


_watch: dict[str, SampleWatch | None] = {"samples": None}


def watch_samples(path: Path | str | None) -> None:
    """Phases measured from now on also take the contention evidence of the sampler's samples
    (the job calls this once it has started the sampler beside it)."""
    _watch["samples"] = SampleWatch(path) if path is not None else None


def throughput(count: float, seconds: float, unit: str) -> Cost:
    """count / seconds (source wall_clock); null where no time elapsed."""
    if seconds is None or seconds <= 0:
        return Cost.missing(unit, "no elapsed time")
    return Cost.measured(count / seconds, unit, "wall_clock")


class PhaseMeter:
    """Wall clock (device synchronised at both ends), process CPU time, peak memory and energy
    of the ``with`` block; ``costs()`` afterwards. ``devices`` defaults to the number of GPUs
    on cuda (at least 1) and 1 on a CPU (the machine counts as one device). ``gpu_reason``: why
    ``gpu_indices`` is empty on a GPU (the energy figure is NULL with it).

    A phase may be measured in several windows: entering the same meter again adds a window, and
    ``paused()`` leaves work out of the phase in every figure (wall, CPU, energy, peak memory,
    contention): the learning-curve evaluations inside a training phase are measured by a meter of
    their own (issue 17), which is entered once per evaluation."""

    def __init__(
        self,
        device_type: str,
        device: str | None = None,
        gpu_indices: list[int] | None = None,
        enabled_memory: bool = True,
        devices: int | None = None,
        gpu_reason: str | None = None,
    ):
        self.device_type = device_type
        self.device = device or device_type
        self.gpu_indices = list(gpu_indices or [])
        if devices is None:
            devices = max(1, len(self.gpu_indices)) if device_type == "cuda" else 1
        self.devices = devices
        self.gpu_reason = gpu_reason
        self.memory = MemoryProbe(self.device)
        self.enabled_memory = enabled_memory
        self.energy = EnergyMeter(device_type, self.gpu_indices, gpu_reason=gpu_reason)
        self.lifetime: Cost | None = None
        self.wall = self.cpu = 0.0
        self.windows = 0  # windows measured so far
        self._done = False
        self._energy: list[Cost] = []  # one per window
        self._cpu_windows: list[CpuWindow | None] = []
        self._walls: list[tuple[float, float]] = []  # each window's (start, end), unix seconds
        self._cpu0: CpuSnapshot | None = None
        self._gpu_ends: list[dict | None] = []
        self._gpu_seen: set[int] = set()  # other processes the sampler saw on the GPUs in the windows
        self._gpu_samples = 0
        self._gpu_known = False
        self._t0 = self._c0 = 0.0

    def _sync(self) -> None:
        if self.device_type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def __enter__(self) -> PhaseMeter:
        if self.windows == 0:
            # the garbage of what ran before (the warm-up's FLOP check, the probes just read) is
            # collected now, not by a collection inside the phase's window: a 30 ms evaluation
            # would carry a few ms of someone else's debt. First of all: the CPU window below
            # must not hold it either. The young generations only: that debt is recent, and a
            # full collection walks every long-lived object (a warm worker's cached data and
            # models: 0.13 s a phase on demo-grid, a third of the worker's time outside phases)
            gc.collect(1)
        self._sync()  # work queued before the window is not the phase's
        if self.enabled_memory:
            if self.windows == 0:
                self.memory.__enter__()
            else:
                self.memory.resume()
        self.energy = EnergyMeter(self.device_type, self.gpu_indices, gpu_reason=self.gpu_reason)
        self.energy.__enter__()
        self._contention_begin()  # last before the clocks: the CPU window is the timed one's
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self._sync()  # the window's kernels have finished before the clock stops
        self.wall += time.perf_counter() - self._t0
        self.cpu += time.process_time() - self._c0
        self._contention_end()  # first after the clocks
        self.energy.__exit__(*exc)
        self._energy.append(self.energy.cost())
        if self.enabled_memory:
            self.memory.__exit__(*exc)
        self.lifetime = lifetime_peak(self.device)
        self.windows += 1
        self._done = True

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Work inside is not this phase's: the window closes before it and a new one opens after."""
        self.__exit__(None, None, None)
        try:
            yield
        finally:
            self.__enter__()

    def energy_cost(self) -> Cost:
        """The energy of every window together (energy.py's figure of one window, summed)."""
        return sum_energy(self._energy)

    # ---- contention (measure/contention.py) ------------------------------------------------------
    @property
    def _gpus_watched(self) -> bool:
        return self.device_type == "cuda" and bool(self.gpu_indices)

    def _cpu_snapshot(self, busy_first: bool = False):
        try:
            return CpuSnapshot.take(busy_first=busy_first)
        except Exception:  # noqa: BLE001 - contention is evidence, never a reason to fail a phase
            return None

    def _gpu_reading(self, own: frozenset[int] | set[int]) -> dict | None:
        if not self._gpus_watched:
            return None
        try:
            if not nvml.nvml_available()[0]:
                return None
            return gpu_others(nvml, self.gpu_indices, set(own))
        except Exception:  # noqa: BLE001
            return None

    def _contention_begin(self) -> None:
        self._cpu0 = self._cpu_snapshot()
        self._walls.append((time.time(), 0.0))
        self._gpu_ends.append(self._gpu_reading(self._cpu0.pids if self._cpu0 else set()))

    def _contention_end(self) -> None:
        cpu1 = self._cpu_snapshot(busy_first=True)  # the CPUs' counters right at the window's end
        self._walls[-1] = (self._walls[-1][0], time.time())
        self._cpu_windows.append(CpuWindow.between(self._cpu0, cpu1) if self._cpu0 and cpu1 else None)
        self._gpu_ends.append(self._gpu_reading(cpu1.pids if cpu1 else set()))
        watch = _watch["samples"]
        if self._gpus_watched and watch is not None:
            # read at each window's end, in time order: the watch forgets what is older than a
            # window it was asked about, and another meter's windows (curve evaluations) interleave
            pids, n, unknown = watch.others_between(*self._walls[-1])
            self._gpu_seen |= pids
            self._gpu_samples += n
            self._gpu_known = self._gpu_known or n > unknown

    def contention_costs(self) -> dict[str, Cost]:
        """other_cpu_s, other_gpu_processes and the contended flag (0/1) with its evidence."""
        share = Share.from_env()
        threads = share.threads or _torch_threads()
        window = CpuWindow.total(self._cpu_windows)
        out: dict[str, Cost] = {}
        if window is None:
            out["other_cpu_s"] = Cost.missing("s", "the CPU counters could not be read")
        else:
            out["other_cpu_s"] = Cost.measured(
                round(window.other_s, 4),
                "s",
                "psutil",
                cpus=window.cpus,
                busy_s=round(window.busy_s, 4),
                own_s=round(window.own_s, 4),
            )
        gpu_pids: list[int] | None = None
        if not self._gpus_watched:
            out["other_gpu_processes"] = Cost.missing("count", "no GPU in this phase")
        else:
            seen: set[int] = set()
            known = False
            for reading in self._gpu_ends:
                if reading is not None:
                    known = True
                    seen.update(pid for procs in reading.values() for pid, _ in procs)
            seen |= self._gpu_seen
            n_samples = self._gpu_samples
            known = known or self._gpu_known
            if known:
                gpu_pids = sorted(seen)
                out["other_gpu_processes"] = Cost.measured(
                    len(gpu_pids), "count", "nvml", pids=gpu_pids, samples=n_samples
                )
            else:
                out["other_gpu_processes"] = Cost.missing(
                    "count", "NVML could not list the processes on the job's GPUs", "nvml"
                )
        verdict = judge(window, threads, gpu_pids, gpus_watched=self._gpus_watched)
        evidence = {
            "reasons": verdict.reasons,
            "threads": threads,
            "cpus": window.cpus if window else None,
            "runs_sharing": share.runs,
            "cpu_share_threshold": CPU_SHARE_THRESHOLD,
        }
        if verdict.contended is None:
            out["contended"] = Cost.missing("flag", verdict.reason or "could not tell", "psutil", **evidence)
        else:
            out["contended"] = Cost.measured(
                int(verdict.contended), "flag", "psutil+nvml" if self._gpus_watched else "psutil", **evidence
            )
        return out

    def costs(self) -> dict[str, Cost]:
        """wall_s, cpu_s, devices, device_hours, peak_mem_bytes (the absolute peak in the phase),
        peak_mem_increase_bytes (that peak above the memory at the phase's start),
        lifetime_peak_mem_bytes (the process's peak since it started, up to this phase's end), energy_j,
        and the contention figures (other_cpu_s, other_gpu_processes, contended)."""
        if not self._done:
            reason = "the phase meter was not entered and left"
            return {
                name: Cost.missing(unit, reason)
                for name, unit in (
                    ("wall_s", "s"),
                    ("cpu_s", "s"),
                    ("devices", "count"),
                    ("device_hours", "h"),
                    ("peak_mem_bytes", "B"),
                    ("peak_mem_increase_bytes", "B"),
                    ("lifetime_peak_mem_bytes", "B"),
                    ("energy_j", "J"),
                    *CONTENTION_FIGURES,
                )
            }
        return {
            "wall_s": Cost.measured(self.wall, "s", "wall_clock"),
            "cpu_s": Cost.measured(self.cpu, "s", "process_time"),
            "devices": Cost.measured(self.devices, "count", "counted", device_type=self.device_type),
            "device_hours": Cost.measured(
                self.wall * self.devices / 3600.0, "h", "wall_clock", device_type=self.device_type
            ),
            "peak_mem_bytes": self.memory.cost() if self.enabled_memory else Cost.missing("B", MEMORY_OFF),
            "peak_mem_increase_bytes": (
                self.memory.increase_cost() if self.enabled_memory else Cost.missing("B", MEMORY_OFF)
            ),
            "lifetime_peak_mem_bytes": self.lifetime or Cost.missing("B", "not read"),
            "energy_j": self.energy_cost(),
            **self.contention_costs(),
        }


def _torch_threads() -> int | None:
    """torch's intra-op threads, when torch is loaded (the job); None elsewhere."""
    torch = sys.modules.get("torch")
    try:
        return int(torch.get_num_threads()) if torch is not None else None
    except Exception:  # noqa: BLE001
        return None
