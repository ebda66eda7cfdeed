"""The DuckDB schema of the results store: tables, views and the schema version.

Plain data and SQL text only (no duckdb import): ``docs/schema.md`` describes every
column. Bump ``SCHEMA_VERSION`` whenever a table or view changes shape; a store from
another version is refused by readers and rebuilt from the run directories by ingest.
"""

from __future__ import annotations

from .. import XCOPA_LANGS
from ..accuracy import AVERAGE_FORMS, FORM_COLUMNS, sql_average, sql_model_family, sql_target_langs
from ..spec import TRAINING_KINDS as _TRAINING_KINDS

# 2: samples.gpu_uuid; runs.run_dir relative to the store. 3: data_sources, runs' data/model provenance;
# 4: recipes, shot_seed, collapse, the average-accuracy forms. 5: forecasts, forecast_error.
SCHEMA_VERSION = 5


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
    ("peak_mem_bytes", "BIGINT"),
    ("energy_j", "DOUBLE"),
    ("examples_per_s", "DOUBLE"),
    ("tokens_per_s", "DOUBLE"),
    ("mfu", "DOUBLE"),
    ("latency_p50_s", "DOUBLE"),
    ("latency_p95_s", "DOUBLE"),
    ("latency_mean_s", "DOUBLE"),
    ("latency_n", "BIGINT"),
    ("throughput_examples_per_s", "DOUBLE"),
)
# Figures that also get ``<name>_source`` and ``<name>_reason`` columns in ``phases``.
SOURCED_FIGURES: tuple[str, ...] = (
    "wall_s", "cpu_s", "device_hours", "flops_analytic", "flops_measured",
    "peak_mem_bytes", "energy_j", "mfu", "latency_p50_s",
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
        ("langs", "VARCHAR[]"),
        ("target", "VARCHAR"),
        ("eval_split", "VARCHAR"),
        ("init_from", "VARCHAR"),
        ("status", "VARCHAR"),
        ("error", "VARCHAR"),
        ("failed_phase", "VARCHAR"),
        ("current_phase", "VARCHAR"),
        ("pid", "BIGINT"),
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
        ("xcopa_question", "VARCHAR"),
        ("data_sources", "BIGINT"),
        ("phases_planned", "VARCHAR[]"),
        ("phases_done", "BIGINT"),
        ("n_warnings", "BIGINT"),
        ("spec", "JSON"),
        ("env", "JSON"),
        ("source_sig", "VARCHAR"),
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
        ("energy_flag", "VARCHAR"),
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
        ("idx", "BIGINT"),
        ("pred", "BIGINT"),
        ("label", "BIGINT"),
        ("scores", "DOUBLE[]"),
        ("correct", "BOOLEAN"),
    ),
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
RUN_TABLES = ("runs", "phases", "evals", "predictions", "samples", "data_sources", "events")
FORECAST_TABLES = ("forecasts",)  # rebuilt from <store>/forecasts/*.json at ingest
# The leaderboard is materialised into this table at the end of every ingest batch;
# the ``leaderboard`` view reads it (see LEADERBOARD_SELECT for its definition).
LEADERBOARD_TABLE = "leaderboard_cache"


def _create_table(name: str) -> str:
    cols = ",\n  ".join(f'"{c}" {t}' for c, t in TABLES[name])
    return f"CREATE TABLE {name} (\n  {cols}\n)"


_LANG_LIST = sql_target_langs()
_TRAIN_KINDS = ", ".join(f"'{k}'" for k in TRAINING_KINDS)


def _orig_cost(name: str) -> str:
    """A reused phase's original cost, from the reusing run's own record (when the producer is not in the store)."""
    return f"TRY_CAST(json_extract_string(p.info, '$.original_costs.{name}.value') AS DOUBLE)"


