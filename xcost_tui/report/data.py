"""Everything a report says, gathered once from the store: the verdict (``verdict.api``, the one
source of every interval, comparison and break-even), the store's views restricted to the
selection, the environment and seeds of the runs, and the flags.

No statistics here: the numbers are the verdict's; this module selects, joins and orders.
"""

from __future__ import annotations

import datetime as _dt
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from .. import __version__
from ..accuracy import CommonGround
from ..stats.thresholds import BREAK_EVEN_MEASURES
from ..store.db import connect_ro
from ..verdict.api import (
    ComparisonRow,
    ConfigurationRow,
    Verdict,
    common_ground_of,
    delta_sensitivity,
    sensitivity_line,
    sentence,
    verdict,
)
from .protocol import ConfigProtocol, ProtocolFacts
from .select import ReportError, Selection
from .variants import VariantGroup, gather_variants

FAMILY_ORDER = ("direct", "intermediate", "few-shot", "intermediate+few-shot", "icl", "translate-test")
# The environment of the runs, as the runs table records it (the run_start event's env).
ENV_FIELDS = (
    ("device_type", "device type"),
    ("device_name", "device"),
    ("device_count", "devices per run"),
    ("precision", "precision"),
    ("python_version", "Python"),
    ("torch_version", "torch"),
    ("transformers_version", "transformers"),
    ("datasets_version", "datasets"),
    ("tokenizers_version", "tokenizers"),
    ("cuda_version", "CUDA"),
    ("git_commit", "git commit"),
    ("xcost_tui_version", "xcost-tui"),
    ("host", "host"),
)
FIGURE_MAX_CONFIGS = 8  # configurations drawn in one per-language or curves figure


class SpreadPoint(NamedTuple):
    """One learning-curve point of a configuration over its runs: their mean cumulative training
    cost and the lowest and highest of their held-out accuracies (each run's mean over its XCOPA
    validation languages): the band curves.pdf draws."""

    cost: float
    lowest: float
    highest: float
    runs: int


@dataclass(frozen=True)
class Flag:
    kind: (
        str  # collapsed, restarted, chance, single-seed, single-draw, single-pair, contended, failed, running,
        # no-runs, no-baseline, mixed-env, languages, no-predictions
    )
    config_id: str | None
    label: str
    text: str


@dataclass
class ReportData:
    store: Path
    selection: Selection
    verdict: Verdict
    selected: list[str]  # configurations of the selection with a succeeded run, in table order
    shown: list[str]  # selected and their baselines, in table order
    comparisons: list[ComparisonRow]  # those of the selected configurations (every language and form)
    sentences: list[str]
    sensitivity: str  # how the headline words move with δ (1, 2, 3, 5 points); "" when nothing is compared
    frontier: list[str]  # configurations on the cost–accuracy frontier (of `shown`, on `common`), cheapest first
    cost_key: str  # train_device_hours, or amortised_train_device_hours when amortise_n != 1
    hours_word: str  # GPU-hours, CPU-hours or device-hours
    tables: dict[str, pa.Table]
    environment: list[tuple[str, list[tuple[str, int]]]]  # (field, [(value, runs)])
    seeds: dict[str, tuple[list[int], list[int]]]  # config id -> (training seeds, shot seeds)
    flags: list[Flag]
    curves: dict[str, list[tuple[float, float]]]  # config id -> [(cumulative training cost, held-out accuracy)]
    # config id -> the curve points two or more of its runs (seeds, shot draws) reached, with their spread
    curve_spread: dict[str, list[SpreadPoint]]
    figure_configs: list[str]  # at most FIGURE_MAX_CONFIGS of `shown`
    figure_rule: str
    generated: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    version: str = __version__
    # the XCOPA languages every shown configuration evaluated, and each one's mean over them: what
    # the frontier and the "most accurate" are ranked on (a configuration without Quechua does not
    # rank higher for that alone)
    common: CommonGround = field(default_factory=lambda: CommonGround((), {}, {}))
    # configurations shown that differ only in xcopa_question / icl_prompt (report/variants.py)
    variants: list[VariantGroup] = field(default_factory=list)
    # shot draws, learning-rate sweeps, the annotation cost's boundary (report/protocol.py)
    protocol: ProtocolFacts = field(default_factory=ProtocolFacts)

    def config(self, cid: str) -> ConfigurationRow:
        return self.verdict.configurations[cid]

    def label(self, cid: str | None) -> str:
        """The configuration's label, with its id where two configurations shown share one (labels
        name the model and method, not every hyper-parameter)."""
        if cid is None:
            return ""
        cfg = self.verdict.configurations.get(cid)
        if cfg is None:
            return self.selection.labels.get(cid, cid)
        return f"{cfg.label} [{cid}]" if cfg.label in self._shared_labels else cfg.label

    @property
    def _shared_labels(self) -> set[str]:
        seen: dict[str, int] = {}
        for cid in self.shown:
            lab = self.verdict.configurations[cid].label
            seen[lab] = seen.get(lab, 0) + 1
        return {lab for lab, n in seen.items() if n > 1}


