"""``xcost-tui stage PLAN``: put every data set split and model a plan needs into the Hugging Face
cache, where there is internet, so jobs on compute nodes without it run with ``HF_HUB_OFFLINE=1``.

- Data sets: the data pre-flight (tasks/preflight.py) loads every split the plan's runs need,
  once, in a subprocess, with the job's own loader; on a machine that reaches the hub that fills
  the datasets cache (``$HF_HOME/datasets``). Local copies (``--data-dir``) need no staging.
- Models: each hub model id of the plan is downloaded with ``huggingface_hub.snapshot_download``
  (the files transformers loads: configs, tokenizer files, safetensors weights, or the PyTorch
  weights when a repository has no safetensors), its commit recorded.
- The manifest ``$HF_HOME/xcost-staged.json`` (runner/offline.py, which also holds the check a
  job makes offline) records what was staged, plan by plan.

No torch, transformers or datasets here (the pre-flight and the downloads run in subprocesses).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from ..errors import WriteError, XcostError, path_error
from ..plan import load_plan
from ..rundir import write_json_atomic
from ..runner.offline import MANIFEST, dataset_key, hf_home, hub_model, read_manifest
from ..tasks.preflight import report_failures, run_preflight


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


HF_HOME_FIX = "set HF_HOME to a folder you can write to"


def writable_cache(home: Path, retry: str) -> None:
    """The cache folder made (or found) and writable, before anything is downloaded into it.
    Raises WriteError in the one shape (errors.path_error): HF_HOME read-only, a file, full."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=home).close()
    except OSError as exc:
        raise path_error(exc, home, retry=retry, fix=HF_HOME_FIX) from None


def stage_command(plan: str, data_dir: str | None = None, *, out: TextIO | None = None) -> int:
    """``xcost-tui stage PLAN``: 0 when everything the plan needs from the hub is in the cache now
    (and recorded in the manifest), 2 when something could not be staged (one line each). A cache
    folder that cannot be written ($HF_HOME read-only, a file, a full disk) raises WriteError."""
    out = out if out is not None else sys.stdout
    try:
        loaded = load_plan(plan, data_dir=data_dir)
    except XcostError as exc:
        print(f"xcost-tui: error: {exc}", file=sys.stderr, flush=True)
        return 2
    home = hf_home()
    print(f"stage {loaded.name}: {len(loaded.runs)} runs; Hugging Face cache {home}", file=out, flush=True)
    retry = f"xcost-tui stage {plan}"
    writable_cache(home, retry)
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
    models = sorted({s.model for s in loaded.runs if hub_model(s.model)})
    staged_models, errors = _download_models(models, out)
    if not models:
        print("models: none from the hub (tiny-xlmr or local paths)", file=out, flush=True)
    for e in errors:
        print(f"error: {e}", file=sys.stderr, flush=True)
    failed = failed or bool(errors)
    manifest = read_manifest()
    old_ds = {dataset_key(d): d for d in manifest.get("datasets") or [] if isinstance(d, dict)}
    old_ds.update({dataset_key(d): d for d in datasets})
    old_models = {m.get("model"): m for m in manifest.get("models") or [] if isinstance(m, dict)}
    old_models.update({m["model"]: m for m in staged_models})
    manifest.update(datasets=list(old_ds.values()), models=list(old_models.values()), updated=time.time())
    plans = dict(manifest.get("plans") or {})
    plans[loaded.name] = {"source": loaded.source, "staged": time.time(), "complete": not failed}
    manifest["plans"] = plans
    try:
        write_json_atomic(home / MANIFEST, manifest)
    except WriteError as exc:  # the disk filled while staging
        raise path_error(exc, retry=retry, fix=HF_HOME_FIX) from None
    n = len({dataset_key(d) for d in datasets})
    print(
        f"staged {n} data set split(s) and {len(staged_models)} model(s); manifest {home / MANIFEST}"
        + ("" if not failed else "; some could not be staged (above)"),
        file=out,
        flush=True,
    )
    if not failed:
        print("jobs can now run with HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 and this HF_HOME", file=out, flush=True)
    return 2 if failed else 0
