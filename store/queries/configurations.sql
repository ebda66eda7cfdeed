-- Configurations (a run's spec without its seeds): mean accuracy over their runs with the 95%
-- interval that accounts for seeds and the finite test set, and their mean costs.
--   xcost-tui sql --file configurations        (or, with the duckdb CLI: duckdb store/xcost.duckdb < store/queries/configurations.sql)
-- SET VARIABLE amortise_n = N;  amortises the intermediate phase over N target tasks.
SELECT label, family, n_runs, n_seeds,
       round(100 * avg_accuracy, 1) AS avg_acc, round(100 * avg_accuracy_low, 1) AS low,
       round(100 * avg_accuracy_high, 1) AS high, seed_variation, chance_langs,
       round(train_device_hours, 4) AS train_dev_h, round(amortised_train_device_hours, 4) AS amortised_dev_h,
       train_flops, round(query_latency_p50_s * 1000, 2) AS query_ms
FROM configurations
ORDER BY avg_accuracy DESC NULLS LAST;
