"""The two ICL prompt variants (``icl_prompt``, tasks/prompts.py) and the English prompt pinned to
lm-evaluation-harness 0.4.13's ``super_glue/copa`` (issue 19)."""

from __future__ import annotations

import pytest

from xcost_tui.errors import SpecError
from xcost_tui.spec import RunSpec
from xcost_tui.tasks import load_examples
from xcost_tui.tasks.converters import copa_context
from xcost_tui.tasks.examples import MCExample
from xcost_tui.tasks.prompts import (
    ICL_PROMPTS,
    LM_EVAL_VERSION,
    build_prompt,
    premise_text,
    premises_cut,
    prompt_template,
    prompts_differing,
    query_text,
)


def ex(premise, question="effect", c1="A.", c2="B.", label=0, idx=0, lang="th"):
    return MCExample(idx, copa_context(premise, question), (c1, c2), label, lang)


def test_a_premise_without_a_period_loses_its_last_character_only_under_lm_eval():
    thai = "สิ่งของถูกห่อไว้ในพลาสติก"  # XCOPA th test 0: no final period
    tamil = "அந்த மனிதன் குழாயைத் திறந்தான்"  # XCOPA ta val 0: no final period
    for premise, lang in ((thai, "th"), (tamil, "ta")):
        assert query_text(ex(premise), lang, "lm-eval") == premise[:-1] + " " + ("ดังนั้น" if lang == "th" else "எனவே")
        assert query_text(ex(premise), lang, "period-only").startswith(premise + " ")
    assert premise_text("  ปลวกกินบ้าน ", "period-only") == "ปลวกกินบ้าน"  # stripped, then kept whole


@pytest.mark.parametrize("premise", ["L'oggetto era incartato nella plastica bollata.", "男孩很累。", "The man fell."])
def test_a_premise_with_a_period_reads_the_same_under_both(premise):
    lang = "zh" if "。" in premise else "en" if premise.startswith("The") else "it"
    texts = {query_text(ex(premise), lang, v) for v in ICL_PROMPTS}
    assert len(texts) == 1 and premise[:-1] + " " in next(iter(texts))


def test_the_variant_applies_to_the_demonstrations_too():
    a, b = "ฉันเอาของออกจากกระเป๋า", "ปลวกกินบ้าน"
    shot, item = ex(a, idx=1), ex(b, idx=2)
    lm = build_prompt(item, "th", [shot], "lm-eval").context
    po = build_prompt(item, "th", [shot], "period-only").context
    assert lm == f"{a[:-1]} ดังนั้น a.\n\n{b[:-1]} ดังนั้น"  # one code point less (a vowel sign, a consonant)
    assert po == f"{a} ดังนั้น a.\n\n{b} ดังนั้น"
    with pytest.raises(ValueError, match="icl_prompt must be one of"):
        premise_text("x.", "harness")


def test_english_is_super_glue_copa_of_the_pinned_harness():
    """lm_eval/tasks/super_glue/copa/utils.py: doc_to_choice and doc_to_target put a space before the
    choice, the task's target delimiter another; acc_norm's lengths count that space."""
    item = ex("The man fell.", "cause", "He slipped.", "He sang.", lang="en")
    shot = ex("My body cast a shadow over the grass.", "cause", "The sun was rising.", "The grass was cut.", 0, 5, "en")
    p = build_prompt(item, "en", [shot])
    assert p.context == "My body cast a shadow over the grass because  the sun was rising.\n\nThe man fell because"
    assert p.continuations == ("  he slipped.", "  he sang.")
    assert p.choices == (" he slipped.", " he sang.")
    assert prompt_template("en") == f"lm-eval {LM_EVAL_VERSION} super_glue/copa"
    assert prompt_template("th", "period-only").startswith(f"lm-eval {LM_EVAL_VERSION} xcopa/th, ")
    # the other languages keep xcopa's single space
    assert build_prompt(ex("Era caduto.", lang="it"), "it", []).continuations == (" a.", " b.")


def test_counts_of_the_premises_the_harness_cuts(data_dir):
    """The figures docs/methods.md states, counted from the data: only Thai and Tamil premises lack
    a final period (Chinese ones end with the ideographic full stop, dropped by both variants)."""
    cut = {}
    for lang in ("th", "ta", "zh", "it", "tr"):
        for split in ("test", "validation"):
            items = load_examples("xcopa", split, data_dir=data_dir, lang=lang)
            cut[lang, split] = (premises_cut(items), len(items))
            assert prompts_differing(items, lang, []) == premises_cut(items)
    assert cut["th", "test"] == (500, 500) and cut["th", "validation"] == (100, 100)
    assert cut["ta", "test"] == (499, 500) and cut["ta", "validation"] == (99, 100)
    assert all(cut[lang, s][0] == 0 for lang in ("zh", "it", "tr") for s in ("test", "validation"))
    english = load_examples("copa", "validation", data_dir=data_dir)
    assert premises_cut(english) == 0
    # one Thai demonstration makes every Thai prompt differ
    th = load_examples("xcopa", "test", data_dir=data_dir, lang="th", limit=5)
    it = load_examples("xcopa", "test", data_dir=data_dir, lang="it", limit=5)
    assert prompts_differing(it, "it", th[:1]) == 5


def test_the_spec_field():
    base = {"method": "icl", "model": "tiny-gpt2", "langs": ["th"]}
    default = RunSpec.from_dict(base)
    assert default.icl_prompt == "lm-eval"
    other = RunSpec.from_dict({**base, "icl_prompt": "period-only"})
    # part of the run's identity and configuration; the default leaves old run ids as they were
    assert other.run_id() != default.run_id() and other.configuration_id() != default.configuration_id()
    assert "icl_prompt" not in default.identity() and other.identity()["icl_prompt"] == "period-only"
    with pytest.raises(
        SpecError, match=r"icl_prompt must be one of 'lm-eval', 'period-only'.*did you mean 'period-only'"
    ):
        RunSpec.from_dict({**base, "icl_prompt": "period_only"})
    with pytest.raises(SpecError, match="icl_prompt is only used by method 'icl'"):
        RunSpec.from_dict({"method": "direct", "model": "tiny-xlmr", "icl_prompt": "period-only"})
