"""Peak memory of a phase: the CUDA allocator's peak on GPU, the process's peak RSS on CPU."""

from __future__ import annotations

import resource
from pathlib import Path

from .cost import Cost

PROC_STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _proc_status_kib(field: str) -> int | None:
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_peak_rss() -> bool:
    """Writing 5 to clear_refs resets the kernel's peak-RSS watermark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


class MemoryProbe:
    def __init__(self, device: str = "cpu"):
        self.device = device
        self.is_cuda = device.startswith("cuda")
        self.source = "torch.cuda" if self.is_cuda else "procfs"
        self.per_phase = True
        self._peak: int | None = None

    def __enter__(self) -> "MemoryProbe":
        if self.is_cuda:
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
        elif not reset_peak_rss() or _proc_status_kib("VmHWM") is None:
            self.source, self.per_phase = "getrusage", False
        return self

    def __exit__(self, *exc) -> None:
        self._peak = self.current()[1]

    def current(self) -> tuple[int | None, int | None, str]:
        """(bytes now, peak bytes so far, source)."""
        if self.is_cuda:
            import torch

            return torch.cuda.memory_allocated(self.device), torch.cuda.max_memory_allocated(self.device), self.source
        rss = _proc_status_kib("VmRSS")
        if self.source == "procfs":
            hwm = _proc_status_kib("VmHWM")
        else:
            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        return (rss * 1024 if rss is not None else None), (hwm * 1024 if hwm is not None else None), self.source

    def cost(self) -> Cost:
        if self._peak is None:
            return Cost.missing("B", "peak memory not read")
        extra = {} if self.per_phase else {"note": "process lifetime peak, not per phase"}
        return Cost.measured(self._peak, "B", self.source, **extra)
