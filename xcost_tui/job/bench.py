"""Inference cost of the final model: batch-1 latency and throughput at the evaluation batch size.

Measured as a user of the model would see it: with deterministic algorithms off (a training
setting the job turns on for reproducibility; it slows inference), with every input collated and
on the device before the first timed call (a timed call is the forward pass alone), and after
untimed warm-up calls. ``benchmarks/bench_latency.py`` and ``tests/job/test_job_bench.py`` check the
p50 against a plain timing loop on the same weights.

Its FLOPs are counted analytically for the timed calls only (the batch-1 calls after the warm-up and
the throughput batches; ``bench_flop_costs``): ``flops_analytic``, ``query_flops`` (a batch-1 call's,
on average) and the MFU of the throughput part (its non-pad FLOPs over its own seconds; the latency
part is batch 1, latency-bound by design). The same helper records icl's and translate-test's
bench FLOPs (job/icl.py, job/translate.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch

from ..measure.mfu import mfu, peak_flops
from ..measure.stats import latency_summary, present
from ..rundir.cost import Cost
from ..spec import RunSpec
from .batching import Encoded, collate, sorted_batches
from .loops import Device, forward_flops, forward_flops_nonpad


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


def bench_flop_costs(
    device: Device,
    latency: list[tuple[int, int]],
    throughput: tuple[int, int],
    throughput_s: float,
    per: str,
    tokens: tuple[int, int] | None = None,
) -> dict[str, Cost]:
    """The bench's FLOP figures. ``latency``: (FLOPs, non-pad FLOPs) of each timed batch-1 call;
    ``throughput``: those of the throughput batches together, timed over ``throughput_s`` seconds;
    ``tokens``: (non-pad, padded) tokens of the timed calls (``padding_efficiency``).

    flops_analytic (and _nonpad): the timed calls' FLOPs (the untimed warm-up calls are not in it,
    so with the phase's wall_s, which holds the warm-up too, it does not make an MFU); query_flops: a
    batch-1 call's on average; mfu / mfu_padded: the throughput part's non-pad / padded FLOPs over
    its seconds, the device's peak and its devices. NULL with the reason where the peak is unknown
    (every CPU) or nothing was timed."""
    lat = sum(f for f, _ in latency)
    lat_nonpad = sum(f for _, f in latency)
    tp, tp_nonpad = throughput
    note = "the timed calls: batch-1 latency calls after the warm-up, and the throughput batches"
    costs = {
        "flops_analytic": Cost.measured(lat + tp, "FLOP", "analytic", latency=lat, throughput=tp, note=note),
        "flops_analytic_nonpad": Cost.measured(
            lat_nonpad + tp_nonpad, "FLOP", "analytic", latency=lat_nonpad, throughput=tp_nonpad, note=note
        ),
        # every phase with an analytic count has this figure; no bench call runs under FlopCounterMode
        # (the formulas are checked on the evaluation phases' passes and in tests/measure)
        "flops_measured": Cost.missing("FLOP", "the bench's FLOPs are analytic only (no counted pass)"),
        "query_flops": (
            Cost.measured(lat / len(latency), "FLOP", "analytic", per=per)
            if latency
            else Cost.missing("FLOP", "no timed latency call")
        ),
        "padding_efficiency": (
            Cost.measured(tokens[0] / tokens[1], "ratio", "counted", note="the timed calls")
            if tokens and tokens[1]
            else Cost.missing("ratio", "no tokens processed")
        ),
    }
    peak, reason = peak_flops(device.name, device.precision, device.type)
    for name, flops in (("mfu", tp_nonpad), ("mfu_padded", tp)):
        if peak is None:
            costs[name] = Cost.missing("ratio", reason or "peak FLOP/s unknown for this device")
        else:
            cost = mfu(flops, throughput_s, peak, device.count)
            if cost.value is not None:
                cost = Cost.measured(
                    cost.value, "ratio", "analytic", **cost.extra, part="throughput", window_s=throughput_s
                )
            costs[name] = cost
    return costs


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
        latency_flops = []
        nonpad = padded = 0
        for i, batch in enumerate(inputs):
            ctx.check_cancel()
            t0 = time.perf_counter()
            forward(batch)
            device.synchronize()
            if i >= warm:  # warm-up calls are not timed results
                latencies.append(time.perf_counter() - t0)
                latency_flops.append((forward_flops(ctx, batch), forward_flops_nonpad(ctx, batch)))
                nonpad, padded = nonpad + batch.tokens_nonpad, padded + batch.tokens_padded
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
        **bench_flop_costs(
            device,
            latency_flops,
            (sum(forward_flops(ctx, b) for b in batches), sum(forward_flops_nonpad(ctx, b) for b in batches)),
            elapsed,
            "query, both choices, batch 1",
            (
                nonpad + sum(b.tokens_nonpad for b in batches),
                padded + sum(b.tokens_padded for b in batches),
            ),
        ),
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
