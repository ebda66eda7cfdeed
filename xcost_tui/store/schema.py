"""The DuckDB schema of the results store: tables, views and the schema version.

Plain data and SQL text (no duckdb import): ``docs/schema.md`` describes every column. Each
table is defined once, as its list of (column, SQL type); its Arrow schema, for the tables the
store builds in Python and inserts in bulk, is derived from that list (``arrow_schema``). Bump
``SCHEMA_VERSION`` whenever a table or view changes shape; a store from another version is
refused by readers and rebuilt from the run directories by ingest.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .. import XCOPA_LANGS
from ..accuracy import AVERAGE_FORMS, FORM_COLUMNS, sql_average, sql_model_family, sql_target_langs
from ..methods import METHOD_TABLE, UNTRAINED_METHODS
from ..rundir.kinds import TRAINING_KINDS as _TRAINING_KINDS
from ..rundir.records import MT_SCORE_COLUMNS, TRANSLATION_COLUMNS
from ..stats.student_t import t975_sql
from ..stats.thresholds import BREAK_EVEN_MEASURES, DEFAULT_ALPHA, SAME_QUERY_COST

if TYPE_CHECKING:
    import pyarrow as pa

# 2: samples.gpu_uuid; runs.run_dir relative to the store. 3: data_sources, runs' data/model provenance;
# 4: recipes, shot_seed, collapse, the average-accuracy forms. 5: non-pad FLOPs and mfu_padded, memory
# increase over the phase's start, the process lifetime peak (phases and runs), inference memory as the increase;
# configurations, full-pipeline/own/intermediate/per-query costs, the verdict tables, learning curves;
# executors (SLURM job id, state, reason, accounting), CPU share, contention (phases.contended and its
# evidence, samples' other processes, leaderboard.contended / contended_phases); the leaderboard's n_langs_planned and
# complete (a succeeded run that evaluated every planned language: the rankings of the app);
# icl and translate-test: per-query cost figures of phases (queries, prompt/continuation/context tokens,
# query_flops), the leaderboard's query_* columns with translation counted, runs.translations/model_dtype,
# the translations table; forecasts, forecast_error. 6: the leaderboard's common_accuracy and
# n_common_langs, the configurations view's restarted_runs and single_draw, distinguishing labels;
# the verdict tables of the design (issue 16: clusters, generalized intervals, Holm families,
# the equivalence test, seed and draw SDs) and the configurations' cost spread. 7 (issue 17): runs.warmup_s,
# phases.flops_check_ratio, curve:<phase> phases (kind 'curve') and the leaderboard's curve_* and warmup_s.
# 8 (issue 18): warm workers: the workers table, runs.model_load_s, model_cached, worker_id, worker_index.
# 9 (issue 19): runs.icl_prompt; translate-test's MT quality, the mt_quality table (chrF, BLEU per language and
# reference); the few-shot protocol: runs.lr_sweep, annotated_examples, annotation_hours_per_example,
# annotation_hours (and the leaderboard's and configurations' annotation columns); phase kind few-shot-trial.
# 10 (issue 20): predictions.idx is VARCHAR: an item's id as recorded, a number's digits or a task's
# string id (CommonsenseQA, CosmosQA), which a BIGINT column read as NULL.
# 11 (issue 20): resumable training phases: phases.lost_wall_s, lost_steps, lost_flops, checkpoint_s; runs.resumes, lost_wall_s.
SCHEMA_VERSION = 11


# ---- cost figures (docs/run-directory.md, "costs") -------------------------------------------
# (name, SQL type). Counts are BIGINT, everything else DOUBLE; FLOPs are DOUBLE (they pass 2**63).
COST_FIGURES: tuple[tuple[str, str], ...] = (
    ("wall_s", "DOUBLE"),
    ("cpu_s", "DOUBLE"),
    ("device_hours", "DOUBLE"),
    ("devices", "BIGINT"),
    ("examples", "BIGINT"),
    ("steps", "BIGINT"),
    ("tokens_nonpad", "BIGINT"),
    ("tokens_padded", "BIGINT"),
    ("padding_efficiency", "DOUBLE"),
    ("flops_analytic", "DOUBLE"),
    ("flops_measured", "DOUBLE"),
    ("flops_analytic_nonpad", "DOUBLE"),
    ("peak_mem_bytes", "BIGINT"),
    ("peak_mem_increase_bytes", "BIGINT"),
    ("lifetime_peak_mem_bytes", "BIGINT"),
    ("energy_j", "DOUBLE"),
    ("examples_per_s", "DOUBLE"),
    ("tokens_per_s", "DOUBLE"),
    ("mfu", "DOUBLE"),
    ("mfu_padded", "DOUBLE"),
    ("latency_p50_s", "DOUBLE"),
    ("latency_p95_s", "DOUBLE"),
    ("latency_mean_s", "DOUBLE"),
    ("latency_n", "BIGINT"),
    ("throughput_examples_per_s", "DOUBLE"),
    ("other_cpu_s", "DOUBLE"),
    ("other_gpu_processes", "BIGINT"),
    # per query (docs/methods.md, "Per-query cost"): icl's prompts, translate-test's translations
    ("queries", "BIGINT"),
    ("prompt_tokens", "BIGINT"),
    ("continuation_tokens", "BIGINT"),
    ("context_tokens_mean", "DOUBLE"),
    ("context_tokens_p50", "DOUBLE"),
    ("context_tokens_p95", "DOUBLE"),
    ("context_tokens_max", "BIGINT"),
    ("query_flops", "DOUBLE"),
    # a resumed training phase (job/resume.py): the work its interruptions lost (inside wall_s and
    # device_hours, which count every attempt), and the time its resume checkpoints took to write
    ("lost_wall_s", "DOUBLE"),
    ("lost_steps", "BIGINT"),
    ("lost_flops", "DOUBLE"),
    ("checkpoint_s", "DOUBLE"),
)
# Figures that also get ``<name>_source`` and ``<name>_reason`` columns in ``phases``.
SOURCED_FIGURES: tuple[str, ...] = (
    "wall_s",
    "cpu_s",
    "device_hours",
    "flops_analytic",
    "flops_measured",
    "peak_mem_bytes",
    "peak_mem_increase_bytes",
    "energy_j",
    "mfu",
    "latency_p50_s",
    "query_flops",
)
TRAINING_KINDS = tuple(k.value for k in _TRAINING_KINDS)

# ---- tables ----------------------------------------------------------------------------------
# (name, SQL type) per column, in order. The ingest builds Arrow tables with these columns.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "runs": (
        ("run_id", "VARCHAR"),
        ("run_dir", "VARCHAR"),
        ("name", "VARCHAR"),
        ("method", "VARCHAR"),
        ("model", "VARCHAR"),
        ("seed", "BIGINT"),
        ("intermediate", "VARCHAR[]"),
        ("intermediate_mode", "VARCHAR"),
        ("k", "BIGINT"),
        ("shot_seed", "BIGINT"),
        ("recipe", "VARCHAR"),
        ("intermediate_recipe", "VARCHAR"),
        ("few_shot_recipe", "VARCHAR"),
        ("batch_size", "BIGINT"),
        ("collapse_retries", "BIGINT"),
        ("collapsed", "BOOLEAN"),
        ("target_attempts", "BIGINT"),
        ("resumes", "BIGINT"),  # re-launches that continued from a resume checkpoint (job/resume.py)
        ("lost_wall_s", "DOUBLE"),  # the time those interruptions lost (the resumed events' lost_s)
        ("peak_mem_lifetime_bytes", "BIGINT"),
        ("peak_mem_lifetime_source", "VARCHAR"),
        ("warmup_s", "DOUBLE"),
        ("langs", "VARCHAR[]"),
        ("target", "VARCHAR"),
        ("eval_split", "VARCHAR"),
        ("init_from", "VARCHAR"),
        ("status", "VARCHAR"),
        ("error", "VARCHAR"),
        ("failed_phase", "VARCHAR"),
        ("current_phase", "VARCHAR"),
        ("pid", "BIGINT"),
        ("executor", "VARCHAR"),
        ("executor_job_id", "VARCHAR"),
        ("executor_state", "VARCHAR"),
        ("executor_reason", "VARCHAR"),
        ("executor_elapsed_s", "DOUBLE"),
        ("executor_gpus", "BIGINT"),
        ("node", "VARCHAR"),
        ("cpu_threads", "BIGINT"),
        ("runs_sharing", "BIGINT"),
        ("contended_phases", "BIGINT"),
        ("started", "TIMESTAMP"),
        ("updated", "TIMESTAMP"),
        ("ended", "TIMESTAMP"),
        ("duration_s", "DOUBLE"),
        ("device_type", "VARCHAR"),
        ("device_name", "VARCHAR"),
        ("device_count", "BIGINT"),
        ("precision", "VARCHAR"),
        ("python_version", "VARCHAR"),
        ("torch_version", "VARCHAR"),
        ("transformers_version", "VARCHAR"),
        ("datasets_version", "VARCHAR"),
        ("tokenizers_version", "VARCHAR"),
        ("cuda_version", "VARCHAR"),
        ("host", "VARCHAR"),
        ("git_commit", "VARCHAR"),
        ("xcost_tui_version", "VARCHAR"),
        ("model_source", "VARCHAR"),
        ("model_revision", "VARCHAR"),
        ("model_load_s", "DOUBLE"),  # wall seconds to load, build or restore the model (in no phase)
        ("model_cached", "BOOLEAN"),  # restored from its warm worker's cache (job/cache.py)
        ("worker_id", "VARCHAR"),  # the warm worker that ran it (the workers table); NULL: its own process
        ("worker_index", "BIGINT"),  # its place among that worker's runs (0: the first)
        ("xcopa_question", "VARCHAR"),
        ("translations", "VARCHAR"),
        ("model_dtype", "VARCHAR"),
        ("icl_prompt", "VARCHAR"),  # icl: lm-eval | period-only (issue 19); NULL for other methods
        ("data_sources", "BIGINT"),
        ("phases_planned", "VARCHAR[]"),
        ("phases_done", "BIGINT"),
        ("n_warnings", "BIGINT"),
        ("spec", "JSON"),
        ("env", "JSON"),
        ("source_sig", "VARCHAR"),
        ("config_id", "VARCHAR"),
        ("config_family", "VARCHAR"),
        ("config_label", "VARCHAR"),
        ("training_id", "VARCHAR"),
        # the few-shot protocol (issue 19; docs/methods.md, "Few-shot protocol")
        ("lr_sweep", "DOUBLE[]"),  # few-shot: the learning rates tried per language (empty: no sweep)
        ("annotated_examples", "BIGINT"),  # labelled target-language examples the pipeline needed
        ("annotation_hours_per_example", "DOUBLE"),  # spec annotation_hours_per_example; NULL: unset
        ("annotation_hours", "DOUBLE"),  # annotated_examples x annotation_hours_per_example; NULL: unset
    ),
    "phases": (
        ("run_id", "VARCHAR"),
        ("phase", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("ordinal", "BIGINT"),
        ("tasks", "VARCHAR[]"),
        ("lang", "VARCHAR"),
        ("completed", "BOOLEAN"),
        ("reused_from_run", "VARCHAR"),
        ("reused_from_phase", "VARCHAR"),
        ("reused_from_dir", "VARCHAR"),
        ("t_start", "DOUBLE"),
        ("t_end", "DOUBLE"),
        *COST_FIGURES,
        ("flops_sampled_steps", "BIGINT"),
        ("flops_check_ratio", "DOUBLE"),
        ("energy_flag", "VARCHAR"),
        ("contended", "BOOLEAN"),
        ("contention", "VARCHAR"),
        *[(f"{name}_{part}", "VARCHAR") for name in SOURCED_FIGURES for part in ("source", "reason")],
        ("costs", "JSON"),
        ("info", "JSON"),
    ),
    "evals": (
        ("run_id", "VARCHAR"),
        ("phase", "VARCHAR"),
        ("task", "VARCHAR"),
        ("lang", "VARCHAR"),
        ("split", "VARCHAR"),
        ("accuracy", "DOUBLE"),
        ("n", "BIGINT"),
        ("correct", "BIGINT"),
        ("t", "DOUBLE"),
    ),
    "predictions": (
        ("run_id", "VARCHAR"),
        ("phase", "VARCHAR"),
        ("task", "VARCHAR"),
        ("lang", "VARCHAR"),
        ("split", "VARCHAR"),
        ("idx", "VARCHAR"),  # rundir/records.py PREDICTION_COLUMNS: numbers' digits and string ids
        ("pred", "BIGINT"),
        ("label", "BIGINT"),
        ("scores", "DOUBLE[]"),
        ("correct", "BOOLEAN"),
    ),
    "translations": tuple([("run_id", "VARCHAR"), *TRANSLATION_COLUMNS.items()]),
    # translate-test's MT quality (rundir/records.py MTScore, from translate:<lang> phases' info.mt_quality)
    "mt_quality": tuple([("run_id", "VARCHAR"), ("phase", "VARCHAR"), *MT_SCORE_COLUMNS.items()]),
    "samples": (
        ("run_id", "VARCHAR"),
        ("t", "DOUBLE"),
        ("phase", "VARCHAR"),
        ("cpu_percent", "DOUBLE"),
        ("rss_bytes", "BIGINT"),
        ("gpu_index", "BIGINT"),
        ("gpu_name", "VARCHAR"),
        ("gpu_uuid", "VARCHAR"),
        ("gpu_mem_used_bytes", "BIGINT"),
        ("gpu_mem_total_bytes", "BIGINT"),
        ("gpu_util_percent", "DOUBLE"),
        ("gpu_power_w", "DOUBLE"),
        ("gpu_temp_c", "DOUBLE"),
        ("gpu_proc_mem_bytes", "BIGINT"),
        ("gpu_other_pids", "BIGINT[]"),
        ("gpu_other_mem_bytes", "BIGINT"),
        ("other_cpu_percent", "DOUBLE"),
        ("cpus", "BIGINT"),
    ),
    "data_sources": (
        ("run_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("task", "VARCHAR"),
        ("split", "VARCHAR"),
        ("lang", "VARCHAR"),
        ("role", "VARCHAR"),
        ("source", "VARCHAR"),
        ("repo", "VARCHAR"),
        ("config", "VARCHAR"),
        ("hub_split", "VARCHAR"),
        ("revision", "VARCHAR"),
        ("resolved_revision", "VARCHAR"),
        ("path", "VARCHAR"),
        ("sha256", "VARCHAR"),
        ("rows", "BIGINT"),
        ("used", "BIGINT"),
        ("subset", "VARCHAR"),
        ("fallback", "VARCHAR"),
        ("xcopa_question", "VARCHAR"),
        ("questions_corrected", "BIGINT"),
        ("note", "VARCHAR"),
        ("t", "DOUBLE"),
    ),
    "events": (
        ("run_id", "VARCHAR"),
        ("seq", "BIGINT"),
        ("t", "DOUBLE"),
        ("type", "VARCHAR"),
        ("phase", "VARCHAR"),
        ("json", "JSON"),
    ),
    # ---- derived by the verdict (xcost_tui/store/verdict_tables.py) at the end of an ingest batch ----
    "verdict_accuracy": (
        ("config_id", "VARCHAR"),
        ("lang", "VARCHAR"),  # an XCOPA language, "en", or an average form: avg, avg_all, avg_published, avg_seen
        ("n_runs", "BIGINT"),
        ("n_seeds", "BIGINT"),
        ("n_clusters", "BIGINT"),
        ("n_items", "BIGINT"),
        ("accuracy", "DOUBLE"),
        ("se", "DOUBLE"),
        ("ci_low", "DOUBLE"),
        ("ci_high", "DOUBLE"),
        ("seed_sd", "DOUBLE"),
        ("draw_sd", "DOUBLE"),
        ("covers", "VARCHAR"),
        ("seed_variation", "BOOLEAN"),
        ("chance", "BOOLEAN"),
    ),
    "verdict_comparison": (
        ("config_id", "VARCHAR"),
        ("baseline_id", "VARCHAR"),
        ("lang", "VARCHAR"),
        ("paired", "BOOLEAN"),
        ("n_pairs", "BIGINT"),
        ("n_a", "BIGINT"),
        ("n_b", "BIGINT"),
        ("n_items", "BIGINT"),
        ("diff", "DOUBLE"),
        ("se", "DOUBLE"),
        ("ci_low", "DOUBLE"),
        ("ci_high", "DOUBLE"),
        ("equiv_low", "DOUBLE"),
        ("equiv_high", "DOUBLE"),
        ("delta", "DOUBLE"),
        ("p_value", "DOUBLE"),
        ("p_equiv", "DOUBLE"),
        ("p_holm", "DOUBLE"),
        ("p_equiv_holm", "DOUBLE"),
        ("p_equiv_at", "DOUBLE[]"),
        ("p_equiv_holm_at", "DOUBLE[]"),
        ("holm_family", "VARCHAR"),
        ("holm_n", "BIGINT"),
        ("seed_sd", "DOUBLE"),
        ("mcnemar_p", "DOUBLE"),
    ),
    "curves": (
        ("run_id", "VARCHAR"),
        ("phase", "VARCHAR"),
        ("point", "BIGINT"),
        ("step", "BIGINT"),
        ("total_steps", "BIGINT"),
        ("lang", "VARCHAR"),
        ("split", "VARCHAR"),
        ("accuracy", "DOUBLE"),
        ("n", "BIGINT"),
        ("cum_train_device_hours", "DOUBLE"),
        ("cum_train_flops", "DOUBLE"),
        ("cum_train_energy_j", "DOUBLE"),
        ("eval_wall_s", "DOUBLE"),
        ("eval_flops", "DOUBLE"),
    ),
}
TABLES["forecasts"] = (  # one row per run and phase of a plan's forecast (<store>/forecasts/<id>.json)
    ("forecast_id", "VARCHAR"),
    ("made_at", "TIMESTAMP"),
    ("plan", "VARCHAR"),
    ("plan_label", "VARCHAR"),
    ("mode", "VARCHAR"),  # probe (measured on the device it names) | profile (projected)
    ("device_type", "VARCHAR"),
    ("device_name", "VARCHAR"),
    ("device_family", "VARCHAR"),
    ("device_profile", "VARCHAR"),
    ("precision", "VARCHAR"),
    ("efficiency", "DOUBLE"),
    ("host", "VARCHAR"),
    ("env", "JSON"),
    ("run_id", "VARCHAR"),
    ("run_name", "VARCHAR"),
    ("method", "VARCHAR"),
    ("model", "VARCHAR"),
    ("seed", "BIGINT"),
    ("phase", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("ordinal", "BIGINT"),
    ("examples", "BIGINT"),
    ("steps", "BIGINT"),
    ("micro_batch_size", "BIGINT"),
    ("micro_batch_source", "VARCHAR"),
    ("micro_batches", "BIGINT"),
    ("tokens_nonpad", "BIGINT"),
    ("tokens_padded", "BIGINT"),
    ("flops", "DOUBLE"),
    ("wall_s", "DOUBLE"),
    ("device_hours", "DOUBLE"),
    ("energy_j", "DOUBLE"),
    ("peak_mem_bytes", "BIGINT"),
    ("peak_mem_source", "VARCHAR"),
    ("memory_total_bytes", "BIGINT"),
    ("max_micro_batch", "BIGINT"),
    ("fits", "BOOLEAN"),
    ("time_source", "VARCHAR"),  # probe | replay | profile
    ("lengths_source", "VARCHAR"),  # measured | sampled | assumed
    ("counts_source", "VARCHAR"),  # data | registry
    ("assumed", "BOOLEAN"),
    ("shared", "BOOLEAN"),  # a reused phase: its cost is counted in shared_from
    ("shared_from", "VARCHAR"),
    ("run_suggested_time_s", "DOUBLE"),
    ("notes", "JSON"),
    ("path", "VARCHAR"),
)
TABLES["workers"] = (  # one row per warm worker (<store>/workers/<id>/worker.jsonl, rundir/worker.py)
    ("worker_id", "VARCHAR"),
    ("pid", "BIGINT"),
    ("host", "VARCHAR"),
    ("slot", "VARCHAR"),
    ("threads", "BIGINT"),
    ("created_at", "TIMESTAMP"),
    ("ready_at", "TIMESTAMP"),
    ("startup_wall_s", "DOUBLE"),  # creation until ready: interpreter, imports, CUDA context
    ("startup_cpu_s", "DOUBLE"),
    ("runs", "BIGINT"),
    ("cpu_s", "DOUBLE"),  # the process's CPU seconds as last recorded (its end, else its last run's end)
    ("runs_cpu_s", "DOUBLE"),  # inside its runs (start to end of each)
    ("ended_at", "TIMESTAMP"),
    ("end_reason", "VARCHAR"),  # NULL: still running, or killed
    ("path", "VARCHAR"),
)
RUN_TABLES = (
    "runs",
    "phases",
    "evals",
    "predictions",
    "samples",
    "data_sources",
    "curves",
    "events",
    "translations",
    "mt_quality",
)
DERIVED_TABLES = ("verdict_accuracy", "verdict_comparison")
FORECAST_TABLES = ("forecasts",)  # rebuilt from <store>/forecasts/*.json at ingest
WORKER_TABLES = ("workers",)  # rebuilt from <store>/workers/*/worker.jsonl at every ingest
# The leaderboard is materialised into this table at the end of every ingest batch;
# the ``leaderboard`` view reads it (see LEADERBOARD_SELECT for its definition).
LEADERBOARD_TABLE = "leaderboard_cache"


def columns(name: str) -> tuple[str, ...]:
    """The column names of one table, in order."""
    return tuple(c for c, _ in TABLES[name])


@functools.cache
def arrow_schema(name: str) -> pa.Schema:
    """The Arrow schema of one table, derived from its column list (the one definition of the
    table): for the tables the store builds in Python and inserts in bulk."""
    import pyarrow as pa  # deferred: pyarrow costs ~0.15 s, paid by ingest and the report, not at start-up

    types = {
        "VARCHAR": pa.string(),
        "JSON": pa.string(),
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "TIMESTAMP": pa.timestamp("us"),
        "VARCHAR[]": pa.list_(pa.string()),
        "DOUBLE[]": pa.list_(pa.float64()),
        "BIGINT[]": pa.list_(pa.int64()),
    }
    schema: pa.Schema = pa.schema([(c, types[t]) for c, t in TABLES[name]])
    return schema


def _create_table(name: str) -> str:
    cols = ",\n  ".join(f'"{c}" {t}' for c, t in TABLES[name])
    return f"CREATE TABLE {name} (\n  {cols}\n)"


_LANG_LIST = sql_target_langs()
_TRAIN_KINDS = ", ".join(f"'{k}'" for k in TRAINING_KINDS)


def _orig_cost(name: str) -> str:
    """A reused phase's original cost, from the reusing run's own record (when the producer is not in the store)."""
    return f"TRY_CAST(json_extract_string(p.info, '$.original_costs.{name}.value') AS DOUBLE)"


def _osum(expr: str, where: str | None = None, order: str = "phase") -> str:
    """sum(expr) [FILTER (WHERE where)] of doubles, added in a fixed order: a parallel sum adds in
    any order, and a re-ingest must give identical rows (list_sum of an ordered list, NULLs skipped
    as sum skips them)."""
    return f"list_sum(list({expr} ORDER BY {order}){f' FILTER (WHERE {where})' if where else ''})"


def _with_translation(x: str, tr: str) -> str:
    """A per-query figure plus translate-test's translation cost, counted when an MT model made the
    translation (not for the published translations)."""
    return f"{x} + CASE WHEN has_tr AND NOT coalesce(published, false) THEN {tr} ELSE 0 END"


def _full(name: str) -> str:
    """A training phase's cost as part of the run's full pipeline: its own cost, or, for a phase
    it reused, the cost where it was incurred (the producer's row, or the reusing run's record of
    it when the producer is not in the store)."""
    return f"CASE WHEN p.reused_from_run IS NULL THEN p.{name} ELSE coalesce(src.{name}, {_orig_cost(name)}) END"


def _untrained(column: str) -> str:
    """A training cost of the run: zero for a method that has no training phase (icl)."""
    methods = ", ".join(f"'{m}'" for m in UNTRAINED_METHODS)
    return f"(CASE WHEN r.method IN ({methods}) THEN coalesce({column}, 0) ELSE {column} END)"


_NOT_MEASURED = "translated by the dataset authors; not measured"
# a run's own curve and evaluation phases: not those it reused from a shared target phase
_OWN_CURVE = "kind = 'curve' AND reused_from_run IS NULL"
_OWN_EVAL = "kind = 'eval' AND reused_from_run IS NULL"

# One row per run. Accuracy columns average the XCOPA target languages (not English), in the four
# forms of xcost_tui/accuracy.py (generated from its tables: avg_accuracy, _all, _published, _seen);
# train_* are the cost of the run's FULL pipeline: its own training phases plus the intermediate
# phase it reused (counted where it was incurred); own_train_* are what this run incurred itself;
# intermediate_* is the intermediate part of train_*, so that amortising it over N target tasks is
# an explicit choice (the `configurations` view: getvariable('amortise_n')), never "divided by
# however many runs of this store happened to reuse it".
_FAMILY = sql_model_family("r.model")
_AVERAGES = ",\n  ".join(
    f"{sql_average(form, lambda lang: f'ev.acc_{lang}', _FAMILY)} AS {FORM_COLUMNS[form]}" for form in AVERAGE_FORMS
)

# Accuracy per language is the latest evaluation of it (a retried target phase evaluates English
# again, as eval:en#2: the run's English accuracy is its last attempt's, as in the Python fold).
LEADERBOARD_SELECT = f"""
WITH evl AS (
  SELECT run_id, lang, arg_max(accuracy, coalesce(t, 0)) AS accuracy
  FROM evals WHERE accuracy IS NOT NULL GROUP BY run_id, lang
),
ev AS (
  SELECT run_id,
    count(*) FILTER (WHERE lang IN ({_LANG_LIST})) AS n_langs,
    any_value(accuracy) FILTER (WHERE lang = 'en') AS en_accuracy,
    {", ".join(f"any_value(accuracy) FILTER (WHERE lang = '{lang}') AS acc_{lang}" for lang in XCOPA_LANGS)}
  FROM evl GROUP BY run_id
),
tp AS (
  SELECT p.run_id, p.phase, p.reused_from_run IS NULL AS own, p.reused_from_run, p.kind = 'intermediate' AS inter,
    p.device_hours, p.flops_analytic, p.energy_j, p.wall_s,
    {_full("device_hours")} AS f_device_hours,
    {_full("flops_analytic")} AS f_flops,
    {_full("flops_measured")} AS f_flops_measured,
    {_full("energy_j")} AS f_energy_j,
    {_full("wall_s")} AS f_wall_s,
    {_full("peak_mem_bytes")} AS f_peak_mem_bytes
  FROM phases p
  LEFT JOIN phases src ON src.run_id = p.reused_from_run AND src.phase = p.reused_from_phase
  WHERE p.kind IN ({_TRAIN_KINDS}) AND p.completed
),
cl AS (
  -- the common ground (accuracy.common_ground): the XCOPA languages every configuration with a
  -- succeeded run evaluated (a configuration's languages: those any of its succeeded runs evaluated)
  SELECT lang FROM (
    SELECT DISTINCT r.config_id, e.lang FROM evl e JOIN runs r USING (run_id)
    WHERE r.status = 'succeeded' AND r.config_id IS NOT NULL AND e.lang IN ({_LANG_LIST}))
  GROUP BY lang
  HAVING count(*) = (SELECT count(DISTINCT r.config_id) FROM runs r JOIN evl e USING (run_id)
                     WHERE r.status = 'succeeded' AND r.config_id IS NOT NULL AND e.lang IN ({_LANG_LIST}))
),
ca AS (
  -- a run's mean over the common languages; NULL unless it evaluated every one of them
  SELECT e.run_id, CASE WHEN count(*) = (SELECT count(*) FROM cl) THEN {_osum("e.accuracy", None, "e.lang")} / count(*) END
    AS common_accuracy
  FROM evl e WHERE e.lang IN (SELECT lang FROM cl) GROUP BY e.run_id
),
tr AS (
  SELECT run_id,
    {_osum("f_device_hours")} AS train_device_hours,
    {_osum("f_flops")} AS train_flops,
    {_osum("f_flops_measured")} AS train_flops_measured,
    CASE WHEN bool_and(f_energy_j IS NOT NULL) THEN {_osum("f_energy_j")} END AS train_energy_j,
    {_osum("f_wall_s")} AS train_wall_s,
    max(f_peak_mem_bytes) AS peak_train_mem_bytes,
    {_osum("device_hours", "own")} AS own_train_device_hours,
    {_osum("flops_analytic", "own")} AS own_train_flops,
    CASE WHEN bool_and(energy_j IS NOT NULL) FILTER (WHERE own) THEN {_osum("energy_j", "own")} END
      AS own_train_energy_j,
    coalesce({_osum("f_device_hours", "inter")}, 0) AS intermediate_device_hours,
    coalesce({_osum("f_flops", "inter")}, 0) AS intermediate_flops,
    CASE WHEN bool_and(f_energy_j IS NOT NULL) FILTER (WHERE inter) THEN {_osum("f_energy_j", "inter")}
         WHEN count(*) FILTER (WHERE inter) = 0 THEN 0 END AS intermediate_energy_j,
    count(*) FILTER (WHERE NOT own) AS reused_phases,
    any_value(reused_from_run) FILTER (WHERE NOT own) AS reused_from_run
  FROM tp GROUP BY run_id
),
allp AS (
  SELECT run_id,
    count(*) FILTER (WHERE contended AND reused_from_run IS NULL) AS contended_phases,
    {_osum("device_hours", "reused_from_run IS NULL")} AS total_device_hours,
    -- learning-curve evaluations (curve:<phase>): not training, shown apart (docs/measurement.md);
    -- the run's own (a reused curve, of a shared target phase, is counted where it was incurred)
    {_osum("device_hours", _OWN_CURVE)} AS curve_device_hours,
    {_osum("flops_analytic", _OWN_CURVE)} AS curve_flops,
    CASE WHEN bool_and(energy_j IS NOT NULL) FILTER (WHERE {_OWN_CURVE}) THEN {_osum("energy_j", _OWN_CURVE)} END
      AS curve_energy_j,
    -- every evaluation phase's energy together: one eval:<lang> on a GPU can be shorter than NVML's
    -- counter step (energy_flag), their sum is not; the run's own (not a reused eval:en)
    CASE WHEN bool_and(energy_j IS NOT NULL) FILTER (WHERE {_OWN_EVAL}) THEN {_osum("energy_j", _OWN_EVAL)} END
      AS eval_energy_j,
    count(*) FILTER (WHERE {_OWN_EVAL} AND energy_flag IS NOT NULL) AS eval_energy_flagged,
    arg_max(latency_p50_s, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS latency_p50_s,
    arg_max(latency_p95_s, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS latency_p95_s,
    arg_max(throughput_examples_per_s, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS infer_throughput_examples_per_s,
    arg_max(peak_mem_increase_bytes, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS peak_infer_mem_bytes,
    arg_max(peak_mem_bytes, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS peak_infer_mem_abs_bytes,
  FROM phases WHERE completed GROUP BY run_id
),
rb AS (
  SELECT reused_from_run AS run_id, count(DISTINCT run_id) AS reused_by_runs
  FROM phases WHERE reused_from_run IS NOT NULL GROUP BY 1
),
ql AS (
  -- one row per run and target language: its eval phase (the classifier or the causal LM) and,
  -- for translate-test, its translate phase; NULL figures stay NULL.
  SELECT run_id, lang,
    any_value(examples) FILTER (WHERE kind = 'eval') AS n,
    -- per query: the phase's own figure, else (run directories written before it) its FLOPs per example
    any_value(coalesce(query_flops, flops_analytic / nullif(examples, 0))) FILTER (WHERE kind = 'eval') AS f_eval,
    any_value(coalesce(query_flops, flops_analytic / nullif(examples, 0))) FILTER (WHERE kind = 'translate') AS f_tr,
    any_value(device_hours) FILTER (WHERE kind = 'eval') AS d_eval,
    any_value(device_hours) FILTER (WHERE kind = 'translate') AS d_tr,
    any_value(energy_j) FILTER (WHERE kind = 'eval') AS e_eval,
    any_value(energy_j) FILTER (WHERE kind = 'translate') AS e_tr,
    any_value(energy_j_reason) FILTER (WHERE kind = 'eval') AS e_reason,
    count(*) FILTER (WHERE kind = 'translate') > 0 AS has_tr,
    bool_or(json_extract_string(info, '$.translations') = 'published') FILTER (WHERE kind = 'translate') AS published,
    any_value(coalesce(prompt_tokens, tokens_nonpad)) FILTER (WHERE kind = 'eval') AS prompt_tokens,
    any_value(continuation_tokens) FILTER (WHERE kind = 'eval') AS continuation_tokens,
    any_value(context_tokens_mean) FILTER (WHERE kind = 'eval') AS ctx_mean,
    any_value(context_tokens_max) FILTER (WHERE kind = 'eval') AS ctx_max
  FROM phases WHERE completed AND lang IN ({_LANG_LIST}) AND kind IN ('eval', 'translate')
  GROUP BY run_id, lang
),
qc AS (
  SELECT run_id,
    {_osum("(" + _with_translation("f_eval", "f_tr") + ") * n", "n > 0 AND f_eval IS NOT NULL", "lang")} / nullif(sum(n) FILTER (WHERE n > 0 AND f_eval IS NOT NULL), 0) AS query_flops,
    CASE WHEN bool_and(e_eval IS NOT NULL AND (NOT has_tr OR coalesce(published, false) OR e_tr IS NOT NULL)) FILTER (WHERE n > 0)
      THEN {_osum(_with_translation("e_eval", "e_tr"), "n > 0", "lang")}
           / nullif(sum(n) FILTER (WHERE n > 0), 0) END AS query_energy_j,
    CASE WHEN bool_and(d_eval IS NOT NULL AND (NOT has_tr OR coalesce(published, false) OR d_tr IS NOT NULL)) FILTER (WHERE n > 0)
      THEN {_osum(_with_translation("d_eval", "d_tr"), "n > 0", "lang")}
           / nullif(sum(n) FILTER (WHERE n > 0), 0) END AS query_device_hours,
    any_value(e_reason) FILTER (WHERE n > 0 AND e_eval IS NULL) AS energy_reason,
    CASE WHEN bool_or(has_tr) THEN NOT bool_or(coalesce(published, false)) END AS query_translation_counted,
    sum(prompt_tokens) FILTER (WHERE n > 0) / nullif(sum(n) FILTER (WHERE n > 0), 0) AS query_prompt_tokens,
    sum(continuation_tokens) FILTER (WHERE n > 0) / nullif(sum(n) FILTER (WHERE n > 0 AND continuation_tokens IS NOT NULL), 0)
      AS query_continuation_tokens,
    {_osum("ctx_mean * n", "n > 0", "lang")} / nullif(sum(n) FILTER (WHERE n > 0 AND ctx_mean IS NOT NULL), 0)
      AS query_context_tokens_mean,
    max(ctx_max) AS query_context_tokens_max
  FROM ql GROUP BY run_id
)
SELECT r.run_id, r.name, r.model, r.method,
  nullif(array_to_string(r.intermediate, ','), '') AS intermediate, r.intermediate_mode, r.k, r.seed, r.status,
  coalesce(ev.n_langs, 0) AS n_langs, len(r.langs) AS n_langs_planned,
  coalesce(r.status = 'succeeded' AND coalesce(ev.n_langs, 0) >= len(r.langs), false) AS complete, av.avg_accuracy, ev.en_accuracy, ev.en_accuracy - av.avg_accuracy AS transfer_gap,
  {", ".join(f"ev.acc_{lang}" for lang in XCOPA_LANGS)},
  av.model_family, av.avg_accuracy_all, av.avg_accuracy_published, av.avg_accuracy_seen,
  ca.common_accuracy, (SELECT count(*) FROM cl) AS n_common_langs,
  r.shot_seed, r.recipe, r.intermediate_recipe, r.few_shot_recipe, r.collapsed, r.target_attempts,
  r.config_id, r.config_family, r.config_label,
  {_untrained("tr.train_device_hours")} AS train_device_hours, {_untrained("tr.train_flops")} AS train_flops,
  {_untrained("tr.train_flops_measured")} AS train_flops_measured, {_untrained("tr.train_energy_j")} AS train_energy_j,
  {_untrained("tr.train_wall_s")} AS train_wall_s, tr.peak_train_mem_bytes,
  {_untrained("tr.own_train_device_hours")} AS own_train_device_hours,
  {_untrained("tr.own_train_flops")} AS own_train_flops, {_untrained("tr.own_train_energy_j")} AS own_train_energy_j,
  {_untrained("tr.intermediate_device_hours")} AS intermediate_device_hours,
  {_untrained("tr.intermediate_flops")} AS intermediate_flops,
  {_untrained("tr.intermediate_energy_j")} AS intermediate_energy_j,
  allp.total_device_hours, allp.curve_device_hours, allp.curve_flops, allp.curve_energy_j,
  allp.eval_energy_j, allp.eval_energy_flagged, r.warmup_s, allp.latency_p50_s, allp.latency_p95_s, allp.infer_throughput_examples_per_s, allp.peak_infer_mem_bytes,
  allp.latency_p50_s AS query_latency_p50_s,
  allp.peak_infer_mem_abs_bytes, r.peak_mem_lifetime_bytes,
  coalesce(tr.reused_phases, 0) AS reused_phases, tr.reused_from_run, coalesce(rb.reused_by_runs, 0) AS reused_by_runs,
  coalesce(allp.contended_phases, 0) > 0 AS contended, coalesce(allp.contended_phases, 0) AS contended_phases,
  r.executor, r.executor_job_id, r.executor_state, r.node, r.cpu_threads, r.runs_sharing,
  r.device_type, r.device_name, r.device_count, r.precision, r.started, r.ended, r.duration_s, r.error, r.run_dir,
  r.translations, r.annotated_examples, r.annotation_hours,
  qc.query_flops, allp.latency_p95_s AS query_latency_p95_s, qc.query_energy_j, qc.query_device_hours,
  allp.peak_infer_mem_bytes AS query_peak_mem_bytes, qc.query_prompt_tokens,
  qc.query_continuation_tokens, qc.query_context_tokens_mean, qc.query_context_tokens_max, qc.query_translation_counted,
  nullif(concat_ws('; ',
    CASE WHEN qc.query_energy_j IS NULL AND qc.energy_reason IS NOT NULL THEN 'energy: ' || qc.energy_reason END,
    CASE WHEN NOT qc.query_translation_counted THEN 'translation not counted: {_NOT_MEASURED}' END), '') AS query_cost_note
FROM runs r
LEFT JOIN ev USING (run_id)
LEFT JOIN (
  SELECT r.run_id, {_FAMILY} AS model_family,
  {_AVERAGES}
  FROM runs r LEFT JOIN ev USING (run_id)
) av USING (run_id)
LEFT JOIN ca USING (run_id)
LEFT JOIN tr USING (run_id)
LEFT JOIN allp USING (run_id)
LEFT JOIN rb USING (run_id)
LEFT JOIN qc USING (run_id)
"""

# The cost axes a Pareto frontier can be drawn over (all minimised; avg_accuracy is maximised).
PARETO_AXES: tuple[str, ...] = (
    "train_device_hours",
    "train_flops",
    "train_energy_j",
    "latency_p50_s",
    "own_train_device_hours",
    "own_train_flops",
    "peak_train_mem_bytes",
    "peak_infer_mem_bytes",
    "query_flops",
)

# Every run × every cost axis, with on_frontier: no other succeeded run is at most as costly and at
# least as accurate with one of the two strictly better. O(n log n) with window frames.
COST_VS_ACCURACY_SELECT = f"""
WITH pts AS (
  SELECT run_id, name, model, method, intermediate, k, seed, status, avg_accuracy, x_name, x
  FROM (SELECT run_id, name, model, method, intermediate, k, seed, status, avg_accuracy,
          {", ".join(f"CAST({a} AS DOUBLE) AS {a}" for a in PARETO_AXES)} FROM leaderboard)
  UNPIVOT INCLUDE NULLS (x FOR x_name IN ({", ".join(PARETO_AXES)}))
),
elig AS (
  SELECT run_id, x_name, avg_accuracy,
    max(avg_accuracy) OVER (PARTITION BY x_name ORDER BY x RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS max_le,
    max(avg_accuracy) OVER (PARTITION BY x_name ORDER BY x RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS max_lt
  FROM pts WHERE status = 'succeeded' AND x IS NOT NULL AND avg_accuracy IS NOT NULL
)
SELECT pts.*,
  coalesce(e.avg_accuracy >= e.max_le AND (e.max_lt IS NULL OR e.avg_accuracy > e.max_lt), false) AS on_frontier
FROM pts LEFT JOIN elig e USING (run_id, x_name)
"""

# ---- configurations and the verdict (docs/statistics.md) -------------------------------------------
_VERDICT_LANGS = ("en", *XCOPA_LANGS)
_VERDICT_AVGS = tuple(column.replace("_accuracy", "") for column in FORM_COLUMNS.values())


# The verdict's "language" names for the average forms are the leaderboard's columns without
# "_accuracy" (avg, avg_all, avg_published, avg_seen): store/verdict_tables.py uses the same rule.
_AVG_COLUMN = {column.replace("_accuracy", ""): column for column in FORM_COLUMNS.values()}


def _pivot(name: str) -> str:
    col = _AVG_COLUMN.get(name) or ("en_accuracy" if name == "en" else f"acc_{name}")
    return (
        f"any_value(accuracy) FILTER (WHERE lang = '{name}') AS {col}, "
        f"any_value(ci_low) FILTER (WHERE lang = '{name}') AS {col}_low, "
        f"any_value(ci_high) FILTER (WHERE lang = '{name}') AS {col}_high"
    )


_COST_MEANS = (
    "train_device_hours",
    "train_flops",
    "train_energy_j",
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
    # the learning curve's evaluations: not training, shown apart (issue 17)
    "curve_device_hours",
)
_AMORTISED = (
    ("amortised_train_device_hours", "train_device_hours", "intermediate_device_hours"),
    ("amortised_train_flops", "train_flops", "intermediate_flops"),
    ("amortised_train_energy_j", "train_energy_j", "intermediate_energy_j"),
)
# Every cost of a configuration with its spread over runs: <cost>, <cost>_sd, <cost>_low, <cost>_high.
COST_SPREAD: tuple[str, ...] = (*_COST_MEANS, *(name for name, _, _ in _AMORTISED))
_AMORTISE_N = "coalesce(getvariable('amortise_n'), 1)::DOUBLE"
_INCLUDE_CONTENDED = "coalesce(getvariable('include_contended'), false)"


def _mean_if_all(col: str) -> str:
    """The mean over a configuration's runs, NULL when any run lacks the figure (never a partial
    mean); its sample SD (NULL with fewer than 2 runs)."""
    every = f"count({col}) = count(*)"
    return (
        f"CASE WHEN {every} THEN avg({col}) END AS {col}, "
        f"CASE WHEN {every} AND count(*) >= 2 THEN stddev_samp({col}) END AS {col}_sd"
    )


def _interval(col: str) -> str:
    """mean ± t_{n-1} · SD/√n (stats.costs.cost_estimate), n the runs counted in costs."""
    half = f"c.t_runs * c.{col}_sd / sqrt(c.cost_runs)"
    return f"c.{col} - {half} AS {col}_low, c.{col} + {half} AS {col}_high"


# Methods that draw shots (few-shot fine-tuning, icl): one draw of k > 0 shots is flagged single_draw.
_DRAWS_SHOTS = ", ".join(f"'{name}'" for name, m in METHOD_TABLE.items() if m.draws_shots)

# One row per configuration (its succeeded runs): accuracy with the verdict's 95% intervals (every
# XCOPA language, English, and the four average forms); every cost as the mean over its runs with
# the SD and a 95% t-interval (docs/statistics.md, "Cost"); the full pipeline's training cost
# amortised over N target tasks (SET VARIABLE amortise_n = N; default 1: the intermediate phase
# serves this configuration alone). Runs measured beside other work (leaderboard.contended) are
# left out of the costs unless SET VARIABLE include_contended = true; contended_runs counts them.
CONFIGURATIONS_SELECT = f"""
WITH runs_of AS (
  SELECT config_id, count(*) AS n_attempted, count(*) FILTER (WHERE status = 'failed') AS n_failed,
    any_value(training_id) FILTER (WHERE status = 'succeeded') AS training_id
  FROM runs WHERE config_id IS NOT NULL GROUP BY config_id
),
lb AS (
  SELECT *, {", ".join(f"{t} - {i} * (1 - 1 / {_AMORTISE_N}) AS {a}" for a, t, i in _AMORTISED)}
  FROM leaderboard WHERE status = 'succeeded' AND config_id IS NOT NULL
),
info AS (
  SELECT config_id, any_value(config_label) AS label, any_value(config_family) AS family, any_value(model) AS model,
    any_value(method) AS method, any_value(intermediate) AS intermediate, any_value(k) AS k,
    any_value(recipe) AS recipe, count(*) AS n_runs, count(DISTINCT seed) AS n_seeds,
    count(DISTINCT shot_seed) AS n_shot_draws, count(*) FILTER (WHERE collapsed) AS collapsed_runs,
    max(n_langs) AS n_langs, max(peak_train_mem_bytes) AS peak_train_mem_bytes,
    max(peak_infer_mem_bytes) AS peak_infer_mem_bytes,
    -- runs whose target phase was trained again after a collapse (a selection among attempts)
    count(*) FILTER (WHERE target_attempts > 1) AS restarted_runs,
    -- a method that draws shots, k > 0, and one draw: its interval says nothing of the draw
    coalesce(any_value(method) IN ({_DRAWS_SHOTS}) AND coalesce(any_value(k), 0) > 0, false)
      AND count(DISTINCT coalesce(shot_seed, 0)) <= 1 AS single_draw,
    count(*) FILTER (WHERE contended) AS contended_runs,
    -- person-hours of annotating the labelled target-language examples (issue 19): their own unit,
    -- never added to device-hours; a count times a rate, not a measurement, so contended runs count
    -- too; NULL unless every run prices it (annotation_hours_per_example)
    CASE WHEN count(annotation_hours) = count(*) THEN avg(annotation_hours) END AS annotation_hours,
    max(annotated_examples) AS annotated_examples
  FROM lb GROUP BY config_id
),
spread AS (
  SELECT config_id, count(*) AS cost_runs, {", ".join(_mean_if_all(c) for c in COST_SPREAD)}
  FROM lb WHERE {_INCLUDE_CONTENDED} OR NOT coalesce(contended, false) GROUP BY config_id
),
c AS (
  SELECT i.*, coalesce(s.cost_runs, 0) AS cost_runs, s.* EXCLUDE (config_id, cost_runs),
    {t975_sql("coalesce(s.cost_runs, 0) - 1")} AS t_runs
  FROM info i LEFT JOIN spread s USING (config_id)
),
acc AS (
  SELECT config_id, {", ".join(_pivot(n) for n in (*_VERDICT_AVGS, *_VERDICT_LANGS))},
    any_value(seed_variation) FILTER (WHERE lang = 'avg') AS seed_variation,
    any_value(seed_sd) FILTER (WHERE lang = 'avg') AS seed_sd,
    any_value(draw_sd) FILTER (WHERE lang = 'avg') AS draw_sd,
    any_value(n_clusters) FILTER (WHERE lang = 'avg') AS n_clusters,
    any_value(covers) FILTER (WHERE lang = 'avg') AS covers,
    list(lang ORDER BY lang) FILTER (WHERE chance AND lang IN ({_LANG_LIST})) AS chance_langs
  FROM verdict_accuracy GROUP BY config_id
)
SELECT c.* EXCLUDE (t_runs), {", ".join(_interval(col) for col in COST_SPREAD)},
  CASE WHEN c.cost_runs = 0 THEN 'no run' WHEN c.cost_runs = 1 THEN '1 run' END AS cost_spread_reason,
  {_INCLUDE_CONTENDED} AS include_contended,
  CASE WHEN c.contended_runs > 0 AND NOT {_INCLUDE_CONTENDED} THEN
    c.contended_runs || ' contended run' || CASE WHEN c.contended_runs = 1 THEN '' ELSE 's' END
    || ' left out of costs' END AS cost_note,
  r.n_failed, r.n_attempted, r.training_id, {_AMORTISE_N} AS amortise_n,
  acc.* EXCLUDE (config_id)
FROM c LEFT JOIN acc USING (config_id) LEFT JOIN runs_of r USING (config_id)
"""


def _se2(side: str, col: str) -> str:
    """The squared standard error of one configuration's mean cost; NULL without a spread
    (stats.costs.CostEstimate.se2)."""
    return f"(CASE WHEN {side}.cost_runs >= 2 AND {side}.{col}_sd IS NOT NULL THEN {side}.{col}_sd * {side}.{col}_sd / {side}.cost_runs END)"


def _welch_df(terms: list[tuple[str, str]]) -> str:
    """stats.costs.welch_df in SQL: (Σ v)² / Σ v²/df over the terms with v > 0; NULL when Σ v = 0."""
    total = " + ".join(f"({v})" for v, _ in terms)
    den = " + ".join(f"CASE WHEN ({v}) > 0 THEN ({v}) * ({v}) / ({df}) ELSE 0 END" for v, df in terms)
    return f"CASE WHEN {total} > 0 THEN ({total}) * ({total}) / ({den}) END"


# The ratios of the comparisons view: (column, the configurations' cost, a training cost?).
COST_RATIOS: tuple[tuple[str, str, bool], ...] = (
    ("train_device_hours_ratio", "train_device_hours", True),
    ("train_flops_ratio", "train_flops", True),
    ("train_energy_ratio", "train_energy_j", True),
    ("amortised_device_hours_ratio", "amortised_train_device_hours", True),
    ("amortised_flops_ratio", "amortised_train_flops", True),
    ("amortised_energy_ratio", "amortised_train_energy_j", True),
    ("query_flops_ratio", "query_flops", False),
    ("query_device_hours_ratio", "query_device_hours", False),
    ("query_energy_ratio", "query_energy_j", False),
    ("query_latency_ratio", "query_latency_p50_s", False),
)


def _ratio_inner(name: str, col: str, training: bool) -> str:
    """The first step of stats.costs.ratio_estimate in SQL: the ratio of means and the two
    log-scale variance terms (NULL without a spread)."""
    same = "coalesce(a.training_id = b.training_id, false)" if training else "false"
    return f"""
  CASE WHEN {same} THEN 1.0 WHEN a.{col} < 0 OR b.{col} <= 0 THEN NULL ELSE a.{col} / b.{col} END AS {name},
  {same} AS {name}_same, a.{col} = 0 AS {name}_zero,
  {_se2("a", col)} / (a.{col} * a.{col}) AS {name}_va, {_se2("b", col)} / (b.{col} * b.{col}) AS {name}_vb,
  {_se2("a", col)} AS {name}_sa, {_se2("b", col)} AS {name}_sb, a.cost_runs AS {name}_na, b.cost_runs AS {name}_nb"""


def _ratio_outer(name: str) -> str:
    """The interval of stats.costs.ratio_estimate: the delta method on the log scale with Welch df;
    exactly 1 for trainings identical by spec."""
    va, vb = f"{name}_va", f"{name}_vb"
    half = f"{name}_t * sqrt({va} + {vb})"
    cond = f"""CASE WHEN {name}_same THEN 1.0 WHEN {name} IS NULL OR {name}_sa IS NULL OR {name}_sb IS NULL THEN NULL
       WHEN {name}_zero THEN CASE WHEN {name}_sa = 0 THEN 0.0 END
       WHEN {va} + {vb} = 0 THEN {name}"""
    return f"""
  {name}, {cond} ELSE {name} * exp(-{half}) END AS {name}_low,
  {cond} ELSE {name} * exp({half}) END AS {name}_high"""


# Every configuration against its baseline (default: direct fine-tuning of the same model and
# recipe), per language and average form: the difference with its 95% interval (paired through
# training seeds, or as independent arms: ``paired``), the p-value and its Holm adjustment (over the
# 11 languages of one comparison; the averages over the configurations compared with one baseline:
# ``holm_family``), the equivalence test against ±delta (TOST, Holm-adjusted the same way), the
# outcome in words (docs/statistics.md; verdict/api.py ``outcome`` is the same rule), and the cost
# ratios with their 95% intervals (same_training: the two trainings are identical by spec, counted
# once: ratio 1). ``delta`` is the margin the rows were computed at (the default; the verdict API
# recomputes at another).
COMPARISONS_SELECT = f"""
WITH cfg AS MATERIALIZED (SELECT * FROM configurations)
SELECT config_id, label, family, baseline_id, baseline_label, lang, paired, n_pairs, n_a, n_b, n_items, diff, se,
  ci_low, ci_high, p_value, p_holm, holm_family, holm_n, mcnemar_p, seed_sd, significant, delta, similar_accuracy,
  equiv_low, equiv_high, p_equiv, p_equiv_holm, outcome, equivalence_reachable, same_training,
  {",".join(_ratio_outer(name) for name, _, _ in COST_RATIOS)}
FROM (SELECT *, {", ".join(f"{t975_sql(name + '_df')} AS {name}_t" for name, _, _ in COST_RATIOS)} FROM (
SELECT *, {", ".join(_welch_df([(f"{n}_va", f"{n}_na - 1"), (f"{n}_vb", f"{n}_nb - 1")]) + f" AS {n}_df" for n, _, _ in COST_RATIOS)} FROM (
SELECT v.config_id, a.label, a.family, v.baseline_id, b.label AS baseline_label, v.lang, v.paired, v.n_pairs,
  v.n_a, v.n_b, v.n_items, v.diff, v.se, v.ci_low, v.ci_high, v.p_value, v.p_holm, v.holm_family, v.holm_n,
  v.mcnemar_p, v.seed_sd,
  coalesce(v.p_holm, v.p_value) < {DEFAULT_ALPHA!r} AS significant,
  v.delta,
  coalesce(v.p_equiv_holm, v.p_equiv) < {DEFAULT_ALPHA!r} AS similar_accuracy,
  v.equiv_low, v.equiv_high, v.p_equiv, v.p_equiv_holm,
  CASE WHEN coalesce(v.p_holm, v.p_value) < {DEFAULT_ALPHA!r} THEN
         CASE WHEN v.diff > 0 THEN 'better' ELSE 'worse' END
         || CASE WHEN coalesce(v.p_equiv_holm, v.p_equiv) < {DEFAULT_ALPHA!r} THEN ' but within ±δ' ELSE '' END
       WHEN coalesce(v.p_equiv_holm, v.p_equiv) < {DEFAULT_ALPHA!r} THEN 'similar'
       ELSE 'not distinguishable' END AS outcome,
  (v.equiv_high - v.equiv_low) / 2 < v.delta AS equivalence_reachable,
  coalesce(a.training_id = b.training_id, false) AS same_training,
  {",".join(_ratio_inner(name, col, training) for name, col, training in COST_RATIOS)}
FROM verdict_comparison v
JOIN cfg a ON a.config_id = v.config_id
JOIN cfg b ON b.config_id = v.baseline_id
)))"""

# Where total costs cross (stats/costs.py break_even_estimate; tests check the two agree): per
# comparison and cost measure (stats.thresholds.BREAK_EVEN_MEASURES, the training cost amortised
# over SET VARIABLE amortise_n), N* = ΔC_train / Δc_query queries with Fieller's 95% interval.
# Each step is its own subquery: an expression is computed once, never inlined into the next.


def _break_even_base(m: str, train: str, query: str) -> str:
    return f"""
    SELECT p.config_id, a.label, p.baseline_id, b.label AS baseline_label, '{m}' AS measure,
      {SAME_QUERY_COST[m]!r} AS tol, coalesce(a.training_id = b.training_id, false) AS same_training,
      CASE WHEN same_training THEN b.{train} ELSE a.{train} END AS train_a, b.{train} AS train_b,
      a.{query} AS query_a, b.{query} AS query_b,
      CASE WHEN same_training THEN CASE WHEN {_se2("b", train)} IS NOT NULL THEN 0.0 END ELSE {_se2("a", train)} END
        AS vta,
      CASE WHEN same_training THEN 0.0 * {_se2("b", train)} ELSE {_se2("b", train)} END AS vtb,
      {_se2("a", query)} AS vqa, {_se2("b", query)} AS vqb,
      CASE WHEN same_training THEN b.cost_runs ELSE a.cost_runs END AS nt_a, a.cost_runs AS nb_a, b.cost_runs AS nb_b
    FROM (SELECT DISTINCT config_id, baseline_id FROM verdict_comparison) p
    JOIN cfg a ON a.config_id = p.config_id
    JOIN cfg b ON b.config_id = p.baseline_id"""


def _break_even_select() -> str:
    ta, tb, qa, qb = "train_a", "train_b", "query_a", "query_b"
    same = f"abs({qb} - {qa}) <= tol * greatest(abs({qa}), abs({qb}))"
    ratio = f"({ta} - {tb}) / ({qb} - {qa})"
    missing = f"{ta} IS NULL OR {tb} IS NULL OR {qa} IS NULL OR {qb} IS NULL"
    point = f"""CASE WHEN {missing} THEN 'not measured'
       WHEN least({ta}, {tb}, {qa}, {qb}) < 0 THEN 'negative cost'
       WHEN {qa} = {qb} OR {same} THEN CASE WHEN {ta} = {tb} THEN 'same cost' ELSE 'never' END
       WHEN {ratio} <= 0 THEN 'always ' || CASE WHEN {ta} <= {tb} AND {qa} <= {qb} THEN 'a' ELSE 'b' END
       ELSE 'crosses' END"""
    df_q = _welch_df([("vqa", "nb_a - 1"), ("vqb", "nb_b - 1")])
    df = _welch_df(
        [
            ("vta", "nt_a - 1"),
            ("vtb", "nb_b - 1"),
            ("n_star * n_star * vqa", "nb_a - 1"),
            ("n_star * n_star * vqb", "nb_b - 1"),
        ]
    )
    return f"""
WITH cfg AS MATERIALIZED (SELECT * FROM configurations),
x AS ({" UNION ALL ".join(_break_even_base(m, t, q) for m, (t, q) in BREAK_EVEN_MEASURES.items())}),
y AS (
  SELECT *, {point} AS point_word, {qb} - {qa} AS d_query, {ta} - {tb} AS d_train,
    vta IS NULL OR vtb IS NULL OR vqa IS NULL OR vqb IS NULL AS no_spread
  FROM x
),
z AS (SELECT *, CASE WHEN point_word = 'crosses' THEN {ratio} END AS n_star, {df_q} AS df_q FROM y),
w AS (SELECT *, {df} AS df, {t975_sql("df_q")} AS t_q FROM z),
v AS (SELECT *, {t975_sql("df")} * {t975_sql("df")} AS t2 FROM w),
u AS (SELECT *, d_query * d_query - t2 * (vqa + vqb) AS a2 FROM v),
s AS (
  SELECT *, t2 * ((vta + vtb) * a2 + (vqa + vqb) * d_train * d_train) AS disc,
    coalesce(point_word IN ('crosses', 'always a', 'always b') AND NOT no_spread
      AND ((df_q IS NOT NULL AND abs(d_query) <= t_q * sqrt(vqa + vqb))
           OR (point_word = 'crosses' AND df IS NOT NULL AND a2 <= 0)), false) AS undetermined
  FROM u
),
r AS (
  SELECT *, (d_train * d_query - sqrt(greatest(disc, 0))) / a2 AS root_1,
    (d_train * d_query + sqrt(greatest(disc, 0))) / a2 AS root_2
  FROM s
)
SELECT config_id, label, baseline_id, baseline_label, measure, train_a, train_b, query_a, query_b, same_training,
  CASE WHEN undetermined THEN NULL ELSE n_star END AS queries,
  CASE WHEN undetermined OR point_word <> 'crosses' OR no_spread THEN NULL WHEN df IS NULL THEN n_star
       ELSE least(root_1, root_2) END AS queries_low,
  CASE WHEN undetermined OR point_word <> 'crosses' OR no_spread THEN NULL WHEN df IS NULL THEN n_star
       ELSE greatest(root_1, root_2) END AS queries_high,
  CASE WHEN undetermined THEN 'undetermined' ELSE point_word END AS verdict,
  CASE WHEN undetermined THEN 'the per-query difference''s interval contains 0'
       WHEN no_spread AND point_word IN ('crosses', 'always a', 'always b') THEN '1 run' END AS reason
FROM r"""


BREAK_EVEN_SELECT = _break_even_select()

# Accuracy against cumulative training cost, per run and per configuration (mean over its runs at
# each evaluation point; the cost includes a reused intermediate phase).
# cum_eval_*: the curve's own evaluations up to and including the point (every language's: a
# point's eval_wall_s is the whole evaluation), the cost of knowing the accuracy was reached
LEARNING_CURVES_SELECT = """
SELECT r.config_id, r.config_label AS label, c.run_id, r.seed, r.shot_seed, c.phase, c.point, c.step, c.total_steps,
  c.lang, c.split, c.accuracy, c.n, c.cum_train_device_hours, c.cum_train_flops, c.cum_train_energy_j,
  c.eval_wall_s, c.eval_flops,
  sum(c.eval_wall_s) OVER w * coalesce(r.device_count, 1) / 3600.0 AS cum_eval_device_hours,
  sum(c.eval_flops) OVER w AS cum_eval_flops
FROM curves c JOIN runs r USING (run_id)
WHERE r.status = 'succeeded'
WINDOW w AS (PARTITION BY c.run_id, c.phase, c.lang ORDER BY c.point ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
"""

# Forecast against measurement, per measured phase: the newest forecast of the phase made for the
# device the run used (a probe on that device, or a profile of its GPU family), else the newest.
# *_error = forecast / measured - 1 (+0.10: the forecast was 10% high).
FORECAST_ERROR_SELECT = """
WITH f AS (
  SELECT f.*, r.device_name AS measured_device,
    coalesce(f.device_name = r.device_name
             OR (f.mode = 'profile' AND contains(upper(r.device_name), upper(f.device_family))), false) AS same_device
  FROM forecasts f LEFT JOIN runs r USING (run_id)
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY run_id, phase ORDER BY same_device DESC, made_at DESC, forecast_id DESC) AS rn
  FROM f
)
SELECT f.run_id, f.run_name, f.method, f.phase, f.kind, f.forecast_id, f.made_at, f.mode, f.time_source,
  f.device_name AS forecast_device, f.measured_device, f.same_device, f.assumed, f.lengths_source, f.counts_source,
  f.device_hours AS forecast_device_hours, p.device_hours AS measured_device_hours,
  f.device_hours / nullif(p.device_hours, 0) - 1 AS device_hours_error,
  f.wall_s AS forecast_wall_s, p.wall_s AS measured_wall_s,
  f.flops AS forecast_flops, p.flops_analytic AS measured_flops,
  f.flops / nullif(p.flops_analytic, 0) - 1 AS flops_error,
  f.peak_mem_bytes AS forecast_peak_mem_bytes, p.peak_mem_bytes AS measured_peak_mem_bytes,
  f.peak_mem_bytes / nullif(p.peak_mem_bytes, 0) - 1 AS peak_mem_error,
  f.energy_j AS forecast_energy_j, p.energy_j AS measured_energy_j
FROM ranked f JOIN phases p ON p.run_id = f.run_id AND p.phase = f.phase
WHERE f.rn = 1 AND p.completed AND p.reused_from_run IS NULL AND NOT coalesce(f.shared, false)
"""

VIEWS: dict[str, str] = {
    "leaderboard": f"SELECT * FROM {LEADERBOARD_TABLE}",
    "leaderboard_live": LEADERBOARD_SELECT,
    # translate-test's rows carry the MT quality of the English text the classifier read (chrF and
    # BLEU against the original English COPA items, the mt_quality table's reference 'copa')
    "lang_accuracy": """
SELECT e.run_id, r.name, r.method, r.model, nullif(array_to_string(r.intermediate, ','), '') AS intermediate,
  r.k, r.seed, r.status, e.lang, e.task, e.split, e.accuracy, e.n, e.correct,
  m.chrf AS mt_chrf, m.bleu AS mt_bleu
FROM evals e JOIN runs r USING (run_id)
LEFT JOIN mt_quality m ON m.run_id = e.run_id AND m.lang = e.lang AND m.reference = 'copa'
  AND m.split = (CASE WHEN e.split = 'val' THEN 'validation' ELSE e.split END)
""",
    "cost_vs_accuracy": COST_VS_ACCURACY_SELECT,
    "configurations": CONFIGURATIONS_SELECT,
    "comparisons": COMPARISONS_SELECT,
    "break_even": BREAK_EVEN_SELECT,
    "learning_curves": LEARNING_CURVES_SELECT,
    # Phases measured without contention (docs/measurement.md, "Contention"): the flag is true
    # when other processes shared the job's CPUs or GPUs beyond its threshold; NULL (too short to
    # tell, no counters) is kept.
    "phases_uncontended": "SELECT * FROM phases WHERE contended IS NOT TRUE",
    "pareto": """
SELECT run_id, name, model, method, intermediate, k, seed, x AS train_device_hours, avg_accuracy
FROM cost_vs_accuracy WHERE x_name = 'train_device_hours' AND on_frontier ORDER BY x
""",
    "forecast_error": FORECAST_ERROR_SELECT,
}


def ddl() -> list[str]:
    """Statements that create an empty store of this schema version."""
    stmts = ["CREATE TABLE meta (key VARCHAR, value VARCHAR)"]
    stmts += [_create_table(name) for name in (*RUN_TABLES, *DERIVED_TABLES, *FORECAST_TABLES, *WORKER_TABLES)]
    stmts.append(f"CREATE TABLE {LEADERBOARD_TABLE} AS SELECT * FROM ({LEADERBOARD_SELECT}) WHERE false")
    stmts += [f"CREATE VIEW {name} AS {sql}" for name, sql in VIEWS.items()]
    return stmts


def refresh_leaderboard_sql() -> list[str]:
    """Rebuild the materialised leaderboard from the tables (run at the end of each ingest batch)."""
    return [f"DELETE FROM {LEADERBOARD_TABLE}", f"INSERT INTO {LEADERBOARD_TABLE} {LEADERBOARD_SELECT}"]
