"""``xcost-tui --headless``: plain lines without a TTY, the final leaderboard, exit codes,
Ctrl-C, and no torch/transformers/datasets in the supervisor process."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.headless import FAKE_JOB, OPTS, PLAN, REPO, cli_env, write_plan

from xcost_tui.headless import headless_command
from xcost_tui.plan import load_plan
from xcost_tui.rundir import read_status


def test_headless_without_a_tty_prints_plain_lines_and_the_leaderboard(tmp_path, monkeypatch):
    monkeypatch.setenv("XCOST_PROGRESS_EVERY_S", "0")
    plan = write_plan(tmp_path, PLAN.replace('name = "direct"', 'name = "direct-slow"'))
    store = tmp_path / "store"
    out = io.StringIO()
    # a target phase of 0.8 s: the watcher (4 looks a second) sees its progress even on a busy machine
    opts = {**OPTS, "env": {**OPTS["env"], "FAKE_JOB_STEPS": "8"}}
    rc = headless_command(
        str(plan), store=store, data_dir=None, max_parallel=None, rerun=False, out=out, scheduler_options=opts
    )
    text = out.getvalue()
    assert rc == 0, text
    assert "\x1b[" not in text, "no escape codes without a terminal"
    ids = load_plan(plan).run_ids()
    assert len(ids) == 3
    for rid in ids:
        assert f"({rid}): started" in text
    assert "direct-slow: phase target:copa (1/5)" in text
    assert "direct-slow: phase inference-bench (5/5)" in text
    assert "inter-rte: phase intermediate:rte (1/6)" in text
    assert "direct-slow: target:copa step" in text, "periodic progress lines"
    assert text.count(": succeeded in ") == 3 and "avg accuracy" in text
    assert "leaderboard: 3 run(s) of this plan" in text
    for rid in ids:
        assert rid in text.split("leaderboard:")[1]
    assert "3/3 runs succeeded" in text

    # again: everything already succeeded, so nothing runs; still exit 0 and the table
    out = io.StringIO()
    assert headless_command(str(plan), store=store, out=out, scheduler_options=OPTS) == 0
    assert out.getvalue().count("already succeeded, not run again") == 3
    assert "3/3 runs succeeded (3 already had)" in out.getvalue()


def test_headless_returns_non_zero_when_a_run_fails(tmp_path):
    plan = write_plan(tmp_path, PLAN.replace('name = "direct"', 'name = "direct-raise"'))
    out = io.StringIO()
    rc = headless_command(str(plan), store=tmp_path / "store", out=out, scheduler_options=OPTS)
    text = out.getvalue()
    assert rc == 1, text
    assert "direct-raise: failed in" in text and "fake failure in target:copa" in text
    assert "2/3 runs succeeded, 1 failed" in text
    assert "leaderboard: 3 run(s)" in text


def test_headless_bad_plan_exits_2(tmp_path, capsys):
    plan = write_plan(
        tmp_path, PLAN.replace('"direct"\n\n', '"direkt"\n\n', 1).replace('method = "direct"', 'method = "direkt"')
    )
    assert headless_command(str(plan), store=tmp_path / "store", out=io.StringIO(), scheduler_options=OPTS) == 2
    assert "experiment[0].method" in capsys.readouterr().err


def test_the_supervisor_never_imports_torch(tmp_path):
    plan = write_plan(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "xcost_tui", "--headless", str(plan), "--store", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3/3 runs succeeded" in proc.stdout
    assert "imported" not in proc.stderr


def test_the_no_heavy_imports_hook_catches_an_import(tmp_path):
    pytest.importorskip("torch")  # the hook itself is what is tested: make the supervisor import torch
    plan = write_plan(tmp_path)
    code = (
        "import sys, torch; from xcost_tui.cli import main; "
        f"sys.exit(main(['--headless', {str(plan)!r}, '--store', {str(tmp_path / 's')!r}]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=cli_env(tmp_path), cwd=tmp_path
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "the supervisor imported torch" in proc.stderr


def test_ctrl_c_cancels_running_runs_and_exits_130(tmp_path):
    plan = write_plan(tmp_path, PLAN.replace('name = "direct"', 'name = "direct-hang"'))
    store = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "xcost_tui", "--headless", str(plan), "--store", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(tmp_path),
        cwd=tmp_path,
    )
    rid = load_plan(plan).run_ids()[0]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = read_status(store / "runs" / rid)
        if status is not None and status.phase == "target:copa":
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the run never reached its target phase")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted: cancelling" in out
    assert read_status(store / "runs" / rid).status == "cancelled"
    # the queued runs never started
    for other in load_plan(plan).run_ids()[1:]:
        assert not (store / "runs" / other).exists()


def test_lint_imports_contract(tmp_path):
    exe = shutil.which("lint-imports") or (
        str(Path(sys.executable).parent / "lint-imports")
        if (Path(sys.executable).parent / "lint-imports").exists()
        else None
    )
    if exe is None:
        pytest.skip("import-linter is not installed")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [exe, "--config", str(REPO / ".importlinter")], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "KEPT" in proc.stdout


# ---- Ctrl-C at any moment ---------------------------------------------------------------------------


class _Lines:
    """The lines a process prints, collected by a thread (so the test never blocks on a pipe)."""

    def __init__(self, proc: subprocess.Popen):
        import threading

        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


def _jobs_of(store: Path) -> list:
    """The job processes (tests/support/fake_job.py) working in this store, whatever their state."""
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = p.info["cmdline"] or []
        if any(str(FAKE_JOB) == a for a in cmdline) and any(str(store) in a for a in cmdline):
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
            except psutil.NoSuchProcess:
                pass
    return found


def _poll(pred, timeout: float, what: str, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.005)
    proc.kill()
    pytest.fail(f"never saw {what}")


STUBBORN_PLAN = PLAN.replace('name = "direct"', 'name = "direct-stubborn"')


@pytest.mark.parametrize("moment", ["plan-line", "launching", "target-phase", "twice", "three-quick"])
def test_ctrl_c_at_any_moment_exits_130_and_leaves_no_job(tmp_path, moment):
    """A Ctrl-C lands anywhere: right after start, while a run is being launched (its status
    written, its job not yet running), in the middle of a phase, twice (the second kills a job
    that ignores SIGTERM), three times in a row. Each time: exit 130 soon, no job left alive,
    every run directory with a final status."""
    plan = write_plan(
        tmp_path,
        STUBBORN_PLAN
        if moment in ("twice", "three-quick")
        else PLAN.replace('name = "direct"', 'name = "direct-hang"'),
    )
    store = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "xcost_tui", "--headless", str(plan), "--store", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(tmp_path),
        cwd=tmp_path,
    )
    lines = _Lines(proc)
    rid = load_plan(plan).run_ids()[0]
    status_file = store / "runs" / rid / "status.json"

    def phase_is_target() -> bool:
        try:
            return read_status(store / "runs" / rid).phase == "target:copa"
        except Exception:  # noqa: BLE001 - being replaced
            return False

    if moment == "plan-line":
        _poll(lambda: any(line.startswith("plan ") for line in lines.lines), 60, "the plan line", proc)
        proc.send_signal(signal.SIGINT)
    elif moment == "launching":
        _poll(status_file.exists, 60, "the first status.json", proc)
        proc.send_signal(signal.SIGINT)
    else:
        _poll(phase_is_target, 60, "the target phase", proc)
        if moment == "target-phase":
            proc.send_signal(signal.SIGINT)
        elif moment == "twice":
            proc.send_signal(signal.SIGINT)
            _poll(lambda: "interrupted: cancelling" in "".join(lines.lines), 30, "the first Ctrl-C's line", proc)
            proc.send_signal(signal.SIGINT)
        else:
            for _ in range(3):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.01)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        for job in _jobs_of(store):
            job.kill()
        pytest.fail(f"no exit within 60 s after Ctrl-C ({moment})\n{lines.text()}")
    out = lines.text()
    assert proc.returncode == 130, out
    assert "Traceback" not in out, out
    deadline = time.monotonic() + 10
    while _jobs_of(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _jobs_of(store)
    for job in left:
        job.kill()
    assert not left, f"job processes left alive: {[j.pid for j in left]}\n{out}"
    runs = store / "runs"
    for run_dir in runs.iterdir() if runs.exists() else []:
        status = read_status(run_dir)
        assert status is not None and status.status.final, (run_dir.name, status, out)
    if moment == "twice":
        assert "interrupted again: killing" in out and read_status(store / "runs" / rid).status == "cancelled"
