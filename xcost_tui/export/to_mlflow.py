"""Tracker runs into MLflow: a local file store (``--to DIR``) or any tracking URI.

One MLflow run per xcost run, found again by its ``xcost.run_id`` tag: a second export logs
into the same MLflow run (tags replaced, metrics logged again at step 0 so the latest value is
the store's, new params added), never a second one. mlflow is imported only here, when the
export runs (start-up cost: ~0.8 s, and it is an optional dependency).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .records import RUN_ID_TAG, Exported, ExportError, TrackerRun

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

INSTALL_HINT = "xcost-tui export mlflow needs mlflow: pip install 'xcost-tui[export]'"
# MLflow's limits per log_batch call (mlflow/utils/validation.py MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH)
_METRICS_PER_BATCH = 1000
_PARAMS_PER_BATCH = 100


def tracking_uri_of(to: str | None, tracking_uri: str | None) -> str:
    """``--to DIR`` as a file store URI, else ``--tracking-uri``, else $MLFLOW_TRACKING_URI, else ./mlruns."""
    if to is not None:
        return Path(to).expanduser().resolve().as_uri()
    if tracking_uri:
        return tracking_uri
    return os.environ.get("MLFLOW_TRACKING_URI") or Path("mlruns").resolve().as_uri()


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _ms(value: Any) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def require() -> None:
    """ExportError saying how to install mlflow when it is missing (asked before any work is done)."""
    try:
        import mlflow.tracking  # noqa: F401  # deferred: an optional dependency (start-up cost ~0.8 s)
    except ImportError:
        raise ExportError(INSTALL_HINT) from None


def _client(uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient  # deferred: an optional dependency (start-up cost ~0.8 s)

    if uri.startswith("file:") or "://" not in uri:
        # MLflow 3 keeps its file store in maintenance mode and refuses it unless told; a folder
        # given with --to is exactly that store (docs/export.md, "MLflow")
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=uri)


def _existing(client: MlflowClient, experiment_id: str) -> dict[str, Any]:
    """The experiment's active runs by their xcost.run_id tag (the oldest one, if ever two)."""
    found: dict[str, Any] = {}
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{RUN_ID_TAG}` != ''",
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        for run in page:
            found.setdefault(str(run.data.tags.get(RUN_ID_TAG)), run)
        token = page.token
        if not token:
            return found


def _params_to_log(run: TrackerRun, existing: Any) -> dict[str, str]:
    """The params not yet logged. MLflow refuses to change a logged param, so a changed one is an
    error that says what to do (a run's spec does not change while its run id stays the same)."""
    have = dict(existing.data.params) if existing is not None else {}
    for key, value in run.params.items():
        if key in have and have[key] != value:
            raise ExportError(
                f"MLflow run {existing.info.run_id} (xcost run {run.run_id}) has param {key} = {have[key]!r}, "
                f"the store says {value!r}, and MLflow never changes a logged param: delete that MLflow run "
                f"(mlflow runs delete --run-id {existing.info.run_id}) and export again"
            )
    return {k: v for k, v in run.params.items() if k not in have}


def _log(client: MlflowClient, tracker_id: str, run: TrackerRun, params: dict[str, str], report: Path | None) -> None:
    from mlflow.entities import Metric, Param, RunTag  # deferred with mlflow itself (start-up cost)

    now = int(time.time() * 1000)
    for chunk in _chunks([Param(k, v) for k, v in params.items()], _PARAMS_PER_BATCH):
        client.log_batch(tracker_id, params=chunk)
    for chunk in _chunks([RunTag(k, v) for k, v in run.tags.items()], _PARAMS_PER_BATCH):
        client.log_batch(tracker_id, tags=chunk)
    for chunk in _chunks([Metric(k, v, now, 0) for k, v in run.metrics.items()], _METRICS_PER_BATCH):
        client.log_batch(tracker_id, metrics=chunk)
    client.log_dict(tracker_id, run.spec, "xcost/spec.json")
    if report is not None:
        client.log_artifacts(tracker_id, str(report), artifact_path="report")
    if run.mlflow_status == "RUNNING":
        client.update_run(tracker_id, status="RUNNING", name=run.name)
    else:
        client.update_run(tracker_id, name=run.name)
        client.set_terminated(tracker_id, run.mlflow_status, end_time=_ms(run.ended) or now)


def export_mlflow(
    runs: Iterable[TrackerRun], uri: str, *, experiment: str = "xcost", report: Path | None = None
) -> list[Exported]:
    """Each run into the MLflow experiment ``experiment`` (made when missing) at ``uri``; the
    report folder, when given, as the artifacts under ``report/`` of every run."""
    require()
    from mlflow.exceptions import MlflowException  # deferred with mlflow itself (start-up cost)

    try:
        client = _client(uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(experiment)
        existing = _existing(client, experiment_id)
        done = []
        for run in runs:
            old = existing.get(run.run_id)
            params = _params_to_log(run, old)
            if old is None:
                created = client.create_run(
                    experiment_id, start_time=_ms(run.started), tags={RUN_ID_TAG: run.run_id}, run_name=run.name
                )
                tracker_id = created.info.run_id
            else:
                tracker_id = old.info.run_id
            _log(client, tracker_id, run, params, report)
            done.append(Exported(run.run_id, tracker_id, old is None))
        return done
    except MlflowException as exc:  # said in one line, not a traceback
        raise ExportError(f"MLflow at {uri} refused the export: {exc.message}") from None
