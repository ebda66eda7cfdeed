"""Target (issue 9): a 1,000-resample bootstrap over 11 languages x 500 items x 50 configurations in < 3 s.

Each configuration has SEEDS runs; its per-language accuracy interval is the two-level bootstrap
(seeds and items) of xcost_tui.stats.bootstrap, with one set of item weights per language shared
by every configuration (as the verdict does). Run: python benchmarks/bench_bootstrap.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _quiet import Contention  # noqa: E402

from xcost_tui.stats import bootstrap  # noqa: E402


def one_pass(correct: np.ndarray, resamples: int) -> float:
    t0 = time.perf_counter()
    for lang in range(correct.shape[1]):
        items = bootstrap.ItemWeights.draw(correct.shape[3], resamples, seed=lang)
        for cfg in range(correct.shape[0]):
            bootstrap.accuracy_interval(correct[cfg, lang], items=items, seed=cfg)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--configs", type=int, default=50)
    ap.add_argument("--langs", type=int, default=11)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    correct = rng.random((args.configs, args.langs, args.seeds, args.items)) < 0.6
    one_pass(correct[:1, :1], args.resamples)  # warm-up (BLAS, allocator)
    with Contention() as c:
        times = [one_pass(correct, args.resamples) for _ in range(args.repeats)]
    print(
        f"bootstrap: {args.resamples} resamples x {args.langs} languages x {args.items} items x {args.configs} "
        f"configurations x {args.seeds} seeds"
    )
    print(
        c.label(f"median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}; target < 3 s)")
    )
    print(c.verdict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
