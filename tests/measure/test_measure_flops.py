"""FLOPs two ways (analytic formula vs torch's FlopCounterMode), the untimed check, and MFU."""

from __future__ import annotations

import pytest
import torch

from xcost_tui.measure.flops import (
    EncoderDims,
    FlopCheck,
    count_flops,
    encoder_forward_flops,
    encoder_forward_flops_unpadded,
    head_forward_flops,
    train_flops,
)
from xcost_tui.measure.mfu import PEAKS, mfu, peak_flops

TINY = EncoderDims(hidden=64, layers=2, heads=2, intermediate=128)


def tiny(hidden=64, layers=2, heads=2, inter=128):
    from transformers import XLMRobertaConfig, XLMRobertaModel

    cfg = XLMRobertaConfig(
        vocab_size=1000,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=inter,
    )
    torch.manual_seed(0)
    return XLMRobertaModel(cfg, add_pooling_layer=False)


def padded_batch(n, length, pad_from):
    ids = torch.randint(5, 1000, (n, length))
    mask = torch.ones_like(ids)
    mask[:, pad_from:] = 0
    mask[0, :] = 1  # one full-length row: the batch really is padded to `length`
    return ids, mask


# ---- the formula, by hand -------------------------------------------------------------------


def test_hand_computed_forward():
    dims = EncoderDims(hidden=4, layers=1, heads=1, intermediate=8)
    # T = 2*3 tokens: QKV 2*6*4*12 = 576, out 2*6*4*4 = 192, FFN 4*6*4*8 = 768, attention 4*2*9*4 = 288
    assert encoder_forward_flops(dims, n_seqs=2, seq_len=3) == 576 + 192 + 768 + 288
    assert encoder_forward_flops(EncoderDims(4, 3, 1, 8), 2, 3) == 3 * (576 + 192 + 768 + 288)
    assert encoder_forward_flops(dims, 0, 3) == 0
    assert head_forward_flops(4, n_seqs=2, n_out=1) == 2 * 2 * (16 + 4)
    assert head_forward_flops(4, n_seqs=2, n_out=3, dense=False) == 2 * 2 * 12
    assert train_flops(10) == 30
    with pytest.raises(ValueError):
        encoder_forward_flops(dims, -1, 3)


def test_tiny_xlmr_reference_figure():
    # hidden 64, 2 layers, intermediate 128, batch 8x40: per layer QKV 7,864,320 + out 2,621,440
    # + FFN 10,485,760 + attention 3,276,800 = 24,248,320; x2 layers x3 for training
    assert train_flops(encoder_forward_flops(TINY, 8, 40)) == 145_489_920


def test_heads_do_not_change_the_count():
    assert encoder_forward_flops(EncoderDims(64, 2, 1, 128), 4, 16) == encoder_forward_flops(
        EncoderDims(64, 2, 8, 128), 4, 16
    )


def test_dims_from_hf_config():
    from transformers import XLMRobertaConfig

    cfg = XLMRobertaConfig(hidden_size=96, num_hidden_layers=3, num_attention_heads=4, intermediate_size=200)
    assert EncoderDims.from_hf_config(cfg) == EncoderDims(96, 3, 4, 200)


# ---- the formula against FlopCounterMode -----------------------------------------------------


@pytest.mark.parametrize("n,length,pad_from", [(8, 40, 30), (4, 128, 100), (2, 256, 64)])
def test_analytic_matches_flop_counter_training(n, length, pad_from):
    model = tiny()
    dims = EncoderDims.from_hf_config(model.config)
    ids, mask = padded_batch(n, length, pad_from)

    def step():
        model(input_ids=ids, attention_mask=mask).last_hidden_state.sum().backward()

    _, measured = count_flops(step)
    analytic = train_flops(encoder_forward_flops(dims, n, length))
    assert abs(measured - analytic) / analytic < 0.10
    assert measured == analytic  # exactly, with the conventions documented in flops.py


def test_analytic_matches_flop_counter_wider_model():
    model = tiny(hidden=128, layers=3, heads=4, inter=512)
    dims = EncoderDims.from_hf_config(model.config)
    ids, mask = padded_batch(3, 64, 40)
    _, measured = count_flops(lambda: model(input_ids=ids, attention_mask=mask).last_hidden_state.sum().backward())
    assert measured == train_flops(encoder_forward_flops(dims, 3, 64))


def test_analytic_matches_flop_counter_cpu_inference():
    """Inference on CPU dispatches attention to a kernel torch's counter does not know; we add it."""
    model = tiny().eval()
    dims = EncoderDims.from_hf_config(model.config)
    ids, mask = padded_batch(6, 32, 20)
    with torch.inference_mode():
        out, measured = count_flops(lambda: model(input_ids=ids, attention_mask=mask))
    assert out.last_hidden_state.shape == (6, 32, 64)
    assert measured == encoder_forward_flops(dims, 6, 32)


def test_head_formula_matches_flop_counter():
    h, n, n_out = 64, 5, 3
    dense, out = torch.nn.Linear(h, h), torch.nn.Linear(h, n_out)
    x = torch.randn(n, 7, h)
    _, measured = count_flops(lambda: out(torch.tanh(dense(x[:, 0]))))
    assert measured == head_forward_flops(h, n, n_out)


# ---- sampling and extrapolation ---------------------------------------------------------------


