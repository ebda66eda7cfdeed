"""Measurement: cost arithmetic (pure functions) and probes (context managers).

torch is imported only inside the functions that need it: the supervisor imports
``measure.nvml`` for its sampler and must stay light.
"""

from .cost import Cost
from .energy import EnergyMeter, counter_delta, read_rapl
from .flops import EncoderDims, FlopSampler, count_flops, encoder_forward_flops, head_forward_flops, train_flops
from .memory import MemoryProbe
from .mfu import mfu, peak_flops
from .stats import latency_summary, paired_bootstrap_diff, percentile, wilson_interval
from .timer import PhaseMeter, throughput

__all__ = [
    "Cost", "EnergyMeter", "counter_delta", "read_rapl", "EncoderDims", "FlopSampler", "count_flops",
    "encoder_forward_flops", "head_forward_flops", "train_flops", "MemoryProbe", "mfu", "peak_flops",
    "latency_summary", "paired_bootstrap_diff", "percentile", "wilson_interval", "PhaseMeter", "throughput",
]
