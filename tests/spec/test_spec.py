from __future__ import annotations

import dataclasses
import json
import math

import pytest

from xcost_tui.errors import SpecError
from xcost_tui.spec import (
    FewShotHParams,
    HParams,
    MeasureOpts,
    PhaseKind,
    PlannedPhase,
    Range,
    RunSpec,
    check_ranges,
    field_range,
    ranged_fields,
)


def test_defaults_lr_epochs_length_and_effective_batch():
    spec = RunSpec.from_dict({"method": "direct", "model": "xlm-roberta-large"})
    hp = spec.hparams
    # batch_size is the effective batch (examples per optimiser step); the micro-batch is the job's choice
    assert (hp.learning_rate, hp.epochs, hp.max_seq_len, hp.batch_size) == (3e-5, 5.0, 128, 32)
    assert hp.micro_batch_size is None and hp.recipe is None
    assert len(spec.langs) == 11


def test_phases_planned():
    spec = RunSpec.from_dict(
        {"method": "few-shot", "model": "m", "intermediate": ["siqa"], "few_shot_k": 4, "langs": ["it", "zh"]}
    )
    assert spec.phases_planned == [
        "intermediate:siqa",
        "target:copa",
        "eval:en",
        "few-shot:it",
        "eval:it",
        "few-shot:zh",
        "eval:zh",
        "inference-bench",
    ]
    mixed = RunSpec.from_dict(
        {
            "method": "intermediate",
            "model": "m",
            "intermediate": ["arc_challenge", "rte"],
            "intermediate_mode": "mixed",
            "langs": ["it"],
        }
    )
    assert mixed.phases_planned[0] == "intermediate:arc_challenge+rte"


def test_run_id_is_stable_and_ignores_labels_and_paths():
    a = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "name": "x", "data_dir": "/a"})
    b = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "name": "y", "data_dir": "/b"})
    c = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "seed": 1})
    assert a.run_id() == b.run_id() != c.run_id()
    assert a.run_id().startswith("direct-tiny-xlmr-s0-")


@pytest.mark.parametrize(
    "data,needle",
    [
        ({"model": "m"}, "missing required key 'method'"),
        ({"method": "direkt", "model": "m"}, "did you mean 'direct'"),
        ({"method": "direct", "model": "m", "lnags": ["it"]}, "did you mean 'langs'"),
        ({"method": "direct", "model": "m", "seed": [1, 2]}, "expected a whole number"),
        ({"method": "direct", "model": "m", "langs": ["xx"]}, "not an XCOPA language"),
        ({"method": "few-shot", "model": "m"}, "few_shot_k"),
        ({"method": "intermediate", "model": "m"}, "needs at least one task"),
        ({"method": "direct", "model": "m", "intermediate": ["rte"]}, "takes no intermediate"),
        ({"method": "direct", "model": "m", "hparams": {"learning_rte": 1}}, "did you mean 'learning_rate'"),
        ({"method": "direct", "model": "m", "model_name": "x"}, "unknown key 'model_name'"),
    ],
)
def test_errors_name_the_field(data, needle):
    with pytest.raises(SpecError, match=None) as info:
        RunSpec.from_dict(data, where="plan.toml: experiment[0]")
    assert needle in str(info.value)
    assert str(info.value).startswith("plan.toml: experiment[0]")


# ---- ranges of numeric fields ----------------------------------------------------------------------

NUMERIC_OWNERS = (RunSpec, HParams, FewShotHParams, MeasureOpts)


def _numeric(type_text: str) -> bool:
    return any(t in type_text.replace(" ", "").split("|") for t in ("int", "float")) or type_text == "dict[str, int]"


@pytest.mark.parametrize("owner", NUMERIC_OWNERS, ids=lambda c: c.__name__)
def test_every_numeric_field_declares_a_range(owner):
    for f in dataclasses.fields(owner):
        if _numeric(str(f.type)):
            assert isinstance(field_range(owner, f.name), Range), f"{owner.__name__}.{f.name} has no declared range"


