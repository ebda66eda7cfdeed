"""A run left ``running`` whose job is gone, found outside any supervisor (``xcost-tui ingest``).

A job killed outright (SIGKILL, the OOM killer, a reboot) with nobody watching it (its
``xcost-tui run`` or supervisor killed too) leaves status.json saying ``running`` for good. The
supervisor's rule (runner/reattach.py) settles such a run when it re-attaches: its claim is free
and the process status.json names is gone (or its pid now belongs to another process), so it is
recorded ``failed`` with ``job process disappeared``. ``settle_gone`` applies the same rule for
ingest, so the store does not show it running. A SLURM run is left to a supervisor: its liveness
is SLURM's word, not a pid's.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import WriteError
from ..rundir import RunStatus, StatusRecord
from ..rundir.status import read_status_lenient
from . import procs, storage
from .claims import Claims


def settle_gone(run_dir: Path) -> StatusRecord | None:
    """Records ``run_dir`` failed when status.json says running, it is no SLURM run, its job
    process is gone and no supervisor holds its claim; the record written, else None (alive,
    over, claimed, or a store that takes no writes: nothing is written)."""
    status = read_status_lenient(run_dir)
    if not _gone(run_dir, status):
        return None
    claim = None
    if run_dir.parent.name == "runs":  # in a store: its supervisors' claims say who may write it
        try:
            claim = Claims(run_dir.parent.parent).try_take(run_dir.name)
        except WriteError:
            return None
        if claim is None:
            return None  # a supervisor holds it: it records the end
    try:
        status = read_status_lenient(run_dir)  # again, under the claim: it may have ended meanwhile
        if status is None or not _gone(run_dir, status):
            return None
        return storage.mark_disappeared(run_dir, status)
    except WriteError:
        return None
    finally:
        if claim is not None:
            claim.release()


def _gone(run_dir: Path, status: StatusRecord | None) -> bool:
    if status is None or status.status != RunStatus.RUNNING or status.executor_job_id is not None:
        return False
    return procs.identify(status.job, run_dir, written=status.updated) is None
