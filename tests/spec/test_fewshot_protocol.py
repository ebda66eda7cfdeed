"""The few-shot protocol's settings (issue 19): the learning-rate sweep and the annotation cost,
their checks and messages, the phase plan, run ids, and the report's sentences."""

from __future__ import annotations

import pytest

from xcost_tui.errors import SpecError
from xcost_tui.job.data import few_shot_sample, selection_sample
from xcost_tui.plan import loads_plan
from xcost_tui.report.protocol import UNSET, ConfigProtocol, ProtocolFacts, sentences
from xcost_tui.rundir.kinds import TRAINING_KINDS, PhaseKind
from xcost_tui.spec import RunSpec

FEW = {"method": "few-shot", "model": "tiny-xlmr", "few_shot_k": 4, "langs": ["it", "qu"]}


def test_a_sweep_plans_one_trial_phase_per_rate_and_language_in_place_of_few_shot():
    spec = RunSpec.from_dict({**FEW, "lr_sweep": [1e-5, 3e-5]})
    names = spec.phases_planned
    assert "few-shot:it" not in names
    assert names[names.index("eval:en") + 1 :] == [
        "few-shot:it@lr=1e-05",
        "few-shot:it@lr=3e-05",
        "eval:it",
        "few-shot:qu@lr=1e-05",
        "few-shot:qu@lr=3e-05",
        "eval:qu",
        "inference-bench",
    ]
    kinds = {p.name: p.kind for p in spec.phase_plan()}
    assert kinds["few-shot:qu@lr=3e-05"] == PhaseKind.FEW_SHOT_TRIAL and PhaseKind.FEW_SHOT_TRIAL in TRAINING_KINDS


def test_without_a_sweep_the_run_id_is_unchanged():
    """The new fields at their defaults stay out of the identity: stores keep their run ids."""
    plain = RunSpec.from_dict(FEW)
    assert "lr_sweep" not in plain.identity() and "annotation_hours_per_example" not in plain.identity()
    swept = RunSpec.from_dict({**FEW, "lr_sweep": [1e-5, 3e-5]})
    priced = RunSpec.from_dict({**FEW, "annotation_hours_per_example": 0.1})
    assert len({plain.run_id(), swept.run_id(), priced.run_id()}) == 3
    assert plain.configuration_id() != swept.configuration_id()


def test_lr_sweep_k_chooses_the_k_and_leaves_the_others_as_they_were():
    plan = loads_plan(
        '[defaults]\nmodel = "tiny-xlmr"\nlangs = ["it"]\n'
        '[[experiment]]\nname = "fs"\nmethod = "few-shot"\nshots = [4, 16]\n'
        "lr_sweep = [1e-5, 1e-4]\nlr_sweep_k = [16]\nlr_sweep_items = 20\n"
    )
    by_k = {s.few_shot_k: s for s in plan.runs}
    assert by_k[16].lr_sweep == [1e-5, 1e-4] and by_k[16].lr_sweep_items == 20 and by_k[16].lr_sweep_k == []
    assert by_k[4].lr_sweep == [] and by_k[4].lr_sweep_items is None
    assert by_k[4].run_id() == RunSpec.from_dict({**FEW, "langs": ["it"]}).run_id()
    # a spec.json read back is the same spec
    again = RunSpec.from_dict(by_k[16].to_dict())
    assert again.run_id() == by_k[16].run_id()


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"lr_sweep": [1e-5]}, r"lr_sweep: a sweep needs at least two learning rates, got \[1e-05\]"),
        ({"lr_sweep": [1e-5, 1e-5]}, r"lr_sweep: the learning rates must differ, got 1e-05, 1e-05"),
        ({"lr_sweep": [1e-5, 0.0]}, r"lr_sweep\[1\]: a learning rate must be > 0, got 0.0"),
        ({"lr_sweep": [1e-5, float("nan")]}, r"lr_sweep\[1\]: a learning rate must be a finite number"),
        ({"lr_sweep_items": 8}, r"lr_sweep_items needs lr_sweep"),
        ({"lr_sweep": [1e-5, 3e-5], "lr_sweep_items": 0}, r"lr_sweep_items: must be at least 1, got 0"),
        ({"annotation_hours_per_example": -1}, r"annotation_hours_per_example: must be at least 0, got -1"),
    ],
)
def test_sweep_and_annotation_settings_are_checked(changes, message):
    with pytest.raises(SpecError, match=message):
        RunSpec.from_dict({**FEW, **changes})


