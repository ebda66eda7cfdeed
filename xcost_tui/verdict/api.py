"""The verdict as every front end reads it: typed rows and sentences over the store's views.

``verdict(store, ...)`` is the one entry point of the headless mode, the app's Compare screen and
the report: configurations with their intervals, comparisons against a baseline (the default
one materialised at ingest, any other computed on demand), break-even, the cost to reach an
accuracy, and a sentence per comparison. ``delta`` (similar accuracy), ``amortise_n`` (the
intermediate phase serves N target tasks) and ``include_contended`` (runs measured beside other
work enter the costs) are choices of the reader, not of the store. Every cost of a configuration
carries its spread over runs (``ConfigurationRow.cost_spread``), every ratio and break-even its
interval (docs/statistics.md, "Cost").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import XCOPA_LANGS
from ..accuracy import FORM_COLUMNS, CommonGround, common_ground
from ..stats.costs import (
    ONE_RUN,
    SAME_TRAINING,
    CostEstimate,
    RatioEstimate,
    break_even_estimate,
    cost_to_reach,
    ratio_estimate,
)
from ..stats.thresholds import (
    BREAK_EVEN_MEASURES,
    DEFAULT_ALPHA,
    DEFAULT_DELTA,
    SAME_QUERY_COST,
    SENSITIVITY_DELTAS,
)
from ..store.db import connect_ro
from ..store.schema import COST_SPREAD, SOURCED_FIGURES
from ..store.verdict_tables import compare_to

COSTS = (
    "train_device_hours",
    "train_flops",
    "train_energy_j",
    "amortised_train_device_hours",
    "amortised_train_flops",
    "amortised_train_energy_j",
    "own_train_device_hours",
    "own_train_flops",
    "own_train_energy_j",
    "intermediate_device_hours",
    "intermediate_flops",
    "intermediate_energy_j",
    "query_latency_p50_s",
    "query_flops",
    "query_energy_j",
    "query_device_hours",
    "curve_device_hours",
    "annotation_hours",  # person-hours, not device-hours (issue 19): a cost column of its own
    "peak_train_mem_bytes",
    "peak_infer_mem_bytes",
)
# The training costs: identical by spec, two configurations' are one training (ratio 1 exactly).
TRAINING_COSTS = frozenset(c for c in COSTS if c.startswith(("train_", "amortised_train_", "own_train_")))


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ConfigurationRow:
    config_id: str
    label: str
    family: str
    model: str | None
    method: str | None
    n_runs: int
    n_seeds: int
    n_shot_draws: int
    n_failed: int
    collapsed_runs: int
    seed_variation: bool | None
    chance_langs: list[str]
    accuracy: dict[str, Estimate]  # "avg", "avg_all", "avg_published", "avg_seen", "en", or an XCOPA language
    costs: dict[str, float | None]  # the mean over the runs counted in costs (cost_spread has the spread)
    device_type: str | None = None
    covers: str | None = None  # what its intervals cover: "seeds, shot draws and items", "items only (1 seed)" ...
    seed_sd: float | None = None  # SD of a new training seed's average accuracy
    draw_sd: float | None = None  # SD of a new shot draw's (within a seed when it trains)
    n_clusters: int = 0
    restarted_runs: int = 0  # of n_runs: the target phase trained again after a collapse (collapse.py)
    single_draw: bool = False  # draws k > 0 shots, and its runs have one draw: the draw's variation is unseen
    cost_spread: dict[str, CostEstimate] = field(default_factory=dict)  # mean, SD, 95% interval, runs
    cost_runs: int = 0  # the runs its costs are over (contended ones left out unless included)
    contended_runs: int = 0  # its succeeded runs measured beside other work
    training_id: str | None = None  # configuration.training_id: equal ids train identically by spec

    @property
    def avg(self) -> Estimate:
        return self.accuracy.get("avg", Estimate(None, None, None))

    def spread(self, cost: str) -> CostEstimate:
        """One cost with its spread over runs (a figure with no spread column: its mean alone)."""
        found = self.cost_spread.get(cost)
        if found is not None:
            return found
        return CostEstimate(self.costs.get(cost), None, None, None, self.cost_runs, "no spread")


def same_training(a: ConfigurationRow, b: ConfigurationRow) -> bool:
    """The two configurations' trainings are identical by spec (translate-test's classifier and
    direct fine-tuning of the same model, recipe and seeds): one training, counted once."""
    return a.training_id is not None and a.training_id == b.training_id and a.config_id != b.config_id


@dataclass(frozen=True)
class ComparisonRow:
    config_id: str
    label: str
    baseline_id: str
    baseline_label: str
    lang: str
    n_pairs: int
    n_items: int
    diff: float
    low: float
    high: float
    p_value: float
    p_holm: float | None
    mcnemar_p: float | None  # stratified over seed pairs; None: not paired, or an average
    equiv_low: float
    equiv_high: float
    delta: float
    paired: bool = True  # through shared training seeds; False: independent arms on the same items
    n_a: int = 0  # clusters behind each side (seeds, or an in-context configuration's shot draws)
    n_b: int = 0
    se: float | None = None
    p_equiv: float = 1.0  # TOST against ±delta
    p_equiv_holm: float | None = None
    holm_family: str | None = None  # "languages" or "configurations"
    holm_n: int | None = None
    seed_sd: float | None = None  # paired: SD over seeds of the difference
    p_equiv_holm_at: tuple[float, ...] = ()  # the adjusted TOST p at each of SENSITIVITY_DELTAS
    alpha: float = DEFAULT_ALPHA

    # The words of a comparison, one rule for every front end (the ``comparisons`` view writes the
    # same in SQL): from the Holm-adjusted tests when the row belongs to a family.

    @property
    def p_adjusted(self) -> float:
        return self.p_holm if self.p_holm is not None else self.p_value

    @property
    def p_equiv_adjusted(self) -> float:
        return self.p_equiv_holm if self.p_equiv_holm is not None else self.p_equiv

    @property
    def significant(self) -> bool:
        return self.p_adjusted < self.alpha

    @property
    def similar(self) -> bool:
        """Equivalent within ±delta: both one-sided tests reject (TOST), Holm-adjusted."""
        return self.p_equiv_adjusted < self.alpha

    @property
    def equivalence_reachable(self) -> bool:
        """At this precision an estimate of 0 could be called similar: the (1 − 2α) interval's
        half-width is below delta. When it is not, "similar" is out of reach at this N."""
        return (self.equiv_high - self.equiv_low) / 2 < self.delta

    @property
    def outcome(self) -> str:
        """better / worse (each possibly "but within ±δ"), similar, or not distinguishable."""
        return self.outcome_at(self.similar)

    def outcome_at(self, similar: bool) -> str:
        if self.significant:
            word = "better" if self.diff > 0 else "worse"
            return f"{word} but within ±δ" if similar else word
        return "similar" if similar else "not distinguishable"

    @property
    def design(self) -> str:
        """How the two sides were compared, short: '3 pairs' (seed pairs) or '3 vs 5' (the runs'
        clusters of independent arms)."""
        return f"{self.n_pairs} pairs" if self.paired else f"{self.n_a} vs {self.n_b}"

    @property
    def family(self) -> str:
        """Which tests Holm adjusted this row's p-values over, in words."""
        if self.holm_family == "languages":
            return f"Holm over {self.holm_n} languages"
        if self.holm_family == "configurations":
            n = self.holm_n or 1
            return f"Holm over {n} configuration{'s' if n != 1 else ''} compared with {self.baseline_label}"
        return "unadjusted (a family of its own)"


