"""Peak memory of a phase: the CUDA allocator's peak on GPU, the process's peak RSS on CPU.

Both watermarks are process-wide, and a probe resets its watermark when it starts. Probes may
nest (a benchmark inside a phase): before an inner probe resets the watermark, every probe
still open on that device carries the peak so far, so an outer probe's peak is never lost.
Nor is the process's: each reset first folds the watermark into a lifetime peak
(``lifetime_peak``), which thus covers everything since the process started, start-up included.
A probe also keeps the memory at its start, so ``increase_cost`` says what the window added
(on a CPU, after training, most of the resident memory is training's leftovers).
"""

from __future__ import annotations

import resource
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from ..rundir.cost import Cost

PROC_STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
LIFETIME_NOTE = "process lifetime peak, not per phase"

_open: list[MemoryProbe] = []  # probes inside their ``with`` block, outermost first
_open_lock = threading.Lock()
_lifetime: dict[str, int] = {}  # device -> the highest watermark seen before a reset of it


def proc_status_kib(field: str, path: Path = PROC_STATUS) -> int | None:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM, ...), or None where unreadable."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_peak_rss(path: Path = CLEAR_REFS) -> bool:
    """Reset the kernel's peak-RSS watermark (VmHWM) of this process to its current RSS by
    writing 5 to clear_refs (Linux >= 4.0; 5 touches nothing else, unlike 1-4). False where
    the file is absent or not writable (some containers, other kernels)."""
    try:
        path.write_text("5")
        return True
    except OSError:
        return False


