-- What does intermediate training buy, and what does it cost? Configurations against their
-- baseline (direct fine-tuning of the same model and recipe), with paired intervals.
--   xcost-tui sql --file intermediate_vs_direct        (or, with the duckdb CLI: duckdb store/xcost.duckdb < store/queries/intermediate_vs_direct.sql)
-- diff is in accuracy points with its 95% interval over seeds and items (docs/statistics.md);
-- "similar" means the 90% interval lies inside ±delta (default 2 points); the cost ratio is the
-- full pipeline's training device-hours against the baseline's. To amortise the intermediate
-- phase over N target tasks first: SET VARIABLE amortise_n = N;
SELECT label, baseline_label, n_pairs,
       round(100 * diff, 1) AS diff_points,
       round(100 * ci_low, 1) AS ci_low, round(100 * ci_high, 1) AS ci_high,
       round(p_value, 4) AS p, similar_accuracy,
       round(train_device_hours_ratio, 2) AS train_dev_h_ratio,
       round(amortised_device_hours_ratio, 2) AS amortised_ratio
FROM comparisons
WHERE lang = 'avg' AND family IN ('intermediate', 'intermediate+few-shot')
ORDER BY diff DESC;