@dataclass(frozen=True)
class BreakEvenRow:
    config_id: str
    baseline_id: str
    measure: str
    queries: float | None
    verdict: str  # crosses, undetermined, never, always a, always b, same cost, negative cost, not measured
    low: float | None = None  # N*'s 95% interval (Fieller); None: no spread to tell (reason) or no crossing
    high: float | None = None
    reason: str | None = None  # "1 run", "the per-query difference's interval contains 0"
    same_training: bool = False  # the two trainings are identical by spec: ΔC_train is 0


@dataclass
class Verdict:
    configurations: dict[str, ConfigurationRow]
    comparisons: list[ComparisonRow]  # every language and average form
    break_even: list[BreakEvenRow]
    cost_to_reach: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    # config id -> (target accuracy X, training device-hours at which its curve first reaches X)
    delta: float = DEFAULT_DELTA
    amortise_n: float = 1.0
    baseline: str | None = None  # the chosen baseline; None: each configuration's default
    include_contended: bool = False  # runs measured beside other work enter the costs

    def contended_left_out(self, config_ids: Iterable[str] | None = None) -> int:
        """How many contended runs the costs leave out (of these configurations; all by default)."""
        if self.include_contended:
            return 0
        ids = self.configurations.keys() if config_ids is None else config_ids
        return sum(self.configurations[c].contended_runs for c in ids if c in self.configurations)

    def cost_ratio(self, a_id: str, b_id: str, cost: str) -> RatioEstimate:
        """A's cost over B's with its interval; a training cost of two trainings identical by spec is 1."""
        a, b = self.configurations[a_id], self.configurations[b_id]
        return ratio_estimate(
            a.spread(cost), b.spread(cost), same_training=cost in TRAINING_COSTS and same_training(a, b)
        )

    def averaged(self) -> list[ComparisonRow]:
        return [c for c in self.comparisons if c.lang == "avg"]

    def sentences(self) -> list[str]:
        return [sentence(c, self) for c in self.averaged()]


