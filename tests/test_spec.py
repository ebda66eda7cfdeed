from __future__ import annotations

import pytest

from xcost_tui.errors import SpecError
from xcost_tui.spec import RunSpec


def test_defaults_follow_the_xcopa_recipe():
    spec = RunSpec.from_dict({"method": "direct", "model": "xlm-roberta-large"})
    hp = spec.hparams
    assert (hp.learning_rate, hp.epochs, hp.max_seq_len, hp.batch_size * hp.grad_accum) == (3e-5, 5.0, 128, 32)
    assert len(spec.langs) == 11


def test_phases_planned():
    spec = RunSpec.from_dict({"method": "few-shot", "model": "m", "intermediate": ["siqa"], "few_shot_k": 4,
                              "langs": ["it", "zh"]})
    assert spec.phases_planned == ["intermediate:siqa", "target:copa", "eval:en", "few-shot:it", "eval:it",
                                   "few-shot:zh", "eval:zh", "inference-bench"]
    mixed = RunSpec.from_dict({"method": "intermediate", "model": "m", "intermediate": ["arc_challenge", "rte"],
                               "intermediate_mode": "mixed", "langs": ["it"]})
    assert mixed.phases_planned[0] == "intermediate:arc_challenge+rte"


def test_run_id_is_stable_and_ignores_labels_and_paths():
    a = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "name": "x", "data_dir": "/a"})
    b = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "name": "y", "data_dir": "/b"})
    c = RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "seed": 1})
    assert a.run_id() == b.run_id() != c.run_id()
    assert a.run_id().startswith("direct-tiny-xlmr-s0-")


@pytest.mark.parametrize("data,needle", [
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
])
def test_errors_name_the_field(data, needle):
    with pytest.raises(SpecError, match=None) as info:
        RunSpec.from_dict(data, where="plan.toml: experiment[0]")
    assert needle in str(info.value)
    assert str(info.value).startswith("plan.toml: experiment[0]")
