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
English again), succeeded runs only. A configuration's runs are ordered by (seed, shot seed);
runs of two configurations are paired by equal seed and, when both draw shots, equal shot seed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .. import XCOPA_LANGS
from ..accuracy import CHANCE, FORM_COLUMNS, seen_langs
from ..errors import StoreError
from ..methods import METHOD_TABLE
from ..stats.bootstrap import ItemWeights, accuracy_interval, indistinguishable_from_chance, paired_difference
from ..stats.significance import holm, mcnemar_exact
from ..stats.thresholds import DEFAULT_DELTA, DEFAULT_RESAMPLES
from . import db, schema
from .rows import VerdictAccuracyRow, VerdictComparisonRow

# "languages" of the verdict tables besides the XCOPA ones: English COPA validation, and the
# average forms of accuracy.py (their names there are the leaderboard's column names).
ENGLISH = "en"
AVERAGES = {form: column.replace("_accuracy", "") for form, column in FORM_COLUMNS.items()}  # evaluated -> avg, ...
RESAMPLES = DEFAULT_RESAMPLES
ITEM_SEED = 20_260_101  # one fixed draw of item weights per test set: the same in every refresh

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

PREDICTIONS_SQL = """
WITH latest AS (
  SELECT run_id, lang, arg_max(phase, coalesce(t, 0)) AS phase FROM evals WHERE accuracy IS NOT NULL GROUP BY ALL
),
sel AS (
  SELECT r.config_id, r.run_id, coalesce(r.seed, 0) AS seed, coalesce(r.shot_seed, -1) AS shot_seed, p.lang,
         p.idx, p.correct
  FROM predictions p
  JOIN latest l ON l.run_id = p.run_id AND l.lang = p.lang AND l.phase = p.phase
  JOIN runs r ON r.run_id = p.run_id
  WHERE r.status = 'succeeded' AND r.config_id IS NOT NULL AND p.label >= 0 {where}
)
SELECT dense_rank() OVER (ORDER BY config_id, seed, shot_seed, run_id, lang) - 1 AS slice,
       config_id, run_id, seed, shot_seed, lang, idx, correct::DOUBLE AS correct
FROM sel ORDER BY config_id, seed, shot_seed, run_id, lang, idx
"""


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
    where, params = "", []
    if config_ids is not None:
        where, params = "AND list_contains(?, r.config_id)", [list(config_ids)]
    cols = con.execute(PREDICTIONS_SQL.format(where=where), params).fetchnumpy()
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


def _is_baseline(spec: dict[str, Any]) -> bool:
    entry = METHOD_TABLE.get(str(spec.get("method")))
    return bool(entry and entry.default_baseline)


def default_baseline(configs: dict[str, Configuration]) -> dict[str, str]:
    """config id -> the id of its baseline: direct fine-tuning of the same model and recipe (the
    one with most runs when several qualify). Direct configurations have none."""
    directs: dict[str, list[Configuration]] = {}
    for cfg in configs.values():
        if _is_baseline(cfg.spec):
            directs.setdefault(_baseline_key(cfg.spec), []).append(cfg)
    out = {}
    for cid, cfg in configs.items():
        if _is_baseline(cfg.spec):
            continue
        candidates = directs.get(_baseline_key(cfg.spec), [])
        if candidates:
            out[cid] = max(candidates, key=lambda c: (len(c.runs), c.config_id)).config_id
    return out


def pair_runs(a: Configuration, b: Configuration) -> list[tuple[RunItems, RunItems]]:
    """Runs of equal seed (and equal shot seed when both configurations draw shots)."""
    by_key: dict[tuple[int, int], RunItems] = {}
    b_draws = any(r.shot_seed >= 0 for r in b.runs)
    for r in b.runs:
        by_key.setdefault((r.seed, r.shot_seed if b_draws else -1), r)
    pairs = []
    for r in a.runs:
        key = (r.seed, r.shot_seed if b_draws else -1)
        if key in by_key:
            pairs.append((r, by_key[key]))
    return pairs


# ---- the numbers --------------------------------------------------------------------------------


class _Weights:
    """One draw of item weights per test-set size, shared by every configuration (``ItemWeights``)."""

    def __init__(self, n_resamples: int = RESAMPLES):
        self.n_resamples = n_resamples
        self._cache: dict[tuple[str, int], ItemWeights] = {}

    def __call__(self, lang: str, n_items: int) -> ItemWeights:
        key = (lang, n_items)
        if key not in self._cache:
            self._cache[key] = ItemWeights.draw(n_items, self.n_resamples, seed=ITEM_SEED + n_items)
        return self._cache[key]


def _avg_name(form: str) -> str:
    return AVERAGES[form]