# ---- reading ------------------------------------------------------------------------------------


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _configuration(row: dict[str, Any], device_types: dict[str, str | None]) -> ConfigurationRow:
    acc: dict[str, Estimate] = {}
    names = {column.replace("_accuracy", ""): column for column in FORM_COLUMNS.values()}
    names.update({"en": "en_accuracy"}, **{lang: f"acc_{lang}" for lang in XCOPA_LANGS})
    for name, col in names.items():
        if row.get(col) is not None:
            acc[name] = Estimate(_num(row.get(col)), _num(row.get(f"{col}_low")), _num(row.get(f"{col}_high")))
    single_draw = bool(row.get("single_draw"))
    cost_runs = int(row.get("cost_runs") or 0)
    reason = row.get("cost_spread_reason")
    spread = {
        c: CostEstimate(
            _num(row.get(c)),
            _num(row.get(f"{c}_sd")),
            _num(row.get(f"{c}_low")),
            _num(row.get(f"{c}_high")),
            cost_runs,
            str(reason) if reason else None,
        )
        for c in COSTS
        if c in COST_SPREAD
    }
    return ConfigurationRow(
        str(row["config_id"]),
        str(row.get("label") or row["config_id"]) + (" (1 shot draw)" if single_draw else ""),
        str(row.get("family") or "?"),
        row.get("model"),
        row.get("method"),
        int(row.get("n_runs") or 0),
        int(row.get("n_seeds") or 0),
        int(row.get("n_shot_draws") or 0),
        int(row.get("n_failed") or 0),
        int(row.get("collapsed_runs") or 0),
        row.get("seed_variation"),
        list(row.get("chance_langs") or []),
        acc,
        {c: _num(row.get(c)) for c in COSTS},
        device_types.get(str(row["config_id"])),
        cost_spread=spread,
        cost_runs=cost_runs,
        contended_runs=int(row.get("contended_runs") or 0),
        training_id=row.get("training_id"),
        covers=row.get("covers"),
        seed_sd=_num(row.get("seed_sd")),
        draw_sd=_num(row.get("draw_sd")),
        n_clusters=int(row.get("n_clusters") or 0),
        restarted_runs=int(row.get("restarted_runs") or 0),
        single_draw=single_draw,
    )


