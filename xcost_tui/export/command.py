"""``xcost-tui export mlflow|wandb``: the store's runs into the trackers researchers already use.

Reads the runs through the store's query API (``select.py``), maps each to a ``TrackerRun``
(``records.py``), renders the report of their configurations into a temporary folder (the
``report`` room's ``write_report``, so the artifact is exactly what ``xcost-tui report`` writes)
and hands both to a tracker (``to_mlflow.py``, ``to_wandb.py``). docs/export.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ..report import ReportError, write_report
from ..report.select import Selection
from ..store.interruptible import Stopped
from .records import Exported, TrackerRun
from .select import tracker_runs
from .to_mlflow import export_mlflow, tracking_uri_of
from .to_mlflow import require as require_mlflow
from .to_wandb import export_wandb
from .to_wandb import require as require_wandb

_LISTED = 20  # runs listed one per line; a store of thousands is counted, not listed


def _report(store: Path, runs: list[TrackerRun], out: Path) -> Path | None:
    """The report of the exported runs' configurations, written into ``out``; None (said on
    stderr) when they have none to report, e.g. no run succeeded."""
    configs = {r.group for r in runs if r.group}
    selection = Selection(f"the {len(runs)} exported run(s)' configurations", configs)
    try:
        write_report(store, out, selection)
    except ReportError as exc:
        print(f"xcost-tui: note: no report attached: {exc}", file=sys.stderr)
        return None
    return out


def export_command(
    store: Path,
    tracker: str,
    *,
    run_ids: list[str] | None = None,
    where: str | None = None,
    timeout_s: float | None = None,
    report: bool = True,
    tracking_uri: str | None = None,
    to: str | None = None,
    experiment: str = "xcost",
    directory: str = ".",
    project: str = "xcost",
    entity: str | None = None,
) -> int:
    """Exports the selected runs (default: every run in the store) and prints one line per run."""
    (require_mlflow if tracker == "mlflow" else require_wandb)()  # a missing library is said before any work
    try:
        runs = tracker_runs(store, run_ids=run_ids, where=where, timeout_s=timeout_s)
    except Stopped as stop:
        what = "ran longer than --timeout" if stop.why == "timeout" else "was cancelled"
        print(f"xcost-tui: error: the --where condition {what}; nothing was exported", file=sys.stderr)
        return stop.exit_code
    with tempfile.TemporaryDirectory(prefix="xcost-export-") as tmp:
        folder = _report(store, runs, Path(tmp) / "report") if report else None
        if tracker == "mlflow":
            uri = tracking_uri_of(to, tracking_uri)
            done = export_mlflow(runs, uri, experiment=experiment, report=folder)
            where_to = f"MLflow {uri}, experiment {experiment!r}"
        else:
            root = Path(directory).expanduser().resolve()
            done = export_wandb(runs, root, project=project, entity=entity, report=folder)
            where_to = f"W&B offline runs in {root / 'wandb'} (project {project!r})"
    _print(done, runs, where_to, folder is not None)
    if tracker == "wandb":
        pattern = Path(directory).expanduser().resolve() / "wandb" / "offline-run-*"
        print(f"sync them later, with internet and `wandb login`: wandb sync {pattern}")
    return 0


def _print(done: list[Exported], runs: list[TrackerRun], where_to: str, reported: bool) -> None:
    metrics = {r.run_id: len(r.metrics) for r in runs}
    created = sum(d.created for d in done)
    print(
        f"exported {len(done)} run(s) to {where_to}: {created} new, {len(done) - created} updated"
        f"{'; the report attached under report/' if reported else ''}"
    )
    for d in done[:_LISTED]:
        print(f"  {d.run_id} -> {d.tracker_id} ({'new' if d.created else 'updated'}, {metrics[d.run_id]} metrics)")
    if len(done) > _LISTED:
        print(f"  ... and {len(done) - _LISTED} more")
