"""Costs with their spread in the store and the verdict: the configurations view's <cost>_sd/_low/
_high, the comparisons view's ratio intervals and the break_even view against the pure functions
(stats/costs.py), training identical by spec counted once, contended runs out of the costs, the
amortised training cost in break-even, and a negative cost refused at ingest."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy import stats as sps
from support.store_fixtures import make_run_dir

from xcost_tui.errors import RunDirError
from xcost_tui.stats.costs import break_even_estimate, cost_estimate, ratio_estimate
from xcost_tui.stats.thresholds import SAME_QUERY_COST
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest, stage_run
from xcost_tui.verdict.api import verdict

LANGS = ["it", "zh"]


def rows(store, sql, params=None, variables=None):
    with connect_ro(store) as con:
        for name, value in (variables or {}).items():
            con.execute(f"SET VARIABLE {name} = ?", [value])
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _translate_test(run_dir):
    """make_run_dir writes translate-test's phases; its spec gets the published translations."""
    path = run_dir / "spec.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    spec["translations"] = "published"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return run_dir


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """direct (3 seeds), intermediate (3 seeds: trains more, cheaper per query), and translate-test
    (3 seeds) training exactly direct's classifier, timed differently (noise)."""
    root = tmp_path_factory.mktemp("costs")
    acc = {"it": 0.6, "zh": 0.55, "en": 0.7}
    for seed, dh in enumerate([0.020, 0.024, 0.017]):
        make_run_dir(root, run_id=f"direct-s{seed}", seed=seed, langs=LANGS, accuracies=acc, device_hours=dh)
    for seed, (inter, target) in enumerate([(0.06, 0.010), (0.07, 0.011), (0.065, 0.009)]):
        make_run_dir(
            root,
            run_id=f"inter-s{seed}",
            method="intermediate",
            intermediate=["siqa"],
            seed=seed,
            langs=LANGS,
            accuracies={**acc, "it": 0.65},
            device_hours={"intermediate:siqa": inter, "target:copa": target},
        )
    for seed, dh in enumerate([0.0162, 0.0150, 0.0190]):  # 0.81× direct's training: timing noise
        _translate_test(
            make_run_dir(
                root,
                run_id=f"tt-s{seed}",
                method="translate-test",
                seed=seed,
                langs=LANGS,
                accuracies={**acc, "zh": 0.58},
                device_hours=dh,
            )
        )
    ingest(root)
    return root


def _config(store, method, variables=None):
    (row,) = rows(store, "SELECT * FROM configurations WHERE method = ?", [method], variables)
    return row


def test_every_cost_has_its_t_interval_over_the_runs(store):
    cfg = _config(store, "direct")
    per_run = [r["train_device_hours"] for r in rows(store, "SELECT * FROM leaderboard WHERE method = 'direct'")]
    x = np.array(per_run)
    lo, hi = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert cfg["cost_runs"] == 3 and cfg["cost_spread_reason"] is None
    assert cfg["train_device_hours"] == pytest.approx(x.mean())
    assert cfg["train_device_hours_sd"] == pytest.approx(x.std(ddof=1))
    assert (cfg["train_device_hours_low"], cfg["train_device_hours_high"]) == (pytest.approx(lo), pytest.approx(hi))
    for col in ("query_flops", "amortised_train_flops", "query_latency_p50_s", "own_train_energy_j"):
        assert {f"{col}_sd", f"{col}_low", f"{col}_high"} <= cfg.keys()


def test_one_run_gives_no_spread_with_its_reason(tmp_path):
    make_run_dir(tmp_path, run_id="d0", langs=LANGS)
    ingest(tmp_path)
    (cfg,) = rows(tmp_path, "SELECT * FROM configurations")
    assert cfg["cost_runs"] == 1 and cfg["cost_spread_reason"] == "1 run"
    assert cfg["train_flops"] is not None
    assert cfg["train_flops_sd"] is None and cfg["train_flops_low"] is None and cfg["train_flops_high"] is None


def test_comparison_ratios_are_the_python_rule(store):
    inter = _config(store, "intermediate")
    direct = _config(store, "direct")
    (cmp,) = rows(store, "SELECT * FROM comparisons WHERE config_id = ? AND lang = 'avg'", [inter["config_id"]])

    def est(cfg, col):
        return cost_estimate([]) if cfg[col] is None else _estimate(cfg, col)

    for name, col in (
        ("train_device_hours_ratio", "train_device_hours"),
        ("train_flops_ratio", "train_flops"),
        ("query_flops_ratio", "query_flops"),
    ):
        r = ratio_estimate(est(inter, col), est(direct, col))
        assert cmp[name] == pytest.approx(r.ratio)
        assert cmp[f"{name}_low"] == pytest.approx(r.low) and cmp[f"{name}_high"] == pytest.approx(r.high)
        assert cmp[f"{name}_low"] < cmp[name] < cmp[f"{name}_high"]
    assert cmp["same_training"] is False


