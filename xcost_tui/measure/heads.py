"""The task heads' outputs, parameters and FLOPs: plain arithmetic (no torch), so that the
estimate's supervisor side (estimate/run.py, configs.py, memory.py, fit.py) reads them without
``measure/flops.py``'s FlopCounterMode functions. The conventions are flops.py's: a multiply-add
is 2 FLOPs, padded shapes.

Head keys (job/model.py ``head_key``): ``mc`` (multiple choice: one unit per (context, choice)),
``cls<n>`` (classification, n labels), ``span`` (span extraction: start and end logits per token).
"""

from __future__ import annotations


def check_counts(**counts: int) -> None:
    for name, v in counts.items():
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")


def head_forward_flops(hidden: int, n_seqs: int, n_out: int, dense: bool = True) -> int:
    """A RoBERTa-style head on the first token: dense h×h (optional), then h×n_out."""
    check_counts(hidden=hidden, n_seqs=n_seqs, n_out=n_out)
    return 2 * n_seqs * ((hidden * hidden if dense else 0) + hidden * n_out)


SPAN_HEAD = "span"  # the head key of span extraction (job/model.py head_key)


def span_head_forward_flops(hidden: int, n_seqs: int, seq_len: int) -> int:
    """The span-extraction head (``XLMRobertaForQuestionAnswering``'s ``qa_outputs``): a Linear
    h×2 on every token of every sequence, padded ones included (the hardware multiplies them)."""
    check_counts(hidden=hidden, n_seqs=n_seqs, seq_len=seq_len)
    return 2 * n_seqs * seq_len * hidden * 2


def head_outputs(head: str) -> int:
    """Outputs of the head with key ``head``: 1 (multiple choice), n (``cls<n>``), 2 (span: per token)."""
    if head == SPAN_HEAD:
        return 2
    return 1 if head == "mc" else int(head[3:])


def head_flops(hidden: int, n_seqs: int, seq_len: int, head: str) -> int:
    """Forward FLOPs of the head with key ``head`` on ``n_seqs`` sequences padded to ``seq_len``:
    the first-token heads (multiple choice, classification) do not depend on the length, the span
    head does."""
    if head == SPAN_HEAD:
        return span_head_forward_flops(hidden, n_seqs, seq_len)
    return head_forward_flops(hidden, n_seqs, head_outputs(head))


def head_flops_unpadded(hidden: int, lengths: list[int], head: str) -> int:
    """The head's forward FLOPs on sequences of these lengths, each unpadded (useful work)."""
    if head == SPAN_HEAD:
        return sum(span_head_forward_flops(hidden, 1, n) for n in lengths)
    return head_forward_flops(hidden, len(lengths), head_outputs(head))


def head_params(hidden: int, head: str) -> int:
    """Parameters of the head with key ``head``: RoBERTa's dense h×h + projection h×n (with biases),
    or the span head's h×2 Linear."""
    n = head_outputs(head)
    if head == SPAN_HEAD:
        return hidden * n + n
    return hidden * hidden + hidden + hidden * n + n
