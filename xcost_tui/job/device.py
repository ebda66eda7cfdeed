"""The run's device: which one, the precision it trains in, and its NVML device (energy).

``pick_device`` turns the spec's ``device`` into a ``loops.Device``; on a GPU the precision is
bf16 where it has bf16 tensor cores and fp16 elsewhere (``choose_precision``), and the NVML
device is found by the UUID torch reports (``nvml_mapping``).
"""

from __future__ import annotations

import platform

import torch

from ..errors import SpecError
from ..measure import nvml
from .loops import Device


def pick_device(requested: str) -> Device:
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        name = platform.processor() or platform.machine() or "cpu"
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("model name"):
                        name = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        return Device(torch.device("cpu"), "cpu", name, 1, "fp32")
    if not torch.cuda.is_available():
        raise SpecError(
            f"device {requested!r} asked for, but torch sees no CUDA GPU here (torch {torch.__version__}); use device = 'auto' or 'cpu'"
        )
    dev = torch.device("cuda" if requested == "auto" else requested)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    torch.cuda.set_device(index)
    mapping = nvml_mapping(index, torch.cuda)
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


def nvml_mapping(torch_index: int, cuda):
    """The NVML device of CUDA device ``torch_index`` (measure/nvml.py ``map_cuda_device``): by the
    UUID torch reports for it, else from CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER; energy is
    NULL with the reason when it cannot be found or is a MIG instance (whose counter is the GPU's)."""
    try:
        uuid = str(cuda.get_device_properties(torch_index).uuid)
    except Exception:  # noqa: BLE001 - an old torch or odd build: the environment decides
        uuid = None
    return nvml.map_cuda_device(torch_index, torch_uuid=uuid)
