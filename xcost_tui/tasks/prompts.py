"""The in-context prompt of XCOPA and COPA, as lm-evaluation-harness builds it (plain data, no torch).

The harness's ``xcopa`` task (lm_eval/tasks/xcopa/utils.py and default_<lang>.yaml, v0.4):

- the query: the premise, stripped, without its last character (its final period), a space and
  the language's connector for the question (``cause`` -> "because", ``effect`` -> "therefore");
- the choices: each with its first letter lower-cased; the continuation scored is a space (the
  task's target delimiter) and the choice;
- k demonstrations before it, each its query, a space and its correct choice, followed by a blank
  line (the few-shot delimiter "\\n\\n");
- ``acc``: the choice of highest summed log-likelihood; ``acc_norm``: of highest log-likelihood
  divided by the choice's length in characters (without the delimiter).

English COPA (eval:en) uses the same template with the English connectors of the harness's
``copa`` task ("because", "therefore"); that task also puts a space in front of each choice, which
with the target delimiter makes two: xcost-tui keeps one, as for every other language.
"""

from __future__ import annotations

from dataclasses import dataclass

from .converters import copa_parts
from .examples import MCExample

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


def convert_choice(choice: str) -> str:
    """The harness's convert_choice: the first letter lower-cased."""
    return choice[0].lower() + choice[1:] if choice else choice


def query_text(example: MCExample, lang: str) -> str:
    """The harness's doc_to_text: ``premise.strip()[:-1] + " " + connector``."""
    premise, question = copa_parts(example.context)
    return premise.strip()[:-1] + f" {CONNECTORS[lang][question]}"


def choice_texts(example: MCExample) -> list[str]:
    """The harness's doc_to_choice (the texts acc_norm divides by the length of)."""
    return [convert_choice(c) for c in example.choices]


def demonstration(example: MCExample, lang: str) -> str:
    """One solved example: its query, the delimiter, its correct choice, the few-shot delimiter."""
    return query_text(example, lang) + TARGET_DELIMITER + choice_texts(example)[example.label] + FEWSHOT_DELIMITER


@dataclass(frozen=True)
class Prompt:
    """One query: the context (demonstrations and the query) and each choice's continuation."""

    idx: int | str
    context: str
    continuations: tuple[str, ...]  # TARGET_DELIMITER + choice
    choices: tuple[str, ...]  # the choice texts (acc_norm's lengths)
    label: int


def build_prompt(example: MCExample, lang: str, shots: list[MCExample]) -> Prompt:
    """The prompt of ``example`` after the demonstrations ``shots`` (in their order)."""
    context = "".join(demonstration(s, lang) for s in shots) + query_text(example, lang)
    choices = tuple(choice_texts(example))
    return Prompt(example.idx, context, tuple(TARGET_DELIMITER + c for c in choices), choices, example.label)
