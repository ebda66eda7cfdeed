"""Configurations: what is compared when methods are compared.

A **run** is one training seed (and one shot draw); a **configuration** is a run's spec without
them — model, method, intermediate tasks, k, recipe, hyper-parameters. Results aggregate over
the runs of a configuration (docs/statistics.md), so every view that compares methods compares
configurations, and a run stays one query away (``runs.config_id``).

Pure functions of a spec's dict (as ``spec.json`` holds it, of any version): the store computes
them at ingest, RunSpec uses the same exclusions for its run id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .methods import METHOD_TABLE

# Keys that never change results (labels, where data is read from, how a phase is shared).
NOT_IDENTITY = (
    "name",
    "data_dir",
    "device",
    "save_encoder",
    "init_from",
    "save_target",
    "init_target_from",
    "device_map",
    "script",  # an external run's script path (spec.source "external"): where it ran, not what
)
# Fields added with icl and translate-test, with their defaults: at the default they are left out of
# the identity, so the run ids of the other methods' runs stay as they were.
LATER_DEFAULTS: dict[str, Any] = {
    "translations": None,
    "model_dtype": "auto",
    "device_map": None,
    "mt_max_new_tokens": 128,
    "mt_beams": 1,
    "icl_prompt": "lm-eval",  # issue 19: the prompt variant of icl (tasks/prompts.py ICL_PROMPTS)
    # the few-shot protocol (issue 19)
    "lr_sweep": [],
    "lr_sweep_k": [],
    "lr_sweep_items": None,
    "annotation_hours_per_example": None,
    # issue 21: a run measured in a user's own script (xcost_tui/track); None: the tool's own job
    "source": None,
    "script": None,
}
# spec.source of a run a user's own training script measured (xcost_tui/track); None: the tool's job
EXTERNAL = "external"
# Keys that vary between the runs of one configuration.
WITHIN_CONFIGURATION = ("seed", "shot_seed")


def identity_of(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What determines a run's results: its run id hashes this."""
    return {
        k: v for k, v in spec.items() if k not in NOT_IDENTITY and not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])
    }


