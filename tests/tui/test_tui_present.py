"""The presentation catalogue (xcost_tui/present.py) seen from both front ends: the app and the
headless mode write the same cell for the same value, colour a status the same way; and the
layouts a new user meets at 80x24: every running run's ETA on Live, the whole quit question."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from rich.console import Console
from support.tui import (  # noqa: F401
    PY,
    REPO,
    T_FIXED,
    fake_runner,
    make_app,
    python_env,
    region_text,
    run,
    runs_ready,
    screen_lines,
    std_store,
    std_store_master,
    wait_for,
)

from xcost_tui import present
from xcost_tui.headless import LEADERBOARD_COLUMNS, _cell, end_line, print_leaderboard
from xcost_tui.rundir import RunStatus
from xcost_tui.runner import LiveRun
from xcost_tui.store import query
from xcost_tui.tui import columns as C

# (column, value, the text both front ends write): accuracy in %, NULL, SI prefixes, binary
# bytes, short durations
CASES = [
    ("avg_accuracy", 0.623, "62.3"),
    ("en_accuracy", 0.7, "70.0"),
    ("acc_it", 0.6049, "60.5"),
    ("avg_accuracy", None, "–"),
    ("train_flops", 1.234e13, "12.3T"),
    ("train_flops", None, "–"),
    ("train_energy_j", 1234.0, "1.23kJ"),
    ("train_energy_j", None, "–"),
    ("train_device_hours", 0.0123, "0.012"),
    ("peak_train_mem_bytes", 1.5 * 2**30, "1.5G"),
    ("peak_train_mem_bytes", 512, "512B"),
    ("latency_p50_s", 0.0042, "4.2ms"),
    ("duration_s", 75.0, "1m15s"),
    ("duration_s", 7300.0, "2h02m"),
    ("k", 16, "16"),
    ("k", None, "–"),
    ("intermediate", "arc_challenge,rte", "arc_challenge,rte"),
    ("status", "failed", "failed"),
]


@pytest.mark.parametrize("key,value,text", CASES, ids=[f"{k}={v}" for k, v, _ in CASES])
def test_headless_and_app_write_the_same_cell(key, value, text):
    assert _cell(key, value).plain == text  # the headless leaderboard
    assert C.BY_KEY[key].cell(value) == text  # the app's Runs table (and its sort picker's columns)


def test_one_catalogue_for_every_screen():
    """Every table takes its columns from the catalogue, so an accuracy is one Column object."""
    from xcost_tui.tui.screens import compare, detail, live

    runs_cols = {c.key: c for c in C.visible_columns(["it"])}
    assert runs_cols["avg_accuracy"] is present.AVG_ACCURACY is present.LIVE[-1]
    assert compare.MEASURES == list(present.MEASURES.values())  # Compare's axes: the catalogue's measures
    assert [c.key for c in live.COLUMNS] == [c.key for c in present.LIVE]
    assert all(present.column(k) for k in LEADERBOARD_COLUMNS)  # headless: keys of the catalogue
    assert detail.HEADLINE_COST == tuple(c.key for c in present.COSTS)
    # the ticks write the unit (J, ms, G, T), so the axis labels name what is counted
    assert compare.AXIS_LABEL == {
        "train_device_hours": "training device-hours (full pipeline)",
        "train_flops": "training FLOPs (full pipeline)",
        "train_energy_j": "training energy (full pipeline)",
        "peak_train_mem_bytes": "peak training memory",
        "query_latency_p50_s": "inference latency per query, p50 (batch 1)",
        "query_flops": "inference FLOPs per query",
        "query_energy_j": "inference energy per query",
    }
    assert present.AVG_ACCURACY.title == "avg (%)" and present.column("train_energy_j").title == "energy"


def _leaderboard_cells(store: Path) -> dict[str, dict[str, str]]:
    """run id -> column key -> the text of the headless leaderboard's cell."""
    ids = query.leaderboard(store, columns=["run_id"]).column("run_id").to_pylist()
    buf = io.StringIO()
    console = Console(file=buf, width=1000, force_terminal=False, no_color=True, highlight=False)
    assert print_leaderboard(store, ids, console)
    lines = [line for line in buf.getvalue().splitlines() if line.startswith("│")]
    keys = list(LEADERBOARD_COLUMNS)
    out = {}
    for line in lines:
        cells = dict(zip(keys, (c.strip() for c in line.strip("│").split("│"))))
        out[cells["run_id"]] = cells
    assert sorted(out) == sorted(ids)
    return out


