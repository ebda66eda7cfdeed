"""An English-only encoder (FacebookAI/roberta-large, the built-in tiny-roberta-en) classifies
English translations in translate-test; a method that reads target-language text with it (direct,
intermediate, few-shot, icl) is refused by the spec's check, naming the field and what to do
(issue 19)."""

from __future__ import annotations

import pytest

from xcost_tui.errors import SpecError
from xcost_tui.estimate import configs
from xcost_tui.plan import loads_plan
from xcost_tui.spec import ENGLISH_ONLY_MODELS, TINY_ENGLISH_MODEL, RunSpec, english_only


@pytest.mark.parametrize("model", ["FacebookAI/roberta-large", "roberta-large", TINY_ENGLISH_MODEL])
@pytest.mark.parametrize(
    "method, extra",
    [
        ("direct", {}),
        ("intermediate", {"intermediate": ["siqa"]}),
        ("few-shot", {"few_shot_k": 4}),
        ("icl", {}),
    ],
)
def test_a_method_reading_target_language_text_refuses_an_english_only_model(method, extra, model):
    with pytest.raises(SpecError) as err:
        RunSpec.from_dict({"method": method, "model": model, **extra})
    msg = str(err.value)
    assert f"spec.model: {model!r} is an English-only encoder" in msg
    assert f"method {method!r} evaluates target-language text directly" in msg
    assert 'method = "translate-test"' in msg and "FacebookAI/xlm-roberta-large" in msg


@pytest.mark.parametrize("translations", ["published", "tiny-marian"])
def test_translate_test_takes_an_english_only_model(translations):
    spec = RunSpec.from_dict(
        {
            "method": "translate-test",
            "model": "FacebookAI/roberta-large",
            "intermediate": ["siqa"],
            "translations": translations,
        }
    )
    assert english_only(spec.model) and spec.uses_intermediate and spec.phases_planned[0] == "intermediate:siqa"
    assert not english_only("FacebookAI/xlm-roberta-large") and not english_only("tiny-xlmr")


def test_a_plan_names_the_experiment_and_the_field():
    text = """
[plan]
name = "p"
[[experiment]]
name = "oops"
method = "direct"
model = "FacebookAI/roberta-large"
"""
    with pytest.raises(SpecError) as err:
        loads_plan(text)
    assert "experiment[0]" in str(err.value) and "English-only" in str(err.value)


def test_roberta_large_has_a_shipped_config_for_forecasts():
    """The published config.json of FacebookAI/roberta-large: 24 layers of 1024, 16 heads, FFN 4096,
    a 50,265-token vocabulary (xcost_tui/model_configs/SOURCES.md)."""
    for model in ("FacebookAI/roberta-large", "roberta-large"):
        shape = configs.model_shape(model)
        assert (shape.hidden, shape.layers, shape.heads, shape.intermediate) == (1024, 24, 16, 4096)
        assert shape.vocab == 50265
    tiny = configs.model_shape(TINY_ENGLISH_MODEL)
    assert tiny.source == "built-in" and tiny.hidden == configs.model_shape("tiny-xlmr").hidden
    assert {"FacebookAI/roberta-large", TINY_ENGLISH_MODEL} <= ENGLISH_ONLY_MODELS
