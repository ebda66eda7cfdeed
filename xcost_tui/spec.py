"""RunSpec: everything one run needs, validated before any training starts.

A spec is plain data (JSON in ``RUN_DIR/spec.json``). ``RunSpec.from_dict`` checks
every field and raises ``SpecError`` naming the field, what is wrong and the closest
valid name for a typo. No torch here: the supervisor validates specs too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, cast, get_args, get_origin

from . import XCOPA_LANGS
from .configuration import EXTERNAL, LATER_DEFAULTS, configuration_id, identity_of
from .errors import SpecError
from .methods import METHOD_TABLE, METHODS, SHOT_METHODS, Method
from .rundir.kinds import PhaseKind
from .suggest import did_you_mean
from .tasks import SPAN, XCOPA_QUESTION_MODES, get_task
from .tasks.prompts import ICL_PROMPTS, LM_EVAL
from .tasks.registry import TARGET_TASKS, XCOPA_TASKS

INTERMEDIATE_MODES = ("sequential", "mixed")
TINY_MODEL = "tiny-xlmr"
TINY_CAUSAL_LM = "tiny-gpt2"  # built in for icl: a random GPT-2 with a tokenizer trained in-process (docs/methods.md)
TINY_MT = (
    "tiny-marian"  # built in for translate-test: a random Marian MT model (garbage translations: a pipeline check)
)
PUBLISHED = "published"  # translate-test: the machine translations that ship with XCOPA
# The built-in English-only stand-in (tests, CPU demos): tiny-xlmr's architecture and builder, its
# tokenizer trained on English training text only; like FacebookAI/roberta-large, translate-test only.
TINY_ENGLISH_MODEL = "tiny-roberta-en"
TINY_ENCODERS = (TINY_MODEL, TINY_ENGLISH_MODEL)  # the built-in encoders (random weights, built in-process)
BUILT_IN_MODELS = (*TINY_ENCODERS, TINY_CAUSAL_LM)  # the models whose shape tiny_model_dims sets
# Encoders pre-trained on English text only (the RoBERTa model cards: BookCorpus, English Wikipedia,
# CC-News, OpenWebText, Stories): they cannot read the XCOPA languages, so only translate-test, which
# classifies English translations, may use them (RunSpec.validate). Ponti et al. (2020) report
# translate-test with RoBERTa-large (docs/methods.md).
ENGLISH_ONLY_MODELS = frozenset(
    {
        "FacebookAI/roberta-large",
        "roberta-large",
        "FacebookAI/roberta-base",
        "roberta-base",
        TINY_ENGLISH_MODEL,
    }
)
MODEL_DTYPES = ("auto", "fp32", "bf16", "fp16")  # RunSpec.model_dtype: the causal LM's or MT model's weights
DEVICE_MAPS = ("auto",)  # RunSpec.device_map: accelerate spreads a large model over the GPUs (and CPU)
DEVICE_WORDS = ("auto", "cpu", "cuda")
_DEVICE_RE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")
SOURCES = (None, EXTERNAL)  # RunSpec.source: the tool's own job, or a user's script (configuration.py)
SEED_MAX = 2**32 - 1  # numpy's seed range: a larger seed would fail only inside the job


def english_only(model: str) -> bool:
    """The model reads English only (ENGLISH_ONLY_MODELS): only translate-test may use it."""
    return model in ENGLISH_ONLY_MODELS


# ---- ranges of numeric fields ------------------------------------------------------------------
# Each numeric field declares the values it accepts once, next to the field, as dataclass field
# metadata; one generic check (check_field) reads it at conversion time (so the message names the
# exact key path) and again in RunSpec.validate (specs built in Python). NaN and +-inf are refused
# for every float field whatever its range: JSON cannot carry them, so the job would only see None.

RANGE = "range"  # the metadata key
KEYS = "keys"  # the metadata key of a table field's allowed keys (tiny_model_dims)
# The dimensions of the built-in models a plan may set (job/model.py TINY_DIMS, job/causal.py
# TINY_GPT2_DIMS; tests/spec/test_spec.py checks they agree). Any other key would be ignored by the
# model builder while changing the run id: a typo would train the defaults under a new run.
TINY_MODEL_DIMS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
)


@dataclass(frozen=True)
class Range:
    """The values a number may take: ``low`` (open: ``value > low``, else ``>=``) and ``high`` (``<=``)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low}, {self.high}]"
        if self.low is not None:
            return f"> {self.low}" if self.low_open else f"at least {self.low}"
        return f"at most {self.high}"


def above(low: float) -> Range:
    return Range(low=low, low_open=True)


def at_least(low: float) -> Range:
    return Range(low=low)


def within(low: float, high: float) -> Range:
    return Range(low=low, high=high)


def ranged(default: Any, accepts: Range) -> Any:
    """A dataclass field with a default and the range its values must lie in."""
    return field(default=default, metadata={RANGE: accepts})


def field_range(owner: type, name: str) -> Range | None:
    """The range declared for ``owner.name``; a subclass that only changes a default (FewShotHParams)
    keeps its base class's range, so each range is written once."""
    for klass in owner.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and RANGE in f.metadata:
            return f.metadata[RANGE]
    return None


def ranged_fields(owner: type, prefix: str = "") -> dict[str, Range]:
    """Every ranged field reachable from ``owner``, by dotted key path (docs and tests list them)."""
    out: dict[str, Range] = {}
    for f in dataclasses.fields(owner):
        kind = _resolve(f.type)
        if dataclasses.is_dataclass(kind):
            # an annotation: a dataclass type, never an instance
            out.update(ranged_fields(cast("type[Any]", kind), f"{prefix}{f.name}."))
        elif (r := field_range(owner, f.name)) is not None:
            out[f"{prefix}{f.name}"] = r
    return out


# Ranges that depend on the method: k = 0 (zero-shot prompting) is a setting of in-context learning
# only; a few-shot fine-tune needs at least one example. The field's own range is the general one.
METHOD_RANGES: dict[tuple[str, str], Range] = {
    (n, "few_shot_k"): at_least(0) for n, m in METHOD_TABLE.items() if m.zero_shots
}


