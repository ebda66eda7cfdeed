-- Paired comparison on the same test items: each configuration against its baseline (direct
-- fine-tuning of the same model and recipe), per language and on average, as the verdict computed
-- it (the `comparisons` view over `verdict_comparison`; docs/statistics.md). Seeds are never pooled
-- into pairs: the unit is the test item, n_items of them, and the training seeds are clusters
-- (n_pairs seed pairs when both sides train, else independent arms of n_a and n_b runs).
--   xcost-tui sql --file paired_comparison        (or, with the duckdb CLI: duckdb store/xcost.duckdb < store/queries/paired_comparison.sql)
-- diff is in accuracy points with its 95% interval over seeds, shot draws and items; p_holm is
-- Holm-adjusted; mcnemar_p is McNemar's exact test stratified over seed pairs (paired only);
-- outcome is the verdict's word (better / worse / similar / not distinguishable).
SELECT label, baseline_label, lang, paired, n_pairs, n_a, n_b, n_items,
       round(100 * diff, 1) AS diff_points,
       round(100 * ci_low, 1) AS ci_low, round(100 * ci_high, 1) AS ci_high,
       round(p_holm, 4) AS p_holm, round(mcnemar_p, 4) AS mcnemar_p, outcome
FROM comparisons
ORDER BY label, baseline_label, lang = 'avg' DESC, lang;
