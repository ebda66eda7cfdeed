"""``plan check`` shows the shared target phases (issue 18) beside the shared intermediate ones:
which phases, which run trains them, which runs start from them; and the intermediate phases
left shared once the target phases are."""

from __future__ import annotations

from pathlib import Path

from xcost_tui.commands.plan_check import check_command
from xcost_tui.plan import loads_plan

PLAN = """
[defaults]
model = "tiny-xlmr"
langs = ["it"]

[[experiment]]
name = "fs"
method = "few-shot"
shots = [4, 8]
seeds = [0]

[[experiment]]
name = "direct"
method = "direct"
seeds = [0]

[[experiment]]
name = "siqa"
method = "intermediate"
intermediate = ["siqa"]
seeds = [0]

[[experiment]]
name = "siqa-zh"
method = "intermediate"
intermediate = ["siqa"]
langs = ["it", "zh"]
seeds = [0]

[[experiment]]
name = "siqa-fs"
method = "few-shot"
intermediate = ["siqa"]
shots = [4]
seeds = [0]
"""


def test_the_shared_target_phases_and_the_intermediate_ones_left(tmp_path: Path, capsys):
    plan = loads_plan(PLAN)
    names = {s.run_id(): s.name for s in plan.runs}
    targets = plan.shared_targets()
    assert [(names[g.producer], [names[r] for r in g.consumers]) for g in targets] == [
        ("direct", ["fs-k4", "fs-k8"]),
        ("siqa", ["siqa-fs"]),
    ]
    assert targets[0].phases == ["target:copa", "eval:en"]
    # siqa-fs starts from siqa's post-target model: the intermediate phase is shared by the two siqa runs only
    (left,) = plan.shared_intermediates_left()
    assert [names[r] for r in left.run_ids] == ["siqa", "siqa-zh"]
    assert len(plan.shared_intermediates()[0].run_ids) == 3, "the plan's groups before the target sharing"

    path = tmp_path / "plan.toml"
    path.write_text(PLAN)
    assert check_command(str(path)) == 0
    out = capsys.readouterr().out
    assert "shared target phases (trained once, then reused):" in out
    assert (
        "target:copa, eval:en (+ learning curve) (tiny-xlmr, seed 0): #3 direct trains them and saves the model; 2 run(s) start from it: #1 fs-k4, #2 fs-k8"
        in out
    )
    assert "intermediate:siqa, target:copa, eval:en" in out and "1 run(s) start from it: #6 siqa-fs" in out
    assert "3 target phase(s) not trained again" in out
    assert "shared intermediate phases (trained once, then reused):" in out
    assert "direct (saves target)" in out and "few-shot (reuses target)" in out
