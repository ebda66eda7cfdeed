"""Will a training step fit? The search for the largest micro-batch that fits, and the analytic
memory of a step where nothing is measured (a device profile, ``plan check``).

The search takes a ``fits(micro) -> bool`` (the probe measures a real step on the device, the
CUDA allocator's peak on a GPU; tests pass a fake allocator that fails above a threshold) and
returns the largest micro-batch in [1, batch] that fits. ``job_choice`` is the micro-batch the job
picks itself when ``micro_batch_size`` is unset on a GPU: the first of batch, ceil(batch/2), ...
that fits (``job/loops.py`` ``largest_fitting``; the same sequence here, torch-free).

The analytic step memory (bytes):
- fp32 weights, gradients and AdamW's two moments: 16 B per trained parameter; autocast's 16-bit
  copies of the weights, kept for the backward pass: 2 B more per parameter (bf16/fp16 only);
- the span head (SQuAD) adds the fp32 copy of every token's last hidden state it reads and its
  fp32 start/end logits: 4·s·b·h + 8·s·b bytes;
- activations kept for the backward pass, per layer, of b sequences of s tokens at hidden size h:
  34·s·b·h bytes in 16-bit precision (Korthikanti et al. 2022, "Reducing Activation Recomputation
  in Large Transformer Models", eq. 1, without the 5·a·s²·b attention-score term, which the fused
  attention kernels do not store), twice that in fp32.
The job's rule for "fits" is the peak plus the optimiser state within 90% of the device's memory.
Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..measure.heads import SPAN_HEAD
from .configs import ModelShape

FIT_SHARE = 0.9  # job/loops.py _fits: peak + AdamW state <= 0.9 x total memory


def halving(batch: int) -> list[int]:
    """batch, ceil(batch/2), ..., 1: the micro-batches the job tries, in order."""
    out, m = [], max(1, int(batch))
    while m > 1:
        out.append(m)
        m = math.ceil(m / 2)
    out.append(1)
    return out


def job_choice(batch: int, fits: Callable[[int], bool]) -> int:
    """The job's pick on a GPU: the first of ``halving(batch)`` that fits (1 when none does)."""
    for m in halving(batch):
        if m == 1 or fits(m):
            return m
    return 1  # pragma: no cover - the loop returns at m == 1


def largest_fitting_micro(batch: int, fits: Callable[[int], bool]) -> int | None:
    """The largest micro-batch in [1, batch] for which ``fits`` is true; None when not even 1 fits.

    ``fits`` must be monotone (a micro-batch that fits means every smaller one does). It is called
    at most about 2·log2(batch) times, each value once: halving down to the first that fits, then a
    binary search between it and the one above that did not."""
    cache: dict[int, bool] = {}

    def ok(m: int) -> bool:
        if m not in cache:
            cache[m] = bool(fits(m))
        return cache[m]

    batch = max(1, int(batch))
    hi_fail = None
    lo_ok = None
    for m in halving(batch):
        if ok(m):
            lo_ok = m
            break
        hi_fail = m
    if lo_ok is None:
        return None
    if hi_fail is None:
        return lo_ok  # the whole batch fits
    lo, hi = lo_ok, hi_fail  # lo fits, hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class StepMemory:
    state_bytes: int  # weights, gradients, optimiser moments (and 16-bit weight copies)
    activation_bytes: int

    @property
    def total(self) -> int:
        return self.state_bytes + self.activation_bytes


def step_memory(
    shape: ModelShape, n_seqs: int, seq_len: int, precision: str, heads: dict[str, int] | None = None
) -> StepMemory:
    """The analytic memory of one training micro-batch of ``n_seqs`` sequences of ``seq_len`` tokens."""
    params = shape.params(heads or {"mc": 1})
    per_param = 16 + (2 if precision in ("bf16", "fp16") else 0)
    act_per = 34 * (1 if precision in ("bf16", "fp16") else 2)
    activations = shape.layers * act_per * seq_len * n_seqs * shape.hidden
    # embeddings' output and the first-token head: small next to the layers, counted once
    activations += 4 * seq_len * n_seqs * shape.hidden
    if SPAN_HEAD in (heads or {}):
        # the span head reads every token, not the first: the fp32 copy of the last hidden states
        # it runs on (EncoderWithHeads) and its fp32 start/end logits, kept for the backward pass
        activations += 4 * seq_len * n_seqs * shape.hidden + 2 * 4 * seq_len * n_seqs
    return StepMemory(params * per_param, activations)


def fits_analytic(
    shape: ModelShape,
    n_choices: int,
    seq_len: int,
    precision: str,
    memory_bytes: int,
    heads: dict[str, int] | None = None,
) -> Callable[[int], bool]:
    """``fits(micro)`` from the analytic model: ``micro`` examples of ``n_choices`` sequences each."""

    def fits(micro: int) -> bool:
        return step_memory(shape, micro * n_choices, seq_len, precision, heads).total <= FIT_SHARE * memory_bytes

    return fits
