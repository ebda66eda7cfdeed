"""Accuracy over languages: the one definition every view, report and the store's SQL share.

A run's average accuracy is the mean over the XCOPA target languages it was evaluated on;
English COPA validation ("en") is the source-language reference and never part of it.
"""

from __future__ import annotations

from typing import Mapping

from . import XCOPA_LANGS

ENGLISH = "en"


def average_accuracy(by_lang: Mapping[str, float | None]) -> float | None:
    """Mean accuracy over the XCOPA languages present (English excluded); None when there are none."""
    values = [a for lang, a in by_lang.items() if lang in XCOPA_LANGS and a is not None]
    return sum(values) / len(values) if values else None


def sql_target_langs() -> str:
    """The XCOPA languages as a SQL list literal, for ``lang IN (...)`` filters."""
    return ", ".join(f"'{lang}'" for lang in XCOPA_LANGS)
