"""The inference bench's batch-1 latency against a plain timing loop on the same weights.

    python benchmarks/bench_latency.py [--pairs 20] [--calls 50] [--threads 1]

Target: the job's p50 (xcost_tui/job/bench.py, as the inference-bench phase runs it, under the
job's global deterministic-algorithms setting) within 5% of a plain loop's median (tensors built by
hand, ``torch.inference_mode``, ``perf_counter`` around ``model(...)``). The two alternate in pairs, so a
change of machine load hits both; the ratio is the median of the pairs' ratios. Also shown: the
same plain loop with deterministic algorithms on (the setting the bench now turns off).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import types

from _common import data_dir
from _quiet import Contention


def build(seed: int = 0):
    import torch

    from xcost_tui.job import model as models
    from xcost_tui.job.batching import encode
    from xcost_tui.tasks import all_texts, load_examples

    train = load_examples("copa", "train", data_dir=data_dir())
    tokenizer = models.train_tiny_tokenizer(all_texts(train), models.TINY_DIMS["vocab_size"])
    model = models.EncoderWithHeads(models.build_tiny_encoder(tokenizer, {}, seed))
    model.ensure_head("mc")
    model.eval()
    torch.use_deterministic_algorithms(True, warn_only=True)  # as the job's seed_everything leaves it
    examples = load_examples("xcopa", "test", data_dir=data_dir(), lang="it", limit=60)
    return model, tokenizer, encode(examples, tokenizer, 128)


def plain_p50(model, data, pad_id: int, calls: int, warm: int, deterministic: bool = False) -> float:
    import torch

    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    inputs = []
    for ex in data[:calls]:
        length = max(len(s) for s in ex.seqs)
        ids = torch.full((len(ex.seqs), length), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(ex.seqs):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        inputs.append((ids, mask))
    times = []
    try:
        with torch.inference_mode():
            for i in range(warm + calls):
                ids, mask = inputs[i % len(inputs)]
                t0 = time.perf_counter()
                model(ids, mask, "mc")
                if i >= warm:
                    times.append(time.perf_counter() - t0)
    finally:
        torch.use_deterministic_algorithms(was, warn_only=True)
    return statistics.median(times)


def tool_p50(model, tokenizer, data, calls: int, warm: int) -> float:
    import os

    import torch

    from xcost_tui.job.bench import inference_bench
    from xcost_tui.job.loops import Device, JobContext
    from xcost_tui.measure.flops import EncoderDims
    from xcost_tui.rundir import EventWriter
    from xcost_tui.spec import MeasureOpts

    ctx = JobContext(
        device=Device(torch.device("cpu"), "cpu", "cpu", 1, "fp32"),
        events=EventWriter(os.devnull),
        measure=MeasureOpts(),
        dims=EncoderDims.from_hf_config(model.encoder.config),
        pad_id=tokenizer.pad_token_id,
        cancel=threading.Event(),
        log=lambda m: None,
        memory_now=lambda: (None, None, None),
    )
    spec = types.SimpleNamespace(
        measure=MeasureOpts(inference_bench_examples=calls, inference_warmup=warm), eval_batch_size=8
    )
    costs, _ = inference_bench(ctx, model, data, "mc", spec)
    return costs["latency_p50_s"].value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--calls", type=int, default=50, help="timed batch-1 calls per try (the job's default)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    model, tokenizer, data = build()
    tool, plain, det = [], [], []
    with Contention() as c:
        for p in range(a.pairs):
            order = ("tool", "plain", "det") if p % 2 == 0 else ("det", "plain", "tool")
            for which in order:
                if which == "tool":
                    tool.append(tool_p50(model, tokenizer, data, a.calls, a.warmup))
                elif which == "plain":
                    plain.append(plain_p50(model, data, tokenizer.pad_token_id, a.calls, a.warmup))
                else:
                    det.append(plain_p50(model, data, tokenizer.pad_token_id, a.calls, a.warmup, deterministic=True))
    ratios = [t / q for t, q in zip(tool, plain)]
    det_ratios = [d / q for d, q in zip(det, plain)]
    ms = statistics.median
    print(
        f"tiny-xlmr, XCOPA it, batch 1, {a.calls} timed calls after {a.warmup} warm-up, {a.pairs} pairs, "
        f"{torch.get_num_threads()} thread(s)"
    )
    print(
        c.label(
            f"job bench p50 {ms(tool) * 1e3:.3f} ms, plain loop {ms(plain) * 1e3:.3f} ms: "
            f"ratio {ms(ratios):.3f} (median of pairs; target within 5%)"
        )
    )
    print(
        c.label(
            f"plain loop with deterministic algorithms on: {ms(det) * 1e3:.3f} ms, "
            f"{100 * (ms(det_ratios) - 1):+.1f}% against off"
        )
    )
    print(c.verdict())


if __name__ == "__main__":
    main()
