-- The cost/accuracy Pareto frontier: runs no other succeeded run beats on both training
-- device-hours (lower) and average XCOPA accuracy (higher).
--   xcost-tui sql --file pareto        (or, with the duckdb CLI: duckdb store/xcost.duckdb < store/queries/pareto.sql)
-- Other cost axes: replace 'train_device_hours' with train_flops, train_energy_j,
-- latency_p50_s, own_train_device_hours, own_train_flops, peak_train_mem_bytes
-- or peak_infer_mem_bytes (the cost_vs_accuracy view holds every run on every axis).
SELECT x_name AS axis, x, round(avg_accuracy, 4) AS avg_acc, run_id, model, method, intermediate, k, seed
FROM cost_vs_accuracy
WHERE x_name = 'train_device_hours' AND on_frontier
ORDER BY x;
