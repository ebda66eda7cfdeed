"""Coverage of the verdict's 95% intervals (issue 16, item 3): simulated predictions with a known truth.

    python benchmarks/bench_coverage.py --path direct                      # the full grid, in memory
    python benchmarks/bench_coverage.py --seeds 3 --draws 5 --seed-sd 0.3 --draw-sd 0.15 --items 100
    python benchmarks/bench_coverage.py --path store ...                   # through run directories + ingest

Predictions come from a logit model. For configuration ``c``, language ``l``, item ``i``, training
seed ``s`` and shot draw ``d``:

    P(correct) = sigmoid(mu[c, l] + u[i, l] + a[c, s] + b[s, d, l] + e[run, i, l])

- ``u``: item effect, SD ``--item-sd`` (1.5), shared by every run and configuration of a language.
  XCOPA items of one idx are translations of one COPA item, so the XCOPA languages' item effects
  are correlated (``--item-corr``, 0.5); English (COPA validation: other items) is independent.
- ``a``: training-seed effect, SD ``--seed-sd``, shared by the languages of a run. The two
  configurations train with the same seeds 0..S-1, and their seed effects of one seed are
  correlated (``--seed-corr``, 0.5), so the verdict's pairing by seed is exercised.
- ``b``: shot-draw effect of the few-shot arm, SD ``--draw-sd``, nested in the seed, one per
  language (each language's few-shot phase fine-tunes on its own k shots).
- ``e``: run × item noise, SD ``--noise-sd`` (0.5): with one draw per seed, the seed × item interaction.

Two configurations per replication: ``direct`` (S seeds, one run each; the few-shot arm's default
baseline) and ``few-shot`` (S seeds × D draws; with D = 1 another fine-tuned arm on the same
seeds). Both evaluate English and ``--langs`` (three XCOPA languages by default).

The truth is what the intervals estimate: the expected accuracy over new seeds, draws and items,
E[sigmoid(mu + Z)] with Z ~ N(0, total variance), by Gauss–Hermite quadrature; the average over
the XCOPA languages (the verdict's ``avg`` row) is the mean of theirs, and the paired difference
is the difference of the two arms' truths. A replication covers when ci_low <= truth <= ci_high.

Paths:
- ``store`` (the real one): writes run directories as docs/run-directory.md says a job writes
  them (spec.json, status.json, events.jsonl with run_start / eval_result / run_end,
  predictions.jsonl), ingests them with ``store.ingest.ingest`` (what ``xcost-tui ingest`` calls)
  and reads ``verdict_accuracy`` and ``verdict_comparison`` with DuckDB. Many replications share
  one store (``--reps-per-store``): each replication is its own "model" (``coverage-r00042``), and
  the model is part of both the configuration id and the baseline key, so a replication's few-shot
  arm is compared with its own direct arm only.
- ``direct``: the same simulated matrices handed to the store's own functions in memory
  (``verdict_tables.Configuration`` / ``RunItems`` → ``accuracy_rows`` and ``comparison_rows``),
  without run directories: the same intervals, far faster (tests/benchmarks/test_bench_coverage.py
  checks the two paths agree).

Output: ``--out`` CSV (one row per cell × interval × language: coverage, its Monte-Carlo standard
error, mean half-width, mean error of the estimate) and the markdown table beside it (``.md``),
also printed. Coverage is not a timing, so the machine being busy cannot bias it; only the
seconds per replication (an estimate of what the full grid costs) go through ``Contention``.
Every replication draws fresh item, seed, draw and noise effects from a generator seeded by
(``--seed``, the cell, the replication), so a cell's numbers do not depend on which other cells ran.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _quiet import Contention  # noqa: E402
from numpy.polynomial.hermite_e import hermegauss  # noqa: E402

from xcost_tui import XCOPA_LANGS  # noqa: E402
from xcost_tui.rundir import (  # noqa: E402
    EvalResult,
    EventWriter,
    RunDir,
    RunEnd,
    RunStart,
    RunStatus,
    StoreLayout,
    update_status,
    write_json_atomic,
)
from xcost_tui.rundir.records import PREDICTION_COLUMNS  # noqa: E402
from xcost_tui.spec import RunSpec  # noqa: E402
from xcost_tui.stats import bootstrap  # noqa: E402
from xcost_tui.store import verdict_tables  # noqa: E402

ARMS = ("direct", "few-shot")
BASELINE, TREATED = ARMS
ENGLISH = verdict_tables.ENGLISH
AVG = verdict_tables.AVERAGES["evaluated"]  # the verdict's average over the evaluated XCOPA languages
TARGETS = ("acc:direct", "acc:few-shot", "diff")  # a configuration's accuracy (each arm), the paired difference
FEW_SHOT_K = 16
LEVEL = 0.95
T0 = 1_700_000_000.0

# ---- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One cell of the grid."""

    seeds: int
    draws: int
    seed_sd: float
    draw_sd: float
    items: int

    def describe(self) -> str:
        return f"S={self.seeds} D={self.draws} seed SD {self.seed_sd} draw SD {self.draw_sd} N={self.items}"


