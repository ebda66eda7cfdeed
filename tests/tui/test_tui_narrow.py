"""The app at 80x24 (issue 21, item 5), read off the drawn screen: the first paint of Runs shows
each run's accuracy and a cost; a figure keeps its exponent and unit (the contention mark does
not push it out of its column); the Languages grid draws only languages some configuration has
a figure for. Snapshots of the same screens: test_tui_snapshots.py (``narrow-*``)."""

from __future__ import annotations

import re

import pytest
from narrow_store import CONTENDED_RUN, LANGS, narrow_store, narrow_store_master  # noqa: F401
from support.tui import make_app, run, runs_ready, screen_lines, wait_for

from xcost_tui import XCOPA_LANGS, present
from xcost_tui import format as fmt
from xcost_tui.store import query
from xcost_tui.tui import columns as C
from xcost_tui.tui.screens.compare import LANG_COLS, grid_columns

CUT_NUMBER = re.compile(r"\d…")  # a figure cut by its column ('2.28e-0…')


def _table_lines(app, widget_id: str) -> list[str]:
    table = app.screen.query_one(widget_id)
    region = table.content_region
    return [line[region.x : region.x + region.width] for line in screen_lines(app)[region.y : region.y + region.height]]


def _expected(store) -> dict[str, tuple[str, str]]:
    """run label -> (its average accuracy's cell, its device-hours' cell with the contention mark)."""
    board = query.leaderboard(store, columns=["run_id", "name", "avg_accuracy", "train_device_hours", "contended"])
    out = {}
    for row in board.to_pylist():
        hours = present.mark_contended(C.PRIMARY_COST.cell(row["train_device_hours"]), row["contended"])
        out[present.run_label(row["run_id"], row["name"])] = (present.AVG_ACCURACY.cell(row["avg_accuracy"]), hours)
    return out


def _assert_accuracy_and_cost_drawn(lines: list[str], expected: dict[str, tuple[str, str]]) -> None:
    header = lines[0].split()
    assert "avg" in header and "dev-h" in header, lines[0]
    assert header.index("avg") < header.index("dev-h")
    drawn = {line.split()[0]: line.split() for line in lines[1:] if "·" in line}  # rows, not the scrollbar
    assert set(drawn) == set(expected)
    for label, (acc, hours) in expected.items():
        cells = drawn[label]
        assert acc in cells and hours in cells, (label, acc, hours, cells)  # whole cells, not a prefix
    assert not [line for line in lines if CUT_NUMBER.search(line)]


def test_runs_first_paint_at_80x24_shows_accuracy_and_device_hours(narrow_store):
    expected = _expected(narrow_store)
    contended = present.run_label(CONTENDED_RUN, "direct")
    assert re.fullmatch(r"\d\.\d\de-04\*", expected[contended][1])  # the case the issue met: exponent and mark

    async def go():
        app = make_app(narrow_store)
        async with app.run_test(size=(80, 24)) as pilot:
            await runs_ready(pilot, app)
            assert app.screen.query_one("#runs-table").scroll_x == 0  # no sideways scroll needed
            _assert_accuracy_and_cost_drawn(_table_lines(app, "#runs-table"), expected)

    run(go)


def test_runs_after_c_at_80x24_keeps_the_exponent(narrow_store):
    expected = _expected(narrow_store)

    async def go():
        app = make_app(narrow_store)
        async with app.run_test(size=(80, 24)) as pilot:
            await runs_ready(pilot, app)
            before = app.runs_version
            await pilot.press("c")
            await wait_for(pilot, lambda: app.runs_version > before)
            await pilot.pause()
            assert app.screen.q.order_by == "train_device_hours"
            lines = _table_lines(app, "#runs-table")
            assert "dev-h ▲" in lines[0]
            _assert_accuracy_and_cost_drawn(lines, expected)
            # cheapest first: the two direct runs (2.28e-04 device-hours) lead
            assert [line.split()[0].split("·")[0] for line in lines[1:3]] == ["direct", "direct"]

    run(go)


def test_every_runs_column_leaves_room_for_its_figures_and_the_contention_mark():
    """A figure that contention moves gets one cell more than its values need."""
    for col in C.visible_columns(XCOPA_LANGS):
        extra = len(present.CONTENDED_MARK) if col.key in present.CONTENDED_FIGURES else 0
        assert C.cell_width(col) >= col.width + extra
    assert len(present.mark_contended(fmt.hours(2.2849e-4), True)) <= C.cell_width(C.PRIMARY_COST)


def test_the_language_grid_at_80x24_draws_only_languages_with_figures(narrow_store):
    async def go():
        app = make_app(narrow_store)
        async with app.run_test(size=(80, 24)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("4")
            screen = app.screen
            await wait_for(pilot, lambda: screen.id == "compare" and screen.loads >= 1 and not screen.computing, 30)
            await pilot.press("g")
            await wait_for(pilot, lambda: screen.painted_grid >= 1)
            await pilot.pause()
            grid = screen.query_one("#compare-grid")
            keys = [c.key for c in grid.columns]
            assert keys == ["label", "runs", "avg", "en", *[lang for lang in XCOPA_LANGS if lang in LANGS], "flags"]
            for j, key in enumerate(keys[2:-1], start=2):  # every figure column has a figure
                assert any(row[j] != fmt.NULL for row in grid.rows), key
            header = _table_lines(app, "#compare-grid")[0].split()
            assert set(LANGS) <= set(header)  # all three fit in 80 columns
            assert not [lang for lang in XCOPA_LANGS if lang not in LANGS and lang in header]

    run(go)


class _Est:
    def __init__(self, value):
        self.value = value


class _Config:
    def __init__(self, **acc):
        self.accuracy = {k: _Est(v) for k, v in acc.items()}


def test_grid_columns_keep_a_language_any_configuration_evaluated():
    configs = [_Config(avg=0.6, en=0.7, it=0.6), _Config(avg=0.5, zh=0.5, qu=None)]
    assert grid_columns(configs) == ["avg", "en", "it", "zh"]  # type: ignore[arg-type]
    assert grid_columns([]) == []
    assert set(LANG_COLS) == {"avg", "en", *XCOPA_LANGS}


@pytest.mark.parametrize(
    "text,width,fitted",
    [
        ("2.28e-04", 8, "2.28e-04"),  # fits: unchanged
        ("2.28e-04", 7, "2.3e-04"),
        ("2.28e-04", 5, "2e-04"),
        ("9.96e-04", 5, "1e-03"),  # rounding up carries into the exponent
        ("476.8M", 5, "477M"),
        ("1.25kJ", 5, "1.3kJ"),  # half up, the unit kept
        ("-2.5e+03", 6, "-3e+03"),
        ("12.3T", 3, "12T"),
        ("2.28e-04", 4, "2.28e-04"),  # cannot fit without losing the exponent: left for the table to mark
        ("succeeded", 4, "succeeded"),  # not a figure
        ("–", 1, "–"),
    ],
)
def test_fit_figure_rounds_the_mantissa_never_the_exponent_or_unit(text, width, fitted):
    assert fmt.fit_figure(text, width) == fitted
