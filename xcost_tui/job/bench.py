"""Inference cost of the final model: batch-1 latency and throughput at the evaluation batch size.

Measured as a user of the model would see it: with deterministic algorithms off (a training
setting the job turns on for reproducibility; it slows inference), with every input collated and
on the device before the first timed call (a timed call is the forward pass alone), and after
untimed warm-up calls. ``benchmarks/bench_latency.py`` and ``tests/job/test_job_bench.py`` check the
p50 against a plain timing loop on the same weights.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch

from ..measure.stats import latency_summary, present
from ..rundir.cost import Cost
from ..spec import RunSpec
from .batching import Encoded, collate, sorted_batches


@contextlib.contextmanager
def deterministic_off() -> Iterator[None]:
    """``torch.use_deterministic_algorithms(False)`` inside, the previous setting (and its
    warn-only flag) restored after: the job trains deterministically, a user's inference does not."""
    was = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(False)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn_only)


def prepare_latency_inputs(data: list[Encoded], head: str, pad_id: int, device, count: int) -> list:
    """``count`` batch-1 inputs cycling through ``data`` (quick runs have fewer examples than
    calls), each collated once and moved to the device before any timing."""
    unique = [collate([ex], head, pad_id).to(device.torch_device) for ex in data[:count]]
    return [unique[i % len(unique)] for i in range(count)]


@torch.inference_mode()
def inference_bench(ctx, model, data: list[Encoded], head: str, spec: RunSpec) -> tuple[dict[str, Cost], dict]:
    model.eval()
    device = ctx.device
    n = spec.measure.inference_bench_examples
    warm = spec.measure.inference_warmup
    if not data:
        reason = "no evaluation examples to benchmark on"
        return {k: Cost.missing("s", reason) for k in ("latency_p50_s", "latency_p95_s", "latency_mean_s")}, {}

    def forward(batch):
        with device.autocast():
            return model(batch.input_ids, batch.attention_mask, batch.head)

    with deterministic_off():
        inputs = prepare_latency_inputs(data, head, ctx.pad_id, device, warm + n)
        device.synchronize()  # the copies to the device are done before the first call
        latencies = []
        for i, batch in enumerate(inputs):
            ctx.check_cancel()
            t0 = time.perf_counter()
            forward(batch)
            device.synchronize()
            if i >= warm:  # warm-up calls are not timed results
                latencies.append(time.perf_counter() - t0)
        summary = latency_summary(latencies)

        # Throughput at the evaluation batch size, over up to 4 batches of real examples.
        bs = spec.eval_batch_size
        pool = [data[i % len(data)] for i in range(min(4 * bs, max(len(data), bs)))]
        batches = [
            collate([pool[i] for i in idxs], head, ctx.pad_id).to(device.torch_device)
            for idxs in sorted_batches([e.length for e in pool], bs)
        ]
        forward(batches[0])  # warm-up
        device.synchronize()
        t0 = time.perf_counter()
        for batch in batches:
            ctx.check_cancel()
            forward(batch)
        device.synchronize()
        elapsed = time.perf_counter() - t0
    examples = sum(b.n_examples for b in batches)
    src = "wall_clock"
    # present(): n >= 1 timed calls (inference_bench_examples' range), so the summary has every figure
    costs = {
        "latency_p50_s": Cost.measured(present(summary["p50"]), "s", src),
        "latency_p95_s": Cost.measured(present(summary["p95"]), "s", src),
        "latency_mean_s": Cost.measured(present(summary["mean"]), "s", src),
        "latency_n": Cost.measured(present(summary["n"]), "count", "counted"),
        "throughput_examples_per_s": Cost.measured(examples / elapsed, "examples/s", src, batch_size=bs),
    }
    facts = {
        "warmup": warm,
        "latency_batch_size": 1,
        "throughput_batch_size": bs,
        "throughput_examples": examples,
        "latency_p90_s": summary["p90"],
        "latency_p99_s": summary["p99"],
        "latency_stdev_s": summary["stdev"],
        "deterministic_algorithms": False,
        "inputs_prepared": True,
    }
    return costs, facts