@dataclass(frozen=True)
class Model:
    """What every cell shares: languages, item and noise SDs, correlations, the arms' logits."""

    langs: tuple[str, ...] = ("it", "sw", "zh")
    item_sd: float = 1.5
    item_corr: float = 0.5
    noise_sd: float = 0.5
    seed_corr: float = 0.5
    en_logit: float = 1.2  # English COPA: ~70% for the baseline
    xcopa_logits: tuple[float, ...] = (0.6, 0.3, 0.0)  # cycled over --langs: ~60%, 55%, 50% + spread
    few_shot_gain: float = 0.15  # logits added to every language by the few-shot arm

    def all_langs(self) -> list[str]:
        return [ENGLISH, *self.langs]

    def mu(self, arm: str, lang: str) -> float:
        base = self.en_logit if lang == ENGLISH else self.xcopa_logits[self.langs.index(lang) % len(self.xcopa_logits)]
        return base + (self.few_shot_gain if arm == TREATED else 0.0)


def expected_accuracy(mu: float, sd: float, nodes: int = 80) -> float:
    """E[sigmoid(mu + Z)], Z ~ N(0, sd²): Gauss–Hermite (probabilists' weight exp(-x²/2))."""
    x, w = hermegauss(nodes)
    return float(np.sum(w / (1.0 + np.exp(-(mu + sd * x)))) / math.sqrt(2 * math.pi))


def truths(cell: Cell, model: Model) -> dict[tuple[str, str], float]:
    """(target, lang) -> the truth, for every language and the average over the XCOPA languages."""
    out: dict[tuple[str, str], float] = {}
    for arm in ARMS:
        var = model.item_sd**2 + cell.seed_sd**2 + model.noise_sd**2 + (cell.draw_sd**2 if arm == TREATED else 0.0)
        for lang in model.all_langs():
            out[(f"acc:{arm}", lang)] = expected_accuracy(model.mu(arm, lang), math.sqrt(var))
        out[(f"acc:{arm}", AVG)] = float(np.mean([out[(f"acc:{arm}", lang)] for lang in model.langs]))
    for lang in [*model.all_langs(), AVG]:
        out[("diff", lang)] = out[(f"acc:{TREATED}", lang)] - out[(f"acc:{BASELINE}", lang)]
    return out


@dataclass
class SimRun:
    seed: int
    shot_seed: int  # -1: the arm draws no shots
    correct: dict[str, np.ndarray] = field(default_factory=dict)  # lang -> (items,) bool


Replication = dict[str, list[SimRun]]  # arm -> runs, ordered by (seed, shot seed)


def rng_for(seed: int, cell: Cell, rep: int) -> np.random.Generator:
    key = [seed, cell.seeds, cell.draws, round(cell.seed_sd * 1000), round(cell.draw_sd * 1000), cell.items, rep]
    return np.random.default_rng(np.random.SeedSequence(key))


