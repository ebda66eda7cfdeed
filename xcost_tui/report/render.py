"""The report as a document (headings, paragraphs, lists, tables, figures), written out three
ways: Markdown (``report.md``, figures beside it), self-contained HTML (``report.html``, figures
embedded as data URIs, styles inline, no script and no external resource) and a booktabs
LaTeX table (``table.tex``). One document, so the three say the same.
"""

from __future__ import annotations

import base64
import html
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from .. import XCOPA_LANGS
from .. import format as fmt
from ..configuration import short_model
from ..stats.design import GCI_DRAWS
from ..tasks.registry import paper_name
from ..verdict.api import ComparisonRow, ConfigurationRow, Estimate
from .data import ReportData, finding, seed_text
from .protocol import sentences as protocol_sentences
from .texnum import NumberColumn, column_format
from .variants import comparability_sentence

# ---- the document -------------------------------------------------------------------------------


@dataclass
class Heading:
    text: str
    level: int = 2
    id: str = ""


@dataclass
class Para:
    text: str  # `code` spans are marked with backticks


@dataclass
class Bullets:
    items: list[str]
    id: str = ""
    fold_after: int | None = None  # HTML: the items past this many fold (<details>)


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)  # right-aligned columns
    caption: str = ""
    id: str = ""


@dataclass
class Fig:
    name: str  # file stem: <name>.svg, <name>.pdf
    title: str
    caption: str
    svg: bytes | None  # None: not drawn (caption says why)


Block = Heading | Para | Bullets | Table | Fig


# ---- numbers --------------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return fmt.acc(x)


def acc_ci(e: Estimate | None) -> str:
    if e is None or e.value is None:
        return fmt.NULL
    if e.low is None or e.high is None:
        return pct(e.value)
    return f"{pct(e.value)} [{pct(e.low)}, {pct(e.high)}]"


def points(x: float) -> str:
    return f"{100 * x:+.1f}"


def diff_ci(c: ComparisonRow) -> str:
    return f"{points(c.diff)} [{points(c.low)}, {points(c.high)}]"


def spread(c: ConfigurationRow) -> str:
    """'2.1 / 0.8': the seed SD and the draw SD of the average, in points ('–' where not estimable)."""
    parts = [fmt.NULL if x is None else f"{100 * x:.1f}" for x in (c.seed_sd, c.draw_sd)]
    return " / ".join(parts)


def pval(p: float | None) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return fmt.NULL
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def ratio(x: float | None) -> str:
    return fmt.NULL if x is None else f"{x:.2g}×"


def hours(x: float | None) -> str:
    return fmt.hours(x)


def queries(x: float | None) -> str:
    return fmt.NULL if x is None else f"{x:,.0f}"


COST_COLUMNS: list[tuple[str, str, Any]] = [
    ("train_device_hours", "train {hw} (full pipeline)", hours),
    ("amortised_train_device_hours", "train {hw} (amortised over {n})", hours),
    ("own_train_device_hours", "own train {hw}", hours),
    ("train_flops", "train FLOPs", fmt.flops),
    ("train_energy_j", "train energy", fmt.energy),
    ("query_latency_p50_s", "latency p50 / query", fmt.seconds),
    ("query_flops", "FLOPs / query", fmt.flops),
    ("peak_train_mem_bytes", "peak train mem", fmt.nbytes),
    # apart from training: the learning curve's evaluations (curve:<phase> phases, issue 17)
    ("curve_device_hours", "curve evals {hw}", hours),
    # person-hours of annotation (issue 19), shown only when a configuration prices it
    ("annotation_hours", "annotation person-hours", fmt.hours),
]


# ---- building -------------------------------------------------------------------------------------


def _intro(d: ReportData) -> list[Block]:
    v = d.verdict
    base = (
        f"`{v.baseline}` ({d.label(v.baseline)}) for every configuration"
        if v.baseline is not None
        else "each configuration's default: direct fine-tuning of the same model and recipe"
    )
    n_runs = sum(d.config(c).n_runs for c in d.shown)
    return [
        Heading("xcost-tui report", 1, "top"),
        Para(f"Selection: {d.selection.how}. Store: `{d.store}`. Generated {d.generated} by xcost-tui {d.version}."),
        Para(
            f"{len(d.selected)} configuration(s) selected, {len(d.shown)} shown with their baselines, "
            f"{n_runs} succeeded run(s). Baseline: {base}. Accuracy intervals: 95%, over training seeds (shot "
            f"draws nested in them; an in-context configuration's draws), and test items (a generalized "
            f"confidence interval over the crossed variance components, {GCI_DRAWS:,} draws: a p-value near "
            f"0.05 is within ±0.003); differences: paired by training seed when both sides train, else "
            f"independent arms on the same items; words from Holm-adjusted p-values (over the languages of one "
            f"comparison; the averages over the configurations compared with one baseline); similar accuracy: "
            f"the 90% interval of the difference inside ±{100 * v.delta:g} points (two one-sided tests, "
            f"Holm-adjusted the same way). Costs: "
            + (
                "the full pipeline, a reused intermediate phase included"
                if v.amortise_n == 1
                else f"the full pipeline, and with the intermediate phase amortised over {v.amortise_n:g} target tasks"
            )
            + ". docs/statistics.md explains every number."
        ),
        *_evidence(d),
        *_protocol(d),
    ]


def _protocol(d: ReportData) -> list[Block]:
    """The few-shot protocol's sentences (draws, sweeps, the annotation boundary), when any apply."""
    said = protocol_sentences(d.protocol)
    return [Para(" ".join(said))] if said else []


# Where the case for intermediate training on XCOPA comes from (docs/recipes.md, "What the evidence
# for intermediate training on XCOPA is"): said wherever an intermediate configuration is shown.
EVIDENCE = (
    "Intermediate tasks: the English tasks of Phang et al. (2020), who studied XTREME's target tasks, not "
    "XCOPA, so their ranking of tasks is a hypothesis here, not a published XCOPA result; the evidence "
    "for SIQA → COPA on XCOPA is Ponti et al. (2020) and XTREME-R (Ruder et al. 2021). The intermediate "
    "recipe jiant-simple is jiant's defaults, not values confirmed from Phang et al.'s paper (docs/recipes.md)."
)


