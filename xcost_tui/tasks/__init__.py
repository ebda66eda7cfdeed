"""Tasks: the registry of data sets and loading them as canonical examples.

Importing this package is cheap and torch-free (the supervisor validates specs with it);
``datasets`` is imported only when a split is actually read from the Hugging Face hub.
"""

from .converters import copa_context
from .examples import Example, MCExample, PairExample
from .loading import all_texts, load_examples
from .registry import CLASSIFICATION, MULTIPLE_CHOICE, SPLITS, TASK_NAMES, TaskDef, get_task

__all__ = [
    "CLASSIFICATION", "MULTIPLE_CHOICE", "SPLITS", "TASK_NAMES", "Example", "MCExample", "PairExample",
    "TaskDef", "all_texts", "copa_context", "get_task", "load_examples",
]
