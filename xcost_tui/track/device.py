"""The device a user's own training script runs on, as the tool's job describes its own
(job/device.py ``pick_device``): its type, name, count, precision and NVML device (for energy).

torch is imported only inside ``detect_device``: ``import xcost_tui.track`` stays light, and a
script that trains with torch has it loaded already.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import XcostError
from ..measure import nvml
from ..measure.env import cpu_model_name


@dataclass(frozen=True)
class TrackedDevice:
    type: str  # cpu | cuda
    torch_device: str  # "cpu", "cuda:0": the device the phase meter synchronises and reads memory of
    name: str
    count: int = 1
    precision: str = "fp32"  # what the script trains in (it says; the tool cannot see its autocast)
    nvml_indices: list[int] = field(default_factory=list)
    nvml_reason: str | None = None  # why nvml_indices is empty on a GPU


def detect_device(requested: str = "auto", precision: str | None = None) -> TrackedDevice:
    """``requested``: auto (a GPU when torch sees one), cpu, cuda or cuda:N. ``precision``: what
    the script trains in (fp32, bf16, fp16); None: fp32."""
    prec = precision or "fp32"
    try:
        import torch
    except ImportError:  # a script without torch: it can only be measured as CPU work
        torch = None
    cuda = torch is not None and torch.cuda.is_available()
    if requested == "cpu" or (requested == "auto" and not cuda):
        return TrackedDevice("cpu", "cpu", cpu_model_name(), 1, prec)
    if torch is None or not cuda:
        raise XcostError(f"device {requested!r} asked for, but torch sees no CUDA GPU here; use 'auto' or 'cpu'")
    index = torch.cuda.current_device() if requested in ("auto", "cuda") else int(requested.partition(":")[2])
    mapping = nvml.map_torch_device(index, torch.cuda)
    indices = [mapping.index] if mapping.index is not None and not mapping.mig else []
    return TrackedDevice(
        "cuda",
        f"cuda:{index}",
        torch.cuda.get_device_name(index),
        1,
        prec,
        indices,
        None if indices else (mapping.reason or "not found in NVML"),
    )
