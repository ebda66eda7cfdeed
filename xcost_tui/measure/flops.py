"""FLOPs of a transformer encoder: counted analytically from the exact batch shapes, and
measured with torch's FlopCounterMode on untimed passes at each shape (``FlopCheck``).

Conventions (the same as FlopCounterMode's, so the two agree): a multiply-add is 2 FLOPs;
only matrix multiplications count (projections, FFN, attention scores and weighted sums);
embedding lookups, layer norms, softmax and other element-wise work are not counted; a
training step is forward + backward = 3 × forward; shapes are padded shapes, because the
hardware multiplies the padding too.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..rundir.cost import Cost
from .heads import check_counts
from .heads import head_forward_flops as head_forward_flops  # its home before heads.py: kept importable here


@dataclass(frozen=True)
class EncoderDims:
    hidden: int
    layers: int
    heads: int
    intermediate: int

    @classmethod
    def from_hf_config(cls, config: Any) -> EncoderDims:
        return cls(
            int(config.hidden_size),
            int(config.num_hidden_layers),
            int(config.num_attention_heads),
            int(config.intermediate_size),
        )


def encoder_forward_flops(dims: EncoderDims, n_seqs: int, seq_len: int) -> int:
    """Forward FLOPs of the encoder stack on ``n_seqs`` sequences padded to ``seq_len`` tokens.

    Per layer, with T = n_seqs·seq_len padded tokens, h = hidden, i = intermediate, L = seq_len:
    Q, K, V projections 2·T·h·3h; output projection 2·T·h·h; FFN up and down 2·2·T·h·i;
    attention scores QKᵀ 2·n·L²·h and the weighted sum (attention × V) 2·n·L²·h, all heads
    together (heads split h, they do not multiply it). Biases, embeddings, norms: not counted."""
    check_counts(n_seqs=n_seqs, seq_len=seq_len)
    h, i, L = dims.hidden, dims.intermediate, seq_len
    tokens = n_seqs * L
    projections = 2 * tokens * h * (3 * h) + 2 * tokens * h * h
    ffn = 2 * 2 * tokens * h * i
    attention = 2 * n_seqs * L * L * h + 2 * n_seqs * L * L * h
    return dims.layers * (projections + ffn + attention)


def encoder_forward_flops_unpadded(dims: EncoderDims, lengths: list[int]) -> int:
    """Forward FLOPs of the encoder on sequences of these lengths, each as if alone and unpadded: the
    useful work of a padded batch (its non-pad tokens), the numerator of MFU. Same formula as
    ``encoder_forward_flops``, per sequence."""
    return sum(encoder_forward_flops(dims, n, length) for length, n in Counter(lengths).items())


def train_flops(forward: int) -> int:
    """Forward + backward: the backward pass computes gradients for both the inputs and the
    weights of every matmul, two matmuls of the forward's size, hence 3 × forward."""
    return 3 * forward


