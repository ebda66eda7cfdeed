"""Tracker runs into Weights & Biases, offline: run folders a person syncs later with ``wandb sync``.

One W&B run per xcost run, with a run id derived from the xcost run id (``records.wandb_run_id``).
W&B offline writes a NEW folder ``<dir>/wandb/offline-run-<time>-<id>`` each time a run id is
initialised again, and ``wandb sync`` would send every one of them into the same run (history
twice). So an export replaces its earlier folder of the run: the old one is moved aside, the new
one written, then the old one deleted (put back if the new one fails). The export's numbers are the
run's config and summary (one value per run; summary values replace each other on a re-sync).
wandb is imported only here, when the export runs (start-up cost, and an optional dependency).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .records import Exported, ExportError, TrackerRun, wandb_run_id

INSTALL_HINT = "xcost-tui export wandb needs wandb: pip install 'xcost-tui[export]'"
_ASIDE = ".xcost-replaced-"


def run_folders(directory: Path, wandb_id: str) -> list[Path]:
    """The offline run folders of one W&B run id under ``<directory>/wandb``."""
    root = directory / "wandb"
    return sorted(p for p in root.glob(f"offline-run-*-{wandb_id}") if p.is_dir()) if root.is_dir() else []


def require() -> Any:
    """The wandb module, set for offline work; ExportError saying how to install it when it is missing."""
    # W&B offline: no network, no prompt for a login, no output of its own in ours
    os.environ["WANDB_MODE"] = "offline"
    os.environ.setdefault("WANDB_SILENT", "true")
    try:
        import wandb  # deferred: an optional dependency (start-up cost ~0.4 s)
    except ImportError:
        raise ExportError(INSTALL_HINT) from None
    return wandb


def _one(wandb: Any, run: TrackerRun, directory: Path, project: str, entity: str | None, report: Path | None) -> str:
    wid = wandb_run_id(run.run_id)
    old = run_folders(directory, wid)
    aside = [p.with_name(_ASIDE + p.name) for p in old]
    for src, dst in zip(old, aside):
        src.rename(dst)
    try:
        settings = wandb.Settings(
            silent=True,
            console="off",
            x_disable_stats=True,  # no sampling of this machine: the run's costs were measured where it ran
            x_disable_meta=True,  # nor this machine's metadata, which is not the run's
            disable_git=True,
            save_code=False,
        )
        tags = [t for t in (run.tags.get("xcost.method"), run.status) if t]
        wb = wandb.init(
            project=project,
            entity=entity,
            id=wid,
            name=run.name,
            group=run.group,
            job_type="xcost-run",
            tags=tags,
            config={**run.config, **run.tags},
            dir=str(directory),
            mode="offline",
            settings=settings,
        )
        try:
            wb.summary.update(run.metrics)
            files = Path(wb.dir)
            (files / "xcost").mkdir(parents=True, exist_ok=True)
            (files / "xcost" / "spec.json").write_text(_json(run.spec), encoding="utf-8")
            wb.save(str(files / "xcost" / "spec.json"), base_path=str(files), policy="now")
            if report is not None:
                shutil.copytree(report, files / "report", dirs_exist_ok=True)
                wb.save(str(files / "report" / "*"), base_path=str(files), policy="now")
        finally:
            wb.finish(exit_code=0 if run.status in ("succeeded", "running") else 1)
    except BaseException:
        for new in run_folders(directory, wid):
            shutil.rmtree(new, ignore_errors=True)
        for src, dst in zip(old, aside):
            dst.rename(src)
        raise
    for dst in aside:
        shutil.rmtree(dst, ignore_errors=True)
    return wid


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def export_wandb(
    runs: Iterable[TrackerRun],
    directory: Path,
    *,
    project: str = "xcost",
    entity: str | None = None,
    report: Path | None = None,
) -> list[Exported]:
    """Each run as an offline W&B run under ``<directory>/wandb/``; the report folder, when given,
    as the run's files under ``report/``. Earlier exports of a run are replaced (see the module)."""
    wandb = require()
    directory = Path(directory).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    done = []
    for run in runs:
        created = not run_folders(directory, wandb_run_id(run.run_id))
        try:
            wid = _one(wandb, run, directory, project, entity, report)
        except wandb.errors.Error as exc:
            raise ExportError(f"wandb refused the offline run of {run.run_id}: {exc}") from None
        done.append(Exported(run.run_id, wid, created))
    return done