def simulate(cell: Cell, model: Model, rng: np.random.Generator) -> Replication:
    """One replication: fresh item, seed, draw and noise effects."""
    n, langs = cell.items, model.all_langs()
    shared = rng.standard_normal(n)  # the COPA item behind the XCOPA translations of one idx
    u = {ENGLISH: model.item_sd * rng.standard_normal(n)}
    for lang in model.langs:
        u[lang] = model.item_sd * (
            math.sqrt(model.item_corr) * shared + math.sqrt(1 - model.item_corr) * rng.standard_normal(n)
        )
    z_base, z_own = rng.standard_normal(cell.seeds), rng.standard_normal(cell.seeds)
    seed_effect = {
        BASELINE: cell.seed_sd * z_base,
        TREATED: cell.seed_sd * (model.seed_corr * z_base + math.sqrt(1 - model.seed_corr**2) * z_own),
    }
    out: Replication = {BASELINE: [], TREATED: []}
    for arm in ARMS:
        draws = range(cell.draws) if arm == TREATED else [-1]
        for s in range(cell.seeds):
            for d in draws:
                run = SimRun(s, d)
                for lang in langs:
                    draw = cell.draw_sd * rng.standard_normal() if arm == TREATED else 0.0
                    logit = model.mu(arm, lang) + u[lang] + seed_effect[arm][s] + draw
                    logit = logit + model.noise_sd * rng.standard_normal(n)
                    run.correct[lang] = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
                out[arm].append(run)
    return out


# ---- the two paths ----------------------------------------------------------------------------

Intervals = dict[tuple[str, str], tuple[float, float, float]]  # (target, lang) -> (estimate, low, high)


def spec_of(arm: str, rep: int, run: SimRun, model: Model) -> RunSpec:
    """A run's spec: each replication is its own model, so its arms pair only with each other."""
    few = arm == TREATED
    return RunSpec(
        method=arm,
        model=f"coverage-r{rep:05d}",
        seed=run.seed,
        langs=list(model.langs),
        few_shot_k=FEW_SHOT_K if few else None,
        shot_seed=run.shot_seed if few else None,
    )


def _collect(acc_rows: Iterable[Any], cmp_rows: Iterable[Any], arm_of: dict[str, str]) -> Intervals:
    out: Intervals = {}
    for r in acc_rows:
        out[(f"acc:{arm_of[r['config_id']]}", r["lang"])] = (r["accuracy"], r["ci_low"], r["ci_high"])
    for r in cmp_rows:
        out[("diff", r["lang"])] = (r["diff"], r["ci_low"], r["ci_high"])
    return out


def _configurations(rep: int, sim: Replication, model: Model) -> dict[str, verdict_tables.Configuration]:
    """The simulated arms as the store's in-memory configurations (what ``load_configurations`` builds)."""
    configs: dict[str, verdict_tables.Configuration] = {}
    for arm, runs in sim.items():
        spec = spec_of(arm, rep, runs[0], model)
        cfg = verdict_tables.Configuration(spec.configuration_id(), spec.to_dict())
        for run in runs:
            items = {lang: (np.arange(len(c), dtype=np.int64), c.astype(np.float64)) for lang, c in run.correct.items()}
            cfg.runs.append(
                verdict_tables.RunItems(spec_of(arm, rep, run, model).run_id(), run.seed, run.shot_seed, items)
            )
        configs[arm] = cfg
    return configs


def direct_intervals(rep: int, sim: Replication, model: Model) -> Intervals:
    """The verdict's rows computed in memory from the simulated matrices."""
    configs = _configurations(rep, sim, model)
    arm_of = {cfg.config_id: arm for arm, cfg in configs.items()}
    acc = [row for cfg in configs.values() for row in verdict_tables.accuracy_rows(cfg)]
    cmp = verdict_tables.comparison_rows(configs[TREATED], configs[BASELINE])
    return _collect(acc, cmp, arm_of)


def bootstrap_intervals(rep: int, sim: Replication, model: Model) -> Intervals:
    """The estimator before issue 16 on the same matrices (``stats/bootstrap.py``, kept for this
    comparison): a configuration's runs resampled as independent rows with the items, and every
    few-shot run paired with the direct run of its seed (5 × S "pairs" from S direct runs)."""
    configs = _configurations(rep, sim, model)
    avg = verdict_tables.AVERAGES["evaluated"]

    def matrix(cfg: verdict_tables.Configuration, name: str, runs: Any = None) -> Any:
        got = cfg.average("evaluated", runs) if name == avg else cfg.matrix(name, runs)
        if got is None:
            raise RuntimeError(f"replication {rep}: no {name} matrix")
        return got[0]

    out: Intervals = {}
    for arm, cfg in configs.items():
        for name in [*cfg.langs(), avg]:
            iv = bootstrap.accuracy_interval(matrix(cfg, name), seed=rep)
            out[(f"acc:{arm}", name)] = (iv.estimate, iv.low, iv.high)
    a, b = configs[TREATED], configs[BASELINE]
    direct_of = {r.seed: r for r in b.runs}
    ra = [r for r in a.runs if r.seed in direct_of]
    rb = [direct_of[r.seed] for r in ra]
    for name in [*a.langs(), avg]:
        d = bootstrap.paired_difference(matrix(a, name, ra), matrix(b, name, rb), seed=rep)
        out[("diff", name)] = (d.diff, d.low, d.high)
    return out


