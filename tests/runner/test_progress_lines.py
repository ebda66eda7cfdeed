"""The progress lines headless and ``xcost-tui run`` share (runner/progress.py): phases numbered as
planned (a learning curve is no phase of the plan), a progress line at most every interval."""

from __future__ import annotations

from pathlib import Path

from xcost_tui.rundir import Progress, RunStatus, Sample
from xcost_tui.runner.live import LiveRun
from xcost_tui.runner.progress import ProgressLines, progress_every_s, progress_line


def _run(**kw) -> LiveRun:
    run = LiveRun("r1", Path("/tmp/r1"), name="try1", status=RunStatus.RUNNING, phases_planned=4, **kw)
    return run


def test_phases_are_numbered_as_planned_and_curves_are_not_counted():
    lines = ProgressLines(10)
    run = _run(phases_started=["target:copa"])
    assert lines.phase_lines(run, 0) == ["try1: phase target:copa (1/4)"]
    run.phases_started += ["curve:target:copa", "eval:en"]
    assert lines.phase_lines(run, 1) == [
        "try1: phase curve:target:copa (learning curve)",
        "try1: phase eval:en (2/4)",
    ]
    assert lines.phase_lines(run, 2) == [], "each phase once"


def test_a_progress_line_says_step_loss_speed_memory_and_elapsed():
    progress = Progress("target:copa", 40, 63, loss=0.69314, examples_per_s=35.24, mem_bytes=1 << 20)
    run = _run(phase="target:copa", progress=progress, started=1000.0, eta_s=18.0)
    run.sample = Sample(t=1000.0, rss_bytes=3 << 30)
    assert progress_line(run, now=1031.4) == (
        "try1: target:copa step 40/63, loss 0.6931, 35.2 ex/s, rss 3.0G, 31.4s elapsed, phase ~18.0s left"
    )
    run.sample = None
    assert "mem 1.0M" in progress_line(run, now=1031.4), "the progress event's memory without a sample"


def test_progress_lines_keep_their_interval():
    lines = ProgressLines(10)
    run = _run(phase="target:copa", progress=Progress("target:copa", 1, 9))
    assert len(lines.progress_lines(run, 100.0)) == 1
    assert lines.progress_lines(run, 105.0) == []
    assert len(lines.progress_lines(run, 110.0)) == 1
    assert ProgressLines(10).progress_lines(_run(phase="eval:it"), 100.0) == [], "no progress event, no line"


def test_the_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv("XCOST_PROGRESS_EVERY_S", "2.5")
    assert progress_every_s() == 2.5
    for bad in ("soon", "-1"):
        monkeypatch.setenv("XCOST_PROGRESS_EVERY_S", bad)
        assert progress_every_s() == 10.0