# ---- gathering ----------------------------------------------------------------------------------


def _ordered(configs: dict[str, ConfigurationRow], ids: set[str]) -> list[str]:
    def key(cid: str) -> tuple[Any, ...]:
        c = configs[cid]
        fam = FAMILY_ORDER.index(c.family) if c.family in FAMILY_ORDER else len(FAMILY_ORDER)
        return (str(c.model or ""), fam, c.label, cid)

    return sorted((cid for cid in ids if cid in configs), key=key)


def _frontier(configs: dict[str, ConfigurationRow], ids: list[str], cost_key: str, common: CommonGround) -> list[str]:
    """Configurations no other one beats on both training cost and mean accuracy over the common
    languages (point estimates)."""
    raw = [(configs[c].costs.get(cost_key), common.means.get(c), c) for c in ids]
    pts = sorted((x, -y, c) for x, y, c in raw if x is not None and y is not None)
    out: list[str] = []
    best: float | None = None
    for _x, neg_y, cid in pts:
        if best is None or -neg_y > best:
            out.append(cid)
            best = -neg_y
    return out


def _hours_word(configs: list[ConfigurationRow]) -> str:
    types = {c.device_type for c in configs}
    words: dict[frozenset[str | None], str] = {frozenset({"cuda"}): "GPU-hours", frozenset({"cpu"}): "CPU-hours"}
    return words.get(frozenset(types), "device-hours")


def _arrow(con: Any, sql: str, params: list | None = None) -> pa.Table:
    return con.sql(sql, params=params or None).to_arrow_table()


def _has_column(con: Any, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?", [table, column]
        ).fetchall()[0][0]
    )


def _contended(con: Any, ids: list[str]) -> pa.Table:
    """Phases whose measurement shared the machine with other work: the ``contended`` column of
    ``phases`` where the store has one, else the ``contended`` figure of a phase's costs."""
    if _has_column(con, "phases", "contended"):
        cond = "p.contended"
    else:
        cond = "try_cast(json_extract(p.costs, '$.contended.value') AS DOUBLE) > 0"
    try:
        return _arrow(
            con,
            f"SELECT r.config_id, p.run_id, p.phase FROM phases p JOIN runs r USING (run_id) "
            f"WHERE r.status = 'succeeded' AND list_contains(?, r.config_id) AND {cond} "
            f"ORDER BY r.config_id, p.run_id, p.ordinal",
            [ids],
        )
    except Exception:  # noqa: BLE001 - a store without the figure: nothing to flag
        return pa.table(
            {
                "config_id": pa.array([], pa.string()),
                "run_id": pa.array([], pa.string()),
                "phase": pa.array([], pa.string()),
            }
        )


def _unpredicted(con: Any, run_ids: list[str]) -> dict[str, list[str]]:
    """Run id -> the languages it evaluated with no per-example prediction in the store. The
    verdict's accuracy and intervals are computed from predictions only, so these evaluations count
    nowhere in the report, and a configuration whose runs all lack them shows no accuracy at all."""
    rows = con.execute(
        """WITH ev AS (SELECT DISTINCT run_id, lang FROM evals WHERE accuracy IS NOT NULL AND list_contains(?, run_id)),
                pr AS (SELECT DISTINCT run_id, lang FROM predictions WHERE list_contains(?, run_id))
           SELECT run_id, list(lang ORDER BY lang) FROM ev
           WHERE NOT EXISTS (SELECT 1 FROM pr WHERE pr.run_id = ev.run_id AND pr.lang = ev.lang)
           GROUP BY run_id ORDER BY run_id""",
        [run_ids, run_ids],
    ).fetchall()
    return {str(rid): [str(x) for x in langs] for rid, langs in rows}


