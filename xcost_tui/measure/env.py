"""What a run ran on: versions, host, device and the code's git commit."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from pathlib import Path

from .. import __version__

CHECKOUT = Path(__file__).resolve().parents[2]  # the directory holding the xcost_tui package


def cpu_model_name() -> str:
    """The CPU's model name (/proc/cpuinfo's "model name"), else what platform says: the device
    name of a run on the CPU (the job's and a measured script's)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


# Both are read once per process: a warm worker runs the code it imported at its start, so the
# commit and the versions of then are those of every run it executes (and a run saves a git
# subprocess and a walk of site-packages: 40 ms a run, job/worker.py).
@functools.cache
def git_commit(checkout: Path = CHECKOUT) -> str | None:
    """HEAD of the git checkout the package was loaded from; None when the package is not in
    one (an installed wheel), git is missing, or the repository it sits in is another one
    (e.g. site-packages inside someone's project)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"], cwd=checkout, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2:
        return None
    top, commit = lines
    try:
        if Path(top).resolve() != Path(checkout).resolve():
            return None
    except OSError:
        return None
    return commit


@functools.cache
def package_version(name: str) -> str | None:
    """An installed distribution's version, without importing it; None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def collect_env(device_type: str, device_name: str, device_count: int, precision: str) -> dict:
    """The ``env`` object of the ``run_start`` event (docs/run-directory.md). A user's measured
    script (xcost_tui/track) may train without torch: then its torch facts are None."""
    try:
        import torch
    except ImportError:
        torch = None
    cudnn = None
    if torch is not None:
        try:
            cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        except Exception:  # noqa: BLE001 - a broken cuDNN install is a fact to record, not a crash
            cudnn = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__ if torch is not None else None,
        "transformers": package_version("transformers"),
        "datasets": package_version("datasets"),
        "tokenizers": package_version("tokenizers"),
        "cuda": torch.version.cuda if torch is not None else None,
        "cudnn": cudnn,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "device_type": device_type,
        "device_name": device_name,
        "device_count": device_count,
        "precision": precision,
        "cpu_threads": torch.get_num_threads() if torch is not None else None,
        # how idle OpenMP threads wait (spin or sleep) decides CPU speed on a shared machine (docs/runner.md)
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "git_commit": git_commit(),
        "xcost_tui": __version__,
    }
