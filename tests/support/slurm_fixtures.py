"""A real one-node SLURM cluster for the tests (scripts/slurm-ci.sh), or a skip that says why not.

``slurm_cluster`` (session): starts the cluster when it is not up and this process may (root,
apt-get for the packages), once per session; skips every SLURM test with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm-ci.sh"


def _status() -> bool:
    if shutil.which("sinfo") is None:
        return False
    return subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True, timeout=60).returncode == 0


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    if os.environ.get("XCOST_SKIP_SLURM") == "1":
        pytest.skip("XCOST_SKIP_SLURM=1")
    if _status():
        return
    if os.geteuid() != 0:
        pytest.skip("no SLURM cluster is up and scripts/slurm-ci.sh needs root to start one")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("no SLURM packages and no apt-get to install them (scripts/slurm-ci.sh)")
    try:
        proc = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.skip("scripts/slurm-ci.sh did not finish in 15 minutes")
    if proc.returncode != 0:
        tail = " / ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        pytest.skip(f"scripts/slurm-ci.sh could not start a cluster: {tail}")


def wait_for(pred, timeout: float = 60.0, what: str = "condition"):
    """``pred()``'s first true value, polled every 0.1 s; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
