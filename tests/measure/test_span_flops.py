"""The span head's FLOPs (issue 19): the analytic count of the job's loops (``job/loops.py``
``forward_flops``: encoder + ``measure/flops.py`` ``head_flops``) against torch's FlopCounterMode on
tiny-xlmr with the span head, for a forward pass and for a training step (forward, the span loss,
backward), on a padded batch of windows; and the head's parameters and memory in the estimate."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from xcost_tui.estimate.configs import ModelShape
from xcost_tui.estimate.memory import step_memory
from xcost_tui.job.batching import Encoded, collate
from xcost_tui.job.loops import Device, forward_flops, forward_flops_nonpad, micro_backward
from xcost_tui.job.model import EncoderWithHeads
from xcost_tui.measure.flops import EncoderDims, count_flops, encoder_forward_flops, train_flops
from xcost_tui.measure.heads import SPAN_HEAD, head_flops, head_params, span_head_forward_flops

CPU = Device(torch.device("cpu"), "cpu", "cpu", 1, "fp32")


def tiny_with_span_head() -> EncoderWithHeads:
    from transformers import XLMRobertaConfig, XLMRobertaModel

    cfg = XLMRobertaConfig(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128
    )
    torch.manual_seed(0)
    model = EncoderWithHeads(XLMRobertaModel(cfg, add_pooling_layer=False))
    assert model.ensure_head(SPAN_HEAD)
    return model


def windows(lengths: list[int]) -> list[Encoded]:
    g = torch.Generator().manual_seed(1)
    out = []
    for n, length in enumerate(lengths):
        ids = [0, *torch.randint(5, 1000, (length - 2,), generator=g).tolist(), 2]
        out.append(Encoded(seqs=[ids], label=0, idx=n, lang="en", span=(min(3, length - 1), min(5, length - 1))))
    return out


def test_span_head_formula_by_hand():
    # a Linear h x 2 on every token: 2 FLOPs per multiply-add, n x L tokens
    assert span_head_forward_flops(4, n_seqs=3, seq_len=5) == 2 * 3 * 5 * 4 * 2
    assert head_flops(4, 3, 5, SPAN_HEAD) == 240
    assert head_flops(4, 3, 5, "cls3") == 2 * 3 * (16 + 12)  # first-token heads do not see the length
    assert head_params(64, SPAN_HEAD) == 64 * 2 + 2 and head_params(64, "mc") == 64 * 64 + 64 + 64 + 1


def test_span_head_forward_matches_flop_counter():
    model = tiny_with_span_head().eval()
    ctx = SimpleNamespace(dims=EncoderDims.from_hf_config(model.encoder.config))
    batch = collate(windows([40, 23, 31]), SPAN_HEAD, pad_id=1)
    assert batch.labels.shape == (3, 2) and batch.seq_len == 40
    with torch.inference_mode():
        logits, measured = count_flops(lambda: model(batch.input_ids, batch.attention_mask, SPAN_HEAD))
    assert logits.shape == (3, 40, 2)
    expected = encoder_forward_flops(ctx.dims, 3, 40) + span_head_forward_flops(64, 3, 40)
    assert forward_flops(ctx, batch) == expected == measured
    # the non-pad count: each window at its own length, the head included
    assert forward_flops_nonpad(ctx, batch) == sum(
        encoder_forward_flops(ctx.dims, 1, n) + span_head_forward_flops(64, 1, n) for n in (40, 23, 31)
    )


def test_span_training_step_matches_flop_counter():
    """Forward, the span loss (mean of the start and end cross entropy) and backward: 3 x forward."""
    model = tiny_with_span_head().train()
    ctx = SimpleNamespace(dims=EncoderDims.from_hf_config(model.encoder.config))
    batch = collate(windows([32, 32, 20, 27]), SPAN_HEAD, pad_id=1)
    loss, measured = count_flops(lambda: micro_backward(model, batch, 1.0, nn.CrossEntropyLoss(), CPU))
    assert torch.isfinite(loss) and model.heads[SPAN_HEAD].qa_outputs.weight.grad is not None
    assert measured == train_flops(forward_flops(ctx, batch))


def test_the_estimate_counts_the_span_head_parameters_and_activations():
    shape = ModelShape("tiny", "xlm-roberta", 64, 2, 2, 128, 1000, 514, 1, "built-in", {})
    assert shape.params({SPAN_HEAD: 2}) - shape.params({}) == 64 * 2 + 2
    mc = step_memory(shape, 8, 128, "bf16", {"mc": 1})
    span = step_memory(shape, 8, 128, "bf16", {SPAN_HEAD: 2})
    assert span.activation_bytes - mc.activation_bytes == 4 * 128 * 8 * 64 + 8 * 128 * 8
    model = tiny_with_span_head()
    counted = sum(p.numel() for p in model.heads[SPAN_HEAD].parameters())
    assert counted == head_params(64, SPAN_HEAD)


@pytest.mark.parametrize("length", [8, 64])
def test_the_span_head_is_the_question_answering_models(length):
    """The head is transformers' XLMRobertaForQuestionAnswering's qa_outputs: same shape, same logits
    on the same hidden states."""
    from transformers import XLMRobertaConfig, XLMRobertaForQuestionAnswering

    model = tiny_with_span_head().eval()
    cfg = XLMRobertaConfig(**{**model.encoder.config.to_dict(), "num_labels": 2})
    qa = XLMRobertaForQuestionAnswering(cfg).eval()
    qa.roberta.load_state_dict(model.encoder.state_dict(), strict=False)
    qa.qa_outputs.load_state_dict(model.heads[SPAN_HEAD].qa_outputs.state_dict())
    ids = torch.randint(5, 1000, (2, length))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        ours = model(ids, mask, SPAN_HEAD)
        theirs = qa(input_ids=ids, attention_mask=mask)
    assert torch.allclose(ours[..., 0], theirs.start_logits, atol=1e-5)
    assert torch.allclose(ours[..., 1], theirs.end_logits, atol=1e-5)
