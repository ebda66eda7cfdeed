"""Tokenisation once per task, length-grouped batches, and dynamic padding.

Every choice of a multiple-choice example becomes one (context, choice) sequence; a batch
holds whole examples, so its sequences are the flattened choices. Padding is to the longest
sequence in the batch only, and batches are grouped by length so there is little to pad.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..tasks.examples import MCExample, PairExample


@dataclass
class Encoded:
    """One tokenised example: its sequences (one per choice, or one), its label and identity."""

    seqs: list[list[int]]
    label: int
    idx: int | str
    lang: str

    @property
    def length(self) -> int:
        return max(len(s) for s in self.seqs)


@dataclass
class Batch:
    input_ids: torch.Tensor  # (n_seqs, max_len)
    attention_mask: torch.Tensor
    labels: torch.Tensor  # (n_examples,)
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


def encode(examples: list, tokenizer, max_len: int) -> list[Encoded]:
    """Tokenises every sequence of every example in one fast-tokenizer call."""
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
    return Batch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        labels=torch.tensor([it.label for it in items], dtype=torch.long),
        choice_counts=[len(it.seqs) for it in items] if is_mc else [],
        head=head,
        examples=items,
        tokens_nonpad=nonpad,
        tokens_padded=len(seqs) * max_len,
    )


def choice_scores(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """(n_examples, max_choices) scores; missing choices (ARC's 3-choice items among 4s) get -inf."""
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
