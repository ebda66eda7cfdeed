"""translate-test's MT quality: chrF and BLEU of the English text its classifier read.

XCOPA's items are translations of English COPA's items of the same idx (validation of validation,
test of test), so the original English item is a reference for every language's English text:
the published translations' and an MT model's. For an MT model run here the published
translations are a second reference (agreement with Google Translate, which made them). Each item
gives three segments (premise, choice 1, choice 2); the scores are sacrebleu's corpus chrF
(Popović 2015) and BLEU (Papineni et al. 2002, as standardised by Post 2018) with their default
settings, and their signature strings say which (docs/methods.md, "MT quality").

Computed after the ``translate:<lang>`` phase's meter stops (scoring is not the method's cost).
Only the job imports sacrebleu.
"""

from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF

from ..rundir.records import MTScore
from ..tasks.converters import copa_parts
from ..tasks.examples import MCExample

COPA_REFERENCE = "copa"  # MTScore.reference: the original English COPA item of the same idx
PUBLISHED_REFERENCE = "published"  # ... XCOPA's published machine translation of it


def segments(examples: list[MCExample]) -> dict[int | str, list[str]]:
    """idx -> [premise, choice 1, choice 2] of each item."""
    return {ex.idx: [copa_parts(ex.context)[0], *ex.choices] for ex in examples}


def score(
    english: list[MCExample],
    reference: list[MCExample] | None,
    *,
    lang: str,
    split: str,
    kind: str,
    translator: str | None,
    missing: str | None = None,
) -> MTScore:
    """chrF and BLEU of ``english`` (the items the classifier read, in their order) against the
    ``reference`` items of the same idx; None with ``missing`` (or why) where there is nothing."""
    if reference is None or not english:
        reason = missing or ("no items were translated" if not english else f"no {kind} reference")
        return MTScore(lang, split, kind, translator, None, None, None, None, None, None, reason)
    refs = segments(reference)
    hyp_texts: list[str] = []
    ref_texts: list[str] = []
    items = 0
    for idx, texts in segments(english).items():
        if idx not in refs:
            continue
        items += 1
        hyp_texts += texts
        ref_texts += refs[idx]
    if not items:
        return MTScore(
            lang, split, kind, translator, None, None, 0, 0, None, None, f"no item's idx is in the {kind} reference"
        )
    chrf, bleu = CHRF(), BLEU()
    c = chrf.corpus_score(hyp_texts, [ref_texts])
    b = bleu.corpus_score(hyp_texts, [ref_texts])
    return MTScore(
        lang,
        split,
        kind,
        translator,
        float(c.score),
        float(b.score),
        items,
        len(hyp_texts),
        str(chrf.get_signature()),
        str(bleu.get_signature()),
    )