def _estimate(cfg, col):
    from xcost_tui.stats.costs import estimate_from

    return estimate_from(cfg[col], cfg[f"{col}_sd"], cfg["cost_runs"])


def test_break_even_view_and_the_verdict_agree_with_intervals(store):
    full, light = verdict(store), verdict(store, light=True)
    key = lambda rs: sorted(  # noqa: E731
        (r.config_id, r.measure, r.verdict, r.queries, r.low, r.high, r.reason, r.same_training) for r in rs
    )
    assert [k[:3] for k in key(full.break_even)] == [k[:3] for k in key(light.break_even)]
    for f, g in zip(key(full.break_even), key(light.break_even), strict=True):
        assert f[3:] == pytest.approx(g[3:]) if f[3] is not None else f[3:] == g[3:]
    inter = next(c for c in full.configurations.values() if c.method == "intermediate")
    be = next(r for r in full.break_even if r.config_id == inter.config_id and r.measure == "flops")
    assert be.verdict == "crosses" and be.low < be.queries < be.high  # trains more, cheaper per query
    assert light.sentences() == full.sentences()
    (sentence,) = [s for s in full.sentences() if s.startswith("siqa")]
    assert "training FLOPs" in sentence and "total FLOPs cross after" in sentence
    assert re.search(r"total FLOPs cross after [\d,]+ queries \[[\d,]+, [\d,]+\]", sentence)


def test_translate_test_trains_directs_classifier_counted_once(store):
    """The issue: translate-test, which trains exactly direct's classifier, was reported as
    "0.81× the training CPU-hours". Identical by spec: one training, ratio exactly 1."""
    tt, direct = _config(store, "translate-test"), _config(store, "direct")
    assert tt["training_id"] == direct["training_id"] is not None
    assert tt["train_device_hours"] / direct["train_device_hours"] == pytest.approx(0.81, abs=0.02)  # measured noise
    (cmp,) = rows(store, "SELECT * FROM comparisons WHERE config_id = ? AND lang = 'avg'", [tt["config_id"]])
    assert cmp["same_training"] is True
    for name in ("train_device_hours_ratio", "train_flops_ratio", "train_energy_ratio", "amortised_device_hours_ratio"):
        assert (cmp[name], cmp[f"{name}_low"], cmp[f"{name}_high"]) == (1.0, 1.0, 1.0)
    for light in (False, True):
        v = verdict(store, light=light)
        (sentence,) = [s for s in v.sentences() if s.startswith("translate-test")]
        assert "same training (identical by spec)" in sentence
        assert not re.search(r"× (\[[^\]]*\] )?the training", sentence)  # no training-cost ratio at all
        assert "0.81" not in sentence and "training FLOPs" not in sentence
        be = [r for r in v.break_even if r.config_id == tt["config_id"]]
        assert be and all(r.same_training for r in be)
        assert all(r.verdict != "crosses" for r in be)  # no crossing made of two timings of one training
        ratio = v.cost_ratio(tt["config_id"], direct["config_id"], "train_device_hours")
        assert (ratio.ratio, ratio.low, ratio.high) == (1.0, 1.0, 1.0)


def test_the_report_prints_no_training_ratio_but_one_for_translate_test(store, tmp_path):
    """The report's verdict table and comparisons.csv read the verdict's ratios, not the means'."""
    from xcost_tui.report import write_report

    result = write_report(store, tmp_path / "out")
    tt = _config(store, "translate-test")["config_id"]
    csv = [r for r in _csv_rows(tmp_path / "out" / "comparisons.csv") if r["config_id"] == tt]
    assert csv and all(float(r["train_device_hours_ratio"]) == 1.0 for r in csv)
    table = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    line = next(x for x in table.splitlines() if x.startswith("| translate-test") and "direct" in x)
    assert "0.81×" not in line and "1×" in line
    assert result.data is not None


def _csv_rows(path):
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_other_methods_do_not_share_a_training(store):
    ids = {r["method"]: r["training_id"] for r in rows(store, "SELECT method, training_id FROM configurations")}
    assert ids["intermediate"] != ids["direct"]