def _evidence(d: ReportData) -> list[Block]:
    if any(d.config(c).method == "intermediate" for c in d.shown):
        return [Para(EVIDENCE)]
    return []


def _verdict(d: ReportData) -> list[Block]:
    out: list[Block] = [Heading("Verdict", 2, "verdict")]
    if d.sentences:
        out.append(Bullets(list(d.sentences), "verdict-sentences", fold_after=FOLD_SENTENCES))
    else:
        out.append(
            Para(
                "No comparison: a configuration needs a succeeded baseline scored on the same items (direct "
                "fine-tuning of the same model and recipe, else the direct configuration with most runs, or "
                "`--baseline`)."
            )
        )
    if d.sensitivity:
        out.append(Para(f"δ-sensitivity of the headline words (average accuracy): {d.sensitivity}."))
    avg = [c for c in d.comparisons if c.lang == "avg"]
    if avg:
        rows = []
        for c in avg:
            a, b = d.verdict.configurations.get(c.config_id), d.verdict.configurations.get(c.baseline_id)
            # the verdict's ratios: two trainings identical by spec are one training (ratio 1)
            r = None if a is None or b is None else d.verdict.cost_ratio(c.config_id, c.baseline_id, d.cost_key).ratio
            q = (
                None
                if a is None or b is None
                else d.verdict.cost_ratio(c.config_id, c.baseline_id, "query_flops").ratio
            )
            rows.append(
                [
                    d.label(c.config_id),
                    d.label(c.baseline_id),
                    c.design,
                    str(c.n_items),
                    diff_ci(c),
                    pval(c.p_value),
                    pval(c.p_holm),
                    finding(c),
                    ratio(r),
                    ratio(q),
                ]
            )
        out.append(
            Table(
                [
                    "configuration",
                    "baseline",
                    "design",
                    "items",
                    "Δ points [95% CI]",
                    "p",
                    "Holm p",
                    "finding",
                    f"train {d.hours_word} ×",
                    "FLOPs / query ×",
                ],
                rows,
                {3, 4, 5, 6, 8, 9},
                "Average XCOPA accuracy over the languages both evaluated; Holm over the configurations compared "
                "with one baseline.",
                "verdict-table",
            )
        )
    return out


def _configurations(d: ReportData) -> list[Block]:
    priced = any(d.config(cid).costs.get("annotation_hours") is not None for cid in d.shown)
    cols = [
        c
        for c in COST_COLUMNS
        if (c[0] != "amortised_train_device_hours" or d.verdict.amortise_n != 1)
        and (c[0] != "annotation_hours" or priced)
    ]
    header = [
        "configuration",
        "id",
        "family",
        "runs",
        "languages",
        "avg % [95% CI]",
        "seed / draw SD",
        "interval covers",
        "common %",
        "en % [95% CI]",
        *(h.format(hw=d.hours_word, n=f"{d.verdict.amortise_n:g}") for _, h, _ in cols),
        "frontier",
    ]
    rows = []
    for cid in d.shown:
        c = d.config(cid)
        n_langs = sum(1 for lang in XCOPA_LANGS if lang in c.accuracy)
        common = d.common.means.get(cid)
        rows.append(
            [
                d.label(cid) + ("" if cid in d.selected else " (baseline)"),
                cid,
                c.family,
                str(c.n_runs),
                str(n_langs),
                acc_ci(c.avg),
                spread(c),
                c.covers or fmt.NULL,
                (pct(common) + d.common.mark(cid)) if common is not None else pct(None),
                acc_ci(c.accuracy.get("en")),
                *(f(c.costs.get(k)) for k, _, f in cols),
                "yes" if cid in d.frontier else "",
            ]
        )
    numeric = {3, 4, 5, 6, 8, 9, *range(10, 10 + len(cols))}
    return [
        Heading("Configurations", 2, "configurations"),
        Table(
            header,
            rows,
            numeric,
            "Mean over each configuration's succeeded runs; avg: mean over runs and the XCOPA languages "
            "it evaluated, with its 95% interval; seed / draw SD: the spread of a new training seed's, and of a "
            "new shot draw's, average accuracy in points (the interval's variance components); interval covers: "
            "the factors the interval accounts for ('items only (1 seed)': not training variation); common: mean over the languages every configuration "
            f"shown evaluated, the one the frontier is ranked on ({d.common.statement()}); costs: mean "
            "over runs ('–': not measured on this machine)."
            + (
                " A blank accuracy: its runs recorded no per-example predictions (Flags)."
                if any(f.kind == "no-predictions" for f in d.flags)
                else ""
            ),
            "configurations-table",
        ),
    ]


def _figures(d: ReportData, figs: dict[str, tuple[bytes | None, str]]) -> list[Block]:
    why = {
        "frontier": "no configuration has both a training cost and an average accuracy",
        "languages": "no per-language accuracy",
        "curves": "no learning-curve points recorded for these configurations (`curve_points = 0`, or runs made "
        "before learning curves were recorded)",
        "break_even": "no comparison with measured training and per-query device-hours",
    }
    captions = {
        "frontier": f"XCOPA accuracy over the {len(d.common.langs)} languages every configuration shown evaluated "
        f"against {d.hours_word} of training, one point per configuration (markers and colours: families; the "
        f"95% interval bar where the configuration evaluated exactly those languages); the line is the frontier "
        f"of configurations (nothing is both cheaper and more accurate). {d.common.statement().capitalize()}.",
        "languages": f"Accuracy per language with 95% intervals; {d.figure_rule}.",
        "curves": f"Held-out accuracy (XCOPA validation items not drawn as shots, mean over languages and runs) at "
        f"each evaluation point of the target phase, against the cumulative training cost of the full "
        f"pipeline; shaded: from the lowest to the highest run (seeds, shot draws) at each point, where a "
        f"configuration has two or more; {d.figure_rule}.",
        "break_even": f"Total {d.hours_word} (training + queries × per-query cost) against queries served, log "
        f"scales; dashed: a baseline; N* marks where the totals cross. Curves that merge without "
        f"crossing have the same per-query cost: the cheaper training stays cheaper.",
    }
    out: list[Block] = [Heading("Figures", 2, "figures")]
    for name, (svg, title) in figs.items():
        out.append(Fig(name, title, captions[name] if svg is not None else f"Not drawn: {why[name]}.", svg))
    return out


