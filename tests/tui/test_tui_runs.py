"""The Runs screen: sorting (accuracy, compute, language; keys, picker, header click), filters,
languages shown, paging, the detail screen, exports."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pyarrow.parquet as pq
from support.tui import (  # noqa: F401
    REPO,
    STD_ORDER_BY_ACC,
    make_app,
    press_and_wait,
    run,
    runs_ready,
    std_store,
    std_store_master,
    text_of,
    wait_for,
)

from xcost_tui.store import query

sys.path.insert(0, str(REPO / "benchmarks"))


def ids(app) -> list[str]:
    return app.screen.page_run_ids()


def test_default_order_is_accuracy_and_r_reverses(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            assert ids(app) == STD_ORDER_BY_ACC
            status = text_of(app.screen.query_one("#runs-status"))
            assert "rows 1–6 of 6" in status and "sort avg ▼" in status
            await press_and_wait(pilot, app, "r")
            # ascending, NULLs still last
            assert ids(app) == [
                "direct-s0",
                "inter-s0-reuse",
                "inter-s0",
                "fewshot-s0",
                "direct-failed",
                "direct-running",
            ]
            await press_and_wait(pilot, app, "a")  # back to best first
            assert ids(app) == STD_ORDER_BY_ACC

    run(go)


def test_sort_by_compute_columns(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            await press_and_wait(pilot, app, "c")  # training device-hours, cheapest first
            assert app.screen.q.order_by == "train_device_hours" and not app.screen.q.descending
            order = ids(app)
            expected = (
                query.leaderboard(
                    std_store, order_by="train_device_hours", descending=False, columns=["run_id"], complete_first=True
                )
                .column("run_id")
                .to_pylist()
            )
            assert order == expected
            # the ranking holds the complete runs; the failed and the running one follow it
            assert order[-2:] == ["direct-failed", "direct-running"]
            # the full pipeline: 0.06 (SIQA, reused) + 0.02 (COPA) is dearer than 0.06 + 0.01
            assert order[-3] == "inter-s0-reuse"
            assert order.index("inter-s0") < order.index("inter-s0-reuse")
            await press_and_wait(pilot, app, "c")
            assert app.screen.q.order_by == "train_flops"
            await press_and_wait(pilot, app, "c")
            assert app.screen.q.order_by == "train_energy_j"
            assert ids(app)[-3] == "fewshot-s0"  # no energy figure: NULL sorts last of the ranking

    run(go)


def test_sort_by_language_with_the_picker_and_header_click(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(160, 30)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("s")
            await pilot.pause()
            await pilot.press("z", "h", "enter")
            await wait_for(pilot, lambda: app.screen.q.order_by == "acc_zh" and app.screen.shown.order_by == "acc_zh")
            await pilot.pause()
            # zh: inter-s0 0.65 > reuse 0.64 > direct-s0 0.60 = fewshot-s0 0.60 (tie by run id) > NULLs
            assert ids(app) == [
                "inter-s0",
                "inter-s0-reuse",
                "direct-s0",
                "fewshot-s0",
                "direct-failed",
                "direct-running",
            ]
            # a click on the "it" header sorts by Italian (best first), a second click reverses
            table = app.screen.query_one("#runs-table")
            col = [c.key for c in table.columns].index("acc_it")
            # the header as drawn: the run column stays at the left, the others are scrolled
            x = table._offsets[col] - int(table.scroll_x) + 1
            before = app.runs_version
            await pilot.click("#runs-table", offset=(x, 0))
            await wait_for(pilot, lambda: app.runs_version > before)
            await pilot.pause()
            assert app.screen.q.order_by == "acc_it" and app.screen.q.descending
            assert ids(app)[:4] == ["fewshot-s0", "inter-s0", "inter-s0-reuse", "direct-s0"]
            before = app.runs_version
            await pilot.click("#runs-table", offset=(x, 0))
            await wait_for(pilot, lambda: app.runs_version > before)
            assert not app.screen.q.descending and ids(app)[0] == "direct-s0"
            # > moves the sort key to the next column
            await press_and_wait(pilot, app, "greater_than_sign")
            assert app.screen.q.order_by == "acc_qu"

    run(go)


def test_filters_search_and_clear(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            screen = app.screen
            await wait_for(pilot, lambda: screen._options_loaded, what="filter options")
            await pilot.pause()
            before = app.runs_version
            screen.query_one("#f-method").value = "direct"
            await wait_for(pilot, lambda: app.runs_version > before)
            assert sorted(ids(app)) == ["direct-failed", "direct-running", "direct-s0"]
            assert "of 3 (of 6 runs)" in text_of(screen.query_one("#runs-status"))
            before = app.runs_version
            screen.query_one("#f-status").value = "failed"
            await wait_for(pilot, lambda: app.runs_version > before)
            assert ids(app) == ["direct-failed"]
            await press_and_wait(pilot, app, "x")
            assert len(ids(app)) == 6
            # free text: "/" focuses the search box; the table follows as you type
            await pilot.press("slash", "r", "e", "u", "s", "e")
            await wait_for(pilot, lambda: ids(app) == ["inter-s0-reuse"], what="search results")
            await pilot.press("enter")
            assert app.focused is screen.query_one("#runs-table")
            await press_and_wait(pilot, app, "x")
            # nothing matches: a message, not an empty grid
            screen.set_filter(text="no-such-run")
            await wait_for(pilot, lambda: screen._state == "nomatch")
            assert screen.query_one("#runs-empty").display

    run(go)


def test_languages_shown(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("l")
            await pilot.pause()
            await pilot.press("n")  # none
            await pilot.press("down", "down", "down", "space")  # et ht id [it]
            before = app.runs_version
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.runs_version > before)
            keys = [c.key for c in app.screen.query_one("#runs-table").columns]
            assert "acc_it" in keys and "acc_zh" not in keys and "acc_et" not in keys
            assert "avg_accuracy" in keys and "train_device_hours" in keys

    run(go)


def test_paging_a_larger_store(tmp_path, monkeypatch):
    from make_store import make_store

    make_store(tmp_path / "big", 250)
    monkeypatch.chdir(tmp_path)

    async def go():
        app = make_app(Path("big"))
        async with app.run_test(size=(100, 30)) as pilot:
            await runs_ready(pilot, app)
            status = lambda: text_of(app.screen.query_one("#runs-status"))  # noqa: E731
            assert "rows 1–100 of 250" in status() and len(ids(app)) == 100
            first_page = ids(app)
            await press_and_wait(pilot, app, "right_square_bracket")
            assert "rows 101–200 of 250" in status()
            await press_and_wait(pilot, app, "n")
            assert "rows 201–250 of 250" in status() and len(ids(app)) == 50
            await pilot.press("n")  # past the end: a bell, nothing else
            assert "rows 201–250 of 250" in status()
            await press_and_wait(pilot, app, "g")
            assert ids(app) == first_page
            await press_and_wait(pilot, app, "G")
            assert "rows 201–250" in status()
            await press_and_wait(pilot, app, "p")
            assert "rows 101–200" in status()
            # a re-sort starts again on page 1
            await press_and_wait(pilot, app, "c")
            assert "rows 1–100" in status()

    run(go)


def test_selecting_a_run_opens_its_detail(std_store):
    async def go():
        from xcost_tui.tui.screens.detail import RunDetailScreen

        app = make_app(std_store)
        async with app.run_test(size=(120, 36)) as pilot:
            await runs_ready(pilot, app)
            await press_and_wait(pilot, app, "c")  # direct-s0 first (the cheapest complete run)
            while app.screen.selected_run_id() != "direct-s0":
                await pilot.press("down")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.loaded)
            detail = app.screen
            assert detail.run_id == "direct-s0"
            summary = text_of(detail.query_one("#detail-summary"))
            assert "direct-s0" in summary and "succeeded" in summary
            phases = detail.query_one("#detail-phases")
            assert phases.row_count == len(detail.detail["phases"]) == 14  # target, en + 11 langs, bench
            acc = text_of(detail.query_one("#detail-acc"))
            assert "it" in acc and "53.0" in acc
            log = detail.query_one("#detail-log")
            await wait_for(pilot, lambda: log.line_count >= 50, what="the log tail")
            lines = list(log.lines)
            assert lines[-1] == "log line 080" and lines[0] == "log line 031"  # the last 50 lines
            await pilot.press("escape")
            assert app.screen.id == "runs"
            # a run without a job.log says so (the next cheapest: fewshot-s0)
            await pilot.press("down")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.loaded)
            log = app.screen.query_one("#detail-log")
            await wait_for(pilot, lambda: log.line_count >= 1)
            assert "no log" in log.lines[0]

    run(go)


def test_exports_follow_sort_and_filter(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            await press_and_wait(pilot, app, "c")
            await pilot.press("e")
            await wait_for(pilot, lambda: len(app.exports) == 1, what="the CSV export")
            path = app.exports[0]
            assert path.suffix == ".csv" and path.exists()
            rows = list(csv.DictReader(path.open()))
            assert [r["run_id"] for r in rows] == ids(app)
            assert {"model", "method", "avg_accuracy", "acc_it", "train_flops", "latency_p50_s"} <= set(rows[0])
            app.screen.set_filter(method="intermediate")
            await wait_for(pilot, lambda: len(ids(app)) == 2)
            await pilot.press("E")
            await wait_for(pilot, lambda: len(app.exports) == 2, what="the Parquet export")
            table = pq.read_table(app.exports[1])
            # sorted by the full pipeline's device-hours: the reuser's reused SIQA phase counts
            assert table.column("run_id").to_pylist() == ["inter-s0", "inter-s0-reuse"]

    run(go)


def test_all_rows_are_exported_not_just_the_page(tmp_path, monkeypatch):
    from make_store import make_store

    make_store(tmp_path / "big", 230)
    monkeypatch.chdir(tmp_path)

    async def go():
        app = make_app(Path("big"))
        async with app.run_test(size=(100, 30)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("e")
            await wait_for(pilot, lambda: app.exports, what="the export")
            rows = list(csv.DictReader(app.exports[0].open()))
            assert len(rows) == 230

    run(go)


# ---- rankings, the identifying column, languages covered -------------------------------------------


def _failed_early_store(root: Path) -> Path:
    """A succeeded run over the 11 languages (60%), and a failed one that evaluated 2 (90%) before it
    failed: two runs of the same experiment, differing only in the seed (and the id's hash)."""
    from support.store_fixtures import make_run_dir

    from xcost_tui import XCOPA_LANGS
    from xcost_tui.store.ingest import ingest

    make_run_dir(
        root,
        run_id="direct-tiny-xlmr-s0-aaaaaaaaaa",
        name="direct",
        seed=0,
        accuracies={**{lang: 0.6 for lang in XCOPA_LANGS}, "en": 0.7},
    )
    make_run_dir(
        root,
        run_id="direct-tiny-xlmr-s1-bbbbbbbbbb",
        name="direct",
        seed=1,
        status="failed",
        stop_after="eval:ht",
        accuracies={"et": 0.9, "ht": 0.9, "en": 0.7},
    )
    ingest(root)
    return root


def test_a_failed_two_language_run_is_not_ranked_above_a_succeeded_eleven_language_run(tmp_path, monkeypatch):
    store = _failed_early_store(tmp_path / "store")
    monkeypatch.chdir(tmp_path)
    ok, failed = "direct-tiny-xlmr-s0-aaaaaaaaaa", "direct-tiny-xlmr-s1-bbbbbbbbbb"
    # what a plain sort by the average does: the failed run's 2-language mean comes first
    assert query.leaderboard(store, columns=["run_id"]).column("run_id").to_pylist() == [failed, ok]

    async def go():
        app = make_app(Path("store"))
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            screen = app.screen
            assert screen.q.order_by == "avg_accuracy" and screen.q.descending
            assert ids(app) == [ok, failed]
            table = screen.query_one("#runs-table")
            keys = [c.key for c in table.columns]
            rows = dict(zip(table.keys, table.rows))
            assert rows[ok][keys.index("n_langs")] == "11/11" and rows[failed][keys.index("n_langs")] == "2/11"
            assert rows[ok][keys.index("avg_accuracy")] == "60.0" and rows[failed][keys.index("avg_accuracy")] == "90.0"
            # outside the ranking: dim, its status still red
            styles = table.cell_styles[table.keys.index(failed)]
            assert styles[keys.index("status")] == "red" and styles[keys.index("avg_accuracy")] == "dim"
            assert all(s is None for i, s in enumerate(table.cell_styles[0]) if keys[i] != "status")
            status = text_of(screen.query_one("#runs-status"))
            assert "ranked: 1 complete, then 1 failed/running/partial (A: rank all)" in status
            # reversed, the complete runs still come first
            await press_and_wait(pilot, app, "r")
            assert ids(app) == [ok, failed]
            await press_and_wait(pilot, app, "a")
            # A ranks every run together, A again puts the complete ones first
            await press_and_wait(pilot, app, "A")
            assert ids(app) == [failed, ok] and screen.q.rank_all
            assert "all ranked" in text_of(screen.query_one("#runs-status"))
            await press_and_wait(pilot, app, "A")
            assert ids(app) == [ok, failed]

    run(go)


def test_the_identifying_column_stays_when_the_table_scrolls(tmp_path, monkeypatch):
    from support.tui import screen_lines

    _failed_early_store(tmp_path / "store")
    monkeypatch.chdir(tmp_path)

    async def go():
        app = make_app(Path("store"))
        async with app.run_test(size=(80, 24)) as pilot:
            await runs_ready(pilot, app)
            table = app.screen.query_one("#runs-table")
            assert [c.key for c in table.columns][0] == "run"
            region = table.content_region

            def drawn() -> list[str]:
                return [line[region.x : region.x + region.width] for line in screen_lines(app)[region.y : region.y + 3]]

            before = drawn()
            assert before[0].startswith("run ") and before[1].startswith("direct·aaaaaa")
            assert before[2].startswith("direct·bbbbbb")
            for _ in range(40):  # scroll to the last column
                await pilot.press("right")
            await pilot.pause()
            assert table.scroll_x > 0
            after = drawn()
            assert after[1].startswith("direct·aaaaaa") and after[2].startswith("direct·bbbbbb")
            assert after[0].startswith("run ")
            assert "lat p50" in after[0] and "lat p50" not in before[0]  # the other columns did move
            # a header click on a scrolled column sorts by it
            x = after[0].index("lat p50") + 1
            before_v = app.runs_version
            await pilot.click("#runs-table", offset=(x, 0))
            await wait_for(pilot, lambda: app.runs_version > before_v)
            assert app.screen.q.order_by == "latency_p50_s"

    run(go)
