"""Shared set-up for the job benchmarks: tiny-xlmr + English COPA from the offline data."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def data_dir() -> Path:
    return Path(os.environ.get("XCOST_DATA_DIR", REPO.parent / "shared" / "data"))


def setup(seed: int = 0, max_seq_len: int = 128):
    """(tokenizer, fresh-model factory, copa train examples, encoded) for tiny-xlmr."""
    from xcost_tui.job import model as models
    from xcost_tui.job.batching import encode
    from xcost_tui.tasks import all_texts, load_examples

    examples = load_examples("copa", "train", data_dir=data_dir())
    tokenizer = models.train_tiny_tokenizer(all_texts(examples), models.TINY_DIMS["vocab_size"])

    def fresh_model():
        m = models.EncoderWithHeads(models.build_tiny_encoder(tokenizer, {}, seed))
        m.ensure_head("mc")
        return m

    return tokenizer, fresh_model, examples, encode(examples, tokenizer, max_seq_len)


def context(measure_enabled: bool, tokenizer, dims):
    import torch

    from xcost_tui.job.loops import Device, JobContext
    from xcost_tui.measure.memory import MemoryProbe
    from xcost_tui.rundir import EventWriter
    from xcost_tui.spec import MeasureOpts

    events = EventWriter(os.devnull)
    probe = MemoryProbe("cpu") if measure_enabled else None
    return JobContext(
        device=Device(torch.device("cpu"), "cpu", "cpu", 1, "fp32"),
        events=events,
        measure=MeasureOpts(enabled=measure_enabled),
        dims=dims,
        pad_id=tokenizer.pad_token_id,
        cancel=threading.Event(),
        log=lambda m: None,
        memory_now=(probe.current if probe else (lambda: (None, None, None))),
    )


# ---- paired comparisons (issue 17) ---------------------------------------------------------------


def rotated(arms: list, repeat: int) -> list:
    """The arms in the order of repeat ``repeat``: rotated by one each repeat, so no arm always
    runs first (a warm cache, a turbo clock or a neighbour's burst then favours none)."""
    k = repeat % len(arms) if arms else 0
    return arms[k:] + arms[:k]


def paired_median(num: list[float], den: list[float]) -> float:
    """The median of the ratios num[i] / den[i], each pair measured in the same repeat: drift in
    the machine's speed between repeats cancels within a pair (a ratio of medians would not)."""
    import statistics

    if len(num) != len(den) or not num:
        raise ValueError("paired_median needs two equally long, non-empty lists")
    return statistics.median(n / d for n, d in zip(num, den))
