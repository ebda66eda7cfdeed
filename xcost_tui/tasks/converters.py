"""Row converters: one raw data-set row (as the hub or a local JSONL file gives it) to an example.

Each converter raises ``ValueError`` with a reason a person can act on when a row is
malformed; the loader adds the task, file and line. Converters accept unlabelled rows
(label -1, "" or absent) and report them as label -1; whether a split may be unlabelled
is the loader's decision, since a converter does not know which split a row came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .examples import Example, MCExample, PairExample, SpanExample

Row = Mapping[str, Any]
Converter = Callable[..., Example]  # (row, *, lang="en", pos=0) -> Example

# The words that turn a COPA premise into a question. English for every language on purpose:
# the XCOPA recipe fine-tunes on English COPA and evaluates zero-shot with the same input form.
COPA_QUESTION_WORDS = {"cause": "What was the cause?", "effect": "What happened as a result?"}


def copa_context(premise: str, question: str) -> str:
    """The context a COPA/XCOPA item is scored with: the premise followed by the question words."""
    try:
        words = COPA_QUESTION_WORDS[question]
    except KeyError:
        raise ValueError(f"question must be 'cause' or 'effect', got {question!r}") from None
    return f"{premise} {words}"


# ---- field helpers ------------------------------------------------------------------------------


def _get(row: Row, name: str) -> Any:
    if not isinstance(row, Mapping):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    if name not in row:
        raise ValueError(f"missing field {name!r} (fields present: {', '.join(map(str, row)) or 'none'})")
    return row[name]


def _text(row: Row, name: str) -> str:
    value = _get(row, name)
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be text, got {value!r}")
    return value


def _idx(row: Row, name: str, pos: int) -> int | str:
    # Some data sets (SIQA) carry no id; the row's position is then stable enough to name it.
    value = row.get(name, pos) if isinstance(row, Mapping) else pos
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else pos


def _label(value: Any, n: int, *, offset: int = 0, field: str = "label") -> int:
    """An integer label in [0, n), or -1 for an unlabelled row; ``offset`` for 1-based labels."""
    if value is None or value == "" or value == -1 or value == "-1":
        return -1
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a whole number, got {value!r}")
    try:
        label = int(value) - offset
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a whole number, got {value!r}") from None
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{field} must be a whole number, got {value!r}")
    if not 0 <= label < n:
        lo, hi = offset, n - 1 + offset
        raise ValueError(f"{field} {value!r} is out of range (expected {lo}..{hi}, or -1 when unlabelled)")
    return label


def _choices(values: Any, field: str) -> tuple[str, ...]:
    if not isinstance(values, (list, tuple)) or len(values) < 2 or not all(isinstance(v, str) for v in values):
        raise ValueError(f"field {field!r} must be a list of at least two texts, got {values!r}")
    return tuple(values)


# ---- multiple choice ----------------------------------------------------------------------------


def convert_copa(row: Row, *, lang: str = "en", pos: int = 0) -> MCExample:
    """COPA and XCOPA (identical form for every language): premise + question words vs two choices."""
    context = copa_context(_text(row, "premise"), _get(row, "question"))
    choices = (_text(row, "choice1"), _text(row, "choice2"))
    return MCExample(_idx(row, "idx", pos), context, choices, _label(_get(row, "label"), 2), lang)


def convert_siqa(row: Row, *, lang: str = "en", pos: int = 0) -> MCExample:
    """Social IQa: labels are the strings "1".."3" (answerA..C)."""
    context = f"{_text(row, 'context')} {_text(row, 'question')}"
    choices = (_text(row, "answerA"), _text(row, "answerB"), _text(row, "answerC"))
    return MCExample(_idx(row, "id", pos), context, choices, _label(_get(row, "label"), 3, offset=1), lang)


def convert_hellaswag(row: Row, *, lang: str = "en", pos: int = 0) -> MCExample:
    """HellaSwag: the label is a string ("" on the unlabelled test split)."""
    choices = _choices(_get(row, "endings"), "endings")
    return MCExample(_idx(row, "ind", pos), _text(row, "ctx"), choices, _label(_get(row, "label"), len(choices)), lang)


def convert_commonsenseqa(row: Row, *, lang: str = "en", pos: int = 0) -> MCExample:
    """CommonsenseQA: answerKey is a letter from choices.label ("" on the test split)."""
    return _lettered(row, "question", lang, pos, id_field="id")


def convert_cosmosqa(row: Row, *, lang: str = "en", pos: int = 0) -> MCExample:
    context = f"{_text(row, 'context')} {_text(row, 'question')}"
    choices = tuple(_text(row, f"answer{i}") for i in range(4))
    return MCExample(_idx(row, "id", pos), context, choices, _label(_get(row, "label"), 4), lang)


def convert_arc(row: Row, *, lang: str = "en", pos: int = 0) -> MCExample:
    """ARC: 3 to 5 choices; answerKey is a letter ("A".."E") or a digit ("1".."5") from choices.label."""
    return _lettered(row, "question", lang, pos, id_field="id")


def _lettered(row: Row, context_field: str, lang: str, pos: int, *, id_field: str) -> MCExample:
    """Rows whose choices are {"label": [...], "text": [...]} and whose answer is one of those labels."""
    choices = _get(row, "choices")
    if not isinstance(choices, Mapping) or "text" not in choices or "label" not in choices:
        raise ValueError(f"field 'choices' must be an object with 'text' and 'label' lists, got {choices!r}")
    texts = _choices(choices["text"], "choices.text")
    keys = [str(k) for k in choices["label"]] if isinstance(choices["label"], (list, tuple)) else []
    if len(keys) != len(texts):
        raise ValueError(f"choices.label {choices['label']!r} does not match the {len(texts)} choice texts")
    key = _get(row, "answerKey")
    if key in (None, ""):
        label = -1
    elif str(key) in keys:
        label = keys.index(str(key))  # by position, so letter and digit keys both work
    else:
        raise ValueError(f"answerKey {key!r} is not one of the choice labels {keys}")
    return MCExample(_idx(row, id_field, pos), _text(row, context_field), texts, label, lang)


# ---- classification -----------------------------------------------------------------------------


def _pair(a: str, b: str | None, n: int, id_field: str = "idx") -> Converter:
    """A converter for rows with text fields ``a`` (and ``b``) and an integer label in [0, n)."""

    def convert(row: Row, *, lang: str = "en", pos: int = 0) -> PairExample:
        text_b = _text(row, b) if b is not None else None
        return PairExample(_idx(row, id_field, pos), _text(row, a), text_b, _label(_get(row, "label"), n), lang)

    convert.__name__ = f"convert_{a}_{b or 'single'}_{n}"
    return convert


convert_nli3 = _pair("premise", "hypothesis", 3)  # MNLI: 0 entailment, 1 neutral, 2 contradiction
convert_anli = _pair("premise", "hypothesis", 3, id_field="uid")
convert_rte = _pair("premise", "hypothesis", 2)  # 0 entailment, 1 not entailment
convert_qqp = _pair("question1", "question2", 2)
convert_sst2 = _pair("sentence", None, 2)
# SNLI: 0 entailment, 1 neutral, 2 contradiction (as MNLI and ANLI); -1 where annotators did not
# agree, rows the registry drops (TaskDef.drop_unlabelled)
convert_snli = _pair("premise", "hypothesis", 3)


# ---- span extraction ----------------------------------------------------------------------------


def convert_squad(row: Row, *, lang: str = "en", pos: int = 0) -> SpanExample:
    """SQuAD v1.1 / v2.0 (rajpurkar/squad, rajpurkar/squad_v2): ``answers`` is
    {"text": [...], "answer_start": [...]}, empty lists for a v2.0 unanswerable question. Every
    answer must be the span of the context at its start (a row whose offsets are wrong would train
    on the wrong tokens)."""
    context, question = _text(row, "context"), _text(row, "question")
    answers = _get(row, "answers")
    if not isinstance(answers, Mapping) or "text" not in answers or "answer_start" not in answers:
        raise ValueError(f"field 'answers' must be an object with 'text' and 'answer_start' lists, got {answers!r}")
    texts, starts = answers["text"], answers["answer_start"]
    if not isinstance(texts, (list, tuple)) or not isinstance(starts, (list, tuple)) or len(texts) != len(starts):
        raise ValueError(f"answers.text and answers.answer_start must be lists of equal length, got {answers!r}")
    for text, start in zip(texts, starts):
        if not isinstance(text, str) or not isinstance(start, int) or isinstance(start, bool):
            raise ValueError(f"an answer must be a text and an integer start, got {text!r} at {start!r}")
        if context[start : start + len(text)] != text:
            raise ValueError(
                f"answer {text!r} is not the context's span at character {start} "
                f"(the context there reads {context[start : start + len(text)]!r})"
            )
    return SpanExample(_idx(row, "id", pos), question, context, tuple(texts), tuple(starts), lang)


def copa_parts(context: str) -> tuple[str, str]:
    """(premise, question) of a context ``copa_context`` built: the inverse of it, so a COPA/XCOPA
    example's premise and question can be read back (icl prompts, translate-test)."""
    for question, words in COPA_QUESTION_WORDS.items():
        if context.endswith(" " + words):
            return context[: -len(words) - 1], question
    raise ValueError(f"not a COPA context (no question words at its end): {context!r}")
