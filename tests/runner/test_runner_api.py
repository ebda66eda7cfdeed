"""The runner's typed boundary: ``RunnerAPI`` (the Scheduler and the tests' fake both satisfy
it) and notes with a level, which the front ends branch on instead of searching their text."""

from __future__ import annotations

import sys
from pathlib import Path

from xcost_tui.headless import note_line
from xcost_tui.runner import Note, NoteLevel, RunnerAPI, Scheduler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support.tui import FakeRunner  # noqa: E402


def test_the_scheduler_and_the_fake_runner_are_runner_apis(tmp_path):
    sched = Scheduler(tmp_path / "store", gpus=0, ingest=False, use_nvml=False)
    try:
        assert isinstance(sched, RunnerAPI)
        assert isinstance(FakeRunner(), RunnerAPI)
    finally:
        sched.shutdown()
    assert not isinstance(object(), RunnerAPI)


def test_notes_carry_their_level():
    info, warn, err = (
        Note.info("devices: CPU only"),
        Note.warning("x: sent SIGKILL", "x"),
        Note.error("no space left on /s"),
    )
    assert (info.level, warn.level, err.level) == (NoteLevel.INFO, NoteLevel.WARNING, NoteLevel.ERROR)
    assert warn.run_id == "x" and NoteLevel.WARNING == "warning"
    assert [note_line(n) for n in (info, warn, err)] == [
        "note: devices: CPU only",
        "warning: x: sent SIGKILL",
        "error: no space left on /s",
    ]
    assert str(info) == "devices: CPU only" and str(err) == "error: no space left on /s"


def test_the_app_pops_up_by_level_not_by_words(tmp_path):
    """A note saying "failed" at info level stays in the log; a warning without any alarming
    word pops up."""
    import asyncio

    from xcost_tui.tui.app import XcostApp

    runner = FakeRunner()
    runner.messages = [
        Note.info("inter: failed producer replaced, all fine"),
        Note.warning("store is slow"),
        Note.error("read-only: /store/locks"),
    ]
    app = XcostApp(store=tmp_path / "store", runner=runner, attach=False)
    shown: list[tuple[str, str]] = []
    app.notify = lambda message, **kw: shown.append((message, kw.get("severity")))  # type: ignore[method-assign]

    async def go():
        async with app.run_test() as pilot:
            app._got_notes(runner.drain_messages())
            await pilot.pause()

    asyncio.run(go())
    assert shown == [("store is slow", "warning"), ("read-only: /store/locks", "error")]
    assert list(app.runner_notes) == [
        "inter: failed producer replaced, all fine",
        "warning: store is slow",
        "error: read-only: /store/locks",
    ]
