"""What a run ran on: versions, host, device and the code's git commit."""

from __future__ import annotations

import platform
import socket
import subprocess
from pathlib import Path

from .. import __version__


def git_commit() -> str | None:
    repo = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def collect_env(device_type: str, device_name: str, device_count: int, precision: str) -> dict:
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "device_type": device_type,
        "device_name": device_name,
        "device_count": device_count,
        "precision": precision,
        "cpu_threads": torch.get_num_threads(),
        "git_commit": git_commit(),
        "xcost_tui": __version__,
    }
