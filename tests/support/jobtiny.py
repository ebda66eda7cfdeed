"""A tiny-xlmr model, tokenizer and encoded COPA examples in-process, for unit tests of the job's loops.

Dropout is off, so two ways of computing the same gradient can be compared to float precision.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from xcost_tui.job.batching import encode
from xcost_tui.job.loops import Device, JobContext
from xcost_tui.job.model import EncoderWithHeads, train_tiny_tokenizer
from xcost_tui.measure.flops import EncoderDims
from xcost_tui.rundir import EventWriter
from xcost_tui.spec import MeasureOpts
from xcost_tui.tasks import all_texts, load_examples

CPU = Device(torch.device("cpu"), "cpu", "cpu", 1, "fp32")


def tiny(data_dir: Path, n: int = 24, *, seed: int = 0, dtype=torch.float64, dropout: float = 0.0):
    """(model, tokenizer, encoded COPA train examples)."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    examples = load_examples("copa", "train", data_dir=data_dir, limit=n)
    tokenizer = train_tiny_tokenizer(all_texts(examples), 400)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        attn_implementation="eager",
    )  # SDPA kernels vary in rounding with the batch shape
    torch.manual_seed(seed)
    model = EncoderWithHeads(XLMRobertaModel(config, add_pooling_layer=False))
    model.ensure_head("mc")
    model.to(dtype)
    return model, tokenizer, encode(examples, tokenizer, 64)


def context(tmp_path: Path, model, tokenizer) -> JobContext:
    return JobContext(
        device=CPU,
        events=EventWriter(tmp_path / "events.jsonl"),
        measure=MeasureOpts(enabled=False),
        dims=EncoderDims.from_hf_config(model.encoder.config),
        pad_id=tokenizer.pad_token_id,
        cancel=threading.Event(),
        log=lambda msg: None,
        memory_now=lambda: (None, None, None),
    )
