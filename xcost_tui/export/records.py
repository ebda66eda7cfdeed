"""A store's run as one tracker run: the typed record both exporters (MLflow, W&B) write.

Pure: ``tracker_run`` turns the query API's ``run_detail`` of one run into a ``TrackerRun``
(params, tags, metrics); no tracker library is imported here, so the mapping is tested without them.
docs/export.md says what maps to what.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import XCOPA_LANGS
from ..accuracy import AVERAGE_FORMS, FORM_COLUMNS
from ..configuration import flat_settings
from ..errors import XcostError
from ..store.schema import COST_FIGURES

# The tag (MLflow) and config key (W&B) that name the xcost run a tracker run holds: an export
# finds the run it made before by it, so a second export updates that run instead of adding one.
RUN_ID_TAG = "xcost.run_id"

# xcost status -> MLflow's RunStatus name; W&B records only an exit code (0 for succeeded).
MLFLOW_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "cancelled": "KILLED", "running": "RUNNING"}

# Leaderboard columns that are the run's spec (params) or its accuracy (metrics under accuracy/),
# not a run-level figure: every other number of the leaderboard row is a metric under run/.
_SPEC_COLUMNS = frozenset({"seed", "k", "shot_seed"})
_ACCURACY_COLUMNS = {
    **{f"acc_{lang}": lang for lang in XCOPA_LANGS},
    "en_accuracy": "en",
    **{FORM_COLUMNS[form]: "avg" if form == "evaluated" else f"avg_{form}" for form in AVERAGE_FORMS},
    "common_accuracy": "common",
    "transfer_gap": "transfer_gap",
}
_COST_NAMES = tuple(name for name, _ in COST_FIGURES)
# MLflow's rule for a param or metric name (mlflow/utils/validation.py; a colon is refused on
# Windows): anything else in a phase name (':' in eval:it, '#' in eval:en#2) becomes '.' or '_'.
_BAD_KEY = re.compile(r"[^\w.\- /]")
# W&B run ids: letters, digits, '-' and '_' (a '/' or ':' would break its run paths), at most 64.
_WANDB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# MLflow keeps a param value up to 6000 characters (mlflow/utils/validation.py MAX_PARAM_VAL_LENGTH)
MAX_PARAM_CHARS = 6000


class ExportError(XcostError):
    """An export that cannot be made: an empty store or selection, a tracker library not
    installed, a tracker that refused the run."""


@dataclass(frozen=True)
class TrackerRun:
    """One xcost run as a tracker run. ``params`` never change for a run id (its spec; MLflow
    refuses to change a logged param); ``tags`` may (status, the configuration label, which an
    ingest rewrites); ``metrics`` hold only measured figures: a NULL is left out, never 0."""

    run_id: str
    name: str
    status: str  # xcost's: succeeded, failed, cancelled, running
    group: str | None  # the configuration id: runs that differ only in seed
    params: dict[str, str]  # MLflow's params are text
    config: dict[str, Any]  # the same keys, values kept as numbers, booleans, lists (W&B's config filters on them)
    tags: dict[str, str]
    metrics: dict[str, float]
    started: datetime | None = None
    ended: datetime | None = None
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def mlflow_status(self) -> str:
        return MLFLOW_STATUS.get(self.status, "FINISHED")


@dataclass(frozen=True)
class Exported:
    """What one export did with one xcost run: the tracker's run id, and whether it was new."""

    run_id: str
    tracker_id: str
    created: bool


def metric_key(*parts: str) -> str:
    """``cost/eval.it/wall_s`` from ("cost", "eval:it", "wall_s"): a name both trackers accept."""
    return "/".join(_BAD_KEY.sub("_", p.replace(":", ".")) for p in parts)


def wandb_run_id(run_id: str) -> str:
    """The W&B run id of an xcost run: the run id itself where W&B accepts it, else a readable
    stem and a hash of it, so one xcost run always maps to one W&B run."""
    if _WANDB_ID.match(run_id):
        return run_id
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", run_id).strip("-")[:40]
    return f"{stem}-{digest}" if stem else digest