def method_range(owner: type, name: str, method: Any) -> Range | None:
    """The range of RunSpec field ``name`` under ``method``: its METHOD_RANGES entry, else the field's."""
    if isinstance(method, str) and (method, name) in METHOD_RANGES and owner.__name__ == "RunSpec":
        return METHOD_RANGES[(method, name)]
    return field_range(owner, name)


def check_number(value: Any, accepts: Range | None, where: str, name: str | None = None) -> None:
    """Raises SpecError when a (converted) number is not finite or outside its range; other values pass.

    ``name`` is said in the message when ``where`` does not end with it (a plan's ``shots[1]``
    sets ``few_shot_k``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    what = f"{name} " if name else ""
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where}: {what}must be a finite number, got {value}; nan and inf are never valid settings")
    if accepts is not None and value not in accepts:
        raise SpecError(f"{where}: {what}must be {accepts}, got {value!r}")


def check_table_key(owner: type, name: str, key: str, where: str) -> None:
    """A key of table field ``owner.name`` is one it declares (``KEYS`` metadata); ``where`` is the
    key's own path (``plan.toml: experiment[0].tiny_model_dims.hiden_size``)."""
    f = getattr(owner, "__dataclass_fields__", {}).get(name)
    allowed = f.metadata.get(KEYS) if f is not None else None
    if allowed is not None and key not in allowed:
        raise SpecError(f"{where}: unknown key {key!r}{did_you_mean(key, allowed)}; {name} takes {', '.join(allowed)}")


def check_field(owner: type, name: str, value: Any, where: str, method: Any = None) -> None:
    """Checks one converted field value of ``owner`` against its declared range (a table field such
    as tiny_model_dims: each of its keys and values); ``method`` selects a METHOD_RANGES entry."""
    accepts = method_range(owner, name, method)
    if isinstance(value, dict):
        for key, item in value.items():
            check_table_key(owner, name, key, f"{where}.{key}")
            check_number(item, accepts, f"{where}.{key}")
    else:
        check_number(value, accepts, where)


def check_ranges(obj: Any, where: str) -> None:
    """check_field over every field of a dataclass instance, nested ones included."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{where}.{f.name}"
        if dataclasses.is_dataclass(value):
            check_ranges(value, path)
        else:
            check_field(type(obj), f.name, value, path, getattr(obj, "method", None))


def check_device(value: Any, where: str) -> None:
    """``auto | cpu | cuda | cuda:N``; checked here, not in the job, where a typo would read as "no GPU"."""
    if isinstance(value, str) and _DEVICE_RE.fullmatch(value):
        return
    raise SpecError(
        f"{where}: {value!r} is not a device{did_you_mean(value, DEVICE_WORDS)}; "
        f"write auto, cpu, cuda or cuda:N (N a GPU index, e.g. cuda:0)"
    )


# ---- the checks of one field, shared by RunSpec.validate and the plan reader (plan.py) ----------
# One message per rule: a plan's key path (``experiment[0].langs[2]``) or a run's ``where`` goes in front.


def check_method(value: Any, where: str) -> Method:
    """A method of the method table (methods.py); its entry."""
    entry = METHOD_TABLE.get(value) if isinstance(value, str) else None
    if entry is None:
        raise SpecError(
            f"{where}: method {value!r} is unknown{did_you_mean(value, METHODS)}; choose one of {', '.join(METHODS)}"
        )
    return entry


def check_model(value: Any, where: str) -> None:
    if not value:
        raise SpecError(f"{where}: model is empty; give a Hugging Face model id, a local path or {TINY_MODEL!r}")


def check_lang(lang: Any, where: str) -> None:
    if lang not in XCOPA_LANGS:
        raise SpecError(
            f"{where}: language {lang!r} is not an XCOPA language{did_you_mean(lang, XCOPA_LANGS)}; "
            f"choose from {', '.join(XCOPA_LANGS)}"
        )


def check_icl_prompt(value: Any, where: str) -> None:
    """``icl_prompt`` is one of ICL_PROMPTS (the spec's and the plan's check)."""
    if value not in ICL_PROMPTS:
        raise SpecError(
            f"{where}: icl_prompt must be one of {', '.join(repr(p) for p in ICL_PROMPTS)}, got {value!r}"
            f'{did_you_mean(str(value), ICL_PROMPTS)} ("lm-eval": lm-evaluation-harness\'s prompt, the '
            f'premise without its last character; "period-only": without a final period only; '
            f'docs/methods.md, "Prompt variants")'
        )


def check_task_name(task: Any, where: str) -> None:
    """A task of the registry, named in a plan's key ``where`` (the registry's message names the closest)."""
    try:
        get_task(task)
    except SpecError as exc:  # UnknownTaskError stays one
        raise type(exc)(f"{where}: {exc}") from None


def check_target(task: Any, where: str) -> None:
    """A task a target phase can train on (tasks/registry.py ``TARGET_TASKS``): an unknown name
    is the registry's message, a known task that cannot be a target says why and which can."""
    check_task_name(task, where)
    if task not in TARGET_TASKS:
        why = (
            "it has no English training split"
            if task in XCOPA_TASKS
            else "a span head has no score for XCOPA's choices"
            if get_task(task).head == SPAN
            else "it lacks a training or a validation split"
        )
        raise SpecError(
            f"{where}: task {task!r} cannot be the target ({why}); a target is one of "
            f'{", ".join(TARGET_TASKS)} (docs/plans.md, "Target tasks")'
        )


# ---- the phase plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedPhase:
    """One phase a run will record, in order: its name (``eval:it``), kind, the tasks whose data it
    uses and the language it concerns (None for the English training phases and the bench)."""

    name: str
    kind: PhaseKind
    tasks: tuple[str, ...]
    lang: str | None


# ---- the settings ------------------------------------------------------------------------------


