"""The verdict tables the store holds, from its predictions: intervals per configuration and paired
comparisons against a baseline, written to ``verdict_accuracy`` and ``verdict_comparison``.

``refresh(con)`` runs at the end of an ingest batch and recomputes only when the set of
succeeded runs changed (a signature kept in ``meta``), so a live ingest every few seconds costs
nothing; the default baseline of every configuration (``default_baseline``) is materialised,
any other baseline is computed on demand with ``compare_to`` (the verdict's reader, verdict/api.py,
asks for it). Everything statistical is ``xcost_tui.stats``; this module only gathers 0/1
correctness matrices and writes rows (their shape: ``rows.VerdictAccuracyRow`` and
``rows.VerdictComparisonRow``).

Which predictions: a run's latest evaluation of each language (a retried target phase evaluates
English again), succeeded runs only. The design (docs/statistics.md): a configuration's runs
cluster by their random factor (``cluster_of``: the training seed of a configuration that trains,
with its shot draws nested in it; the shot draw of one that does not); two configurations are
paired through their training seeds only when both train (``paired``), otherwise compared as
independent arms on the same items.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .. import XCOPA_LANGS
from ..accuracy import CHANCE, FORM_COLUMNS, seen_langs
from ..configuration import EXTERNAL
from ..errors import StoreError
from ..methods import METHOD_TABLE
from ..stats.design import (
    Contrast,
    design_interval,
    independent_contrast,
    indistinguishable_from_chance,
    paired_contrast,
)
from ..stats.significance import holm, mcnemar_stratified
from ..stats.thresholds import DEFAULT_DELTA
from . import db, schema
from .rows import VerdictAccuracyRow, VerdictComparisonRow

# "languages" of the verdict tables besides the XCOPA ones: English COPA validation, and the
# average forms of accuracy.py (their names there are the leaderboard's column names).
ENGLISH = "en"
AVERAGES = {form: column.replace("_accuracy", "") for form, column in FORM_COLUMNS.items()}  # evaluated -> avg, ...

# The spec keys a baseline must share with the configuration it is the baseline of: the same model,
# fine-tuned the same way on the same target and evaluated on the same items.
BASELINE_KEYS = ("model", "target", "hparams", "eval_split", "xcopa_question", "max_eval_examples", "tiny_model_dims")


@dataclass
class RunItems:
    run_id: str
    seed: int
    shot_seed: int  # -1: the run draws no shots
    correct: dict[str, tuple[NDArray[np.int64], NDArray[np.float64]]] = field(default_factory=dict)
    # lang -> (item idx, sorted; 1.0/0.0 correct)


def _intersect(arrays: list[NDArray[np.int64]]) -> NDArray[np.int64]:
    out = arrays[0]
    for a in arrays[1:]:
        out = np.intersect1d(out, a, assume_unique=True)
    return out


def _take(run: RunItems, lang: str, items: NDArray[np.int64]) -> NDArray[np.float64]:
    idx, values = run.correct[lang]
    return values[np.searchsorted(idx, items)]


@dataclass
class Configuration:
    config_id: str
    spec: dict[str, Any]
    runs: list[RunItems] = field(default_factory=list)

    @property
    def model(self) -> str | None:
        model = self.spec.get("model")
        return None if model is None else str(model)

    @property
    def trains(self) -> bool:
        """Its runs train a model (the training seed is a real factor): the method table's word."""
        entry = METHOD_TABLE.get(str(self.spec.get("method")))
        return bool(entry.trains) if entry is not None else True

    def cluster_of(self, run: RunItems) -> int | str:
        """A run's cluster: its training seed when the configuration trains (shot draws nested in
        it), its shot draw when it does not (an in-context configuration's seed means nothing),
        else the run itself."""
        if self.trains:
            return run.seed
        return run.shot_seed if run.shot_seed >= 0 else run.run_id

    def clusters(self, runs: Sequence[RunItems] | None = None) -> list[int | str]:
        return [self.cluster_of(r) for r in (runs if runs is not None else self.runs)]

    def langs(self) -> list[str]:
        present = {lang for r in self.runs for lang in r.correct}
        return [lang for lang in (ENGLISH, *XCOPA_LANGS) if lang in present]

    def matrix(
        self, lang: str, runs: Sequence[RunItems] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
        """(runs × items) correctness of ``lang`` over the items every run evaluated."""
        runs = list(runs if runs is not None else self.runs)
        if not runs or any(lang not in r.correct for r in runs):
            return None
        items = _intersect([r.correct[lang][0] for r in runs])
        if not len(items):
            return None
        return np.stack([_take(r, lang, items) for r in runs]), items

    def average(
        self, form: str, runs: Sequence[RunItems] | None = None, within: Iterable[str] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
        """Per run and item, the average over languages in ``form`` (accuracy.py's definitions):
        XCOPA items of one idx are translations of one COPA item, so they average item by item.
        ``within``: only these languages count as evaluated (a comparison averages over the
        languages both sides evaluated)."""
        langs = [lang for lang in self.langs() if lang != ENGLISH and (within is None or lang in set(within))]
        seen = seen_langs(self.model)
        if not langs or (form == "all" and set(langs) != set(XCOPA_LANGS)):
            return None
        if form in ("published", "seen") and seen is None:
            return None
        if form == "published" and not set(seen or ()) <= set(langs):
            return None
        use = {
            "evaluated": langs,
            "all": list(XCOPA_LANGS),
            "published": list(XCOPA_LANGS),
            "seen": [lang for lang in langs if lang in (seen or ())],
        }[form]
        measured = [lang for lang in use if not (form == "published" and lang not in (seen or ()))]
        if not use or not measured:
            return None
        runs = list(runs if runs is not None else self.runs)
        per_lang = [self.matrix(lang, runs) for lang in measured]
        if any(m is None for m in per_lang):
            return None
        items = _intersect([m[1] for m in per_lang if m is not None])
        if not len(items):
            return None
        total = np.full((len(runs), len(items)), CHANCE * (len(use) - len(measured)))
        for m in per_lang:
            assert m is not None
            total += m[0][:, np.searchsorted(m[1], items)]
        return total / len(use), items


# ---- loading ------------------------------------------------------------------------------------

# An item's key as a number (the item arrays below are int64: fast to intersect and search): a
# numeric id is its value (XCOPA, COPA: 0 and up), a string id (predictions.idx is VARCHAR since
# schema 10: CommonsenseQA's, CosmosQA's) a negative number from DuckDB's hash of it, the same for
# the same id in every run of one query.
ITEM_KEY = "coalesce(TRY_CAST(p.idx AS BIGINT), -1 - (hash(p.idx) >> 1)::BIGINT)"

PREDICTIONS_SQL = """
WITH latest AS (
  SELECT run_id, lang, arg_max(phase, coalesce(t, 0)) AS phase FROM evals WHERE accuracy IS NOT NULL {runs} GROUP BY ALL
),
sel AS (
  SELECT r.config_id, r.run_id, coalesce(r.seed, 0) AS seed, coalesce(r.shot_seed, -1) AS shot_seed, p.lang,
         {ITEM_KEY} AS idx, p.correct
  FROM predictions p
  JOIN latest l ON l.run_id = p.run_id AND l.lang = p.lang AND l.phase = p.phase
  JOIN runs r ON r.run_id = p.run_id
  WHERE r.status = 'succeeded' AND r.config_id IS NOT NULL AND p.label >= 0 {runs_p}
)
SELECT dense_rank() OVER (ORDER BY config_id, seed, shot_seed, run_id, lang) - 1 AS slice,
       config_id, run_id, seed, shot_seed, lang, idx, correct::DOUBLE AS correct
FROM sel ORDER BY config_id, seed, shot_seed, run_id, lang, idx
""".replace("{ITEM_KEY}", ITEM_KEY)


def load_configurations(
    con: duckdb.DuckDBPyConnection, config_ids: Iterable[str] | None = None
) -> dict[str, Configuration]:
    """Every configuration with at least one succeeded run, with its runs' per-item correctness."""
    specs = {
        str(cid): json.loads(spec) if spec else {}
        for cid, spec in con.execute(
            "SELECT config_id, any_value(spec) FROM runs WHERE status = 'succeeded' AND config_id IS NOT NULL "
            "GROUP BY config_id"
        ).fetchall()
    }
    sql, params = PREDICTIONS_SQL.format(runs="", runs_p=""), []
    if config_ids is not None:
        # the runs first, then their predictions by run id: the filter reaches the scan of the
        # predictions table itself (a filter on the runs' config_id would be applied only after
        # the join, to every prediction of the store), which the incremental refresh relies on
        run_ids = [
            r[0]
            for r in con.execute(
                "SELECT run_id FROM runs WHERE status = 'succeeded' AND list_contains(?, config_id)",
                [list(config_ids)],
            ).fetchall()
        ]
        sql = PREDICTIONS_SQL.format(runs="AND list_contains(?, run_id)", runs_p="AND list_contains(?, p.run_id)")
        params = [run_ids, run_ids]
    cols = con.execute(sql, params).fetchnumpy()
    n = len(cols["slice"])
    configs: dict[str, Configuration] = {}
    if not n:
        return configs
    slices = np.asarray(cols["slice"])
    starts = np.flatnonzero(np.r_[True, slices[1:] != slices[:-1]])
    ends = np.r_[starts[1:], n]
    idx = np.asarray(cols["idx"], dtype=np.int64)
    correct = np.asarray(cols["correct"], dtype=np.float64)
    current: RunItems | None = None
    for a, b in zip(starts, ends):
        cid, rid = str(cols["config_id"][a]), str(cols["run_id"][a])
        if current is None or current.run_id != rid:
            cfg = configs.setdefault(cid, Configuration(cid, specs.get(cid, {})))
            current = RunItems(rid, int(cols["seed"][a]), int(cols["shot_seed"][a]))
            cfg.runs.append(current)
        current.correct[str(cols["lang"][a])] = (idx[a:b], correct[a:b])
    return configs


# ---- baselines ----------------------------------------------------------------------------------


def _baseline_key(spec: dict[str, Any]) -> str:
    return json.dumps({k: spec.get(k) for k in BASELINE_KEYS}, sort_keys=True, default=str)


# What makes two configurations' scores comparable at all: the same items of the same test sets.
EVAL_KEYS = ("eval_split", "xcopa_question", "max_eval_examples")


def _eval_key(spec: dict[str, Any]) -> str:
    return json.dumps({k: spec.get(k) for k in EVAL_KEYS}, sort_keys=True, default=str)


def _is_baseline(spec: dict[str, Any]) -> bool:
    entry = METHOD_TABLE.get(str(spec.get("method")))
    return bool(entry and entry.default_baseline)


def _external(spec: dict[str, Any]) -> bool:
    """A run a user's own training script measured (xcost_tui/track), not the tool's job."""
    return spec.get("source") == EXTERNAL


def default_baseline(configs: dict[str, Configuration]) -> dict[str, str]:
    """config id -> the id of its baseline: direct fine-tuning of the same model and recipe (the
    one with most runs when several qualify); a configuration with none of its own model (an
    in-context one: its causal LM is never fine-tuned directly) gets the direct configuration
    scored on the same items with most runs. Direct configurations are the baselines: none.
    A direct configuration measured in a user's own script (``source`` "external") is compared
    with the tool's own direct fine-tuning, and is a baseline only where the tool has none."""
    return baselines_of({cid: (cfg.spec, len(cfg.runs)) for cid, cfg in configs.items()})


def baselines_of(entries: dict[str, tuple[dict[str, Any], int]]) -> dict[str, str]:
    """``default_baseline`` from what it reads of each configuration: its spec and its number of
    runs (config id -> (spec, runs)). The incremental refresh calls it with the counts it keeps
    for the configurations it does not load."""
    directs: dict[str, list[tuple[int, str]]] = {}
    by_items: dict[str, list[tuple[int, str]]] = {}
    external: dict[str, list[tuple[int, str]]] = {}  # the same, of directs measured in users' scripts
    external_items: dict[str, list[tuple[int, str]]] = {}
    for cid, (spec, n_runs) in entries.items():
        if _is_baseline(spec):
            keyed, itemed = (external, external_items) if _external(spec) else (directs, by_items)
            keyed.setdefault(_baseline_key(spec), []).append((n_runs, cid))
            itemed.setdefault(_eval_key(spec), []).append((n_runs, cid))
    out = {}
    for cid, (spec, _) in entries.items():
        if _is_baseline(spec) and not _external(spec):
            continue
        candidates = directs.get(_baseline_key(spec)) or by_items.get(_eval_key(spec), [])
        if not candidates and not _is_baseline(spec):  # only users' scripts fine-tuned directly
            candidates = external.get(_baseline_key(spec)) or external_items.get(_eval_key(spec), [])
        if candidates:
            out[cid] = max(candidates)[1]  # most runs, then the larger config id
    return out


def paired(a: Configuration, b: Configuration) -> bool:
    """Two configurations share a random factor only when both train: the training seed (the
    same seed draws the same head initialisation and data order). They are paired by it when
    the seeds of one are among the other's; otherwise their runs are independent arms."""
    if not (a.trains and b.trains):
        return False
    sa, sb = {r.seed for r in a.runs}, {r.seed for r in b.runs}
    return bool(sa & sb) and (sa <= sb or sb <= sa)


def pair_runs(a: Configuration, b: Configuration) -> tuple[list[RunItems], list[RunItems]]:
    """The runs of each side that enter a paired comparison: those of the shared training seeds
    (every shot draw of a seed: draws are averaged within it)."""
    shared = {r.seed for r in a.runs} & {r.seed for r in b.runs}
    return [r for r in a.runs if r.seed in shared], [r for r in b.runs if r.seed in shared]


# ---- the numbers --------------------------------------------------------------------------------


def _avg_name(form: str) -> str:
    return AVERAGES[form]


def _coverage(cfg: Configuration, n_clusters: int) -> str:
    """What the interval covers, in words: the factors it resampled."""
    draws = any(r.shot_seed >= 0 for r in cfg.runs)
    if not cfg.trains:
        return "shot draws and items" if n_clusters > 1 else ("items only (1 shot draw)" if draws else "items only")
    if n_clusters == 1:
        return "items only (1 seed)"
    n_draws = len({r.shot_seed for r in cfg.runs})
    if draws and n_draws == 1:
        return "seeds and items (1 shot draw)"
    return "seeds, shot draws and items" if draws else "seeds and items"


def accuracy_rows(cfg: Configuration) -> list[VerdictAccuracyRow]:
    rows: list[VerdictAccuracyRow] = []
    targets: list[tuple[str, tuple[NDArray[np.float64], NDArray[np.int64]] | None]] = [
        (lang, cfg.matrix(lang)) for lang in cfg.langs()
    ]
    targets += [(_avg_name(form), cfg.average(form)) for form in AVERAGES]
    clusters = cfg.clusters()
    for name, got in targets:
        if got is None:
            continue
        m, _ = got
        iv = design_interval(m, clusters)
        rows.append(
            VerdictAccuracyRow(
                config_id=cfg.config_id,
                lang=name,
                n_runs=m.shape[0],
                n_seeds=len({r.seed for r in cfg.runs}),
                n_clusters=iv.n_clusters,
                n_items=m.shape[1],
                accuracy=iv.estimate,
                se=iv.se,
                ci_low=iv.low,
                ci_high=iv.high,
                seed_sd=iv.cluster_sd if cfg.trains else None,
                draw_sd=iv.within_sd if cfg.trains else iv.cluster_sd,
                covers=_coverage(cfg, iv.n_clusters),
                seed_variation=iv.seed_variation,
                chance=indistinguishable_from_chance(iv),
            )
        )
    return rows


def _contrast(
    a: Configuration,
    b: Configuration,
    ra: list[RunItems],
    rb: list[RunItems],
    ma: NDArray[np.float64],
    mb: NDArray[np.float64],
    is_paired: bool,
    delta: float,
) -> Contrast:
    if is_paired:
        return paired_contrast(ma, a.clusters(ra), mb, b.clusters(rb), delta=delta)
    return independent_contrast(ma, a.clusters(ra), mb, b.clusters(rb), delta=delta)


def comparison_rows(
    a: Configuration, b: Configuration, *, delta: float = DEFAULT_DELTA, names: Iterable[str] | None = None
) -> list[VerdictComparisonRow]:
    """A vs baseline B per language and average form, as the design allows (``paired``); Holm
    over the XCOPA languages of the comparison (the average forms' family is the configurations
    compared with one baseline: ``adjust_across_configurations``)."""
    is_paired = paired(a, b)
    ra, rb = pair_runs(a, b) if is_paired else (list(a.runs), list(b.runs))
    rows: list[VerdictComparisonRow] = []
    wanted = set(names) if names is not None else None
    shared = [lang for lang in a.langs() if lang in b.langs()]
    for name in [*shared, *(_avg_name(f) for f in AVERAGES)]:
        if wanted is not None and name not in wanted:
            continue
        form = next((f for f, n in AVERAGES.items() if n == name), None)
        if form is None:
            ga, gb = a.matrix(name, runs=ra), b.matrix(name, runs=rb)
        else:
            both = [lang for lang in shared if lang != ENGLISH]
            ga, gb = a.average(form, runs=ra, within=both), b.average(form, runs=rb, within=both)
        if ga is None or gb is None:
            continue
        common = np.intersect1d(ga[1], gb[1], assume_unique=True)
        if not len(common):
            continue
        ma = ga[0][:, np.searchsorted(ga[1], common)]
        mb = gb[0][:, np.searchsorted(gb[1], common)]
        d = _contrast(a, b, ra, rb, ma, mb, is_paired, delta)
        rows.append(
            VerdictComparisonRow(
                config_id=a.config_id,
                baseline_id=b.config_id,
                lang=name,
                paired=is_paired,
                n_pairs=d.n_pairs,
                n_a=d.n_a,
                n_b=d.n_b,
                n_items=d.n_items,
                diff=d.diff,
                se=d.se,
                ci_low=d.low,
                ci_high=d.high,
                equiv_low=d.equiv_low,
                equiv_high=d.equiv_high,
                delta=delta,
                p_value=d.p_value,
                p_equiv=d.p_equiv,
                p_holm=None,
                p_equiv_holm=None,
                p_equiv_at=list(d.p_equiv_at),
                p_equiv_holm_at=list(d.p_equiv_at),
                holm_family=None,
                holm_n=None,
                seed_sd=d.cluster_sd,
                mcnemar_p=_mcnemar(ma, mb, a.clusters(ra), b.clusters(rb)) if is_paired and form is None else None,
            )
        )
    xcopa = [r for r in rows if r["lang"] in XCOPA_LANGS]
    _adjust(xcopa, "languages")
    return rows


def _mcnemar(
    ma: NDArray[np.float64], mb: NDArray[np.float64], ca: list[int | str], cb: list[int | str]
) -> float | None:
    """McNemar's exact test stratified over seed pairs (runs of one seed against runs of the same
    seed): a check on items alone, beside the design's p-value."""
    pairs = [(x > 0.5, y > 0.5) for i, x in enumerate(ma) for j, y in enumerate(mb) if ca[i] == cb[j]]
    return mcnemar_stratified(pairs) if pairs else None


def _adjust(family: list[VerdictComparisonRow], kind: str) -> None:
    """Holm's adjustment of the difference test and of the equivalence test over one family."""
    if not family:
        return
    for r, p, q in zip(family, holm([r["p_value"] for r in family]), holm([r["p_equiv"] for r in family])):
        r["p_holm"], r["p_equiv_holm"] = p, q
        r["holm_family"], r["holm_n"] = kind, len(family)
    # the equivalence tests at the other margins, adjusted over the same family
    columns = [holm([r["p_equiv_at"][k] for r in family]) for k in range(len(family[0]["p_equiv_at"]))]
    for i, r in enumerate(family):
        r["p_equiv_holm_at"] = [column[i] for column in columns]


def adjust_across_configurations(rows: list[VerdictComparisonRow]) -> None:
    """The headline (average) rows: Holm over the configurations compared with one baseline."""
    families: dict[tuple[str, str], list[VerdictComparisonRow]] = {}
    for r in rows:
        if r["lang"] in AVERAGES.values():
            families.setdefault((r["baseline_id"], r["lang"]), []).append(r)
    for family in families.values():
        _adjust(family, "configurations")


def _comparisons(
    configs: dict[str, Configuration], pairs: Iterable[tuple[str, str]], delta: float
) -> list[VerdictComparisonRow]:
    out: list[VerdictComparisonRow] = []
    for cid, base in pairs:
        out += comparison_rows(configs[cid], configs[base], delta=delta)
    adjust_across_configurations(out)
    return out


# ---- the store ----------------------------------------------------------------------------------

SIGNATURE_SQL = (
    "SELECT md5(coalesce(string_agg(run_id || ':' || coalesce(source_sig, ''), ',' ORDER BY run_id), '')) "
    "FROM runs WHERE status = 'succeeded'"
)

# What the verdict reads of one configuration, per configuration: its succeeded runs and their
# files (``source_sig`` changes whenever a run directory does, so a re-ingested run changes it too).
CONFIG_SIGNATURES_SQL = """
SELECT config_id, any_value(spec) AS spec,
       md5(string_agg(run_id || ':' || coalesce(source_sig, ''), ',' ORDER BY run_id)) AS sig
FROM runs WHERE status = 'succeeded' AND config_id IS NOT NULL GROUP BY config_id ORDER BY config_id
"""

# The incremental state in ``meta`` (key STATE_KEY, JSON): per configuration its signature and its
# number of runs with predictions (what ``default_baseline`` counts), and the baseline map the
# tables hold. STATE_VERSION: raise it whenever the rows would come out differently for the same
# predictions (a statistic, a column, a rule); a state of another version makes the next refresh full.
STATE_KEY = "verdict_state"
STATE_VERSION = 1
_META_KEYS = ("verdict_sig", "verdict_seconds", "verdict_recomputed", STATE_KEY)


def refresh(con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
    """Brings the verdict tables up to date with the succeeded runs; True when anything was recomputed.

    Nothing happens while the set of succeeded runs is unchanged (``meta.verdict_sig``). Otherwise
    the refresh is incremental when the store holds the state of an earlier one (``meta.verdict_state``,
    of this STATE_VERSION and margin): only the configurations whose runs changed are loaded and
    recomputed, with the comparisons that involve them (as the configuration or as its baseline, or
    whose default baseline changed), and the Holm families of the averages they belong to are
    adjusted again from the stored p-values. ``force``, or no usable state: every configuration
    (a full refresh). Both give the same rows (tests/store/test_verdict_incremental.py)."""
    found = con.execute(SIGNATURE_SQL).fetchone()
    assert found is not None  # an aggregate: always one row
    sig = found[0]
    old = con.execute("SELECT value FROM meta WHERE key = 'verdict_sig'").fetchall()
    if not force and old and old[0][0] == sig:
        return False
    t0 = time.perf_counter()
    current = {
        str(cid): (json.loads(spec) if spec else {}, str(s))
        for cid, spec, s in con.execute(CONFIG_SIGNATURES_SQL).fetchall()
    }
    state = None if force else _read_state(con)
    if state is None:
        acc, cmp, new_state, done = _full(con, current)
        drop: tuple[list[str], list[str], list[str]] | None = None
    else:
        acc, cmp, new_state, done, drop = _incremental(con, current, state)
    with db.transaction(con):
        if drop is None:
            con.execute("DELETE FROM verdict_accuracy")
            con.execute("DELETE FROM verdict_comparison")
        else:
            dirty, affected, families = drop
            con.execute("DELETE FROM verdict_accuracy WHERE list_contains(?, config_id)", [dirty])
            con.execute(
                "DELETE FROM verdict_comparison WHERE list_contains(?, config_id) "
                "OR (list_contains(?, baseline_id) AND list_contains(?, lang))",
                [affected, families, list(AVERAGES.values())],
            )
        _insert(con, "verdict_accuracy", acc)
        _insert(con, "verdict_comparison", cmp)
        con.execute("DELETE FROM meta WHERE list_contains(?, key)", [list(_META_KEYS)])
        con.execute(
            "INSERT INTO meta VALUES ('verdict_sig', ?), ('verdict_seconds', ?), ('verdict_recomputed', ?), (?, ?)",
            [sig, f"{time.perf_counter() - t0:.3f}", done, STATE_KEY, json.dumps(new_state, sort_keys=True)],
        )
    return True


def _read_state(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The incremental state of the last refresh; None when missing, unreadable, of another
    STATE_VERSION or another margin (then the refresh is full)."""
    found = con.execute("SELECT value FROM meta WHERE key = ?", [STATE_KEY]).fetchall()
    if not found:
        return None
    try:
        state = json.loads(found[0][0])
    except (TypeError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION or state.get("delta") != DEFAULT_DELTA:
        return None
    if not isinstance(state.get("configs"), dict) or not isinstance(state.get("baselines"), dict):
        return None
    return state


def _state(
    current: dict[str, tuple[dict[str, Any], str]], n_runs: dict[str, int], baselines: dict[str, str]
) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "delta": DEFAULT_DELTA,
        "configs": {cid: {"sig": s, "n_runs": n_runs.get(cid, 0)} for cid, (_, s) in current.items()},
        "baselines": baselines,
    }


# A full refresh loads the predictions of at most this many configurations at once (with the
# baseline they are compared with), so its memory is bounded on any store: all of them at once
# (56 M predictions at 10,000 runs) did not fit in 23 GiB.
FULL_CHUNK = 48

# Per configuration, its runs with predictions the verdict reads (what ``default_baseline`` counts),
# from the same selection as PREDICTIONS_SQL, counted in the database.
RUN_COUNTS_SQL = (
    PREDICTIONS_SQL[: PREDICTIONS_SQL.index("SELECT dense_rank()")].format(runs="", runs_p="")
    + "SELECT config_id, count(DISTINCT run_id) FROM sel GROUP BY config_id"
)


def _full(
    con: duckdb.DuckDBPyConnection, current: dict[str, tuple[dict[str, Any], str]]
) -> tuple[list[VerdictAccuracyRow], list[VerdictComparisonRow], dict[str, Any], str]:
    """Every configuration, loaded a chunk at a time: each baseline with the configurations
    compared with it (FULL_CHUNK of them at once), then those with no baseline."""
    counts = {str(cid): int(n) for cid, n in con.execute(RUN_COUNTS_SQL).fetchall()}
    entries = {cid: (current[cid][0], n) for cid, n in counts.items() if cid in current and n > 0}
    baselines = baselines_of(entries)
    groups: dict[str | None, list[str]] = {}
    for cid in sorted(entries):
        groups.setdefault(baselines.get(cid), []).append(cid)
    acc: list[VerdictAccuracyRow] = []
    cmp: list[VerdictComparisonRow] = []
    counted: set[str] = set()
    for base, members in groups.items():
        for i in range(0, len(members), FULL_CHUNK):
            chunk = members[i : i + FULL_CHUNK]
            configs = load_configurations(con, [*chunk, *([base] if base else [])])
            for cid in [*chunk, *([base] if base else [])]:
                if cid in configs and cid not in counted:
                    counted.add(cid)
                    acc += accuracy_rows(configs[cid])
            if base is not None:
                cmp += [
                    row for cid in chunk for row in comparison_rows(configs[cid], configs[base], delta=DEFAULT_DELTA)
                ]
    adjust_across_configurations(cmp)
    state = _state(current, {cid: n for cid, (_, n) in entries.items()}, baselines)
    return acc, cmp, state, f"full: {len(entries)} configurations, {len(baselines)} comparisons"


def _incremental(
    con: duckdb.DuckDBPyConnection, current: dict[str, tuple[dict[str, Any], str]], state: dict[str, Any]
) -> tuple[
    list[VerdictAccuracyRow], list[VerdictComparisonRow], dict[str, Any], str, tuple[list[str], list[str], list[str]]
]:
    """The rows to write and what to delete first: (dirty configurations: their accuracy rows;
    affected configurations: their comparison rows; baselines whose average families are rewritten)."""
    known: dict[str, dict[str, Any]] = state["configs"]
    changed = sorted(cid for cid, (_, s) in current.items() if (known.get(cid) or {}).get("sig") != s)
    dirty = set(changed) | (set(known) - set(current))  # changed, added or gone
    loaded = load_configurations(con, changed) if changed else {}
    n_runs = {cid: int((known.get(cid) or {}).get("n_runs", 0)) for cid in current if cid not in dirty}
    n_runs.update({cid: len(loaded[cid].runs) if cid in loaded else 0 for cid in changed})
    # the default baselines of every configuration, from the kept counts: adding runs to one direct
    # configuration can make it another configuration's baseline
    baselines = baselines_of({cid: (current[cid][0], n) for cid, n in n_runs.items() if n > 0})
    before: dict[str, str] = {str(k): str(v) for k, v in state["baselines"].items()}
    affected = sorted(
        cid
        for cid in set(before) | set(baselines)
        if cid in dirty or before.get(cid) != baselines.get(cid) or baselines.get(cid) in dirty
    )
    pairs = [(cid, baselines[cid]) for cid in affected if cid in baselines]
    missing = sorted({c for pair in pairs for c in pair} - set(loaded))
    if missing:
        loaded.update(load_configurations(con, missing))
    acc = [row for cid in changed if cid in loaded for row in accuracy_rows(loaded[cid])]
    cmp = [row for cid, base in pairs for row in comparison_rows(loaded[cid], loaded[base], delta=DEFAULT_DELTA)]
    # Holm over the configurations compared with one baseline (the averages): the families the
    # new or removed rows belong to, adjusted again with the kept rows' raw p-values
    families = sorted({baselines[c] for c in affected if c in baselines} | {before[c] for c in affected if c in before})
    kept: list[VerdictComparisonRow] = []
    if families:
        found = con.execute(
            "SELECT * FROM verdict_comparison WHERE list_contains(?, baseline_id) AND list_contains(?, lang) "
            "AND NOT list_contains(?, config_id)",
            [families, list(AVERAGES.values()), affected],
        )
        names = [d[0] for d in found.description or ()]
        kept = [cast(VerdictComparisonRow, dict(zip(names, row))) for row in found.fetchall()]
    adjust_across_configurations([*kept, *cmp])
    done = f"incremental: {len(changed)} of {len(current)} configurations, {len(pairs)} comparisons"
    return acc, [*cmp, *kept], _state(current, n_runs, baselines), done, (sorted(dirty), affected, families)


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[VerdictAccuracyRow] | list[VerdictComparisonRow]
) -> None:
    if not rows:
        return
    con.register("_xcost_verdict", pa.Table.from_pylist(rows, schema=schema.arrow_schema(table)))
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _xcost_verdict")
    finally:
        con.unregister("_xcost_verdict")


def compare_to(
    con: duckdb.DuckDBPyConnection,
    baseline_id: str | None,
    delta: float = DEFAULT_DELTA,
    config_ids: Iterable[str] | None = None,
) -> list[VerdictComparisonRow]:
    """Comparison rows of every configuration (or ``config_ids``) against another baseline, on
    demand; ``baseline_id`` None: each against its default baseline (at another ``delta`` than
    the materialised one)."""
    configs = load_configurations(con)
    wanted = set(config_ids) if config_ids is not None else None
    if baseline_id is None:
        pairs = [(c, b) for c, b in default_baseline(configs).items() if wanted is None or c in wanted]
        return _comparisons(configs, pairs, delta)
    if baseline_id not in configs:
        raise StoreError(
            f"no succeeded configuration {baseline_id!r} to compare with; "
            f'`xcost-tui sql "SELECT config_id, label FROM configurations"` lists them'
        )
    pairs = [(cid, baseline_id) for cid in configs if cid != baseline_id and (wanted is None or cid in wanted)]
    return _comparisons(configs, pairs, delta)
