"""``xcost-tui stage PLAN``: put every data set split and model a plan needs into the Hugging Face
cache, where there is internet, so jobs on compute nodes without it run with ``HF_HUB_OFFLINE=1``.

- Data sets: the data pre-flight (tasks/preflight.py) loads every split the plan's runs need,
  once, in a subprocess, with the job's own loader; on a machine that reaches the hub that fills
  the datasets cache (``$HF_HOME/datasets``). Local copies (``--data-dir``) need no staging.
- Models: each hub model id of the plan is downloaded with ``huggingface_hub.snapshot_download``
  (the files transformers loads: configs, tokenizer files, safetensors weights, or the PyTorch
  weights when a repository has no safetensors), its commit recorded.
- The manifest ``$HF_HOME/xcost-staged.json`` records what was staged, with the revisions the hub
  resolved (data sets: the commit datasets pinned; models: the snapshot's commit), plan by plan.

``offline_problems`` is the check a job makes under ``HF_HUB_OFFLINE=1`` before it starts: what
it would need from the hub that is neither in the manifest nor in the cache, said once with the
stage command. No torch, transformers or datasets here (the pre-flight and the downloads run in
subprocesses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ..errors import XcostError
from ..rundir import write_json_atomic

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


def _hub_model(model: str) -> bool:
    from ..spec import TINY_MODEL

    return model != TINY_MODEL and not Path(model).expanduser().exists()


def _dataset_key(d: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return (d.get("repo"), d.get("config"), d.get("hub_split"))


def _in_datasets_cache(repo: str, env: Mapping[str, str]) -> bool:
    org_name = repo.replace("/", "___")
    return (datasets_cache(env) / org_name).is_dir() or (
        hub_cache(env) / f"datasets--{repo.replace('/', '--')}"
    ).is_dir()


def _in_model_cache(model: str, env: Mapping[str, str]) -> bool:
    return (hub_cache(env) / f"models--{model.replace('/', '--')}" / "snapshots").is_dir()


def offline_problems(spec: Any, env: Mapping[str, str] | None = None) -> str | None:
    """Under HF_HUB_OFFLINE=1 (or HF_DATASETS_OFFLINE=1): one message naming every data set split
    and model the run needs from the hub that was not staged (neither in the manifest nor in the
    cache), and the command that stages them; None when nothing is missing (or not offline)."""
    from ..spec import RunSpec
    from ..tasks.loading import HUB_MIRROR_ENV
    from ..tasks.needs import needs_of
    from ..tasks.registry import get_task

    env = os.environ if env is None else env
    if not offline(env):
        return None
    if not isinstance(spec, RunSpec):
        try:
            spec = RunSpec.from_dict(dict(spec), where="spec.json")
        except XcostError:
            return None  # the job itself says what is wrong with its spec
    manifest = read_manifest(env)
    staged = {_dataset_key(d) for d in manifest.get("datasets") or [] if isinstance(d, dict)}
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
    if _hub_model(spec.model) and spec.model not in models and not _in_model_cache(spec.model, env):
        missing.append(f"model {spec.model}")
    if spec.init_from and not (Path(spec.init_from) / "phase.json").is_file():
        missing.append(f"the saved encoder {spec.init_from}")
    if not missing:
        return None
    missing = list(dict.fromkeys(missing))
    return (
        f"offline (HF_HUB_OFFLINE=1) and not in the Hugging Face cache {hf_home(env)}: {'; '.join(missing)}; "
        f"run `xcost-tui stage PLAN` where the hub can be reached, with the same HF_HOME (docs/cluster.md)"
    )


# ---- the command --------------------------------------------------------------------------------


def _download_models(models: list[str], out: TextIO) -> tuple[list[dict[str, Any]], list[str]]:
    """Each model's files into the hub cache, in a subprocess (huggingface_hub); (staged, errors)."""
    if not models:
        return [], []
    code = r"""
import json, sys
from huggingface_hub import HfApi, snapshot_download
for model in json.loads(sys.argv[1]):
    try:
        info = HfApi().model_info(model)
        names = [s.rfilename for s in info.siblings or []]
        weights = ["*.safetensors"] if any(n.endswith(".safetensors") for n in names) else ["pytorch_model.bin"]
        path = snapshot_download(model, revision=info.sha, allow_patterns=["*.json", "*.model", "*.txt", *weights])
        print("XCOST-STAGE " + json.dumps({"model": model, "revision": info.sha, "path": path}), flush=True)
    except Exception as exc:
        print("XCOST-STAGE " + json.dumps({"model": model, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(models)], capture_output=True, text=True)
    staged, errors = [], []
    for line in proc.stdout.splitlines():
        if not line.startswith("XCOST-STAGE "):
            continue
        rec = json.loads(line[len("XCOST-STAGE ") :])
        if rec.get("error"):
            errors.append(f"model {rec['model']}: {rec['error']}")
        else:
            staged.append(rec)
            print(f"  model {rec['model']}: revision {rec['revision']} ({rec['path']})", file=out, flush=True)
    if proc.returncode != 0 and not staged and not errors:
        errors.append(f"the model download failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    return staged, errors


def stage_command(plan: str, data_dir: str | None = None, *, out: TextIO | None = None) -> int:
    """``xcost-tui stage PLAN``: 0 when everything the plan needs from the hub is in the cache now
    (and recorded in the manifest), 2 when something could not be staged (one line each)."""
    from ..plan import load_plan
    from ..tasks.preflight import report_failures, run_preflight

    out = out if out is not None else sys.stdout
    try:
        loaded = load_plan(plan, data_dir=data_dir)
    except XcostError as exc:
        print(f"xcost-tui: error: {exc}", file=sys.stderr, flush=True)
        return 2
    home = hf_home()
    print(f"stage {loaded.name}: {len(loaded.runs)} runs; Hugging Face cache {home}", file=out, flush=True)
    hub_specs = [s for s in loaded.runs if not s.data_dir]
    datasets: list[dict[str, Any]] = []
    failed = False
    if hub_specs:
        result = run_preflight(hub_specs, out)
        for event in result.loaded:
            for src in event.get("sources") or []:
                if src.get("source") in ("hub", "hub-mirror"):
                    datasets.append(
                        {
                            k: src.get(k)
                            for k in (
                                "task",
                                "split",
                                "lang",
                                "repo",
                                "config",
                                "hub_split",
                                "revision",
                                "resolved_revision",
                                "rows",
                                "source",
                            )
                        }
                    )
        if not result.ok:
            report_failures(result, sys.stderr)
            failed = True
    else:
        print("data: every run reads local copies (--data-dir or data_dir): nothing to stage", file=out, flush=True)
    models = sorted({s.model for s in loaded.runs if _hub_model(s.model)})
    staged_models, errors = _download_models(models, out)
    if not models:
        print("models: none from the hub (tiny-xlmr or local paths)", file=out, flush=True)
    for e in errors:
        print(f"error: {e}", file=sys.stderr, flush=True)
    failed = failed or bool(errors)
    manifest = read_manifest()
    old_ds = {_dataset_key(d): d for d in manifest.get("datasets") or [] if isinstance(d, dict)}
    old_ds.update({_dataset_key(d): d for d in datasets})
    old_models = {m.get("model"): m for m in manifest.get("models") or [] if isinstance(m, dict)}
    old_models.update({m["model"]: m for m in staged_models})
    manifest.update(datasets=list(old_ds.values()), models=list(old_models.values()), updated=time.time())
    plans = dict(manifest.get("plans") or {})
    plans[loaded.name] = {"source": loaded.source, "staged": time.time(), "complete": not failed}
    manifest["plans"] = plans
    home.mkdir(parents=True, exist_ok=True)
    write_json_atomic(home / MANIFEST, manifest)
    n = len({_dataset_key(d) for d in datasets})
    print(
        f"staged {n} data set split(s) and {len(staged_models)} model(s); manifest {home / MANIFEST}"
        + ("" if not failed else "; some could not be staged (above)"),
        file=out,
        flush=True,
    )
    if not failed:
        print("jobs can now run with HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 and this HF_HOME", file=out, flush=True)
    return 2 if failed else 0
