"""Incremental readers of append-only JSONL files (events.jsonl, samples.jsonl).

A reader remembers its byte offset and consumes only complete lines: a line the writer has
not finished yet (no newline) stays in the file until a later read finds it complete. A
complete line that is not JSON (a crash's garbage) is skipped and counted, never raised.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class JsonlTail:
    def __init__(self, path: Path | str, *, max_bytes: int = 8 << 20):
        self.path = Path(path)
        self.offset = 0
        self.malformed = 0
        self.max_bytes = max_bytes  # per read: a huge backlog is consumed over several reads
        self._ino: int | None = None

    def read(self) -> list[dict]:
        """The objects of the lines completed since the last read."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if self._ino is not None and (st.st_ino != self._ino or st.st_size < self.offset):
            self.offset = 0  # the file was replaced (a rerun archived the old one): start over
        self._ino = st.st_ino
        if st.st_size <= self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(min(st.st_size - self.offset, self.max_bytes))
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far
        self.offset += end + 1
        out: list[dict] = []
        for line in chunk[: end + 1].splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.malformed += 1
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def read_all(self) -> list[dict]:
        """Everything complete up to now, however large the backlog."""
        out: list[dict] = []
        while True:
            before = self.offset
            out.extend(self.read())
            if self.offset == before:
                return out
