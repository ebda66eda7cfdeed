"""The job's log: one time-stamped line on stdout (the runner keeps a job's stdout as its log).

Torch-free and at the bottom of the job's room: ``main.Job`` logs a cancel or an error that
arrives before torch is imported, and every phase logs through it.
"""

from __future__ import annotations

import time


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)