@pytest.mark.parametrize("owner", NUMERIC_OWNERS, ids=lambda c: c.__name__)
def test_every_default_is_in_its_range(owner):
    kwargs = {"method": "direct", "model": "m"} if owner is RunSpec else {}
    check_ranges(owner(**kwargs), "defaults")  # raises on a default outside its own range


def test_the_few_shot_hparams_keep_the_ranges_of_hparams():
    assert field_range(FewShotHParams, "learning_rate") is field_range(HParams, "learning_rate")
    assert FewShotHParams().learning_rate == 1e-5, "only the default changes"


def test_ranged_fields_lists_every_key_path():
    paths = ranged_fields(RunSpec)
    for key in (
        "seed",
        "few_shot_k",
        "max_eval_examples",
        "eval_batch_size",
        "tiny_model_dims",
        "hparams.max_grad_norm",
        "intermediate_hparams.warmup_ratio",
        "few_shot_hparams.learning_rate",
        "measure.inference_bench_examples",
    ):
        assert key in paths
    assert str(paths["hparams.warmup_ratio"]) == "in [0, 1]"
    assert str(paths["hparams.learning_rate"]) == "> 0"
    assert str(paths["hparams.batch_size"]) == "at least 1"


W = "plan.toml: experiment[1]"


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"hparams": {"max_grad_norm": -1.0}}, f"{W}.hparams.max_grad_norm: must be > 0, got -1.0"),
        ({"hparams": {"max_grad_norm": 0}}, f"{W}.hparams.max_grad_norm: must be > 0, got 0.0"),
        ({"hparams": {"weight_decay": -0.01}}, f"{W}.hparams.weight_decay: must be at least 0, got -0.01"),
        ({"hparams": {"warmup_ratio": -0.1}}, f"{W}.hparams.warmup_ratio: must be in [0, 1], got -0.1"),
        (
            {"intermediate_hparams": {"warmup_ratio": 1.5}},
            f"{W}.intermediate_hparams.warmup_ratio: must be in [0, 1], got 1.5",
        ),
        ({"hparams": {"max_steps": 0}}, f"{W}.hparams.max_steps: must be at least 1, got 0"),
        ({"hparams": {"max_steps": -5}}, f"{W}.hparams.max_steps: must be at least 1, got -5"),
        ({"hparams": {"learning_rate": math.nan}}, f"{W}.hparams.learning_rate: must be a finite number, got nan"),
        ({"hparams": {"learning_rate": math.inf}}, f"{W}.hparams.learning_rate: must be a finite number, got inf"),
        (
            {"few_shot_hparams": {"learning_rate": -math.inf}},
            f"{W}.few_shot_hparams.learning_rate: must be a finite number, got -inf",
        ),
        ({"few_shot_hparams": {"max_grad_norm": -1}}, f"{W}.few_shot_hparams.max_grad_norm: must be > 0, got -1.0"),
        ({"hparams": {"learning_rate": 0}}, f"{W}.hparams.learning_rate: must be > 0, got 0.0"),
        ({"hparams": {"batch_size": 0}}, f"{W}.hparams.batch_size: must be at least 1, got 0"),
        ({"hparams": {"grad_accum": 0}}, f"{W}.hparams.grad_accum: must be at least 1, got 0"),
        ({"hparams": {"epochs": 0}}, f"{W}.hparams.epochs: must be > 0, got 0.0"),
        ({"hparams": {"epochs": math.nan}}, f"{W}.hparams.epochs: must be a finite number, got nan"),
        ({"hparams": {"max_seq_len": 7}}, f"{W}.hparams.max_seq_len: must be in [8, 8192], got 7"),
        ({"hparams": {"max_seq_len": 8193}}, f"{W}.hparams.max_seq_len: must be in [8, 8192], got 8193"),
        ({"hparams": {"max_examples": 0}}, f"{W}.hparams.max_examples: must be at least 1, got 0"),
        ({"seed": -1}, f"{W}.seed: must be in [0, 4294967295], got -1"),
        ({"seed": 2**32}, f"{W}.seed: must be in [0, 4294967295], got 4294967296"),
        ({"max_eval_examples": 0}, f"{W}.max_eval_examples: must be at least 1, got 0"),
        ({"eval_batch_size": 0}, f"{W}.eval_batch_size: must be at least 1, got 0"),
        ({"method": "few-shot", "few_shot_k": 0}, f"{W}.few_shot_k: must be at least 1, got 0"),
        ({"measure": {"flop_sample_steps": -1}}, f"{W}.measure.flop_sample_steps: must be at least 0, got -1"),
        ({"measure": {"progress_every_s": -1}}, f"{W}.measure.progress_every_s: must be at least 0, got -1.0"),
        (
            {"measure": {"progress_every_s": math.inf}},
            f"{W}.measure.progress_every_s: must be a finite number, got inf",
        ),
        (
            {"measure": {"inference_bench_examples": 0}},
            f"{W}.measure.inference_bench_examples: must be at least 1, got 0",
        ),
        ({"measure": {"inference_warmup": -1}}, f"{W}.measure.inference_warmup: must be at least 0, got -1"),
        ({"tiny_model_dims": {"hidden_size": 0}}, f"{W}.tiny_model_dims.hidden_size: must be at least 1, got 0"),
    ],
)
def test_out_of_range_values_name_the_key_path(data, expected):
    with pytest.raises(SpecError) as info:
        RunSpec.from_dict({"method": "direct", "model": "m", **data}, where=W)
    assert str(info.value).startswith(expected), str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        {"hparams": {"warmup_ratio": 0, "weight_decay": 0, "max_seq_len": 8}},
        {"hparams": {"warmup_ratio": 1, "max_seq_len": 8192, "max_steps": 1, "max_examples": 1}},
        {"seed": 0},
        {"seed": 2**32 - 1},
        {"max_eval_examples": 1},
        {
            "measure": {
                "flop_sample_steps": 0,
                "progress_every_s": 0,
                "inference_warmup": 0,
                "inference_bench_examples": 1,
            }
        },
    ],
)
def test_the_ends_of_each_range_are_accepted(data):
    RunSpec.from_dict({"method": "direct", "model": "m", **data})


