"""Two runs at once on this machine's CPUs: each with its share of threads (the runner's default
now) against each with every CPU's worth of threads (as before), with the real job and tiny-xlmr.

    python benchmarks/bench_cpu_share.py [--runs 2] [--steps 60]

Prints, for each setting, the target phase's examples/s of each run (from its phase_end costs),
the plan's wall time and its total throughput, and the ratio of the two; each line says whether
other processes shared the CPUs meanwhile (benchmarks/_quiet.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import REPO, data_dir
from _quiet import Contention


def run_plan(runs: int, steps: int, threads: int | None) -> tuple[list[float], float, int]:
    from xcost_tui.rundir import read_jsonl
    from xcost_tui.runner import Scheduler
    from xcost_tui.spec import RunSpec

    if threads is None:
        os.environ.pop("XCOST_CPU_THREADS", None)
    else:
        os.environ["XCOST_CPU_THREADS"] = str(threads)
    store = Path(tempfile.mkdtemp(prefix="xcost-share-")) / "store"
    specs = [
        RunSpec.from_dict(
            {
                "method": "direct",
                "model": "tiny-xlmr",
                "langs": ["it"],
                "seed": i,
                "eval_english": False,
                "max_eval_examples": 20,
                "data_dir": str(data_dir()),
                "hparams": {"max_steps": steps, "batch_size": 8, "max_examples": 400},
                "measure": {"inference_bench_examples": 10},
            }
        )
        for i in range(runs)
    ]
    sched = Scheduler(store, max_parallel=runs, ingest=False, env={"PYTHONPATH": str(REPO)})
    t0 = time.perf_counter()
    sched.submit(specs)
    sched.start()
    sched.wait()
    wall = time.perf_counter() - t0
    sched.shutdown()
    speeds, examples = [], 0
    for s in specs:
        for e in read_jsonl(store / "runs" / s.run_id() / "events.jsonl"):
            if e.get("type") == "phase_end" and e.get("phase") == "target:copa":
                speeds.append(e["costs"]["examples_per_s"]["value"])
                examples += e["costs"]["examples"]["value"]
    shutil.rmtree(store.parent, ignore_errors=True)
    return speeds, wall, examples


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    cpus = len(os.sched_getaffinity(0))
    results = {}
    whole = Contention()
    whole.__enter__()
    for label, threads in (("share", None), ("all CPUs each", cpus)):
        with Contention() as c:
            speeds, wall, examples = run_plan(args.runs, args.steps, threads)
        results[label] = (speeds, wall, examples)
        per = ", ".join(f"{x:.0f}" for x in speeds)
        print(
            c.label(
                f"{label:>14}: {args.runs} runs at once on {cpus} CPUs, "
                f"{'share' if threads is None else threads} thread(s) each: target examples/s per run {per} "
                f"(median {statistics.median(speeds):.0f}); plan {wall:.1f} s"
            ),
            flush=True,
        )
    whole.__exit__(None, None, None)
    (s_speed, s_wall, _), (a_speed, a_wall, _) = results["share"], results["all CPUs each"]
    print(
        whole.label(
            f"per-run speed, share / all CPUs: {statistics.median(s_speed) / statistics.median(a_speed):.2f}×; "
            f"plan wall time, all CPUs / share: {a_wall / s_wall:.2f}×"
        )
    )
    print(whole.verdict())


if __name__ == "__main__":
    main()