def write_run_dir(store: Path, spec: RunSpec, run: SimRun, t0: float) -> str:
    """One succeeded run directory, as the job writes it (docs/run-directory.md), with only what the
    verdict reads: the spec, the final status, run_start / eval_result / run_end events and every
    evaluated item's prediction."""
    run_id = spec.run_id()
    files = RunDir(StoreLayout(store).runs / run_id)
    files.path.mkdir(parents=True, exist_ok=True)
    write_json_atomic(files.spec, spec.to_dict())
    evals = [(f"eval:{lang}", "copa" if lang == ENGLISH else "xcopa", lang) for lang in run.correct]
    lines = []
    events = EventWriter(files.events)
    try:
        events.emit(RunStart(run_id, spec.to_dict(), {"device_type": "cpu"}, spec.phases_planned, t=t0))
        for k, (phase, task, lang) in enumerate(evals):
            split = "val" if lang == ENGLISH else "test"
            correct = run.correct[lang]
            for idx, ok in enumerate(correct.tolist()):
                label = idx % 2
                pred = label if ok else 1 - label
                values = (phase, task, lang, split, idx, pred, label, [1.0, 0.0] if pred == 0 else [0.0, 1.0], ok)
                lines.append(json.dumps(dict(zip(PREDICTION_COLUMNS, values))))
            n, right = len(correct), int(correct.sum())
            events.emit(EvalResult(phase, task, lang, split, right / n, n, right, t=t0 + 1 + k))
        events.emit(RunEnd(RunStatus.SUCCEEDED.value, t=t0 + 2 + len(evals)))
    finally:
        events.close()
    files.predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    update_status(files.path, RunStatus.SUCCEEDED, started=t0, ended=t0 + 2 + len(evals))
    return run_id


def store_intervals(batch: Sequence[tuple[int, Replication]], model: Model, work: Path) -> dict[int, Intervals]:
    """Writes the batch's replications as run directories of one fresh store, ingests them and reads
    the verdict tables back."""
    import duckdb  # deferred: the direct path never needs it

    from xcost_tui.store import db
    from xcost_tui.store.ingest import ingest

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    owner: dict[str, tuple[int, str]] = {}
    for rep, sim in batch:
        for arm, runs in sim.items():
            for j, run in enumerate(runs):
                spec = spec_of(arm, rep, run, model)
                owner[spec.configuration_id()] = (rep, arm)
                write_run_dir(work, spec, run, T0 + 100.0 * j)
    report = ingest(work)  # every run directory under <work>/runs, as `xcost-tui ingest --store <work>`
    if report.skipped or len(report.ingested) != sum(len(r) for _, s in batch for r in s.values()):
        raise RuntimeError(f"ingest skipped runs: {report.warnings[:5]}")
    con = duckdb.connect(str(db.db_path(work)), read_only=True)
    try:
        acc = con.execute("SELECT config_id, lang, accuracy, ci_low, ci_high FROM verdict_accuracy").fetchall()
        cmp = con.execute(
            "SELECT config_id, baseline_id, lang, diff, ci_low, ci_high FROM verdict_comparison"
        ).fetchall()
    finally:
        con.close()
    out: dict[int, Intervals] = {rep: {} for rep, _ in batch}
    for cid, lang, est, lo, hi in acc:
        rep, arm = owner[cid]
        out[rep][(f"acc:{arm}", lang)] = (est, lo, hi)
    for cid, base, lang, est, lo, hi in cmp:
        rep, arm = owner[cid]
        if owner[base] != (rep, BASELINE) or arm != TREATED:
            raise RuntimeError(f"configuration {cid} ({rep}, {arm}) was compared with {base} ({owner[base]})")
        out[rep][("diff", lang)] = (est, lo, hi)
    return out


# ---- coverage ---------------------------------------------------------------------------------