def test_the_sweep_is_few_shot_only_and_annotation_is_for_shot_methods():
    with pytest.raises(SpecError, match=r"lr_sweep is only used by method 'few-shot' \(method is 'icl'\)"):
        RunSpec.from_dict({"method": "icl", "model": "tiny-gpt2", "few_shot_k": 2, "lr_sweep": [1e-5, 3e-5]})
    # a plan-wide price: dropped for a method without labelled target-language examples (its run id stays)
    direct = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "annotation_hours_per_example": 0.1})
    assert direct.annotation_hours_per_example is None
    assert direct.run_id() == RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr"}).run_id()
    with pytest.raises(SpecError, match=r"annotation_hours_per_example is only used by methods 'few-shot' and 'icl'"):
        RunSpec(method="direct", model="tiny-xlmr", annotation_hours_per_example=0.1).validate()
    icl = RunSpec.from_dict(
        {"method": "icl", "model": "tiny-gpt2", "few_shot_k": 2, "annotation_hours_per_example": 0.1}
    )
    assert icl.annotation_hours_per_example == 0.1


@pytest.mark.parametrize("k", [4, 16, 64])
def test_selection_items_are_never_shots_and_fixed_by_the_draw(k):
    pool = list(range(100))
    shots = set(few_shot_sample(pool, k, 3, "it"))
    every = selection_sample(pool, k, 3, "it", None)
    assert not shots & set(every) and len(every) == 100 - k and shots | set(every) == set(pool)
    some = selection_sample(pool, k, 3, "it", 20)
    assert len(some) == min(20, 100 - k) and set(some) <= set(every)
    assert some == selection_sample(pool, k, 3, "it", 20)  # the same for every trial
    assert selection_sample(pool, 100, 3, "it", None) == []  # k = 100 leaves nothing (the job refuses it)


def _cfg(label, per=None, sweep=(), draws=5, n=12):
    return ConfigProtocol(label, "few-shot", 4, draws, tuple(sweep), n, per)


def test_the_report_states_the_annotation_boundary_either_way():
    assert sentences(ProtocolFacts([])) == []
    unset = " ".join(sentences(ProtocolFacts([_cfg("few-shot k=4")])))
    assert f"{UNSET} (annotation_hours_per_example unset)." in unset
    assert "Shot draws: 5 per few-shot or in-context configuration" in unset and "Zhao et al. 2021" in unset
    assert "Learning-rate sweep" not in unset
    priced = " ".join(sentences(ProtocolFacts([_cfg("few-shot k=4", per=0.05, sweep=(1e-5, 3e-5))])))
    assert UNSET not in priced
    assert "× 0.05 person-hours per example" in priced and "never added to device-hours" in priced
    assert "(examples per run: 12)" in priced
    assert "rates 1e-05, 3e-05" in priced and "ties: the smallest rate" in priced
    mixed = " ".join(sentences(ProtocolFacts([_cfg("a", per=0.05), _cfg("b")])))
    assert f"{UNSET} of b (annotation_hours_per_example unset)." in mixed and "Annotation cost of a:" in mixed


def test_a_sweep_at_k_100_is_refused_before_any_training(data_dir):
    """XCOPA validation has 100 items per language: k = 100 leaves none to select on; the data
    check says so when the run's data loads, before the target phase trains."""
    from xcost_tui.job.data import load_run_data

    spec = RunSpec.from_dict(
        {**FEW, "langs": ["it"], "few_shot_k": 100, "lr_sweep": [1e-5, 3e-5], "data_dir": str(data_dir)}
    )
    with pytest.raises(SpecError, match=r"lr_sweep: few_shot_k=100 uses all 100 xcopa validation items of 'it'"):
        load_run_data(spec)