def test_a_spec_json_with_nan_is_refused():
    data = json.loads('{"method": "direct", "model": "m", "hparams": {"learning_rate": NaN}}')  # Python's json reads it
    with pytest.raises(SpecError, match=r"spec\.json\.hparams\.learning_rate: must be a finite number"):
        RunSpec.from_dict(data, where="spec.json")


def test_validate_checks_the_ranges_of_a_spec_built_in_python():
    spec = RunSpec(method="direct", model="m", hparams=HParams(max_grad_norm=-1.0))
    with pytest.raises(SpecError, match=r"^spec\.hparams\.max_grad_norm: must be > 0, got -1\.0"):
        spec.validate()
    spec = RunSpec(method="direct", model="m", tiny_model_dims={"num_hidden_layers": 0})
    with pytest.raises(SpecError, match=r"spec\.tiny_model_dims\.num_hidden_layers: must be at least 1"):
        spec.validate()


# ---- device ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_syntax_accepted(device):
    assert RunSpec.from_dict({"method": "direct", "model": "m", "device": device}).device == device


@pytest.mark.parametrize("device", ["cuda:x", "gpu", "cuda:", "CPU", "cuda:-1", "", "cuda0", "cpu "])
def test_device_syntax_refused_at_validation(device):
    with pytest.raises(SpecError) as info:
        RunSpec.from_dict({"method": "direct", "model": "m", "device": device}, where=W)
    msg = str(info.value)
    assert msg.startswith(f"{W}.device: {device!r} is not a device"), msg
    assert "auto, cpu, cuda or cuda:N" in msg


def test_a_device_typo_suggests_the_word():
    with pytest.raises(SpecError, match=r"'cuda:x' is not a device \(did you mean 'cuda'\?\)"):
        RunSpec.from_dict({"method": "direct", "model": "m", "device": "cuda:x"})


# ---- the phase plan ----------------------------------------------------------------------------------


