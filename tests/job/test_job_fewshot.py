"""Few-shot draws: their own seed, nested across k, the same whatever the training seed or method."""

from __future__ import annotations

import pytest

from xcost_tui.errors import SpecError
from xcost_tui.job.data import few_shot_order, few_shot_sample
from xcost_tui.plan import loads_plan
from xcost_tui.spec import RunSpec

POOL = list(range(100))  # XCOPA validation has 100 items per language


@pytest.mark.parametrize("shot_seed", [0, 1, 2, 3, 4, 123456])
@pytest.mark.parametrize("lang", ["it", "qu"])
def test_draws_are_nested_for_one_shot_seed(shot_seed, lang):
    k4, k16, k64, k100 = (set(few_shot_sample(POOL, k, shot_seed, lang)) for k in (4, 16, 64, 100))
    assert len(k4) == 4 and len(k16) == 16 and len(k64) == 64
    assert k4 <= k16 <= k64 <= k100 == set(POOL)


def test_shot_seeds_draw_different_shots_and_languages_differ():
    draws = {s: tuple(few_shot_sample(POOL, 16, s, "it")) for s in range(5)}
    assert len(set(draws.values())) == 5
    assert few_shot_sample(POOL, 16, 0, "it") != few_shot_sample(POOL, 16, 0, "zh")
    assert few_shot_sample(POOL, 16, 0, "it") == few_shot_sample(POOL, 16, 0, "it")  # reproducible
    assert sorted(few_shot_order(100, 3, "it")) == POOL


def test_the_draw_does_not_take_the_training_seed():
    import inspect

    # the draw's inputs are the pool, k, the shot seed and the language: nothing of training
    assert list(inspect.signature(few_shot_sample).parameters) == ["pool", "k", "shot_seed", "lang"]
    with pytest.raises(ValueError):
        few_shot_sample(POOL, 101, 0, "it")


def test_shot_seed_is_a_spec_field_of_few_shot_runs():
    few = RunSpec.from_dict({"method": "few-shot", "model": "m", "few_shot_k": 4})
    assert few.shot_seed == 0  # recorded, so the run id says which draw
    other = RunSpec.from_dict({"method": "few-shot", "model": "m", "few_shot_k": 4, "shot_seed": 1})
    assert few.run_id() != other.run_id() and few.seed == other.seed
    with pytest.raises(SpecError, match="shot_seed is only used by method 'few-shot'"):
        RunSpec.from_dict({"method": "direct", "model": "m", "shot_seed": 1})
    with pytest.raises(SpecError, match=r"shot_seed: must be in \[0, 4294967295\], got -1"):
        RunSpec.from_dict({"method": "few-shot", "model": "m", "few_shot_k": 4, "shot_seed": -1})


def test_shot_seeds_is_a_grid_key_crossed_with_training_seeds():
    plan = loads_plan(
        '[defaults]\nmodel = "tiny-xlmr"\nlangs = ["it"]\n'
        '[[experiment]]\nname = "fs"\nmethod = "few-shot"\nshots = [4, 16]\n'
        "shot_seeds = [0, 1, 2, 3, 4]\nseeds = [0, 1]\n"
    )
    assert len(plan.runs) == 2 * 5 * 2
    assert {(s.seed, s.shot_seed, s.few_shot_k) for s in plan.runs} == {
        (seed, draw, k) for seed in (0, 1) for draw in range(5) for k in (4, 16)
    }
    assert "fs-k16-draw3-s1" in {s.name for s in plan.runs}
    with pytest.raises(
        SpecError,
        match=r"shot_seed: expected a single value, got a list \[0, 1\]; for one run "
        r"per value write shot_seeds = \[0, 1\]",
    ):
        loads_plan(
            '[defaults]\nmodel = "tiny-xlmr"\n[[experiment]]\nmethod = "few-shot"\nfew_shot_k = 4\nshot_seed = [0, 1]\n'
        )


def test_a_sweep_keeps_the_best_trial_and_breaks_ties_to_the_smaller_rate():
    """job/phases.Sweep: highest selection accuracy wins; equal ones go to the smaller learning rate
    (whatever the order the trials ran in); the kept model is the winner's."""
    import torch

    from xcost_tui.job.phases import TIE_RULE, Sweep

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.heads = torch.nn.ModuleDict()

    model = Model()
    sweep = Sweep(10)
    for lr, correct in ((1e-4, 6), (1e-5, 6), (3e-5, 5)):
        model.w.data.fill_(lr)
        sweep.add(f"few-shot:it@lr={lr:g}", lr, correct, model)
    rec = sweep.record()
    assert rec["selected_lr"] == 1e-5 and rec["selected_phase"] == "few-shot:it@lr=1e-05"
    assert sweep.best_state["state"]["w"].item() == pytest.approx(1e-5)
    assert [t["accuracy"] for t in rec["trials"]] == [0.6, 0.6, 0.5] and rec["tie_rule"] == TIE_RULE
    sweep.add("few-shot:it@lr=0.001", 1e-3, 7, model)
    assert sweep.record()["selected_lr"] == 1e-3