def _amortised(name: str) -> str:
    """A training phase's share of a cost: own phases divide by every run that reused them (+1 for
    the producer); reused phases take the producer's cost divided the same way."""
    return f"""CASE WHEN p.reused_from_run IS NULL THEN p.{name} / (1 + coalesce(s.reusers, 0))
         ELSE coalesce(src.{name}, {_orig_cost(name)}) / (1 + coalesce(ss.reusers, 1)) END"""


# One row per run. Accuracy columns average the XCOPA target languages (not English), in the four
# forms of xcost_tui/accuracy.py (generated from its tables: avg_accuracy, _all, _published, _seen);
# train_* are costs incurred in this run (reused phases excluded); amortised_train_* share a
# reused intermediate phase's cost equally between its producer and every run that reused it.
_FAMILY = sql_model_family("r.model")
_AVERAGES = ",\n  ".join(f"{sql_average(form, lambda lang: f'ev.acc_{lang}', _FAMILY)} AS {FORM_COLUMNS[form]}"
                          for form in AVERAGE_FORMS)

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
sharers AS (
  SELECT reused_from_run AS run_id, reused_from_phase AS phase, count(DISTINCT run_id) AS reusers
  FROM phases WHERE reused_from_run IS NOT NULL GROUP BY 1, 2
),
tp AS (
  SELECT p.run_id, p.reused_from_run IS NULL AS own, p.reused_from_run,
    p.device_hours, p.flops_analytic, p.flops_measured, p.energy_j, p.wall_s, p.peak_mem_bytes,
    {_amortised("device_hours")} AS a_device_hours,
    {_amortised("flops_analytic")} AS a_flops,
    {_amortised("energy_j")} AS a_energy_j
  FROM phases p
  LEFT JOIN sharers s ON s.run_id = p.run_id AND s.phase = p.phase
  LEFT JOIN phases src ON src.run_id = p.reused_from_run AND src.phase = p.reused_from_phase
  LEFT JOIN sharers ss ON ss.run_id = p.reused_from_run AND ss.phase = p.reused_from_phase
  WHERE p.kind IN ({_TRAIN_KINDS}) AND p.completed
),
tr AS (
  SELECT run_id,
    sum(device_hours) FILTER (WHERE own) AS train_device_hours,
    sum(flops_analytic) FILTER (WHERE own) AS train_flops,
    sum(flops_measured) FILTER (WHERE own) AS train_flops_measured,
    CASE WHEN bool_and(energy_j IS NOT NULL) FILTER (WHERE own) THEN sum(energy_j) FILTER (WHERE own) END AS train_energy_j,
    sum(wall_s) FILTER (WHERE own) AS train_wall_s,
    max(peak_mem_bytes) FILTER (WHERE own) AS peak_train_mem_bytes,
    sum(a_device_hours) AS amortised_train_device_hours,
    sum(a_flops) AS amortised_train_flops,
    CASE WHEN bool_and(a_energy_j IS NOT NULL) THEN sum(a_energy_j) END AS amortised_train_energy_j,
    count(*) FILTER (WHERE NOT own) AS reused_phases,
    any_value(reused_from_run) FILTER (WHERE NOT own) AS reused_from_run
  FROM tp GROUP BY run_id
),
allp AS (
  SELECT run_id,
    sum(device_hours) FILTER (WHERE reused_from_run IS NULL) AS total_device_hours,
    arg_max(latency_p50_s, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS latency_p50_s,
    arg_max(latency_p95_s, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS latency_p95_s,
    arg_max(throughput_examples_per_s, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS infer_throughput_examples_per_s,
    arg_max(peak_mem_bytes, coalesce(t_end, 0)) FILTER (WHERE kind = 'inference-bench') AS peak_infer_mem_bytes
  FROM phases WHERE completed GROUP BY run_id
),
rb AS (
  SELECT reused_from_run AS run_id, count(DISTINCT run_id) AS reused_by_runs
  FROM phases WHERE reused_from_run IS NOT NULL GROUP BY 1
)
SELECT r.run_id, r.name, r.model, r.method,
  nullif(array_to_string(r.intermediate, ','), '') AS intermediate, r.intermediate_mode, r.k, r.seed, r.status,
  coalesce(ev.n_langs, 0) AS n_langs, av.avg_accuracy, ev.en_accuracy, ev.en_accuracy - av.avg_accuracy AS transfer_gap,
  {", ".join(f"ev.acc_{lang}" for lang in XCOPA_LANGS)},
  av.model_family, av.avg_accuracy_all, av.avg_accuracy_published, av.avg_accuracy_seen,
  r.shot_seed, r.recipe, r.intermediate_recipe, r.few_shot_recipe, r.collapsed, r.target_attempts,
  tr.train_device_hours, tr.train_flops, tr.train_flops_measured, tr.train_energy_j, tr.train_wall_s, tr.peak_train_mem_bytes,
  tr.amortised_train_device_hours, tr.amortised_train_flops, tr.amortised_train_energy_j,
  allp.total_device_hours, allp.latency_p50_s, allp.latency_p95_s, allp.infer_throughput_examples_per_s, allp.peak_infer_mem_bytes,
  coalesce(tr.reused_phases, 0) AS reused_phases, tr.reused_from_run, coalesce(rb.reused_by_runs, 0) AS reused_by_runs,
  r.device_type, r.device_name, r.device_count, r.precision, r.started, r.ended, r.duration_s, r.error, r.run_dir
FROM runs r
LEFT JOIN ev USING (run_id)
LEFT JOIN (
  SELECT r.run_id, {_FAMILY} AS model_family,
  {_AVERAGES}
  FROM runs r LEFT JOIN ev USING (run_id)
) av USING (run_id)
LEFT JOIN tr USING (run_id)
LEFT JOIN allp USING (run_id)
LEFT JOIN rb USING (run_id)
"""

# The cost axes a Pareto frontier can be drawn over (all minimised; avg_accuracy is maximised).
PARETO_AXES: tuple[str, ...] = (
    "train_device_hours", "train_flops", "train_energy_j", "latency_p50_s",
    "amortised_train_device_hours", "amortised_train_flops", "peak_train_mem_bytes", "peak_infer_mem_bytes",
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
    "lang_accuracy": """
SELECT e.run_id, r.name, r.method, r.model, nullif(array_to_string(r.intermediate, ','), '') AS intermediate,
  r.k, r.seed, r.status, e.lang, e.task, e.split, e.accuracy, e.n, e.correct
FROM evals e JOIN runs r USING (run_id)
""",
    "cost_vs_accuracy": COST_VS_ACCURACY_SELECT,
    "pareto": """
SELECT run_id, name, model, method, intermediate, k, seed, x AS train_device_hours, avg_accuracy
FROM cost_vs_accuracy WHERE x_name = 'train_device_hours' AND on_frontier ORDER BY x
""",
    "forecast_error": FORECAST_ERROR_SELECT,
}


def ddl() -> list[str]:
    """Statements that create an empty store of this schema version."""
    stmts = ["CREATE TABLE meta (key VARCHAR, value VARCHAR)"]
    stmts += [_create_table(name) for name in (*RUN_TABLES, *FORECAST_TABLES)]
    stmts.append(f"CREATE TABLE {LEADERBOARD_TABLE} AS SELECT * FROM ({LEADERBOARD_SELECT}) WHERE false")
    stmts += [f"CREATE VIEW {name} AS {sql}" for name, sql in VIEWS.items()]
    return stmts


def refresh_leaderboard_sql() -> list[str]:
    """Rebuild the materialised leaderboard from the tables (run at the end of each ingest batch)."""
    return [f"DELETE FROM {LEADERBOARD_TABLE}", f"INSERT INTO {LEADERBOARD_TABLE} {LEADERBOARD_SELECT}"]
