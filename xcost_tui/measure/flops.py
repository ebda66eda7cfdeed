"""FLOPs of a transformer encoder: counted analytically from the exact batch shapes, and
measured with torch's FlopCounterMode on a few sampled steps.

Conventions (the same as FlopCounterMode's, so the two agree): a multiply-add is 2 FLOPs;
only matrix multiplications count (projections, FFN, attention scores and weighted sums);
embedding lookups, layer norms, softmax and other element-wise work are not counted; a
training step is forward + backward = 3 × forward; shapes are padded shapes, because the
hardware multiplies the padding too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .cost import Cost


@dataclass(frozen=True)
class EncoderDims:
    hidden: int
    layers: int
    heads: int
    intermediate: int

    @classmethod
    def from_hf_config(cls, config: Any) -> "EncoderDims":
        return cls(config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size)


def encoder_forward_flops(dims: EncoderDims, n_seqs: int, seq_len: int) -> int:
    h, i, L = dims.hidden, dims.intermediate, seq_len
    tokens = n_seqs * L
    projections = 2 * tokens * h * (3 * h) + 2 * tokens * h * h  # Q, K, V and the output projection
    ffn = 2 * 2 * tokens * h * i  # up and down
    attention = 2 * n_seqs * L * L * h + 2 * n_seqs * L * L * h  # QK^T and attention x V, all heads
    return dims.layers * (projections + ffn + attention)


def head_forward_flops(hidden: int, n_seqs: int, n_out: int, dense: bool = True) -> int:
    """A RoBERTa-style head on the first token: dense h×h (optional), then h×n_out."""
    return 2 * n_seqs * ((hidden * hidden if dense else 0) + hidden * n_out)


def train_flops(forward: int) -> int:
    return 3 * forward


def _cpu_attention_formulas() -> dict:
    """torch's FlopCounterMode has formulas for the CUDA attention kernels but not for the CPU
    flash kernel that inference on a CPU dispatches to; without these it would miss attention."""
    import torch
    from torch.utils import flop_counter as fc

    aten = torch.ops.aten
    mapping = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        def forward(query, key, value, *args, out_shape=None, **kwargs):
            return fc.sdpa_flop_count(query, key, value)

        mapping[aten._scaled_dot_product_flash_attention_for_cpu] = forward
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu_backward"):
        def backward(grad_out, query, key, value, *args, out_shape=None, **kwargs):
            return fc.sdpa_backward_flop_count(grad_out, query, key, value)

        mapping[aten._scaled_dot_product_flash_attention_for_cpu_backward] = backward
    return mapping


def count_flops(fn: Callable, *args: Any, **kwargs: Any) -> tuple[Any, int]:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=_cpu_attention_formulas()) as counter:
        result = fn(*args, **kwargs)
    return result, int(counter.get_total_flops())


class FlopSampler:
    """Chooses a few steps to run under FlopCounterMode (it slows a step several-fold) and
    extrapolates the measured FLOPs to the whole phase by padded tokens."""

    def __init__(self, total_steps: int, n_samples: int):
        self.total_steps = max(int(total_steps), 0)
        n = max(0, min(int(n_samples), self.total_steps))
        # Evenly spread, deterministic, distinct; e.g. 3 of 10 -> steps 1, 4, 7.
        self.steps = {k * self.total_steps // n + 1 for k in range(n)}
        self.flops = 0
        self.tokens = 0
        self.sampled = 0

    @classmethod
    def for_phase(cls, total_steps: int, max_samples: int, steps_per_sample: int = 200) -> "FlopSampler":
        """A counted step costs about 4 plain steps on a CPU, so short phases sample one step and
        long ones one per ``steps_per_sample``, up to ``max_samples``: the overhead stays near 1-2%."""
        n = min(max_samples, max(1, total_steps // steps_per_sample)) if max_samples > 0 else 0
        return cls(total_steps, n)

    def should_sample(self, step: int) -> bool:
        return step in self.steps

    def record(self, step_flops: int, step_padded_tokens: int) -> None:
        self.flops += int(step_flops)
        self.tokens += int(step_padded_tokens)
        self.sampled += 1

    def extrapolate(self, total_padded_tokens: int) -> Cost:
        if not self.sampled or not self.tokens:
            return Cost.missing("FLOP", "no step was sampled under FlopCounterMode", "flop_counter", sampled_steps=0)
        value = self.flops / self.tokens * total_padded_tokens
        return Cost.measured(round(value), "FLOP", "flop_counter", sampled_steps=self.sampled)
