"""Loading a task split as canonical examples, from local JSONL copies or the Hugging Face hub.

Every row taken is converted (and so validated) as it is read: a bad file fails at load time,
before any training, with the task, file, line and reason in the message. Every load also says
where its rows came from (``LoadedSplit.sources``, see ``sources.py``).

The hub is read through ``datasets.load_dataset`` only. ``$XCOST_HUB_MIRROR`` (tests, air-gapped
machines) points that same call at a local stand-in for the hub: the repository ``org/name`` at
revision ``rev`` is the folder ``$XCOST_HUB_MIRROR/<rev>/<org>/<name>`` (``main`` for the default
branch, ``refs/convert/parquet`` for the Parquet export), laid out as on the hub. The folder is
named like the repository because that is how ``datasets`` recognises a loading script
(``<name>.py``), on the hub as in a folder.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import DataError
from .examples import Example, MCExample, PairExample, SpanExample
from .registry import CLASSIFICATION, REGISTRY, XCOPA_TASKS, TaskDef, canonical_split, check_lang, get_task
from .sources import HUB, HUB_MIRROR, LOCAL, PARQUET_BRANCH, DataSource, LoadedSplit, sha256_file, sha256_tree

HUB_MIRROR_ENV = "XCOST_HUB_MIRROR"
XCOPA_QUESTION_MODES = ("copa", "published")
Log = Callable[[str], None]


def load_examples(
    task: str,
    split: str,
    *,
    data_dir: str | Path | None = None,
    lang: str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    xcopa_question: str = "copa",
) -> list[Example]:
    """The examples of ``task``'s ``split`` (see ``load_split``; this returns its examples only)."""
    return load_split(
        task, split, data_dir=data_dir, lang=lang, limit=limit, seed=seed, xcopa_question=xcopa_question
    ).examples


def load_split(
    task: str,
    split: str,
    *,
    data_dir: str | Path | None = None,
    lang: str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    xcopa_question: str = "copa",
    role: str = "",
    log: Log | None = None,
) -> LoadedSplit:
    """``limit`` (default all) examples of ``task``'s ``split``, and where they came from.

    ``data_dir`` None reads the Hugging Face hub; otherwise the local copies under ``data_dir``
    (layout as in shared/data/SOURCES.md). ``split`` is "train", "validation" (or "val") or "test";
    ``lang`` is required for xcopa. With ``limit`` and a ``seed``, the examples are a random subset
    of ``limit`` rows drawn by the seed (the same seed draws the same rows; rows keep their order);
    without a seed, the first ``limit`` rows. ``xcopa_question`` ("copa", the default, or
    "published") says where an XCOPA item's cause/effect question comes from: English COPA's item
    of the same idx, or the XCOPA file itself (docs/tasks.md explains why). ``log`` hears about a
    fallback to the hub's Parquet export.
    """
    t = get_task(task)
    canon = canonical_split(t, split)
    language = check_lang(t, lang)
    if limit is not None and limit < 0:
        raise DataError(f"limit must be 0 or more, got {limit}")
    if xcopa_question not in XCOPA_QUESTION_MODES:
        raise DataError(f"xcopa_question must be one of {', '.join(XCOPA_QUESTION_MODES)}, got {xcopa_question!r}")
    if t.is_composite:
        return _load_composite(t, canon, data_dir=data_dir, limit=limit, seed=seed, role=role, log=log)
    raw = _read_rows(t, canon, language, data_dir, log)
    indices = subset_indices(len(raw.rows), limit, seed, f"{t.name}:{canon}:{language}")
    subset = "all" if indices is None else ("seeded" if seed is not None else "first")
    chosen = raw.take(indices)
    sources: list[DataSource] = []
    corrected: set = set()
    mode = None
    if t.name in XCOPA_TASKS:  # the published translations carry the same question field
        mode = xcopa_question
        if xcopa_question == "copa":
            questions, qsource = copa_questions(canon, data_dir, log)
            chosen, corrected = _correct_questions(chosen, questions, raw.where, qsource)
            sources.append(qsource)
    examples = _convert(t, canon, language, chosen, raw.where)
    main = DataSource(
        task=t.name,
        split=canon,
        lang=language,
        rows=len(raw.rows),
        used=len(examples),
        subset=subset,
        role=role,
        xcopa_question=mode,
        questions_corrected=len(corrected) if mode else None,
        **raw.source,
    )
    return LoadedSplit(examples, [main, *sources], corrected)