def _languages(d: ReportData) -> list[Block]:
    langs = [lang for lang in ("en", *XCOPA_LANGS) if any(lang in d.config(c).accuracy for c in d.shown)]
    rows = [[d.label(c), *(acc_ci(d.config(c).accuracy.get(lang)) for lang in langs)] for c in d.shown]
    return [
        Heading("Accuracy per language", 2, "languages"),
        Table(
            ["configuration", *langs],
            rows,
            set(range(1, len(langs) + 1)),
            "Accuracy in % with 95% intervals; en: English COPA validation, the others XCOPA test.",
            "languages-table",
        ),
    ]


def _variants(d: ReportData) -> list[Block]:
    """Comparability variants: configurations that differ only in xcopa_question and/or
    icl_prompt, side by side (no section when the report holds none)."""
    if not d.variants:
        return []
    out: list[Block] = [
        Heading("Comparability variants", 2, "variants"),
        Para(
            "Configurations that differ only in how XCOPA is read: `xcopa_question` (the cause/effect "
            "question from English COPA, or as released) and, for icl, `icl_prompt` (lm-evaluation-harness's "
            "prompt, or the premise without a final period only). Each row is one configuration's accuracy "
            "with its 95% interval, as in the tables above; their differences are not tested here."
        ),
    ]
    for i, g in enumerate(d.variants, 1):
        cfgs = [d.config(m.config_id) for m in g.members]
        langs = [lang for lang in ("en", *XCOPA_LANGS) if any(lang in c.accuracy for c in cfgs)]
        forms = [f for f in ("avg",) if any(f in c.accuracy for c in cfgs)]
        rows = [
            [
                d.label(m.config_id),
                f"`{m.values['xcopa_question']}`",
                f"`{m.values['icl_prompt']}`" if m.icl else fmt.NULL,
                "yes" if m.comparable else "no",
                str(c.n_runs),
                *(acc_ci(c.accuracy.get(x)) for x in (*langs, *forms)),
            ]
            for m, c in zip(g.members, cfgs)
        ]
        out.append(
            Table(
                ["configuration", "xcopa_question", "icl_prompt", "comparable with published", "runs", *langs, *forms],
                rows,
                set(range(4, 5 + len(langs) + len(forms))),
                f"Group {i}: accuracy in % with 95% intervals per configuration (never pooled over them); "
                "en: English COPA validation, the others XCOPA.",
                f"variants-table-{i}",
            )
        )
        out.append(Para(comparability_sentence(g, d.label)))
        if g.premises_cut:
            cut = [(lang, c, n) for lang, (c, n) in sorted(g.premises_cut.items()) if lang != "en"]
            some = [f"{lang} {c} of {n}" for lang, c, n in cut if c]
            none = [lang for lang, c, _ in cut if not c]
            out.append(
                Para(
                    "Premises without a final period, whose last character lm-eval's prompt cuts (the "
                    "queries `icl_prompt` changes): "
                    + ("; ".join(some) if some else "none")
                    + (f"; none in {', '.join(none)}" if some and none else "")
                    + "."
                )
            )
    return out


def _mt_quality(d: ReportData) -> list[Block]:
    """translate-test: each configuration's accuracy per language beside the MT quality of the
    English its classifier read (chrF and BLEU; docs/methods.md, "MT quality")."""
    rows_by_config: dict[str, list[dict]] = {}
    for r in d.tables["mt_quality"].to_pylist():
        rows_by_config.setdefault(str(r["config_id"]), []).append(r)
    ids = [c for c in d.shown if c in rows_by_config]
    if not ids:
        return []
    out: list[Block] = [
        Heading("Translate-test: accuracy and MT quality", 2, "mt-quality"),
        Para(
            "Per language, the accuracy of the English classifier on the English translations beside the "
            "translations' quality: chrF and BLEU (sacrebleu, 0–100, over each item's premise and both "
            "choices) against the reference. `copa`: the original English COPA item of the same idx, which "
            "the XCOPA item was translated from, so a low score there is the MT's loss of the meaning "
            "(or a free rendering) and a translate-test loss beside a high score is the classifier's; "
            "`published`: XCOPA's published machine translation (Google Translate), an MT model's agreement "
            "with it. A dash: not scored, with the reason."
        ),
    ]
    signatures: set[str] = set()
    for cid in ids:
        acc = d.config(cid).accuracy
        rows = []
        for r in rows_by_config[cid]:
            scored = r["chrf"] is not None
            rows.append(
                [
                    str(r["lang"]),
                    acc_ci(acc.get(str(r["lang"]))),
                    f"{r['chrf']:.1f}" if scored else "–",
                    f"{r['bleu']:.1f}" if r["bleu"] is not None else "–",
                    str(r["reference"]),
                    f"{r['n_scored']}/{r['n_runs']} runs, {r['items']} items" if scored else str(r["missing"] or ""),
                ]
            )
            for sig in ("chrf_signature", "bleu_signature"):
                if r[sig]:
                    signatures.add(f"{sig.split('_')[0]}: {r[sig]}")
        translator = next((r["translator"] for r in rows_by_config[cid] if r["translator"]), None)
        out.append(
            Table(
                ["language", "accuracy", "chrF", "BLEU", "reference", "scored"],
                rows,
                {1, 2, 3},
                f"{d.label(cid)}: translations {translator or '?'}; accuracy in % with 95% intervals.",
                f"mt-quality-{cid}",
            )
        )
    if signatures:
        out.append(Para("sacrebleu signatures: " + "; ".join(f"`{s}`" for s in sorted(signatures)) + "."))
    return out


