"""Measurement: cost arithmetic (pure functions) and probes (context managers).

torch is imported only inside the functions that need it: the supervisor imports
``measure.nvml`` for its sampler and must stay light (tests/test_measure_memory.py checks).
Methodology: docs/measurement.md.
"""

from ..rundir.cost import Cost
from . import nvml
from .energy import EnergyMeter, RaplCounter, counter_delta, read_rapl
from .env import collect_env, git_commit
from .flops import (
    DecoderDims,
    EncoderDims,
    FlopSampler,
    Seq2SeqDims,
    count_flops,
    decoder_forward_flops,
    encoder_forward_flops,
    encoder_forward_flops_unpadded,
    head_forward_flops,
    sample_steps,
    seq2seq_generate_flops,
    train_flops,
)
from .memory import MemoryProbe, lifetime_peak
from .mfu import PEAKS, mfu, peak_flops
from .stats import bootstrap_ci, latency_summary, paired_bootstrap_diff, percentile, wilson_interval
from .timer import PhaseMeter, throughput

__all__ = [
    "nvml",
    "Cost",
    "EnergyMeter",
    "RaplCounter",
    "counter_delta",
    "read_rapl",
    "collect_env",
    "git_commit",
    "DecoderDims",
    "Seq2SeqDims",
    "decoder_forward_flops",
    "seq2seq_generate_flops",
    "EncoderDims",
    "FlopSampler",
    "count_flops",
    "encoder_forward_flops",
    "encoder_forward_flops_unpadded",
    "head_forward_flops",
    "sample_steps",
    "train_flops",
    "MemoryProbe",
    "lifetime_peak",
    "PEAKS",
    "mfu",
    "peak_flops",
    "bootstrap_ci",
    "latency_summary",
    "paired_bootstrap_diff",
    "percentile",
    "wilson_interval",
    "PhaseMeter",
    "throughput",
]
