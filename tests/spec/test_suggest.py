"""The one did-you-mean helper, and that the messages built on it read the same everywhere."""

from __future__ import annotations

import pytest

from xcost_tui.errors import DataError, SpecError, UnknownTaskError
from xcost_tui.suggest import closest, did_you_mean
from xcost_tui.tasks.registry import check_lang, get_task


def test_did_you_mean():
    assert did_you_mean("fewshot", ["direct", "intermediate", "few-shot"]) == " (did you mean 'few-shot'?)"
    assert did_you_mean("zzzz", ["direct", "intermediate"]) == ""
    assert did_you_mean("x", []) == ""


def test_any_value_is_compared_as_text():
    assert did_you_mean(None, ["cpu"]) == "", "no error for a value that is not text"
    assert did_you_mean(12, ["12a"]) == " (did you mean '12a'?)"
    assert did_you_mean("lang", (c for c in ("langs", "seed"))) == " (did you mean 'langs'?)", "any iterable"


def test_the_cutoff():
    assert did_you_mean("ab", ["abcdefgh"]) == ""  # similarity 0.4
    assert did_you_mean("ab", ["abcdefgh"], cutoff=0.3) == " (did you mean 'abcdefgh'?)"
    assert closest("hellaswg", ["hellaswag", "siqa"]) == "hellaswag"
    assert closest("q", ["hellaswag"]) is None


def test_the_registry_uses_it():
    with pytest.raises(
        UnknownTaskError, match=r"unknown task 'hellaswg' \(did you mean 'hellaswag'\?\); valid tasks: "
    ):
        get_task("hellaswg")
    with pytest.raises(DataError, match=r"task 'xcopa' has no language 'itt' \(did you mean 'it'\?\)"):
        check_lang(get_task("xcopa"), "itt")


def test_spec_and_plan_use_it():
    from xcost_tui.plan import loads_plan
    from xcost_tui.spec import RunSpec

    with pytest.raises(SpecError, match=r"unknown key 'lnags' \(did you mean 'langs'\?\)"):
        RunSpec.from_dict({"method": "direct", "model": "m", "lnags": []})
    with pytest.raises(SpecError, match=r"unknown table 'experiments' \(did you mean 'experiment'\?\)"):
        loads_plan('[[experiments]]\nmethod = "direct"\n')