def verdict(
    store: Path | str,
    *,
    baseline: str | None = None,
    delta: float = DEFAULT_DELTA,
    amortise_n: float = 1.0,
    config_ids: Iterable[str] | None = None,
    light: bool = False,
    include_contended: bool = False,
) -> Verdict:
    """The verdict over the store's succeeded runs (``config_ids``: only these configurations and
    their baselines). ``baseline``: a configuration id every other one is compared with; None:
    each one's default baseline (direct fine-tuning of the same model and recipe).
    ``light``: break-even from the configuration rows already read (``stats.costs.break_even``,
    the rule the ``break_even`` view follows) rather than from the view, which recomputes the
    ``configurations`` view for each cost measure, and the curves of the cost to reach averaged
    per point in DuckDB; the same rows, faster on a large store (the app's Compare screen).
    ``include_contended``: runs measured beside other work (``leaderboard.contended``) enter the
    costs; by default they are left out of them (never out of the accuracy), and counted."""
    if amortise_n < 1:
        raise ValueError(
            f"amortise_n is the number of target tasks an intermediate encoder serves: >= 1, got {amortise_n}"
        )
    wanted = set(config_ids) if config_ids is not None else None
    with connect_ro(store) as con:
        con.execute("SET VARIABLE amortise_n = ?", [float(amortise_n)])
        con.execute("SET VARIABLE delta = ?", [float(delta)])
        con.execute("SET VARIABLE include_contended = ?", [bool(include_contended)])
        device_types = dict(
            con.execute(
                "SELECT config_id, CASE WHEN bool_and(device_type = 'cuda') THEN 'cuda' "
                "WHEN bool_and(device_type = 'cpu') THEN 'cpu' END FROM runs "
                "WHERE status = 'succeeded' GROUP BY config_id"
            ).fetchall()
        )
        cfg_rows = con.sql("SELECT * FROM configurations").to_arrow_table().to_pylist()
        configs = {str(r["config_id"]): _configuration(r, device_types) for r in cfg_rows}
        if baseline is None and delta in SENSITIVITY_DELTAS:  # the default margin is one of them
            # the materialised rows: at the default margin, and their equivalence tests at the others
            raw = [
                _at_margin(r, delta) for r in con.sql("SELECT * FROM verdict_comparison").to_arrow_table().to_pylist()
            ]
        else:
            raw = [dict(r) for r in compare_to(con, baseline, delta)]
        be = (
            con.sql(
                "SELECT config_id, baseline_id, measure, queries, verdict, queries_low, queries_high, reason, "
                "same_training FROM break_even"
            ).fetchall()
            if baseline is None and not light
            else []
        )
        curves_sql = (
            "SELECT config_id, phase, point, lang, avg(accuracy) AS accuracy, "
            # the cost to reach counts the curve's evaluations up to the point: a method that stops
            # when it reaches an accuracy pays for knowing it did (issue 17)
            "avg(cum_train_device_hours + coalesce(cum_eval_device_hours, 0)) AS cost FROM learning_curves "
            "WHERE phase LIKE 'target:%' AND lang <> 'en' GROUP BY ALL"
        )
        if light:  # the mean over (phase, language) per point in DuckDB: one row per point, not per language
            curves_sql = (
                "SELECT config_id, NULL, point, NULL, avg(accuracy), avg(cost) FROM ("
                + curves_sql
                + ") WHERE accuracy IS NOT NULL AND cost IS NOT NULL GROUP BY config_id, point"
            )
        curves = con.sql(curves_sql).fetchall()
    if wanted is not None:
        keep = set(wanted)
        keep |= {str(r["baseline_id"]) for r in raw if str(r["config_id"]) in wanted}
        configs = {k: v for k, v in configs.items() if k in keep}
        raw = [r for r in raw if str(r["config_id"]) in wanted]
    comparisons = [_comparison(r, configs, delta) for r in raw]
    if baseline is not None or light:
        be_rows = _break_even_on_demand(configs, comparisons)
    else:
        be_rows = [
            BreakEvenRow(str(a), str(b), str(m), _num(q), str(v), _num(lo), _num(hi), r, bool(same))
            for a, b, m, q, v, lo, hi, r, same in be
            if a in configs and b in configs
        ]
    out = Verdict(
        configs,
        comparisons,
        be_rows,
        delta=delta,
        amortise_n=amortise_n,
        baseline=baseline,
        include_contended=include_contended,
    )
    out.cost_to_reach = _cost_to_reach(out, curves)
    return out


def _at_margin(r: dict[str, Any], delta: float) -> dict[str, Any]:
    """A stored comparison row read at another of SENSITIVITY_DELTAS: its equivalence p-values at
    that margin (the interval and the difference test do not depend on it)."""
    if delta == r.get("delta") or delta not in SENSITIVITY_DELTAS:
        return r
    k = SENSITIVITY_DELTAS.index(delta)
    at, holm_at = r.get("p_equiv_at") or [], r.get("p_equiv_holm_at") or []
    if k >= len(at) or k >= len(holm_at):
        return r
    return {**r, "delta": delta, "p_equiv": at[k], "p_equiv_holm": holm_at[k] if r.get("holm_family") else None}


