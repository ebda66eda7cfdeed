"""What a run needs from the Hugging Face hub and whether it is there: the cache's folders, the
manifest ``xcost-tui stage`` writes (commands/stage.py), and the offline check.

- The manifest ``$HF_HOME/xcost-staged.json`` records what was staged, with the revisions the hub
  resolved (data sets: the commit datasets pinned; models: the snapshot's commit), plan by plan.
- ``offline_problems`` is the check a job makes under ``HF_HUB_OFFLINE=1`` before it starts (the
  local executor before the spawn, a SLURM job on its node): what it would need from the hub that
  is neither in the manifest nor in the cache, said once with the stage command.

No torch, transformers or datasets here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import XcostError
from ..spec import TINY_ENCODERS, RunSpec
from ..tasks.loading import HUB_MIRROR_ENV
from ..tasks.needs import needs_of
from ..tasks.registry import get_task

MANIFEST = "xcost-staged.json"
TRUE = ("1", "TRUE", "YES", "ON")


def hf_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "huggingface"


def hub_cache(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env["HF_HUB_CACHE"]).expanduser() if env.get("HF_HUB_CACHE") else hf_home(env) / "hub"


def datasets_cache(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env["HF_DATASETS_CACHE"]).expanduser() if env.get("HF_DATASETS_CACHE") else hf_home(env) / "datasets"


def offline(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return (env.get("HF_HUB_OFFLINE") or "").upper() in TRUE or (env.get("HF_DATASETS_OFFLINE") or "").upper() in TRUE


def read_manifest(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    path = hf_home(env) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"datasets": [], "models": []}
    return data if isinstance(data, dict) else {"datasets": [], "models": []}


def hub_model(model: str) -> bool:
    """Whether the model comes from the hub (not a built-in tiny encoder, not a local path)."""
    return model not in TINY_ENCODERS and not Path(model).expanduser().exists()


def dataset_key(d: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return (d.get("repo"), d.get("config"), d.get("hub_split"))


def _in_datasets_cache(repo: str, env: Mapping[str, str]) -> bool:
    org_name = repo.replace("/", "___")
    return (datasets_cache(env) / org_name).is_dir() or (
        hub_cache(env) / f"datasets--{repo.replace('/', '--')}"
    ).is_dir()


def _in_model_cache(model: str, env: Mapping[str, str]) -> bool:
    return (hub_cache(env) / f"models--{model.replace('/', '--')}" / "snapshots").is_dir()


def offline_problems(spec: RunSpec | Mapping[str, Any], env: Mapping[str, str] | None = None) -> str | None:
    """Under HF_HUB_OFFLINE=1 (or HF_DATASETS_OFFLINE=1): one message naming every data set split
    and model the run needs from the hub that was not staged (neither in the manifest nor in the
    cache), and the command that stages them; None when nothing is missing (or not offline).
    ``spec``: the run's, or its spec.json as read on the node."""
    env = os.environ if env is None else env
    if not offline(env):
        return None
    if not isinstance(spec, RunSpec):
        try:
            spec = RunSpec.from_dict(dict(spec), where="spec.json")
        except XcostError:
            return None  # the job itself says what is wrong with its spec
    manifest = read_manifest(env)
    staged = {dataset_key(d) for d in manifest.get("datasets") or [] if isinstance(d, dict)}
    models = {m.get("model") for m in manifest.get("models") or [] if isinstance(m, dict)}
    missing: list[str] = []
    if not env.get(HUB_MIRROR_ENV):
        for need in dict.fromkeys(needs_of(spec)):
            if need.data_dir is not None:
                continue
            t = get_task(need.task)
            key = (t.hub_id, t.hub_config(need.lang), t.hub_splits.get(need.split, need.split))
            if key not in staged and not _in_datasets_cache(t.hub_id, env):
                config = f", config {key[1]}" if key[1] else ""
                missing.append(f"data set {need.task} ({t.hub_id}{config}, split {key[2]})")
    if hub_model(spec.model) and spec.model not in models and not _in_model_cache(spec.model, env):
        missing.append(f"model {spec.model}")
    if spec.init_from and not (Path(spec.init_from) / "phase.json").is_file():
        missing.append(f"the saved encoder {spec.init_from}")
    if spec.init_target_from and not (Path(spec.init_target_from) / "phase.json").is_file():
        missing.append(f"the saved post-target model {spec.init_target_from}")
    if not missing:
        return None
    missing = list(dict.fromkeys(missing))
    return (
        f"offline (HF_HUB_OFFLINE=1) and not in the Hugging Face cache {hf_home(env)}: {'; '.join(missing)}; "
        f"run `xcost-tui stage PLAN` where the hub can be reached, with the same HF_HOME (docs/cluster.md)"
    )