def gather(
    store: Path,
    selection: Selection,
    *,
    baseline: str | None = None,
    delta: float = 0.02,
    amortise_n: float = 1.0,
    include_contended: bool = False,
) -> ReportData:
    v = verdict(
        store,
        baseline=baseline,
        delta=delta,
        amortise_n=amortise_n,
        config_ids=selection.config_ids,
        include_contended=include_contended,
    )
    configs = v.configurations
    if selection.config_ids is None:
        selected_ids = set(configs)
    else:
        selected_ids = {cid for cid in selection.config_ids if cid in configs}
    if not selected_ids:
        raise ReportError(_empty_message(store, selection))
    comparisons = [c for c in v.comparisons if c.config_id in selected_ids]
    shown_ids = set(selected_ids) | {c.baseline_id for c in comparisons if c.baseline_id in configs}
    selected = _ordered(configs, selected_ids)
    shown = _ordered(configs, shown_ids)
    cost_key = "amortised_train_device_hours" if amortise_n != 1 else "train_device_hours"
    common = common_ground_of(configs[c] for c in shown)
    frontier = _frontier(configs, shown, cost_key, common)
    rank = {cid: i for i, cid in enumerate(selected)}  # the tables' order: model, family, label
    sentences = [
        sentence(c, v)
        for c in sorted(
            (c for c in v.averaged() if c.config_id in selected_ids), key=lambda c: (rank[c.config_id], c.baseline_id)
        )
    ]

    with connect_ro(store) as con:
        con.execute("SET VARIABLE amortise_n = ?", [float(amortise_n)])
        con.execute("SET VARIABLE delta = ?", [float(delta)])
        con.execute("SET VARIABLE include_contended = ?", [include_contended])
        cfg_table = _arrow(
            con, "SELECT * FROM configurations WHERE list_contains(?, config_id) ORDER BY config_id", [shown]
        )
        acc_table = _arrow(
            con,
            "SELECT a.config_id, c.label, a.lang, a.n_runs, a.n_seeds, a.n_items, a.accuracy, "
            "a.ci_low, a.ci_high, a.seed_variation, a.chance FROM verdict_accuracy a "
            "JOIN configurations c USING (config_id) WHERE list_contains(?, a.config_id) "
            "ORDER BY a.config_id, a.lang",
            [shown],
        )
        runs = _arrow(
            con,
            f"""SELECT run_id, config_id, config_label AS label, name, method, model, seed, shot_seed,
                                   status, error, failed_phase, collapsed, started, ended, duration_s, run_dir,
                                   {", ".join(f for f, _ in ENV_FIELDS)}
                               FROM runs WHERE list_contains(?, config_id) ORDER BY config_id, seed, shot_seed, run_id""",
            [shown],
        )
        curves = _arrow(
            con,
            """SELECT config_id, any_value(label) AS label, phase, point, lang,
                                       count(*) AS n_runs, avg(accuracy) AS accuracy, avg(n) AS n_items,
                                       avg(cum_train_device_hours) AS cum_train_device_hours,
                                       avg(cum_train_flops) AS cum_train_flops,
                                       avg(cum_train_energy_j) AS cum_train_energy_j,
                                       avg(eval_wall_s) AS eval_wall_s
                                FROM learning_curves WHERE list_contains(?, config_id)
                                GROUP BY config_id, phase, point, lang ORDER BY config_id, phase, lang, point""",
            [shown],
        )
        # a band needs two runs at a point: a figure cannot show a spread it has not seen
        spread_rows = _arrow(
            con,
            """SELECT config_id, point, avg(cost) AS cost, min(accuracy) AS lowest, max(accuracy) AS highest,
                      count(*) AS runs
               FROM (SELECT config_id, run_id, point, avg(accuracy) AS accuracy,
                            avg(cum_train_device_hours) AS cost
                     FROM learning_curves
                     WHERE list_contains(?, config_id) AND phase LIKE 'target:%' AND lang != 'en'
                       AND accuracy IS NOT NULL AND cum_train_device_hours IS NOT NULL
                     GROUP BY config_id, run_id, point)
               GROUP BY config_id, point HAVING count(*) >= 2 ORDER BY config_id, point""",
            [shown],
        )
        contended = _contended(con, shown)
        succeeded = [str(r["run_id"]) for r in runs.to_pylist() if r["status"] == "succeeded"]
        unpredicted = _unpredicted(con, succeeded)
        variants = gather_variants(con, shown)
        mt_quality = _mt_quality(con, shown)
        protocol = _protocol(con, shown)

    runs_rows = runs.to_pylist()
    environment = _environment([r for r in runs_rows if r["status"] == "succeeded"])
    seeds: dict[str, tuple[list[int], list[int]]] = {}
    for r in runs_rows:
        if r["status"] != "succeeded":
            continue
        s, d = seeds.setdefault(str(r["config_id"]), ([], []))
        if r["seed"] is not None and int(r["seed"]) not in s:
            s.append(int(r["seed"]))
        if r["shot_seed"] is not None and int(r["shot_seed"]) not in d:
            d.append(int(r["shot_seed"]))
    for s, d in seeds.values():
        s.sort()
        d.sort()
    mean_curves = _mean_curves(curves.to_pylist())
    fig_ids, rule = _figure_configs(shown, frontier, comparisons, common)
    data = ReportData(
        store=Path(store),
        selection=selection,
        verdict=v,
        selected=selected,
        shown=shown,
        comparisons=comparisons,
        sentences=sentences,
        sensitivity=sensitivity_line(delta_sensitivity(v)) if sentences else "",
        frontier=frontier,
        cost_key=cost_key,
        hours_word=_hours_word([configs[c] for c in shown]),
        tables={},
        environment=environment,
        seeds=seeds,
        flags=[],
        curves=mean_curves,
        curve_spread=_curve_spread(spread_rows.to_pylist()),
        figure_configs=fig_ids,
        figure_rule=rule,
        common=common,
        variants=variants,
        protocol=protocol,
    )
    data.flags = _flags(data, runs_rows, contended.to_pylist(), unpredicted)
    data.tables = {
        "configurations": cfg_table,
        "accuracy": acc_table,
        "comparisons": _comparisons_table(data),
        "break_even": _break_even_table(data),
        "cost_to_reach": _cost_to_reach_table(data),
        "learning_curves": curves,
        "mt_quality": mt_quality,
        "runs": runs,
        "environment": pa.table(
            {
                "field": [f for f, vals in environment for _ in vals],
                "value": [val for _, vals in environment for val, _ in vals],
                "runs": [n for _, vals in environment for _, n in vals],
            }
        ),
        "flags": pa.table(
            {
                "kind": [f.kind for f in data.flags],
                "config_id": [f.config_id for f in data.flags],
                "label": [f.label for f in data.flags],
                "text": [f.text for f in data.flags],
            }
        ),
    }
    return data