@functools.lru_cache(maxsize=1)
def _cpu_attention_formulas() -> dict:
    """torch's FlopCounterMode has formulas for the CUDA attention kernels but not for the CPU
    flash kernel that inference on a CPU dispatches to; without these it would miss attention.
    (Given to FlopCounterMode as ``custom_mapping``, which passes shapes, not tensors.)"""
    import torch
    from torch.utils import flop_counter as fc

    aten = torch.ops.aten
    mapping: dict[Any, Callable[..., Any]] = {}
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
    """(fn(*args, **kwargs), FLOPs torch counted while it ran). Backward passes run inside
    ``fn`` are counted too."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=dict(_cpu_attention_formulas())) as counter:
        result = fn(*args, **kwargs)
    return result, int(counter.get_total_flops())


@dataclass
class FlopCheck:
    """torch's FlopCounterMode against the analytic count, on the same passes (issue 17).

    The analytic count of every batch a phase ran is the phase's FLOP figure. FlopCounterMode
    slows a pass 4-6x with per-op Python, so it never runs inside a timed window: the job runs one
    counted pass per distinct shape before the phase's meter starts (job/warmup.py) and records
    here what torch counted beside what the analytic formula says for those very passes. Their
    ratio is the cross-check; ``cost`` scales the phase's analytic count by it (``flops_measured``)."""

    counted: int = 0  # FLOPs torch counted on the checked passes
    analytic: int = 0  # the analytic FLOPs of the same passes
    passes: int = 0
    reason: str | None = None  # why no pass was counted (measurement off, ...)

    def record(self, counted: int, analytic: int) -> None:
        self.counted += int(counted)
        self.analytic += int(analytic)
        self.passes += 1

    def merge(self, other: FlopCheck) -> None:
        self.counted += other.counted
        self.analytic += other.analytic
        self.passes += other.passes

    @property
    def ratio(self) -> float | None:
        """Counted / analytic FLOPs of the checked passes (1.0: the formula is exact)."""
        return self.counted / self.analytic if self.passes and self.analytic and self.counted else None

    def cost(self, phase_analytic: int) -> Cost:
        """The phase's analytic FLOPs × the checked ratio (source flop_counter): the second,
        independent FLOP figure of the phase, with the ratio and the passes it rests on."""
        extra = {"sampled_steps": self.passes, "untimed": True}
        if not self.passes:
            return Cost.missing("FLOP", self.reason or "no pass counted", "flop_counter", **extra)
        ratio = self.ratio
        if ratio is None:
            return Cost.missing(
                "FLOP",
                "FlopCounterMode counted no FLOPs on the checked passes (kernels it has no formula for?)",
                "flop_counter",
                **extra,
            )
        return Cost.measured(round(phase_analytic * ratio), "FLOP", "flop_counter", ratio=round(ratio, 6), **extra)


# ---- decoders (causal LMs: icl) and seq2seq MT models (translate-test) -------------------------
# The same conventions as the encoder's: matmuls only, a multiply-add is 2 FLOPs, padded shapes
# (what the hardware multiplies). Attention is counted as a dense kernel does it: every query
# position against every key position it is given (the causal mask's upper triangle included, as
# FlopCounterMode counts it; a flash kernel that skips masked blocks does about half of that).

# Model types whose feed-forward is gated (gate, up and down projections: 3 matrices, not 2).
GATED_FFN_TYPES = frozenset(
    {
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "qwen2_moe",
        "qwen3",
        "gemma",
        "gemma2",
        "gemma3_text",
        "phi3",
        "olmo",
        "olmo2",
        "cohere",
        "stablelm",
        "granite",
    }
)


