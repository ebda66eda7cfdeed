-- The leaderboard: one row per run, best average XCOPA accuracy first.
--   duckdb store/xcost.duckdb < store/queries/leaderboard.sql
-- avg_accuracy averages the XCOPA target languages (not English); transfer_gap = en - avg.
-- train_* are costs incurred in the run itself; amortised_train_* share a reused intermediate
-- phase equally between the run that trained it and every run that reused it.
SELECT run_id, model, method, intermediate, k, seed, status,
       round(avg_accuracy, 4) AS avg_acc, n_langs, round(en_accuracy, 4) AS en_acc,
       round(transfer_gap, 4) AS gap,
       round(train_device_hours, 4) AS train_dev_h,
       round(amortised_train_device_hours, 4) AS amort_dev_h,
       train_flops, train_energy_j, peak_train_mem_bytes,
       round(latency_p50_s * 1000, 2) AS latency_p50_ms
FROM leaderboard
ORDER BY avg_accuracy DESC NULLS LAST, run_id
LIMIT 50;
