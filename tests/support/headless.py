"""A plan and the environment for headless mode with tests/support/fake_job.py standing in for the
job: shared by the headless, runner and claims tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAKE_JOB = REPO / "tests" / "support" / "fake_job.py"

PLAN = """
[defaults]
model = "tiny-xlmr"
langs = ["it", "zh"]

[[experiment]]
name = "direct"
method = "direct"

[[experiment]]
name = "inter"
method = "intermediate"
intermediates = ["arc_challenge", "rte"]
"""


def fake_cmd(run_dir: Path) -> list[str]:
    return [sys.executable, str(FAKE_JOB), str(run_dir)]


OPTS = dict(
    job_command=fake_cmd,
    env={"PYTHONPATH": str(REPO), "FAKE_JOB_STEP_S": "0.03"},
    poll_s=0.05,
    gpus=0,
    grace_s=1.0,
    ingest_every_s=1.0,
)


def write_plan(tmp_path: Path, text: str = PLAN) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "XCOST_JOB_CMD": f"{sys.executable} {FAKE_JOB}",
        "PYTHONPATH": str(REPO),
        "XCOST_ASSERT_NO_HEAVY_IMPORTS": "1",
        "TERM": "dumb",
    }
    env.pop("XCOST_DATA_DIR", None)
    env.update(extra)
    return env
