"""Which splits a run reads: the one statement of it, used by the job (``load_run_data``) and by the
data pre-flight (``preflight.py``), so the pre-flight checks exactly what the runs will load.

Plain data (no torch, no datasets): the supervisor computes a plan's needs with it. It reads a
RunSpec through its fields and properties (``trains``, ``uses_published_translations`` …) and
never imports the spec module, which stands above the tasks (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .registry import SPAN, TRANSLATED, XCOPA_TASKS, get_task
from .sources import LOCAL, DataSource

# DataNeed.role
TRAIN = "train"  # an intermediate task's or the target's training split
EVAL = "eval"  # English COPA validation, an XCOPA language's evaluation split
FEW_SHOT_POOL = "few-shot-pool"  # XCOPA validation, k examples of which few-shot phases train on
QUESTIONS = "questions"  # the English COPA split XCOPA's cause/effect questions are taken from
# a span-extraction intermediate task's validation split (SQuAD: EM and F1 in the phase's record)
INTERMEDIATE_EVAL = "intermediate-eval"
CURVE = "curve"  # XCOPA validation, the held-out items of the learning curves (runs without a few-shot pool)
# translate-test: what its English translations are scored against (chrF, BLEU; docs/methods.md,
# "MT quality"): English COPA's split of the same idx and, for an MT model, XCOPA's published translations
MT_REFERENCE = "mt-reference"


@dataclass(frozen=True)
class DataNeed:
    task: str
    split: str  # canonical: train, validation, test
    lang: str
    data_dir: str | None  # None: the Hugging Face hub
    role: str
    xcopa_question: str | None = None  # xcopa only: copa | published

    @property
    def key(self) -> tuple:
        return (self.task, self.split, self.lang, self.data_dir, self.xcopa_question)

    def label(self) -> str:
        return f"{self.task} {self.split}" + (f" {self.lang}" if self.task in XCOPA_TASKS else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataNeed:
        return cls(
            str(d["task"]),
            str(d["split"]),
            str(d["lang"]),
            d.get("data_dir"),
            str(d.get("role") or ""),
            d.get("xcopa_question"),
        )


def _canon(split: str) -> str:
    return "validation" if split in ("val", "validation") else split


def _curve_points(spec: Any) -> int:
    measure = getattr(spec, "measure", None)
    return int(getattr(measure, "curve_points", 0) or 0) if getattr(measure, "enabled", True) else 0


def needs_of(spec: Any) -> list[DataNeed]:
    """The splits ``spec`` (a RunSpec) reads, in the order the job loads them."""
    d = spec.data_dir
    mode = getattr(spec, "xcopa_question", "copa")
    out: list[DataNeed] = []
    if not spec.trains:  # in-context learning
        return _icl_needs(spec, d, mode)
    if spec.trains_intermediate:
        out += [DataNeed(task, "train", "en", d, TRAIN) for task in spec.intermediate]
        out += [
            DataNeed(task, "validation", "en", d, INTERMEDIATE_EVAL)
            for task in spec.intermediate
            if get_task(task).head == SPAN
        ]
    out.append(DataNeed(spec.target, "train", "en", d, TRAIN))
    if spec.eval_english:
        out.append(DataNeed(spec.target, "validation", "en", d, EVAL))
    xcopa_splits = []
    published = spec.uses_published_translations
    for lang in spec.langs:
        if published:
            if lang in get_task(TRANSLATED).languages:  # none for Quechua: reported missing
                out.append(DataNeed(TRANSLATED, _canon(spec.eval_split), lang, d, EVAL, mode))
                xcopa_splits.append(_canon(spec.eval_split))
            continue
        out.append(DataNeed("xcopa", _canon(spec.eval_split), lang, d, EVAL, mode))
        xcopa_splits.append(_canon(spec.eval_split))
        if spec.draws_few_shot_pool:
            out.append(DataNeed("xcopa", "validation", lang, d, FEW_SHOT_POOL, mode))
            xcopa_splits.append("validation")
        elif _curve_points(spec) and not spec.translates:
            # (translate-test's classifier is English: its curve is on COPA validation only; a curve
            # on untranslated XCOPA items would measure zero-shot transfer, not the method)
            out.append(DataNeed("xcopa", "validation", lang, d, CURVE, mode))
            xcopa_splits.append("validation")
    if mode == "copa":  # XCOPA validation takes COPA validation's questions, XCOPA test COPA test's
        out += [DataNeed("copa", s, "en", d, QUESTIONS) for s in dict.fromkeys(xcopa_splits)]
    if spec.translates:
        out += mt_reference_needs(spec, d, mode)
    return out


def mt_reference_needs(spec: Any, d: str | None, mode: str) -> list[DataNeed]:
    """translate-test's MT references: XCOPA items are translations of COPA's of the same idx (XCOPA
    validation of COPA validation, test of test), so the English COPA split is every language's
    reference; an MT model's output is also compared with XCOPA's published translations (none for
    Quechua)."""
    split = _canon(spec.eval_split)
    out = [DataNeed("copa", split, "en", d, MT_REFERENCE)]
    if not spec.uses_published_translations:
        languages = get_task(TRANSLATED).languages
        out += [DataNeed(TRANSLATED, split, lang, d, MT_REFERENCE, mode) for lang in spec.langs if lang in languages]
    return out


def _icl_needs(spec: Any, d: str | None, mode: str) -> list[DataNeed]:
    """icl: no training split; the evaluation splits and, for k > 0, the pools the k demonstrations
    are drawn from (COPA train for English, XCOPA validation for each language)."""
    out: list[DataNeed] = []
    k = spec.few_shot_k or 0
    if spec.builds_tokenizer:  # the built-in model's tokenizer is trained on COPA train (a training split)
        out.append(DataNeed(spec.target, "train", "en", d, TRAIN))
    if spec.eval_english:
        out.append(DataNeed(spec.target, "validation", "en", d, EVAL))
        if k:
            out.append(DataNeed(spec.target, "train", "en", d, FEW_SHOT_POOL))
    xcopa_splits = []
    for lang in spec.langs:
        out.append(DataNeed("xcopa", _canon(spec.eval_split), lang, d, EVAL, mode))
        xcopa_splits.append(_canon(spec.eval_split))
        if k:
            out.append(DataNeed("xcopa", "validation", lang, d, FEW_SHOT_POOL, mode))
            xcopa_splits.append("validation")
    if mode == "copa":
        out += [DataNeed("copa", s, "en", d, QUESTIONS) for s in dict.fromkeys(xcopa_splits)]
    return out


def _what_to_do(need: DataNeed) -> str:
    """Why a run cannot do without ``need``'s rows, and what the user can do instead."""
    lang = need.lang
    if need.role == TRAIN:
        return f"nothing to train on; restore the split (or leave {need.task!r} out of the plan)"
    if need.role == EVAL and need.task in XCOPA_TASKS:
        return f"nothing to evaluate {lang} on; restore the split, or leave {lang!r} out of langs"
    if need.role == EVAL:
        return "nothing to evaluate English on; restore the split, or set eval_english = false to skip it"
    if need.role == FEW_SHOT_POOL:
        return f"no examples to draw the {lang} shots from; restore the split"
    if need.role == CURVE:
        return f"no held-out {lang} items for the learning curves; restore the split, or set measure.curve_points = 0"
    if need.role == QUESTIONS:
        return (
            'XCOPA\'s cause/effect questions are taken from it; restore the split, or set xcopa_question = "published"'
        )
    if need.role == INTERMEDIATE_EVAL:
        return f"nothing to score {need.task}'s EM and F1 on; restore the split"
    return "translate-test's MT references are read from it; restore the split"


