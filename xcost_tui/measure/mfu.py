"""Model FLOP utilisation: achieved FLOP/s over the device's dense peak for the precision used."""

from __future__ import annotations

from .cost import Cost

# Dense (no sparsity) peak FLOP/s from the vendors' data sheets: (bf16, fp16, fp32 incl. TF32 where the
# tensor cores take fp32 matmuls by default off -> plain fp32). None: the precision is not supported.
# Order matters: the first substring that matches the device name wins, so specific names come first.
PEAKS: list[tuple[str, dict[str, float | None]]] = [
    ("H200", {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12}),
    ("H100 PCIe", {"bf16": 756e12, "fp16": 756e12, "fp32": 51e12}),
    ("H100 NVL", {"bf16": 835e12, "fp16": 835e12, "fp32": 60e12}),
    ("H100", {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12}),  # SXM (e.g. "NVIDIA H100 80GB HBM3")
    ("A100", {"bf16": 312e12, "fp16": 312e12, "fp32": 19.5e12}),
    ("A10G", {"bf16": 125e12, "fp16": 125e12, "fp32": 31.2e12}),  # A10G's published tensor peak as for A10
    ("A10", {"bf16": 125e12, "fp16": 125e12, "fp32": 31.2e12}),
    ("L40S", {"bf16": 362e12, "fp16": 362e12, "fp32": 91.6e12}),
    ("L4", {"bf16": 121e12, "fp16": 121e12, "fp32": 30.3e12}),
    ("RTX A6000", {"bf16": 154.8e12, "fp16": 154.8e12, "fp32": 38.7e12}),
    ("RTX 4090", {"bf16": 165.2e12, "fp16": 165.2e12, "fp32": 82.6e12}),
    ("RTX 3090", {"bf16": 71e12, "fp16": 71e12, "fp32": 35.6e12}),
    ("V100", {"bf16": None, "fp16": 125e12, "fp32": 15.7e12}),
    ("T4", {"bf16": None, "fp16": 65e12, "fp32": 8.1e12}),
]


def peak_flops(device_name: str | None, precision: str) -> tuple[float | None, str | None]:
    """(peak FLOP/s, None) for a known GPU, else (None, reason)."""
    name = device_name or ""
    for key, peaks in PEAKS:
        if key.lower() in name.lower():
            value = peaks.get(precision)
            if value is None:
                return None, f"{key} has no {precision} tensor-core peak in the table"
            return value, None
    if not name or "cuda" not in name.lower() and not name.upper().startswith(("NVIDIA", "TESLA", "GEFORCE", "QUADRO")):
        return None, "no peak FLOP/s table for CPUs"
    return None, f"peak FLOP/s of {name!r} is not in the table (xcost_tui/measure/mfu.py)"


def mfu(flops: float, seconds: float, peak: float | None, devices: int = 1) -> Cost:
    if peak is None:
        return Cost.missing("ratio", "peak FLOP/s unknown for this device")
    if seconds <= 0 or devices < 1:
        return Cost.missing("ratio", "no elapsed time to divide by")
    return Cost.measured(flops / (seconds * peak * devices), "ratio", "analytic", peak_flops=peak)
