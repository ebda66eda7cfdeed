"""Throughput with all measurement on (FLOP sampling, progress events, memory probes) against off.

    python benchmarks/bench_measure_overhead.py [--steps 150] [--repeats 5]

Target: measured runs keep at least 97% of the throughput of unmeasured runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import context, setup
from _quiet import Contention


def once(fresh_model, tokenizer, encoded, steps, measured):
    from xcost_tui.job.loops import TrainTask, train
    from xcost_tui.measure.flops import EncoderDims
    from xcost_tui.measure.timer import PhaseMeter
    from xcost_tui.spec import HParams

    model = fresh_model()
    ctx = context(measured, tokenizer, EncoderDims.from_hf_config(model.encoder.config))
    hp = HParams(batch_size=8, grad_accum=1, max_steps=steps, warmup_ratio=0.0)
    meter = PhaseMeter("cpu", "cpu", [], enabled_memory=measured)
    t0 = time.perf_counter()
    with meter:
        if measured:
            ctx.memory_now = meter.memory.current
        tally, _ = train(ctx, model, "bench", [TrainTask("copa", "mc", encoded)], hp, seed=0)
    return tally.examples / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    tokenizer, fresh_model, _, encoded = setup()
    on, off = [], []
    with Contention() as whole:
        for r in range(a.repeats):
            with Contention() as c:
                off.append(once(fresh_model, tokenizer, encoded, a.steps, False))
                on.append(once(fresh_model, tokenizer, encoded, a.steps, True))
            print(c.label(f"repeat {r + 1}: off {off[-1]:.1f} ex/s, on {on[-1]:.1f} ex/s"), flush=True)
    ratio = statistics.median(on) / statistics.median(off)
    print(
        whole.label(
            f"\nmedian: off {statistics.median(off):.1f} ex/s, on {statistics.median(on):.1f} ex/s -> "
            f"measured keeps {100 * ratio:.1f}% of unmeasured throughput (target >= 97%)"
        )
    )
    print(whole.verdict())


if __name__ == "__main__":
    main()