def _comparison(r: dict[str, Any], configs: dict[str, ConfigurationRow], delta: float) -> ComparisonRow:
    cid, bid = str(r["config_id"]), str(r["baseline_id"])
    return ComparisonRow(
        cid,
        configs[cid].label if cid in configs else cid,
        bid,
        configs[bid].label if bid in configs else bid,
        str(r["lang"]),
        int(r["n_pairs"]),
        int(r["n_items"]),
        float(r["diff"]),
        float(r["ci_low"]),
        float(r["ci_high"]),
        float(r["p_value"]),
        _num(r.get("p_holm")),
        _num(r.get("mcnemar_p")),
        float(r["equiv_low"]),
        float(r["equiv_high"]),
        delta,
        bool(r.get("paired")),
        int(r.get("n_a") or 0),
        int(r.get("n_b") or 0),
        _num(r.get("se")),
        _num(r.get("p_equiv")) or 1.0,
        _num(r.get("p_equiv_holm")),
        r.get("holm_family"),
        int(r["holm_n"]) if r.get("holm_n") is not None else None,
        _num(r.get("seed_sd")),
        tuple(float(x) for x in r.get("p_equiv_holm_at") or ()),
    )


def _break_even_on_demand(configs: dict[str, ConfigurationRow], comparisons: list[ComparisonRow]) -> list[BreakEvenRow]:
    rows = []
    pairs = {(c.config_id, c.baseline_id) for c in comparisons}
    for a_id, b_id in sorted(pairs):
        a, b = configs.get(a_id), configs.get(b_id)
        if a is None or b is None:
            continue
        same = same_training(a, b)
        for measure, (train, query) in BREAK_EVEN_MEASURES.items():
            be = break_even_estimate(
                a.spread(train),
                a.spread(query),
                b.spread(train),
                b.spread(query),
                SAME_QUERY_COST[measure],
                same_training=same,
            )
            rows.append(BreakEvenRow(a_id, b_id, measure, be.queries, be.verdict, be.low, be.high, be.reason, same))
    return rows


def _cost_to_reach(v: Verdict, curves: list[tuple[Any, ...]]) -> dict[str, tuple[float | None, float | None]]:
    """Per configuration: X (its baseline's final held-out average accuracy) and the device-hours
    at which its own target-phase curve (averaged over languages and runs) first reaches X: the
    training so far and the curve's evaluations so far."""
    by_cfg: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for cid, _phase, point, _lang, acc, cost in curves:
        if acc is None or cost is None:
            continue
        by_cfg.setdefault(str(cid), {}).setdefault(int(point), []).append((float(acc), float(cost)))
    mean_curve: dict[str, tuple[list[float], list[float]]] = {}
    for cid, points in by_cfg.items():
        pts = sorted(points)
        costs = [sum(c for _, c in points[p]) / len(points[p]) for p in pts]
        accs = [sum(a for a, _ in points[p]) / len(points[p]) for p in pts]
        mean_curve[cid] = (costs, accs)
    out: dict[str, tuple[float | None, float | None]] = {}
    for c in v.averaged():
        base = mean_curve.get(c.baseline_id)
        own = mean_curve.get(c.config_id)
        if not base or not own:
            continue
        target = base[1][-1]
        costs = list(own[0])
        for i in range(1, len(costs)):  # a mean over runs can dip by rounding; a curve's cost never does
            costs[i] = max(costs[i], costs[i - 1])
        out[c.config_id] = (target, cost_to_reach(costs, own[1], target))
    return out


# ---- sentences ----------------------------------------------------------------------------------


def _points(x: float) -> str:
    return f"{100 * x:+.1f}"


def _hours_word(cfg: ConfigurationRow) -> str:
    return {"cuda": "GPU-hours", "cpu": "CPU-hours"}.get(cfg.device_type or "", "device-hours")


def design_words(c: ComparisonRow) -> str:
    """How the two sides were compared: seed pairs, or independent arms."""
    if c.paired:
        return f"{c.n_pairs} seed pair{'s' if c.n_pairs != 1 else ''}"
    return f"independent arms of {c.n_a} and {c.n_b} runs"


def finding(c: ComparisonRow) -> str:
    """The accuracy finding of one comparison in words, with its interval and its tests."""
    interval = f"{_points(c.diff)} points [{_points(c.low)}, {_points(c.high)}]"
    d = 100 * c.delta
    tests = f"p = {c.p_value:.2g}" + (f", Holm p = {c.p_holm:.2g}" if c.p_holm is not None else "")
    spread = f"; seed SD of the difference {100 * c.seed_sd:.1f} points" if c.seed_sd is not None else ""
    outcome = c.outcome
    if outcome in ("better", "worse"):
        return f"{outcome}: {interval} ({tests}){spread}"
    if outcome.endswith("within ±δ"):
        return f"{outcome.replace('±δ', f'±{d:g} points')}: {interval} ({tests}){spread}"
    if outcome == "similar":
        return f"similar accuracy (within ±{d:g} points): {interval}{spread}"
    reach = "" if c.equivalence_reachable else f"; ±{d:g} points is out of reach at this precision"
    return f"not distinguishable: {interval} ({tests}){reach}{spread}"


