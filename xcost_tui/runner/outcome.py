"""How a run ended once its job process is gone: one rule for the scheduler and ``xcost-tui run``.

The job records its own end (status.json, read by the rule of ``rundir.status.final_status``).
When it could not (SIGKILL, the OOM killer, a crash of the interpreter) status.json still says
``running``, which no later reader can tell from a live run: the supervisor that saw the process
end records ``cancelled`` (it had asked for the cancel) or ``failed`` with the reason instead.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from ..rundir import RunStatus, StatusRecord, final_status

DISAPPEARED = "job process disappeared (killed?)"
JOB_WRITE_FAILED = 3  # the job's exit code when it could not record its end (job/main.py)


@dataclass(frozen=True)
class Outcome:
    status: RunStatus
    error: str | None
    ended: float | None
    recorded: bool  # the job recorded this end itself: there is nothing to write


def recorded_end(record: StatusRecord | None) -> RunStatus | None:
    """The end the job recorded in status.json, None while it says the run is running."""
    status = final_status(record, None, has_events=True)
    return status if status.final else None


def job_outcome(record: StatusRecord | None, returncode: int | None, *, cancelled: bool) -> Outcome:
    """The run's end once its job process has ended: the job's own when it recorded one, else
    ``cancelled`` (a cancel was asked for) or ``failed``, with the reason. ``returncode`` None: the
    process was not our child (a job adopted from an earlier supervisor), its exit status unknown."""
    own = recorded_end(record)
    if own is not None and record is not None:
        return Outcome(own, record.error, record.ended, recorded=True)
    how = describe_exit(returncode)
    if cancelled:
        status, error = RunStatus.CANCELLED, f"cancelled ({how})"
    elif returncode is None:
        status, error = RunStatus.FAILED, DISAPPEARED
    else:
        status, error = RunStatus.FAILED, f"the job ended without a final status ({how})"
    return Outcome(status, error, time.time(), recorded=False)


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "exit status unknown (not a child of this supervisor)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit code {returncode}"
