"""The canonical example forms every task converts to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MCExample:
    """A multiple-choice example: ``context`` is paired with each choice and each pair is scored."""

    idx: int | str
    context: str
    choices: tuple[str, ...]
    label: int  # index into choices; -1 when unlabelled
    lang: str = "en"


@dataclass(frozen=True)
class PairExample:
    """A sequence(-pair) classification example."""

    idx: int | str
    text_a: str
    text_b: str | None
    label: int  # -1 when unlabelled
    lang: str = "en"


Example = MCExample | PairExample