def split_problem(need: DataNeed, examples: Sequence[Any], source: DataSource | None = None) -> str | None:
    """The one rule for the rows of a split a run reads, kept by the data pre-flight (before any run
    starts) and by the job (``job/data.py``, before any training): every split a run reads has rows
    (``needs_of`` lists only the splits a run uses: the training split of a phase that trains, the
    evaluation splits, the pools, the questions, the references), and a training split is labelled.
    None when ``examples`` (as loaded for ``need``) are usable, else the message: which data set,
    which split and language, which file, what to do."""
    if source is None:
        where = ""
    elif source.source == LOCAL:
        where = f" ({source.path})"
    else:
        where = f" ({source.describe()})"
    head = f"{need.label()}{where}"
    if not examples:
        return f"{head}: the split has no rows: {_what_to_do(need)}"
    if need.role == TRAIN:
        unlabelled = sum(1 for e in examples if e.label < 0)
        if unlabelled:
            return (
                f"{head}: {unlabelled} of its {len(examples)} training rows are unlabelled (label -1); "
                f"a training split needs a label on every row: use a labelled split"
            )
    return None


def plan_needs(specs: Iterable[Any]) -> list[tuple[DataNeed, int]]:
    """Every split a set of runs reads, once, with the number of runs that read it (first-seen order)."""
    seen: dict[tuple, list] = {}
    for spec in specs:
        for need in dict.fromkeys(needs_of(spec)):
            if need.key in seen:
                seen[need.key][1] += 1
            else:
                seen[need.key] = [need, 1]
    return [(need, n) for need, n in seen.values()]
