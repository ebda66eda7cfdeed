"""The task registry: what each task is, where its data lives and how rows become examples.

Plain data only (no torch, transformers or datasets): the supervisor validates specs with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import XCOPA_LANGS
from ..errors import DataError, UnknownTaskError
from ..suggest import did_you_mean
from . import converters as cv
from .converters import Converter

MULTIPLE_CHOICE = "multiple_choice"
CLASSIFICATION = "classification"
SPAN = "span_extraction"  # extractive question answering (SQuAD): start/end logits over the tokens
SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"val": "validation", "dev": "validation"}


@dataclass(frozen=True)
class TaskDef:
    name: str
    head: str  # MULTIPLE_CHOICE, CLASSIFICATION or SPAN
    # Classification: the label count. Multiple choice: None, since choice counts vary (ARC has 3-5)
    # and the head scores each (context, choice) pair with one unit anyway. Span: None.
    num_labels: int | None
    hub_id: str
    hub_configs: Mapping[str, str | None] = field(hash=False)  # language -> hub config name
    hub_splits: Mapping[str, str] = field(hash=False)  # canonical split -> hub split (may use "a+b")
    converter: Converter = field(hash=False)
    local_dir: str | None = None  # folder under the data dir; "{lang}" is filled in; None: no offline copy
    local_files: Mapping[str, str] = field(default_factory=dict, hash=False)  # canonical split -> file
    unlabelled_splits: frozenset[str] = frozenset()  # splits whose rows may carry label -1
    metric: str = "accuracy"
    languages: tuple[str, ...] = ("en",)
    # A composite task: canonical split -> the registered tasks whose same split is read and
    # concatenated, in this order (ANLI+); empty for a task of one data set.
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    # Rows whose label is -1 are dropped from every split, not refused (SNLI's rows without a gold
    # label); the split's DataSource counts them (rows vs used).
    drop_unlabelled: bool = False
    # Span tasks: whether a question may have no answer in its context (SQuAD v2.0).
    with_negative: bool = False

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(s for s in SPLITS if s in self.hub_splits)

    @property
    def has_offline_copy(self) -> bool:
        return self.local_dir is not None

    @property
    def is_composite(self) -> bool:
        return bool(self.parts)

    def hub_config(self, lang: str) -> str | None:
        return self.hub_configs[lang]

    def local_path(self, data_dir: str | Path, split: str, lang: str) -> Path:
        assert self.local_dir is not None and split in self.local_files
        return Path(data_dir) / self.local_dir.format(lang=lang) / self.local_files[split]


def _en(config: str | None) -> dict[str, str | None]:
    return {"en": config}


_STD_SPLITS = {"train": "train", "validation": "validation", "test": "test"}
_ROUNDS = ("r1", "r2", "r3")

_TASKS: tuple[TaskDef, ...] = (
    # ---- the target -------------------------------------------------------------------------
    TaskDef(
        "copa",
        MULTIPLE_CHOICE,
        None,
        "aps/super_glue",
        _en("copa"),
        _STD_SPLITS,
        cv.convert_copa,
        local_dir="copa",
        local_files={"train": "train.jsonl", "validation": "val.jsonl", "test": "test.jsonl"},
        unlabelled_splits=frozenset({"test"}),
    ),  # SuperGLUE withholds test labels
    TaskDef(
        "xcopa",
        MULTIPLE_CHOICE,
        None,
        "cambridgeltl/xcopa",
        {lang: lang for lang in XCOPA_LANGS},
        {"validation": "validation", "test": "test"},
        cv.convert_copa,
        local_dir="xcopa/{lang}",
        local_files={"validation": "val.jsonl", "test": "test.jsonl"},
        languages=XCOPA_LANGS,
    ),
    # XCOPA's test and validation items machine-translated back to English by the dataset authors
    # (Google Translate; the release's data-gmt folder), for translate-test. None for Quechua.
    TaskDef(
        "xcopa-translate-test",
        MULTIPLE_CHOICE,
        None,
        "cambridgeltl/xcopa",
        {lang: f"translation-{lang}" for lang in XCOPA_LANGS if lang != "qu"},
        {"validation": "validation", "test": "test"},
        cv.convert_copa,
        local_dir="xcopa-translate-test-en/{lang}",
        local_files={"validation": "val.jsonl", "test": "test.jsonl"},
        languages=tuple(lang for lang in XCOPA_LANGS if lang != "qu"),
    ),
    # ---- intermediate multiple-choice tasks -------------------------------------------------------
    # allenai/social_i_qa holds only a loading script (datasets >= 4 refuses it); lighteval/siqa is
    # a script-free Parquet copy with the same columns, verified row for row against it (docs/tasks.md).
    TaskDef(
        "siqa",
        MULTIPLE_CHOICE,
        None,
        "lighteval/siqa",
        _en(None),
        {"train": "train", "validation": "validation"},
        cv.convert_siqa,
    ),
    TaskDef(
        "hellaswag",
        MULTIPLE_CHOICE,
        None,
        "Rowan/hellaswag",
        _en(None),
        _STD_SPLITS,
        cv.convert_hellaswag,
        unlabelled_splits=frozenset({"test"}),
    ),
    TaskDef(
        "commonsenseqa",
        MULTIPLE_CHOICE,
        None,
        "tau/commonsense_qa",
        _en(None),
        _STD_SPLITS,
        cv.convert_commonsenseqa,
        unlabelled_splits=frozenset({"test"}),
    ),
    # allenai/cosmos_qa holds only a loading script: the loader reads its Parquet export
    # (refs/convert/parquet) instead, and says so (docs/tasks.md).
    TaskDef(
        "cosmosqa",
        MULTIPLE_CHOICE,
        None,
        "allenai/cosmos_qa",
        _en(None),
        _STD_SPLITS,
        cv.convert_cosmosqa,
        unlabelled_splits=frozenset({"test"}),
    ),
    TaskDef(
        "arc_challenge",
        MULTIPLE_CHOICE,
        None,
        "allenai/ai2_arc",
        _en("ARC-Challenge"),
        _STD_SPLITS,
        cv.convert_arc,
        local_dir="arc_challenge",
        local_files={"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"},
    ),
    # ---- intermediate classification tasks ----------------------------------------------------
    TaskDef(
        "mnli",
        CLASSIFICATION,
        3,
        "nyu-mll/glue",
        _en("mnli"),
        {"train": "train", "validation": "validation_matched", "test": "test_matched"},
        cv.convert_nli3,
        unlabelled_splits=frozenset({"test"}),
    ),
    # All three ANLI rounds concatenated: the rounds are one data set collected in stages, and
    # round 1 alone (17k rows) would make ANLI a much smaller intermediate task than MNLI.
    TaskDef(
        "anli",
        CLASSIFICATION,
        3,
        "facebook/anli",
        _en(None),
        {
            s: "+".join(f"{h}_{r}" for r in _ROUNDS)
            for s, h in (("train", "train"), ("validation", "dev"), ("test", "test"))
        },
        cv.convert_anli,
    ),
    # SNLI, a part of ANLI+ (not an intermediate task of Phang et al. on its own).
    TaskDef(
        "snli",
        CLASSIFICATION,
        3,
        "stanfordnlp/snli",
        _en(None),
        _STD_SPLITS,
        cv.convert_snli,
        drop_unlabelled=True,
    ),
    # ANLI+ (Phang et al. 2020, section 3.1): ANLI r1-r3, MNLI and SNLI training sets concatenated,
    # one 3-way NLI head; validated on ANLI's r1-r3 dev sets (docs/tasks.md).
    TaskDef(
        "anli_plus",
        CLASSIFICATION,
        3,
        "facebook/anli + nyu-mll/glue (mnli) + stanfordnlp/snli",
        _en(None),
        {"train": "train", "validation": "validation"},
        cv.convert_anli,
        parts={"train": ("anli", "mnli", "snli"), "validation": ("anli",)},
    ),
    TaskDef(
        "qqp",
        CLASSIFICATION,
        2,
        "nyu-mll/glue",
        _en("qqp"),
        _STD_SPLITS,
        cv.convert_qqp,
        unlabelled_splits=frozenset({"test"}),
    ),
    TaskDef(
        "sst2",
        CLASSIFICATION,
        2,
        "nyu-mll/glue",
        _en("sst2"),
        _STD_SPLITS,
        cv.convert_sst2,
        unlabelled_splits=frozenset({"test"}),
    ),
    TaskDef(
        "rte",
        CLASSIFICATION,
        2,
        "aps/super_glue",
        _en("rte"),
        _STD_SPLITS,
        cv.convert_rte,
        local_dir="rte",
        local_files={"train": "train.jsonl", "validation": "validation.jsonl"},
        unlabelled_splits=frozenset({"test"}),
    ),
    # ---- intermediate span-extraction tasks ------------------------------------------------------
    # The hub has no test split (the official test sets are hidden); validation is the dev set.
    TaskDef(
        "squad",
        SPAN,
        None,
        "rajpurkar/squad",
        _en(None),
        {"train": "train", "validation": "validation"},
        cv.convert_squad,
        metric="exact_match",
    ),
    TaskDef(
        "squad_v2",
        SPAN,
        None,
        "rajpurkar/squad_v2",
        _en(None),
        {"train": "train", "validation": "validation"},
        cv.convert_squad,
        metric="exact_match",
        with_negative=True,
    ),
)

REGISTRY: dict[str, TaskDef] = {t.name: t for t in _TASKS}
TASK_NAMES: tuple[str, ...] = tuple(REGISTRY)
# Tasks of XCOPA items (one per target language), whose questions come from English COPA.
XCOPA_TASKS = ("xcopa", "xcopa-translate-test")
TRANSLATED = "xcopa-translate-test"  # XCOPA's published English translations (translate-test)
SPAN_TASKS = tuple(t.name for t in _TASKS if t.head == SPAN)
# The tasks a run's target phase may train on (``RunSpec.target``; docs/plans.md lists them, and
# tests/plan/test_plan_docs.py checks it does): an English task with a training and a validation
# split (the target phase trains on the one; eval:en and the collapse check read the other), whose
# head the XCOPA items are then scored with. Not XCOPA's own tasks (no training split), nor the
# span tasks (a span head has no score for a choice).
TARGET_TASKS = tuple(
    t.name for t in _TASKS if t.name not in XCOPA_TASKS and t.head != SPAN and {"train", "validation"} <= set(t.splits)
)

# The names the papers write (Phang et al. 2020, "English intermediate-task training improves
# zero-shot cross-lingual transfer too"; Ponti et al. 2020 for XCOPA): the report's
# table.tex labels its rows with them ("ARC-Challenge→COPA", not "arc_challenge→copa"); every other
# place keeps the task's registry name, which is what a plan file and a query write.
PAPER_NAMES: dict[str, str] = {
    "copa": "COPA",
    "xcopa": "XCOPA",
    "xcopa-translate-test": "XCOPA (translated)",
    "siqa": "SIQA",
    "hellaswag": "HellaSwag",
    "commonsenseqa": "CommonsenseQA",
    "cosmosqa": "CosmosQA",
    "arc_challenge": "ARC-Challenge",
    "mnli": "MNLI",
    "anli": "ANLI",
    "snli": "SNLI",
    "anli_plus": "ANLI+",
    "qqp": "QQP",
    "sst2": "SST-2",
    "rte": "RTE",
    "squad": "SQuAD v1.1",
    "squad_v2": "SQuAD v2.0",
}


def paper_name(task: str) -> str:
    """The name papers give the task (PAPER_NAMES); an unregistered name as it is."""
    return PAPER_NAMES.get(task, task)


def get_task(name: str) -> TaskDef:
    """The task called ``name``; an unknown name raises UnknownTaskError with the closest valid one."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        pass
    raise UnknownTaskError(
        f"unknown task {name!r}{did_you_mean(name, TASK_NAMES)}; valid tasks: {', '.join(TASK_NAMES)}"
    )


def canonical_split(task: TaskDef, split: str) -> str:
    """``split`` as one of the task's canonical split names ("val" is accepted for "validation")."""
    canon = SPLIT_ALIASES.get(split, split)
    if canon not in task.splits:
        raise DataError(
            f"task {task.name!r} has no split {split!r}; its splits are: {', '.join(task.splits)}"
            + (" ('val' also means 'validation')" if "validation" in task.splits else "")
        )
    return canon


def check_lang(task: TaskDef, lang: str | None) -> str:
    """The language to load: required for xcopa, defaulting to English for the English tasks."""
    if lang is None:
        if len(task.languages) == 1:
            return task.languages[0]
        raise DataError(f"task {task.name!r} needs a language; choose one of {', '.join(task.languages)}")
    if lang not in task.languages:
        raise DataError(
            f"task {task.name!r} has no language {lang!r}{did_you_mean(lang, task.languages)}; "
            f"its languages: {', '.join(task.languages)}"
        )
    return lang
