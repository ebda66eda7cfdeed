"""Which runs an export copies: every run in the store, the runs named (``--run``), or the runs a
``--where`` condition on the runs table picks; read through the store's query API."""

from __future__ import annotations

from pathlib import Path

from ..store import query
from ..store.interruptible import interruptible
from ..store.query import Cancel, SqlError
from .records import ExportError, TrackerRun, tracker_run


def all_run_ids(store: Path) -> list[str]:
    """Every run of the store (any status), in run id order."""
    table = query.leaderboard(store, order_by="run_id", descending=False, columns=["run_id"])
    return [str(r) for r in table.column("run_id").to_pylist()]


def where_run_ids(store: Path, where: str, timeout_s: float | None = None) -> list[str]:
    """The runs satisfying ``where`` (``store.query.runs_where``; ctrl-c or ``timeout_s`` stops it
    with store.interruptible.Stopped)."""
    cancel = Cancel()
    try:
        return interruptible(lambda: query.runs_where(store, where, "run_id", cancel=cancel), cancel, timeout_s)
    except query.QueryCancelled:
        raise
    except SqlError as exc:
        raise ExportError(str(exc)) from None


def tracker_runs(
    store: Path, *, run_ids: list[str] | None = None, where: str | None = None, timeout_s: float | None = None
) -> list[TrackerRun]:
    """The selected runs as tracker runs; an ExportError when there is none to export."""
    if run_ids and where is not None:
        raise ExportError("export takes --run or --where, not both")
    if run_ids:
        ids = list(dict.fromkeys(run_ids))
    elif where is not None:
        ids = where_run_ids(store, where, timeout_s)
        if not ids:
            raise ExportError(f"no run of the store at {store} satisfies --where {where!r}: nothing to export")
    else:
        ids = all_run_ids(store)
        if not ids:
            raise ExportError(
                f"the store at {store} holds no runs: nothing to export (run a plan, or `xcost-tui ingest` "
                f"reads the run directories under {store}/runs)"
            )
    return [tracker_run(query.run_detail(store, run_id)) for run_id in ids]