def configuration_of(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What determines a configuration: the identity without the seeds."""
    return {k: v for k, v in identity_of(spec).items() if k not in WITHIN_CONFIGURATION}


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


def configuration_id(spec: Mapping[str, Any]) -> str:
    return digest(configuration_of(spec))


def short_model(model: str | None) -> str:
    return str(model or "?").rstrip("/").split("/")[-1]


def family(spec: Mapping[str, Any]) -> str:
    """The method family a configuration belongs to (one marker and colour each in the app):
    direct, intermediate, few-shot, intermediate+few-shot, icl, translate-test."""
    method = str(spec.get("method") or "")
    entry = METHOD_TABLE.get(method)
    if entry is None:
        return method or "?"
    if entry.trains and entry.draws_shots and spec.get("intermediate"):
        return "intermediate+" + entry.family  # a few-shot fine-tune after intermediate training
    return entry.family


def label(spec: Mapping[str, Any]) -> str:
    """A short, readable name: "siqa→copa · xlm-roberta-large", "few-shot k=16 · xlm-roberta-base"."""
    method = str(spec.get("method") or "?")
    entry = METHOD_TABLE.get(method)
    tasks = [str(t) for t in spec.get("intermediate") or []]
    target = str(spec.get("target") or "copa")
    k = spec.get("few_shot_k")
    if entry is None:
        head = method
    else:
        chain = "+".join(tasks) + "→" if tasks and entry.uses_intermediate else ""
        head = entry.label_head.format(chain=chain, target=target, k=k if k is not None or entry.trains else 0)
    # a run a user's own script measured (xcost_tui/track) is told apart from the tool's own at a glance
    external = " · external script" if spec.get("source") == EXTERNAL else ""
    return f"{head} · {short_model(spec.get('model'))}{external}"


def flat_settings(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A spec's nested settings as dotted keys: {"hparams": {"learning_rate": 1e-5}} gives
    {"hparams.learning_rate": 1e-5}."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flat_settings(v, key + "."))
        else:
            out[key] = v
    return out


def _field_name(key: str) -> str:
    """The target phase's hyper-parameters are the ones a reader means by "lr": no prefix."""
    return key.removeprefix("hparams.")


def _value_text(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "+".join(_value_text(x) for x in v) or "none"
    text = str(v)
    return text.rstrip("/").split("/")[-1] if "/" in text else text  # a hub id or path: its last part


def distinguishing_labels(specs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """A label per configuration that tells it apart from every other one of ``specs`` (config id
    -> a run's spec): ``label(spec)``, then " · field=value" for each configuration field whose
    values differ among the configurations that share that base label (translations, recipe, a
    varied hyper-parameter...), fields in sorted order. Two translate-test configurations, one on
    XCOPA's published translations and one on an MT model, are "translate-test · xlm-roberta-large
    · translations=published" and "... · translations=opus-mt-{lang}-en".

    A field a spec leaves out counts at its default (LATER_DEFAULTS), so old and new spec files of
    one configuration name nothing. Pure: the labels depend on the whole set, so the store
    recomputes them whenever its runs change (store/labels.py)."""
    base = {cid: label(spec) for cid, spec in specs.items()}
    groups: dict[str, list[str]] = {}
    for cid, lab in base.items():
        groups.setdefault(lab, []).append(cid)
    out = dict(base)
    for lab, ids in groups.items():
        if len(ids) < 2:
            continue
        flat = {cid: flat_settings({**LATER_DEFAULTS, **configuration_of(specs[cid])}) for cid in ids}
        keys = sorted({k for f in flat.values() for k in f})
        varied = [
            k for k in keys if len({json.dumps(f.get(k), sort_keys=True, default=str) for f in flat.values()}) > 1
        ]
        for cid in ids:
            out[cid] = lab + "".join(f" · {_field_name(k)}={_value_text(flat[cid].get(k))}" for k in varied)
    return out


def training_key(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """What determines a run's training phases — the model they train and the work they measure —
    and nothing of its evaluation (languages evaluated, translations, the MT model, prompts); None
    for a method that trains nothing (icl). translate-test trains exactly direct's (or an
    intermediate run's) classifier: with the same model, recipe, data and seed the keys are equal,
    and the verdict counts that training once (docs/statistics.md, "Cost"). Training data is the
    task's (``data_dir``, where it is read from, is not identity)."""
    entry = METHOD_TABLE.get(str(spec.get("method") or ""))
    if entry is None or not entry.trains:
        return None
    key: dict[str, Any] = {
        "model": spec.get("model"),
        "target": spec.get("target") or "copa",
        "hparams": spec.get("hparams"),
        "seed": spec.get("seed"),
        "tiny_model_dims": spec.get("tiny_model_dims") or {},
        "collapse_retries": spec.get("collapse_retries") or 0,
        "measure": spec.get("measure"),  # FLOP sampling and learning-curve points change the measured work
    }
    tasks = list(spec.get("intermediate") or [])
    if entry.uses_intermediate and tasks:
        key.update(
            intermediate=tasks,
            intermediate_mode=spec.get("intermediate_mode") or "sequential",
            intermediate_hparams=spec.get("intermediate_hparams"),
        )
    if entry.draws_shots:  # a fine-tune on k target-language examples per language
        key.update(
            few_shot_k=spec.get("few_shot_k"),
            shot_seed=spec.get("shot_seed"),
            few_shot_hparams=spec.get("few_shot_hparams"),
            langs=list(spec.get("langs") or []),
            xcopa_question=spec.get("xcopa_question") or "copa",
        )
    return key


def training_id(spec: Mapping[str, Any]) -> str | None:
    """The training of a configuration: ``training_key`` without the seeds. Two configurations of
    equal training_id train identically by spec, seed for seed (runs.training_id)."""
    key = training_key(spec)
    return None if key is None else digest({k: v for k, v in key.items() if k not in WITHIN_CONFIGURATION})
