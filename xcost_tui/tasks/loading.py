"""Loading a task split as canonical examples, from local JSONL copies or the Hugging Face hub.

Every row is converted (and so validated) as it is read: a bad file fails at load time,
before any training, with the task, file, line and reason in the message.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import DataError
from .examples import Example, MCExample, PairExample
from .registry import CLASSIFICATION, REGISTRY, TaskDef, canonical_split, check_lang, get_task


def load_examples(task: str, split: str, *, data_dir: str | Path | None = None, lang: str | None = None,
                  limit: int | None = None) -> list[Example]:
    """The first ``limit`` (default all) examples of ``task``'s ``split``.

    ``data_dir`` None reads the Hugging Face hub; otherwise the local copies under ``data_dir``
    (layout as in shared/data/SOURCES.md). ``split`` is "train", "validation" (or "val") or "test";
    ``lang`` is required for xcopa.
    """
    t = get_task(task)
    canon = canonical_split(t, split)
    language = check_lang(t, lang)
    if limit is not None and limit < 0:
        raise DataError(f"limit must be 0 or more, got {limit}")
    if data_dir is None:
        rows, where = _hub_rows(t, canon, language), f"{t.hub_id} ({_config_text(t, language)}, split {t.hub_splits[canon]})"
        examples = _convert(t, canon, language, islice(rows, limit), lambda n: f"{where} row {n}")
    else:
        path = _local_path(t, Path(data_dir), canon, language)
        examples = _convert(t, canon, language, islice(_jsonl_rows(t, path), limit), lambda n: f"{path} line {n}")
    return examples


def all_texts(examples: Iterable[Example]) -> list[str]:
    """Every text the model will see in ``examples`` (contexts, choices, both sides of pairs)."""
    texts: list[str] = []
    for ex in examples:
        if isinstance(ex, MCExample):
            texts.append(ex.context)
            texts.extend(ex.choices)
        elif isinstance(ex, PairExample):
            texts.append(ex.text_a)
            if ex.text_b is not None:
                texts.append(ex.text_b)
    return texts


# ---- conversion -------------------------------------------------------------------------------

# Evaluation splits whose items are paired by ``idx`` (an XCOPA item is the translation of the COPA
# item with its idx; predictions and paired comparisons join on it): a duplicate idx would pair
# wrong items, so it is refused.
PAIRED_BY_IDX = ("copa", "xcopa")
PAIRED_SPLITS = ("validation", "test")


def _convert(t: TaskDef, split: str, lang: str, rows: Iterable[tuple[int, Any]], where) -> list[Example]:
    """Converts (position, row) pairs; ``where(n)`` names row n in error messages."""
    labelled = split not in t.unlabelled_splits
    out: list[Example] = []
    seen: dict[int | str, int] = {}
    for pos, (n, row) in enumerate(rows):
        try:
            ex = t.converter(row, lang=lang, pos=pos)
            if t.head == CLASSIFICATION and ex.label >= (t.num_labels or 0):
                raise ValueError(f"label {ex.label} is out of range for {t.num_labels} labels")
            if labelled and ex.label == -1:
                raise ValueError(f"the row has no label (label -1 or empty), but the {split!r} split must be labelled")
            if t.name in PAIRED_BY_IDX and split in PAIRED_SPLITS:
                if ex.idx in seen:
                    raise ValueError(f"idx {ex.idx!r} was already used by {where(seen[ex.idx])}; items are paired "
                                     f"across languages by idx, so each idx must occur once per split")
                seen[ex.idx] = n
        except ValueError as exc:
            raise DataError(f"task {t.name!r}: {where(n)}: {exc}") from None
        out.append(ex)
    return out


# ---- local copies -----------------------------------------------------------------------------

def _local_path(t: TaskDef, data_dir: Path, split: str, lang: str) -> Path:
    if not t.has_offline_copy:
        raise DataError(f"task {t.name!r} has no offline copy in the data dir; it is read from the Hugging Face hub "
                        f"({t.hub_id}, {_config_text(t, lang)}): run without --data-dir on a machine with internet access")
    if split not in t.local_files:
        raise DataError(f"task {t.name!r} has no offline {split!r} split; offline splits: {', '.join(t.local_files)} "
                        f"(the hub copy {t.hub_id} has {', '.join(t.splits)})")
    path = t.local_path(data_dir, split, lang)
    if not path.is_file():
        layout = ", ".join(str(Path(t.local_dir.format(lang=lang)) / f) for f in t.local_files.values())
        raise DataError(f"task {t.name!r}: the {split!r} file {path} does not exist; the data dir {data_dir} should hold "
                        f"{layout} (one JSON object per line; see shared/data/SOURCES.md)")
    return path


def _jsonl_rows(t: TaskDef, path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed row) for each non-blank line."""
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"task {t.name!r}: {path} line {n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"task {t.name!r}: cannot read {path}: {exc}") from None


# ---- the hub ----------------------------------------------------------------------------------

def _config_text(t: TaskDef, lang: str) -> str:
    config = t.hub_config(lang)
    return f"config {config!r}" if config else "default config"


def _hub_rows(t: TaskDef, split: str, lang: str) -> Iterator[tuple[int, Any]]:
    # Imported here only: the supervisor imports this package and must stay free of datasets/torch.
    import datasets

    config, hub_split = t.hub_config(lang), t.hub_splits[split]
    try:
        ds = datasets.load_dataset(t.hub_id, config, split=hub_split)
    except Exception as exc:  # network, auth, missing config: all mean "could not get the data"
        raise DataError(
            f"task {t.name!r}: could not load {t.hub_id} ({_config_text(t, lang)}, split {hub_split}) from the "
            f"Hugging Face hub: {type(exc).__name__}: {exc}. "
            + ("To read local copies instead, pass --data-dir DIR (or set XCOST_DATA_DIR)."
               if t.has_offline_copy else
               f"Task {t.name!r} has no offline copy, so it needs the hub (--data-dir / XCOST_DATA_DIR read local copies "
               f"of {', '.join(n for n, d in REGISTRY.items() if d.has_offline_copy)} only).")
        ) from exc
    for n, row in enumerate(ds):
        yield n, row