def test_break_even_uses_the_amortised_training_cost(store):
    inter = _config(store, "intermediate", {"amortise_n": 4.0})
    direct = _config(store, "direct", {"amortise_n": 4.0})
    (be,) = rows(
        store,
        "SELECT * FROM break_even WHERE config_id = ? AND measure = 'flops'",
        [inter["config_id"]],
        {"amortise_n": 4.0},
    )
    assert be["train_a"] == pytest.approx(inter["amortised_train_flops"])
    assert be["train_a"] < inter["train_flops"]
    want = break_even_estimate(
        _estimate(inter, "amortised_train_flops"),
        _estimate(inter, "query_flops"),
        _estimate(direct, "amortised_train_flops"),
        _estimate(direct, "query_flops"),
        SAME_QUERY_COST["flops"],
    )
    assert be["verdict"] == want.verdict
    assert be["queries"] == pytest.approx(want.queries)
    assert (be["queries_low"], be["queries_high"]) == (pytest.approx(want.low), pytest.approx(want.high))
    v = verdict(store, amortise_n=4.0, light=True)
    got = next(r for r in v.break_even if r.config_id == inter["config_id"] and r.measure == "flops")
    assert got.queries == pytest.approx(be["queries"])


def test_contended_runs_are_left_out_of_costs_and_counted(tmp_path):
    for seed, (dh, contended) in enumerate([(0.02, None), (0.022, None), (0.09, {"target:copa": True})]):
        make_run_dir(tmp_path, run_id=f"d{seed}", seed=seed, langs=LANGS, device_hours=dh, contended=contended)
    for seed in range(3):
        make_run_dir(
            tmp_path,
            run_id=f"i{seed}",
            method="intermediate",
            intermediate=["siqa"],
            seed=seed,
            langs=LANGS,
            accuracies={"it": 0.7, "zh": 0.7},
        )
    ingest(tmp_path)
    out = _config(tmp_path, "direct")
    assert out["n_runs"] == 3 and out["cost_runs"] == 2 and out["contended_runs"] == 1
    assert out["train_device_hours"] == pytest.approx(0.021)
    assert out["cost_note"] == "1 contended run left out of costs"
    inc = _config(tmp_path, "direct", {"include_contended": True})
    assert inc["cost_runs"] == 3 and inc["train_device_hours"] == pytest.approx((0.02 + 0.022 + 0.09) / 3)
    assert inc["cost_note"] is None
    v = verdict(tmp_path)
    assert v.contended_left_out() == 1
    assert all("1 contended run left out of costs" in s for s in v.sentences())
    v_in = verdict(tmp_path, include_contended=True)
    assert v_in.contended_left_out() == 0 and not any("contended" in s for s in v_in.sentences())
    direct = next(c for c in v_in.configurations.values() if c.method == "direct")
    assert direct.costs["train_device_hours"] == pytest.approx(inc["train_device_hours"])
    assert direct.cost_spread["train_device_hours"].n == 3


def test_a_negative_cost_is_refused_at_ingest(tmp_path):
    good = make_run_dir(tmp_path, run_id="good", langs=LANGS, energy=10.0)
    bad = make_run_dir(tmp_path, run_id="bad", seed=1, langs=LANGS, energy={"target:copa": -5.0})
    with pytest.raises(RunDirError) as err:
        stage_run(bad)
    msg = str(err.value)
    assert str(bad) in msg and "target:copa" in msg and "energy_j = -5.0" in msg and "xcost-tui ingest" in msg
    report = ingest(tmp_path)
    assert report.skipped == [bad] and any("negative cost" in w and "target:copa" in w for w in report.warnings)
    assert [r["run_id"] for r in rows(tmp_path, "SELECT run_id FROM runs")] == [good.name]


def test_a_run_that_turns_negative_leaves_the_store(tmp_path):
    run = make_run_dir(tmp_path, run_id="r", langs=LANGS, energy=10.0)
    ingest(tmp_path)
    assert rows(tmp_path, "SELECT count(*) AS n FROM runs")[0]["n"] == 1
    events = run / "events.jsonl"
    lines = events.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        obj = json.loads(line)
        if obj.get("type") == "phase_end" and obj.get("phase") == "target:copa":
            obj["costs"]["flops_analytic"]["value"] = -1.0
            lines[i] = json.dumps(obj)
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(tmp_path)
    assert report.skipped == [run]
    assert rows(tmp_path, "SELECT count(*) AS n FROM runs")[0]["n"] == 0
