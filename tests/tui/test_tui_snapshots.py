"""SVG snapshots of the main screens at 80x24 and 160x48 on the deterministic fixture stores
(Compare's four views on the Compare store of support/tui.py, the rest on the standard one).

The store's runs have fixed timestamps (support/store_fixtures.py: T0), the Live screen a fixed clock and a
fake runner fed with recorded events, the store shows as ``store`` (the cwd is its parent).
Regenerate after an intended change with ``pytest -n 0 tests/tui/test_tui_snapshots.py --snapshot-update``
(one process: there the update also deletes unused snapshots).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from narrow_store import narrow_store, narrow_store_master  # noqa: F401
from support.tui import (  # noqa: F401
    fake_runner,
    make_app,
    std_store,
    std_store_master,
    verdict_store,
    verdict_store_master,
    wait_for,
)

SIZES = [(80, 24), (160, 48)]

# the Launch snapshot reads this plan, not the built-in demo (which may change)
PLAN = """
[plan]
name = "snapshot"
description = "direct vs intermediate vs few-shot on the tiny model"

[defaults]
model = "tiny-xlmr"
langs = ["it", "zh", "qu"]
max_eval_examples = 50

[[experiment]]
name = "direct"
method = "direct"
seeds = [0, 1]

[[experiment]]
name = "intermediate"
method = "intermediate"
intermediates = ["arc_challenge", "rte"]

[[experiment]]
name = "few-shot"
method = "few-shot"
shots = [4, 16]
"""


async def _runs(pilot):
    await wait_for(pilot, lambda: pilot.app.runs_version >= 1 and pilot.app.screen._options_loaded)
    await pilot.pause()


async def _detail(pilot):
    await _runs(pilot)
    await pilot.press("enter")
    from xcost_tui.tui.screens.detail import RunDetailScreen

    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunDetailScreen) and pilot.app.screen.loaded)
    await pilot.pause()


def _compare(key: str):
    """Compare (on the Compare store: four configuration families over seeds) in one view."""

    async def go(pilot):
        await _runs(pilot)
        await pilot.press("4")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.loads >= 1 and not screen.computing, timeout=30)
        await pilot.press(key)
        if key == "c":
            await wait_for(pilot, lambda: screen.curve_loads >= 1, timeout=30)
        await pilot.pause()

    return go


async def _sql(pilot):
    await _runs(pilot)
    await pilot.press("5")
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: pilot.app.screen.done >= 1)
    await pilot.pause()


async def _launch(pilot):
    await wait_for(pilot, lambda: pilot.app.screen.id == "launch" and pilot.app.screen.loads >= 1)
    await pilot.pause()


async def _live(pilot):
    await _runs(pilot)
    await pilot.press("2")
    await wait_for(pilot, lambda: pilot.app.screen.updates >= 2)
    await pilot.pause()


SCREENS = {
    "runs": _runs,
    "detail": _detail,
    "compare-frontier": _compare("f"),
    "compare-languages": _compare("g"),
    "compare-verdict": _compare("v"),
    "compare-curves": _compare("c"),
    "sql": _sql,
    "launch": _launch,
    "live": _live,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare, request, screen, size):
    # Compare reads the store of several seeds per configuration; the other screens the standard one
    store = request.getfixturevalue("verdict_store" if screen.startswith("compare") else "std_store")
    kw = {}
    if screen == "launch":
        Path("plan.toml").write_text(PLAN)  # the cwd is the test's tmp dir (std_store)
        kw = dict(plan="plan.toml", data_dir="data")
    if screen == "live":
        # two running runs: each row shows its own ETA, not only the selected one
        kw = dict(
            runner=fake_runner(
                dict(run_id="direct-tiny-xlmr-s0", name="direct", step=20),
                dict(run_id="inter-rte-tiny-xlmr-s0", name="intermediate-rte", step=10),
                dict(run_id="few-shot-tiny-xlmr-s0", name="few-shot", status="queued"),
                dict(run_id="inter-tiny-xlmr-s0", name="intermediate", status="succeeded"),
            )
        )
    app = make_app(store, **kw)
    assert snap_compare(app, terminal_size=size, run_before=SCREENS[screen])


async def _runs_sorted_by_cost(pilot):
    await _runs(pilot)
    before = pilot.app.runs_version
    await pilot.press("c")
    await wait_for(pilot, lambda: pilot.app.runs_version > before)
    await pilot.pause()


# A new user's first store at 80x24 (tests/tui/narrow_store.py: device-hours written with an exponent,
# one contended run, 3 of 11 languages): Runs shows accuracy and device-hours on its first paint and
# after `c`, whole; the Languages grid draws the 3 languages only (issue 21; test_tui_narrow.py reads
# the same screens' text).
NARROW = {
    "narrow-runs": _runs,
    "narrow-runs-c": _runs_sorted_by_cost,
    "narrow-languages": _compare("g"),
}


@pytest.mark.parametrize("screen", list(NARROW))
def test_narrow_snapshot(snap_compare, narrow_store, screen):
    assert snap_compare(make_app(narrow_store), terminal_size=(80, 24), run_before=NARROW[screen])


def test_every_snapshot_file_belongs_to_a_test():
    """syrupy fails a run on an unused snapshot only in one process: under pytest-xdist (pyproject's
    addopts) its check is off, so a renamed or removed screen's old SVG is caught here instead."""
    folder = Path(__file__).parent / "__snapshots__" / Path(__file__).stem
    expected = {f"test_screen_snapshot[{screen}-{w}x{h}].svg" for screen in SCREENS for w, h in SIZES}
    expected |= {f"test_narrow_snapshot[{screen}].svg" for screen in NARROW}
    assert {p.name for p in folder.iterdir()} == expected
