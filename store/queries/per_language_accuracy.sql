-- Accuracy per configuration and language (long form), with the verdict's 95% interval: over
-- training seeds, shot draws and test items (verdict_accuracy; docs/statistics.md), never a spread
-- of runs pooled across configurations.
--   xcost-tui sql --file per_language_accuracy        (or, with the duckdb CLI: duckdb store/xcost.duckdb < store/queries/per_language_accuracy.sql)
-- 'en' is English COPA (the source language); the others are the XCOPA target languages; 'avg'
-- and its forms average the target languages. seed_sd / draw_sd: the spread of a new training
-- seed's, and of a new shot draw's, accuracy; covers: what the interval accounts for.
SELECT c.label, c.model, c.method, a.lang, a.n_runs, a.n_seeds, a.n_items,
       round(100 * a.accuracy, 1) AS accuracy, round(100 * a.ci_low, 1) AS ci_low,
       round(100 * a.ci_high, 1) AS ci_high, round(100 * a.seed_sd, 1) AS seed_sd,
       round(100 * a.draw_sd, 1) AS draw_sd, a.covers
FROM verdict_accuracy a JOIN configurations c USING (config_id)
ORDER BY c.label, a.lang = 'en' DESC, a.lang;
