"""Device profiles: project a forecast onto a GPU that is not here (``--device-profile NAME``).

A profile is a row of the peak-FLOP/s table (``measure/mfu.py``, the data sheets' dense peaks)
plus the GPU's memory, memory bandwidth and board power (the data sheets). Time on it, per
micro-batch, is its FLOPs / (peak × efficiency) plus a fixed cost per layer (kernel launches and the
element-wise kernels, which dominate short sequences on any GPU), and per optimiser step the
fused AdamW update, which reads and writes about 36 bytes per parameter at the memory bandwidth.
The efficiency (the model FLOP utilisation of the matrix multiplications) is an assumption, said
with every projection: ``DEFAULT_EFFICIENCY`` unless ``--efficiency`` gives another. Energy is time
× board power, an upper bound. Torch-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import XcostError
from ..measure.mfu import PEAKS, match_gpu
from ..suggest import did_you_mean

GIB = 2**30
# The model FLOP utilisation assumed for a projection: encoder fine-tuning at short, dynamically
# padded sequences and batches of 8-32 examples reaches a fraction of the dense peak (launch-bound
# small matmuls, attention, optimizer steps). xcost-tui's assumption, not a measurement: the probe
# on the GPU itself (`plan estimate` there, without --device-profile) or the MFU of finished runs
# (`SELECT avg(mfu) FROM phases ...`) replaces it.
DEFAULT_EFFICIENCY = 0.25
# The fixed cost per layer of one forward+backward of a micro-batch (about 40 kernels: launches and
# element-wise work), and of one forward pass; xcost-tui's assumption.
TRAIN_OVERHEAD_S_PER_LAYER = 0.15e-3
FORWARD_OVERHEAD_S_PER_LAYER = 0.05e-3
OPTIMIZER_BYTES_PER_PARAM = 36  # fused AdamW: read weight, grad, two moments; write weight, two moments (fp32)

# table label -> (memory GiB, memory bandwidth TB/s, board power W): the vendors' data sheets
# (SXM/PCIe/NVL variants as named; A100 and V100: the larger-memory part).
MEMORY_POWER: dict[str, tuple[float, float, float]] = {
    "GH200": (96, 4.0, 1000),
    "H200 NVL": (141, 4.8, 600),
    "H200 SXM": (141, 4.8, 700),
    "H100 PCIe": (80, 2.0, 350),
    "H100 NVL": (94, 3.9, 400),
    "H100 SXM": (80, 3.35, 700),
    "A100": (80, 2.0, 400),
    "A10G": (24, 0.6, 300),
    "A10": (24, 0.6, 150),
    "L40S": (48, 0.864, 350),
    "L40": (48, 0.864, 300),
    "L4": (24, 0.3, 72),
    "RTX A6000": (48, 0.768, 300),
    "A40": (48, 0.696, 300),
    "RTX 4090": (24, 1.008, 450),
    "RTX 3090": (24, 0.936, 350),
    "V100S": (32, 1.134, 250),
    "V100 PCIe": (16, 0.9, 250),
    "V100 SXM2": (32, 0.9, 300),
    "T4": (16, 0.32, 70),
}

# The host link a model's weights cross from host RAM to the device (a warm worker restores each
# run's fresh model this way, docs/plans.md "Forecasts"). Per direction, x16 lanes: PCIe 3.0 8 GT/s,
# 4.0 16 GT/s, 5.0 32 GT/s per lane with 128b/130b encoding (the PCI-SIG base specifications) =
# 15.75, 31.5, 63 GB/s; the GPUs' generations are the vendors' data sheets (H100/H200 "PCIe Gen5:
# 128 GB/s", A100/A10/L4/L40(S)/A40/RTX A6000 "PCIe Gen4: 64 GB/s", V100/T4 "PCIe Gen3: 32 GB/s",
# both directions; GH200: NVLink-C2C 900 GB/s both directions). A copy from pageable host memory is
# staged by the driver and reaches well under that (NVIDIA's CUDA C++ Best Practices Guide, "Pinned
# Memory"): the forecast takes HOST_LINK_EFFICIENCY of the per-direction rate, a conservative
# assumption (the CUDA samples' bandwidthTest measures it on a machine), e.g. 25 GB/s on an H100 SXM.
PCIE_X16_BYTES_PER_S = {3: 15.75e9, 4: 31.5e9, 5: 63e9}
HOST_LINK: dict[str, int | float] = {  # label -> PCIe generation, or a link's per-direction bytes/s
    "GH200": 450e9,
    "H200 NVL": 5,
    "H200 SXM": 5,
    "H100 PCIe": 5,
    "H100 NVL": 5,
    "H100 SXM": 5,
    "A100": 4,
    "A10G": 4,
    "A10": 4,
    "L40S": 4,
    "L40": 4,
    "L4": 4,
    "RTX A6000": 4,
    "A40": 4,
    "RTX 4090": 4,
    "RTX 3090": 4,
    "V100S": 3,
    "V100 PCIe": 3,
    "V100 SXM2": 3,
    "T4": 3,
}
HOST_LINK_EFFICIENCY = 0.4


def host_to_device_bytes_per_s(label: str | None) -> float | None:
    """The effective host-to-device rate assumed for a GPU of the peak table (bytes/s), or None
    for a device not in it (a CPU: no copy)."""
    link = HOST_LINK.get(label or "")
    if link is None:
        return None
    per_direction = PCIE_X16_BYTES_PER_S[int(link)] if link in PCIE_X16_BYTES_PER_S else float(link)
    return per_direction * HOST_LINK_EFFICIENCY


_GB = re.compile(r"(\d+)\s*G(i)?B", re.IGNORECASE)


@dataclass(frozen=True)
class DeviceProfile:
    name: str  # as asked for
    label: str  # the peak table's row
    peaks: dict  # precision -> FLOP/s (None: no tensor-core path)
    memory_bytes: int
    power_w: float
    efficiency: float
    bandwidth: float = 1e12  # bytes/s
    host_to_device: float | None = None  # bytes/s, effective (HOST_LINK)

    @property
    def precision(self) -> str:
        """The precision the job would use on it (``job/device.py`` pick_device: bf16 where supported, else fp16)."""
        return "bf16" if self.peaks.get("bf16") else "fp16"

    @property
    def peak(self) -> float:
        return float(self.peaks[self.precision])

    @property
    def family(self) -> str:
        """The first word of the label (H100, A100, ...): how the store matches a profile to the GPU a run used."""
        return self.label.split()[0]

    def describe(self) -> str:
        return (
            f"{self.label} ({self.memory_bytes / GIB:.0f} GiB, {self.peak / 1e12:.0f} TFLOP/s dense {self.precision}, "
            f"{self.bandwidth / 1e12:.2g} TB/s) at an assumed {self.efficiency:.0%} model FLOP utilisation"
        )


def profile_names() -> list[str]:
    return [label.replace(" ", "-") for _, label, _ in PEAKS]


def get_profile(name: str, efficiency: float | None = None) -> DeviceProfile:
    """The profile ``name`` (``H100-SXM``, ``a100``, ``A100-40GB``, or a GPU name as NVML says it)."""
    eff = DEFAULT_EFFICIENCY if efficiency is None else float(efficiency)
    if not 0 < eff <= 1:
        raise XcostError(
            f"--efficiency {efficiency}: must be in (0, 1], the fraction of the peak FLOP/s a step reaches"
        )
    wanted = re.sub(r"[-_]+", " ", name.strip())
    labels = {label.lower(): (label, peaks) for _, label, peaks in PEAKS}
    found = labels.get(wanted.lower())
    if found is None:
        bare = _GB.sub("", wanted).strip()
        found = labels.get(bare.lower()) or match_gpu(wanted)
    if found is None:
        names = profile_names()
        raise XcostError(
            f"--device-profile {name!r}: no such GPU in the peak table (xcost_tui/measure/mfu.py)"
            f"{did_you_mean(name, names)}; profiles: {', '.join(names)}"
        )
    label, peaks = found
    memory_gib, tbps, power = MEMORY_POWER[label]
    gb = _GB.search(wanted)
    if gb:  # A100-40GB, V100-16GB: the variant's memory
        memory_gib = float(gb.group(1))
    return DeviceProfile(
        name,
        label,
        dict(peaks),
        int(memory_gib * GIB),
        float(power),
        eff,
        tbps * 1e12,
        host_to_device_bytes_per_s(label),
    )
