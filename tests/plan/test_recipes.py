"""Named recipes: resolved per run, overridable, recorded; effective batch vs micro-batch settings."""

from __future__ import annotations

import json

import pytest

from xcost_tui.errors import SpecError
from xcost_tui.plan import load_plan, loads_plan
from xcost_tui.spec import RECIPES, FewShotHParams, HParams, RunSpec

BASE = '[defaults]\nmodel = "tiny-xlmr"\nlangs = ["it"]\n'


def spec(**data):
    return RunSpec.from_dict({"method": "direct", "model": "xlm-roberta-large", **data})


def test_xtreme_xcopa_follows_the_xtreme_script():
    """google-research/xtreme scripts/train_xcopa.sh: LR=3e-5 for xlm-roberta-large (2 x 16), 2e-5
    otherwise (8 x 4), EPOCH=5, MAXL=128; HF Trainer defaults: no warm-up, no weight decay, linear."""
    large = spec(hparams={"recipe": "xtreme-xcopa"}).hparams
    assert (large.learning_rate, large.epochs, large.max_seq_len, large.batch_size) == (3e-5, 5.0, 128, 32)
    assert (large.warmup_ratio, large.weight_decay, large.max_grad_norm) == (0.0, 0.0, 1.0)
    assert large.recipe == "xtreme-xcopa" and large.micro_batch_size is None
    base = RunSpec.from_dict(
        {"method": "direct", "model": "xlm-roberta-base", "hparams": {"recipe": "xtreme-xcopa"}}
    ).hparams
    assert (base.learning_rate, base.batch_size, base.epochs) == (2e-5, 32, 5.0)


def test_phang2020_follows_jiant():
    """jiant's simple runscript: learning_rate 1e-5, num_train_epochs 3, max_seq_length 256."""
    hp = spec(method="intermediate", intermediate=["siqa"], intermediate_hparams={"recipe": "phang2020"})
    ih = hp.intermediate_hparams
    assert (ih.learning_rate, ih.epochs, ih.max_seq_len, ih.recipe) == (1e-5, 3.0, 256, "phang2020")
    assert hp.hparams.recipe is None  # each table names its own recipe


def test_jiant_simple_is_phang2020_renamed_and_the_old_name_keeps_its_run_ids():
    """The recipe is jiant's defaults, not values confirmed from Phang et al.'s paper (issue 19): it is
    called jiant-simple now; phang2020 resolves to the same values and records its own name, so runs
    of earlier plans keep their ids, and a plan using it gets a note naming the new one."""
    new = spec(method="intermediate", intermediate=["siqa"], intermediate_hparams={"recipe": "jiant-simple"})
    old = spec(method="intermediate", intermediate=["siqa"], intermediate_hparams={"recipe": "phang2020"})
    values = {k: v for k, v in new.intermediate_hparams.__dict__.items() if k != "recipe"}
    assert values == {k: v for k, v in old.intermediate_hparams.__dict__.items() if k != "recipe"}
    assert (new.intermediate_hparams.recipe, old.intermediate_hparams.recipe) == ("jiant-simple", "phang2020")
    assert "not values confirmed" in RECIPES["jiant-simple"].summary
    exp = '[[experiment]]\nmethod = "intermediate"\nintermediate = ["rte"]\n'
    noted = loads_plan(BASE + '[defaults.intermediate_hparams]\nrecipe = "phang2020"\n' + exp)
    assert any("old name of 'jiant-simple'" in n and "Phang et al." in n for n in noted.notes)
    assert not loads_plan(BASE + '[defaults.intermediate_hparams]\nrecipe = "jiant-simple"\n' + exp).notes


def test_built_in_plans_name_jiant_simple_not_the_old_name():
    from pathlib import Path

    import xcost_tui

    plans = Path(xcost_tui.__file__).parent / "plans"
    for path in plans.glob("*.toml"):
        assert 'recipe = "phang2020"' not in path.read_text(), path.name


def test_a_table_overrides_its_recipe_and_the_spec_records_the_resolved_values():
    s = spec(hparams={"recipe": "xtreme-xcopa", "learning_rate": 1e-5, "max_steps": 100})
    assert (s.hparams.learning_rate, s.hparams.max_steps, s.hparams.epochs) == (1e-5, 100, 5.0)
    recorded = json.loads(json.dumps(s.to_dict()))
    assert recorded["hparams"]["recipe"] == "xtreme-xcopa" and recorded["hparams"]["warmup_ratio"] == 0.0
    again = RunSpec.from_dict(recorded)  # a spec.json read back by the job resolves to itself
    assert again.to_dict() == s.to_dict() and again.run_id() == s.run_id()


def test_the_run_id_changes_with_the_recipe_and_its_values():
    plain = spec()
    xtreme = spec(hparams={"recipe": "xtreme-xcopa"})
    tuned = spec(hparams={"recipe": "xtreme-xcopa", "epochs": 3})
    assert len({plain.run_id(), xtreme.run_id(), tuned.run_id()}) == 3


