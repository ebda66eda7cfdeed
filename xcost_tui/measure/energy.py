"""Energy of a measurement window: NVML's total-energy counter on GPUs, RAPL powercap counters
on CPUs where the kernel lets us read them, else null with the reason."""

from __future__ import annotations

import time
from pathlib import Path

from . import nvml
from .cost import Cost

# NVML's energy counter is updated every few tens of ms; a window shorter than this may not see it move.
MIN_WINDOW_S = 1.0


def counter_delta(start: int, end: int, max_range: int) -> int:
    """Delta of a counter that wraps at max_range (RAPL's energy_uj does)."""
    return end - start if end >= start else end + max_range - start


def read_rapl(root: str | Path = "/sys/class/powercap") -> dict[str, tuple[int, int]] | str:
    """{zone: (energy_uj, max_energy_range_uj)} of the package zones, or the reason they cannot be read.

    Only top-level ``intel-rapl:N`` zones (packages): their sub-zones (core, uncore, dram) are
    parts of them and would be counted twice. AMD's RAPL uses the same interface."""
    root = Path(root)
    zones = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1) if root.is_dir() else []
    if not zones:
        return f"RAPL powercap counters absent ({root}/intel-rapl:*)"
    out: dict[str, tuple[int, int]] = {}
    for zone in zones:
        try:
            energy = int((zone / "energy_uj").read_text().strip())
            max_range = int((zone / "max_energy_range_uj").read_text().strip())
        except PermissionError:
            return f"RAPL powercap counters not readable: {zone / 'energy_uj'} (permission denied)"
        except (OSError, ValueError) as exc:
            return f"RAPL powercap counters not readable: {zone / 'energy_uj'} ({exc})"
        out[zone.name] = (energy, max_range)
    return out


class EnergyMeter:
    def __init__(self, device_type: str, gpu_indices: list[int] | None = None, rapl_root: str | Path = "/sys/class/powercap"):
        self.device_type = device_type
        self.gpu_indices = list(gpu_indices or [])
        self.rapl_root = rapl_root
        self._start: dict | str | None = None
        self._end: dict | str | None = None
        self._t0 = self._t1 = 0.0

    def _read(self):
        if self.device_type == "cuda":
            ok, reason = nvml.nvml_available()
            if not ok:
                return reason
            values = {i: nvml.total_energy_mj(i) for i in self.gpu_indices}
            if not values:
                return "no GPU index to read energy from"
            if any(v is nvml.NA for v in values.values()):
                return "NVML total-energy counter not supported on this GPU (needs Volta or newer)"
            return values
        return read_rapl(self.rapl_root)

    def __enter__(self) -> "EnergyMeter":
        self._start = self._read()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._end = self._read()
        self._t1 = time.perf_counter()

    def cost(self) -> Cost:
        start, end = self._start, self._end
        if isinstance(start, str) or isinstance(end, str) or start is None or end is None:
            reason = start if isinstance(start, str) else end if isinstance(end, str) else "window not measured"
            return Cost.missing("J", reason)
        window = self._t1 - self._t0
        if self.device_type == "cuda":
            joules = sum(end[i] - start[i] for i in start) / 1000.0
            extra = {}
            if joules == 0 or window < MIN_WINDOW_S:
                extra["flag"] = "window_too_short"
            return Cost.measured(joules, "J", "nvml", window_s=window, **extra)
        joules = sum(counter_delta(start[z][0], end[z][0], start[z][1]) for z in start if z in end) / 1e6
        extra = {"flag": "window_too_short"} if joules == 0 else {}
        return Cost.measured(joules, "J", "rapl", window_s=window, zones=sorted(start), **extra)
