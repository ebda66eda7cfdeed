-- What does intermediate training buy, and what does it cost?
--   duckdb store/xcost.duckdb < store/queries/intermediate_vs_direct.sql
-- For each model and intermediate task: mean XCOPA accuracy against direct fine-tuning of the
-- same model, the extra training device-hours (as incurred, and amortised over the runs that
-- reused a saved intermediate encoder), and accuracy points gained per extra device-hour.
WITH per_method AS (
  SELECT model, method, coalesce(intermediate, '-') AS intermediate,
         count(*) AS runs,
         avg(avg_accuracy) AS acc,
         avg(train_device_hours) AS dev_h,
         avg(amortised_train_device_hours) AS amort_dev_h,
         avg(train_flops) AS flops
  FROM leaderboard
  WHERE status = 'succeeded' AND avg_accuracy IS NOT NULL
  GROUP BY ALL
),
direct AS (SELECT * FROM per_method WHERE method = 'direct')
SELECT i.model, i.intermediate, i.runs, d.runs AS direct_runs,
       round(d.acc, 4) AS direct_acc, round(i.acc, 4) AS intermediate_acc,
       round(100 * (i.acc - d.acc), 2) AS gain_points,
       round(i.dev_h - d.dev_h, 4) AS extra_dev_h,
       round(i.amort_dev_h - d.amort_dev_h, 4) AS extra_amort_dev_h,
       round(100 * (i.acc - d.acc) / nullif(i.dev_h - d.dev_h, 0), 2) AS points_per_extra_dev_h,
       round(100 * (i.acc - d.acc) / nullif(i.amort_dev_h - d.amort_dev_h, 0), 2) AS points_per_extra_amort_dev_h,
       round(i.flops / nullif(d.flops, 0), 2) AS flops_ratio
FROM per_method i JOIN direct d USING (model)
WHERE i.method = 'intermediate'
ORDER BY i.model, gain_points DESC;