def _times(r: RatioEstimate) -> str:
    """ "3.1× [2.9, 3.3]"; one value when the interval is a point (analytic FLOPs of equal runs) or
    cannot be told (1 run: said once, after the ratios)."""
    x = f"{r.ratio:.2g}×"
    if r.low is not None and r.high is not None:
        low, high = f"{r.low:.2g}", f"{r.high:.2g}"
        if (low, high) != (f"{r.ratio:.2g}",) * 2:  # "11× [11, 11]" says nothing more than "11×"
            return f"{x} [{low}, {high}]"
    return x


def _queries(x: float) -> str:
    """A number of queries to 2 significant digits (an interval's width is rarely known better):
    12,000; below 0 (a crossing that may not exist) is 0."""
    return f"{float(f'{max(x, 0.0):.2g}'):,.0f}"


def _cost_parts(a: ConfigurationRow, b: ConfigurationRow, v: Verdict) -> list[str]:
    """The cost part of a comparison's sentence: FLOPs first (analytic, exact), time beside them,
    each ratio with its 95% interval; a training identical by spec is one training (ratio 1);
    then where the total FLOPs cross, with N*'s interval, or why that is undetermined."""
    parts: list[str] = []
    shown: list[RatioEstimate] = []  # the ratios printed
    prefix = "amortised_train" if v.amortise_n != 1 else "train"
    amort = f" (intermediate phase amortised over {v.amortise_n:g} tasks)" if v.amortise_n != 1 else ""
    if same_training(a, b):
        parts.append(f"{SAME_TRAINING}: training cost counted once, ratio 1")
    else:
        flops = v.cost_ratio(a.config_id, b.config_id, f"{prefix}_flops")
        hours = v.cost_ratio(a.config_id, b.config_id, f"{prefix}_device_hours")
        said = []
        shown += [r for r in (flops, hours) if r.ratio is not None]
        if flops.ratio is not None:
            said.append(f"training FLOPs {_times(flops)}{amort}")
        if hours.ratio is not None:
            said.append(f"{_times(hours)} the training {_hours_word(a)}{'' if flops.ratio is not None else amort}")
        if said:
            parts.append("; ".join(said))
    be = next(
        (
            x
            for x in v.break_even
            if x.config_id == a.config_id and x.baseline_id == b.config_id and x.measure == "flops"
        ),
        None,
    )
    query = v.cost_ratio(a.config_id, b.config_id, "query_flops")
    per_query = f"{_times(query)} the per-query FLOPs" if query.ratio is not None else None
    shown += [query] if query.ratio is not None else []
    if be is not None and be.verdict in ("never", "same cost"):
        parts.append("same per-query cost")
    elif be is not None and be.verdict == "crosses" and be.queries is not None:
        cross = f"total FLOPs cross after {_queries(be.queries)} queries"
        if be.low is not None and be.high is not None and be.low != be.high:
            cross += f" [{_queries(be.low)}, {_queries(be.high)}]"
        parts.append(f"{per_query}; {cross}" if per_query else cross)
    elif be is not None and be.verdict == "undetermined":
        parts.append(f"{per_query}; break-even undetermined" if per_query else "break-even undetermined")
    elif be is not None and be.verdict.startswith("always") and per_query:
        parts.append(per_query)
    if any(r.reason == ONE_RUN for r in shown) or (be is not None and be.reason == ONE_RUN):
        parts.append("1 run: no cost interval")
    left_out = v.contended_left_out([a.config_id, b.config_id])
    if left_out:
        parts.append(f"{left_out} contended run{'s' if left_out != 1 else ''} left out of costs")
    return parts