def accuracy_rows(cfg: Configuration, weights: _Weights) -> list[VerdictAccuracyRow]:
    rows: list[VerdictAccuracyRow] = []
    targets: list[tuple[str, tuple[NDArray[np.float64], NDArray[np.int64]] | None]] = [
        (lang, cfg.matrix(lang)) for lang in cfg.langs()
    ]
    targets += [(_avg_name(form), cfg.average(form)) for form in AVERAGES]
    for name, got in targets:
        if got is None:
            continue
        m, items = got
        iv = accuracy_interval(m, items=weights(name, len(items)), seed=len(rows))
        rows.append(
            VerdictAccuracyRow(
                config_id=cfg.config_id,
                lang=name,
                n_runs=m.shape[0],
                n_seeds=len({r.seed for r in cfg.runs}),
                n_items=m.shape[1],
                accuracy=iv.estimate,
                ci_low=iv.low,
                ci_high=iv.high,
                seed_variation=iv.seed_variation,
                chance=indistinguishable_from_chance(iv),
            )
        )
    return rows


def comparison_rows(
    a: Configuration, b: Configuration, weights: _Weights, delta: float = DEFAULT_DELTA
) -> list[VerdictComparisonRow]:
    """A vs baseline B per language and average form: paired bootstrap, Holm over the XCOPA
    languages, McNemar's exact test per seed pair."""
    pairs = pair_runs(a, b)
    if not pairs:
        return []
    ra, rb = [p[0] for p in pairs], [p[1] for p in pairs]
    rows: list[VerdictComparisonRow] = []
    names = [lang for lang in a.langs() if lang in b.langs()]
    for name in [*names, *(_avg_name(f) for f in AVERAGES)]:
        form = next((f for f, n in AVERAGES.items() if n == name), None)
        if form is None:
            ga, gb = a.matrix(name, runs=ra), b.matrix(name, runs=rb)
        else:
            both = [lang for lang in names if lang != ENGLISH]
            ga, gb = a.average(form, runs=ra, within=both), b.average(form, runs=rb, within=both)
        if ga is None or gb is None:
            continue
        common = np.intersect1d(ga[1], gb[1], assume_unique=True)
        if not len(common):
            continue
        ma = ga[0][:, np.searchsorted(ga[1], common)]
        mb = gb[0][:, np.searchsorted(gb[1], common)]
        d = paired_difference(ma, mb, items=weights(name, len(common)), delta=delta, seed=len(rows))
        mcnemar = [mcnemar_exact(x.astype(bool), y.astype(bool)) for x, y in zip(ma, mb)] if form is None else []
        rows.append(
            VerdictComparisonRow(
                config_id=a.config_id,
                baseline_id=b.config_id,
                lang=name,
                n_pairs=d.n_pairs,
                n_items=d.n_items,
                diff=d.diff,
                ci_low=d.low,
                ci_high=d.high,
                equiv_low=d.equiv_low,
                equiv_high=d.equiv_high,
                p_value=d.p_value,
                p_holm=None,
                mcnemar_p=mcnemar,
            )
        )
    xcopa = [r for r in rows if r["lang"] in XCOPA_LANGS]
    for r, p in zip(xcopa, holm([r["p_value"] for r in xcopa])):
        r["p_holm"] = p
    return rows


# ---- the store ----------------------------------------------------------------------------------

SIGNATURE_SQL = (
    "SELECT md5(coalesce(string_agg(run_id || ':' || coalesce(source_sig, ''), ',' ORDER BY run_id), '')) "
    "FROM runs WHERE status = 'succeeded'"
)


def refresh(con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
    """Recomputes the verdict tables when the succeeded runs changed; True when it did."""
    found = con.execute(SIGNATURE_SQL).fetchone()
    assert found is not None  # an aggregate: always one row
    sig = found[0]
    old = con.execute("SELECT value FROM meta WHERE key = 'verdict_sig'").fetchall()
    if not force and old and old[0][0] == sig:
        return False
    t0 = time.perf_counter()
    configs = load_configurations(con)
    weights = _Weights()
    acc = [row for cfg in configs.values() for row in accuracy_rows(cfg, weights)]
    cmp: list[VerdictComparisonRow] = []
    for cid, base in default_baseline(configs).items():
        cmp += comparison_rows(configs[cid], configs[base], weights)
    with db.transaction(con):
        con.execute("DELETE FROM verdict_accuracy")
        con.execute("DELETE FROM verdict_comparison")
        _insert(con, "verdict_accuracy", acc)
        _insert(con, "verdict_comparison", cmp)
        con.execute("DELETE FROM meta WHERE key IN ('verdict_sig', 'verdict_seconds')")
        con.execute(
            "INSERT INTO meta VALUES ('verdict_sig', ?), ('verdict_seconds', ?)",
            [sig, f"{time.perf_counter() - t0:.3f}"],
        )
    return True


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
    baseline_id: str,
    delta: float = DEFAULT_DELTA,
    config_ids: Iterable[str] | None = None,
) -> list[VerdictComparisonRow]:
    """Comparison rows of every configuration (or ``config_ids``) against another baseline, on demand."""
    configs = load_configurations(con)
    if baseline_id not in configs:
        raise StoreError(
            f"no succeeded configuration {baseline_id!r} to compare with; "
            f'`xcost-tui sql "SELECT config_id, label FROM configurations"` lists them'
        )
    weights = _Weights()
    out: list[VerdictComparisonRow] = []
    for cid, cfg in configs.items():
        if cid == baseline_id or (config_ids is not None and cid not in set(config_ids)):
            continue
        out += comparison_rows(cfg, configs[baseline_id], weights, delta)
    return out