def test_unpadded_flops_are_each_sequence_at_its_own_length():
    """The non-pad count (MFU's numerator): the formula per sequence, checked against FlopCounterMode
    running each sequence alone, unpadded."""
    model = tiny()
    dims = EncoderDims.from_hf_config(model.config)
    lengths = [12, 30, 30, 7]
    counted = 0
    for length in lengths:
        ids = torch.randint(5, 1000, (1, length))
        _, f = count_flops(lambda ids=ids: model(input_ids=ids, attention_mask=torch.ones_like(ids)))
        counted += f
    assert encoder_forward_flops_unpadded(dims, lengths) == counted
    assert encoder_forward_flops_unpadded(dims, lengths) < encoder_forward_flops(dims, len(lengths), max(lengths))
    assert encoder_forward_flops_unpadded(dims, [30, 30]) == encoder_forward_flops(dims, 2, 30)
    assert encoder_forward_flops_unpadded(dims, []) == 0


def test_the_check_scales_the_analytic_count_by_its_ratio():
    """Issue 17 replaced sampling inside the timed loop (FlopSampler): FlopCounterMode counts
    untimed passes, and the phase's measured figure is its analytic count x counted / analytic."""
    check = FlopCheck()
    check.record(counted=1100, analytic=1000)
    other = FlopCheck()
    other.record(counted=2200, analytic=2000)
    check.merge(other)
    assert check.passes == 2 and check.ratio == pytest.approx(1.1)
    cost = check.cost(50_000)
    assert cost.value == 55_000 and cost.source == "flop_counter" and cost.unit == "FLOP"
    assert cost.extra == {"sampled_steps": 2, "untimed": True, "ratio": 1.1}


def test_a_check_without_passes_is_null_with_reason():
    off = FlopCheck(reason="measurement off").cost(50)
    assert off.value is None and off.reason == "measurement off" and off.extra["sampled_steps"] == 0
    assert FlopCheck().cost(50).reason == "no pass counted"
    nothing = FlopCheck()
    nothing.record(0, 40)
    assert nothing.ratio is None and "no FLOPs" in nothing.cost(50).reason
    assert FlopCheck().cost(50).to_dict()["value"] is None


def test_the_check_on_one_pass_per_length_is_exact_on_varied_batches():
    """A phase of batches of different lengths: one counted pass per length class (as the warm-up
    counts one per sequence bucket) makes the ratio 1, so the phase's figure is the analytic total
    exactly (before, 2 sampled steps extrapolated by padded tokens were within 10%)."""
    model = tiny()
    dims = EncoderDims.from_hf_config(model.config)
    lengths = [24, 40, 32, 48, 28, 36]
    analytic = sum(train_flops(encoder_forward_flops(dims, 4, length)) for length in lengths)
    check = FlopCheck()
    for length in (24, 48):  # the shortest and the longest class
        ids, mask = padded_batch(4, length, length - 4)
        _, f = count_flops(
            lambda ids=ids, mask=mask: model(input_ids=ids, attention_mask=mask).last_hidden_state.sum().backward()
        )
        check.record(f, train_flops(encoder_forward_flops(dims, 4, length)))
    assert check.cost(analytic).value == analytic


# ---- MFU --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,precision,expected",
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989e12),
        ("NVIDIA H100 PCIe", "bf16", 756e12),
        ("NVIDIA H100 NVL", "fp16", 835e12),
        ("NVIDIA H200", "bf16", 989e12),
        ("NVIDIA H200 NVL", "bf16", 835e12),
        ("NVIDIA A100-SXM4-80GB", "bf16", 312e12),
        ("NVIDIA A100-PCIE-40GB", "fp16", 312e12),
        ("NVIDIA A100 80GB PCIe", "tf32", 156e12),
        ("NVIDIA A100-SXM4-40GB", "fp32", 19.5e12),
        ("NVIDIA A10", "bf16", 125e12),
        ("NVIDIA A10G", "bf16", 70e12),
        ("NVIDIA L4", "bf16", 121e12),
        ("NVIDIA L40S", "bf16", 362.05e12),
        ("NVIDIA L40", "bf16", 181e12),
        ("NVIDIA RTX A6000", "bf16", 154.8e12),
        ("NVIDIA GeForce RTX 3090", "fp16", 71e12),
        ("NVIDIA GeForce RTX 4090", "bf16", 165.2e12),
        ("Tesla V100-SXM2-16GB", "fp16", 125e12),
        ("Tesla V100-PCIE-32GB", "fp16", 112e12),
        ("Tesla T4", "fp16", 65e12),
    ],
)
def test_peak_table(name, precision, expected):
    assert peak_flops(name, precision) == (expected, None)


def test_peak_table_gaps_have_reasons():
    for name, precision in [("Tesla V100-SXM2-16GB", "bf16"), ("Tesla T4", "bf16")]:
        value, reason = peak_flops(name, precision)
        assert value is None and "no bf16" in reason
    value, reason = peak_flops("AMD EPYC 7B13", "fp32")
    assert value is None and reason == "no peak FLOP/s table for CPUs"
    assert peak_flops("NVIDIA H100 80GB HBM3", "fp32", device_type="cpu")[1] == "no peak FLOP/s table for CPUs"
    value, reason = peak_flops("NVIDIA RTX A1000", "bf16")  # not an A100
    assert value is None and "not in the table" in reason
    assert peak_flops("NVIDIA H100 80GB HBM3", "int8")[0] is None
    assert all(v is None or 1e12 < v < 2e15 for _, _, peaks in PEAKS for v in peaks.values())


def test_mfu():
    cost = mfu(312e12, 2.0, 312e12, devices=1)
    assert cost.value == pytest.approx(0.5) and cost.source == "analytic" and cost.unit == "ratio"
    assert mfu(312e12, 1.0, 312e12, devices=2).value == pytest.approx(0.5)
    assert mfu(1e12, 1.0, None).value is None and mfu(1e12, 1.0, None).reason
    assert mfu(1e12, 0.0, 1e14).value is None
