"""The in-context prompt of XCOPA and COPA, as lm-evaluation-harness builds it (plain data, no torch).

Pinned to lm-evaluation-harness **0.4.13** (``LM_EVAL_VERSION``; tests/job/test_icl_lmeval.py runs
that version of the harness and requires the same texts and log-likelihoods). Its ``xcopa`` task
(lm_eval/tasks/xcopa/utils.py and default_<lang>.yaml):

- the query: the premise, stripped, without its last character (its final period), a space and
  the language's connector for the question (``cause`` -> "because", ``effect`` -> "therefore");
- the choices: each with its first letter lower-cased; the continuation scored is a space (the
  task's target delimiter) and the choice;
- k demonstrations before it, each its query, a space and its correct choice, followed by a blank
  line (the few-shot delimiter "\\n\\n");
- ``acc``: the choice of highest summed log-likelihood; ``acc_norm``: of highest log-likelihood
  divided by the choice's length in characters (without the delimiter).

English COPA (eval:en) is the harness's ``copa`` task (lm_eval/tasks/super_glue/copa/utils.py and
default.yaml): the same query with the English connectors, but its ``doc_to_choice`` and
``doc_to_target`` put a space in front of each choice, so with the target delimiter a
continuation (and a demonstration's answer) starts with two spaces, and ``acc_norm`` counts the
choice's own space.

``icl_prompt`` (a RunSpec field) chooses how the premise ends:

- ``"lm-eval"`` (the default): the harness's ``premise.strip()[:-1]``, which drops a real character
  where a premise has no final period (500 of 500 Thai and 499 of 500 Tamil test premises);
- ``"period-only"``: a final full stop (``FULL_STOPS``) is dropped, any other last character kept.
  Everything else is the harness's.
"""

from __future__ import annotations

from dataclasses import dataclass

from .converters import copa_parts
from .examples import MCExample

LM_EVAL_VERSION = "0.4.13"  # the harness version the prompts are pinned to (and tested against)
LM_EVAL = "lm-eval"
PERIOD_ONLY = "period-only"
ICL_PROMPTS = (LM_EVAL, PERIOD_ONLY)
# What "period-only" drops from the end of a premise: the full stop, and the ideographic full stop
# that ends every Chinese premise (so Chinese reads the same under both variants).
FULL_STOPS = (".", "\u3002")

# Per-language connectors of lm_eval/tasks/xcopa/utils.py (doc_to_text_<lang>), English from
# lm_eval/tasks/super_glue/copa/utils.py.
CONNECTORS: dict[str, dict[str, str]] = {
    "en": {"cause": "because", "effect": "therefore"},
    "et": {"cause": "sest", "effect": "seetõttu"},
    "ht": {"cause": "poukisa", "effect": "donk sa"},
    "it": {"cause": "perché", "effect": "quindi"},
    "id": {"cause": "karena", "effect": "maka"},
    "qu": {"cause": "imataq", "effect": "chaymi"},
    "sw": {"cause": "kwa sababu", "effect": "kwa hiyo"},
    "zh": {"cause": "因为", "effect": "所以"},
    "ta": {"cause": "காரணமாக", "effect": "எனவே"},
    "th": {"cause": "เพราะ", "effect": "ดังนั้น"},
    "tr": {"cause": "çünkü", "effect": "bu yüzden"},
    "vi": {"cause": "bởi vì", "effect": "vì vậy"},
}
TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"
# super_glue/copa's doc_to_choice and doc_to_target: " " + convert_choice(choice)
ENGLISH_CHOICE_PREFIX = " "


def prompt_template(lang: str, icl_prompt: str = LM_EVAL) -> str:
    """The harness task a language's prompt is, named with its version (the eval phase's
    ``info.prompt_template``): "lm-eval 0.4.13 super_glue/copa", "lm-eval 0.4.13 xcopa/th"."""
    task = "super_glue/copa" if lang == "en" else f"xcopa/{lang}"
    variant = "" if icl_prompt == LM_EVAL else ", the premise's final period only dropped (icl_prompt = period-only)"
    return f"lm-eval {LM_EVAL_VERSION} {task}{variant}"


def convert_choice(choice: str) -> str:
    """The harness's convert_choice: the first letter lower-cased."""
    return choice[0].lower() + choice[1:] if choice else choice


def premise_text(premise: str, icl_prompt: str = LM_EVAL) -> str:
    """The premise as the query shows it: the harness's ``premise.strip()[:-1]`` ("lm-eval"), or
    without a final full stop only ("period-only")."""
    text = premise.strip()
    if icl_prompt == LM_EVAL:
        return text[:-1]
    if icl_prompt == PERIOD_ONLY:
        return text[:-1] if text.endswith(FULL_STOPS) else text
    raise ValueError(f"icl_prompt must be one of {', '.join(ICL_PROMPTS)}, got {icl_prompt!r}")


def query_text(example: MCExample, lang: str, icl_prompt: str = LM_EVAL) -> str:
    """The harness's doc_to_text: ``premise.strip()[:-1] + " " + connector`` (``premise_text``)."""
    premise, question = copa_parts(example.context)
    return premise_text(premise, icl_prompt) + f" {CONNECTORS[lang][question]}"


def choice_texts(example: MCExample, lang: str = "") -> list[str]:
    """The harness's doc_to_choice (the texts acc_norm divides by the length of): English COPA's
    with its leading space."""
    prefix = ENGLISH_CHOICE_PREFIX if lang == "en" else ""
    return [prefix + convert_choice(c) for c in example.choices]


def demonstration(example: MCExample, lang: str, icl_prompt: str = LM_EVAL) -> str:
    """One solved example: its query, the delimiter, its correct choice, the few-shot delimiter."""
    return (
        query_text(example, lang, icl_prompt)
        + TARGET_DELIMITER
        + choice_texts(example, lang)[example.label]
        + FEWSHOT_DELIMITER
    )


@dataclass(frozen=True)
class Prompt:
    """One query: the context (demonstrations and the query) and each choice's continuation."""

    idx: int | str
    context: str
    continuations: tuple[str, ...]  # TARGET_DELIMITER + choice
    choices: tuple[str, ...]  # the choice texts (acc_norm's lengths)
    label: int


def build_prompt(example: MCExample, lang: str, shots: list[MCExample], icl_prompt: str = LM_EVAL) -> Prompt:
    """The prompt of ``example`` after the demonstrations ``shots`` (in their order)."""
    context = "".join(demonstration(s, lang, icl_prompt) for s in shots) + query_text(example, lang, icl_prompt)
    choices = tuple(choice_texts(example, lang))
    return Prompt(example.idx, context, tuple(TARGET_DELIMITER + c for c in choices), choices, example.label)


def premises_cut(examples: list[MCExample]) -> int:
    """How many of ``examples``' premises end in something other than a full stop: the harness's
    ``[:-1]`` cuts a real character from each ("period-only" keeps it)."""
    return sum(1 for e in examples if not copa_parts(e.context)[0].strip().endswith(FULL_STOPS))


def prompts_differing(examples: list[MCExample], lang: str, shots: list[MCExample]) -> int:
    """How many of ``examples``' prompts (after ``shots``) the two ``ICL_PROMPTS`` write
    differently: the queries ``icl_prompt`` changes in a language (the eval phase's info)."""
    return sum(
        1
        for e in examples
        if build_prompt(e, lang, shots, LM_EVAL).context != build_prompt(e, lang, shots, PERIOD_ONLY).context
    )