def _load_composite(
    t: TaskDef,
    split: str,
    *,
    data_dir: str | Path | None,
    limit: int | None,
    seed: int | None,
    role: str,
    log: Log | None,
) -> LoadedSplit:
    """A composite task's split (ANLI+): every part's same split read in full and concatenated in
    the registry's order, then ``limit`` examples of the whole drawn as for any split. Each example's
    idx names its part (``mnli:17``), so ids stay unique across the parts. The sources are one
    DataSource per part read, each saying how many of its rows the subset took."""
    parts = t.parts[split]
    loaded = [load_split(part, split, data_dir=data_dir, role=role, log=log) for part in parts]
    pooled: list[tuple[int, Example]] = []
    for n, (part, got) in enumerate(zip(parts, loaded)):
        for ex in got.examples:
            pooled.append((n, replace(ex, idx=f"{part}:{ex.idx}")))
    indices = subset_indices(len(pooled), limit, seed, f"{t.name}:{split}:en")
    chosen = pooled if indices is None else [pooled[i] for i in indices]
    subset = "all" if indices is None else ("seeded" if seed is not None else "first")
    sources = [
        replace(got.source, used=sum(1 for n2, _ in chosen if n2 == n), subset=subset, note=f"part of {t.name}")
        for n, got in enumerate(loaded)
    ]
    return LoadedSplit([ex for _, ex in chosen], sources)


def subset_indices(n: int, limit: int | None, seed: int | None, key: str) -> list[int] | None:
    """Which of ``n`` rows to take: None for all of them; the first ``limit`` without a seed; else a
    seeded random subset of ``limit`` (sorted, so rows keep their order). ``key`` names the split, so
    two splits read with the same seed draw independently."""
    if limit is None or limit >= n:
        return None
    if seed is None:
        return list(range(limit))
    return sorted(random.Random(f"subset:{key}:{seed}").sample(range(n), limit))


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
        elif isinstance(ex, SpanExample):
            texts.extend((ex.question, ex.context))
    return texts


# ---- reading rows -----------------------------------------------------------------------------


class _Rows:
    """A split's raw rows: ``rows`` supports len() and [i]; ``where(n)`` names row n in messages;
    ``source`` holds the DataSource fields of where they came from."""

    def __init__(
        self, rows: Sequence[Any], numbers: Sequence[int] | None, where: Callable[[int], str], source: dict[str, Any]
    ):
        self.rows, self.numbers, self.where, self.source = rows, numbers, where, source

    def take(self, indices: list[int] | None) -> Iterable[tuple[int, Any]]:
        """(row number, row) for the chosen rows (all when ``indices`` is None), lazily: a hub
        split of 400k rows is converted without holding its raw rows in memory."""
        if indices is None:
            return zip(self.numbers, self.rows) if self.numbers is not None else enumerate(self.rows)
        if hasattr(self.rows, "select"):  # a datasets.Dataset: one Arrow take, then iterate
            return zip(indices, self.rows.select(indices))
        return ((self.numbers[i] if self.numbers is not None else i, self.rows[i]) for i in indices)


