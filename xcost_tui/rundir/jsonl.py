"""JSON and JSONL files of a run directory: one writer, one tolerant reader, atomic replace.

- ``JsonlWriter`` appends one JSON object per line and flushes each line, so a crash loses at
  most the line being written.
- ``JsonlReader`` is THE reader of every JSONL file (live tails, ingest, tests): it remembers
  its byte offset, consumes only complete lines (a line still being written stays for a later
  read), starts over when the file was replaced, and skips a complete line that is not a JSON
  object, counting it with its line number, never raising.
- ``write_json_atomic`` replaces a file through a temporary file, removed again when the write
  fails (a full disk must not leave ``.tmp`` litter, nor a half-written status).

A failed write raises ``WriteError`` whose message says "no space left on <path>" or
"read-only: <path>", so every caller can report the cause once and stop cleanly.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import write_error


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf; a non-finite float becomes null rather than invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(obj: Any) -> str:
    return json.dumps(_clean(obj), separators=(",", ":"), ensure_ascii=False, default=str)


class JsonlWriter:
    """Appends one JSON object per line and flushes each line."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise write_error(exc, self.path) from exc

    def write(self, obj: dict[str, Any]) -> None:
        try:
            self._fh.write(dumps(obj) + "\n")
            self._fh.flush()
        except OSError as exc:
            raise write_error(exc, self.path) from exc

    def close(self) -> None:
        if not self._fh.closed:
            try:
                self._fh.close()
            except OSError:  # the flush of a full disk: what could be written was written
                pass

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class JsonlLine:
    """One complete line that held a JSON object: its 1-based line number, the object, the text."""

    lineno: int
    obj: dict[str, Any]
    text: str


@dataclass
class JsonlReader:
    """Reads the complete lines appended to a JSONL file since the last read (see module doc)."""

    path: Path
    max_bytes: int = 8 << 20  # per read: a huge backlog is consumed over several reads
    offset: int = 0
    lineno: int = 0
    malformed: list[int] = field(default_factory=list)  # line numbers of skipped lines
    half_written: bool = False  # the last line of a finished file was cut short
    _ino: int | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def restart(self) -> None:
        self.offset = self.lineno = 0
        self.malformed = []
        self.half_written = False

    def read_lines(self, *, final: bool = False) -> list[JsonlLine]:
        """Lines completed since the last read. ``final``: the writer is gone (a finished run, or
        a crash), so text after the last newline is a last line too, not one still being written."""
        try:
            st = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            return []
        if self._ino is not None and (st.st_ino != self._ino or st.st_size < self.offset):
            self.restart()  # the file was replaced (a rerun archived the old one): start over
        self._ino = st.st_ino
        if st.st_size <= self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(min(st.st_size - self.offset, self.max_bytes))
        last_chunk = self.offset + len(chunk) >= st.st_size
        end = len(chunk) - 1 if final and last_chunk else chunk.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far
        self.offset += end + 1
        out: list[JsonlLine] = []
        lines = chunk[: end + 1].split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the text after the last newline: nothing
        cut_short = final and last_chunk and not chunk.endswith(b"\n")
        for i, raw in enumerate(lines):
            self.lineno += 1
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8").strip()
                obj = json.loads(text)
            except (UnicodeDecodeError, json.JSONDecodeError):
                self.malformed.append(self.lineno)
                self.half_written = self.half_written or (cut_short and i == len(lines) - 1)
                continue
            if not isinstance(obj, dict):
                self.malformed.append(self.lineno)
                continue
            out.append(JsonlLine(self.lineno, obj, text))
        return out

    def read(self) -> list[dict[str, Any]]:
        """The objects of the lines completed since the last read."""
        return [line.obj for line in self.read_lines()]

    def read_all_lines(self, *, final: bool = False) -> list[JsonlLine]:
        """Everything complete up to now, however large the backlog (``final``: see read_lines)."""
        out: list[JsonlLine] = []
        while True:
            before = self.offset
            out.extend(self.read_lines(final=final))
            if self.offset == before:
                return out

    def read_all(self) -> list[dict[str, Any]]:
        return [line.obj for line in self.read_all_lines()]

    def pending_partial(self) -> bool:
        """Whether bytes after the last complete line are waiting (a line being written)."""
        try:
            return os.stat(self.path).st_size > self.offset
        except OSError:
            return False

    def problems(self, still_running: bool) -> list[str]:
        """At most one warning: the skipped lines, and whether the last was half-written."""
        waiting = self.pending_partial()
        partial = self.half_written or waiting
        bad = len(self.malformed) + (1 if waiting else 0)
        if not bad:
            return []
        text = f"{self.path}: skipped {bad} malformed line{'s' if bad != 1 else ''}"
        if self.malformed:
            text += (
                " (line "
                + ", ".join(str(n) for n in self.malformed[:5])
                + (", ...)" if len(self.malformed) > 5 else ")")
            )
        if partial:
            text += ", the last one half-written " + (
                "(the run is still writing it)" if still_running else "(a crash?)"
            )
        return [text]


def read_jsonl(path: Path | str) -> list[dict[str, Any]]:
    """Every complete JSON-object line of a file (malformed ones skipped)."""
    return JsonlReader(Path(path)).read_all()


def read_json_object(path: Path | str) -> dict[str, Any] | None:
    """A JSON file holding one object; None when the file is absent.

    Raises ValueError (with the path) when it is not valid JSON or not an object."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(obj).__name__} {text.strip()[:40]!r}")
    return obj


def write_json_atomic(path: Path | str, obj: Any) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(dumps(obj) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise write_error(exc, path) from exc
