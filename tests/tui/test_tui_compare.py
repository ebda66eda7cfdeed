"""The Compare screen on configurations (issue 9): the frontier with interval bars, one marker
and colour per family, axes with units, unmeasured axes that say why, the language grid by
configuration, the Verdict panel (the headless sentences), baseline / δ / N / cost measure set
on screen, learning curves, and a configuration's runs one key away."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from support.store_fixtures import make_run_dir
from support.tui import (  # noqa: F401
    VERDICT_CONFIGS,
    make_app,
    region_text,
    run,
    runs_ready,
    screen_lines,
    std_store,
    std_store_master,
    text_of,
    verdict_store,
    verdict_store_master,
    wait_for,
)

from xcost_tui import XCOPA_LANGS, present
from xcost_tui import format as fmt
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest
from xcost_tui.tui.screens import compare
from xcost_tui.verdict.api import learning_curves, verdict


async def open_compare(pilot, app):
    await runs_ready(pilot, app)
    await pilot.press("4")
    screen = app.screen
    await wait_for(
        pilot,
        lambda: screen.id == "compare" and screen.loads >= 1 and not screen.computing,
        timeout=30,
        what="the verdict",
    )
    await pilot.pause()
    return screen


def plain(text: str) -> str:
    return " ".join(text.split())


def by_label(v, label: str) -> str:
    return next(c.config_id for c in v.configurations.values() if c.label.startswith(label))


# ---- families: markers and colours ---------------------------------------------------------------


def test_every_family_has_its_own_marker_and_a_colour_every_front_end_parses():
    from rich.style import Style
    from textual.color import Color
    from textual_plotext.plot import Plot

    families = ("direct", "intermediate", "few-shot", "intermediate+few-shot", "icl", "translate-test")
    styles = [present.family_style(f) for f in families]
    assert [s.family for s in styles] == list(families)  # none falls back to the unknown style
    assert len({s.marker for s in styles}) == len(families)
    assert len({s.color for s in styles}) == len(families)
    assert present.FRONTIER_COLOR not in {s.color for s in styles}
    for s in [*styles, present.OTHER_FAMILY]:
        assert Color.parse(s.color).rgb == s.rgb  # Textual
        assert Style.parse(s.color).color is not None  # Rich (the legend, the tables)
        assert len(s.marker) == 1
        plot = Plot()
        plot.plotsize(20, 6)
        plot.scatter([1.0], [1.0], marker=s.marker, color=s.rgb)  # plotext: an (r, g, b) tuple
        out = plot.build()
        r, g, b = s.rgb
        assert f"\x1b[38;2;{r};{g};{b}m" in out and s.marker in out
    Color.parse(present.FRONTIER_COLOR)
    # the legend's markup carries the same colours (an unknown colour name would raise here)
    legend = compare.legend_text(list(families))
    for s in styles:
        assert any(span.style == f"bold {s.color}" for span in legend.spans)
        assert f"{s.marker} {s.family}" in legend.plain


# ---- axes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lo,hi,kind,labels",
    [
        (4.5e9, 9.1e9, "flops", ["5G", "6G", "7G", "8G", "9G"]),  # not 4534460252.2
        (0.004, 0.012, "ms", ["4ms", "6ms", "8ms", "10ms", "12ms"]),  # latency in ms, not seconds
        (-0.00001, 0.0041, "ms", ["0", "1ms", "2ms", "3ms", "4ms"]),  # no '-0.0000'
        (54.2, 65.8, "percent", ["55.0", "57.5", "60.0", "62.5", "65.0"]),
        (50.0, 1050.0, "energy", ["200J", "400J", "600J", "800J", "1000J"]),
        (1500.0, 9000.0, "energy", ["2kJ", "4kJ", "6kJ", "8kJ"]),
        (1.5 * 2**30, 7.5 * 2**30, "bytes", ["2G", "3G", "4G", "5G", "6G", "7G"]),  # binary: 2G = 2 GiB
        (0.008, 0.072, "hours", ["0.01", "0.02", "0.03", "0.04", "0.05", "0.06", "0.07"]),
    ],
)
def test_axis_ticks_have_units_and_si_prefixes(lo, hi, kind, labels):
    values, written = fmt.axis_ticks(lo, hi, kind)
    assert written == labels
    assert all(lo <= v <= hi for v in values)
    assert not any(t.startswith("-0") for t in written)


def test_a_log_axis_ticks_powers_of_ten():
    values, labels = fmt.axis_ticks(1e13, 7.5e14, "flops", log=True)
    assert labels == ["10T", "30T", "100T", "300T"] and values[0] == 1e13


def test_the_axes_on_screen_are_written_with_units(verdict_store):
    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_compare(pilot, app)
            plot = screen.query_one("#compare-plot")

            def drawn() -> str:
                return region_text(app, plot)

            text = drawn()
            assert "training device-hours (full pipeline)" in text and "0.02" in text
            await pilot.press("x")  # FLOPs: 10T ... 81T
            await pilot.pause()
            text = drawn()
            assert re.search(r"\b\d+T\b", text) and not re.search(r"\d{6,}", text), text
            await pilot.press("m")
            await pilot.pause()
            await pilot.press(*"query_latency_p50_s", "enter")
            await wait_for(pilot, lambda: screen.measure == "query_latency_p50_s")
            await pilot.pause()
            text = drawn()
            assert "ms" in text and "inference latency per query" in text and "-0" not in text, text

    run(go)


# ---- the frontier view -----------------------------------------------------------------------------


def test_frontier_of_configurations_with_interval_bars(verdict_store):
    v = verdict(verdict_store)

    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_compare(pilot, app)
            assert screen.view == "frontier"
            assert set(screen.data.verdict.configurations) == set(v.configurations)
            assert {c.family for c in screen.data.configurations} == {
                "direct",
                "intermediate",
                "few-shot",
                "intermediate+few-shot",
            }
            # brute force: no other configuration is at most as costly and at least as accurate
            pts = {c.config_id: (c.costs["train_device_hours"], c.avg.value) for c in v.configurations.values()}
            front = {
                a
                for a, (x, y) in pts.items()
                if not any(x2 <= x and y2 >= y and (x2 < x or y2 > y) for b, (x2, y2) in pts.items() if b != a)
            }
            assert set(screen.frontier_ids) == front
            # every family's marker is drawn in its colour, with interval bars in the plot
            drawn = region_text(app, screen.query_one("#compare-plot"))
            for fam in ("direct", "intermediate", "few-shot", "intermediate+few-shot"):
                assert present.family_style(fam).marker in drawn
            assert present.INTERVAL_BAR in drawn
            legend = text_of(screen.query_one("#compare-legend"))
            assert "● direct" in legend and "■ intermediate" in legend and "▲ few-shot" in legend
            assert "◆ intermediate+few-shot" in legend and "frontier" in legend and "95% interval" in legend
            # the table: best first, the interval written out, the frontier marked
            table = screen.query_one("#compare-configs")
            order = sorted(v.configurations.values(), key=lambda c: -c.avg.value)
            assert table.keys == [c.config_id for c in order]
            for key, row in zip(table.keys, table.rows):
                c = v.configurations[key]
                assert row[0] == f"{present.family_style(c.family).marker} {c.label}"
                assert row[2] == f"{100 * c.avg.value:.1f} [{100 * c.avg.low:.1f}, {100 * c.avg.high:.1f}]"
                assert row[4] == ("yes" if key in front else "")
                assert table.cell_styles[table.keys.index(key)][0] == present.family_style(c.family).color

    run(go)


def _store_without_energy(root: Path) -> Path:
    for seed in (0, 1):
        make_run_dir(
            root,
            run_id=f"direct-s{seed}",
            method="direct",
            seed=seed,
            langs=["it", "zh"],
            accuracies={"it": 0.6 + 0.01 * seed, "zh": 0.55, "en": 0.7},
            energy=None,
        )
    ingest(root)
    return root


def test_an_axis_nobody_could_measure_says_why(tmp_path, monkeypatch):
    store = _store_without_energy(tmp_path / "store")
    monkeypatch.chdir(tmp_path)

    async def go():
        app = make_app(Path("store"))
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_compare(pilot, app)
            await pilot.press("x", "x")  # training energy
            await pilot.pause()
            assert screen.measure == "train_energy_j"
            panel = screen.query_one("#compare-unmeasured")
            assert panel.display and not screen.query_one("#compare-plot").display
            said = text_of(panel)
            assert (
                "training energy (full pipeline): not measured on this machine "
                "(RAPL is not readable here (permission denied))"
            ) in said
            assert not screen.query_one("#compare-empty").display  # not "The store could not be read"
            assert "could not be read" not in " ".join(screen_lines(app))
            await pilot.press("x")  # peak memory: measured, the plot is back
            await pilot.pause()
            assert screen.query_one("#compare-plot").display and not panel.display

    run(go)
    assert store.exists()


# ---- the languages view ----------------------------------------------------------------------------


def test_the_language_grid_groups_by_configuration_and_flags_chance(verdict_store):
    v = verdict(verdict_store)

    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_compare(pilot, app)
            await pilot.press("g")
            await pilot.pause()
            assert screen.view == "languages"
            grid = screen.query_one("#compare-grid")
            assert sorted(grid.keys) == sorted(v.configurations)
            keys = [c.key for c in grid.columns]
            assert keys == ["label", "runs", "avg", "en", *XCOPA_LANGS, "flags"]
            flagged = 0
            for key, row in zip(grid.keys, grid.rows):
                c = v.configurations[key]
                assert row[1] == str(c.n_runs)
                for lang in XCOPA_LANGS:
                    est = c.accuracy[lang]
                    cell = row[keys.index(lang)]
                    half = 100 * (est.high - est.low) / 2
                    width = (
                        f"{half:.1f}" if half < 9.95 else f"{half:.0f}"
                    )  # ±12 from 10 points: the cell keeps its width
                    assert cell.startswith(f"{100 * est.value:.1f}±{width}")
                    assert cell.endswith("~") == (lang in c.chance_langs)
                    flagged += lang in c.chance_langs
                assert ("chance: " + ",".join(c.chance_langs)) in row[-1]
            assert flagged >= 8  # ht and qu sit at 50% in every configuration
            assert "not distinguishable from chance" in text_of(screen.query_one("#grid-legend"))

    run(go)


# ---- the verdict panel -----------------------------------------------------------------------------


def test_the_verdict_panel_shows_the_headless_sentences(verdict_store):
    sentences = verdict(verdict_store).sentences()  # what --headless prints
    assert len(sentences) == len(VERDICT_CONFIGS) - 1  # every configuration against direct

    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_compare(pilot, app)
            await pilot.press("v")
            await pilot.pause()
            assert screen.view == "verdict"
            panel = plain(screen.query_one("#compare-verdict").plain)
            for sentence in sentences:
                assert plain(sentence) in panel
            assert "baseline: each configuration's default" in panel and "±2 points" in panel

    run(go)


def test_delta_amortisation_and_baseline_are_set_on_screen(verdict_store, monkeypatch):
    v = verdict(verdict_store)
    siqa = by_label(v, "siqa→copa")
    gate = threading.Event()
    real = compare.load_compare

    def gated(store, settings):
        if settings.baseline is not None:
            assert gate.wait(30), "the test never let the computation finish"
        return real(store, settings)

    monkeypatch.setattr(compare, "load_compare", gated)

    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_compare(pilot, app)
            await pilot.press("v")

            async def choose(key: str, value: str) -> None:
                loads = screen.loads
                await pilot.press(key)
                await pilot.pause()
                await pilot.press(*value, "enter")
                await wait_for(
                    pilot,
                    lambda: screen.loads > loads and not screen.computing,
                    timeout=30,
                    what=f"the verdict after {key} {value}",
                )
                await pilot.pause()

            def panel() -> str:
                return plain(screen.query_one("#compare-verdict").plain)

            await choose("d", "0.05")
            assert screen.settings.delta == 0.05
            assert "within ±5 points" in panel()
            assert screen.data.sentences == verdict(verdict_store, delta=0.05).sentences()
            await choose("n", "3")
            assert screen.settings.amortise_n == 3
            expected = verdict(verdict_store, delta=0.05, amortise_n=3)
            assert screen.data.sentences == expected.sentences()
            assert "amortised over 3 tasks" in panel()
            # the frontier's x is the amortised figure now, and the axis says so
            screen.action_view("frontier")
            await pilot.pause()
            assert "intermediate phase amortised over 3 tasks" in region_text(app, screen.query_one("#compare-plot"))
            table = screen.query_one("#compare-configs")
            siqa_row = table.rows[table.keys.index(siqa)]
            assert siqa_row[3] == present.column("train_device_hours").cell(
                expected.configurations[siqa].costs["amortised_train_device_hours"]
            )
            # another baseline: computed on demand in a worker, "computing…" said meanwhile
            screen.action_view("verdict")
            loads = screen.loads
            await pilot.press("b")
            await pilot.pause()
            await pilot.press(*siqa, "enter")
            await wait_for(pilot, lambda: screen.computing and screen.settings.baseline == siqa)
            await pilot.pause()
            status = text_of(screen.query_one("#compare-status"))
            assert "computing…" in status and "siqa→copa" in status
            assert "computing…" in panel()
            gate.set()
            await wait_for(pilot, lambda: screen.loads > loads and not screen.computing, timeout=60)
            await pilot.pause()
            assert screen.data.sentences == verdict(verdict_store, baseline=siqa, delta=0.05, amortise_n=3).sentences()
            assert all(f"vs {v.configurations[siqa].label}" in s for s in screen.data.sentences)
            assert "computing…" not in text_of(screen.query_one("#compare-status"))
            # back to the default baseline
            await choose("b", "default")
            assert screen.settings.baseline is None
            # x and m set the cost measure
            await pilot.press("x")
            assert screen.measure == "train_flops"

    run(go)


# ---- curves --------------------------------------------------------------------------------------


def test_the_curves_view_plots_accuracy_against_cumulative_cost(verdict_store):
    # an independent mean: per run and point over the XCOPA languages, then over runs
    with connect_ro(verdict_store) as con:
        rows = con.execute(
            "SELECT config_id, point, avg(acc), avg(cost) FROM (SELECT config_id, run_id, point, avg(accuracy) AS acc, "
            "any_value(cum_train_device_hours) AS cost FROM learning_curves WHERE phase = 'target:copa' AND lang <> 'en' "
            "GROUP BY ALL) GROUP BY ALL ORDER BY 1, 2"
        ).fetchall()
    expected: dict[str, list] = {}
    for cid, point, acc, cost in rows:
        expected.setdefault(cid, []).append((point, acc, cost))

    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_compare(pilot, app)
            await pilot.press("c")
            await wait_for(pilot, lambda: screen.curve_loads >= 1, timeout=30)
            await pilot.pause()
            assert set(screen.curves) == set(expected) == set(screen.data.verdict.configurations)
            for cid, curve in screen.curves.items():
                assert curve.points == [p for p, _, _ in expected[cid]]
                assert curve.accuracy == pytest.approx([a for _, a, _ in expected[cid]])
                assert curve.cost == pytest.approx([c for _, _, c in expected[cid]])
            drawn = region_text(app, screen.query_one("#compare-curves"))
            assert "cumulative training device-hours" in drawn and "target phase" in drawn
            for fam in ("direct", "intermediate", "few-shot", "intermediate+few-shot"):
                assert present.family_style(fam).marker in drawn
            # another held-out language
            loads = screen.curve_loads
            await pilot.press("l")
            await pilot.pause()
            await pilot.press(*"target:en", "enter")
            await wait_for(pilot, lambda: screen.curve_loads > loads, timeout=30)
            assert screen.curves == learning_curves(verdict_store, lang="en")
            assert "English COPA" in region_text(app, screen.query_one("#compare-curves"))

    run(go)


def test_a_store_without_curves_says_how_runs_get_them(std_store):
    async def go():
        app = make_app(std_store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_compare(pilot, app)
            await pilot.press("c")
            await wait_for(pilot, lambda: screen.curve_loads >= 1, timeout=30)
            await pilot.pause()
            assert screen.curves == {}
            assert "none in the store" in region_text(app, screen.query_one("#compare-curves"))
            assert "curve_points" in text_of(screen.query_one("#curves-legend"))

    run(go)


# ---- a configuration's runs ------------------------------------------------------------------------


def test_enter_on_a_configuration_lists_its_runs(verdict_store):
    v = verdict(verdict_store)
    siqa = by_label(v, "siqa→copa")

    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_compare(pilot, app)
            table = screen.query_one("#compare-configs")
            table.focus()
            table.move_cursor(table.keys.index(siqa))
            before = app.runs_version
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.current_mode == "runs" and app.runs_version > before, timeout=30)
            await pilot.pause()
            runs = app.screen
            assert runs.q.config_id == siqa
            assert sorted(runs.page_run_ids()) == ["siqa-s0", "siqa-s1", "siqa-s2"]
            assert "configuration=" in text_of(runs.query_one("#runs-status"))

    run(go)


# ---- at 80x24 --------------------------------------------------------------------------------------


def test_compare_reads_at_80x24(verdict_store):
    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_compare(pilot, app)
            lines = screen_lines(app)
            assert lines[0].startswith(" f Frontier  g Languages  v Verdict  c Curves")
            joined = " ".join(lines)
            for fam in ("direct", "intermediate", "few-shot", "intermediate+few-shot"):
                assert f"{present.family_style(fam).marker} {fam}" in joined
            assert lines[-2].startswith(" baseline default (direct) · δ ±2 points · N 1")
            assert "q Quit" in lines[-1] and "b Baseline" in lines[-1]

    run(go)


@pytest.mark.parametrize("kw", [{}, {"delta": 0.05, "amortise_n": 3}], ids=["default", "delta-n"])
def test_the_panels_light_read_is_the_verdict(verdict_store, kw):
    """verdict(light=True), the screen's read: break-even from the rows already read and the
    cost-to-reach curves averaged in DuckDB give the same rows and sentences as the views."""
    full, light = verdict(verdict_store, **kw), verdict(verdict_store, light=True, **kw)
    key = lambda rows: sorted(
        (
            r.config_id,
            r.baseline_id,
            r.measure,
            r.verdict,  # noqa: E731
            None if r.queries is None else round(r.queries, 6),
        )
        for r in rows
    )
    assert key(light.break_even) == key(full.break_even) and full.break_even
    assert light.sentences() == full.sentences()
    assert light.cost_to_reach.keys() == full.cost_to_reach.keys() and full.cost_to_reach
    for cid, (x, cost) in full.cost_to_reach.items():
        assert light.cost_to_reach[cid] == pytest.approx((x, cost))


def test_the_palette_has_compares_views_and_settings(verdict_store):
    from xcost_tui.tui.screens.dialogs import PickModal

    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_compare(pilot, app)
            titles = [c.title for c in app.get_system_commands(screen)]
            for title in (
                "Baseline… (b)",
                "Similar accuracy δ… (d)",
                "Amortisation N… (n)",
                "Cost measure… (m)",
                "Frontier view (f)",
                "Languages view (g)",
                "Verdict view (v)",
                "Curves view (c)",
            ):
                assert title in titles
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Verdict view")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.view == "verdict", what="the palette command")
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Baseline")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, PickModal), what="the baseline picker")
            await pilot.press("escape")
            assert app.screen is screen and screen.settings.baseline is None

    run(go)


def test_showing_compare_again_reads_the_store_only_when_it_changed(verdict_store):
    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_compare(pilot, app)
            loads = screen.loads
            await pilot.press("1")
            await pilot.press("4")
            await pilot.pause(0.3)
            assert screen.loads == loads and not screen.computing  # nothing changed: no new read
            make_run_dir(
                verdict_store,
                run_id="direct-s3",
                name="direct",
                method="direct",
                seed=3,
                accuracies={lang: 0.6 for lang in XCOPA_LANGS},
                n_eval=100,
            )
            ingest(verdict_store)
            await pilot.press("1")
            await pilot.press("4")
            await wait_for(pilot, lambda: screen.loads > loads and not screen.computing, timeout=30)
            direct = by_label(screen.data.verdict, "direct")
            assert screen.data.verdict.configurations[direct].n_runs == 4

    run(go)


def test_a_store_without_a_succeeded_run_says_so(tmp_path, monkeypatch):
    make_run_dir(tmp_path / "store", run_id="direct-failed", method="direct", status="failed")
    ingest(tmp_path / "store")
    monkeypatch.chdir(tmp_path)

    async def go():
        app = make_app(Path("store"))
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_compare(pilot, app)
            empty = screen.query_one("#compare-empty")
            assert empty.display and empty.kind == "no configuration"
            assert "No succeeded run yet" in text_of(empty) and "Press 1 (Runs)" in text_of(empty)

    run(go)


def test_the_verdict_read_while_warming_is_shown_once_and_only_for_an_unchanged_store(verdict_store, monkeypatch):
    """4 after the Runs page: the verdict the app read in the background (the < 1 s target on
    10,000 runs); a store an ingest changed since is read again, and later loads always read."""
    calls = []
    real = compare.load_compare

    def counted(store, settings):
        calls.append(settings)
        return real(store, settings)

    monkeypatch.setattr(compare, "load_compare", counted)

    async def go():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            await runs_ready(pilot, app)
            await wait_for(pilot, lambda: app.compare_warm, timeout=30, what="the warm-up")
            assert app.compare_prefetch is not None and len(calls) == 1  # read while warming
            screen = await open_compare(pilot, app)
            assert len(calls) == 1 and app.compare_prefetch is None  # shown from it, taken once
            assert screen.data is not None and screen.data.verdict.configurations
            screen.action_reload()
            await wait_for(pilot, lambda: screen.loads >= 2 and not screen.computing, timeout=30, what="reload")
            assert len(calls) == 2  # a reload reads the store

    run(go)

    calls.clear()

    async def changed():
        app = make_app(verdict_store)
        async with app.run_test(size=(160, 48)) as pilot:
            await runs_ready(pilot, app)
            await wait_for(pilot, lambda: app.compare_warm, timeout=30, what="the warm-up")
            sig, data = app.compare_prefetch
            app.compare_prefetch = ((None, None), data)  # as if an ingest wrote since
            await open_compare(pilot, app)
            assert len(calls) == 2  # the stale read is not shown: the screen read again

    run(changed)


# ---- ranking on common ground (issue 16, item 7) ---------------------------------------------------


def test_compare_ranks_on_the_languages_every_configuration_evaluated(tmp_path, monkeypatch):
    # direct evaluated it, zh and the hard qu; translate-test (published translations) has no qu:
    # its own average is higher (62.0 vs 60.0), yet it is worse on both shared languages
    direct, tt = {"it": 0.70, "zh": 0.70, "qu": 0.40}, {"it": 0.62, "zh": 0.62}

    def published(spec):
        spec.method = "translate-test"
        spec.translations = "published"

    for seed in (0, 1):
        make_run_dir(tmp_path / "store", run_id=f"d-s{seed}", seed=seed, langs=list(direct), accuracies=direct)
        make_run_dir(
            tmp_path / "store", run_id=f"tt-s{seed}", seed=seed, langs=list(tt), accuracies=tt, spec_edit=published
        )
    ingest(tmp_path / "store")
    monkeypatch.chdir(tmp_path)

    async def go():
        app = make_app(Path("store"))
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await open_compare(pilot, app)
            table = screen.query_one("#compare-configs")
            labels = [row[0] for row in table.rows]
            assert "direct" in labels[0] and "translate-test" in labels[1]  # common ground: 70.0 above 62.0
            assert table.rows[0][5] == "70.0†" and table.rows[1][5] == "62.0"
            assert "ranked on the 2 common ones" in table.rows[0][-1]
            legend = plain(text_of(screen.query_one("#compare-legend")))
            assert "ranked on the 2 XCOPA languages every configuration evaluated (it, zh)" in legend
            assert "†: evaluated on other languages too (not common:" in legend

    run(go)