@dataclass
class HParams:
    """Optimisation settings of one training phase.

    ``batch_size`` is the *effective* batch: the examples of one optimiser step. How many of them
    go through one forward/backward pass is ``micro_batch_size``, a throughput choice (None: the
    job picks it: the largest that fits on a GPU, 8 on a CPU); gradient accumulation over the
    micro-batches makes up the effective batch exactly, so the optimisation is the same whatever
    the micro-batch (docs/recipes.md, "Effective batch and micro-batch").

    ``recipe`` names a published recipe (``RECIPES``; docs/recipes.md cites each) whose values
    fill every field the table does not set itself. Without one, these defaults are xcost-tui's
    own (no published source): lr 3e-5, effective batch 32, 5 epochs, max length 128, 10% warm-up,
    weight decay 0.01.
    """

    recipe: str | None = None  # a name in RECIPES; the spec records the resolved values too
    learning_rate: float = ranged(3e-5, above(0))
    batch_size: int = ranged(32, at_least(1))  # effective batch: examples per optimiser step
    micro_batch_size: int | None = ranged(None, at_least(1))  # examples per forward/backward; None: automatic
    # Only for old specs and the --grad-accum flag: 1 means no accumulation (micro = batch); another
    # value needs micro_batch_size with ceil(batch_size / micro_batch_size) == grad_accum.
    grad_accum: int | None = ranged(None, at_least(1))
    epochs: float = ranged(5.0, above(0))
    max_steps: int | None = ranged(None, at_least(1))  # optimiser steps; overrides epochs and min_steps when set
    min_steps: int | None = ranged(None, at_least(1))  # at least this many optimiser steps, however few the examples
    warmup_ratio: float = ranged(0.1, within(0, 1))
    weight_decay: float = ranged(0.01, at_least(0))
    max_seq_len: int = ranged(128, within(8, 8192))
    max_grad_norm: float = ranged(1.0, above(0))  # a negative norm would flip the gradient's sign
    max_examples: int | None = ranged(
        None, at_least(1)
    )  # train on a random subset of N examples, drawn by the seed (quick runs)


@dataclass
class FewShotHParams(HParams):
    """Few-shot adaptation on k target-language examples.

    k = 4 at batch 4 is one optimiser step per epoch, so 10 epochs alone would be 10 small steps
    that barely move the model: ``min_steps`` = 50 gives every k at least 50 updates (the reason and
    the sources are in docs/recipes.md, "Few-shot"). Only defaults change here; the ranges are
    HParams' (field_range looks them up there)."""

    learning_rate: float = 1e-5
    batch_size: int = 4
    epochs: float = 10.0
    min_steps: int | None = 50
    warmup_ratio: float = 0.0


HPARAM_SECTIONS = ("hparams", "intermediate_hparams", "few_shot_hparams")


# ---- recipes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """Named hyper-parameters from a published source (docs/recipes.md cites file and line)."""

    name: str
    summary: str
    source: str
    values: dict[str, Any]
    large: dict[str, Any] = field(default_factory=dict)  # replaces values for a model whose name says "large"

    def resolve(self, model: str | None) -> dict[str, Any]:
        """The values for ``model`` (the recipe's name is one of them)."""
        out = {"recipe": self.name, **self.values}
        if model and "large" in model.lower().rstrip("/").split("/")[-1]:
            out.update(self.large)
        return out


JIANT_SIMPLE = "jiant-simple"
# jiant's defaults (docs/recipes.md, "jiant-simple" cites file and line for each).
_JIANT_SIMPLE_VALUES: dict[str, Any] = {
    "learning_rate": 1e-5,
    "batch_size": 32,
    "epochs": 3.0,
    "max_seq_len": 256,
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "max_grad_norm": 1.0,
}
# Names kept for earlier plans: name -> the recipe it is now called (plan check says so).
RECIPE_RENAMED: dict[str, str] = {"phang2020": JIANT_SIMPLE}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "xtreme-xcopa",
            "XTREME's SIQA -> COPA script for XCOPA: lr 2e-5 (base) / 3e-5 (large), 5 epochs, max length 128, "
            "effective batch 32, no warm-up, no weight decay, linear decay",
            "google-research/xtreme scripts/train_xcopa.sh (HF Trainer defaults for the rest)",
            {
                "learning_rate": 2e-5,
                "batch_size": 32,
                "epochs": 5.0,
                "max_seq_len": 128,
                "warmup_ratio": 0.0,
                "weight_decay": 0.0,
                "max_grad_norm": 1.0,
            },
            large={"learning_rate": 3e-5},
        ),
        Recipe(
            JIANT_SIMPLE,
            "jiant's simple-API defaults, the runner of Phang et al. (2020)'s X-STILTs guide: lr 1e-5, 3 epochs, "
            "max length 256, batch 32, 10% warm-up, weight decay 0.01, linear decay (not values confirmed "
            "from the paper: docs/recipes.md)",
            "nyu-mll/jiant jiant/proj/simple/runscript.py, jiant/proj/main/scripts/configurator.py, "
            "jiant/shared/model_setup.py",
            _JIANT_SIMPLE_VALUES,
        ),
        # The recipe's first name, kept so that earlier plans, spec.json files and stores resolve to the
        # same values and run ids. It named a paper whose values it was never checked against.
        Recipe(
            "phang2020",
            f"the old name of {JIANT_SIMPLE} (the same values; not values confirmed from Phang et al. 2020)",
            "as jiant-simple",
            _JIANT_SIMPLE_VALUES,
        ),
        Recipe(
            "xcost-few-shot",
            "xcost-tui's few-shot settings: lr 1e-5, batch 4, 10 epochs but at least 50 optimiser steps, no warm-up",
            "xcost-tui (docs/recipes.md, Few-shot: why a minimum number of steps)",
            {
                "learning_rate": 1e-5,
                "batch_size": 4,
                "epochs": 10.0,
                "min_steps": 50,
                "warmup_ratio": 0.0,
                "weight_decay": 0.01,
                "max_grad_norm": 1.0,
            },
        ),
    )
}


def recipe_values(name: Any, model: str | None, where: str) -> dict[str, Any]:
    """The values recipe ``name`` gives a phase of ``model``; a SpecError naming ``where`` for an unknown name."""
    if not isinstance(name, str) or name not in RECIPES:
        raise SpecError(
            f"{where}: unknown recipe {name!r}{did_you_mean(str(name), RECIPES)}; "
            f"recipes: {', '.join(RECIPES)} (docs/recipes.md)"
        )
    return RECIPES[name].resolve(model)


