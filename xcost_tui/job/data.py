"""A run's data: every split it reads, loaded and checked before any training, and the few-shot draws.

``load_run_data`` reads what ``tasks.needs.needs_of`` lists (the list the data pre-flight checks);
``few_shot_sample`` draws a language's k shots, nested across k and independent of the training
seed and the method. Torch-free: the estimate's counting worker reads a run's data the same way.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from ..errors import DataError, SpecError
from ..methods import METHOD_TABLE
from ..rundir.events import DataLoaded
from ..spec import RunSpec
from ..tasks import load_split as _load_split
from ..tasks.needs import (
    CURVE,
    EVAL,
    INTERMEDIATE_EVAL,
    MT_REFERENCE,
    QUESTIONS,
    TRAIN,
    DataNeed,
    needs_of,
    split_problem,
)
from ..tasks.registry import XCOPA_TASKS


def _trains_on_shots(spec: RunSpec) -> bool:
    """The run's method trains on its k drawn shots (few-shot:<lang> phases): then they are training
    data; in-context learning draws shots too, but only to prompt with them."""
    m = METHOD_TABLE[spec.method]
    return m.trains and m.draws_shots


@dataclasses.dataclass
class RunData:
    intermediate: dict[str, list]
    target_train: list
    english_eval: list
    target_eval: dict[str, list]  # lang -> examples
    few_shot_pool: dict[str, list]  # lang -> validation examples to draw k from
    sources: list = dataclasses.field(default_factory=list)  # tasks.DataSource of every split read
    corrected: dict = dataclasses.field(default_factory=dict)  # (split, lang) -> idx of corrected XCOPA items
    curve_pool: dict[str, list] = dataclasses.field(default_factory=dict)  # lang -> validation items for curves
    # translate-test's MT references (tasks/needs.py MT_REFERENCE): (task, lang) -> every item of the
    # split (copa, "en"; xcopa-translate-test, <lang>), matched to the translations by idx
    mt_references: dict[tuple[str, str], list] = dataclasses.field(default_factory=dict)
    # span intermediate task -> its validation examples (EM/F1 after its phase, job/spans.py)
    intermediate_eval: dict[str, list] = dataclasses.field(default_factory=dict)

    def all_lists(self):
        yield from self.intermediate.values()
        yield self.target_train
        yield self.english_eval
        yield from self.target_eval.values()
        yield from self.few_shot_pool.values()

    def tokenizer_lists(self, spec: RunSpec, *, shots: bool | None = None):
        """(name, examples) of the training data only: intermediate and target training splits and,
        in a few-shot run when ``shots``, the k examples per language its few-shot phases train on
        (drawn as ``few_shot_sample`` draws them). Never an evaluation split, nor the rest of the
        pool. ``shots`` None is the rule the job, the estimate's count and its probe all follow: the
        shots are left out where the target phase may be shared (the method table's
        ``shares_target``), so that a shared post-target model and the one a run would train itself
        come from one tokenizer."""
        if shots is None:
            entry = METHOD_TABLE.get(spec.method)
            shots = not (entry is not None and entry.shares_target)
        for task, exs in self.intermediate.items():
            yield f"{task}:train", exs
        yield f"{spec.target}:train", self.target_train
        if shots and _trains_on_shots(spec) and spec.few_shot_k:
            for lang, pool in self.few_shot_pool.items():
                picked = few_shot_sample(pool, spec.few_shot_k, spec.shot_seed or 0, lang)
                yield f"xcopa:validation:{lang} ({spec.few_shot_k} few-shot examples)", [pool[j] for j in picked]

    def curve_sets(self, spec: RunSpec, lang: str | None = None) -> dict[str, list]:
        """The held-out items of a learning curve: English COPA validation and, per language, the
        XCOPA validation items not drawn as shots (all of them in a run without shots). ``lang``:
        a few-shot phase's curve, on that language only. Capped by max_eval_examples."""
        out: dict[str, list] = {}
        if lang is None and spec.eval_english:
            out["en"] = list(self.english_eval)
        for code in [lang] if lang else spec.langs:
            pool = self.few_shot_pool.get(code) or self.curve_pool.get(code) or []
            if _trains_on_shots(spec) and spec.few_shot_k and code in self.few_shot_pool:
                drawn = set(few_shot_sample(pool, spec.few_shot_k, spec.shot_seed or 0, code))
                pool = [e for j, e in enumerate(pool) if j not in drawn]
            out[code] = pool[: spec.max_eval_examples] if spec.max_eval_examples else pool
        return out

    def questions_info(self, spec: RunSpec, split: str, lang: str, examples: list) -> dict:
        """The eval/few-shot phase facts of XCOPA's questions: the mode and how many items it corrected."""
        fixed = self.corrected.get((split, lang), set())
        return {
            "xcopa_question": spec.xcopa_question,
            "questions_corrected": sum(1 for e in examples if e.idx in fixed),
        }


