"""The estimate worker's side of its pipe: one JSON line per event, ``XCOST-ESTIMATE {...}``.

The supervisor (``estimate/run.py``, through ``worker_pipe.py``) reads only the lines that start
with the mark: a library's own output on stdout is ignored. Every request ends with a ``done``
event; ``note`` events are said to the user as they come.
"""

from __future__ import annotations

import json
import sys
from typing import Any

MARK = "XCOST-ESTIMATE "


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def note(text: str) -> None:
    emit({"event": "note", "text": text})
