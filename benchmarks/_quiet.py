"""Is the machine quiet enough to trust a timing? CPU time used by OTHER processes during a measurement.

    with Contention() as c:
        ... timed work ...
    print(c.verdict())        # "quiet (other processes: 3% of a core)" or "CONTENDED (...)"

A ratio measured while other work shared the CPUs is not a result: benchmark scripts print
``c.label(ratio_text)``, which says so beside the number (and ``c.quiet`` lets a script refuse).
"""

from __future__ import annotations

import os
import time

import psutil

# Other processes may use this much of one core on average before a measurement counts as contended.
QUIET_SHARE_OF_A_CORE = 0.15


def _own_tree_cpu_s() -> float:
    me = psutil.Process(os.getpid())
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
        except psutil.Error:
            pass
    return total


def _machine_busy_s() -> float:
    t = psutil.cpu_times()
    return t.user + t.system + getattr(t, "nice", 0.0) + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)


class Contention:
    def __enter__(self) -> Contention:
        self._wall0, self._busy0, self._own0 = time.monotonic(), _machine_busy_s(), _own_tree_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.monotonic() - self._wall0
        busy = _machine_busy_s() - self._busy0
        own = _own_tree_cpu_s() - self._own0
        self.other_cores = max(0.0, busy - own) / max(self.wall_s, 1e-9)

    @property
    def quiet(self) -> bool:
        return self.other_cores <= QUIET_SHARE_OF_A_CORE

    def verdict(self) -> str:
        share = f"other processes used {100 * self.other_cores:.0f}% of a core"
        return f"quiet ({share})" if self.quiet else f"CONTENDED ({share}): not a result, rerun on a quiet machine"

    def label(self, text: str) -> str:
        return text if self.quiet else f"{text}  [measured under contention: {self.verdict()}]"
