"""End to end: the demo plan with two seeds (direct and rte→copa, tiny-xlmr, the offline data),
run headless through the real job, then `xcost-tui report`. One paired difference is computed
again here, in plain Python, from the `predictions` table (the items each run got right, runs
paired by seed), and must be the number of the report and of the `comparisons` view."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest
from support.cli import run_and_report, sql_rows
from support.report_browser import find_chromium
from test_report_browser import check_rendered

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report_e2e")]  # one worker builds reported


def two_seed_plan(path: Path) -> Path:
    """The demo plan's defaults with seeds [0, 1], and two of its experiments: direct, and the rte
    intermediate task (one of the demo's two)."""
    demo = resources.files("xcost_tui").joinpath("plans/demo.toml").read_text(encoding="utf-8")
    head = demo[: demo.index("[[experiment]]")]
    assert "\nseed = 0\n" in head and 'name = "demo"' in head
    head = head.replace("\nseed = 0\n", "\nseeds = [0, 1]\n", 1).replace('name = "demo"', 'name = "demo-two-seeds"', 1)
    head = head.replace(
        head[head.index("description = ") : head.index("\n", head.index("description = "))],
        'description = "the demo with two seeds: direct vs rte, tiny-xlmr"',
        1,
    )
    path.write_text(
        head + '[[experiment]]\nname = "direct"\nmethod = "direct"\n\n'
        '[[experiment]]\nname = "intermediate"\nmethod = "intermediate"\nintermediate = ["rte"]\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def reported(tmp_path_factory, data_dir):
    plan = two_seed_plan(tmp_path_factory.mktemp("report-e2e") / "two-seeds.toml")
    return run_and_report(plan, data_dir, 4)


def recompute(store: Path, lang: str | None) -> tuple[float, int, int, str, str]:
    """(rte→copa − direct, pairs, items, its config id, the baseline's) from `predictions`: per seed
    pair and item, correct (1/0) of the intermediate run minus correct of the direct run, averaged
    over pairs and over the items every run evaluated. ``lang`` None: the average over the XCOPA
    languages, item by item (an XCOPA idx is one COPA item in every language)."""
    runs = {
        r["run_id"]: r
        for r in sql_rows(store, "SELECT run_id, method, seed, config_id, langs FROM runs WHERE status = 'succeeded'")
    }
    rows = sql_rows(store, "SELECT run_id, phase, lang, idx, correct FROM predictions WHERE label >= 0")
    langs = [lang] if lang else sorted({x for r in runs.values() for x in r["langs"]})
    correct: dict[tuple[str, str], dict[int, int]] = {}
    for row in rows:
        if row["lang"] in langs:
            assert row["phase"] == f"eval:{row['lang']}"  # one evaluation per XCOPA language: nothing to pick
            correct.setdefault((row["run_id"], row["lang"]), {})[row["idx"]] = 1 if row["correct"] else 0
    by = {(r["method"], r["seed"]): rid for rid, r in runs.items()}
    seeds = sorted({s for m, s in by if m == "intermediate"} & {s for m, s in by if m == "direct"})
    items = set.intersection(
        *(set(correct[(by[m, s], x)]) for m in ("intermediate", "direct") for s in seeds for x in langs)
    )
    total, count = 0.0, 0
    for s in seeds:
        a, b = by["intermediate", s], by["direct", s]
        for i in items:
            total += sum(correct[(a, x)][i] - correct[(b, x)][i] for x in langs) / len(langs)
            count += 1
    return (
        total / count,
        len(seeds),
        len(items),
        runs[by["intermediate", 0]]["config_id"],
        runs[by["direct", 0]]["config_id"],
    )


@pytest.mark.parametrize("lang", ["it", None])
def test_a_paired_difference_recomputed_from_predictions_is_the_report_s(reported, lang):
    store, out, _ = reported
    diff, pairs, items, inter, direct = recompute(store, lang)
    assert (pairs, items) == (2, 100)
    name = lang or "avg"
    with (out / "comparisons.csv").open(newline="", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["config_id"] == inter and r["lang"] == name)
    assert row["baseline_id"] == direct
    assert float(row["diff"]) == pytest.approx(diff, abs=1e-12)
    assert (int(row["n_pairs"]), int(row["n_items"])) == (2, 100)
    view = sql_rows(
        store, f"SELECT diff, n_pairs, n_items FROM comparisons WHERE config_id = '{inter}' AND lang = '{name}'"
    )
    assert len(view) == 1 and view[0]["diff"] == pytest.approx(diff, abs=1e-12)
    md = (out / "report.md").read_text(encoding="utf-8")
    text = f"{100 * diff:+.1f} ["
    line = next(x for x in md.splitlines() if x.startswith(f"| rte→copa · tiny-xlmr | direct · tiny-xlmr | {name} |"))
    assert f"| {text}" in line, line
    if lang is None:  # the verdict's sentence states the averaged difference
        sentence = next(x for x in md.splitlines() if x.startswith("- rte→copa · tiny-xlmr vs direct · tiny-xlmr"))
        assert "(2 seed pairs, 100 items; " in sentence and f"{100 * diff:+.1f} points [" in sentence


def test_the_real_report_is_complete(reported):
    store, out, stdout = reported
    assert (
        "report: plan demo-two-seeds" in stdout and "2 configuration(s) with succeeded runs, 1 comparison(s)" in stdout
    )
    for name in ("frontier", "languages", "curves", "break_even"):
        assert (out / f"{name}.svg").exists() and (out / f"{name}.pdf").exists(), name
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| training seeds |" in md and "| direct · tiny-xlmr | 2 | 0, 1 |" in md
    curves = sql_rows(store, "SELECT count(*) AS n FROM learning_curves")[0]["n"]
    assert curves > 0
    with (out / "learning_curves.csv").open(newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) > 0
    env = {r["torch_version"] for r in sql_rows(store, "SELECT torch_version FROM runs")}
    assert f"| torch | {env.pop()} (4 runs) |" in md


@pytest.mark.skipif(find_chromium() is None, reason="no chromium: scripts/install-chromium.sh installs it")
def test_the_real_report_renders_in_a_browser(reported):
    store, out, _ = reported
    md = (out / "report.md").read_text(encoding="utf-8")
    sentences = [x[2:] for x in md.split("## Verdict", 1)[1].split("\n## ", 1)[0].splitlines() if x.startswith("- ")]
    assert len(sentences) == 1
    check_rendered(
        out / "report.html",
        out.parent / "report-demo-two-seeds.png",
        sentences,
        ["frontier", "languages", "curves", "break_even"],
    )


def test_every_demo_phase_fits_its_cpus_and_curve_evaluations_are_their_own_phases(reported):
    """Issue 17 on the demo's runs: a phase's CPU window is its wall time's (others' CPU seconds fit
    in cpus x wall_s; before, the curve evaluations stayed in the CPU window and left the wall time:
    127 s of others' CPU beside 23 s on 2 cores), and every target phase's learning-curve
    evaluations are a curve:<phase> phase with its own figures, training's figures without them."""
    store, _, _ = reported
    rows = sql_rows(
        store,
        "SELECT run_id, phase, kind, wall_s, other_cpu_s, json_extract(costs, '$.other_cpu_s.cpus') AS cpus, "
        "coalesce(TRY_CAST(json_extract(info, '$.windows') AS BIGINT), "
        "1 + coalesce(TRY_CAST(json_extract(info, '$.curve_points') AS BIGINT), 0)) AS windows, "
        "device_hours, flops_analytic, cpu_s FROM phases WHERE completed AND reused_from_run IS NULL",
    )
    assert rows
    for r in rows:
        if r["other_cpu_s"] is not None:
            cpus = int(r["cpus"] or 2)
            ticks = 2 * 0.01 * cpus * r["windows"]  # the kernel's 10 ms ticks, both ends of each window
            assert r["other_cpu_s"] <= cpus * r["wall_s"] + ticks + 0.05, r
    targets = {(r["run_id"], r["phase"]) for r in rows if r["kind"] == "target"}
    curves = {(r["run_id"], r["phase"]) for r in rows if r["kind"] == "curve"}
    assert curves == {(run, f"curve:{phase}") for run, phase in targets}
    for r in rows:
        if r["kind"] == "curve":
            assert r["wall_s"] > 0 and r["device_hours"] > 0 and r["flops_analytic"] > 0 and r["cpu_s"] > 0
    board = sql_rows(
        store, "SELECT run_id, curve_device_hours, curve_flops, warmup_s, train_device_hours FROM leaderboard"
    )
    assert board and all(b["curve_flops"] > 0 and b["warmup_s"] > 0 for b in board)


def test_every_shipped_query_runs_and_paired_comparison_pairs_items_not_seeds(reported):
    """store/queries/*.sql on a store of real tiny runs (issue 19): each runs, keeps its header (what
    it answers, how to run it), and paired_comparison reads the verdict's contrast: its items are the
    test items (100 per language here), its pairs the seed pairs (2), never items x seeds pooled."""
    import duckdb

    store, _, _ = reported
    folder = Path(__file__).resolve().parents[2] / "store" / "queries"
    files = sorted(folder.glob("*.sql"))
    assert len(files) >= 7
    con = duckdb.connect(str(store / "xcost.duckdb"), read_only=True)
    try:
        results = {}
        for f in files:
            text = f.read_text(encoding="utf-8")
            assert text.startswith("-- ") and f"< store/queries/{f.name}" in text, f.name
            assert f"xcost-tui sql --file {f.stem} " in text, f.name  # the way without a duckdb CLI (issue 21)
            cur = con.execute(text)
            names = [d[0] for d in cur.description]
            results[f.name] = [dict(zip(names, row)) for row in cur.fetchall()]
        paired = results["paired_comparison.sql"]
        by_lang = {(r["label"], r["lang"]): r for r in paired}
        it = [r for (label, lang), r in by_lang.items() if lang == "it" and "rte" in label]
        assert len(it) == 1
        row = it[0]
        items = con.execute(
            "SELECT count(DISTINCT idx) FROM predictions JOIN runs USING (run_id) "
            "WHERE predictions.lang = 'it' AND predictions.phase = 'eval:it' AND runs.method = 'direct'"
        ).fetchone()[0]
        assert row["n_items"] == items == 100 and row["n_pairs"] == 2 and row["paired"]
        verdict = con.execute(
            "SELECT n_items, n_pairs, round(100 * diff, 1) FROM verdict_comparison v JOIN runs r "
            "ON r.config_id = v.config_id WHERE v.lang = 'it' AND r.method = 'intermediate' LIMIT 1"
        ).fetchone()
        assert (row["n_items"], row["n_pairs"], row["diff_points"]) == verdict
        per_lang = results["per_language_accuracy.sql"]
        assert {r["n_items"] for r in per_lang if r["lang"] == "it"} == {100}
    finally:
        con.close()