def maxrss_bytes() -> int:
    """getrusage's lifetime peak RSS of this process, in bytes (KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _fold_lifetime(device: str, peak: int | None) -> None:
    if peak is not None:
        _lifetime[device] = max(_lifetime.get(device, 0), int(peak))


def _watermark(device: str) -> tuple[int | None, str]:
    """(the device's peak since its last reset, source): VmHWM, or getrusage where /proc is unreadable;
    the CUDA allocator's peak on a GPU."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated(device)), "torch.cuda"
    hwm = proc_status_kib("VmHWM")
    if hwm is not None:
        return hwm * 1024, "procfs"
    return maxrss_bytes(), "getrusage"


def lifetime_peak(device: str = "cpu") -> Cost:
    """The process's peak memory since it started (start-up before the first phase included), on
    ``device``: resident memory on a CPU, the CUDA allocator's peak on a GPU. The per-phase resets of
    the watermark do not lose it: each folds the peak so far in first."""
    device = device or "cpu"
    with _open_lock:
        try:
            now, source = _watermark(device)
        except Exception as exc:  # noqa: BLE001 - a figure we cannot read is NULL, never a crash
            return Cost.missing("B", f"peak memory not readable ({type(exc).__name__}: {exc})")
        seen = [x for x in (now, _lifetime.get(device)) if x is not None]
    if not seen:
        return Cost.missing("B", "peak memory not readable")
    return Cost.measured(max(seen), "B", source, note="process lifetime peak, start-up included")


class MemoryProbe:
    """Peak memory of the ``with`` block (``cost()``) and memory now (``current()``).

    cuda: ``torch.cuda.reset_peak_memory_stats`` at the start, ``max_memory_allocated`` at the
    end (tensors this process allocated; not the allocator's cache or the CUDA context).
    cpu: VmHWM after resetting it through /proc/self/clear_refs (source "procfs"); where that
    reset is refused, getrusage's lifetime peak (source "getrusage", with a note)."""

    def __init__(self, device: str = "cpu"):
        self.device = device or "cpu"
        self.is_cuda = self.device.startswith("cuda")
        self.source = "torch.cuda" if self.is_cuda else "procfs"
        self.per_phase = True
        self._carried = 0  # the highest peak seen so far (before an inner probe's reset, or read)
        self._peak: int | None = None
        self._start: int | None = None  # memory at the start (after the reset)

    # ---- raw readings ------------------------------------------------------------------------
    def _raw(self) -> tuple[int | None, int | None]:
        """(bytes now, watermark bytes) as the kernel or allocator reports them."""
        if self.is_cuda:
            import torch

            return int(torch.cuda.memory_allocated(self.device)), int(torch.cuda.max_memory_allocated(self.device))
        rss = proc_status_kib("VmRSS")
        now = rss * 1024 if rss is not None else None
        if self.source == "procfs":
            hwm = proc_status_kib("VmHWM")
            return now, (hwm * 1024 if hwm is not None else None)
        return now, maxrss_bytes()

    def _reset(self) -> None:
        try:
            _fold_lifetime(self.device, _watermark(self.device)[0])  # the lifetime peak survives the reset
        except Exception:  # noqa: BLE001 - an unreadable watermark must not stop the phase
            pass
        if self.is_cuda:
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
        elif not reset_peak_rss() or proc_status_kib("VmHWM") is None:
            self.source, self.per_phase = "getrusage", False

    # ---- window ------------------------------------------------------------------------------
    def __enter__(self) -> MemoryProbe:
        self._carried, self._peak, self._start = 0, None, None
        self.source, self.per_phase = ("torch.cuda" if self.is_cuda else "procfs"), True
        self._open_window()
        self._start = self._raw()[0]
        return self

    def resume(self) -> MemoryProbe:
        """Another window of the same probe after ``__exit__`` (a phase paused for work that is not
        its own, such as learning-curve evaluations): the peak of the earlier windows is kept, what
        happened in between is not counted (the watermark is reset here)."""
        self._open_window()
        return self

    def _open_window(self) -> None:
        with _open_lock:
            outer = [p for p in _open if p.device == self.device]
            if outer:
                _, peak = outer[-1]._raw()
                for p in outer:
                    p._carried = max(p._carried, peak or 0)
            self._reset()
            _open.append(self)

    def __exit__(self, *exc) -> None:
        self._peak = self.current()[1]
        _fold_lifetime(self.device, self._peak)
        with _open_lock:
            if self in _open:
                _open.remove(self)

    def current(self) -> tuple[int | None, int | None, str]:
        """(bytes now, peak bytes since the probe started, source), for progress events."""
        now, peak = self._raw()
        if peak is not None:
            # The kernel's RSS counters are batched per CPU, so two VmHWM reads may differ by a
            # few pages downwards; a probe's peak never goes down.
            peak = max(peak, now or 0, self._carried)
            self._carried = peak
        return now, peak, self.source

    def cost(self) -> Cost:
        if self._peak is None:
            return Cost.missing(
                "B", "peak memory not read (the probe was not entered and left, or /proc/self/status is unreadable)"
            )
        extra = {} if self.per_phase else {"note": LIFETIME_NOTE}
        return Cost.measured(self._peak, "B", self.source, **extra)

    def increase_cost(self) -> Cost:
        """The peak minus the memory at the start: what the window itself added (on a CPU, resident
        memory: the process's start-of-window memory, e.g. training's leftovers, is not counted)."""
        if self._peak is None or self._start is None:
            return Cost.missing(
                "B", "peak memory not read (the probe was not entered and left, or /proc/self/status is unreadable)"
            )
        if not self.per_phase:
            return Cost.missing(
                "B",
                "the peak is the process lifetime's (/proc/self/clear_refs is not writable): "
                "no increase within the phase",
                self.source,
            )
        return Cost.measured(max(0, self._peak - self._start), "B", self.source, start_bytes=self._start)


class MemoryProbeSet:
    """A ``MemoryProbe`` over several CUDA devices (a model that ``device_map = "auto"`` spread over
    GPUs): one probe per device, their figures summed. The peak is the sum of each device's own peak:
    every GPU must hold its own worst moment, so that is the memory the run needed across them (the
    peaks need not coincide in time, so it can exceed the most the GPUs held at one instant). The
    same interface as ``MemoryProbe``, so ``PhaseMeter`` and progress events use either."""

    def __init__(self, devices: Sequence[str]):
        self.devices = list(devices)
        self.probes = [MemoryProbe(d) for d in self.devices]
        self.device = ",".join(self.devices)

    @property
    def source(self) -> str:
        return self.probes[0].source if self.probes else "torch.cuda"

    def __enter__(self) -> MemoryProbeSet:
        for p in self.probes:
            p.__enter__()
        return self

    def resume(self) -> MemoryProbeSet:
        for p in self.probes:
            p.resume()
        return self

    def __exit__(self, *exc) -> None:
        for p in self.probes:
            p.__exit__(*exc)

    def current(self) -> tuple[int | None, int | None, str]:
        readings = [p.current() for p in self.probes]
        now = [r[0] for r in readings]
        peak = [r[1] for r in readings]
        return (
            sum(n for n in now if n is not None) if all(n is not None for n in now) else None,
            sum(p for p in peak if p is not None) if all(p is not None for p in peak) else None,
            self.source,
        )

    def _summed(self, costs: list[Cost]) -> Cost:
        missing = next((c for c in costs if c.value is None), None)
        if missing is not None:
            return missing
        total = sum(c.value for c in costs if c.value is not None)
        per = {d: c.value for d, c in zip(self.devices, costs)}
        return Cost.measured(total, "B", costs[0].source or "torch.cuda", devices=len(costs), per_device=per)

    def cost(self) -> Cost:
        return self._summed([p.cost() for p in self.probes])

    def increase_cost(self) -> Cost:
        return self._summed([p.increase_cost() for p in self.probes])


def memory_probe(devices: str | Sequence[str]) -> MemoryProbe | MemoryProbeSet:
    """One device's probe, or the summed probe of several."""
    if isinstance(devices, str):
        return MemoryProbe(devices)
    return MemoryProbeSet(devices) if len(devices) > 1 else MemoryProbe(devices[0] if devices else "cpu")


def lifetime_peak_of(devices: Sequence[str]) -> Cost:
    """``lifetime_peak`` summed over several devices (each GPU's own lifetime peak)."""
    costs = [lifetime_peak(d) for d in devices]
    missing = next((c for c in costs if c.value is None), None)
    if missing is not None or not costs:
        return missing or Cost.missing("B", "no device")
    return Cost.measured(
        sum(c.value for c in costs if c.value is not None),
        "B",
        costs[0].source or "torch.cuda",
        note="process lifetime peak, start-up included; each device's, summed",
        devices=len(costs),
    )