@dataclass
class Tally:
    truth: float
    n: int = 0
    covered: int = 0
    half_width: float = 0.0
    error: float = 0.0

    def add(self, est: float, low: float, high: float) -> None:
        self.n += 1
        self.covered += int(low <= self.truth <= high)
        self.half_width += (high - low) / 2
        self.error += est - self.truth

    @property
    def coverage(self) -> float:
        return self.covered / self.n if self.n else float("nan")

    @property
    def mc_se(self) -> float:
        """Monte-Carlo standard error of the coverage (binomial)."""
        p = self.coverage
        return math.sqrt(p * (1 - p) / self.n) if self.n else float("nan")


@dataclass
class CellResult:
    cell: Cell
    reps: int
    tallies: dict[tuple[str, str], Tally]
    seconds: float


def run_cell(
    cell: Cell,
    model: Model,
    reps: int,
    *,
    path: str = "direct",
    seed: int = 0,
    work: Path | None = None,
    reps_per_store: int = 100,
    progress: Callable[[int], None] | None = None,
) -> CellResult:
    truth = truths(cell, model)
    tallies = {key: Tally(value) for key, value in truth.items()}
    t0 = time.perf_counter()
    step = reps_per_store if path == "store" else 1
    done = 0
    for start in range(0, reps, step):
        batch = [(r, simulate(cell, model, rng_for(seed, cell, r))) for r in range(start, min(reps, start + step))]
        if path == "store":
            if work is None:
                raise ValueError("the store path needs a work folder")
            got = store_intervals(batch, model, work)
        else:
            estimate = bootstrap_intervals if path == "bootstrap" else direct_intervals
            got = {rep: estimate(rep, sim, model) for rep, sim in batch}
        for rep, _ in batch:
            for key, tally in tallies.items():
                if key not in got[rep]:
                    raise RuntimeError(f"replication {rep} of {cell.describe()}: no {key} row in the verdict")
                tally.add(*got[rep][key])
        done += len(batch)
        if progress is not None:
            progress(done)
    return CellResult(cell, reps, tallies, time.perf_counter() - t0)


# ---- output -----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "path",
    "seeds",
    "draws",
    "seed_sd",
    "draw_sd",
    "items",
    "reps",
    "target",
    "lang",
    "truth",
    "coverage",
    "mc_se",
    "mean_half_width",
    "mean_error",
    "note",
)


def note(cell: Cell) -> str:
    if cell.seeds == 1:
        return "S=1: the interval covers items only; seed variation is expected to be missed"
    return ""


def csv_rows(results: Sequence[CellResult], path: str) -> list[dict[str, Any]]:
    rows = []
    for res in results:
        c = res.cell
        for (target, lang), t in res.tallies.items():
            rows.append(
                {
                    "path": path,
                    "seeds": c.seeds,
                    "draws": c.draws,
                    "seed_sd": c.seed_sd,
                    "draw_sd": c.draw_sd,
                    "items": c.items,
                    "reps": res.reps,
                    "target": target,
                    "lang": lang,
                    "truth": round(t.truth, 6),
                    "coverage": round(t.coverage, 4),
                    "mc_se": round(t.mc_se, 4),
                    "mean_half_width": round(t.half_width / t.n, 5),
                    "mean_error": round(t.error / t.n, 5),
                    "note": note(c),
                }
            )
    return rows


def _lang_range(res: CellResult, target: str, langs: Sequence[str]) -> str:
    values = [res.tallies[(target, lang)].coverage for lang in langs]
    return f"{min(values):.3f}–{max(values):.3f}"


