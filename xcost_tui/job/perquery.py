"""Per-query cost figures of the fine-tuned encoders: what one query costs when it is answered on
its own (batch 1: its own sequences, padded to its own longest only), the unit the batch-1
latency measures and the break-even of the verdict divides by (docs/methods.md, "Per-query cost")."""

from __future__ import annotations

from ..measure.flops import EncoderDims, encoder_forward_flops
from ..measure.heads import head_flops
from ..rundir.cost import Cost

PER_QUERY = "query, scored alone"


def encoder_query_flops(dims: EncoderDims, encoded: list, head: str) -> Cost:
    """Mean analytic forward FLOPs of one example alone: each of its sequences (one per choice)
    through the encoder at the example's own longest length, then the head."""
    if not encoded:
        return Cost.missing("FLOP", "no examples")
    total = sum(
        encoder_forward_flops(dims, len(e.seqs), e.length) + head_flops(dims.hidden, len(e.seqs), e.length, head)
        for e in encoded
    )
    return Cost.measured(total / len(encoded), "FLOP", "analytic", per=PER_QUERY)
