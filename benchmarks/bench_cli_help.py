"""How fast `xcost-tui --help` answers (target < 0.5 s), against a bare `python -c pass` baseline.

python benchmarks/bench_cli_help.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _quiet import Contention


def timed(cmd: list[str], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=10)
    a = ap.parse_args()
    with Contention() as c:
        base = timed([sys.executable, "-c", "pass"], a.repeats)
        helps = {
            name: timed([sys.executable, "-m", "xcost_tui", *args], a.repeats)
            for name, args in {"--help": ["--help"], "run --help": ["run", "--help"]}.items()
        }
    print(c.label(f"python -c pass      {base * 1000:7.1f} ms (baseline)"))
    for name, t in helps.items():
        print(
            c.label(f"xcost-tui {name:10s}{t * 1000:7.1f} ms  ({t / base:.1f}x the bare interpreter; target < 500 ms)")
        )
    print(c.verdict())


if __name__ == "__main__":
    main()