def _read_rows(t: TaskDef, split: str, lang: str, data_dir: str | Path | None, log: Log | None) -> _Rows:
    if data_dir is None:
        ds, source = _hub_dataset(t, split, lang, log)
        where_text = f"{source['repo']} ({_config_text(t, lang)}, split {source['hub_split']})"
        return _Rows(ds, None, lambda n: f"{where_text} row {n}", source)
    path = _local_path(t, Path(data_dir), split, lang)
    numbered = list(_jsonl_rows(t, path))
    source = {
        "source": LOCAL,
        "repo": t.hub_id,
        "config": t.hub_config(lang),
        "hub_split": t.hub_splits[split],
        "path": str(path),
        "sha256": _file_digest(t, path),
    }
    return _Rows([row for _, row in numbered], [n for n, _ in numbered], lambda n: f"{path} line {n}", source)


def _file_digest(t: TaskDef, path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as exc:
        raise DataError(f"task {t.name!r}: cannot read {path}: {exc}") from None


# ---- conversion -------------------------------------------------------------------------------

# Evaluation splits whose items are paired by ``idx`` (an XCOPA item is the translation of the COPA
# item with its idx; predictions and paired comparisons join on it): a duplicate idx would pair
# wrong items, so it is refused.
PAIRED_BY_IDX = ("copa", "xcopa", "xcopa-translate-test")
PAIRED_SPLITS = ("validation", "test")


def _convert(t: TaskDef, split: str, lang: str, rows: Iterable[tuple[int, Any]], where) -> list[Example]:
    """Converts (position, row) pairs; ``where(n)`` names row n in error messages."""
    labelled = split not in t.unlabelled_splits
    out: list[Example] = []
    seen: dict[int | str, int] = {}
    for pos, (n, row) in enumerate(rows):
        try:
            ex = t.converter(row, lang=lang, pos=pos)
            if t.drop_unlabelled and ex.label == -1:
                continue  # SNLI's rows without a gold label: dropped, counted by the DataSource (rows - used)
            if t.head == CLASSIFICATION and ex.label >= (t.num_labels or 0):
                raise ValueError(f"label {ex.label} is out of range for {t.num_labels} labels")
            if labelled and ex.label == -1:
                raise ValueError(f"the row has no label (label -1 or empty), but the {split!r} split must be labelled")
            if t.name in PAIRED_BY_IDX and split in PAIRED_SPLITS:
                if ex.idx in seen:
                    raise ValueError(
                        f"idx {ex.idx!r} was already used by {where(seen[ex.idx])}; items are paired "
                        f"across languages by idx, so each idx must occur once per split"
                    )
                seen[ex.idx] = n
        except ValueError as exc:
            raise DataError(f"task {t.name!r}: {where(n)}: {exc}") from None
        out.append(ex)
    return out


# ---- XCOPA's questions --------------------------------------------------------------------------

# XCOPA validation is the translation of COPA validation, XCOPA test of COPA test (same idx).
_COPA_SPLIT_OF = {"validation": "validation", "test": "test"}
_QUESTIONS: dict[tuple, tuple[dict[int, str], DataSource]] = {}


def copa_questions(
    split: str, data_dir: str | Path | None, log: Log | None = None
) -> tuple[dict[int, str], DataSource]:
    """English COPA's cause/effect question of every item of the COPA split that XCOPA ``split``
    translates, by idx, and where it came from (read once per process and data location)."""
    copa_split = _COPA_SPLIT_OF[split]
    key = (str(data_dir) if data_dir is not None else None, copa_split, os.environ.get(HUB_MIRROR_ENV))
    if key not in _QUESTIONS:
        t = get_task("copa")
        try:
            raw = _read_rows(t, copa_split, "en", data_dir, log)
        except DataError as exc:
            raise DataError(
                f"XCOPA's cause/effect questions are taken from English COPA {copa_split} "
                f'(xcopa_question = "copa", docs/tasks.md), which could not be read: {exc} '
                f'(xcopa_question = "published" keeps XCOPA\'s own, partly wrong, field)'
            ) from None
        questions: dict[int, str] = {}
        for n, row in raw.take(None):
            idx = row.get("idx") if isinstance(row, dict) else None
            question = row.get("question") if isinstance(row, dict) else None
            if not isinstance(idx, int) or isinstance(idx, bool) or question not in ("cause", "effect"):
                raise DataError(
                    f"task 'copa': {raw.where(n)}: a COPA row needs an integer idx and a question "
                    f"'cause' or 'effect' (XCOPA's questions are taken from it), got idx {idx!r}, "
                    f"question {question!r}"
                )
            questions[idx] = question
        source = DataSource(
            task="copa",
            split=copa_split,
            lang="en",
            rows=len(raw.rows),
            used=len(questions),
            role="questions",
            **raw.source,
        )
        _QUESTIONS[key] = (questions, source)
    return _QUESTIONS[key]


def _correct_questions(rows: Iterable[tuple[int, Any]], questions: dict[int, str], where, qsource: DataSource):
    out, corrected = [], set()
    for n, row in rows:
        if not isinstance(row, dict) or "idx" not in row:
            out.append((n, row))  # the converter reports the malformed row
            continue
        idx = row["idx"]
        if idx not in questions:
            raise DataError(
                f"task 'xcopa': {where(n)}: idx {idx!r} has no item in English COPA "
                f"{qsource.split} ({qsource.describe()}), whose question it should take"
            )
        if row.get("question") != questions[idx]:
            row = {**row, "question": questions[idx]}
            corrected.add(idx)
        out.append((n, row))
    return out, corrected


def clear_caches() -> None:
    """Forgets the COPA questions read so far (tests change files and mirrors under one process)."""
    _QUESTIONS.clear()


# ---- local copies -----------------------------------------------------------------------------


def _local_path(t: TaskDef, data_dir: Path, split: str, lang: str) -> Path:
    if not t.has_offline_copy:
        raise DataError(
            f"task {t.name!r} has no offline copy in the data dir; it is read from the Hugging Face hub "
            f"({t.hub_id}, {_config_text(t, lang)}): run without --data-dir on a machine with internet access"
        )
    if split not in t.local_files:
        raise DataError(
            f"task {t.name!r} has no offline {split!r} split; offline splits: {', '.join(t.local_files)} "
            f"(the hub copy {t.hub_id} has {', '.join(t.splits)})"
        )
    path = t.local_path(data_dir, split, lang)
    if not path.is_file():
        assert t.local_dir is not None  # has_offline_copy, checked above
        layout = ", ".join(str(Path(t.local_dir.format(lang=lang)) / f) for f in t.local_files.values())
        # a folder (or a device) of that name is not a missing file: say what is there
        what = "is a folder, not a file" if path.is_dir() else "is not a file" if path.exists() else "does not exist"
        raise DataError(
            f"task {t.name!r}: the {split!r} file {path} {what}; the data dir {data_dir} should hold "
            f"{layout} (one JSON object per line; see shared/data/SOURCES.md)"
        )
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
                    raise DataError(
                        f"task {t.name!r}: {path} line {n}: not valid JSON ({exc.msg} at column {exc.colno})"
                    ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"task {t.name!r}: cannot read {path}: {exc}") from None


# ---- the hub ----------------------------------------------------------------------------------


def _config_text(t: TaskDef, lang: str) -> str:
    config = t.hub_config(lang)
    return f"config {config!r}" if config else "default config"


def mirror_folder(mirror: str | Path, repo: str, revision: str | None) -> Path:
    """The stand-in for ``repo`` at ``revision`` in a hub mirror (module docstring)."""
    return Path(mirror) / (revision or "main") / repo


def is_script_refusal(exc: BaseException) -> bool:
    """datasets >= 4 refuses a repository that holds a loading script with this RuntimeError."""
    return isinstance(exc, RuntimeError) and "Dataset scripts are no longer supported" in str(exc)


_SHA = re.compile(r"[0-9a-f]{40}")


def _resolved_commit(ds: Any) -> str | None:
    """The hub commit datasets resolved the revision to: a hub data set is cached under
    ``<cache>/<org>___<name>/<config>/<version>/<commit sha>/``, the sha datasets pinned the
    load to before reading any file."""
    for f in getattr(ds, "cache_files", None) or []:
        name = Path(str(f.get("filename", "") if isinstance(f, dict) else "")).parent.name
        if _SHA.fullmatch(name):
            return name
    return None


def _hub_dataset(t: TaskDef, split: str, lang: str, log: Log | None) -> tuple[Any, dict[str, Any]]:
    # Imported here only: the supervisor imports this package and must stay free of datasets/torch.
    import datasets

    config, hub_split = t.hub_config(lang), t.hub_splits[split]
    mirror = os.environ.get(HUB_MIRROR_ENV) or None

    def call(fallback: bool):
        revision = PARQUET_BRANCH if fallback else None
        path = str(mirror_folder(mirror, t.hub_id, revision)) if mirror else t.hub_id
        if not fallback:
            return path, datasets.load_dataset(path, config, split=hub_split)
        # The export holds <config>/<split>/NNNN.parquet and no dataset card, so the files are named.
        parts = hub_split.split("+")
        files = {part: f"{config or 'default'}/{part}/*.parquet" for part in parts}
        if mirror:
            return path, datasets.load_dataset(path, data_files=files, split=hub_split)
        return path, datasets.load_dataset(path, data_files=files, split=hub_split, revision=PARQUET_BRANCH)

    fallback, note = None, None
    try:
        path, ds = call(False)
    except Exception as exc:  # network, auth, missing config: all mean "could not get the data"
        if not is_script_refusal(exc):
            raise _hub_error(t, lang, hub_split, exc, mirror) from exc
        note = (
            f"{t.hub_id} holds only a loading script, which datasets {datasets.__version__} refuses "
            f"({exc}); reading the hub's auto-converted Parquet branch {PARQUET_BRANCH} instead"
        )
        if log is not None:
            log(f"{t.name}: {note}")
        try:
            path, ds = call(True)
        except Exception as exc2:
            raise _hub_error(
                t,
                lang,
                hub_split,
                exc2,
                mirror,
                f"{t.hub_id} holds only a loading script ({exc}), and its Parquet branch "
                f"{PARQUET_BRANCH} could not be read either",
            ) from exc2
        fallback = PARQUET_BRANCH
    source: dict[str, Any] = {
        "repo": t.hub_id,
        "config": config,
        "hub_split": hub_split,
        "revision": fallback,
        "fallback": fallback,
        "note": note,
    }
    if mirror:
        source.update(source=HUB_MIRROR, path=path, sha256=sha256_tree(path))
    else:
        commit = _resolved_commit(ds)
        if commit is None and hasattr(ds, "cache_files"):  # a real Dataset kept in memory: ask the hub
            commit = _ask_commit(t.hub_id, fallback)
        source.update(source=HUB, resolved_revision=commit)
    return ds, source


def _ask_commit(repo: str, revision: str | None) -> str | None:
    """The commit ``revision`` of ``repo`` points to, asked of the hub (when the cache path did not
    say it); None offline or on any error: provenance never fails a load."""
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(repo, revision=revision, timeout=10).sha
    except Exception:  # noqa: BLE001
        return None


def _hub_error(
    t: TaskDef, lang: str, hub_split: str, exc: BaseException, mirror: str | None, what: str | None = None
) -> DataError:
    where = f" (through the hub mirror ${HUB_MIRROR_ENV}={mirror})" if mirror else ""
    reason = f"{what}: " if what else ""
    return DataError(
        f"task {t.name!r}: could not load {t.hub_id} ({_config_text(t, lang)}, split {hub_split}) from the "
        f"Hugging Face hub{where}: {reason}{type(exc).__name__}: {exc}. "
        + (
            "To read local copies instead, pass --data-dir DIR (or set XCOST_DATA_DIR)."
            if t.has_offline_copy
            else f"Task {t.name!r} has no offline copy, so it needs the hub (--data-dir / XCOST_DATA_DIR read local copies "
            f"of {', '.join(n for n, d in REGISTRY.items() if d.has_offline_copy)} only)."
        )
    )