def apply_recipes(data: dict[str, Any], where: str) -> dict[str, Any]:
    """``data`` (a spec's table) with each hyper-parameter table's recipe filled in under the keys
    the table sets itself: given keys win, the recipe fills the rest, the section's defaults the
    remainder. A table that already holds every value (a spec.json) resolves to itself."""
    out = dict(data)
    model = data.get("model") if isinstance(data.get("model"), str) else None
    for section in HPARAM_SECTIONS:
        table = out.get(section)
        if isinstance(table, dict) and table.get("recipe") is not None:
            out[section] = {**recipe_values(table["recipe"], model, f"{where}.{section}.recipe"), **table}
    return out


def normalise_batching(hp: HParams, where: str) -> None:
    """Checks the batch settings and records them one way: ``grad_accum`` (an old key) becomes the
    micro-batch it implies, so ``batch_size = 8, grad_accum = 1`` and ``batch_size = 8,
    micro_batch_size = 8`` are the same run."""
    if hp.grad_accum is None:
        return
    if hp.micro_batch_size is None:
        if hp.grad_accum != 1:
            raise SpecError(
                f"{where}.grad_accum: batch_size is the effective batch (examples per optimiser step) and "
                f"micro_batch_size the examples per forward pass; the accumulation steps follow from them. "
                f"For the old batch_size = B, grad_accum = {hp.grad_accum} write batch_size = B x {hp.grad_accum}, "
                f"micro_batch_size = B (or leave micro_batch_size out: the job picks it)"
            )
        hp.micro_batch_size = hp.batch_size
    elif math.ceil(hp.batch_size / hp.micro_batch_size) != hp.grad_accum:
        raise SpecError(
            f"{where}.grad_accum: {hp.grad_accum} does not match batch_size {hp.batch_size} in micro-batches "
            f"of {hp.micro_batch_size} ({math.ceil(hp.batch_size / hp.micro_batch_size)} per step); "
            f"drop grad_accum, it follows from the two"
        )
    hp.grad_accum = None


# ---- attempts of the target phase ---------------------------------------------------------------


def lr_text(lr: float) -> str:
    """A learning rate as a phase name writes it: 3e-05."""
    return f"{lr:g}"


def trial_phase_name(lang: str, lr: float) -> str:
    """The phase of one learning-rate trial of a language's few-shot fine-tune: few-shot:it@lr=3e-05."""
    return f"{PhaseKind.FEW_SHOT.value}:{lang}@lr={lr_text(lr)}"


@dataclass
class MeasureOpts:
    enabled: bool = True  # False turns off FLOP sampling, progress events and memory probes (overhead baseline)
    # FlopCounterMode's cross-check of the analytic FLOPs: one untimed counted pass per distinct shape
    # before a phase's meter starts (job/warmup.py); 0: no counting. (The number is kept for old plans:
    # any value above 0 turns the check on.)
    flop_sample_steps: int = ranged(3, at_least(0))
    progress_every_s: float = ranged(1.0, at_least(0))  # 0: a progress event every optimiser step
    inference_bench_examples: int = ranged(50, at_least(1))  # batch-size-1 latency samples after warm-up
    inference_warmup: int = ranged(5, at_least(0))
    # Learning-curve points per training phase (target, few-shot): held-out accuracy against the
    # cumulative training cost (docs/statistics.md, "Cost to reach an accuracy"); 0: none.
    curve_points: int = ranged(5, within(0, 100))
    # An untimed pass at each new shape before a phase's meter starts (job/warmup.py): one-time
    # costs (kernel loading, library handles, allocator growth) land in the run's warmup_s, not in
    # whichever phase runs first. false: the behaviour before issue 17, for comparison.
    warmup: bool = True