def test_the_runs_table_and_the_headless_leaderboard_agree(std_store):
    board = _leaderboard_cells(std_store)

    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(200, 30)) as pilot:
            await runs_ready(pilot, app)
            table = app.screen.query_one("#runs-table")
            keys = [c.key for c in table.columns]
            shared = [k for k in keys if k in LEADERBOARD_COLUMNS]
            assert {
                "avg_accuracy",
                "train_flops",
                "train_energy_j",
                "peak_train_mem_bytes",
                "latency_p50_s",
                "train_device_hours",
                "status",
                "intermediate",
                "k",
            } <= set(shared)
            for run_id, row in zip(table.keys, table.rows):
                app_cells = dict(zip(keys, row))
                assert {k: app_cells[k] for k in shared} == {k: board[run_id][k] for k in shared}, run_id
            # the standard store has every shape: a NULL energy, accuracy in %, SI FLOPs
            fewshot = dict(zip(keys, table.rows[table.keys.index("fewshot-s0")]))
            assert fewshot["avg_accuracy"] == "65.0" and fewshot["train_energy_j"] == "–"
            assert fewshot["train_flops"] == "12T" and fewshot["peak_train_mem_bytes"].endswith("G")
            # the same colour for a status on both sides
            status_i = keys.index("status")
            for i, row in enumerate(table.rows):
                assert table.cell_styles[i][status_i] == present.status_style(row[status_i])
                assert _cell("status", row[status_i]).style == (present.status_style(row[status_i]) or "")
            assert present.status_style("failed") == "red" and present.status_style(RunStatus.RUNNING) == "yellow"

    run(go)


def test_end_of_run_lines_write_figures_like_the_leaderboard():
    r = LiveRun(
        run_id="direct-tiny-xlmr-s0",
        run_dir=Path("store/runs/x"),
        name="direct",
        status=RunStatus.SUCCEEDED,
        started=T_FIXED - 75,
        ended=T_FIXED,
        accuracy={"it": 0.6, "zh": 0.65, "en": 0.7},
    )
    assert end_line(r) == "direct: succeeded in 1m15s, avg accuracy 62.5% (it 60.0, zh 65.0), en 70.0"
    queued = LiveRun(run_id="q", run_dir=Path("store/runs/q"), status=RunStatus.CANCELLED)
    assert end_line(queued) == "q: cancelled in –"


def test_the_catalogue_is_core_side():
    """present.py and format.py import neither Textual nor Rich; headless does not import Textual."""
    code = (
        "import sys; import xcost_tui.present, xcost_tui.format; "
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]; "
        "import xcost_tui.headless; bad += ['textual'] if 'textual' in sys.modules else []; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=python_env(), cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr


# ---- Live: the ETA of every running run ----------------------------------------------------------


def test_live_shows_the_eta_of_every_running_run_at_80x24(std_store):
    async def go():
        runner = fake_runner(
            dict(run_id="direct-tiny-1", name="direct", step=20),
            dict(run_id="inter-tiny-1", name="intermediate", step=10),
            dict(run_id="fewshot-tiny-1", name="few-shot", status="queued"),
        )
        app = make_app(std_store, runner=runner)
        async with app.run_test(size=(80, 24)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("2")
            screen = app.screen
            await wait_for(pilot, lambda: screen.updates >= 2 and screen.data is not None)
            await pilot.pause()
            table = screen.query_one("#live-runs")
            rows = {key: dict(zip([c.key for c in table.columns], row)) for key, row in zip(table.keys, table.rows)}
            # 20 and 30 steps left at one step a second; only the first is selected (the charts')
            assert rows["direct-tiny-1"]["eta"] == "20.0s" and rows["inter-tiny-1"]["eta"] == "30.0s"
            assert rows["fewshot-tiny-1"]["eta"] == "–"
            assert screen.selected == "direct-tiny-1"
            # and on screen, at 80 columns, each in its own row
            lines = screen_lines(app)
            direct = next(line for line in lines if line.startswith("direct "))
            inter = next(line for line in lines if line.startswith("intermediate "))
            assert "20/40" in direct and direct.rstrip().endswith("20.0s")
            assert "10/40" in inter and inter.rstrip().endswith("30.0s")

    run(go)


# ---- the quit question, whole, at both sizes -----------------------------------------------------

QUIT_TEXT = (
    "1 run is executing, 1 more queued. Leave them running: they carry on in their own processes and "
    "the next start of xcost-tui shows them live again (queued runs do not start). Or cancel them."
)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_quit_dialog_shows_its_whole_explanation(std_store, size):
    async def go():
        runner = fake_runner(dict(run_id="r1"), dict(run_id="r2", status="queued"))
        app = make_app(std_store, runner=runner)
        async with app.run_test(size=size) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("q")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "QuitModal", what="the quit dialog")
            await pilot.pause()
            drawn = region_text(app, app.screen.query_one(".dialog"))
            assert QUIT_TEXT in drawn, drawn
            assert "Leave running (l)" in drawn and "Cancel runs (c)" in drawn and "Stay (esc)" in drawn
            await pilot.press("escape")

    run(go)


