"""Energy of a measurement window: NVML's total-energy counter on GPUs, RAPL powercap counters
on CPUs where the kernel lets us read them, else null with the reason.

Both counters belong to the device, not the process: other work on the same GPU or CPU package
during the window is counted too (docs/measurement.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from ..rundir.cost import Cost
from . import nvml

# NVML's energy counter moves in steps (tens to hundreds of ms apart); a window shorter
# than this may see it move once or not at all, so the figure is coarse.
MIN_WINDOW_S = 1.0
# RAPL's energy_uj wraps at max_energy_range_uj (about 65-262 kJ: a few minutes at full power).
# Reading it this often counts every wrap, however long the window.
RAPL_POLL_S = 20.0
WINDOW_TOO_SHORT = "window_too_short"


def counter_delta(start: int, end: int, max_range: int) -> int:
    """Delta of a counter that wraps at max_range (RAPL's energy_uj does): at most one wrap."""
    return end - start if end >= start else end + max_range - start


def read_rapl(root: str | Path = "/sys/class/powercap") -> dict[str, tuple[int, int]] | str:
    """{zone: (energy_uj, max_energy_range_uj)} of the package zones, or the reason they cannot be read.

    Only top-level ``intel-rapl:N`` zones named ``package-N``: their sub-zones (core, uncore,
    dram) are either parts of them or another domain, and a ``psys`` zone covers the whole
    platform including the packages; either would count energy twice. AMD's RAPL driver uses
    the same interface and names."""
    root = Path(root)
    if not root.is_dir():
        return f"RAPL powercap counters not readable: {root} (absent)"
    zones = []
    for p in sorted(root.glob("intel-rapl:*")):
        if p.name.count(":") != 1:
            continue
        try:
            name = (p / "name").read_text().strip()
        except OSError:
            name = ""  # no name file: a top-level zone is a package
        if name and not name.startswith("package"):
            continue
        zones.append(p)
    if not zones:
        return f"RAPL powercap counters not readable: {root}/intel-rapl:* (absent)"
    out: dict[str, tuple[int, int]] = {}
    for zone in zones:
        path = zone / "energy_uj"
        try:
            energy = int(path.read_text().strip())
            path = zone / "max_energy_range_uj"
            max_range = int(path.read_text().strip())
        except PermissionError:
            return f"RAPL powercap counters not readable: {path} (permission denied)"
        except FileNotFoundError:
            return f"RAPL powercap counters not readable: {path} (absent)"
        except (OSError, ValueError) as exc:
            return f"RAPL powercap counters not readable: {path} ({type(exc).__name__}: {exc})"
        out[zone.name] = (energy, max_range)
    return out


class RaplCounter:
    """Accumulates RAPL readings into microjoules per zone, one wrap at most between two
    readings. Pure: feed it readings (``read_rapl``'s dicts, or a reason string on failure)."""

    def __init__(self, first: dict[str, tuple[int, int]]):
        self.last = dict(first)
        self.uj = {z: 0 for z in first}
        self.error: str | None = None

    def update(self, reading: dict[str, tuple[int, int]] | str) -> None:
        if self.error is not None:
            return
        if isinstance(reading, str):
            self.error = reading
            return
        missing = sorted(set(self.last) - set(reading))
        if missing:
            self.error = f"RAPL zone(s) {', '.join(missing)} disappeared during the window"
            return
        for zone, (energy, max_range) in reading.items():
            if zone in self.last:
                self.uj[zone] += counter_delta(self.last[zone][0], energy, max_range)
        self.last = {z: reading[z] for z in self.last}

    def joules(self) -> float:
        return sum(self.uj.values()) / 1e6


def sum_energy(windows: Sequence[Cost]) -> Cost:
    """The energy of a phase measured in several windows (measure/timer.py): their sum, NULL with
    the first window's reason when one is NULL; flagged or noted as one window of their total
    length would be."""
    if not windows:
        return Cost.missing("J", "energy window not measured (the meter was not entered and left)")
    if len(windows) == 1:
        return windows[0]
    for w in windows:
        if w.value is None:
            return w
    total = sum(float(w.value or 0.0) for w in windows)
    length = sum(float(w.extra.get("window_s") or 0.0) for w in windows)
    figure = EnergyMeter._figure(total, windows[0].source or "", length, windows=len(windows))
    return figure


class EnergyMeter:
    """Energy of the ``with`` block: ``cost()`` afterwards. On "cuda", NVML's total-energy delta
    summed over ``gpu_indices`` (NVML's numbering); otherwise RAPL's package counters, polled
    every ``rapl_poll_s`` seconds by a daemon thread so that wrap-arounds are all counted.
    ``gpu_reason`` says why ``gpu_indices`` is empty on "cuda" (the job's GPU not found in NVML, or
    a MIG instance): the figure is NULL with it."""

    def __init__(
        self,
        device_type: str,
        gpu_indices: list[int] | None = None,
        rapl_root: str | Path = "/sys/class/powercap",
        rapl_poll_s: float = RAPL_POLL_S,
        gpu_reason: str | None = None,
    ):
        self.device_type = device_type
        self.gpu_indices = list(gpu_indices or [])
        self.gpu_reason = gpu_reason
        self.rapl_root = rapl_root
        self.rapl_poll_s = rapl_poll_s
        self._start: dict | str | None = None
        self._end: dict | str | None = None
        self._rapl: RaplCounter | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._t0 = self._t1 = 0.0

    # ---- NVML --------------------------------------------------------------------------------
    def _read_nvml(self) -> dict[int, int] | str:
        ok, reason = nvml.nvml_available()
        if not ok:
            return reason or "NVML not available"
        if not self.gpu_indices:
            return (
                f"the run's GPU is not read from NVML: {self.gpu_reason}"
                if self.gpu_reason
                else "no GPU index to read energy from"
            )
        values = {i: nvml.total_energy_mj(i) for i in self.gpu_indices}
        if any(v is nvml.NA for v in values.values()):
            return "NVML total-energy counter not supported on this GPU (needs Volta or newer)"
        return cast("dict[int, int]", values)  # no NA left: checked just above

    # ---- RAPL --------------------------------------------------------------------------------
    def _poll(self) -> None:
        while not self._stop.wait(self.rapl_poll_s):
            reading = read_rapl(self.rapl_root)
            with self._lock:
                assert self._rapl is not None  # the thread runs only while __enter__'s counter is set
                self._rapl.update(reading)

    # ---- window ------------------------------------------------------------------------------
    def __enter__(self) -> EnergyMeter:
        self._start = self._end = self._rapl = None
        if self.device_type == "cuda":
            self._start = self._read_nvml()
        else:
            self._start = read_rapl(self.rapl_root)
            if isinstance(self._start, dict):
                self._rapl = RaplCounter(self._start)
                self._stop.clear()
                self._thread = threading.Thread(target=self._poll, name="xcost-rapl", daemon=True)
                self._thread.start()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._t1 = time.perf_counter()
        if self.device_type == "cuda":
            self._end = self._read_nvml()
            return
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self._rapl is not None:
            self._rapl.update(read_rapl(self.rapl_root))
            self._end = self._rapl.error or self._rapl.last
        else:
            self._end = self._start

    def cost(self) -> Cost:
        start, end = self._start, self._end
        if start is None or end is None:
            return Cost.missing("J", "energy window not measured (the meter was not entered and left)")
        if isinstance(start, str):
            return Cost.missing("J", start)
        if isinstance(end, str):
            return Cost.missing("J", end)
        window = self._t1 - self._t0
        if self.device_type == "cuda":
            deltas = [end[i] - start[i] for i in start]
            if any(d < 0 for d in deltas):
                return Cost.missing(
                    "J", "NVML energy counter went backwards (driver reloaded or GPU reset)", "nvml", window_s=window
                )
            return self._figure(sum(deltas) / 1000.0, "nvml", window)
        assert self._rapl is not None  # RAPL's start was a reading (not a reason): __enter__ set the counter
        return self._figure(self._rapl.joules(), "rapl", window, zones=sorted(start))

    @staticmethod
    def _figure(joules: float, source: str, window: float, **extra) -> Cost:
        extra["window_s"] = window
        if joules == 0:
            extra["flag"] = WINDOW_TOO_SHORT  # the counter did not move: the window is below its resolution
        elif window < MIN_WINDOW_S:
            extra["note"] = f"window shorter than {MIN_WINDOW_S:g} s: the counter's steps make this coarse"
        return Cost.measured(joules, "J", source, **extra)
