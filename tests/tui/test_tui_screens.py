"""Compare, SQL, Launch, Live (fake runner and the real scheduler), quitting, store states,
help and screen switching, and the no-heavy-imports rule."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
from support.tui import (  # noqa: F401
    PY,
    REPO,
    T_FIXED,
    FakeRunner,
    fake_runner,
    make_app,
    python_env,
    run,
    runs_ready,
    std_store,
    std_store_master,
    text_of,
    wait_for,
)

from xcost_tui.store import db, query

# ---- Compare ------------------------------------------------------------------------------------


def test_compare_plot_frontier_axes_and_svg(std_store):
    """Compare works on configurations: a point per configuration (the SIQA producer and its
    reuser are one), the frontier of configurations, x cycles the cost axes, a configuration
    without the figure is counted with the reason, e saves the screen as SVG."""
    from xcost_tui.verdict.api import verdict

    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(120, 40)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("4")
            screen = app.screen
            assert screen.id == "compare"
            await wait_for(pilot, lambda: screen.loads >= 1 and screen.data is not None)
            v = verdict(std_store)
            assert set(screen.data.verdict.configurations) == set(v.configurations)
            assert {c.family for c in screen.data.configurations} == {"direct", "intermediate", "few-shot"}
            table = screen.query_one("#compare-configs")
            assert sorted(table.keys) == sorted(v.configurations)
            # the frontier by brute force: no other configuration at most as costly and at least as
            # accurate with one of the two strictly better
            pts = {c.config_id: (c.costs["train_device_hours"], c.avg.value) for c in v.configurations.values()}
            front = {
                a
                for a, (x, y) in pts.items()
                if not any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for b, (x2, y2) in pts.items() if b != a)
            }
            assert set(screen.frontier_ids) == front and front
            await pilot.press("x")
            assert screen.measure == "train_flops"
            await pilot.press("x")
            assert screen.measure == "train_energy_j"  # few-shot: no energy figure
            legend = text_of(screen.query_one("#compare-legend"))
            assert "1 lack energy: RAPL is not readable here (permission denied)" in legend
            await pilot.press("e")
            await wait_for(pilot, lambda: app.exports, what="the SVG")
            svg = app.exports[0]
            assert svg.suffix == ".svg" and svg.read_text().lstrip().startswith("<svg")

    run(go)


# ---- SQL ----------------------------------------------------------------------------------------


def test_sql_good_bad_readonly_capped_and_cancel(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(120, 30)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("5")
            screen = app.screen
            assert screen.id == "sql"

            async def run_sql(sql: str) -> None:
                done = screen.done
                screen.set_sql(sql)
                await pilot.press("ctrl+r")
                await wait_for(pilot, lambda: screen.done > done, what=f"the query {sql!r}")
                await pilot.pause()

            await run_sql("SELECT run_id, avg_accuracy FROM leaderboard ORDER BY run_id")
            table = screen.query_one("#sql-results")
            assert screen.last_error is None and table.keys and len(table.rows) == 6
            assert [r[0] for r in table.rows][:2] == ["direct-failed", "direct-running"]
            assert "6 rows" in text_of(screen.query_one("#sql-status"))
            await run_sql("SELEC 1")
            assert "syntax error" in screen.last_error.lower()
            err = screen.query_one("#sql-error")
            assert err.display and "syntax" in text_of(err).lower()
            await run_sql("DELETE FROM runs")
            assert "read-only" in screen.last_error.lower() or "read only" in screen.last_error.lower()
            assert query.count_runs(std_store) == 6
            await run_sql("SELECT * FROM range(100000)")
            assert screen.result_rows == 500 and screen.result_more
            assert "500 of >500 rows" in text_of(screen.query_one("#sql-status"))
            assert not screen.query_one("#sql-error").display
            # a slow query is interrupted by ctrl+g
            done = screen.done
            screen.set_sql("SELECT count(*) FROM range(100000000000) a, range(10) b WHERE a.range % 7 = b.range")
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: screen._con is not None, what="the query to start")
            await pilot.pause(0.2)
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: screen.done > done, timeout=20, what="the cancel")
            assert "cancel" in (screen.last_error or "").lower() or "interrupt" in (screen.last_error or "").lower()

    run(go)


# ---- Launch -------------------------------------------------------------------------------------


def test_launch_preloads_the_plan_and_starts_the_queue(std_store, tmp_path):
    async def go():
        runner = FakeRunner()
        app = make_app(std_store, plan="demo", data_dir=str(tmp_path / "data"), runner=runner)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: app.screen.id == "launch" and app.screen.loads >= 1, what="the plan")
            screen = app.screen
            assert screen.plan is not None and len(screen.plan.runs) == 8
            assert all(s.data_dir == str(tmp_path / "data") for s in screen.plan.runs)
            table = screen.query_one("#launch-runs")
            assert [r[1] for r in table.rows] == [
                "direct",
                "intermediate-arc_challenge",
                "intermediate-rte",
                *(f"few-shot-draw{d}" for d in range(5)),  # five draws of the shots (issue 19)
            ]
            assert all(r[2] == "planned" for r in table.rows)
            screen.query_one("#launch-parallel").value = "2"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: screen.started >= 1, what="the queue")
            assert runner.started == 1 and len(runner.submitted) == 8 and runner.max_parallel == 2
            await wait_for(pilot, lambda: all(r[2] == "queued" for r in table.rows), what="queued states")
            # switching screens keeps the runner (it lives on the App)
            await pilot.press("1")
            await pilot.press("3")
            assert app.runner is runner
            # a bad plan is reported in place
            path = screen.query_one("#launch-path")
            path.value = str(tmp_path / "missing.toml")
            loads = screen.loads
            await pilot.click("#launch-load")
            await wait_for(pilot, lambda: screen.loads > loads)
            assert "no such plan file" in text_of(screen.query_one("#launch-summary"))

    run(go)


# ---- Live ---------------------------------------------------------------------------------------


def test_live_screen_from_recorded_events_without_gpu(std_store):
    async def go():
        runner = fake_runner(
            dict(run_id="direct-tiny-1", name="direct", step=20),
            dict(run_id="fewshot-tiny-1", name="few-shot", status="queued"),
            dict(run_id="inter-tiny-1", name="intermediate", status="succeeded"),
        )
        app = make_app(std_store, runner=runner)
        async with app.run_test(size=(120, 40)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("2")
            screen = app.screen
            await wait_for(pilot, lambda: screen.updates >= 1 and screen.data is not None)
            table = screen.query_one("#live-runs")
            assert table.keys[0] == "direct-tiny-1"  # active first
            row = dict(zip([c.key for c in table.columns], table.rows[0]))
            assert row["status"] == "running" and row["phase"] == "target:copa" and row["step"] == "20/40"
            assert row["eta"] == "20.0s"  # 20 steps left at 1 step/s
            head = text_of(screen.query_one("#live-progress"))
            assert "step 20/40 (50%)" in head and "phase ETA 20.0s" in head
            assert screen.data.charts["mem"]["title"].startswith("no GPU")
            assert {"thr", "loss", "cpu"} <= set(screen.data.charts)
            # refreshes at least twice a second: each refresh schedules the next one at most 0.5 s
            # after it started (checked on the timer requests, not on a wall clock a busy machine bends)
            delays: list[float] = []
            real_set_timer = screen.set_timer

            def recording_set_timer(delay, callback, *args, **kwargs):
                delays.append(delay)
                return real_set_timer(delay, callback, *args, **kwargs)

            screen.set_timer = recording_set_timer
            n = screen.updates
            await wait_for(pilot, lambda: screen.updates >= n + 4, timeout=30)
            screen.set_timer = real_set_timer
            assert delays and max(delays) <= 0.5
            # cancel with a confirmation
            await pilot.press("k")
            await pilot.pause()
            assert type(app.screen).__name__ == "ConfirmModal"
            await pilot.press("n")
            assert runner.cancelled == []
            await pilot.press("k")
            await pilot.pause()
            await pilot.press("y")
            await wait_for(pilot, lambda: runner.cancelled == ["direct-tiny-1"])
            await wait_for(pilot, lambda: screen.query_one("#live-runs").rows[0][1] == "cancelling")

    run(go)


def test_live_screen_with_gpus(std_store):
    async def go():
        runner = fake_runner(dict(run_id="big-run", gpus=2))
        app = make_app(std_store, runner=runner)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            screen = app.screen
            await wait_for(pilot, lambda: screen.data is not None and screen.data.charts)
            mem = screen.data.charts["mem"]
            assert mem["title"] == "GPU memory (GiB)"
            labels = [s[0] for s in mem["series"]]
            assert labels[:3] == ["GPU0 used", "GPU1 used", "this run"]
            assert screen.data.has_gpu

    run(go)


def test_live_screen_without_runs_says_so(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            screen = app.screen
            await wait_for(pilot, lambda: screen.updates >= 1)
            assert "Press 3 (Launch)" in text_of(screen.query_one("#live-empty"))

    run(go)


FAKE_JOB = REPO / "tests" / "support" / "fake_job.py"


def test_live_screen_with_the_real_scheduler_and_fake_job(std_store, tmp_path, monkeypatch):
    from xcost_tui.runner import Scheduler
    from xcost_tui.spec import RunSpec

    monkeypatch.setenv("FAKE_JOB_STEPS", "5")
    monkeypatch.setenv("FAKE_JOB_STEP_S", "0.1")
    sched = Scheduler(
        tmp_path / "live-store",
        job_command=lambda d: [sys.executable, str(FAKE_JOB), str(d)],
        ingest=False,
        grace_s=1.0,
        poll_s=0.05,
        sample_hz=10,
        gpus=0,
        env={"PYTHONPATH": str(REPO)},
    )
    spec = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "langs": ["it"], "name": "slow-live"})

    async def go():
        app = make_app(std_store, runner=sched)
        async with app.run_test(size=(120, 40)) as pilot:
            sched.submit([spec])
            sched.start()
            await pilot.press("2")
            screen = app.screen
            await wait_for(
                pilot,
                lambda: screen.data is not None and screen.data.rows and screen.data.rows[0][1][1] == "running",
                timeout=20,
                what="a running row",
            )
            await wait_for(pilot, lambda: screen.data.rows[0][1][1] == "succeeded", timeout=60, what="the end")
            await wait_for(pilot, lambda: screen.data.charts, what="the charts")
            loss = screen.data.charts["loss"]["series"][0]
            assert [y for y in loss[2] if y is not None], "the loss chart shows the job's progress events"
            done, planned = screen.data.rows[0][1][3].split("/")
            assert done == planned and int(done) >= 3  # every phase done
            assert app.running_count() == 0

    try:
        run(go)
    finally:
        sched.shutdown(cancel_running=True)


# ---- quitting -----------------------------------------------------------------------------------


@pytest.mark.parametrize("choice,cancel", [("l", False), ("c", True)])
def test_quit_with_running_runs_asks(std_store, choice, cancel):
    async def go():
        runner = fake_runner(dict(run_id="r1"), dict(run_id="r2", status="queued"))
        app = make_app(std_store, runner=runner)
        async with app.run_test(size=(100, 30)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("q")
            await pilot.pause()
            assert type(app.screen).__name__ == "QuitModal"
            labels = " ".join(text_of(w) for w in app.screen.query("Label"))
            assert "1 run is executing, 1 more queued" in labels
            await pilot.press("escape")  # stay
            await pilot.pause()
            assert app.is_running and app.screen.id == "runs" and runner.shutdowns == []
            await pilot.press("q")
            await pilot.pause()
            await pilot.press(choice)
            await wait_for(pilot, lambda: runner.shutdowns, what="the shutdown")
            assert runner.shutdowns == [cancel]
            await wait_for(pilot, lambda: not app.is_running, what="the exit")

    run(go)


def test_quit_without_running_runs_just_quits(std_store):
    async def go():
        runner = fake_runner(dict(run_id="done", status="succeeded"))
        app = make_app(std_store, runner=runner)
        async with app.run_test(size=(100, 30)) as pilot:
            await runs_ready(pilot, app)
            await pilot.press("q")
            await wait_for(pilot, lambda: not app.is_running, what="the exit")
            assert runner.shutdowns == [False]

    run(go)


# ---- store states -------------------------------------------------------------------------------


async def _empty_state(pilot, app) -> tuple[str, str]:
    await runs_ready(pilot, app)
    panel = app.screen.query_one("#runs-empty")
    assert panel.display and not app.screen.query_one("#runs-table").display
    return panel.kind, text_of(panel)


def test_missing_store(tmp_path):
    async def go():
        app = make_app(tmp_path / "nowhere")
        async with app.run_test(size=(100, 24)) as pilot:
            kind, text = await _empty_state(pilot, app)
            assert kind == "missing" and "no results database" in text and "xcost-tui ingest" in text
            await pilot.press("4")
            await wait_for(pilot, lambda: app.screen.loads)
            assert "no results database" in text_of(app.screen.query_one("#compare-empty"))

    run(go)


def test_empty_store(tmp_path):
    with db.connect_rw(tmp_path / "s") as con:
        db.ensure_schema(con)

    async def go():
        app = make_app(tmp_path / "s")
        async with app.run_test(size=(100, 24)) as pilot:
            kind, text = await _empty_state(pilot, app)
            assert kind == "empty" and "no runs yet" in text and "Launch" in text

    run(go)


def test_old_schema_store(tmp_path):
    (tmp_path / "s").mkdir()
    con = duckdb.connect(str(db.db_path(tmp_path / "s")))
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    con.close()

    async def go():
        app = make_app(tmp_path / "s")
        async with app.run_test(size=(100, 24)) as pilot:
            kind, text = await _empty_state(pilot, app)
            assert kind == "schema" and "schema version 0" in text and "xcost-tui ingest" in text

    run(go)


def test_locked_store(std_store, monkeypatch):
    monkeypatch.setenv("XCOST_STORE_LOCK_TIMEOUT", "0.3")
    holder = subprocess.Popen(
        [
            PY,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(db.db_path(std_store)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"

        async def go():
            app = make_app(std_store)
            async with app.run_test(size=(100, 24)) as pilot:
                kind, text = await _empty_state(pilot, app)
                assert kind == "locked" and "is locked by another process" in text and f"pid {holder.pid}" in text
                # the app keeps retrying: once the lock goes, the runs appear
                holder.kill()
                holder.wait()
                await wait_for(pilot, lambda: app.screen._state == "ok", timeout=15, what="recovery")
                assert len(app.screen.page_run_ids()) == 6

        run(go)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


# ---- navigation, help, palette --------------------------------------------------------------------


def test_screen_keys_help_and_palette(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(80, 24)) as pilot:
            await runs_ready(pilot, app)
            for key, mode in (("2", "live"), ("3", "launch"), ("4", "compare"), ("5", "sql"), ("1", "runs")):
                await pilot.press(key)
                assert app.current_mode == mode
                if mode in ("launch", "sql"):
                    await pilot.press("escape")  # leave the text box that has the focus
            for key, mode in (("C", "compare"), ("S", "sql"), ("i", "sql"), ("escape", "sql"), ("R", "runs")):
                await pilot.press(key)
                assert app.current_mode == mode
            await pilot.press("f1")
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("escape")
            await pilot.press("question_mark")
            assert type(app.screen).__name__ == "HelpScreen"
            await pilot.press("escape")
            await pilot.press("ctrl+p")
            await pilot.pause()
            assert type(app.screen).__name__ == "CommandPalette"
            await pilot.press(*"Compare")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.current_mode == "compare", what="the palette command")

    run(go)


def test_the_tui_never_imports_torch():
    code = (
        "import sys; import xcost_tui.tui.app as a; "
        "from xcost_tui.tui.screens import runs, detail, live, launch, compare, sql, dialogs; "
        "import xcost_tui.tui.runner_bridge, xcost_tui.runner, xcost_tui.plan; "
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=python_env(), cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr
