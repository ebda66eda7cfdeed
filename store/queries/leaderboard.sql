-- The leaderboard: one row per run, best average XCOPA accuracy first.
--   xcost-tui sql --file leaderboard        (or, with the duckdb CLI: duckdb store/xcost.duckdb < store/queries/leaderboard.sql)
-- avg_accuracy averages the XCOPA target languages (not English); transfer_gap = en - avg.
-- train_* are the cost of the run's full pipeline (a reused intermediate phase included, counted
-- where it was incurred); own_train_* what the run incurred itself. Compare configurations (seeds
-- aggregated, with intervals) in store/queries/configurations.sql.
SELECT run_id, config_label, model, method, intermediate, k, seed, status,
       round(avg_accuracy, 4) AS avg_acc, n_langs, round(en_accuracy, 4) AS en_acc,
       round(transfer_gap, 4) AS gap,
       round(train_device_hours, 4) AS train_dev_h,
       round(own_train_device_hours, 4) AS own_dev_h,
       train_flops, train_energy_j, peak_train_mem_bytes,
       round(latency_p50_s * 1000, 2) AS latency_p50_ms
FROM leaderboard
ORDER BY avg_accuracy DESC NULLS LAST, run_id
LIMIT 50;