@dataclass
class RunSpec:
    method: str
    model: str
    seed: int = ranged(0, within(0, SEED_MAX))
    intermediate: list[str] = field(default_factory=list)
    intermediate_mode: str = "sequential"
    target: str = "copa"
    # few-shot: the labelled target-language examples fine-tuned on; icl: the demonstrations in each
    # prompt (0 allowed: METHOD_RANGES). The grid key ``shots`` sets it for both.
    few_shot_k: int | None = ranged(None, at_least(1))
    # The draw of the k shots has its own seed, apart from the training seed: shot_seeds = [0, 1, 2]
    # tells the variance of the shot choice from that of training. Few-shot runs default to 0.
    shot_seed: int | None = ranged(None, within(0, SEED_MAX))
    langs: list[str] = field(default_factory=lambda: list(XCOPA_LANGS))
    eval_split: str = "test"
    eval_english: bool = True  # English COPA validation: the source-language reference
    # Where an XCOPA item's cause/effect question comes from: "copa", English COPA's item of the same
    # idx (the XCOPA release's own field is wrong for th, tr, sw, id and it: docs/tasks.md), or
    # "published", the XCOPA file's field as released. Applies to evaluation and few-shot examples.
    xcopa_question: str = "copa"
    # A target phase whose English validation predictions are >= 90% one choice, or whose training
    # loss did not fall, is "collapsed" (xcost_tui/collapse.py); this many times it is trained again
    # from a derived seed (target:copa#2, ...), every attempt recorded with its cost.
    collapse_retries: int = ranged(0, within(0, 10))
    max_eval_examples: int | None = ranged(None, at_least(1))  # per language, for quick runs
    eval_batch_size: int = ranged(64, at_least(1))
    data_dir: str | None = None  # None: the Hugging Face hub
    hparams: HParams = field(default_factory=HParams)
    intermediate_hparams: HParams = field(default_factory=HParams)
    few_shot_hparams: FewShotHParams = field(default_factory=FewShotHParams)
    measure: MeasureOpts = field(default_factory=MeasureOpts)
    save_encoder: bool = False  # save the encoder after the intermediate phase(s) for reuse
    init_from: str | None = (
        None  # a saved checkpoint dir (RUN_DIR/checkpoints/intermediate) replacing the intermediate phase(s)
    )
    # The same for the target phase (issue 18): save the model after the target phase, its English
    # validation and collapse retries (RUN_DIR/checkpoints/target), or start from such a checkpoint,
    # recording those phases as reused. Set by the runner (runner/shared.py), like the two above.
    save_target: bool = False
    init_target_from: str | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # overrides for the built-in models' config (tiny-xlmr, tiny-roberta-en, tiny-gpt2): the keys of
    # TINY_MODEL_DIMS, every value a count, so at least 1
    tiny_model_dims: dict[str, int] = field(default_factory=dict, metadata={RANGE: at_least(1), KEYS: TINY_MODEL_DIMS})
    # ---- icl and translate-test (docs/methods.md) ----------------------------------------------
    # translate-test: where the English test items come from: "published" (XCOPA's own machine
    # translations; none for Quechua) or a seq2seq MT model run here (a hub id or path; "{lang}" in
    # it is filled with the source language, e.g. Helsinki-NLP/opus-mt-{lang}-en; or "tiny-marian").
    translations: str | None = None
    # The weights of the causal LM (icl) or MT model: auto is bf16 on a GPU that has it (else fp16),
    # fp32 on a CPU. A model that does not fit the device fails before the run (docs/methods.md).
    model_dtype: str = "auto"
    device_map: str | None = None  # "auto": accelerate spreads a model too large for one GPU (placement only)
    mt_max_new_tokens: int = ranged(128, within(1, 1024))  # per translated text
    mt_beams: int = ranged(1, within(1, 16))  # 1: greedy decoding
    # icl: how a prompt's premise ends (tasks/prompts.py; docs/methods.md, "Prompt variants"):
    # "lm-eval", the harness's premise[:-1] (comparable with its numbers; cuts a real character from
    # Thai and Tamil premises, which have no final period), or "period-only" (a final period only).
    icl_prompt: str = LM_EVAL
    # ---- the few-shot protocol (docs/methods.md, "Few-shot protocol") --------------------------
    # few-shot: learning rates tried per language, each a trial (few-shot:<lang>@lr=<lr>, kind
    # few-shot-trial) fine-tuned from the same post-target model on the same k shots and scored on
    # held-out validation items; the best trial's model is evaluated. Empty: no sweep (the recipe's
    # learning rate, one few-shot:<lang> phase). Every trial's cost is part of the run's pipeline.
    lr_sweep: list[float] = field(default_factory=list)  # each > 0 (_validate_few_shot_protocol)
    # The k the sweep applies to (a plan's shots = [4, 16] with lr_sweep_k = [16] sweeps at k = 16
    # only); empty: every k. A plan-level selector: from_dict clears lr_sweep for a k not listed and
    # then clears lr_sweep_k itself, so a spec records only the sweep it runs.
    lr_sweep_k: list[int] = field(default_factory=list)  # each at least 1
    # How many of a language's validation items not drawn as shots score each trial (the same
    # seeded subset for every trial); None: all of them. They are annotated examples too.
    lr_sweep_items: int | None = ranged(None, at_least(1))
    # Person-hours to annotate one labelled target-language example (few-shot and icl; from_dict
    # drops it for other methods, so a plan's [defaults] may set it for every experiment); None: the
    # annotation cost is outside every figure (the report says so). When set, a run's annotation
    # cost is its labelled target-language examples (k per language, plus the sweep's selection
    # items) times this; it is its own cost column, never added to device-hours.
    annotation_hours_per_example: float | None = ranged(None, at_least(0))
    name: str | None = None  # a label from the plan, not part of the run id
    # Who ran and measured the run: None, xcost-tui's own job; "external", a user's own training
    # script measured with xcost_tui.track (docs/measurement.md, "Measuring your own training
    # script"). Part of the identity when set (LATER_DEFAULTS): an external run is a configuration of
    # its own, compared with the tool's, and never takes the run id of a tool's run.
    source: str | None = None
    script: str | None = None  # the external script that ran it (a label: not part of the run id)

    # ---- derived -------------------------------------------------------------------------
    @property
    def _entry(self) -> Method | None:
        """The method table's entry (None before validation named an unknown method)."""
        return METHOD_TABLE.get(self.method)

    @property
    def uses_intermediate(self) -> bool:
        """The method runs intermediate task(s) before the target (a direct run ignores them)."""
        return bool(self._entry and self._entry.uses_intermediate) and bool(self.intermediate)

    @property
    def trains_intermediate(self) -> bool:
        """This run trains its intermediate phase(s) itself: it has intermediate tasks, a method that
        uses them, and no ``init_from`` encoder replacing them. (A run with ``init_from`` still
        records those phases, as reused, so they are in its phase plan either way.)"""
        return self.uses_intermediate and not self.init_from

    @property
    def shares_intermediate(self) -> bool:
        """The runner may share this run's intermediate phase(s) with other runs of equal
        ``intermediate_key`` (runner/shared.py): intermediate and few-shot runs. A translate-test
        run trains its English classifier, intermediate phases included, itself (docs/methods.md)."""
        return self.trains_intermediate and bool(self._entry and self._entry.shares_intermediate)

    @property
    def trains_target(self) -> bool:
        """This run trains its target phase itself: a training method with no ``init_target_from``
        checkpoint replacing the target phase (and everything before it)."""
        return self.trains and not self.init_target_from

    @property
    def shares_target(self) -> bool:
        """The runner may share this run's target phase with other runs of equal ``target_key``
        (runner/shared.py): direct, intermediate, few-shot and translate-test runs (issue 18)."""
        return self.trains_target and bool(self._entry and self._entry.shares_target)

    @property
    def uses_mt_model(self) -> bool:
        """translate-test with translations made here by an MT model (not the published ones)."""
        return self.translates and self.translations not in (None, PUBLISHED)

    @property
    def translates(self) -> bool:
        """The method evaluates an English classifier on translations (translate:<lang> phases)."""
        return bool(self._entry and self._entry.per_language_phase == PhaseKind.TRANSLATE)

    @property
    def uses_published_translations(self) -> bool:
        """translate-test on the machine translations that ship with XCOPA."""
        return self.translates and self.translations == PUBLISHED

    @property
    def draws_few_shot_pool(self) -> bool:
        """A fine-tune on k target-language examples, drawn from each language's validation split."""
        return self.trains and bool(self._entry and self._entry.draws_shots)

    @property
    def trains(self) -> bool:
        """The method has training phases (every method but in-context learning)."""
        return bool(self._entry and self._entry.trains)

    @property
    def builds_tokenizer(self) -> bool:
        """The built-in causal LM's tokenizer is trained in-process on the target's training split,
        so an untrained method still reads that split."""
        return self.model == TINY_CAUSAL_LM

    def phase_plan(self) -> list[PlannedPhase]:
        """The phases this run records, in order: the one statement of that sequence.

        intermediate:<task>... (or one mixed intermediate:<a>+<b>) · target:<target> · eval:en ·
        per language [few-shot:<lang>] eval:<lang> · inference-bench

        icl (no training): eval:en · eval:<lang>... · inference-bench. translate-test: the English
        classifier's phases as above, then per language translate:<lang> eval:<lang> (the
        translation phase records the translations' cost, NULL with the reason for the published ones).

        Not planned here, because no one knows in advance: retries of a collapsed target phase
        (``collapse_retries``), recorded after target:<target> and eval:en as target:<target>#2,
        eval:en#2, ... (``attempt_phase``); the run's record adds each to its planned phases once
        it starts (``rundir/fold.py`` ``RunState.phases_planned``, the store's ``runs.phases_planned``).
        """
        phases: list[PlannedPhase] = []
        if not self.trains:
            if self.eval_english:
                phases.append(PlannedPhase("eval:en", PhaseKind.EVAL, (self.target,), "en"))
            phases += [PlannedPhase(f"eval:{lang}", PhaseKind.EVAL, ("xcopa",), lang) for lang in self.langs]
            phases.append(PlannedPhase("inference-bench", PhaseKind.INFERENCE_BENCH, (), None))
            return phases
        if self.uses_intermediate:
            groups = (
                [tuple(self.intermediate)] if self.intermediate_mode == "mixed" else [(t,) for t in self.intermediate]
            )
            phases += [PlannedPhase("intermediate:" + "+".join(g), PhaseKind.INTERMEDIATE, g, None) for g in groups]
        phases.append(PlannedPhase(f"target:{self.target}", PhaseKind.TARGET, (self.target,), None))
        if self.eval_english:
            phases.append(PlannedPhase("eval:en", PhaseKind.EVAL, (self.target,), "en"))
        before_eval = METHOD_TABLE[self.method].per_language_phase
        for lang in self.langs:
            if trials := self.trial_phases(lang):  # a learning-rate sweep: one trial per rate, no few-shot:<lang>
                phases += [PlannedPhase(name, PhaseKind.FEW_SHOT_TRIAL, ("xcopa",), lang) for name, _ in trials]
            elif before_eval is not None:  # few-shot:<lang>, translate:<lang>
                phases.append(PlannedPhase(f"{before_eval}:{lang}", PhaseKind(before_eval), ("xcopa",), lang))
            phases.append(PlannedPhase(f"eval:{lang}", PhaseKind.EVAL, ("xcopa",), lang))
        phases.append(PlannedPhase("inference-bench", PhaseKind.INFERENCE_BENCH, (), None))
        return phases

    @property
    def phases_planned(self) -> list[str]:
        return [p.name for p in self.phase_plan()]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """What determines the results: the spec without labels and without where data is read from."""
        return identity_of(self.to_dict())

    def configuration_id(self) -> str:
        """The configuration this run belongs to: its identity without the seeds (configuration.py)."""
        return configuration_id(self.to_dict())

    def run_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:10]
        model = self.model.rstrip("/").split("/")[-1]
        return f"{self.method}-{model}-s{self.seed}-{digest}"

    def intermediate_key(self) -> dict[str, Any]:
        """What determines the encoder after the intermediate phase(s); two runs with equal keys can share it."""
        return {
            "model": self.model,
            "intermediate": list(self.intermediate),
            "intermediate_mode": self.intermediate_mode,
            "hparams": dataclasses.asdict(self.intermediate_hparams),
            "seed": self.seed,
            "tiny_model_dims": dict(self.tiny_model_dims),
        }

    def target_key(self) -> dict[str, Any]:
        """What determines the model after the target phase, its English validation, collapse
        retries and learning curve: two runs with equal keys can share them (a few-shot run starts
        from the model its direct run trained). The intermediate chain counts only for a method
        that uses it (a direct run ignores ``intermediate``); a run that starts from a saved
        encoder (``init_from``) has the key of the run that trained it."""
        chain = self.uses_intermediate
        return {
            "model": self.model,
            "seed": self.seed,
            "tiny_model_dims": dict(self.tiny_model_dims),
            "intermediate": list(self.intermediate) if chain else [],
            "intermediate_mode": self.intermediate_mode if chain else None,
            "intermediate_hparams": dataclasses.asdict(self.intermediate_hparams) if chain else None,
            "target": self.target,
            "hparams": dataclasses.asdict(self.hparams),
            "collapse_retries": self.collapse_retries,
            "eval_english": self.eval_english,
            "eval_batch_size": self.eval_batch_size,
            "max_eval_examples": self.max_eval_examples,
            # the target phase's learning curve reads every language's validation items
            "langs": list(self.langs),
            "xcopa_question": self.xcopa_question,
            "measure": dataclasses.asdict(self.measure),
        }

    # ---- validation ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "spec") -> RunSpec:
        if not isinstance(data, dict):
            raise SpecError(f"{where}: expected a table of settings, got {type(data).__name__}")
        kwargs = _convert_fields(cls, apply_recipes(data, where), where)
        spec = cls(**kwargs)
        for section in HPARAM_SECTIONS:
            normalise_batching(getattr(spec, section), f"{where}.{section}")
        m = METHOD_TABLE.get(spec.method)
        if m and m.draws_shots and not m.zero_shots and spec.shot_seed is None:
            spec.shot_seed = 0
        if m and not m.draws_shots:  # a plan-wide price applies to the methods with labelled target-language examples
            spec.annotation_hours_per_example = None
        if spec.lr_sweep_k:  # the sweep applies at the listed k only; the spec keeps only what it runs
            if spec.few_shot_k not in spec.lr_sweep_k:
                spec.lr_sweep = []
                spec.lr_sweep_items = None
            spec.lr_sweep_k = []
        if m and m.zero_shots:
            if spec.few_shot_k is None:
                spec.few_shot_k = 0  # zero-shot prompting
            # k = 0 draws no demonstrations: its shot seeds are one run (a plan collapses them)
            spec.shot_seed = None if spec.few_shot_k == 0 else (0 if spec.shot_seed is None else spec.shot_seed)
        spec.validate(where=where)
        return spec

    def validate(self, *, where: str = "spec") -> None:
        check_method(self.method, where)
        if self.intermediate_mode not in INTERMEDIATE_MODES:
            raise SpecError(
                f"{where}: intermediate_mode {self.intermediate_mode!r} must be one of {', '.join(INTERMEDIATE_MODES)}"
                f"{did_you_mean(self.intermediate_mode, INTERMEDIATE_MODES)}"
            )
        check_model(self.model, where)
        if self.source not in SOURCES:
            raise SpecError(
                f"{where}.source: {self.source!r} is not one of {', '.join(repr(s) for s in SOURCES)}: "
                f"'external' marks a run measured in a user's own script (xcost_tui.track); leave it out otherwise"
            )
        for task in self.intermediate:
            get_task(task)  # raises UnknownTaskError with the closest name
        check_target(self.target, f"{where}.target")
        if self.method == "intermediate" and not self.intermediate and not self.init_from:
            raise SpecError(
                f"{where}: method 'intermediate' needs at least one task in 'intermediate' (e.g. intermediate = [\"siqa\"]) or 'init_from'"
            )
        if self.method == "direct" and self.intermediate:
            raise SpecError(
                f"{where}: method 'direct' takes no intermediate tasks (got {self.intermediate}); use method 'intermediate'"
            )
        if self.draws_few_shot_pool:
            if self.few_shot_k is None:
                raise SpecError(
                    f"{where}: method 'few-shot' needs few_shot_k (the number of labelled target-language examples, e.g. 16)"
                )
        elif self.few_shot_k is not None and self.method not in SHOT_METHODS:
            raise SpecError(
                f"{where}: few_shot_k is only used by methods {' and '.join(map(repr, SHOT_METHODS))} (method is {self.method!r})"
            )
        if self.shot_seed is not None and self.method not in SHOT_METHODS:
            raise SpecError(
                f"{where}: shot_seed is only used by method {' or '.join(map(repr, SHOT_METHODS))} (method is {self.method!r})"
            )
        self._validate_new_methods(where)
        if english_only(self.model) and not self.translates:
            raise SpecError(
                f"{where}.model: {self.model!r} is an English-only encoder (spec.py ENGLISH_ONLY_MODELS), "
                f"but method {self.method!r} evaluates target-language text directly with it; use "
                f'method = "translate-test" (it classifies English translations), or a multilingual '
                f'model (e.g. "FacebookAI/xlm-roberta-large", or {TINY_MODEL!r} built in)'
            )
        self._validate_few_shot_protocol(where)
        if self.collapse_retries and not self.eval_english:
            raise SpecError(
                f"{where}: collapse_retries needs eval_english = true: the collapse check reads the "
                f"English validation accuracy after the target phase"
            )
        for section in HPARAM_SECTIONS:
            hp = getattr(self, section)
            if hp.recipe is not None and hp.recipe not in RECIPES:
                recipe_values(hp.recipe, self.model, f"{where}.{section}.recipe")  # raises with the names
            if hp.grad_accum not in (None, 1) and hp.micro_batch_size is None:
                normalise_batching(dataclasses.replace(hp), f"{where}.{section}")  # raises with the migration
        if not self.langs:
            raise SpecError(f"{where}: langs is empty; give at least one of {', '.join(XCOPA_LANGS)}")
        for lang in self.langs:
            check_lang(lang, where)
        if self.xcopa_question not in XCOPA_QUESTION_MODES:
            raise SpecError(
                f"{where}: xcopa_question must be one of {', '.join(repr(q) for q in XCOPA_QUESTION_MODES)}, "
                f"got {self.xcopa_question!r}{did_you_mean(self.xcopa_question, XCOPA_QUESTION_MODES)} "
                f'(docs/tasks.md, "XCOPA\'s question field")'
            )
        check_icl_prompt(self.icl_prompt, f"{where}.icl_prompt")
        if self.icl_prompt != LM_EVAL and self.trains:
            raise SpecError(
                f"{where}: icl_prompt is only used by method 'icl' (method is {self.method!r}, which builds no prompt)"
            )
        if self.eval_split not in ("test", "val"):
            raise SpecError(f"{where}: eval_split must be 'test' or 'val', got {self.eval_split!r}")
        if self.draws_few_shot_pool and self.eval_split == "val":
            raise SpecError(f"{where}: few-shot runs draw their k examples from 'val', so they must evaluate on 'test'")
        check_device(self.device, f"{where}.device")
        if not self.trains and self.eval_split == "val" and self.few_shot_k:
            raise SpecError(
                f"{where}: icl runs draw their k demonstrations from 'val', so they must evaluate on 'test'"
            )
        # Every numeric field against its declared range (from_dict checked the given keys already;
        # this covers specs built in Python).
        check_ranges(self, where)
        if self.tiny_model_dims and self.model not in BUILT_IN_MODELS:
            raise SpecError(
                f"{where}: tiny_model_dims applies to the built-in models ({', '.join(BUILT_IN_MODELS)}) only, "
                f"but model is {self.model!r}, whose dimensions come with its weights; drop tiny_model_dims "
                f"(set it in the experiments of the built-in models, not in [defaults])"
            )

    def _validate_few_shot_protocol(self, where: str) -> None:
        """The learning-rate sweep (few-shot only) and the annotation cost (methods that draw shots)."""
        if self.lr_sweep or self.lr_sweep_k or self.lr_sweep_items is not None:
            if not self.draws_few_shot_pool:
                key = "lr_sweep" if self.lr_sweep else "lr_sweep_k" if self.lr_sweep_k else "lr_sweep_items"
                raise SpecError(
                    f"{where}: {key} is only used by method 'few-shot' (method is {self.method!r}): the sweep "
                    f"fine-tunes on the k shots once per learning rate"
                )
            if self.lr_sweep_items is not None and not self.lr_sweep:
                raise SpecError(
                    f"{where}: lr_sweep_items needs lr_sweep (the learning rates to try), e.g. [1e-5, 3e-5, 1e-4]"
                )
        for i, lr in enumerate(self.lr_sweep):
            check_number(lr, above(0), f"{where}.lr_sweep[{i}]", "a learning rate")
        for i, k in enumerate(self.lr_sweep_k):
            check_number(k, at_least(1), f"{where}.lr_sweep_k[{i}]", "a k")
        if self.lr_sweep:
            if len(self.lr_sweep) < 2:
                raise SpecError(
                    f"{where}.lr_sweep: a sweep needs at least two learning rates, got {self.lr_sweep}; "
                    f"for one, set few_shot_hparams.learning_rate instead"
                )
            names = [lr_text(lr) for lr in self.lr_sweep]
            if len(set(names)) != len(names):
                raise SpecError(f"{where}.lr_sweep: the learning rates must differ, got {', '.join(names)}")
        if self.annotation_hours_per_example is not None and self.method not in SHOT_METHODS:
            raise SpecError(
                f"{where}: annotation_hours_per_example is only used by methods "
                f"{' and '.join(map(repr, SHOT_METHODS))} (method is {self.method!r}): they need labelled "
                f"target-language examples"
            )

    def trial_phases(self, lang: str) -> list[tuple[str, float]]:
        """(phase name, learning rate) of a language's sweep trials, in lr_sweep's order; empty without a sweep."""
        return [(trial_phase_name(lang, lr), lr) for lr in self.lr_sweep] if self.draws_few_shot_pool else []

    def _validate_new_methods(self, where: str) -> None:
        """Which keys apply to icl and translate-test, and theirs to no other method."""
        m = self.method
        if not self.trains:  # icl
            for key, bad, why in (
                ("intermediate", bool(self.intermediate), "no training: give no intermediate tasks"),
                ("target", self.target != "copa", 'the English reference is COPA (target = "copa")'),
                ("init_from", bool(self.init_from), "it loads a causal LM, not a saved encoder"),
                ("save_encoder", self.save_encoder, "it trains no encoder"),
                ("save_target", self.save_target, "it trains no encoder"),
                ("init_target_from", bool(self.init_target_from), "it loads a causal LM, not a saved encoder"),
                ("collapse_retries", bool(self.collapse_retries), "there is no training phase to retry"),
            ):
                if bad:
                    raise SpecError(f"{where}: {key} does not apply to method 'icl' ({why})")
        if self.translates:
            if not self.translations:
                raise SpecError(
                    f"{where}: method 'translate-test' needs translations: \"{PUBLISHED}\" (XCOPA's own "
                    f'machine translations) or an MT model (e.g. "facebook/nllb-200-distilled-600M", '
                    f"or {TINY_MT!r} built in)"
                )
        elif self.translations is not None:
            raise SpecError(f"{where}: translations is only used by method 'translate-test' (method is {m!r})")
        if self.model_dtype not in MODEL_DTYPES:
            raise SpecError(
                f"{where}.model_dtype: {self.model_dtype!r} is not one of {', '.join(MODEL_DTYPES)}"
                f"{did_you_mean(self.model_dtype, MODEL_DTYPES)}"
            )
        if self.device_map is not None and self.device_map not in DEVICE_MAPS:
            raise SpecError(
                f"{where}.device_map: {self.device_map!r} is not one of {', '.join(DEVICE_MAPS)} "
                f"(leave it out to load the model on one device)"
            )
        loads_lm = not self.trains or self.uses_mt_model  # a causal LM (icl) or an MT model
        for key in ("model_dtype", "device_map"):
            if getattr(self, key) != LATER_DEFAULTS[key] and not loads_lm:
                raise SpecError(
                    f"{where}: {key} applies to the causal LM of method 'icl' and the MT model of "
                    f"'translate-test' (method is {m!r}{', with published translations' if m == 'translate-test' else ''})"
                )
        for key in ("mt_max_new_tokens", "mt_beams"):
            if getattr(self, key) != LATER_DEFAULTS[key] and not self.uses_mt_model:
                raise SpecError(f"{where}: {key} applies to translate-test with an MT model (translations = <model>)")