def _per_language_comparisons(d: ReportData) -> list[Block]:
    rows = []
    order = {lang: i for i, lang in enumerate(("avg", "avg_all", "avg_published", "avg_seen", "en", *XCOPA_LANGS))}
    for c in sorted(d.comparisons, key=lambda c: (d.label(c.config_id), d.label(c.baseline_id), order.get(c.lang, 99))):
        mc = pval(c.mcnemar_p)
        rows.append(
            [
                d.label(c.config_id),
                d.label(c.baseline_id),
                c.lang,
                c.design,
                str(c.n_items),
                diff_ci(c),
                pval(c.p_value),
                pval(c.p_holm),
                mc,
                finding(c),
            ]
        )
    if not rows:
        return []
    return [
        Heading("Comparisons per language", 2, "comparisons"),
        Table(
            [
                "configuration",
                "baseline",
                "language",
                "design",
                "items",
                "Δ points [95% CI]",
                "p",
                "p (Holm)",
                "McNemar p (items only)",
                "finding",
            ],
            rows,
            {3, 4, 5, 6, 7, 8},
            "avg, avg_all, avg_published, avg_seen: the average forms (docs/schema.md); design: seed pairs, or "
            "independent arms (runs of each side); Holm over the XCOPA languages of one comparison (the averages: "
            "over the configurations compared with one baseline); McNemar's exact test stratified over seed pairs, "
            "a check on the items alone; finding: from the Holm-adjusted tests, '±δ out of reach' where even a zero "
            "difference could not be called similar at that number of items.",
            "comparisons-table",
        ),
    ]


def _break_even(d: ReportData) -> list[Block]:
    rows = []
    unit = {"device_hours": (hours, d.hours_word), "flops": (fmt.flops, "FLOPs"), "energy_j": (fmt.energy, "energy")}
    for r in d.tables["break_even"].to_pylist():
        f, name = unit.get(r["measure"], (fmt.number, r["measure"]))
        n_star = f"{queries(r['queries'])} queries" if r["verdict"] == "crosses" else r["verdict"]
        rows.append(
            [
                d.label(r["config_id"]),
                d.label(r["baseline_id"]),
                name,
                f(r["train_a"]),
                f(r["train_b"]),
                f(r["query_a"]),
                f(r["query_b"]),
                n_star,
            ]
        )
    if not rows:
        return []
    return [
        Heading("Break-even", 2, "break-even"),
        Table(
            [
                "configuration",
                "baseline",
                "measure",
                "train (config)",
                "train (baseline)",
                "per query (config)",
                "per query (baseline)",
                "N* = ΔC_train / Δc_query",
            ],
            rows,
            {3, 4, 5, 6},
            "never: the same per-query cost (within 5% for measured time and energy, 1e-6 for FLOPs), so "
            "the totals never cross; always a / always b: one side is cheaper in both.",
            "break-even-table",
        ),
    ]


def _cost_to_reach(d: ReportData) -> list[Block]:
    rows = []
    for r in d.tables["cost_to_reach"].to_pylist():
        rows.append(
            [
                d.label(r["config_id"]),
                d.label(r["baseline_id"]) or fmt.NULL,
                pct(r["target_accuracy"]),
                hours(r["train_device_hours_to_reach"]) if r["reached"] else "not reached",
            ]
        )
    if not rows:
        return []
    return [
        Heading("Cost to reach the baseline's accuracy", 2, "cost-to-reach"),
        Table(
            [
                "configuration",
                "baseline",
                "target: baseline's final held-out accuracy (%)",
                f"training {d.hours_word} to reach it",
            ],
            rows,
            {2, 3},
            "From the learning curves (target phase, mean over XCOPA validation languages and runs), "
            "interpolated between evaluation points.",
            "cost-to-reach-table",
        ),
    ]


# The Warnings section at the top: one line per kind of flag, most important first (contention
# first: it changes what every cost means); the Flags section keeps every flag.
WARNING_KINDS: tuple[tuple[str, str], ...] = (
    ("contended", "Contention"),
    ("no-predictions", "No predictions"),
    ("failed", "Failed runs"),
    ("running", "Runs still running"),
    ("no-runs", "Configurations without a succeeded run"),
    ("collapsed", "Collapsed runs"),
    ("restarted", "Restarted runs"),
    ("mixed-env", "Mixed devices"),
    ("no-baseline", "No baseline"),
    ("single-draw", "One shot draw"),
    ("single-pair", "One seed pair"),
    ("single-seed", "One run"),
    ("languages", "Languages"),
    ("chance", "At chance"),
)
WARNING_EXAMPLES = 1  # flag texts quoted per kind; the rest are in Flags


def _contention_effect(d: ReportData) -> str:
    n = sum(d.config(c).contended_runs for c in d.shown)
    runs, are = (f"{n} runs", "are") if n != 1 else ("1 run", "is")
    if d.verdict.include_contended:
        return (
            f"{runs} measured beside other work {are} in the costs (`--include-contended`): their time and "
            "energy may be inflated (marked † in table.tex)"
        )
    return (
        f"{runs} measured beside other work {are} left out of every cost (`--include-contended` counts "
        "them; marked ‡ in table.tex)"
    )


def _warnings(d: ReportData) -> list[Block]:
    """The flags, one line per kind, most important first, before the results."""
    if not d.flags:
        return []
    items = []
    for kind, title in WARNING_KINDS:
        found = [f for f in d.flags if f.kind == kind]
        if not found:
            continue
        shown = "; ".join(f.text for f in found[:WARNING_EXAMPLES])
        more = f" (and {len(found) - WARNING_EXAMPLES} more: Flags)" if len(found) > WARNING_EXAMPLES else ""
        lead = (
            f"{_contention_effect(d)}. "
            if kind == "contended" and any(d.config(c).contended_runs for c in d.shown)
            else ""
        )
        items.append(f"{title}: {lead}{shown}{more}")
    others = [f for f in d.flags if f.kind not in dict(WARNING_KINDS)]
    if others:
        items.append("Other: " + "; ".join(f.text for f in others[:WARNING_EXAMPLES]))
    return [Heading("Warnings", 2, "warnings"), Bullets(items, "warnings-list")]


def _flags(d: ReportData) -> list[Block]:
    out: list[Block] = [Heading("Flags", 2, "flags")]
    if not d.flags:
        out.append(
            Para(
                "None: no collapsed run, no language indistinguishable from chance, no single-seed "
                "interval, no contended phase, no failed run."
            )
        )
        return out
    out.append(Bullets([f.text for f in d.flags], "flags-list"))
    return out