def _number(value: Any) -> float | None:
    """A figure as a float; None for NULL, a flag (bool) or a non-finite value (not a measurement)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def _param_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) if value else None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 3] + "..."


def flatten_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec flat (``configuration.flat_settings``: nested tables as dotted keys,
    hparams.learning_rate) under names both trackers accept; NULLs and empty lists left out (a
    setting that was not set is not a value)."""
    return {
        metric_key(key): list(value) if isinstance(value, tuple) else value
        for key, value in flat_settings(spec).items()
        if value is not None and value != [] and value != ()
    }


def flatten_params(spec: Mapping[str, Any]) -> dict[str, str]:
    """``flatten_spec`` as MLflow params: text, lists joined by ','."""
    return {k: text for k, v in flatten_spec(spec).items() if (text := _param_value(v)) is not None}


def _time(value: Any) -> datetime | None:
    """The store's TIMESTAMP columns are UTC without a zone."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _iso(value: Any) -> str | None:
    """A time as ISO 8601 in UTC (W&B stamps its offline runs with the export's time, not the run's)."""
    t = _time(value)
    return None if t is None else t.isoformat()


def phase_metrics(phases: list[Mapping[str, Any]]) -> dict[str, float]:
    """Every measured cost figure of every phase: ``cost/<phase>/<figure>`` (wall_s, device_hours,
    flops_analytic, energy_j, peak_mem_bytes, ...). A phase's NULL figure (not measured here, or
    reused: counted in the run that incurred it) is left out."""
    out: dict[str, float] = {}
    for phase in phases:
        for name in _COST_NAMES:
            value = _number(phase.get(name))
            if value is not None:
                out[metric_key("cost", str(phase["phase"]), name)] = value
    return out


def run_metrics(board: Mapping[str, Any] | None) -> dict[str, float]:
    """The leaderboard row's numbers: accuracy per language and its averages under
    ``accuracy/`` (accuracy/it, accuracy/en, accuracy/avg), every other figure (the full
    pipeline's train_device_hours, latency, ...) under ``run/``."""
    out: dict[str, float] = {}
    for column, value in (board or {}).items():
        x = _number(value)
        if x is None or column in _SPEC_COLUMNS:
            continue
        if column in _ACCURACY_COLUMNS:
            out[metric_key("accuracy", _ACCURACY_COLUMNS[column])] = x
        else:
            out[metric_key("run", column)] = x
    return out


def _spec(run: Mapping[str, Any]) -> dict[str, Any]:
    spec = run.get("spec")
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            spec = None
    return dict(spec) if isinstance(spec, Mapping) else {}


def tracker_run(detail: Mapping[str, Any]) -> TrackerRun:
    """One run of ``store.query.run_detail`` (its runs row, leaderboard row, phases) as a tracker run."""
    run = detail["run"]
    board = detail.get("leaderboard") or {}
    spec = _spec(run)
    run_id = str(run["run_id"])
    config = flatten_spec(spec)
    config[RUN_ID_TAG] = run_id
    if run.get("config_id"):
        config["xcost.config_id"] = str(run["config_id"])
    params = flatten_params(config)
    tags = {
        RUN_ID_TAG: run_id,
        "xcost.status": str(run.get("status") or "unknown"),
        "xcost.method": str(run.get("method") or ""),
        "xcost.model": str(run.get("model") or ""),
    }
    optional_tags = {
        "xcost.config_label": run.get("config_label"),
        "xcost.config_family": run.get("config_family"),
        "xcost.device": run.get("device_name"),
        "xcost.precision": run.get("precision"),
        "xcost.host": run.get("host"),
        "xcost.git_commit": run.get("git_commit"),
        "xcost.version": run.get("xcost_tui_version"),
        "xcost.error": run.get("error"),
        "xcost.started": _iso(run.get("started")),
        "xcost.ended": _iso(run.get("ended")),
        "xcost.contended": board.get("contended"),
        "xcost.complete": board.get("complete"),
    }
    tags.update({k: text for k, v in optional_tags.items() if (text := _param_value(v)) is not None})
    return TrackerRun(
        run_id=run_id,
        name=str(run.get("name") or run_id),
        status=str(run.get("status") or "unknown"),
        group=str(run["config_id"]) if run.get("config_id") else None,
        params=params,
        config=config,
        tags=tags,
        metrics={**run_metrics(board), **phase_metrics(detail.get("phases") or [])},
        started=_time(run.get("started")),
        ended=_time(run.get("ended")),
        spec=spec,
    )
