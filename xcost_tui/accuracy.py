"""Accuracy over languages: the one definition every view, report and the store's SQL share.

English COPA validation ("en") is the source-language reference and never part of an average.
A run's average XCOPA accuracy has four forms (docs/schema.md, "Average accuracy"):

- ``evaluated`` (column ``avg_accuracy``): the mean over the XCOPA languages the run evaluated.
- ``all`` (``avg_accuracy_all``): the mean over all 11 languages; NULL unless all 11 were evaluated.
- ``published`` (``avg_accuracy_published``): the convention of published XCOPA tables: a language
  the model did not see in pre-training counts at chance (50%) whatever was measured (for XLM-R:
  ht and qu), the others as measured, averaged over all 11. NULL for a model whose pre-training
  languages are unknown here, or when a language it saw was not evaluated.
- ``seen`` (``avg_accuracy_seen``): the mean over the evaluated languages the model saw in
  pre-training; NULL for an unknown model family.

The Python functions below and the SQL the store's leaderboard is built from (``sql_*``) are
generated from the same tables, and a test checks that they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import XCOPA_LANGS

ENGLISH = "en"
CHANCE = 0.5  # XCOPA items have two choices

# The XCOPA languages each model family saw in pre-training (docs/recipes.md cites the lists):
#   xlm-roberta: CC-100's 100 languages (fairseq examples/xlmr/README.md) include et id it sw ta th
#                tr vi zh, not Haitian Creole (ht) or Quechua (qu).
#   mbert-cased: the 104 Wikipedias of multilingual BERT (google-research/bert multilingual.md)
#                include Haitian and, in the cased release, Thai; not Quechua.
#   mbert-uncased: the same list without Thai.
#   xglm: the 30 languages of XGLM's pre-training corpus (the facebook/xglm-* model cards) include
#         all 11 XCOPA languages, Haitian Creole and Quechua too.
PRETRAINING_LANGS: dict[str, tuple[str, ...]] = {
    "xlm-roberta": ("et", "id", "it", "sw", "ta", "th", "tr", "vi", "zh"),
    "mbert-cased": ("et", "ht", "id", "it", "sw", "ta", "th", "tr", "vi", "zh"),
    "mbert-uncased": ("et", "ht", "id", "it", "sw", "ta", "tr", "vi", "zh"),
    "xglm": ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh"),
}
# A model id or path belongs to a family when its last path component, lower-cased, starts with
# one of these (``FacebookAI/xlm-roberta-large`` and ``xlm-roberta-base`` are xlm-roberta). The
# built-in tiny-xlmr has random weights, so it saw nothing: unknown, and its published and seen
# forms are NULL.
FAMILY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("xlm-roberta", "xlm-roberta"),
    ("bert-base-multilingual-cased", "mbert-cased"),
    ("bert-base-multilingual-uncased", "mbert-uncased"),
    ("xglm", "xglm"),
)
AVERAGE_FORMS = ("evaluated", "all", "published", "seen")
FORM_COLUMNS = {
    "evaluated": "avg_accuracy",
    "all": "avg_accuracy_all",
    "published": "avg_accuracy_published",
    "seen": "avg_accuracy_seen",
}


def model_family(model: str | None) -> str | None:
    """The pre-training family of a model id or path, None when this table does not know it."""
    if not model:
        return None
    last = model.lower().rstrip("/").split("/")[-1]
    return next((family for prefix, family in FAMILY_PREFIXES if last.startswith(prefix)), None)


def seen_langs(model: str | None) -> tuple[str, ...] | None:
    """The XCOPA languages the model saw in pre-training; None for an unknown family."""
    family = model_family(model)
    return None if family is None else PRETRAINING_LANGS[family]


def _present(by_lang: Mapping[str, float | None]) -> dict[str, float]:
    return {lang: float(a) for lang, a in by_lang.items() if lang in XCOPA_LANGS and a is not None}


def average_accuracy(
    by_lang: Mapping[str, float | None], form: str = "evaluated", model: str | None = None
) -> float | None:
    """A run's average XCOPA accuracy in one of ``AVERAGE_FORMS`` (see the module docstring);
    English is never part of it. ``model`` is needed by the ``published`` and ``seen`` forms."""
    acc = _present(by_lang)
    if form == "evaluated":
        return sum(acc.values()) / len(acc) if acc else None
    if form == "all":
        return sum(acc[lang] for lang in XCOPA_LANGS) / len(XCOPA_LANGS) if set(XCOPA_LANGS) <= set(acc) else None
    if form not in ("published", "seen"):
        raise ValueError(f"unknown average form {form!r}; one of {', '.join(AVERAGE_FORMS)}")
    seen = seen_langs(model)
    if seen is None:
        return None
    if form == "seen":
        values = [acc[lang] for lang in seen if lang in acc]
        return sum(values) / len(values) if values else None
    if not set(seen) <= set(acc):
        return None
    return sum(acc[lang] if lang in seen else CHANCE for lang in XCOPA_LANGS) / len(XCOPA_LANGS)


def average_forms(by_lang: Mapping[str, float | None], model: str | None) -> dict[str, float | None]:
    """Every form by its leaderboard column name."""
    return {FORM_COLUMNS[form]: average_accuracy(by_lang, form, model) for form in AVERAGE_FORMS}


# ---- ranking on common ground ------------------------------------------------------------------------
# Configurations evaluated on different language sets cannot be ranked by their own averages:
# translate-test on XCOPA's published translations (no Quechua) averages over 10 languages,
# direct fine-tuning over 11, and Quechua is the hardest. Rankings (Compare's frontier, the
# report's, the leaderboard's common_accuracy) use the languages every one of them evaluated.
COMMON_MARK = "†"


@dataclass(frozen=True)
class CommonGround:
    """The XCOPA languages every configuration (or run) of a set evaluated, and each one's mean
    accuracy over exactly those: the figure to rank them by."""

    langs: tuple[str, ...]  # in XCOPA order; empty when no language is common to all
    means: dict[str, float | None]  # id -> mean over ``langs`` (None: nothing evaluated, or no common language)
    evaluated: dict[str, tuple[str, ...]]  # id -> the XCOPA languages it evaluated

    def differs(self, key: str) -> bool:
        """Evaluated languages other than the common ones (more of them): its own average is not comparable."""
        return set(self.evaluated.get(key, ())) != set(self.langs)

    def mark(self, key: str) -> str:
        return COMMON_MARK if self.differs(key) and self.evaluated.get(key) else ""

    def note(self, key: str) -> str | None:
        """'evaluated on 11 of 11 languages; ranked on the 10 common ones' for one whose set differs."""
        own = self.evaluated.get(key, ())
        if not own or not self.differs(key):
            return None
        return (
            f"evaluated on {len(own)} of {len(XCOPA_LANGS)} languages; ranked on the {len(self.langs)} common "
            f"one{'s' if len(self.langs) != 1 else ''}"
        )

    def statement(self) -> str:
        """What the ranking is over, for the reader."""
        if not self.langs:
            return "no XCOPA language was evaluated by every configuration: nothing to rank on common ground"
        missing = [lang for lang in XCOPA_LANGS if lang not in self.langs]
        out = (
            f"ranked on the {len(self.langs)} XCOPA language{'s' if len(self.langs) != 1 else ''} every "
            f"configuration evaluated ({', '.join(self.langs)})"
        )
        if any(self.differs(k) for k, own in self.evaluated.items() if own):
            out += (
                f"; {COMMON_MARK}: evaluated on other languages too"
                + (f" (not common: {', '.join(missing)})" if missing else "")
                + ", its own average is not comparable"
            )
        return out

    def rank_key(self, key: str) -> tuple[bool, float]:
        """Best common-ground mean first, those without one last."""
        m = self.means.get(key)
        return (m is None, -(m or 0.0))


def common_ground(by_id: Mapping[str, Mapping[str, float | None]]) -> CommonGround:
    """The common language set of ``by_id`` (id -> language -> accuracy; English and languages
    without an accuracy are left out) and each one's mean accuracy over it. An id that evaluated
    no XCOPA language takes no part in the intersection (and has no mean)."""
    evaluated = {
        key: tuple(lang for lang in XCOPA_LANGS if by_lang.get(lang) is not None) for key, by_lang in by_id.items()
    }
    sets = [set(own) for own in evaluated.values() if own]
    common = set.intersection(*sets) if sets else set()
    langs = tuple(lang for lang in XCOPA_LANGS if lang in common)
    means: dict[str, float | None] = {}
    for key, by_lang in by_id.items():
        values = [float(by_lang[lang]) for lang in langs if by_lang.get(lang) is not None]  # type: ignore[arg-type]
        means[key] = sum(values) / len(values) if langs and len(values) == len(langs) else None
    return CommonGround(langs, means, evaluated)


# ---- the same definitions as SQL (the store's leaderboard) ------------------------------------------


def sql_target_langs() -> str:
    """The XCOPA languages as a SQL list literal, for ``lang IN (...)`` filters."""
    return ", ".join(f"'{lang}'" for lang in XCOPA_LANGS)


def sql_model_family(model: str) -> str:
    """A SQL expression: ``model_family`` of the model column ``model``."""
    last = f"regexp_extract(rtrim(lower({model}), '/'), '[^/]*$')"
    cases = " ".join(f"WHEN starts_with({last}, '{prefix}') THEN '{family}'" for prefix, family in FAMILY_PREFIXES)
    return f"(CASE {cases} END)"


def _sql_mean_present(cols: list[str]) -> str:
    total = " + ".join(f"coalesce({c}, 0)" for c in cols)
    count = " + ".join(f"CAST({c} IS NOT NULL AS INTEGER)" for c in cols)
    return f"(({total}) / nullif({count}, 0))"


def sql_average(form: str, acc: Callable[[str], str], family: str) -> str:
    """A SQL expression for ``average_accuracy(form)``: ``acc(lang)`` names the per-language
    accuracy column (NULL when not evaluated) and ``family`` the model family expression."""
    cols = {lang: acc(lang) for lang in XCOPA_LANGS}
    if form == "evaluated":
        return _sql_mean_present(list(cols.values()))
    if form == "all":
        every = " AND ".join(f"{c} IS NOT NULL" for c in cols.values())
        return f"(CASE WHEN {every} THEN ({' + '.join(cols.values())}) / {len(cols)} END)"
    if form not in ("published", "seen"):
        raise ValueError(f"unknown average form {form!r}; one of {', '.join(AVERAGE_FORMS)}")
    cases = []
    for fam, seen in PRETRAINING_LANGS.items():
        if form == "seen":
            expr = _sql_mean_present([cols[lang] for lang in seen])
        else:
            every = " AND ".join(f"{cols[lang]} IS NOT NULL" for lang in seen)
            parts = [cols[lang] if lang in seen else repr(CHANCE) for lang in XCOPA_LANGS]
            expr = f"(CASE WHEN {every} THEN ({' + '.join(parts)}) / {len(XCOPA_LANGS)} END)"
        cases.append(f"WHEN '{fam}' THEN {expr}")
    return f"(CASE {family} {' '.join(cases)} END)"
