"""The estimate's job side: ``python -m xcost_tui.estimate.worker count|probe``, reading one JSON
request on stdin and writing JSON lines ``XCOST-ESTIMATE {...}`` (protocol.py; the supervisor's
half is ``estimate/run.py``, which never imports this module).

``count`` (counting.py): for every run, the data the job would read, its tokenizer, the token
length of every example, and the exact batches, steps and analytic FLOPs the job would make.

``probe`` (probing.py): one fresh process per kind of run, started as the job starts, then each
planned phase measured in the job's order: a few optimiser steps of the training loop itself,
evaluation and the inference benchmark replayed on synthetic examples of the exact lengths.

Only this subprocess pays for torch, transformers and the job's modules, and only for its mode.
"""

from __future__ import annotations

import json
import os
import sys

from .protocol import emit


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("count", "probe"):
        print("usage: python -m xcost_tui.estimate.worker count|probe  (a JSON request on stdin)", file=sys.stderr)
        return 2
    try:
        request = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        emit({"event": "failed", "error": f"bad request: {exc}"})
        emit({"event": "done"})
        return 2
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if argv[0] == "count":
        # deferred: counting pulls in torch and the job's modules (start-up cost), after the request is read
        from .counting import count_main

        return count_main(request)
    if request.get("offline"):  # the count found the hub unreachable: do not wait for it again
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ[var] = "1"
    # deferred: probing pulls in torch and the job's modules (start-up cost), after the request is read
    from .probing import probe_main

    return probe_main(request)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
