"""Comparability variants: configurations of the report that differ only in ``xcopa_question``
and/or ``icl_prompt`` (issue 19), grouped so the report can put them side by side.

Published XCOPA numbers read the question field as released (``xcopa_question = "published"``:
XTREME-R's data, lm-evaluation-harness's ``cambridgeltl/xcopa``), and the harness's ICL numbers
use its prompt (``icl_prompt = "lm-eval"``); xcost-tui's defaults correct the question
(``"copa"``, docs/tasks.md) and keep the harness prompt. A group names which member is the one
comparable with published numbers. The accuracies are the verdict's, per configuration (never
pooled over seeds or over the variants).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..configuration import LATER_DEFAULTS, configuration_of, digest
from ..methods import UNTRAINED_METHODS
from ..tasks.prompts import LM_EVAL, LM_EVAL_VERSION

VARIANT_KEYS = ("xcopa_question", "icl_prompt")
# a spec that leaves a key out has it at its default (older spec files have no icl_prompt)
VARIANT_DEFAULTS = {"xcopa_question": "copa", "icl_prompt": LM_EVAL}
PUBLISHED_QUESTION = "published"


@dataclass(frozen=True)
class Member:
    config_id: str
    values: dict[str, str]  # VARIANT_KEYS -> the configuration's value
    icl: bool  # an icl configuration (its prompt matters)

    @property
    def comparable(self) -> bool:
        """Reads XCOPA as published numbers do: the released question field and, for icl, the
        harness's prompt."""
        return self.values["xcopa_question"] == PUBLISHED_QUESTION and (
            not self.icl or self.values["icl_prompt"] == LM_EVAL
        )


@dataclass(frozen=True)
class VariantGroup:
    """Configurations equal but for VARIANT_KEYS (at least two)."""

    members: list[Member]
    keys: tuple[str, ...]  # the VARIANT_KEYS whose values differ within the group
    # icl: per language, (premises whose last character lm-eval's prompt cuts, premises evaluated)
    premises_cut: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def icl(self) -> bool:
        return any(m.icl for m in self.members)

    def comparable(self) -> list[Member]:
        return [m for m in self.members if m.comparable]


def variant_values(spec: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(spec.get(k) or VARIANT_DEFAULTS[k]) for k in VARIANT_KEYS}


def group_variants(specs: Mapping[str, Mapping[str, Any]], order: list[str]) -> list[VariantGroup]:
    """Groups of the configurations ``specs`` (config id -> one run's spec) that are equal but for
    VARIANT_KEYS, each in ``order`` (the report's table order); groups of one are left out."""
    groups: dict[str, list[str]] = {}
    for cid in order:
        if cid not in specs:
            continue
        rest = configuration_of({**LATER_DEFAULTS, **VARIANT_DEFAULTS, **specs[cid]})
        key = digest({k: v for k, v in rest.items() if k not in VARIANT_KEYS})
        groups.setdefault(key, []).append(cid)
    out = []
    for ids in groups.values():
        if len(ids) < 2:
            continue
        members = [
            Member(cid, variant_values(specs[cid]), specs[cid].get("method") in UNTRAINED_METHODS) for cid in ids
        ]
        keys = tuple(k for k in VARIANT_KEYS if len({m.values[k] for m in members}) > 1)
        if keys:  # configurations equal in these too (one spec file older than a field): no variants
            out.append(VariantGroup(members, keys))
    return out


def gather_variants(con: Any, shown: list[str]) -> list[VariantGroup]:
    """The variant groups among the configurations ``shown`` (read-only connection ``con``): one
    succeeded run's spec per configuration, and the icl eval phases' premise counts."""
    rows = con.execute(
        "SELECT config_id, any_value(spec) FROM runs WHERE status = 'succeeded' AND list_contains(?, config_id) "
        "GROUP BY config_id",
        [shown],
    ).fetchall()
    specs = {str(cid): json.loads(spec) if isinstance(spec, str) else dict(spec or {}) for cid, spec in rows}
    out = []
    for g in group_variants(specs, shown):
        icl_ids = [m.config_id for m in g.members if m.icl]
        if not icl_ids:
            out.append(g)
            continue
        counts = con.execute(
            "SELECT p.lang, max(try_cast(json_extract(p.info, '$.premises_cut') AS BIGINT)), "
            "max(try_cast(json_extract(p.info, '$.premises') AS BIGINT)) FROM phases p JOIN runs r USING (run_id) "
            "WHERE r.status = 'succeeded' AND list_contains(?, r.config_id) AND p.kind = 'eval' "
            "AND p.lang IS NOT NULL GROUP BY p.lang",
            [icl_ids],
        ).fetchall()
        cut = {str(lang): (int(c), int(n)) for lang, c, n in counts if c is not None and n is not None}
        out.append(VariantGroup(g.members, g.keys, cut))
    return out


def comparability_sentence(group: VariantGroup, label_of: Any) -> str:
    """Which member of ``group`` is comparable with which published numbers (``label_of``: config
    id -> its label in the report)."""
    what = (
        f"lm-evaluation-harness's published XCOPA numbers (its xcopa task reads the question field as "
        f'released, with the prompt of lm-eval {LM_EVAL_VERSION}: `xcopa_question = "published"`, '
        f'`icl_prompt = "lm-eval"`)'
        if group.icl
        else "published fine-tuning numbers such as XTREME-R's (Ruder et al. 2021), which read XCOPA's "
        'question field as released (`xcopa_question = "published"`)'
    )
    comparable = group.comparable()
    if comparable:
        head = f"Comparable with {what}: {', '.join(label_of(m.config_id) for m in comparable)}."
    else:
        head = f"None of these is comparable with {what}."
    notes = []
    if "xcopa_question" in group.keys:
        notes.append(
            '`xcopa_question = "copa"` takes each question from English COPA, correcting the released field '
            "(th, tr, sw, id and it differ; docs/tasks.md)"
        )
    if "icl_prompt" in group.keys:
        notes.append(
            '`icl_prompt = "period-only"` keeps the last character of premises without a final period '
            "(Thai and Tamil), which the harness's prompt cuts (docs/methods.md)"
        )
    return head + (" " + "; ".join(notes) + "." if notes else "")
