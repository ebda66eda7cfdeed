"""Learning curves in the job: evaluation points, held-out sets, cumulative cost, evaluation time
kept out of the training phase."""

from __future__ import annotations

import pytest
from support.jobutil import events, phase_ends, run_job, status

from xcost_tui.job.curves import curve_steps, pipeline_costs
from xcost_tui.rundir import Cost, PhaseEnd, ReusedFrom


def test_curve_steps():
    assert curve_steps(100, 10) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert curve_steps(3, 10) == [1, 2, 3]  # fewer steps than points: one point per step
    assert curve_steps(7, 2) == [4, 7]
    assert curve_steps(10, 0) == [] and curve_steps(0, 5) == []


def test_pipeline_costs_count_a_reused_phase_where_it_was_incurred():
    reused = PhaseEnd(
        "intermediate:rte",
        "intermediate",
        ["rte"],
        None,
        ReusedFrom("p", "/x", "intermediate:rte"),
        {"device_hours": Cost.missing("h", "reused: counted in p")},
        {
            "original_costs": {
                "device_hours": {"value": 0.5},
                "flops_analytic": {"value": 7.0},
                "energy_j": {"value": None},
            }
        },
    )
    target = PhaseEnd(
        "target:copa",
        "target",
        ["copa"],
        None,
        None,
        {
            "device_hours": Cost.measured(0.1, "h", "wall_clock"),
            "flops_analytic": Cost.measured(3.0, "FLOP", "analytic"),
            "energy_j": Cost.missing("J", "no"),
        },
    )
    evals = PhaseEnd("eval:it", "eval", ["xcopa"], "it", None, {"device_hours": Cost.measured(9.0, "h", "wall_clock")})
    other = PhaseEnd("few-shot:zh", "few-shot", ["xcopa"], "zh", None, {"device_hours": Cost.measured(1.0, "h", "x")})
    got = pipeline_costs([reused, target, evals, other], exclude=lambda p: p.kind == "few-shot")
    assert got == {"device_hours": pytest.approx(0.6), "flops_analytic": 10.0, "energy_j": None}


def test_a_run_writes_its_learning_curves(tmp_path, data_dir):
    run_dir = tmp_path / "r"
    proc = run_job(run_dir, data_dir, "--method", "few-shot", "-k", "4", "--langs", "it,zh")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert status(run_dir) == "succeeded"
    points = [e for e in events(run_dir) if e["type"] == "curve_point"]
    target = [p for p in points if p["phase"] == "target:copa"]
    assert [p["step"] for p in target] == [1, 2, 3]  # QUICK: 3 steps, one point each
    assert set(target[0]["accuracy"]) == {"en", "it", "zh"}
    # the few-shot runs hold out the validation items not drawn as shots (24 of 100 kept by QUICK)
    assert target[0]["n"]["it"] == 24 and target[0]["n"]["en"] == 24
    few = [p for p in points if p["phase"] == "few-shot:it"]
    assert few and set(few[0]["accuracy"]) == {"it"}
    costs = [p["cum_train_flops"] for p in target]
    assert costs == sorted(costs) and costs[0] > 0
    ends = phase_ends(run_dir)
    # the few-shot phase's curve starts from the pipeline's cost so far (the target phase's)
    assert few[0]["cum_train_flops"] > ends["target:copa"]["costs"]["flops_analytic"]["value"]
    info = ends["target:copa"]["info"]
    assert info["curve_points"] == 3 and info["curve_eval_wall_s"] > 0 and not info["energy_includes_curve_evals"]
    # the evaluations are not training: the phase's wall time leaves them out ...
    start = next(e for e in events(run_dir) if e["type"] == "phase_start" and e["phase"] == "target:copa")["t"]
    span = ends["target:copa"]["t"] - start
    assert ends["target:copa"]["costs"]["wall_s"]["value"] <= span - info["curve_eval_wall_s"] + 1e-3
    # ... and they are a phase of their own, with every figure (issue 17)
    curve = ends["curve:target:copa"]
    assert curve["kind"] == "curve" and curve["info"]["of_phase"] == "target:copa" and curve["info"]["points"] == 3
    c = curve["costs"]
    assert c["wall_s"]["value"] == pytest.approx(info["curve_eval_wall_s"])
    assert c["flops_analytic"]["value"] == info["curve_eval_flops"] == sum(p["eval_flops"] for p in target)
    assert c["examples"]["value"] == 3 * (24 + 24 + 24)  # 3 points x (en, it, zh)
    for name in ("cpu_s", "device_hours", "peak_mem_bytes", "other_cpu_s"):
        assert c[name]["value"] is not None, name
    # a phase's CPU window and its wall time are the same windows: others' CPU fits in cpus x wall
    # (give or take the kernel's 10 ms ticks of each CPU's counter at both ends of each window)
    for phase, end in ends.items():
        other = end["costs"].get("other_cpu_s", {})
        if other.get("value") is not None:
            windows = end["info"].get("windows") or 1 + (end["info"].get("curve_points") or 0)
            ticks = 2 * 0.01 * other["cpus"] * windows
            assert other["value"] <= other["cpus"] * end["costs"]["wall_s"]["value"] + ticks + 0.05, phase


def test_curves_can_be_turned_off(tmp_path, data_dir):
    import json

    spec = {
        "method": "direct",
        "model": "tiny-xlmr",
        "langs": ["it"],
        "data_dir": str(data_dir),
        "max_eval_examples": 12,
        "measure": {"curve_points": 0},
        "hparams": {"max_steps": 2, "batch_size": 8, "max_examples": 24, "max_seq_len": 48},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    proc = run_job(tmp_path / "r", data_dir, "--method", "direct", "--spec", str(path), quick=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not [e for e in events(tmp_path / "r") if e["type"] == "curve_point"]