def test_unknown_recipes_are_refused_with_the_closest_name():
    with pytest.raises(
        SpecError,
        match=r"spec\.hparams\.recipe: unknown recipe 'xtreme-copa' \(did you mean "
        r"'xtreme-xcopa'\?\)",
    ):
        spec(hparams={"recipe": "xtreme-copa"})
    with pytest.raises(SpecError, match=r"experiment\[0\]\.intermediate_hparams\.recipe: unknown recipe 'phang'"):
        loads_plan(
            BASE + '[[experiment]]\nmethod = "intermediate"\nintermediate = ["rte"]\n'
            'intermediate_hparams = { recipe = "phang" }\n'
        )
    with pytest.raises(SpecError, match=r"grid\.hparams\.recipe\[1\]: unknown recipe 'nope'"):
        loads_plan(BASE + '[[experiment]]\nmethod = "direct"\ngrid = { "hparams.recipe" = ["phang2020", "nope"] }\n')
    bad = RunSpec(method="direct", model="m", hparams=HParams(recipe="nope"))
    with pytest.raises(SpecError, match="unknown recipe"):
        bad.validate()


def test_a_plan_picks_recipes_and_overrides_them_from_any_table():
    plan = loads_plan(
        BASE
        + """
[defaults.hparams]
recipe = "xtreme-xcopa"
max_steps = 30

[[experiment]]
method = "direct"
hparams = { learning_rate = 5e-5 }

[[experiment]]
name = "grid"
method = "direct"
grid = { "hparams.recipe" = ["xtreme-xcopa", "phang2020"] }
"""
    )
    first, *grid = plan.runs
    assert (first.hparams.recipe, first.hparams.learning_rate, first.hparams.max_steps) == ("xtreme-xcopa", 5e-5, 30)
    assert [(s.hparams.recipe, s.hparams.learning_rate, s.hparams.max_seq_len) for s in grid] == [
        ("xtreme-xcopa", 2e-5, 128),
        ("phang2020", 1e-5, 256),
    ]
    assert all(s.hparams.max_steps == 30 for s in grid)


def test_builtin_plans_name_their_recipes():
    stilts = load_plan("xcopa-stilts")
    assert {s.hparams.recipe for s in stilts.runs} == {"xtreme-xcopa"}
    assert {s.hparams.learning_rate for s in stilts.runs} == {3e-5}  # xlm-roberta-large
    inter = [s for s in stilts.runs if s.uses_intermediate]
    assert inter and {s.intermediate_hparams.recipe for s in inter} == {"jiant-simple"}
    few = [s for s in stilts.runs if s.method == "few-shot"]
    assert {s.few_shot_hparams.recipe for s in few} == {"xcost-few-shot"}
    assert {s.shot_seed for s in few} == {0, 1, 2, 3, 4}
    demo = load_plan("demo")
    assert {s.hparams.recipe for s in demo.runs} == {"xtreme-xcopa"}


def test_every_recipe_names_its_source_and_docs_cite_it():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "recipes.md").read_text(encoding="utf-8")
    for name, recipe in RECIPES.items():
        assert recipe.source and f"`{name}`" in doc, name
    for cited in (
        "scripts/train_xcopa.sh",
        "jiant/proj/simple/runscript.py",
        "configurator.py",
        "model_setup.py",
        "training_args.py",
    ):
        assert cited in doc


# ---- effective batch and micro-batch ---------------------------------------------------------------


def test_batch_size_is_the_effective_batch_and_the_micro_batch_is_separate():
    s = spec(hparams={"batch_size": 32, "micro_batch_size": 8})
    assert (s.hparams.batch_size, s.hparams.micro_batch_size, s.hparams.grad_accum) == (32, 8, None)
    assert spec(hparams={"batch_size": 32, "micro_batch_size": 8}).run_id() != spec(hparams={"batch_size": 8}).run_id()


def test_grad_accum_one_means_no_accumulation_and_is_recorded_as_the_micro_batch():
    old = spec(hparams={"batch_size": 8, "grad_accum": 1})
    new = spec(hparams={"batch_size": 8, "micro_batch_size": 8})
    assert old.hparams.micro_batch_size == 8 and old.hparams.grad_accum is None
    assert old.run_id() == new.run_id()
    consistent = spec(hparams={"batch_size": 32, "micro_batch_size": 8, "grad_accum": 4})
    assert (
        consistent.hparams.micro_batch_size == 8
        and consistent.run_id() == spec(hparams={"batch_size": 32, "micro_batch_size": 8}).run_id()
    )


def test_grad_accum_alone_is_refused_with_the_new_meaning():
    with pytest.raises(
        SpecError,
        match=r"spec\.hparams\.grad_accum: batch_size is the effective batch.*"
        r"batch_size = B x 4, micro_batch_size = B",
    ):
        spec(hparams={"batch_size": 8, "grad_accum": 4})
    with pytest.raises(
        SpecError,
        match=r"few_shot_hparams\.grad_accum: 3 does not match batch_size 32 in "
        r"micro-batches of 8 \(4 per step\)",
    ):
        spec(
            method="few-shot", few_shot_k=4, few_shot_hparams={"batch_size": 32, "micro_batch_size": 8, "grad_accum": 3}
        )


def test_few_shot_defaults_give_k4_enough_updates():
    hp = FewShotHParams()
    assert hp.min_steps == 50 and hp.batch_size == 4 and hp.learning_rate == 1e-5
    assert RECIPES["xcost-few-shot"].resolve(None)["min_steps"] == 50
