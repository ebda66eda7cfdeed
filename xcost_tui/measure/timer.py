"""PhaseMeter: one measured window — wall and CPU time, peak memory and energy together."""

from __future__ import annotations

import time

from ..rundir.cost import Cost
from .energy import EnergyMeter
from .memory import MemoryProbe, lifetime_peak

MEMORY_OFF = "measurement off (measure.enabled = false)"


def throughput(count: float, seconds: float, unit: str) -> Cost:
    """count / seconds (source wall_clock); null where no time elapsed."""
    if seconds is None or seconds <= 0:
        return Cost.missing(unit, "no elapsed time")
    return Cost.measured(count / seconds, unit, "wall_clock")


class PhaseMeter:
    """Wall clock (device synchronised at both ends), process CPU time, peak memory and energy
    of the ``with`` block; ``costs()`` afterwards. ``devices`` defaults to the number of GPUs
    on cuda (at least 1) and 1 on a CPU (the machine counts as one device). ``gpu_reason``: why
    ``gpu_indices`` is empty on a GPU (the energy figure is NULL with it)."""

    def __init__(self, device_type: str, device: str | None = None, gpu_indices: list[int] | None = None,
                 enabled_memory: bool = True, devices: int | None = None, gpu_reason: str | None = None):
        self.device_type = device_type
        self.device = device or device_type
        self.gpu_indices = list(gpu_indices or [])
        if devices is None:
            devices = max(1, len(self.gpu_indices)) if device_type == "cuda" else 1
        self.devices = devices
        self.memory = MemoryProbe(self.device)
        self.enabled_memory = enabled_memory
        self.energy = EnergyMeter(device_type, self.gpu_indices, gpu_reason=gpu_reason)
        self.lifetime: Cost | None = None
        self.wall = self.cpu = 0.0
        self._done = False

    def _sync(self) -> None:
        if self.device_type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def __enter__(self) -> "PhaseMeter":
        self._done = False
        self._sync()  # work queued before the phase is not the phase's
        if self.enabled_memory:
            self.memory.__enter__()
        self.energy.__enter__()
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self._sync()  # the phase's kernels have finished before the clock stops
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0
        self.energy.__exit__(*exc)
        if self.enabled_memory:
            self.memory.__exit__(*exc)
        self.lifetime = lifetime_peak(self.device)
        self._done = True

    def costs(self) -> dict[str, Cost]:
        """wall_s, cpu_s, devices, device_hours, peak_mem_bytes (the absolute peak in the phase),
        peak_mem_increase_bytes (that peak above the memory at the phase's start),
        lifetime_peak_mem_bytes (the process's peak since it started, up to this phase's end), energy_j."""
        if not self._done:
            reason = "the phase meter was not entered and left"
            return {name: Cost.missing(unit, reason) for name, unit in
                    (("wall_s", "s"), ("cpu_s", "s"), ("devices", "count"), ("device_hours", "h"),
                     ("peak_mem_bytes", "B"), ("peak_mem_increase_bytes", "B"), ("lifetime_peak_mem_bytes", "B"),
                     ("energy_j", "J"))}
        return {
            "wall_s": Cost.measured(self.wall, "s", "wall_clock"),
            "cpu_s": Cost.measured(self.cpu, "s", "process_time"),
            "devices": Cost.measured(self.devices, "count", "counted", device_type=self.device_type),
            "device_hours": Cost.measured(self.wall * self.devices / 3600.0, "h", "wall_clock",
                                          device_type=self.device_type),
            "peak_mem_bytes": self.memory.cost() if self.enabled_memory else Cost.missing("B", MEMORY_OFF),
            "peak_mem_increase_bytes": (self.memory.increase_cost() if self.enabled_memory
                                        else Cost.missing("B", MEMORY_OFF)),
            "lifetime_peak_mem_bytes": self.lifetime or Cost.missing("B", "not read"),
            "energy_j": self.energy.cost(),
        }
