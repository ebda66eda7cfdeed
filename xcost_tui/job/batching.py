"""Tokenisation once per task, length-grouped batches, and dynamic padding.

Every choice of a multiple-choice example becomes one (context, choice) sequence; a batch
holds whole examples, so its sequences are the flattened choices. Padding is to the longest
sequence in the batch only, and batches are grouped by length so there is little to pad.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..measure.heads import SPAN_HEAD
from ..tasks.examples import MCExample, PairExample, SpanExample
from ..tasks.squad import DOC_STRIDE


@dataclass
class Encoded:
    """One tokenised example: its sequences (one per choice, or one), its label and identity."""

    seqs: list[list[int]]
    label: int
    idx: int | str
    lang: str
    # span extraction only (one window of a SpanExample): the answer's (start, end) token positions
    # in the window (both 0, the CLS token, when the window holds no answer), the example's
    # position in the encoded list, and with ``offsets`` asked for, each token's character span in
    # the context (None for the question and special tokens)
    span: tuple[int, int] | None = None
    source: int = 0
    offsets: list | None = None

    @property
    def length(self) -> int:
        return max(len(s) for s in self.seqs)


@dataclass
class Batch:
    input_ids: torch.Tensor  # (n_seqs, max_len)
    attention_mask: torch.Tensor
    labels: torch.Tensor  # (n_examples,); span extraction: (n_windows, 2) start and end tokens
    choice_counts: list[int]  # sequences per example; empty for classification
    head: str
    examples: list[Encoded]
    tokens_nonpad: int
    tokens_padded: int

    @property
    def n_examples(self) -> int:
        return len(self.examples)

    @property
    def n_seqs(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.input_ids.shape[1])

    def to(self, device) -> Batch:
        if str(device) == "cpu":
            return self
        self.input_ids = self.input_ids.to(device, non_blocking=True)
        self.attention_mask = self.attention_mask.to(device, non_blocking=True)
        self.labels = self.labels.to(device, non_blocking=True)
        return self


def doc_stride(max_len: int) -> int:
    """Tokens two consecutive windows of a long context share: run_qa.py's default 128, at most
    half the window (a short ``max_seq_len``, tests, would otherwise leave no room for new text)."""
    return max(1, min(DOC_STRIDE, max_len // 2 - 1))


def encode_spans(examples: list[SpanExample], tokenizer, max_len: int, offsets: bool = False) -> list[Encoded]:
    """Span-extraction examples as windows, as run_qa.py's ``prepare_train_features`` and
    ``prepare_validation_features`` make them: question first, context second, only the context
    truncated (``truncation="only_second"``), a long context cut into windows that overlap by
    ``doc_stride`` tokens. Each window's label is the answer's first and last token; a window that
    does not contain the whole answer, and an unanswerable question, point at the CLS token (0)."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("span extraction needs a fast tokenizer (offset mappings); this one is not")
    enc = tokenizer(
        [ex.question.lstrip() for ex in examples],  # run_qa.py strips the question's leading spaces
        [ex.context for ex in examples],
        truncation="only_second",
        max_length=max_len,
        stride=doc_stride(max_len),
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    cls_id = tokenizer.cls_token_id
    out: list[Encoded] = []
    for i, ids in enumerate(enc["input_ids"]):
        pos = enc["overflow_to_sample_mapping"][i]
        ex = examples[pos]
        seq_ids = enc.sequence_ids(i)
        offs = enc["offset_mapping"][i]
        cls = ids.index(cls_id) if cls_id in ids else 0
        start = end = cls
        if ex.answers:
            start_char = ex.answer_starts[0]
            end_char = start_char + len(ex.answers[0])
            first = next(t for t, sid in enumerate(seq_ids) if sid == 1)
            last = max(t for t, sid in enumerate(seq_ids) if sid == 1)
            if offs[first][0] <= start_char and offs[last][1] >= end_char:
                t = first
                while t < len(offs) and seq_ids[t] == 1 and offs[t][0] <= start_char:
                    t += 1
                start = t - 1
                t = last
                while t >= first and offs[t][1] >= end_char:
                    t -= 1
                end = t + 1
        out.append(
            Encoded(
                seqs=[ids],
                label=0,
                idx=ex.idx,
                lang=ex.lang,
                span=(start, end),
                source=pos,
                offsets=[tuple(o) if sid == 1 else None for o, sid in zip(offs, seq_ids)] if offsets else None,
            )
        )
    return out


def encode(examples: list, tokenizer, max_len: int, offsets: bool = False) -> list[Encoded]:
    """Tokenises every sequence of every example in one fast-tokenizer call. Span-extraction
    examples become one Encoded per window (``encode_spans``; ``offsets`` keeps the offsets an
    evaluation needs)."""
    if examples and isinstance(examples[0], SpanExample):
        return encode_spans(examples, tokenizer, max_len, offsets)
    firsts: list[str] = []
    seconds: list[str | None] = []
    counts: list[int] = []
    for ex in examples:
        if isinstance(ex, MCExample):
            firsts.extend([ex.context] * len(ex.choices))
            seconds.extend(ex.choices)
            counts.append(len(ex.choices))
        elif isinstance(ex, PairExample):
            firsts.append(ex.text_a)
            seconds.append(ex.text_b)
            counts.append(1)
        else:  # pragma: no cover - the task loaders only make these two
            raise TypeError(f"unknown example type {type(ex).__name__}")
    if all(s is None for s in seconds):
        ids = tokenizer(firsts, truncation=True, max_length=max_len)["input_ids"]
    elif any(s is None for s in seconds):
        ids = [tokenizer(a, b, truncation=True, max_length=max_len)["input_ids"] for a, b in zip(firsts, seconds)]
    else:
        ids = tokenizer(firsts, seconds, truncation="longest_first", max_length=max_len)["input_ids"]
    out: list[Encoded] = []
    pos = 0
    for ex, n in zip(examples, counts):
        out.append(Encoded(seqs=ids[pos : pos + n], label=ex.label, idx=ex.idx, lang=ex.lang))
        pos += n
    return out


def batch_order(
    lengths: list[int], batch_size: int, rng: random.Random, group_by_length: bool = True
) -> list[list[int]]:
    """Indices of each batch for one epoch.

    Length grouping as in transformers' LengthGroupedSampler: shuffle, cut into mega-batches of
    50 batches, sort each by length, cut into batches, then shuffle the batch order, so batches
    are random in order but uniform in length inside (less padding, same randomness of content).
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        mega = batch_size * 50
        grouped: list[int] = []
        for start in range(0, len(order), mega):
            chunk = order[start : start + mega]
            chunk.sort(key=lambda i: lengths[i], reverse=True)
            grouped.extend(chunk)
        order = grouped
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches: sorted by length (least padding); order does not matter for scoring."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def collate(items: list[Encoded], head: str, pad_id: int) -> Batch:
    seqs = [s for it in items for s in it.seqs]
    max_len = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), max_len), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(seqs), max_len), dtype=torch.long)
    nonpad = 0
    for row, s in enumerate(seqs):
        n = len(s)
        input_ids[row, :n] = torch.tensor(s, dtype=torch.long)
        attention_mask[row, :n] = 1
        nonpad += n
    is_mc = head == "mc"
    if head == SPAN_HEAD:  # (n_windows, 2): the answer's start and end token
        labels = torch.tensor([it.span or (0, 0) for it in items], dtype=torch.long).view(len(items), 2)
    else:
        labels = torch.tensor([it.label for it in items], dtype=torch.long)
    return Batch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        labels=labels,
        choice_counts=[len(it.seqs) for it in items] if is_mc else [],
        head=head,
        examples=items,
        tokens_nonpad=nonpad,
        tokens_padded=len(seqs) * max_len,
    )


def choice_scores(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """(n_examples, max_choices) scores; missing choices (ARC's 3-choice items among 4s) get -inf.
    Classification: the logits; span extraction: (n_windows, seq_len, 2) start and end logits."""
    if batch.head != "mc":
        return logits
    flat = logits.view(-1)
    counts = batch.choice_counts
    if len(set(counts)) == 1:
        return flat.view(len(counts), counts[0])
    out = flat.new_full((len(counts), max(counts)), float("-inf"))
    pos = 0
    for row, n in enumerate(counts):
        out[row, :n] = flat[pos : pos + n]
        pos += n
    return out