def markdown(results: Sequence[CellResult], model: Model, path: str) -> str:
    """One row per cell: each interval's coverage on the average (± its Monte-Carlo SE) and the
    range over the languages (English and the XCOPA ones)."""
    langs = model.all_langs()
    head = ["S", "draws", "seed SD", "draw SD", "N", "reps"]
    for target in TARGETS:
        head += [f"{target} avg", f"{target} per language"]
    head.append("note")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        c = res.cell
        row = [str(c.seeds), str(c.draws), f"{c.seed_sd:g}", f"{c.draw_sd:g}", str(c.items), str(res.reps)]
        for target in TARGETS:
            t = res.tallies[(target, AVG)]
            row += [f"{t.coverage:.3f} ± {t.mc_se:.3f}", _lang_range(res, target, langs)]
        row.append(note(c))
        lines.append("| " + " | ".join(row) + " |")
    langs_text = ", ".join(langs)
    return (
        f"Coverage of the verdict's 95% intervals ({path} path; languages {langs_text}; avg = the mean over "
        f"the XCOPA ones; target 93–98% where S >= 3; ± is the Monte-Carlo standard error)\n\n" + "\n".join(lines)
    )


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=_ints, default=[1, 3, 5, 10], help="training seeds per arm (list)")
    ap.add_argument("--draws", type=_ints, default=[1, 5], help="shot draws per seed of the few-shot arm (list)")
    ap.add_argument("--seed-sd", type=_floats, default=[0.0, 0.15, 0.3, 0.5], help="seed effect SD, logits (list)")
    ap.add_argument("--draw-sd", type=_floats, default=[0.0, 0.15, 0.3], help="draw effect SD, logits (list)")
    ap.add_argument("--items", type=_ints, default=[100, 500], help="items per language (list)")
    ap.add_argument("--reps", type=int, default=400, help="replications per cell")
    ap.add_argument("--langs", default="it,sw,zh", help="XCOPA languages besides English")
    ap.add_argument("--item-sd", type=float, default=Model.item_sd)
    ap.add_argument("--item-corr", type=float, default=Model.item_corr, help="item effects across XCOPA languages")
    ap.add_argument("--noise-sd", type=float, default=Model.noise_sd, help="run × item noise SD, logits")
    ap.add_argument("--seed-corr", type=float, default=Model.seed_corr, help="the two arms' effects of one seed")
    ap.add_argument("--seed", type=int, default=0, help="random seed of the simulation")
    ap.add_argument(
        "--path",
        choices=("store", "direct", "bootstrap"),
        default="store",
        help="store: run directories, ingest, the verdict tables; direct: the store's row functions in memory; "
        "bootstrap: the estimator before issue 16 (stats/bootstrap.py) on the same simulated data",
    )
    ap.add_argument("--reps-per-store", type=int, default=100, help="store path: replications per store")
    ap.add_argument("--work", default="bench-out/coverage-store", help="store path: scratch store (replaced)")
    ap.add_argument("--out", default="bench-out/coverage.csv", help="CSV; the markdown table goes beside it (.md)")
    args = ap.parse_args(argv)
    langs = tuple(x.strip() for x in args.langs.split(",") if x.strip())
    bad = [lang for lang in langs if lang not in XCOPA_LANGS]
    if bad:
        ap.error(f"not XCOPA languages: {', '.join(bad)}")
    model = Model(
        langs=langs,
        item_sd=args.item_sd,
        item_corr=args.item_corr,
        noise_sd=args.noise_sd,
        seed_corr=args.seed_corr,
    )
    # with one draw per seed the draw effect is confounded with the seed's: one cell, at the first draw SD
    cells = [
        Cell(*values)
        for values in itertools.product(args.seeds, args.draws, args.seed_sd, args.draw_sd, args.items)
        if values[1] > 1 or values[3] == args.draw_sd[0]
    ]
    results: list[CellResult] = []
    with Contention() as c:
        for k, cell in enumerate(cells, 1):
            t0 = time.perf_counter()
            shown = [0]

            def progress(done: int, k: int = k, cell: Cell = cell, t0: float = t0, shown: list[int] = shown) -> None:
                if done == args.reps or done - shown[0] >= max(1, args.reps // 10):  # about every 10%
                    shown[0] = done
                    print(
                        f"cell {k}/{len(cells)} {cell.describe()}: {done}/{args.reps} replications, "
                        f"{time.perf_counter() - t0:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )

            results.append(
                run_cell(
                    cell,
                    model,
                    args.reps,
                    path=args.path,
                    seed=args.seed,
                    work=Path(args.work),
                    reps_per_store=args.reps_per_store,
                    progress=progress,
                )
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(results, args.path))
    table = markdown(results, model, args.path)
    out.with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    print(table)
    print(f"\nwrote {out} and {out.with_suffix('.md')}")
    total = sum(r.seconds for r in results)
    per_rep = total / max(1, sum(r.reps for r in results))
    # Not a result about the verdict: what the grid costs, to plan a rerun (a timing, so labelled).
    print(c.label(f"{len(cells)} cells × {args.reps} replications in {total:.0f} s ({per_rep * 1000:.1f} ms each)"))
    print(c.verdict() + "; coverage is not a timing: contention cannot change it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
