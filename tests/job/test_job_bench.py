"""The inference bench measures latency as a user would see it: deterministic algorithms off, inputs
ready on the device before the timed calls, a warm-up; its p50 agrees with a plain timing loop."""

from __future__ import annotations

import statistics
import threading
import time
import types

import pytest
import torch

from xcost_tui.job import bench
from xcost_tui.job.batching import encode
from xcost_tui.job.loops import Device, JobContext
from xcost_tui.job.model import EncoderWithHeads, train_tiny_tokenizer
from xcost_tui.measure.flops import EncoderDims
from xcost_tui.rundir import EventWriter
from xcost_tui.spec import MeasureOpts
from xcost_tui.tasks import all_texts, load_examples

CPU = Device(torch.device("cpu"), "cpu", "cpu", 1, "fp32")


@pytest.fixture
def deterministic_job():
    """The job's global setting (seed_everything): deterministic algorithms on, warn-only."""
    was, warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    yield
    torch.use_deterministic_algorithms(was, warn_only=warn)


@pytest.fixture(scope="module")
def setup(data_dir):
    """A model a few milliseconds per call on a CPU (timer noise is a small share), its tokenizer and
    encoded XCOPA-like examples (COPA validation: two choices each)."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    examples = load_examples("copa", "validation", data_dir=data_dir, limit=40)
    tok = train_tiny_tokenizer(all_texts(examples), 400)
    config = XLMRobertaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=512,
        max_position_embeddings=130,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    model = EncoderWithHeads(XLMRobertaModel(config, add_pooling_layer=False))
    model.ensure_head("mc")
    model.eval()
    return model, tok, encode(examples, tok, 64)


def ctx_for(model, tok, tmp_path) -> JobContext:
    return JobContext(
        device=CPU,
        events=EventWriter(tmp_path / "events.jsonl"),
        measure=MeasureOpts(),
        dims=EncoderDims.from_hf_config(model.encoder.config),
        pad_id=tok.pad_token_id,
        cancel=threading.Event(),
        log=lambda m: None,
        memory_now=lambda: (None, None, None),
    )


def spec_for(n: int = 50, warm: int = 5, bs: int = 8):
    return types.SimpleNamespace(
        measure=MeasureOpts(inference_bench_examples=n, inference_warmup=warm), eval_batch_size=bs
    )


class Recorder(torch.nn.Module):
    """The model, noting for every call whether deterministic algorithms were on."""

    def __init__(self, model, log):
        super().__init__()
        self.model, self.log = model, log

    def forward(self, ids, mask, head):
        self.log.append(("forward", torch.are_deterministic_algorithms_enabled()))
        return self.model(ids, mask, head)


def test_the_bench_runs_without_deterministic_algorithms(setup, tmp_path, deterministic_job):
    """Deterministic algorithms are a training setting (+3.5% latency here); before, the bench ran
    under the job's global setting. After it, the job's setting is back."""
    model, tok, data = setup
    log: list = []
    costs, facts = bench.inference_bench(
        ctx_for(model, tok, tmp_path), Recorder(model, log), data[:6], "mc", spec_for(8, 2)
    )
    assert log and all(on is False for _, on in log)
    assert facts["deterministic_algorithms"] is False
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert costs["latency_n"].value == 8


def test_inputs_are_collated_and_on_the_device_before_the_first_timed_call(setup, tmp_path, monkeypatch):
    """Before, each example was collated (and copied to the device) between timed calls."""
    model, tok, data = setup
    log: list = []
    real = bench.collate

    def spy(items, head, pad):
        log.append(("collate", len(items)))
        return real(items, head, pad)

    monkeypatch.setattr(bench, "collate", spy)
    bench.inference_bench(ctx_for(model, tok, tmp_path), Recorder(model, log), data[:5], "mc", spec_for(12, 3, bs=4))
    first_forward = next(i for i, (what, _) in enumerate(log) if what == "forward")
    latency_part = log[: first_forward + 15]  # 3 warm-up + 12 timed calls, then the throughput batches
    assert [w for w, _ in latency_part[:first_forward]] == ["collate"] * 5, "every batch-1 input made first"
    assert all(w == "forward" for w, _ in latency_part[first_forward:]), "no collation between timed calls"


def plain_p50(model, data, pad_id: int, n: int, warm: int) -> float:
    """A plain timing loop: tensors built by hand, torch.inference_mode, perf_counter around model(...)."""
    inputs = []
    for ex in data[:n]:
        length = max(len(s) for s in ex.seqs)
        ids = torch.full((len(ex.seqs), length), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(ex.seqs):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        inputs.append((ids, mask))
    times = []
    with torch.inference_mode():
        for i in range(warm + n):
            ids, mask = inputs[i % len(inputs)]
            t0 = time.perf_counter()
            model(ids, mask, "mc")
            if i >= warm:
                times.append(time.perf_counter() - t0)
    return statistics.median(times)


@pytest.fixture
def one_thread():
    """One intra-op thread: on a shared machine a second thread waits for a busy core at every op."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.slow