def sentence(c: ComparisonRow, v: Verdict) -> str:
    """One plain sentence: the accuracy finding with its interval, then what it costs."""
    a, b = v.configurations.get(c.config_id), v.configurations.get(c.baseline_id)
    head = f"{c.label} vs {c.baseline_label} ({design_words(c)}, {c.n_items} items; {c.family}):"
    finding_words = finding(c)
    parts = [finding_words]
    if a is not None and b is not None:
        parts += _cost_parts(a, b, v)
        reach = v.cost_to_reach.get(c.config_id)
        if reach is not None and reach[0] is not None:
            target, cost = reach[0], reach[1]  # the narrowed target (unpacking would lose it)
            held_out = f"the baseline's final held-out accuracy ({100 * target:.1f}%)"
            parts.append(
                f"reaches {held_out} after {cost:.3g} {_hours_word(a)} (training and the curve's evaluations)"
                if cost is not None
                else f"does not reach {held_out}"
            )
        flags = []
        if a.collapsed_runs:
            flags.append(f"{a.collapsed_runs} collapsed run{'s' if a.collapsed_runs != 1 else ''}")
        for side in (a, b):
            if side.covers and side.covers.startswith("items only"):
                flags.append(f"{side.label}'s interval covers {side.covers}: not training variation")
        if flags:
            parts.append("; ".join(flags))
    return f"{head} " + ", ".join(parts)


def delta_sensitivity(v: Verdict) -> dict[float, dict[str, int]]:
    """How the headline words move with the equivalence margin: per δ of SENSITIVITY_DELTAS, how
    many of the verdict's average comparisons are better / worse (each possibly within ±δ),
    similar, not distinguishable (the adjusted equivalence p-values are stored per margin)."""
    out: dict[float, dict[str, int]] = {}
    for k, delta in enumerate(SENSITIVITY_DELTAS):
        counts: dict[str, int] = {}
        for c in v.averaged():
            if k >= len(c.p_equiv_holm_at):
                continue
            word = c.outcome_at(c.p_equiv_holm_at[k] < c.alpha)
            counts[word] = counts.get(word, 0) + 1
        if counts:
            out[delta] = counts
    return out


def sensitivity_line(sensitivity: dict[float, dict[str, int]]) -> str:
    """'±1 point: 2 not distinguishable, 1 similar; ±2 points: …' (empty when nothing is compared)."""
    parts = []
    for delta, counts in sensitivity.items():
        d = 100 * delta
        words = ", ".join(f"{n} {word.replace('±δ', f'±{d:g}')}" for word, n in sorted(counts.items()))
        parts.append(f"±{d:g} point{'s' if d != 1 else ''}: {words}")
    return "; ".join(parts)


# ---- reads for the app's Compare screen (additive: the frontier, learning curves, why a cost is NULL) ----


def common_ground_of(configs: Iterable[ConfigurationRow]) -> CommonGround:
    """The XCOPA languages every one of ``configs`` evaluated and each one's mean accuracy over
    them (``accuracy.common_ground`` on the per-language means): what rankings use, so that a
    configuration without Quechua does not rank above one with it for that reason alone."""
    return common_ground(
        {c.config_id: {lang: e.value for lang, e in c.accuracy.items() if lang in XCOPA_LANGS} for c in configs}
    )


def frontier(configs: Iterable[ConfigurationRow], cost: str, accuracy: str = "avg") -> list[str]:
    """The configurations on the cost/accuracy frontier, cheapest first: no other configuration
    is at most as costly and at least as accurate (mean over its runs) with one of the two
    strictly better — the rule of the store's per-run ``cost_vs_accuracy``. A configuration
    without the cost or the accuracy is not a candidate. ``accuracy``: "common" is the mean over
    the languages all of ``configs`` evaluated (``common_ground_of``), else a key of
    ``ConfigurationRow.accuracy``."""
    configs = list(configs)
    common = common_ground_of(configs).means if accuracy == "common" else None
    pts = []
    for c in configs:
        x = c.costs.get(cost)
        if common is not None:
            y = common.get(c.config_id)
        else:
            est = c.accuracy.get(accuracy)
            y = None if est is None else est.value
        if x is not None and y is not None:
            pts.append((float(x), -float(y), c.config_id))
    pts.sort()
    out, best = [], -math.inf
    i = 0
    while i < len(pts):
        j = i
        while j < len(pts) and pts[j][0] == pts[i][0]:
            j += 1
        group = pts[i:j]  # equal cost: the most accurate of them (and its ties) can be on it
        top = -group[0][1]
        if top > best:
            out += [cid for _, neg, cid in group if -neg == top]
            best = top
        i = j
    return out