def _mt_quality(con: Any, ids: list[str]) -> pa.Table:
    """translate-test's MT quality per configuration, language and reference (the store's
    ``mt_quality`` table): the mean chrF and BLEU over its succeeded runs (the published
    translations score the same in every run; an MT model's greedy output too, up to numerics), the
    runs scored, why a score is missing, and sacrebleu's signatures."""
    return _arrow(
        con,
        """SELECT r.config_id, any_value(r.config_label) AS label, m.lang, m.split, m.reference,
                  any_value(m.translator) AS translator, count(*) AS n_runs, count(m.chrf) AS n_scored,
                  avg(m.chrf) AS chrf, avg(m.bleu) AS bleu, max(m.items) AS items,
                  any_value(m.missing) AS missing,
                  any_value(m.chrf_signature) AS chrf_signature, any_value(m.bleu_signature) AS bleu_signature
           FROM mt_quality m JOIN runs r USING (run_id)
           WHERE r.status = 'succeeded' AND list_contains(?, r.config_id)
           GROUP BY r.config_id, m.lang, m.split, m.reference ORDER BY r.config_id, m.lang, m.reference""",
        [ids],
    )


def _empty_message(store: Path, selection: Selection) -> str:
    if selection.plan_name is not None:
        n = len(selection.config_ids or ())
        plan = shlex.quote(selection.plan_arg or selection.plan_name)
        return (
            f"none of the {n} configurations of plan {selection.plan_name} has a succeeded run in the store "
            f"{store}: run the plan first (`xcost-tui --headless {plan} --store {shlex.quote(str(store))}`)"
        )
    if selection.where is not None:
        if not selection.config_ids:
            return (
                f"--where {selection.where!r}: no run in the store {store} satisfies it; "
                f'`xcost-tui sql "SELECT run_id, config_label, status FROM runs"` lists the runs'
            )
        return (
            f"--where {selection.where!r}: the runs it picks belong to {len(selection.config_ids)} "
            f"configuration(s), none with a succeeded run: nothing to report"
        )
    return (
        f"the store {store} has no succeeded run to report on: run a plan first, or "
        f"`xcost-tui ingest --store {store}` to index its run directories"
    )