def split_request(spec: RunSpec, need: DataNeed) -> tuple[str, str, dict[str, Any]] | None:
    """What ``load_split`` is asked for one of the run's needs: (task, split, keyword arguments);
    None for the COPA questions, which are read with the XCOPA splits that take them. The one
    statement of it: the job loads with it and the estimate counts with it (estimate/counting.py)."""
    d = spec.data_dir
    if need.role == QUESTIONS:
        return None
    if need.role == TRAIN:
        hp = spec.hparams if need.task == spec.target else spec.intermediate_hparams
        return need.task, "train", {"data_dir": d, "limit": hp.max_examples, "seed": spec.seed, "role": TRAIN}
    if need.role == EVAL and need.task not in XCOPA_TASKS:
        return need.task, "validation", {"data_dir": d, "limit": spec.max_eval_examples, "role": EVAL}
    if need.role == INTERMEDIATE_EVAL:
        return need.task, "validation", {"data_dir": d, "limit": spec.max_eval_examples, "role": INTERMEDIATE_EVAL}
    xcopa = {"data_dir": d, "lang": need.lang, "xcopa_question": spec.xcopa_question, "role": need.role}
    if need.role == EVAL:
        return need.task, spec.eval_split, {**xcopa, "limit": spec.max_eval_examples}
    if need.role == CURVE:
        return "xcopa", "validation", xcopa
    if need.role == MT_REFERENCE:  # every item (no limit): matched to the translations by idx
        if need.task in XCOPA_TASKS:
            return need.task, need.split, xcopa
        return need.task, need.split, {"data_dir": d, "role": MT_REFERENCE}
    return need.task, need.split, xcopa  # FEW_SHOT_POOL: XCOPA validation, or COPA train for icl in English