# ---- the collapsed flag: Runs, Detail and the end lines --------------------------------------


def test_the_collapsed_flag_is_written_once():
    assert present.collapse_text(True, 2) == "collapsed yes (2 target attempts)"
    assert present.collapse_text(False, 1) == "collapsed no"
    assert present.collapse_text(None, None) == "" and present.collapse_text(None, 3) == ""
    assert [present.cell("collapsed", v) for v in (True, False, None)] == ["yes", "no", "–"]
    assert present.cell_style("collapsed", True) == present.COLLAPSED_STYLE
    assert present.cell_style("collapsed", False) is None and present.cell_style("status", "failed") == "red"
    assert "collapsed" in [c.key for c in C.visible_columns(["it"])]


def test_end_lines_say_whether_the_run_collapsed(tmp_path):
    from support.store_fixtures import make_run_dir

    lines = {}
    for name, verdict in (("c", True), ("ok", False), ("unjudged", None)):
        run_dir = make_run_dir(
            tmp_path, run_id=name, langs=["it"], collapsed=verdict, accuracies={"it": 0.6, "en": 0.5}
        )
        r = LiveRun(
            run_id=name,
            run_dir=run_dir,
            name=name,
            status=RunStatus.SUCCEEDED,
            started=T_FIXED - 75,
            ended=T_FIXED,
            accuracy={"it": 0.6, "en": 0.5},
        )
        lines[name] = end_line(r)
    assert lines["c"] == "c: succeeded in 1m15s, avg accuracy 60.0% (it 60.0), en 50.0, collapsed yes"
    assert lines["ok"].endswith(", en 50.0, collapsed no")
    assert "collapsed" not in lines["unjudged"]


def test_the_detail_summary_says_whether_the_run_collapsed():
    from xcost_tui.tui.screens.detail import summary

    def text(run: dict) -> str:
        return summary(
            {
                "run": {"run_id": "r", "status": "succeeded", "method": "direct", **run},
                "leaderboard": {"avg_accuracy": 0.6},
            }
        ).plain

    assert "collapsed yes (2 target attempts)" in text({"collapsed": True, "target_attempts": 2})
    assert "collapsed no" in text({"collapsed": False, "target_attempts": 1})
    assert "collapsed" not in text({"collapsed": None})
    styled = summary(
        {"run": {"run_id": "r", "status": "succeeded", "collapsed": True, "target_attempts": 1}, "leaderboard": {}}
    )
    assert any(str(span.style) == present.COLLAPSED_STYLE for span in styled.spans)
    assert all(len(line) <= 80 for line in text({"collapsed": True, "target_attempts": 3}).splitlines()[2:])


def test_the_runs_table_shows_a_collapsed_run_in_red(tmp_path):
    from support.store_fixtures import make_run_dir

    from xcost_tui.store.ingest import ingest

    store = tmp_path / "store"
    make_run_dir(store, run_id="bad", langs=["it"], collapsed=True, accuracies={"it": 0.5, "en": 0.5})
    make_run_dir(store, run_id="good", langs=["it"], collapsed=False, accuracies={"it": 0.7, "en": 0.8})
    make_run_dir(store, run_id="noeval", langs=["it"], eval_english=False, accuracies={"it": 0.6})
    ingest(store)

    async def go():
        app = make_app(store)
        async with app.run_test(size=(200, 30)) as pilot:
            await runs_ready(pilot, app)
            table = app.screen.query_one("#runs-table")
            keys = [c.key for c in table.columns]
            i = keys.index("collapsed")
            assert keys[i - 1] == "status"  # beside the status
            cells = {rid: row[i] for rid, row in zip(table.keys, table.rows)}
            assert cells == {"bad": "yes", "good": "no", "noeval": "–"}
            styles = {rid: table.cell_styles[n][i] for n, rid in enumerate(table.keys)}
            assert styles == {"bad": present.COLLAPSED_STYLE, "good": None, "noeval": None}

    run(go)
