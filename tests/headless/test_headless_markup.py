"""``--headless`` prints the user's text as written: Rich markup in a run's name (``[/]``) used to
crash the final leaderboard (and the progress bars on a terminal)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from xcost_tui.headless import headless_command
from xcost_tui.plan import load_plan

REPO = Path(__file__).resolve().parents[2]
FAKE_JOB = REPO / "tests" / "support" / "fake_job.py"
NAME = "mark[/]up[bold]"

PLAN = f"""
[defaults]
model = "tiny-xlmr"
langs = ["it"]

[[experiment]]
name = "{NAME}"
method = "direct"
"""


def fake_cmd(run_dir: Path) -> list[str]:
    return [sys.executable, str(FAKE_JOB), str(run_dir)]


OPTS = dict(
    job_command=fake_cmd,
    env={"PYTHONPATH": str(REPO), "FAKE_JOB_STEP_S": "0.01"},
    poll_s=0.05,
    gpus=0,
    grace_s=1.0,
    ingest_every_s=1.0,
)


class FakeTerminal(io.StringIO):
    """An output that says it is a terminal, so the rich progress bars are drawn."""

    def isatty(self) -> bool:
        return True


def run_headless(tmp_path: Path, out: io.StringIO) -> tuple[int, str]:
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    rc = headless_command(str(plan), store=tmp_path / "store", out=out, scheduler_options=OPTS)
    return rc, out.getvalue()


def test_markup_in_a_name_prints_as_written_without_a_terminal(tmp_path):
    rc, text = run_headless(tmp_path, io.StringIO())
    assert rc == 0, text
    board = text.split("leaderboard:")[1]
    assert NAME in board
    assert load_plan(str(tmp_path / "plan.toml")).run_ids()[0] in board


def test_markup_in_a_name_prints_as_written_on_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")
    rc, text = run_headless(tmp_path, FakeTerminal())
    assert rc == 0, text
    assert NAME in text.split("leaderboard:")[1]