def load_run_data(spec: RunSpec, load_split=None, log=None) -> RunData:
    """Every split the run reads (tasks/needs.py ``needs_of``, the list the data pre-flight checks),
    loaded and checked before any training (``tasks.needs.split_problem``: every split has rows, a
    training split is labelled; the data pre-flight keeps the same rule). Training subsets (``max_examples``) are drawn by the
    run's seed."""
    load_split = load_split or _load_split
    intermediate: dict[str, list] = {}
    target_train: list = []
    english: list = []
    target_eval: dict[str, list] = {}
    pool: dict[str, list] = {}
    curve_pool: dict[str, list] = {}
    references: dict[tuple[str, str], list] = {}
    inter_eval: dict[str, list] = {}
    sources: list = []
    corrected: dict = {}
    seen: set = set()
    for need in needs_of(spec):
        request = split_request(spec, need)
        if request is None:
            continue  # QUESTIONS: read with the XCOPA splits that take their questions from it
        task, split, kwargs = request
        loaded = load_split(task, split, log=log, **kwargs)
        problem = split_problem(need, loaded.examples, loaded.source)
        if problem is not None:  # the rule the data pre-flight keeps too (tasks/needs.py)
            raise DataError(problem)
        if need.role == TRAIN and need.task == spec.target:
            target_train = loaded.examples
        elif need.role == TRAIN:
            intermediate[need.task] = loaded.examples
        elif need.role == EVAL and need.task not in XCOPA_TASKS:
            english = loaded.examples
        elif need.role == EVAL:
            target_eval[need.lang] = loaded.examples
        elif need.role == CURVE:
            curve_pool[need.lang] = loaded.examples
        elif need.role == MT_REFERENCE:
            references[(need.task, need.lang)] = loaded.examples
        elif need.role == INTERMEDIATE_EVAL:
            inter_eval[need.task] = loaded.examples
        else:  # FEW_SHOT_POOL: XCOPA validation; COPA train for icl's English demonstrations
            pool[need.lang] = loaded.examples
            assert spec.few_shot_k is not None  # a few-shot pool is needed only with few_shot_k
            if spec.few_shot_k > len(loaded.examples):
                raise SpecError(
                    f"few_shot_k={spec.few_shot_k} but the {need.task} {need.split} split of {need.lang!r} has only "
                    f"{len(loaded.examples)} examples to draw from; use k <= {len(loaded.examples)}"
                )
            if spec.lr_sweep and _trains_on_shots(spec) and spec.few_shot_k >= len(loaded.examples):
                raise SpecError(
                    f"lr_sweep: few_shot_k={spec.few_shot_k} uses all {len(loaded.examples)} {need.task} "
                    f"{need.split} items of {need.lang!r}, so none is left to choose a learning rate on; use "
                    f"k < {len(loaded.examples)}, or list the k to sweep in lr_sweep_k"
                )
        if need.task in XCOPA_TASKS and need.role != MT_REFERENCE:
            corrected[(loaded.source.split, need.lang)] = set(loaded.corrected)
        for source in loaded.sources:
            key = (source.task, source.split, source.lang, source.role)
            if key not in seen:
                seen.add(key)
                sources.append(source)
    return RunData(
        intermediate, target_train, english, target_eval, pool, sources, corrected, curve_pool, references, inter_eval
    )


def data_loaded_event(source):
    """The ``data_loaded`` event of one tasks.DataSource."""
    fields = {f.name for f in dataclasses.fields(DataLoaded)} - {"t"}
    return DataLoaded(**{k: v for k, v in source.to_dict().items() if k in fields})


def few_shot_order(n: int, shot_seed: int, lang: str) -> list[int]:
    """The draw order of a language's few-shot pool of ``n`` examples for ``shot_seed``: a seeded
    permutation, so the k shots (its first k) of a smaller k are inside those of a larger k."""
    order = list(range(n))
    random.Random(f"few-shot:{shot_seed}:{lang}").shuffle(order)
    return order


def few_shot_sample(pool: list, k: int, shot_seed: int, lang: str) -> list:
    """Positions in ``pool`` of the k shots of ``shot_seed`` (sorted). They depend on the shot seed
    and the language only, never on the training seed or the method, so few-shot runs are
    comparable, and they are nested: k = 4 is inside k = 16 is inside k = 64 for one shot seed."""
    if not 0 <= k <= len(pool):
        raise ValueError(f"cannot draw {k} shots from {len(pool)} examples")
    return sorted(few_shot_order(len(pool), shot_seed, lang)[:k])


def selection_sample(pool: list, k: int, shot_seed: int, lang: str, n: int | None) -> list[int]:
    """Positions in ``pool`` of a learning-rate sweep's selection items (sorted): the draw order
    after the k shots (``few_shot_order``), its first ``n`` (None: all of them), so none is a
    shot, they are fixed by the shot seed and the language, and every trial sees the same ones."""
    rest = few_shot_order(len(pool), shot_seed, lang)[k:]
    return sorted(rest if n is None else rest[:n])
