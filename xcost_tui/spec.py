"""RunSpec: everything one run needs, validated before any training starts.

A spec is plain data (JSON in ``RUN_DIR/spec.json``). ``RunSpec.from_dict`` checks
every field and raises ``SpecError`` naming the field, what is wrong and the closest
valid name for a typo. No torch here: the supervisor validates specs too.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from . import XCOPA_LANGS
from .errors import SpecError

METHODS = ("direct", "intermediate", "few-shot")
INTERMEDIATE_MODES = ("sequential", "mixed")
TINY_MODEL = "tiny-xlmr"


class PhaseKind(str, enum.Enum):
    """The kinds of measured phases (the ``kind`` of phase events)."""

    INTERMEDIATE = "intermediate"
    TARGET = "target"
    FEW_SHOT = "few-shot"
    EVAL = "eval"
    INFERENCE_BENCH = "inference-bench"

    def __str__(self) -> str:
        return self.value


TRAINING_KINDS = (PhaseKind.INTERMEDIATE, PhaseKind.TARGET, PhaseKind.FEW_SHOT)


@dataclass(frozen=True)
class PlannedPhase:
    name: str
    kind: PhaseKind
    tasks: tuple[str, ...]
    lang: str | None = None


@dataclass
class HParams:
    """Optimisation settings of one training phase.

    Defaults follow the published XCOPA recipe for XLM-R (Ponti et al. 2020):
    5 epochs, max length 128, lr 3e-5, effective batch 32 (8 x 4 accumulation).
    """

    learning_rate: float = 3e-5
    batch_size: int = 8
    grad_accum: int = 4
    epochs: float = 5.0
    max_steps: int | None = None  # optimiser steps; overrides epochs when set
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_seq_len: int = 128
    max_grad_norm: float = 1.0
    max_examples: int | None = None  # use only the first N training examples (quick runs)


@dataclass
class FewShotHParams(HParams):
    """Few-shot adaptation on k target-language examples: few examples, so smaller batches, more epochs."""

    learning_rate: float = 1e-5
    batch_size: int = 4
    grad_accum: int = 1
    epochs: float = 10.0
    warmup_ratio: float = 0.0


@dataclass
class MeasureOpts:
    enabled: bool = True  # False turns off FLOP sampling, progress events and memory probes (overhead baseline)
    flop_sample_steps: int = 3  # at most this many steps per phase run under FlopCounterMode (1 per 200 steps)
    progress_every_s: float = 1.0
    inference_bench_examples: int = 50  # batch-size-1 latency samples after warm-up
    inference_warmup: int = 5


@dataclass
class RunSpec:
    method: str
    model: str
    seed: int = 0
    intermediate: list[str] = field(default_factory=list)
    intermediate_mode: str = "sequential"
    target: str = "copa"
    few_shot_k: int | None = None
    langs: list[str] = field(default_factory=lambda: list(XCOPA_LANGS))
    eval_split: str = "test"
    eval_english: bool = True  # English COPA validation: the source-language reference
    max_eval_examples: int | None = None  # per language, for quick runs
    eval_batch_size: int = 64
    data_dir: str | None = None  # None: the Hugging Face hub
    hparams: HParams = field(default_factory=HParams)
    intermediate_hparams: HParams = field(default_factory=HParams)
    few_shot_hparams: FewShotHParams = field(default_factory=FewShotHParams)
    measure: MeasureOpts = field(default_factory=MeasureOpts)
    save_encoder: bool = False  # save the encoder after the intermediate phase(s) for reuse
    init_from: str | None = None  # a saved checkpoint dir (RUN_DIR/checkpoints/intermediate) replacing the intermediate phase(s)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    tiny_model_dims: dict[str, int] = field(default_factory=dict)  # overrides for tiny-xlmr's config
    name: str | None = None  # a label from the plan, not part of the run id

    # ---- derived -------------------------------------------------------------------------
    @property
    def uses_intermediate(self) -> bool:
        """The method runs intermediate phase(s) (trained here, or reused from a saved encoder)."""
        return self.method in ("intermediate", "few-shot") and bool(self.intermediate)

    @property
    def trains_intermediate(self) -> bool:
        """This run trains its intermediate phase(s) itself (rather than starting from a saved encoder)."""
        return self.uses_intermediate and not self.init_from

    def phase_plan(self) -> list[PlannedPhase]:
        """Every phase of the run in order: what the job executes and what readers expect."""
        phases: list[PlannedPhase] = []
        if self.uses_intermediate:
            groups = [tuple(self.intermediate)] if self.intermediate_mode == "mixed" else [(t,) for t in self.intermediate]
            phases += [PlannedPhase("intermediate:" + "+".join(g), PhaseKind.INTERMEDIATE, g) for g in groups]
        phases.append(PlannedPhase(f"target:{self.target}", PhaseKind.TARGET, (self.target,)))
        if self.eval_english:
            phases.append(PlannedPhase("eval:en", PhaseKind.EVAL, (self.target,), "en"))
        for lang in self.langs:
            if self.method == "few-shot":
                phases.append(PlannedPhase(f"few-shot:{lang}", PhaseKind.FEW_SHOT, ("xcopa",), lang))
            phases.append(PlannedPhase(f"eval:{lang}", PhaseKind.EVAL, ("xcopa",), lang))
        phases.append(PlannedPhase("inference-bench", PhaseKind.INFERENCE_BENCH, ()))
        return phases

    @property
    def phases_planned(self) -> list[str]:
        return [p.name for p in self.phase_plan()]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """What determines the results: the spec without labels and without where data is read from."""
        d = self.to_dict()
        for key in ("name", "data_dir", "device", "save_encoder", "init_from"):
            d.pop(key, None)
        return d

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

    # ---- validation ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "spec") -> "RunSpec":
        if not isinstance(data, dict):
            raise SpecError(f"{where}: expected a table of settings, got {type(data).__name__}")
        kwargs = _convert_fields(cls, data, where)
        spec = cls(**kwargs)
        spec.validate(where=where)
        return spec

    def validate(self, *, where: str = "spec") -> None:
        from .tasks import get_task  # the registry is plain data; no torch

        if self.method not in METHODS:
            raise SpecError(f"{where}: method {self.method!r} is unknown{_closest(self.method, METHODS)}; choose one of {', '.join(METHODS)}")
        if self.intermediate_mode not in INTERMEDIATE_MODES:
            raise SpecError(f"{where}: intermediate_mode {self.intermediate_mode!r} must be one of {', '.join(INTERMEDIATE_MODES)}")
        if not self.model:
            raise SpecError(f"{where}: model is empty; give a Hugging Face model id, a local path or {TINY_MODEL!r}")
        for task in [*self.intermediate, self.target]:
            get_task(task)  # raises UnknownTaskError with the closest name
        if self.method == "intermediate" and not self.intermediate and not self.init_from:
            raise SpecError(f"{where}: method 'intermediate' needs at least one task in 'intermediate' (e.g. intermediate = [\"siqa\"]) or 'init_from'")
        if self.method == "direct" and self.intermediate:
            raise SpecError(f"{where}: method 'direct' takes no intermediate tasks (got {self.intermediate}); use method 'intermediate'")
        if self.method == "few-shot":
            if self.few_shot_k is None:
                raise SpecError(f"{where}: method 'few-shot' needs few_shot_k (the number of labelled target-language examples, e.g. 16)")
            if self.few_shot_k < 1:
                raise SpecError(f"{where}: few_shot_k must be at least 1, got {self.few_shot_k}")
        elif self.few_shot_k is not None:
            raise SpecError(f"{where}: few_shot_k is only used by method 'few-shot' (method is {self.method!r})")
        if not self.langs:
            raise SpecError(f"{where}: langs is empty; give at least one of {', '.join(XCOPA_LANGS)}")
        for lang in self.langs:
            if lang not in XCOPA_LANGS:
                raise SpecError(f"{where}: language {lang!r} is not an XCOPA language{_closest(lang, XCOPA_LANGS)}; choose from {', '.join(XCOPA_LANGS)}")
        if self.eval_split not in ("test", "val"):
            raise SpecError(f"{where}: eval_split must be 'test' or 'val', got {self.eval_split!r}")
        if self.method == "few-shot" and self.eval_split == "val":
            raise SpecError(f"{where}: few-shot runs draw their k examples from 'val', so they must evaluate on 'test'")
        for name in ("hparams", "intermediate_hparams", "few_shot_hparams"):
            hp = getattr(self, name)
            if hp.learning_rate <= 0 or hp.batch_size < 1 or hp.grad_accum < 1 or hp.max_seq_len < 8:
                raise SpecError(f"{where}: {name} has an impossible value (learning_rate > 0, batch_size >= 1, grad_accum >= 1, max_seq_len >= 8)")
            if hp.max_steps is None and hp.epochs <= 0:
                raise SpecError(f"{where}: {name}.epochs must be > 0 (or set max_steps)")
        if self.eval_batch_size < 1:
            raise SpecError(f"{where}: eval_batch_size must be at least 1")


# ---- generic dataclass conversion with clear errors ------------------------------------------

def _closest(name: str, choices) -> str:
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _convert_fields(cls, data: dict[str, Any], where: str) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        raise SpecError(f"{where}: unknown key {key!r}{_closest(key, fields)}; valid keys: {', '.join(fields)}")
    out: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SpecError(f"{where}: missing required key {name!r}")
            continue
        out[name] = _convert_value(f.type, data[name], f"{where}.{name}" if where else name, cls)
    return out


_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _convert_value(type_: Any, value: Any, where: str, owner) -> Any:
    if isinstance(type_, str):  # postponed annotations
        type_ = eval(type_, {**globals(), **vars(__import__("builtins"))}, {})  # noqa: S307 - our own annotations
    origin = get_origin(type_)
    args = get_args(type_)
    if origin is not None and type(None) in args:  # X | None
        if value is None:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert_value(inner, value, where, owner)
    if dataclasses.is_dataclass(type_):
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected a table, got {value!r}")
        return type_(**_convert_fields(type_, value, where))
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where}: expected a list, got {value!r}")
        return [_convert_value(args[0], v, f"{where}[{i}]", owner) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected a table, got {value!r}")
        return {str(k): _convert_value(args[1], v, f"{where}.{k}", owner) for k, v in value.items()}
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
            raise SpecError(f"{where}: expected a single value, got a {'list' if isinstance(value, list) else 'table'} {value!r}")
        return str(value)
    return value
