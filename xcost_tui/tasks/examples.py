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


@dataclass(frozen=True)
class SpanExample:
    """An extractive question-answering example (SQuAD): the answer is a span of ``context``.

    ``answers`` are the gold answer texts and ``answer_starts`` their character offsets in
    ``context`` (SQuAD v1.1 validation lists up to five annotators' answers; training rows one).
    No answers: unanswerable (SQuAD v2.0), whose gold answer is the empty string."""

    idx: int | str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]
    lang: str = "en"

    @property
    def label(self) -> int:
        """Always labelled (0): an unanswerable question's gold answer is the empty string, not a
        missing label (the loaders' check for unlabelled rows reads ``label``)."""
        return 0

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


Example = MCExample | PairExample | SpanExample