@dataclass(frozen=True)
class DecoderDims:
    """The shapes of a decoder-only transformer that its FLOPs depend on."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int  # grouped-query attention: fewer key/value heads than query heads
    head_dim: int
    intermediate: int  # feed-forward size
    vocab: int
    gated: bool = False  # a gated feed-forward (SwiGLU & co.): three h x i matrices

    @classmethod
    def from_hf_config(cls, config: Any) -> DecoderDims:
        """From a transformers config: GPT-2/mGPT (n_embd, n_inner or its default 4h), XGLM (d_model,
        ffn_dim), BLOOM (4h), Llama/Qwen/Mistral (intermediate_size, num_key_value_heads, head_dim,
        gated). Configs map hidden_size, num_hidden_layers and num_attention_heads to their own names."""
        hidden = int(config.hidden_size)
        heads = int(config.num_attention_heads)
        inter = next(
            (
                getattr(config, k)
                for k in ("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size")
                if getattr(config, k, None)
            ),
            None,
        )
        kv = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or hidden // heads
        model_type = str(getattr(config, "model_type", ""))
        gated = model_type in GATED_FFN_TYPES
        return cls(
            hidden,
            int(config.num_hidden_layers),
            heads,
            int(kv),
            int(head_dim),
            int(inter) if inter else 4 * hidden,
            int(config.vocab_size),
            gated,
        )


def decoder_forward_flops(
    dims: DecoderDims, n_seqs: int, q_len: int, kv_len: int | None = None, logits: int | None = None
) -> int:
    """Forward FLOPs of a decoder on ``n_seqs`` rows of ``q_len`` new tokens each, attending to
    ``kv_len`` keys (the cached past plus the new tokens; default ``q_len``: no cache), with the
    LM head applied at ``logits`` positions per row (default all ``q_len``).

    Per layer, T = n_seqs·q_len: the query and output projections 2·T·h·(heads·d) each, key and
    value 2·T·h·(kv_heads·d) each, the feed-forward 2·T·h·i per matrix (2, or 3 when gated),
    attention scores and the weighted sum 2·n·heads·q·kv·d each. The LM head 2·n·logits·h·vocab."""
    kv_len = q_len if kv_len is None else kv_len
    logits = q_len if logits is None else logits
    check_counts(n_seqs=n_seqs, q_len=q_len, kv_len=kv_len, logits=logits)
    h, d = dims.hidden, dims.head_dim
    tokens = n_seqs * q_len
    q_dim, kv_dim = dims.heads * d, dims.kv_heads * d
    projections = 2 * tokens * h * q_dim * 2 + 2 * tokens * h * kv_dim * 2
    ffn = (3 if dims.gated else 2) * 2 * tokens * h * dims.intermediate
    attention = 2 * 2 * n_seqs * dims.heads * q_len * kv_len * d
    return dims.layers * (projections + ffn + attention) + 2 * n_seqs * logits * h * dims.vocab


@dataclass(frozen=True)
class Seq2SeqDims:
    """The shapes of an encoder-decoder MT model (Marian, M2M-100, NLLB)."""

    hidden: int
    encoder_layers: int
    decoder_layers: int
    heads: int
    encoder_ffn: int
    decoder_ffn: int
    vocab: int

    @classmethod
    def from_hf_config(cls, config: Any) -> Seq2SeqDims:
        return cls(
            int(config.d_model),
            int(config.encoder_layers),
            int(config.decoder_layers),
            int(config.encoder_attention_heads),
            int(config.encoder_ffn_dim),
            int(config.decoder_ffn_dim),
            int(config.vocab_size),
        )

    @property
    def encoder(self) -> EncoderDims:
        return EncoderDims(self.hidden, self.encoder_layers, self.heads, self.encoder_ffn)


def seq2seq_generate_flops(dims: Seq2SeqDims, n_seqs: int, src_len: int, steps: int, beams: int = 1) -> int:
    """Forward FLOPs of translating ``n_seqs`` sources padded to ``src_len`` tokens with ``steps``
    decoding steps (one new token per row each, all rows every step, as generate runs them) and
    ``beams`` rows per source in the decoder.

    The encoder once (encoder_forward_flops); per decoder layer, the cross-attention's keys and
    values of the source once per row (2·2·rows·S·h²), and at step t (1-based) for each row:
    self-attention projections 4·2·h², cross-attention query and output projections 2·2·h², the
    feed-forward 2·2·h·i, self-attention over t keys 2·2·t·h and cross-attention over S keys
    2·2·S·h; the LM head 2·h·vocab per row and step."""
    check_counts(n_seqs=n_seqs, src_len=src_len, steps=steps, beams=beams)
    h, S = dims.hidden, src_len
    rows = n_seqs * beams
    enc = encoder_forward_flops(dims.encoder, n_seqs, S)
    cross_kv = dims.decoder_layers * 2 * 2 * rows * S * h * h
    per_token = 4 * 2 * h * h + 2 * 2 * h * h + 2 * 2 * h * dims.decoder_ffn + 2 * 2 * S * h
    self_attention = 2 * 2 * h * steps * (steps + 1) // 2  # sum over t = 1..steps of 2·2·t·h
    dec = dims.decoder_layers * rows * (steps * per_token + self_attention)
    head = 2 * rows * steps * h * dims.vocab
    return enc + cross_kv + dec + head
