"""The built-in plan ``phang2020-nine`` (issue 19): Phang et al. (2020)'s nine intermediate tasks one
by one and all nine mixed, then COPA, with direct as the baseline; ``plan check`` lists them and
``plan estimate --device-profile H100-SXM`` forecasts every run (offline here: the registry's split
sizes and assumed lengths stand in, and the forecast says so)."""

from __future__ import annotations

import json
import os

import pytest
from support.jobutil import run_cli

from xcost_tui.commands.plan_check import check_command
from xcost_tui.plan import builtin_plans, load_plan
from xcost_tui.tasks import get_task

NINE = ["anli_plus", "mnli", "qqp", "sst2", "squad_v2", "hellaswag", "cosmosqa", "commonsenseqa", "siqa"]


def test_the_plan_holds_nine_tasks_one_by_one_the_mixed_run_and_direct():
    assert "phang2020-nine" in builtin_plans()
    plan = load_plan("phang2020-nine")
    assert all(s.model == "FacebookAI/xlm-roberta-large" for s in plan.runs)
    assert {s.seed for s in plan.runs} == {0, 1, 2}
    single = [s for s in plan.runs if s.method == "intermediate" and s.intermediate_mode == "sequential"]
    mixed = [s for s in plan.runs if s.intermediate_mode == "mixed"]
    assert sorted({s.intermediate[0] for s in single}) == sorted(NINE) and all(len(s.intermediate) == 1 for s in single)
    assert len(mixed) == 3 and all(s.intermediate == NINE for s in mixed)
    assert len([s for s in plan.runs if s.method == "direct"]) == 3
    assert len(plan.runs) == 3 + 9 * 3 + 3
    (phase,) = [p for p in mixed[0].phase_plan() if p.kind.value == "intermediate"]
    assert phase.tasks == tuple(NINE)  # one phase, every task with its own head
    assert {get_task(t).head for t in NINE} == {"classification", "span_extraction", "multiple_choice"}


def test_plan_check_lists_nine_intermediate_tasks_and_the_mixed_run(capsys):
    assert check_command("phang2020-nine", None) == 0
    out = capsys.readouterr().out
    for task in NINE:
        assert f"intermediate:{task}, target:copa" in out
    assert "intermediate:" + "+".join(NINE) + ", target:copa" in out
    assert "33 runs" in out


@pytest.mark.slow
def test_plan_estimate_forecasts_it_on_an_h100_profile(tmp_path):
    env_before = dict(os.environ)
    os.environ["HF_HUB_OFFLINE"] = "1"  # no hub here: the forecast stands on the registry's sizes
    try:
        proc = run_cli(
            ["plan", "estimate", "phang2020-nine", "--device-profile", "H100-SXM", "--format", "json", "--no-save"],
            timeout=600,
        )
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fc = json.loads(proc.stdout)
    assert len(fc["runs"]) == 33
    phases = {p["phase"]: p for r in fc["runs"] for p in r["phases"]}
    for name in [f"intermediate:{t}" for t in NINE] + ["intermediate:" + "+".join(NINE)]:
        p = phases[name]
        assert p["examples"] > 0 and p["flops"] > 0 and p["wall_s"] > 0 and p["fits"] is True, p
        assert p["counts_source"] == "registry"  # offline: sizes and lengths from the registry (docs/plans.md)
    mixed = phases["intermediate:" + "+".join(NINE)]
    # the mixed phase does the work of the nine phases together (same epochs, same examples)
    assert mixed["examples"] == sum(phases[f"intermediate:{t}"]["examples"] for t in NINE)
    # the span head reads every token: SQuAD's step needs more memory than SST-2's at the same length
    assert phases["intermediate:squad_v2"]["peak_mem_bytes"] > phases["intermediate:sst2"]["peak_mem_bytes"]