def _environment(d: ReportData) -> list[Block]:
    rows = [
        [name, "; ".join(f"{val} ({n} run{'s' if n != 1 else ''})" for val, n in vals)] for name, vals in d.environment
    ]
    seeds = []
    for cid in d.shown:
        s, draws = d.seeds.get(cid, ([], []))
        c = d.config(cid)
        seeds.append([d.label(cid), str(c.n_runs), seed_text(s), seed_text(draws) if draws else fmt.NULL])
    return [
        Heading("Environment", 2, "environment"),
        Table(
            ["", "values (succeeded runs)"],
            rows,
            set(),
            "From each run's `run_start` event (the runs table).",
            "environment-table",
        ),
        Heading("Seeds", 2, "seeds"),
        Table(
            ["configuration", "runs", "training seeds", "shot seeds"],
            seeds,
            {1},
            "Runs of two configurations are paired by equal training seed (and equal shot seed when both draw shots).",
            "seeds-table",
        ),
    ]


TABLE_NOTES = {
    "configurations": "the `configurations` view: one row per configuration shown (accuracy triples, mean costs)",
    "accuracy": "accuracy with its 95% interval per configuration and language or average form (`verdict_accuracy`)",
    "comparisons": "every comparison per language and average form, with cost ratios",
    "break_even": "per comparison and cost measure: training and per-query costs, N*, verdict",
    "cost_to_reach": "per configuration: the baseline's final held-out accuracy and the cost to reach it",
    "learning_curves": "the learning-curve points, averaged per configuration, phase, point and language",
    "runs": "every run of the configurations shown, failed ones included, with its environment",
    "environment": "the environment fields and how many succeeded runs had each value",
    "flags": "every flag of this report",
}


def _files(files: list[str]) -> list[Block]:
    figs = [f[:-4] for f in files if f.endswith(".svg")]
    tables = [f[:-4] for f in files if f.endswith(".csv")]
    items = ["`report.md`, `report.html` (self-contained), `table.tex` (`\\usepackage{booktabs,siunitx,tabularx}`)"]
    if figs:
        items.append("figures, each as SVG and PDF: " + ", ".join(f"`{f}.svg`" for f in figs))
    items += [f"`{t}.csv`, `{t}.parquet`: {TABLE_NOTES.get(t, t)}" for t in tables]
    return [Heading("Files", 2, "files"), Bullets(items, "files-list")]


def document(d: ReportData, figs: dict[str, tuple[bytes | None, str]], files: list[str]) -> list[Block]:
    return [
        *_intro(d),
        *_warnings(d),
        *_verdict(d),
        *_configurations(d),
        *_figures(d, figs),
        *_languages(d),
        *_variants(d),
        *_mt_quality(d),
        *_per_language_comparisons(d),
        *_break_even(d),
        *_cost_to_reach(d),
        *_flags(d),
        *_environment(d),
        *_files(files),
    ]


# ---- Markdown ------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Table):
            lines = [
                "| " + " | ".join(_md_cell(h) for h in b.header) + " |",
                "|" + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.header))) + "|",
            ]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            if b.caption:
                lines.append(f"\n{b.caption}")
            out.append("\n".join(lines))
        elif isinstance(b, Fig):
            if b.svg is None:
                out.append(f"**{b.title}.** {b.caption}")
            else:
                out.append(
                    f"![{b.title}]({b.name}.svg)\n\n**{b.title}.** {b.caption} "
                    f"([SVG]({b.name}.svg), [PDF]({b.name}.pdf))"
                )
    return "\n\n".join(out) + "\n"


# ---- HTML -----------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 2rem 0;
       padding: 0 2rem; color: #1b1b1b; line-height: 1.45; }
