"""Tasks: the registry of data sets and loading them as canonical examples.

Importing this package is cheap and torch-free (the supervisor validates specs with it);
``datasets`` is imported only when a split is actually read from the Hugging Face hub.
"""

from .converters import copa_context
from .examples import Example, MCExample, PairExample, SpanExample
from .loading import HUB_MIRROR_ENV, XCOPA_QUESTION_MODES, all_texts, load_examples, load_split
from .registry import CLASSIFICATION, MULTIPLE_CHOICE, SPAN, SPLITS, TASK_NAMES, TaskDef, get_task
from .sources import DataSource, LoadedSplit

__all__ = [
    "CLASSIFICATION",
    "HUB_MIRROR_ENV",
    "MULTIPLE_CHOICE",
    "SPAN",
    "SPLITS",
    "TASK_NAMES",
    "XCOPA_QUESTION_MODES",
    "DataSource",
    "Example",
    "LoadedSplit",
    "MCExample",
    "PairExample",
    "SpanExample",
    "TaskDef",
    "all_texts",
    "copa_context",
    "get_task",
    "load_examples",
    "load_split",
]