# Fields added after the first stores were written, with their defaults (configuration.identity_of).

# ---- generic dataclass conversion with clear errors ------------------------------------------


def _convert_fields(cls, data: dict[str, Any], where: str) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        raise SpecError(f"{where}: unknown key {key!r}{did_you_mean(key, fields)}; valid keys: {', '.join(fields)}")
    out: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SpecError(f"{where}: missing required key {name!r}")
            continue
        path = f"{where}.{name}" if where else name
        out[name] = convert_value(f.type, data[name], path, cls)
        check_field(cls, name, out[name], path, data.get("method"))
    return out


_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _resolve(type_: Any) -> Any:
    """A field's type; with postponed annotations (``from __future__ import annotations``) it is text."""
    if isinstance(type_, str):
        return eval(type_, {**globals(), **vars(__import__("builtins"))}, {})  # noqa: S307 - our own annotations
    return type_


def convert_value(type_: Any, value: Any, where: str, owner) -> Any:
    type_ = _resolve(type_)
    origin = get_origin(type_)
    args = get_args(type_)
    if origin is not None and type(None) in args:  # X | None
        if value is None:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return convert_value(inner, value, where, owner)
    if dataclasses.is_dataclass(type_):
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected a table, got {value!r}")
        # an annotation: a dataclass type, never an instance
        return cast("type[Any]", type_)(**_convert_fields(type_, value, where))
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where}: expected a list, got {value!r}")
        return [convert_value(args[0], v, f"{where}[{i}]", owner) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected a table, got {value!r}")
        return {str(k): convert_value(args[1], v, f"{where}.{k}", owner) for k, v in value.items()}
    if type_ is bool:
        if isinstance(value, bool):
            return value
        raise SpecError(f"{where}: expected true or false, got {value!r}")
    if type_ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise SpecError(f"{where}: expected a whole number, got {value!r}")
        return value
    if type_ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if type_ is str:
        if isinstance(value, (list, dict)):
            raise SpecError(
                f"{where}: expected a single value, got a {'list' if isinstance(value, list) else 'table'} {value!r}"
            )
        return str(value)
    return value