def _environment(runs: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, int]]]]:
    out = []
    for col, name in ENV_FIELDS:
        counts: dict[str, int] = {}
        for r in runs:
            value = r.get(col)
            key = "not recorded" if value is None or value == "" else str(value)
            counts[key] = counts.get(key, 0) + 1
        out.append((name, sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
    return out


def _mean_curves(rows: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Per configuration: its target phase's held-out curve, the mean over XCOPA languages at each
    point (English apart; as verdict.api's cost to reach reads it)."""
    by: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for r in rows:
        if not str(r["phase"]).startswith("target:") or r["lang"] == "en":
            continue
        if r["accuracy"] is None or r["cum_train_device_hours"] is None:
            continue
        by.setdefault(str(r["config_id"]), {}).setdefault(int(r["point"]), []).append(
            (float(r["cum_train_device_hours"]), float(r["accuracy"]))
        )
    out = {}
    for cid, points in by.items():
        out[cid] = [
            (sum(c for c, _ in points[p]) / len(points[p]), sum(a for _, a in points[p]) / len(points[p]))
            for p in sorted(points)
        ]
    return out


def _curve_spread(rows: list[dict[str, Any]]) -> dict[str, list[SpreadPoint]]:
    out: dict[str, list[SpreadPoint]] = {}
    for r in rows:
        out.setdefault(str(r["config_id"]), []).append(
            SpreadPoint(float(r["cost"]), float(r["lowest"]), float(r["highest"]), int(r["runs"]))
        )
    return out


def _figure_configs(
    shown: list[str], frontier: list[str], comparisons: list[ComparisonRow], common: CommonGround
) -> tuple[list[str], str]:
    n = FIGURE_MAX_CONFIGS
    if len(shown) <= n:
        return list(shown), f"all {len(shown)} configurations"
    pick: list[str] = []
    for cid in frontier:
        if cid not in pick:
            pick.append(cid)
        for c in comparisons:
            if c.config_id == cid and c.baseline_id not in pick and c.baseline_id in shown:
                pick.append(c.baseline_id)
    rest = sorted((c for c in shown if c not in pick), key=common.rank_key)
    pick = (pick + rest)[:n]
    order = {cid: i for i, cid in enumerate(shown)}
    pick.sort(key=order.__getitem__)
    return pick, (
        f"{len(pick)} of {len(shown)} configurations: the cost–accuracy frontier and its baselines, then "
        f"the most accurate on the common languages; every configuration is in the tables (accuracy.csv, learning_curves.csv)"
    )


def seed_text(values: list[int]) -> str:
    """0,1,2,3,7 -> '0–3, 7'."""
    if not values:
        return "–"
    out, start, prev = [], values[0], values[0]
    for v in [*values[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(str(start) if start == prev else f"{start}–{prev}" if prev > start + 1 else f"{start}, {prev}")
        if v is not None:
            start = prev = v
    return ", ".join(out)


def restarts_text(c: ConfigurationRow) -> str:
    """'3 of 15 runs restarted': the retry rate of the collapse check (a restart selects among
    attempts, so a reader needs to know how often it happened)."""
    return f"{c.restarted_runs} of {c.n_runs} run{'s' if c.n_runs != 1 else ''} restarted"


def _unpredicted_flag(
    d: ReportData, cid: str, runs: list[dict[str, Any]], missing: dict[str, list[str]]
) -> Flag | None:
    """Why a configuration's accuracy is blank (or leaves runs out): evaluations without predictions."""
    ids = [str(r["run_id"]) for r in runs if r["config_id"] == cid and r["status"] == "succeeded"]
    found = [rid for rid in ids if rid in missing]
    if not found:
        return None
    lab = d.label(cid)
    c = d.verdict.configurations[cid]
    which = ", ".join(f"{rid} ({', '.join(missing[rid])})" for rid in found[:5]) + (", ..." if len(found) > 5 else "")
    effect = "so its accuracy is blank" if c.avg.value is None else "so those evaluations are left out of its accuracy"
    return Flag(
        "no-predictions",
        cid,
        lab,
        f"{lab}: no per-example predictions were recorded for {len(found)} of its {len(ids)} succeeded run(s): "
        f"{which}; the accuracy and its intervals are computed from each run's predictions.jsonl, {effect}. "
        f"Re-run them, or put their predictions.jsonl back in their run directories and `xcost-tui ingest`",
    )


def _flags(
    d: ReportData, runs: list[dict[str, Any]], contended: list[dict[str, Any]], unpredicted: dict[str, list[str]]
) -> list[Flag]:
    out: list[Flag] = []
    v = d.verdict
    if d.selection.config_ids is not None:
        for cid in sorted(d.selection.config_ids - set(v.configurations)):
            attempted = [r for r in runs if r["config_id"] == cid]
            lab = d.selection.labels.get(cid) or next((str(r["label"]) for r in attempted if r["label"]), cid)
            out.append(
                Flag(
                    "no-runs",
                    cid,
                    lab,
                    f"{lab}: no succeeded run in the store"
                    + (f" ({len(attempted)} attempted)" if attempted else "")
                    + "; left out of the report",
                )
            )
    for cid in d.shown:
        c = v.configurations[cid]
        lab = d.label(cid)
        no_predictions = _unpredicted_flag(d, cid, runs, unpredicted)
        if no_predictions is not None:
            out.append(no_predictions)
        if c.collapsed_runs:
            out.append(
                Flag(
                    "collapsed",
                    cid,
                    lab,
                    f"{lab}: {c.collapsed_runs} of {c.n_runs} runs collapsed (one choice for ≥ 90% of the English "
                    f"validation items, or a training loss that did not fall; docs/user-guide.md, Collapsed "
                    f"fine-tunes); they are counted in its accuracy",
                )
            )
        if c.restarted_runs:
            out.append(
                Flag(
                    "restarted",
                    cid,
                    lab,
                    f"{lab}: {restarts_text(c)} (the target phase trained again after a collapse, "
                    f"collapse_retries; each run reports its last attempt)",
                )
            )
        note = d.common.note(cid)
        if note:
            out.append(Flag("languages", cid, lab, f"{lab}: {d.common.mark(cid)} {note} ({d.common.statement()})"))
        if c.single_draw:
            out.append(
                Flag(
                    "single-draw",
                    cid,
                    lab,
                    f"{lab}: one shot draw; its intervals say nothing of which shots were drawn",
                )
            )
        if c.chance_langs:
            out.append(
                Flag(
                    "chance",
                    cid,
                    lab,
                    f"{lab}: not distinguishable from chance (95% interval "
                    f"contains 50%) in {', '.join(c.chance_langs)}",
                )
            )
        if c.seed_variation is False:
            out.append(
                Flag(
                    "single-seed",
                    cid,
                    lab,
                    f"{lab}: one run; its intervals cover the test items only, not training variation",
                )
            )
        devices = {str(r["device_name"]) for r in runs if r["config_id"] == cid and r["status"] == "succeeded"}
        if len(devices) > 1:
            out.append(
                Flag(
                    "mixed-env",
                    cid,
                    lab,
                    f"{lab}: its runs ran on {len(devices)} devices "
                    f"({', '.join(sorted(devices))}); its mean costs mix them",
                )
            )
    for cid in d.selected:
        c = v.configurations[cid]
        if c.family != "direct" and not any(x.config_id == cid for x in d.comparisons):
            out.append(
                Flag(
                    "no-baseline",
                    cid,
                    d.label(cid),
                    f"{d.label(cid)}: no comparison (a baseline needs succeeded runs of the same seeds: direct "
                    f"fine-tuning of the same model and recipe, or --baseline)",
                )
            )
    for x in d.comparisons:
        if x.lang == "avg" and x.n_pairs == 1:
            out.append(
                Flag(
                    "single-pair",
                    x.config_id,
                    d.label(x.config_id),
                    f"{d.label(x.config_id)} vs {d.label(x.baseline_id)}: one seed pair; the paired interval covers the test "
                    f"items only",
                )
            )
    by_cfg: dict[str, list[dict[str, Any]]] = {}
    for row in contended:
        by_cfg.setdefault(str(row["config_id"]), []).append(row)
    for cid, rows in by_cfg.items():
        lab = d.label(cid)
        names = sorted({f"{r['run_id']}/{r['phase']}" for r in rows})
        out.append(
            Flag(
                "contended",
                cid,
                lab,
                f"{lab}: {len(rows)} phase(s) measured while other work shared the "
                f"machine, so their time and energy may be inflated: "
                f"{', '.join(names[:5])}{', ...' if len(names) > 5 else ''}",
            )
        )
    for status, kind in (("failed", "failed"), ("cancelled", "failed"), ("running", "running"), ("unknown", "failed")):
        rows = [r for r in runs if r["status"] == status]
        if not rows:
            continue
        ids = [str(r["run_id"]) for r in rows]
        what = {
            "failed": "failed",
            "cancelled": "cancelled",
            "running": "still running",
            "unknown": "of unknown status",
        }[status]
        detail = "; ".join(
            f"{r['run_id']}" + (f" ({r['failed_phase']}: {str(r['error'])[:80]})" if r["error"] else "")
            for r in rows[:5]
        )
        out.append(
            Flag(
                kind,
                None,
                "",
                f"{len(ids)} run(s) {what}, left out of every number: {detail}"
                f"{'; ...' if len(rows) > 5 else ''} (all in runs.csv)",
            )
        )
    return out


# ---- derived tables -------------------------------------------------------------------------------


def finding(c: ComparisonRow) -> str:
    """The comparison's outcome (verdict/api.py's rule), and when "similar" is out of reach at its N."""
    if c.outcome == "not distinguishable" and not c.equivalence_reachable:
        return "not distinguishable (±δ out of reach)"
    return c.outcome


def _comparisons_table(d: ReportData) -> pa.Table:
    rows = []
    for c in d.comparisons:
        both = c.config_id in d.verdict.configurations and c.baseline_id in d.verdict.configurations

        def ratio(cost: str, c: ComparisonRow = c, both: bool = both) -> float | None:
            return d.verdict.cost_ratio(c.config_id, c.baseline_id, cost).ratio if both else None

        rows.append(
            {
                "config_id": c.config_id,
                "label": c.label,
                "baseline_id": c.baseline_id,
                "baseline_label": c.baseline_label,
                "lang": c.lang,
                "paired": c.paired,
                "n_pairs": c.n_pairs,
                "n_a": c.n_a,
                "n_b": c.n_b,
                "n_items": c.n_items,
                "diff": c.diff,
                "ci_low": c.low,
                "ci_high": c.high,
                "p_value": c.p_value,
                "p_holm": c.p_holm,
                "holm_family": c.holm_family,
                "holm_n": c.holm_n,
                "p_equiv": c.p_equiv,
                "p_equiv_holm": c.p_equiv_holm,
                "seed_sd": c.seed_sd,
                "mcnemar_p": c.mcnemar_p,
                "significant": c.significant,
                "delta": c.delta,
                "similar_accuracy": c.similar,
                "equiv_low": c.equiv_low,
                "equiv_high": c.equiv_high,
                "finding": finding(c),
                "equivalence_reachable": c.equivalence_reachable,
                # the verdict's ratios: two trainings identical by spec are one training (ratio 1)
                "train_device_hours_ratio": ratio("train_device_hours"),
                "amortised_device_hours_ratio": ratio("amortised_train_device_hours"),
                "train_flops_ratio": ratio("train_flops"),
                "train_energy_ratio": ratio("train_energy_j"),
                "query_flops_ratio": ratio("query_flops"),
                "query_latency_ratio": ratio("query_latency_p50_s"),
            }
        )
    schema = pa.schema(
        [
            ("config_id", pa.string()),
            ("label", pa.string()),
            ("baseline_id", pa.string()),
            ("baseline_label", pa.string()),
            ("lang", pa.string()),
            ("paired", pa.bool_()),
            ("n_pairs", pa.int64()),
            ("n_a", pa.int64()),
            ("n_b", pa.int64()),
            ("n_items", pa.int64()),
            ("diff", pa.float64()),
            ("ci_low", pa.float64()),
            ("ci_high", pa.float64()),
            ("p_value", pa.float64()),
            ("p_holm", pa.float64()),
            ("holm_family", pa.string()),
            ("holm_n", pa.int64()),
            ("p_equiv", pa.float64()),
            ("p_equiv_holm", pa.float64()),
            ("seed_sd", pa.float64()),
            ("mcnemar_p", pa.float64()),
            ("significant", pa.bool_()),
            ("delta", pa.float64()),
            ("similar_accuracy", pa.bool_()),
            ("equiv_low", pa.float64()),
            ("equiv_high", pa.float64()),
            ("finding", pa.string()),
            ("equivalence_reachable", pa.bool_()),
            ("train_device_hours_ratio", pa.float64()),
            ("amortised_device_hours_ratio", pa.float64()),
            ("train_flops_ratio", pa.float64()),
            ("train_energy_ratio", pa.float64()),
            ("query_flops_ratio", pa.float64()),
            ("query_latency_ratio", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _break_even_table(d: ReportData) -> pa.Table:
    rows = []
    for be in d.verdict.break_even:
        if be.config_id not in d.selected:
            continue
        a, b = d.verdict.configurations[be.config_id], d.verdict.configurations[be.baseline_id]
        train, query = BREAK_EVEN_MEASURES.get(be.measure, (None, None))  # the break-even's cost measures
        rows.append(
            {
                "config_id": be.config_id,
                "label": a.label,
                "baseline_id": be.baseline_id,
                "baseline_label": b.label,
                "measure": be.measure,
                "train_a": a.costs.get(train) if train else None,
                "train_b": b.costs.get(train) if train else None,
                "query_a": a.costs.get(query) if query else None,
                "query_b": b.costs.get(query) if query else None,
                "queries": be.queries,
                "verdict": be.verdict,
            }
        )
    schema = pa.schema(
        [
            ("config_id", pa.string()),
            ("label", pa.string()),
            ("baseline_id", pa.string()),
            ("baseline_label", pa.string()),
            ("measure", pa.string()),
            ("train_a", pa.float64()),
            ("train_b", pa.float64()),
            ("query_a", pa.float64()),
            ("query_b", pa.float64()),
            ("queries", pa.float64()),
            ("verdict", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _cost_to_reach_table(d: ReportData) -> pa.Table:
    rows = []
    for cid in d.selected:
        if cid not in d.verdict.cost_to_reach:
            continue
        target, cost = d.verdict.cost_to_reach[cid]
        base = next((c.baseline_id for c in d.comparisons if c.config_id == cid), None)
        configs = d.verdict.configurations
        rows.append(
            {
                "config_id": cid,
                "label": configs[cid].label,
                "baseline_id": base,
                "baseline_label": configs[base].label if base in configs else None,
                "target_accuracy": target,
                "train_device_hours_to_reach": cost,
                "reached": cost is not None,
            }
        )
    schema = pa.schema(
        [
            ("config_id", pa.string()),
            ("label", pa.string()),
            ("baseline_id", pa.string()),
            ("baseline_label", pa.string()),
            ("target_accuracy", pa.float64()),
            ("train_device_hours_to_reach", pa.float64()),
            ("reached", pa.bool_()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _protocol(con: Any, shown: list[str]) -> ProtocolFacts:
    """The shown configurations that draw k > 0 shots: their draws, sweep and annotation setting."""
    rows = con.execute(
        """SELECT config_id, any_value(config_label) AS label, any_value(method) AS method, any_value(k) AS k,
                  count(DISTINCT shot_seed) AS draws, any_value(lr_sweep) AS lr_sweep,
                  max(annotated_examples) AS annotated, any_value(annotation_hours_per_example) AS per
           FROM runs WHERE list_contains(?, config_id) AND status = 'succeeded' AND k > 0
             AND annotated_examples IS NOT NULL
           GROUP BY config_id ORDER BY config_id""",
        [shown],
    ).fetchall()
    return ProtocolFacts(
        [
            ConfigProtocol(str(label), str(method), k, int(draws), tuple(sweep or ()), annotated, per)
            for _, label, method, k, draws, sweep, annotated, per in rows
        ]
    )
