"""Model FLOP utilisation: achieved FLOP/s over the device's dense peak for the precision used.

MFU = FLOPs / (seconds × peak FLOP/s × devices), with the analytic FLOP count (the model's
FLOPs, not the hardware's: no recomputation, no padding-free tricks) and the data-sheet dense
peak — never the "with sparsity" figure the data sheets print first.
"""

from __future__ import annotations

import re

from ..rundir.cost import Cost

PRECISIONS = ("bf16", "fp16", "tf32", "fp32")

# Dense (no sparsity) peak FLOP/s from the vendors' data sheets and architecture white papers.
# bf16/fp16: tensor cores with fp32 accumulation (what torch uses). tf32: fp32 matmuls on tensor
# cores, only when torch.backends.cuda.matmul.allow_tf32 is on (off by default). fp32: plain FP32
# (CUDA cores). None: the GPU has no tensor-core path for that precision.
# The first pattern that matches the device name (NVML's or torch's) wins: specific ones first.
_T = 1e12
PEAKS: list[tuple[str, str, dict[str, float | None]]] = [
    (r"\bGH200\b", "GH200", {"bf16": 989 * _T, "fp16": 989 * _T, "tf32": 494.5 * _T, "fp32": 67 * _T}),
    (r"\bH200\b.*\bNVL\b", "H200 NVL", {"bf16": 835 * _T, "fp16": 835 * _T, "tf32": 417.5 * _T, "fp32": 60 * _T}),
    (r"\bH200\b", "H200 SXM", {"bf16": 989 * _T, "fp16": 989 * _T, "tf32": 494.5 * _T, "fp32": 67 * _T}),
    (r"\bH100\b.*\bPCIe\b", "H100 PCIe", {"bf16": 756 * _T, "fp16": 756 * _T, "tf32": 378 * _T, "fp32": 51 * _T}),
    (r"\bH100\b.*\bNVL\b", "H100 NVL", {"bf16": 835 * _T, "fp16": 835 * _T, "tf32": 417.5 * _T, "fp32": 60 * _T}),
    # "NVIDIA H100 80GB HBM3" is the SXM5 part.
    (r"\bH100\b", "H100 SXM", {"bf16": 989 * _T, "fp16": 989 * _T, "tf32": 494.5 * _T, "fp32": 67 * _T}),
    # 40 and 80 GB, SXM4 and PCIe share the peak (PCIe may throttle sooner at its lower TDP).
    (r"\bA100\b", "A100", {"bf16": 312 * _T, "fp16": 312 * _T, "tf32": 156 * _T, "fp32": 19.5 * _T}),
    # AWS's A10G: NVIDIA publishes no data sheet; AWS lists 70 TFLOPS bf16/fp16 dense, about half
    # the A10's tensor rate.
    (r"\bA10G\b", "A10G", {"bf16": 70 * _T, "fp16": 70 * _T, "tf32": 35 * _T, "fp32": 31.52 * _T}),
    (r"\bA10\b", "A10", {"bf16": 125 * _T, "fp16": 125 * _T, "tf32": 62.5 * _T, "fp32": 31.2 * _T}),
    (r"\bL40S\b", "L40S", {"bf16": 362.05 * _T, "fp16": 362.05 * _T, "tf32": 183 * _T, "fp32": 91.6 * _T}),
    (r"\bL40\b", "L40", {"bf16": 181 * _T, "fp16": 181 * _T, "tf32": 90.5 * _T, "fp32": 90.5 * _T}),
    (r"\bL4\b", "L4", {"bf16": 121 * _T, "fp16": 121 * _T, "tf32": 60 * _T, "fp32": 30.3 * _T}),
    (r"\bA6000\b", "RTX A6000", {"bf16": 154.8 * _T, "fp16": 154.8 * _T, "tf32": 77.4 * _T, "fp32": 38.7 * _T}),
    (r"\bA40\b", "A40", {"bf16": 149.7 * _T, "fp16": 149.7 * _T, "tf32": 74.8 * _T, "fp32": 37.4 * _T}),
    # GeForce: tensor throughput with fp32 accumulation is half the fp16-accumulate figure.
    (r"\b4090\b", "RTX 4090", {"bf16": 165.2 * _T, "fp16": 165.2 * _T, "tf32": 82.6 * _T, "fp32": 82.6 * _T}),
    (r"\b3090\b(?!\s*Ti)", "RTX 3090", {"bf16": 71 * _T, "fp16": 71 * _T, "tf32": 35.6 * _T, "fp32": 35.6 * _T}),
    (r"\bV100S\b", "V100S", {"bf16": None, "fp16": 130 * _T, "tf32": None, "fp32": 16.4 * _T}),
    (r"\bV100\b.*\bPCIE\b", "V100 PCIe", {"bf16": None, "fp16": 112 * _T, "tf32": None, "fp32": 14 * _T}),
    (r"\bV100\b", "V100 SXM2", {"bf16": None, "fp16": 125 * _T, "tf32": None, "fp32": 15.7 * _T}),
    (r"\bT4\b", "T4", {"bf16": None, "fp16": 65 * _T, "tf32": None, "fp32": 8.1 * _T}),
]
_COMPILED = [(re.compile(p, re.IGNORECASE), label, peaks) for p, label, peaks in PEAKS]

# How a GPU's name looks, to tell an unknown GPU from a CPU when no device type is given.
_GPU_NAME = re.compile(r"nvidia|tesla|geforce|quadro|\brtx\b|radeon|instinct|\bMI\d{3}|gpu|cuda", re.IGNORECASE)


def match_gpu(device_name: str | None) -> tuple[str, dict[str, float | None]] | None:
    """(table label, peaks) of the first table row matching the name, or None."""
    for pattern, label, peaks in _COMPILED:
        if device_name and pattern.search(device_name):
            return label, peaks
    return None


def peak_flops(
    device_name: str | None, precision: str, device_type: str | None = None
) -> tuple[float | None, str | None]:
    """(peak FLOP/s, None) for a GPU in the table, else (None, reason).

    ``precision`` is one of bf16, fp16, tf32, fp32 (fp32 = plain FP32, torch's default for
    matmuls). ``device_type`` ("cpu"/"cuda") settles whether a name is a CPU's; without it,
    a name that does not look like a GPU's is taken for a CPU."""
    if precision not in PRECISIONS:
        return None, f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})"
    name = (device_name or "").strip()
    is_cpu = device_type == "cpu" if device_type else not _GPU_NAME.search(name)
    if is_cpu:
        return None, "no peak FLOP/s table for CPUs"
    found = match_gpu(name)
    if found is None:
        return None, f"peak FLOP/s of {name or 'this GPU'!r} is not in the table (xcost_tui/measure/mfu.py)"
    label, peaks = found
    value = peaks.get(precision)
    if value is None:
        return None, f"{label} has no {precision} tensor-core path"
    return value, None


def mfu(flops: float | None, seconds: float, peak: float | None, devices: int = 1) -> Cost:
    """flops / (seconds × peak × devices), source "analytic"; null with a reason where any
    part is unknown or there was no elapsed time."""
    if peak is None:
        return Cost.missing("ratio", "peak FLOP/s unknown for this device")
    if flops is None:
        return Cost.missing("ratio", "no FLOP count")
    if seconds is None or seconds <= 0 or devices < 1:
        return Cost.missing("ratio", "no elapsed time to divide by")
    return Cost.measured(flops / (seconds * peak * devices), "ratio", "analytic", peak_flops=peak)