def test_phase_kind_is_the_string_written_to_events():
    assert PhaseKind("eval") is PhaseKind.EVAL and PhaseKind.EVAL == "eval"
    assert [k.value for k in PhaseKind] == [
        "intermediate",
        "target",
        "few-shot",
        "eval",
        "inference-bench",
        "translate",
        "curve",
        "few-shot-trial",
    ]
    assert PhaseKind("few-shot") is PhaseKind.FEW_SHOT
    assert f"{PhaseKind.FEW_SHOT}" == str(PhaseKind.FEW_SHOT) == "few-shot"
    assert json.dumps({"kind": PhaseKind.INFERENCE_BENCH}) == '{"kind": "inference-bench"}'


def test_phase_plan_of_a_few_shot_run():
    spec = RunSpec.from_dict(
        {"method": "few-shot", "model": "m", "intermediate": ["siqa", "rte"], "few_shot_k": 4, "langs": ["it", "zh"]}
    )
    assert spec.phase_plan() == [
        PlannedPhase("intermediate:siqa", PhaseKind.INTERMEDIATE, ("siqa",), None),
        PlannedPhase("intermediate:rte", PhaseKind.INTERMEDIATE, ("rte",), None),
        PlannedPhase("target:copa", PhaseKind.TARGET, ("copa",), None),
        PlannedPhase("eval:en", PhaseKind.EVAL, ("copa",), "en"),
        PlannedPhase("few-shot:it", PhaseKind.FEW_SHOT, ("xcopa",), "it"),
        PlannedPhase("eval:it", PhaseKind.EVAL, ("xcopa",), "it"),
        PlannedPhase("few-shot:zh", PhaseKind.FEW_SHOT, ("xcopa",), "zh"),
        PlannedPhase("eval:zh", PhaseKind.EVAL, ("xcopa",), "zh"),
        PlannedPhase("inference-bench", PhaseKind.INFERENCE_BENCH, (), None),
    ]
    assert spec.phases_planned == [p.name for p in spec.phase_plan()]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.phase_plan()[0].name = "x"  # type: ignore[misc]


def test_phase_plan_mixed_and_without_english():
    spec = RunSpec.from_dict(
        {
            "method": "intermediate",
            "model": "m",
            "intermediate": ["arc_challenge", "rte"],
            "intermediate_mode": "mixed",
            "langs": ["qu"],
            "eval_english": False,
        }
    )
    assert [(p.name, p.kind, p.tasks, p.lang) for p in spec.phase_plan()] == [
        ("intermediate:arc_challenge+rte", PhaseKind.INTERMEDIATE, ("arc_challenge", "rte"), None),
        ("target:copa", PhaseKind.TARGET, ("copa",), None),
        ("eval:qu", PhaseKind.EVAL, ("xcopa",), "qu"),
        ("inference-bench", PhaseKind.INFERENCE_BENCH, (), None),
    ]


@pytest.mark.parametrize(
    "data, trains, planned_intermediate",
    [
        ({"method": "direct"}, False, False),
        ({"method": "intermediate", "intermediate": ["rte"]}, True, True),
        ({"method": "intermediate", "intermediate": ["rte"], "init_from": "/ckpt"}, False, True),  # recorded as reused
        ({"method": "intermediate", "init_from": "/ckpt"}, False, False),
        ({"method": "few-shot", "few_shot_k": 4}, False, False),
        ({"method": "few-shot", "few_shot_k": 4, "intermediate": ["rte"]}, True, True),
    ],
)
def test_trains_intermediate(data, trains, planned_intermediate):
    spec = RunSpec.from_dict({"model": "m", "langs": ["it"], **data})
    assert spec.trains_intermediate is trains
    assert any(p.kind is PhaseKind.INTERMEDIATE for p in spec.phase_plan()) is planned_intermediate


# ---- the documented ranges ----------------------------------------------------------------------------

HPARAMS_TABLES = ("hparams.", "intermediate_hparams.", "few_shot_hparams.")


def test_docs_list_every_range():
    """docs/plans.md's table of ranges says what the field metadata says, for every ranged field."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "plans.md").read_text(encoding="utf-8")
    for path, accepts in ranged_fields(RunSpec).items():
        key = next((path[len(p) :] for p in HPARAMS_TABLES if path.startswith(p)), path)
        key = "tiny_model_dims.*" if key == "tiny_model_dims" else key
        assert f"| `{key}` | {accepts} |" in doc, f"docs/plans.md does not list {key} ({accepts})"
