"""SQuAD's answer selection and its official metrics, in plain Python (no torch): the job's span
evaluation (job/spans.py) and the tests use them.

Answer selection follows transformers' ``examples/pytorch/question-answering/utils_qa.py``
(``postprocess_qa_predictions``, used by ``run_qa.py``): in every window of an example, the
``n_best`` highest start and end logits are paired; a pair is a candidate when both tokens are
context tokens, end >= start and the span is at most ``max_answer_len`` tokens; the candidate with
the highest start + end logit wins over all windows. With no-answer questions (v2.0), the null
score is the lowest start + end logit of the CLS token over the windows, and the null answer ("")
is chosen when it beats the best span (the threshold 0.0 of utils_qa's ``null_score_diff_threshold``).

The metrics are those of the official evaluation scripts (``evaluate-v2.0.py``, whose normalisation
is v1.1's ``evaluate-v1.1.py``): lower-case, remove punctuation, remove the articles a/an/the,
collapse whitespace; exact match and token F1 against each gold answer, the best over the golds;
a question without gold answers (v2.0) has the empty string as its only gold answer, and then F1 is
1 when the prediction is empty too, else 0. Values are fractions (the scripts print them x 100).
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

N_BEST = 20  # run_qa.py's --n_best_size default
MAX_ANSWER_LEN = 30  # run_qa.py's --max_answer_length default (tokens)
DOC_STRIDE = 128  # run_qa.py's --doc_stride default (tokens shared by two consecutive windows)

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """The official scripts' normalisation: lower case, no punctuation, no articles, single spaces."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


def exact_match(gold: str, pred: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(pred))


def f1(gold: str, pred: str) -> float:
    gold_toks, pred_toks = _tokens(gold), _tokens(pred)
    if not gold_toks or not pred_toks:  # a no-answer on either side: 1 when both are, else 0
        return float(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def gold_answers(answers: Sequence[str]) -> list[str]:
    """The golds a prediction is scored against: those that do not normalise to nothing; none
    left (an unanswerable v2.0 question): the empty string."""
    golds = [a for a in answers if normalize_answer(a)]
    return golds or [""]


def score(answers: Sequence[str], pred: str) -> tuple[int, float]:
    """(exact match, F1) of ``pred``: the best over the gold answers."""
    golds = gold_answers(answers)
    return max(exact_match(g, pred) for g in golds), max(f1(g, pred) for g in golds)


@dataclass(frozen=True)
class WindowLogits:
    """One window's start and end logits (one per token of the window, padding cut off) and the
    character span of each token in the context (None for the question, special tokens)."""

    start: Sequence[float]
    end: Sequence[float]
    offsets: Sequence[tuple[int, int] | None]


@dataclass(frozen=True)
class Answer:
    text: str
    score: float  # start + end logit of the chosen span (of the null answer when text is "")
    null_score: float | None  # the example's lowest CLS start + end logit (v2.0), else None
    is_null: bool


def _top(values: Sequence[float], n: int) -> list[int]:
    return sorted(range(len(values)), key=lambda i: values[i], reverse=True)[:n]


def best_answer(
    context: str,
    windows: Sequence[WindowLogits],
    *,
    with_negative: bool,
    n_best: int = N_BEST,
    max_answer_len: int = MAX_ANSWER_LEN,
) -> Answer:
    """The example's answer from its windows' logits (module docstring)."""
    best: tuple[float, int, int] | None = None  # (score, start char, end char)
    null: float | None = None
    for w in windows:
        cls = w.start[0] + w.end[0]
        null = cls if null is None or cls < null else null
        n = len(w.offsets)
        for s in _top(w.start, n_best):
            for e in _top(w.end, n_best):
                if s >= n or e >= n or w.offsets[s] is None or w.offsets[e] is None:
                    continue
                if e < s or e - s + 1 > max_answer_len:
                    continue
                total = w.start[s] + w.end[e]
                if best is None or total > best[0]:
                    start_char, end_char = w.offsets[s][0], w.offsets[e][1]  # type: ignore[index]
                    best = (total, start_char, end_char)
    if with_negative and null is not None and (best is None or null > best[0]):
        return Answer("", null, null, True)
    if best is None:  # no valid span in any window (utils_qa answers "empty" then)
        return Answer("", float("-inf"), null if with_negative else None, True)
    return Answer(context[best[1] : best[2]], best[0], null if with_negative else None, False)
