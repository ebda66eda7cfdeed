"""A job run in-process (``main.Job._run``: no subprocess, no signals, no sampler) with a watch on
FlopCounterMode: whether it ever ran while a phase's meter was open (a timed window)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils import flop_counter

from xcost_tui.job.main import Job
from xcost_tui.measure.timer import PhaseMeter
from xcost_tui.rundir import read_jsonl
from xcost_tui.rundir.layout import EVENTS
from xcost_tui.spec import RunSpec


class Watch:
    """Meter windows open now, and FlopCounterMode entries outside and inside them."""

    def __init__(self) -> None:
        self.open = 0
        self.counted_untimed = 0
        self.counted_timed = 0


def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    w = Watch()
    enter, leave = PhaseMeter.__enter__, PhaseMeter.__exit__
    counter_enter = flop_counter.FlopCounterMode.__enter__

    def meter_enter(self):
        w.open += 1
        return enter(self)

    def meter_exit(self, *exc):
        w.open -= 1
        return leave(self, *exc)

    def counter(self):
        if w.open:
            w.counted_timed += 1
        else:
            w.counted_untimed += 1
        return counter_enter(self)

    monkeypatch.setattr(PhaseMeter, "__enter__", meter_enter)
    monkeypatch.setattr(PhaseMeter, "__exit__", meter_exit)
    monkeypatch.setattr(flop_counter.FlopCounterMode, "__enter__", counter)
    return w


def run_in_process(run_dir: Path, spec: dict) -> list[dict]:
    """The events of a job run in this process on ``spec`` (the job's global deterministic setting
    restored after)."""
    run_dir.mkdir(parents=True)
    was, warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    job = Job(run_dir)
    try:
        job._run(RunSpec.from_dict(spec))
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn)
        job.predictions.close()
    return read_jsonl(run_dir / EVENTS)


def warmup_before(events: list[dict], phase: str) -> dict:
    """The warmup event right before ``phase``'s phase_start (asserting that it is right before)."""
    i = next(i for i, e in enumerate(events) if e["type"] == "phase_start" and e["phase"] == phase)
    prev = events[i - 1]
    assert prev["type"] == "warmup" and prev["before"] == phase, prev
    return prev


def ends(events: list[dict]) -> dict[str, dict]:
    return {e["phase"]: e for e in events if e["type"] == "phase_end"}