def test_p50_agrees_with_a_plain_timing_loop(setup, tmp_path, deterministic_job, one_thread):
    """On the same weights, within 5%. The machine is shared, so short tries of the two alternate
    (each pair under the same load) and the median of the pairs' ratios is compared once at least
    ten pairs are in, as many as it takes to settle (up to 80)."""
    model, tok, data = setup
    ctx = ctx_for(model, tok, tmp_path)
    n, warm = 15, 3
    spec = spec_for(n, warm)
    ratios: list[float] = []
    pairs: list[tuple[float, float]] = []
    for attempt in range(80):
        got = {}
        for which in ("tool", "plain") if attempt % 2 == 0 else ("plain", "tool"):
            if which == "tool":
                got[which] = bench.inference_bench(ctx, model, data, "mc", spec)[0]["latency_p50_s"].value
            else:
                got[which] = plain_p50(model, data, tok.pad_token_id, n, warm)
        pairs.append((got["tool"], got["plain"]))
        ratios.append(got["tool"] / got["plain"])
        if len(ratios) >= 10 and abs(statistics.median(ratios) - 1) <= 0.05:
            break
    ratio = statistics.median(ratios)
    assert abs(ratio - 1) <= 0.05, (
        f"median ratio bench/plain p50 {ratio:.3f} over {len(ratios)} pairs (ms): "
        f"{[(round(a * 1e3, 2), round(b * 1e3, 2)) for a, b in pairs]}"
    )


def test_the_bench_records_the_flops_of_its_timed_calls(setup, tmp_path):
    """Before, inference-bench recorded no FLOPs (issue 17, item 7): now the analytic FLOPs of the
    timed calls (the warm-up calls left out), a batch-1 call's on average, and the throughput part's
    MFU (NULL on a CPU, with the reason)."""
    from xcost_tui.job.batching import collate, sorted_batches
    from xcost_tui.job.loops import forward_flops, forward_flops_nonpad

    model, tok, data = setup
    ctx = ctx_for(model, tok, tmp_path)
    n, warm, bs = 7, 2, 4
    costs, _ = bench.inference_bench(ctx, model, data[:5], "mc", spec_for(n, warm, bs=bs))
    timed = [collate([data[:5][i % 5]], "mc", tok.pad_token_id) for i in range(warm, warm + n)]
    pool = [data[:5][i % 5] for i in range(min(4 * bs, max(5, bs)))]
    batches = [
        collate([pool[i] for i in idxs], "mc", tok.pad_token_id)
        for idxs in sorted_batches([e.length for e in pool], bs)
    ]
    latency = sum(forward_flops(ctx, b) for b in timed)
    throughput = sum(forward_flops(ctx, b) for b in batches)
    flops = costs["flops_analytic"]
    assert (flops.value, flops.extra["latency"], flops.extra["throughput"]) == (
        latency + throughput,
        latency,
        throughput,
    )
    nonpad = costs["flops_analytic_nonpad"]
    assert nonpad.extra["throughput"] == sum(forward_flops_nonpad(ctx, b) for b in batches)
    assert costs["query_flops"].value == pytest.approx(latency / n)
    tokens = [b.tokens_nonpad for b in timed + batches], [b.tokens_padded for b in timed + batches]
    assert costs["padding_efficiency"].value == pytest.approx(sum(tokens[0]) / sum(tokens[1]))
    assert costs["flops_measured"].value is None and "analytic only" in costs["flops_measured"].reason
    assert costs["mfu"].value is None and costs["mfu"].reason == "no peak FLOP/s table for CPUs"
    assert costs["mfu_padded"].reason == costs["mfu"].reason
