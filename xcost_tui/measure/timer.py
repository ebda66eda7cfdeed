"""PhaseMeter: one measured window — wall and CPU time, peak memory and energy together."""

from __future__ import annotations

import time

from .cost import Cost
from .energy import EnergyMeter
from .memory import MemoryProbe


def throughput(count: float, seconds: float, unit: str) -> Cost:
    if seconds <= 0:
        return Cost.missing(unit, "no elapsed time")
    return Cost.measured(count / seconds, unit, "wall_clock")


class PhaseMeter:
    def __init__(self, device_type: str, device: str | None = None, gpu_indices: list[int] | None = None,
                 enabled_memory: bool = True, devices: int = 1):
        self.device_type = device_type
        self.device = device or device_type
        self.devices = devices
        self.memory = MemoryProbe(self.device)
        self.enabled_memory = enabled_memory
        self.energy = EnergyMeter(device_type, gpu_indices)
        self.wall = self.cpu = 0.0

    def _sync(self) -> None:
        if self.device_type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def __enter__(self) -> "PhaseMeter":
        self._sync()
        if self.enabled_memory:
            self.memory.__enter__()
        self.energy.__enter__()
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self._sync()
        self.wall = time.perf_counter() - self._t0
        self.cpu = time.process_time() - self._c0
        self.energy.__exit__(*exc)
        if self.enabled_memory:
            self.memory.__exit__(*exc)

    def costs(self) -> dict[str, Cost]:
        return {
            "wall_s": Cost.measured(self.wall, "s", "wall_clock"),
            "cpu_s": Cost.measured(self.cpu, "s", "process_time"),
            "devices": Cost.measured(self.devices, "count", "counted", device_type=self.device_type),
            "device_hours": Cost.measured(self.wall * self.devices / 3600.0, "h", "wall_clock",
                                          device_type=self.device_type),
            "peak_mem_bytes": self.memory.cost() if self.enabled_memory
            else Cost.missing("B", "measurement off (measure.enabled = false)"),
            "energy_j": self.energy.cost(),
        }
