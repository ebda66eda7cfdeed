"""Inference cost of the final model: batch-1 latency and throughput at the evaluation batch size."""

from __future__ import annotations

import time

import torch

from ..rundir.cost import Cost
from ..measure.stats import latency_summary
from ..spec import RunSpec
from .batching import Encoded, collate, sorted_batches


@torch.inference_mode()
def inference_bench(ctx, model, data: list[Encoded], head: str, spec: RunSpec) -> tuple[dict[str, Cost], dict]:
    model.eval()
    device = ctx.device
    n = spec.measure.inference_bench_examples
    warm = spec.measure.inference_warmup
    if not data:
        reason = "no evaluation examples to benchmark on"
        return {k: Cost.missing("s", reason) for k in ("latency_p50_s", "latency_p95_s", "latency_mean_s")}, {}
    # Cycle through the examples when there are fewer than warm-up + n (quick runs).
    pick = [data[i % len(data)] for i in range(warm + n)]

    def forward(batch):
        with device.autocast():
            return model(batch.input_ids, batch.attention_mask, batch.head)

    latencies = []
    for i, ex in enumerate(pick):
        ctx.check_cancel()
        batch = collate([ex], head, ctx.pad_id).to(device.torch_device)
        device.synchronize()
        t0 = time.perf_counter()
        forward(batch)
        device.synchronize()
        if i >= warm:  # warm-up runs are not timed results
            latencies.append(time.perf_counter() - t0)
    summary = latency_summary(latencies)

    # Throughput at the evaluation batch size, over up to 4 batches of real examples.
    bs = spec.eval_batch_size
    pool = [data[i % len(data)] for i in range(min(4 * bs, max(len(data), bs)))]
    batches = [collate([pool[i] for i in idxs], head, ctx.pad_id).to(device.torch_device)
               for idxs in sorted_batches([e.length for e in pool], bs)]
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
    costs = {
        "latency_p50_s": Cost.measured(summary["p50"], "s", src),
        "latency_p95_s": Cost.measured(summary["p95"], "s", src),
        "latency_mean_s": Cost.measured(summary["mean"], "s", src),
        "latency_n": Cost.measured(summary["n"], "count", "counted"),
        "throughput_examples_per_s": Cost.measured(examples / elapsed, "examples/s", src, batch_size=bs),
    }
    facts = {"warmup": warm, "latency_batch_size": 1, "throughput_batch_size": bs, "throughput_examples": examples,
             "latency_p90_s": summary["p90"], "latency_p99_s": summary["p99"], "latency_stdev_s": summary["stdev"]}
    return costs, facts