@dataclass(frozen=True)
class Curve:
    """A configuration's learning curve: per evaluation point, the mean over its runs of the
    cumulative training cost and of the held-out accuracy (one language, or the mean over the
    XCOPA languages)."""

    config_id: str
    phase: str
    points: list[int]
    cost: list[float]
    accuracy: list[float]
    n_runs: int


CURVE_COSTS = ("cum_train_device_hours", "cum_train_flops", "cum_train_energy_j")


def learning_curves(
    store: Path | str, *, cost: str = "cum_train_device_hours", lang: str = "avg", phase: str = "target"
) -> dict[str, Curve]:
    """Mean learning curves per configuration from the ``learning_curves`` view (succeeded runs).
    ``lang``: 'avg' (the mean over the XCOPA languages held out at a point), 'en', or an XCOPA
    language; ``phase``: 'target' (target:copa), or 'few-shot' (each few-shot:<lang> phase, on
    its own language: ``lang`` names it). Points whose cost is NULL are left out."""
    if cost not in CURVE_COSTS:
        raise ValueError(f"cost must be one of {', '.join(CURVE_COSTS)}, got {cost!r}")
    if lang != "avg" and lang != "en" and lang not in XCOPA_LANGS:
        raise ValueError(f"lang must be 'avg', 'en' or an XCOPA language, got {lang!r}")
    if phase == "target":
        where = "phase LIKE 'target:%'"
        params: list[Any] = []
    elif phase == "few-shot":
        if lang in ("avg", "en"):
            raise ValueError("a few-shot curve is one language's: give lang")
        where, params = "phase = ?", [f"few-shot:{lang}"]
    else:
        raise ValueError(f"phase must be 'target' or 'few-shot', got {phase!r}")
    if lang == "avg":
        langs = ", ".join(f"'{x}'" for x in XCOPA_LANGS)
        lang_where = f"lang IN ({langs})"
    else:
        lang_where, params = "lang = ?", [*params, lang]
    sql = f"""
        WITH per_run AS (
          SELECT config_id, run_id, phase, point, avg(accuracy) AS accuracy, any_value({cost}) AS cost
          FROM learning_curves WHERE {where} AND {lang_where} AND accuracy IS NOT NULL AND {cost} IS NOT NULL
          GROUP BY ALL)
        SELECT config_id, any_value(phase), point, avg(cost), avg(accuracy), count(DISTINCT run_id)
        FROM per_run GROUP BY config_id, point ORDER BY config_id, point"""
    with connect_ro(store) as con:
        rows = con.execute(sql, params).fetchall()
    out: dict[str, Curve] = {}
    for cid, ph, point, c, a, n in rows:
        cur = out.get(str(cid))
        if cur is None:
            cur = out[str(cid)] = Curve(str(cid), str(ph), [], [], [], 0)
        cur.points.append(int(point))
        cur.cost.append(float(c))
        cur.accuracy.append(float(a))
        if int(n) > cur.n_runs:
            object.__setattr__(cur, "n_runs", int(n))
    for cur in out.values():  # a mean over runs can dip by rounding; a cumulative cost never does
        for i in range(1, len(cur.cost)):
            cur.cost[i] = max(cur.cost[i], cur.cost[i - 1])
    return out


def unmeasured_reasons(store: Path | str, figures: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    """Why a cost is NULL: ``figures`` maps a name to (a phases figure such as 'energy_j', the
    phase kinds it comes from); the answer maps it to the most common ``<figure>_reason`` of
    those phases where the figure is NULL (reused phases, whose reason only points to the run
    that incurred the cost, left out). A name with no such phase is absent."""
    out: dict[str, str] = {}
    with connect_ro(store) as con:
        for name, (figure, kinds) in figures.items():
            if figure not in SOURCED_FIGURES or not kinds:
                continue
            marks = ", ".join("?" for _ in kinds)
            row = con.execute(
                f"SELECT {figure}_reason, count(*) AS n FROM phases "
                f"WHERE kind IN ({marks}) AND {figure} IS NULL AND {figure}_reason IS NOT NULL "
                "AND reused_from_run IS NULL AND completed GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1",
                list(kinds),
            ).fetchone()
            if row is not None:
                out[name] = str(row[0])
    return out
