"""The run's device: which one, the precision it trains in, and its NVML device (energy).

``pick_device`` turns the spec's ``device`` into a ``loops.Device``; on a GPU the precision is
bf16 where it has bf16 tensor cores and fp16 elsewhere (``choose_precision``), and the NVML
device is found by the UUID torch reports (``measure/nvml.py map_torch_device``).

A causal LM or MT model loaded with ``device_map = "auto"`` may lie on several GPUs: ``spread_device``
makes the run's device count every GPU the model is on (device-hours, MFU, NVML energy of each), and
``phase_meter`` measures a phase over all of them (peak memory summed over the GPUs, every GPU
synchronised at both ends of a window).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from ..errors import SpecError
from ..measure import nvml
from ..measure.env import cpu_model_name
from ..measure.memory import lifetime_peak_of, memory_probe
from ..measure.timer import PhaseMeter
from .loops import Device


def pick_device(requested: str) -> Device:
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return Device(torch.device("cpu"), "cpu", cpu_model_name(), 1, "fp32")
    if not torch.cuda.is_available():
        raise SpecError(
            f"device {requested!r} asked for, but torch sees no CUDA GPU here (torch {torch.__version__}); use device = 'auto' or 'cpu'"
        )
    dev = torch.device("cuda" if requested == "auto" else requested)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    torch.cuda.set_device(index)
    mapping = nvml.map_torch_device(index, torch.cuda)
    nvml_indices = [mapping.index] if mapping.index is not None and not mapping.mig else []
    return Device(
        dev,
        "cuda",
        torch.cuda.get_device_name(index),
        1,
        choose_precision(torch.cuda),
        nvml_indices,
        None if nvml_indices else mapping.reason,
    )


def choose_precision(cuda) -> str:
    """bf16 where the GPU has bf16 tensor cores (compute capability 8.0 and newer); elsewhere fp16,
    trained with a grad scaler (loops.train). ``torch.cuda.is_bf16_supported()`` alone counts
    emulation: a V100 or T4 would then run bf16 in software, several times slower. ``cuda`` is
    ``torch.cuda`` (a stand-in in tests)."""
    try:
        native = cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # a torch without the keyword (< 2.3): decide by the compute capability
        native = cuda.get_device_properties(cuda.current_device()).major >= 8
    return "bf16" if native else "fp16"


# ---- several GPUs (device_map = "auto") -------------------------------------------------------------


@dataclass
class GpuSet(Device):
    """The run's device when its model lies on several GPUs: ``count`` of them, ``cuda_indices`` in
    CUDA's numbering (``torch_device`` stays the run's own GPU, where inputs start)."""

    cuda_indices: list[int] = field(default_factory=list)

    def synchronize(self) -> None:
        for i in self.cuda_indices:
            torch.cuda.synchronize(i)


def _cuda_index(where: Any, current: int) -> int | None:
    """The CUDA index of a ``hf_device_map`` value or a parameter's device: an int (accelerate's GPU
    index), ``"cuda"``/``"cuda:1"``, a ``torch.device``; None for ``"cpu"``, ``"disk"``, ``"mps"``."""
    if isinstance(where, bool):
        return None
    if isinstance(where, int):
        return where
    if isinstance(where, torch.device):
        return (where.index if where.index is not None else current) if where.type == "cuda" else None
    if isinstance(where, str):
        if where.isdigit():
            return int(where)
        if where == "cuda" or where.startswith("cuda:"):
            index = where.partition(":")[2]
            return int(index) if index else current
    return None


def model_cuda_indices(model, current: int = 0) -> list[int]:
    """The CUDA devices a model's weights are on, sorted: its ``hf_device_map`` values (transformers
    sets it when loading with a ``device_map``), else its parameters' devices. Layers offloaded to
    the CPU or disk are not GPUs and are not counted."""
    device_map = getattr(model, "hf_device_map", None)
    where: Iterable[Any] = (
        device_map.values() if isinstance(device_map, dict) and device_map else (p.device for p in model.parameters())
    )
    return sorted({i for i in (_cuda_index(w, current) for w in where) if i is not None})


def spread_device(device: Device, cuda_indices: Iterable[int], cuda=None) -> Device:
    """The run's device counting every GPU in ``cuda_indices`` as well as its own: ``count`` of them
    (device-hours and MFU), each one's NVML index (energy summed over them; NULL with the reasons when
    any of them cannot be read, never a part of the GPUs passed off as the whole), a ``GpuSet``
    (memory and synchronisation over all). On a CPU, or a model on the run's GPU alone, ``device``
    itself. ``cuda`` is ``torch.cuda`` (a stand-in in tests)."""
    if device.type != "cuda":
        return device
    cuda = torch.cuda if cuda is None else cuda
    own = device.torch_device.index if device.torch_device.index is not None else cuda.current_device()
    indices = sorted({own, *cuda_indices})
    if len(indices) <= 1:
        return device
    nvml_indices: list[int] = []
    reasons: list[str] = []
    for i in indices:
        mapping = nvml.map_torch_device(i, cuda)
        if mapping.index is None or mapping.mig:
            reasons.append(f"cuda:{i}: {mapping.reason or 'not found in NVML'}")
        else:
            nvml_indices.append(mapping.index)
    base = {f.name: getattr(device, f.name) for f in fields(Device)}
    base.update(
        count=len(indices),
        nvml_indices=[] if reasons else nvml_indices,
        nvml_reason="; ".join(reasons) if reasons else None,
    )
    return GpuSet(**base, cuda_indices=indices)


class GpuSetMeter(PhaseMeter):
    """A PhaseMeter over every GPU of a ``GpuSet``: each synchronised at both ends of a window, peak
    memory per GPU summed (measure/memory.py ``MemoryProbeSet``), the lifetime peak likewise."""

    def __init__(self, device: GpuSet, enabled_memory: bool):
        super().__init__(**_meter_args(device, enabled_memory))
        self.cuda_devices = [f"cuda:{i}" for i in device.cuda_indices]
        self.memory = memory_probe(self.cuda_devices)  # type: ignore[assignment]  # the same interface

    def _sync(self) -> None:
        for d in self.cuda_devices:
            torch.cuda.synchronize(d)

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.lifetime = lifetime_peak_of(self.cuda_devices)


def phase_meter(device: Device, enabled_memory: bool) -> PhaseMeter:
    """The meter of a phase on ``device``: ``PhaseRunner._meter``'s, over every GPU of a ``GpuSet``."""
    if isinstance(device, GpuSet):
        return GpuSetMeter(device, enabled_memory)
    return PhaseMeter(**_meter_args(device, enabled_memory))


def _meter_args(device: Device, enabled_memory: bool) -> dict[str, Any]:
    """PhaseMeter's arguments for a phase on ``device``."""
    return {
        "device_type": device.type,
        "device": str(device.torch_device),
        "gpu_indices": device.nvml_indices,
        "enabled_memory": enabled_memory,
        "devices": device.count,
        "gpu_reason": device.nvml_reason,
    }