/* text keeps a readable measure; a wide table takes the window's width, and scrolls past it */
h1, h2, p, ul, figure, .missing { max-width: 72rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
code { background: #f3f3f3; padding: 0 0.2em; border-radius: 3px; font-size: 0.92em; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
.scroll { overflow-x: auto; max-width: 100%; }
th, td { padding: 0.2rem 0.55rem; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { text-align: left; border-bottom: 2px solid #999; background: #fafafa; position: sticky; top: 0; }
td:first-child { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: 0.8rem; padding-top: 0.3rem; }
figure { margin: 1rem 0 1.5rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.85rem; }
#verdict-sentences li { margin: 0.3rem 0; font-size: 1.02rem; }
.missing { color: #777; font-style: italic; }
summary { cursor: pointer; color: #0b5cad; margin: 0.4rem 0; }
"""


COLLAPSE_ROWS = 60  # an HTML table longer than this starts folded
FOLD_SENTENCES = 30  # verdict sentences shown before the rest fold


def _inline(text: str) -> str:
    parts = re.split(r"`([^`]*)`", text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def _attr_id(b: Any) -> str:
    return f' id="{html.escape(b.id)}"' if getattr(b, "id", "") else ""


def to_html(blocks: list[Block], title: str = "xcost-tui report") -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}{_attr_id(b)}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            items = [f"<li>{_inline(i)}</li>" for i in b.items]
            if b.fold_after is not None and len(items) > b.fold_after:
                rest = items[b.fold_after :]
                body.append(
                    f"<div{_attr_id(b)}><ul>{''.join(items[: b.fold_after])}</ul><details><summary>"
                    f"{len(rest):,} more: show</summary><ul>{''.join(rest)}</ul></details></div>"
                )
            else:
                body.append(f"<ul{_attr_id(b)}>" + "".join(items) + "</ul>")
        elif isinstance(b, Table):
            # the table's numeric columns are bound now (B023); the lambda is used in this iteration only
            cls = lambda i, numeric=b.numeric: ' class="num"' if i in numeric else ""  # noqa: E731
            head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(b.header))
            rows = "".join(
                "<tr>" + "".join(f"<td{cls(i)}>{html.escape(c)}</td>" for i, c in enumerate(r)) + "</tr>"
                for r in b.rows
            )
            cap = f"<caption>{_inline(b.caption)}</caption>" if b.caption else ""
            table = (
                f'<div class="scroll"><table{_attr_id(b)}>{cap}<thead><tr>{head}</tr></thead>'
                f"<tbody>{rows}</tbody></table></div>"
            )
            if len(b.rows) > COLLAPSE_ROWS:  # a long table folds (no script: <details>); the Markdown has it all
                table = f"<details><summary>{len(b.rows):,} rows: show</summary>{table}</details>"
            body.append(table)
        elif isinstance(b, Fig):
            if b.svg is None:
                body.append(
                    f'<p class="missing" id="figure-{b.name}"><strong>{html.escape(b.title)}.</strong> '
                    f"{_inline(b.caption)}</p>"
                )
            else:
                data = base64.b64encode(b.svg).decode("ascii")
                body.append(
                    f'<figure id="figure-{b.name}"><img src="data:image/svg+xml;base64,{data}" '
                    f'alt="{html.escape(b.title)}"><figcaption><strong>{html.escape(b.title)}.</strong> '
                    f"{_inline(b.caption)}</figcaption></figure>"
                )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# ---- LaTeX ----------------------------------------------------------------------------------------

_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # OT1, LaTeX's default font encoding, prints < > | of the text font as ¡ ¿ —
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "·": r"$\cdot$",  # math: \textperiodcentered is in TS1, a bitmap font under pdflatex without cm-super
    "→": r"$\rightarrow$",
    "–": "--",
    "×": r"$\times$",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "−": r"$-$",
    "—": "---",
    "…": r"\ldots{}",
    "\u00a0": "~",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
}


# The accents of LaTeX's own commands, by the combining mark a decomposed letter carries (é = e + U+0301).
_TEX_ACCENTS = {
    "\u0300": "`",
    "\u0301": "'",
    "\u0302": "^",
    "\u0303": "~",
    "\u0304": "=",
    "\u0306": "u",
    "\u0307": ".",
    "\u0308": '"',
    "\u030a": "r",
    "\u030b": "H",
    "\u030c": "v",
    "\u0327": "c",
    "\u0328": "k",
}
# Letters without a decomposition that LaTeX names (the kernel's text commands, OT1 and T1 alike).
_TEX_LETTERS = {
    "ß": r"\ss{}",
    "æ": r"\ae{}",
    "Æ": r"\AE{}",
    "œ": r"\oe{}",
    "Œ": r"\OE{}",
    "ø": r"\o{}",
    "Ø": r"\O{}",
    "å": r"\aa{}",
    "Å": r"\AA{}",
    "ł": r"\l{}",
    "Ł": r"\L{}",
    "ı": r"\i{}",
}


def _tex_char(ch: str) -> str:
    """One character outside printable ASCII as text pdflatex compiles with no package: an accented
    Latin letter as LaTeX's accent command; a line break or tab as a space; anything else (a control
    character, an emoji, a letter of another script) visibly as its code point, <U+1F600>: pdflatex
    has no glyph for it without fonts and packages a report cannot assume (xelatex with fontspec)."""
    if ch in "\n\r\t":
        return " "
    if ch in _TEX_LETTERS:
        return _TEX_LETTERS[ch]
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if base.isascii() and base.isalpha() and marks and all(m in _TEX_ACCENTS for m in marks):
        out = "\\i" if base == "i" else base  # the dotless i under an accent, as LaTeX writes it
        for m in marks:
            out = f"\\{_TEX_ACCENTS[m]}{{{out}}}"
        return out
    return f"\\texttt{{<U+{ord(ch):04X}>}}"


def tex(text: str) -> str:
    """``text`` as LaTeX text, in ASCII: its special characters escaped, the symbols the report
    writes as LaTeX commands, and every other character by ``_tex_char`` (a run name or model path
    may hold anything)."""
    return "".join(_TEX.get(ch) or (ch if " " <= ch <= "~" else _tex_char(ch)) for ch in text)


# The figures contention moves (time, energy); FLOPs are counted, not timed.
CONTENDED_COSTS = frozenset({"train_device_hours", "amortised_train_device_hours", "query_latency_p50_s"})
TEX_PREAMBLE = r"\usepackage{booktabs,siunitx,tabularx}"


def _tex_langs(d: ReportData, ids: list[str]) -> tuple[dict[str, int], str]:
    """Each configuration's count of XCOPA languages its average covers, and the caption's
    sentence naming them ("11 = all: et, ht, ...; 10 = all but qu")."""
    sets = {cid: tuple(lang for lang in XCOPA_LANGS if lang in d.config(cid).accuracy) for cid in ids}
    said = []
    for langs in sorted(set(sets.values()), key=lambda s: (-len(s), s)):
        missing = [lang for lang in XCOPA_LANGS if lang not in langs]
        if not missing:
            said.append(f"{len(langs)} = all: {', '.join(langs)}")
        elif len(missing) <= len(langs):
            said.append(f"{len(langs)} = all but {', '.join(missing)}")
        else:
            said.append(f"{len(langs)} = {', '.join(langs) or 'none'}")
    return {cid: len(langs) for cid, langs in sets.items()}, "; ".join(said)


def paper_label(label: str) -> str:
    """A configuration label with its tasks as papers name them: the head (before the first " · ")
    is a chain of tasks joined by "+" and "→" ("mnli+siqa→copa", "siqa→few-shot k=4"); each part
    that is a registered task takes its paper name ("MNLI+SIQA→COPA"). The rest is kept."""
    head, sep, rest = label.partition(" · ")
    head = "→".join("+".join(paper_name(t) for t in step.split("+")) for step in head.split("→"))
    return head + sep + rest


def _tex_row_label(d: ReportData, cid: str) -> str:
    """The configuration's label without its model (the model heads its group of rows), its
    tasks as papers name them."""
    c = d.config(cid)
    text = paper_label(d.label(cid).replace(f" · {short_model(c.model)}", "", 1) or d.label(cid))
    # a narrow label column may break a long field name or value ("learning_rate=1e-05", "mnli+siqa")
    # after these characters: else one unbreakable word would stick out of the column
    label = tex(text)
    for after in ("\\_", "=", "+", "$\\rightarrow$", "/", ","):
        label = label.replace(after, after + "\\allowbreak{}")
    return label + ("" if cid in d.selected else r" \emph{(baseline)}")


def latex_table(d: ReportData) -> str:
    """configurations x accuracy (95% intervals) and costs, booktabs and siunitx, ready for a paper:
    no wider than \\textwidth (the label column wraps: tabularx), one number format per column,
    the model heading each group of rows, the languages each average covers, and a mark on the
    costs contention touched."""
    v = d.verdict
    hw = {"GPU-hours": "GPU-h", "CPU-hours": "CPU-h"}.get(d.hours_word, "device-h")
    amort = v.amortise_n != 1
    avg = {c.config_id: c for c in d.comparisons if c.lang == "avg"}
    baselines = {c.baseline_id for c in d.comparisons}
    n_langs, langs_said = _tex_langs(d, d.shown)
    costs = [
        (d.cost_key, "Train", hw + (f", amort.\\ {v.amortise_n:g}" if amort else ""), 1.0),
        ("train_flops", "Train", "FLOPs", 1.0),
        ("query_latency_p50_s", "Query", "ms", 1000.0),
        ("query_flops", "Query", "FLOPs", 1.0),
    ]
    fmts = {k: column_format([_scaled(d.config(c).costs.get(k), f) for c in d.shown]) for k, _, _, f in costs}
    acc_vals = [x for c in d.shown for e in (d.config(c).avg,) for x in (e.value, e.low, e.high)]
    acc_fmt = NumberColumn(False, 0, 1, 3 if any(x is not None and x >= 0.9995 for x in acc_vals) else 2)
    diffs = [x for c in avg.values() for x in (c.diff, c.low, c.high)]
    diff_digits = max([1, *(len(f"{abs(100 * x):.1f}".split(".")[0]) for x in diffs)])
    bold = int(any(c.significant for c in avg.values()))  # a bold mean is wider: room for one more digit
    # marks on the costs contention touched: included (--include-contended), or runs left out
    mark = {
        cid: ("$^\\dagger$" if v.include_contended else "$^\\ddagger$")
        for cid in d.shown
        if d.config(cid).contended_runs
    }
    post = ",table-space-text-post={$^\\dagger$}" if mark else ""
    col_spec = (
        "@{}>{\\raggedright\\arraybackslash}X"
        f" S[table-format={max(len(str(d.config(c).n_runs)) for c in d.shown)}.0]"
        " S[table-format=2.0]"
        # the intervals' bounds in a smaller size than their means: narrower, and the mean reads first
        f" S[table-format={acc_fmt.table_format}]@{{\\,\\scriptsize[}}>{{\\scriptsize}}S[table-format={acc_fmt.table_format}]"
        f"@{{\\scriptsize,\\,}}>{{\\scriptsize}}S[table-format={acc_fmt.table_format}]@{{\\scriptsize]}}"
        f" S[table-format=+{diff_digits + bold}.1]@{{\\,\\scriptsize[}}>{{\\scriptsize}}S[table-format=+{diff_digits}.1]"
        f"@{{\\scriptsize,\\,}}>{{\\scriptsize}}S[table-format=+{diff_digits}.1]@{{\\scriptsize]}}"
        + "".join(
            f" S[table-format={fmts[k].table_format}{post if k in CONTENDED_COSTS else ''}]" for k, _, _, _ in costs
        )
        + "@{}"
    )
    n_cols = 13

    def head(text: str) -> str:  # a header cell over one column (drops the column's @{...} material)
        return f"\\multicolumn{{1}}{{c}}{{{text}}}"

    scales = [fmts[k].header_scale for k, _, _, _ in costs]
    lines = [
        "% xcost-tui report: configurations x accuracy (95% intervals) and costs.",
        f"% Needs {TEX_PREAMBLE} (booktabs: the rules; siunitx: the S columns that align the",
        "% numbers; tabularx: the label column that wraps so the table fits \\textwidth).",
        "% Plain ASCII: a character pdflatex has no glyph for is written <U+XXXX>.",
        "\\begin{table*}[t]",
        "\\centering",
        "\\footnotesize",
        "\\sisetup{mode=math, group-digits=false, retain-explicit-plus, detect-weight=true}",
        "\\setlength{\\tabcolsep}{2.5pt}",
        f"\\begin{{tabularx}}{{\\textwidth}}{{{col_spec}}}",
        "\\toprule",
        " & & & \\multicolumn{3}{c}{Accuracy (\\%)} & \\multicolumn{3}{c}{$\\Delta$ (points)}"
        " & \\multicolumn{2}{c}{Training} & \\multicolumn{2}{c}{Per query} \\\\",
        "\\cmidrule(lr){4-6} \\cmidrule(lr){7-9} \\cmidrule(lr){10-11} \\cmidrule(l){12-13}",
        " & ".join(
            [
                "Configuration",
                head("$n$"),
                head("Lang."),
                head("Mean"),
                "\\multicolumn{2}{c}{95\\% CI}",
                head("Mean"),
                "\\multicolumn{2}{c}{95\\% CI}",
                head(hw),
                head("FLOPs"),
                head("ms"),
                head("FLOPs"),
            ]
        )
        + " \\\\",
    ]
    if any(scales):  # the power of ten a scaled column's numbers are in, under its name
        lines.append(
            " & ".join(
                ["", *[""] * 2, *[head("")] * 6, *(head(f"(${sc[1:-1]}$)") if sc else head("") for sc in scales)]
            )
            + " \\\\"
        )
    model = object()
    for cid in d.shown:
        c: ConfigurationRow = d.config(cid)
        if c.model != model:
            lines.append("\\midrule")
            lines.append(f"\\multicolumn{{{n_cols}}}{{@{{}}l}}{{\\textit{{{tex(short_model(c.model))}}}}} \\\\")
            model = c.model
        e = c.avg
        if e.value is None:
            acc_cells = ["\\multicolumn{3}{c}{--}"]
        elif e.low is None or e.high is None:
            acc_cells = [acc_fmt.cell(100 * e.value), "\\multicolumn{2}{c}{}"]
        else:
            acc_cells = [acc_fmt.cell(100 * x) for x in (e.value, e.low, e.high)]
        comp = avg.get(cid)
        if comp is None:
            diff_cells = ["\\multicolumn{3}{c}{" + ("\\emph{baseline}" if cid in baselines else "--") + "}"]
        else:
            head_cell = f"{100 * comp.diff:+.1f}"
            if comp.significant:  # the Holm-adjusted test (ComparisonRow.significant)
                head_cell = f"\\bfseries {head_cell}"
            diff_cells = [head_cell, f"{100 * comp.low:+.1f}", f"{100 * comp.high:+.1f}"]
        cost_cells = []
        for k, _, _, f in costs:
            x = _scaled(c.costs.get(k), f)
            cell = fmts[k].cell(x)
            if k in CONTENDED_COSTS and cid in mark:
                cell += mark[cid]
            cost_cells.append(cell)
        lines.append(
            " & ".join([_tex_row_label(d, cid), str(c.n_runs), str(n_langs[cid]), *acc_cells, *diff_cells, *cost_cells])
            + " \\\\"
        )
    notes = []
    if mark:
        n = sum(d.config(c).contended_runs for c in mark)
        if v.include_contended:
            notes.append(
                f"$^\\dagger$: includes {n} run{'s' if n != 1 else ''} measured while other work shared the "
                "machine, so its time-based costs (device-hours, latency) may be inflated."
            )
        else:
            notes.append(
                f"$^\\ddagger$: {n} run{'s' if n != 1 else ''} measured while other work shared the machine "
                "left out of the time-based costs (device-hours, latency), which are over the other runs."
            )
    lines += [
        "\\bottomrule",
        "\\end{tabularx}",
        "\\caption{Average XCOPA accuracy (mean over runs and the languages evaluated; 95\\% generalized "
        "interval over training seeds, shot draws and test items) and cost. Lang.: how many XCOPA languages "
        f"the average covers ({tex(langs_said)}). Training: the full pipeline"
        + (
            f", the intermediate phase amortised over {v.amortise_n:g} target tasks"
            if amort
            else " (a reused intermediate phase included)"
        )
        + f", {tex(d.hours_word)} and FLOPs; per query: median batch-1 latency and FLOPs. $\\Delta$: paired "
        "difference against "
        + (
            f"the baseline {tex(paper_label(d.label(v.baseline)))}"
            if v.baseline is not None
            else "the baseline (direct fine-tuning of the same model and recipe)"
        )
        + " over the languages both evaluated (paired by training seed when both train, else independent "
        "arms), 95\\% interval; bold: better or worse by the Holm-adjusted test (over the configurations "
        f"compared with one baseline). Similar accuracy: the 90\\% interval inside $\\pm{100 * v.delta:g}$ points."
        + "".join(f" {n}" for n in notes)
        + "}",
        "\\label{tab:xcost-configurations}",
        "\\end{table*}",
    ]
    return "\n".join(lines) + "\n" + latex_variants(d)


def _scaled(x: float | None, factor: float) -> float | None:
    return None if x is None else x * factor


def _variant_base(label: str) -> str:
    """A member's label without the variant fields: what the group's members share."""
    return re.sub(r" · (xcopa_question|icl_prompt)=[^·]*", "", label).strip()


def latex_variants(d: ReportData) -> str:
    """The comparability variants (``_variants``) as a second booktabs table, "" when there are none:
    one block per group, its members as columns and the languages as rows (a column per member,
    not per language: the table stays narrower than \\textwidth for groups of up to four)."""
    if not d.variants:
        return ""
    cfgs = [d.config(m.config_id) for g in d.variants for m in g.members]
    langs = [lang for lang in ("en", *XCOPA_LANGS) if any(lang in c.accuracy for c in cfgs)]
    lines = [
        "",
        "% Comparability variants: configurations that differ only in xcopa_question / icl_prompt.",
        "\\begin{table*}[t]",
        "\\centering",
        "\\footnotesize",
        "\\sisetup{mode=math, group-digits=false}",
        "\\setlength{\\tabcolsep}{2.5pt}",
    ]
    acc = "S[table-format=3.1]"
    member = (
        f"{acc}@{{\\,\\scriptsize[}}>{{\\scriptsize}}{acc}@{{\\scriptsize,\\,}}>{{\\scriptsize}}{acc}@{{\\scriptsize]}}"
    )
    for i, g in enumerate(d.variants):
        if i:
            lines.append("\\par\\medskip")
        n = len(g.members)
        lines += [
            # the group's shared label above its block (a heading row wider than the numbers would
            # widen the last column)
            f"\\textit{{{tex(paper_label(_variant_base(d.label(g.members[0].config_id))))}}}\\par\\smallskip",
            f"\\begin{{tabular}}{{@{{}}l{' '.join([member] * n)}}}",
            "\\toprule",
            "Question & "
            + " & ".join(
                f"\\multicolumn{{3}}{{c}}{{{tex(m.values['xcopa_question'])}{'$^{*}$' if m.comparable else ''}}}"
                for m in g.members
            )
            + " \\\\",
        ]
        if g.icl:
            lines.append(
                "Prompt & "
                + " & ".join(
                    f"\\multicolumn{{3}}{{c}}{{{tex(m.values['icl_prompt']) if m.icl else '--'}}}" for m in g.members
                )
                + " \\\\"
            )
        lines.append("\\midrule")
        for lang in (*langs, "avg"):
            cells = []
            for m in g.members:
                e = d.config(m.config_id).accuracy.get(lang)
                if e is None or e.value is None:
                    cells.append("\\multicolumn{3}{c}{--}")
                elif e.low is None or e.high is None:
                    cells.append(f"{100 * e.value:.1f} & \\multicolumn{{2}}{{c}}{{}}")
                else:
                    cells.append(" & ".join(f"{100 * x:.1f}" for x in (e.value, e.low, e.high)))
            lines.append(" & ".join(["Avg." if lang == "avg" else lang, *cells]) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
    lines += [
        "\\caption{Comparability variants: accuracy (\\%, 95\\% interval) of configurations that differ only in "
        "how XCOPA is read: the question from English COPA (copa) or as released (published), and for ICL "
        "lm-evaluation-harness's prompt (lm-eval) or the premise without a final period only (period-only). "
        "$^{*}$: comparable with published numbers (the released questions; for ICL the harness's prompt).}",
        "\\label{tab:xcost-variants}",
        "\\end{table*}",
    ]
    return "\n".join(lines) + "\n"
