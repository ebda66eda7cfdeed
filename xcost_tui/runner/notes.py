"""What the runner tells its user: ``Note(level, text)``, drained with ``drain_messages()``.

The level is decided where the note is made (the scheduler knows whether a SIGKILL was routine
or a disk is full), so the front ends branch on it instead of searching the text: the app pops
up warnings and errors, ``--headless`` prints ``note:``, ``warning:`` or ``error:``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NoteLevel(str, enum.Enum):
    INFO = "info"  # what happened: devices, starts, attaches, shared phases
    WARNING = "warning"  # something went wrong with one run or the store; the rest goes on
    ERROR = "error"  # the runner stopped doing something (a full or read-only disk)

    def __str__(self) -> str:
        return self.value


# Topics a front end may want to recognise without reading the text.
STARTED = "started"  # a job was spawned (headless prints its own line for it)


@dataclass(frozen=True)
class Note:
    level: NoteLevel
    text: str
    run_id: str | None = None  # the run it is about, when it is about one
    topic: str | None = None  # e.g. STARTED

    def __str__(self) -> str:
        return self.text if self.level == NoteLevel.INFO else f"{self.level.value}: {self.text}"

    @classmethod
    def info(cls, text: str, run_id: str | None = None, topic: str | None = None) -> Note:
        return cls(NoteLevel.INFO, text, run_id, topic)

    @classmethod
    def warning(cls, text: str, run_id: str | None = None) -> Note:
        return cls(NoteLevel.WARNING, text, run_id)

    @classmethod
    def error(cls, text: str, run_id: str | None = None) -> Note:
        return cls(NoteLevel.ERROR, text, run_id)
