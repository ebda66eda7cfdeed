-- Paired comparison on the same test items, from the stored predictions: each intermediate
-- configuration (its task(s) and settings) against direct fine-tuning of the same model, runs
-- paired by seed, per language.
--   duckdb store/xcost.duckdb < store/queries/paired_comparison.sql
-- both / only_direct / only_intermediate / neither count items; mcnemar_chi2 is McNemar's
-- statistic with continuity correction over the discordant pairs (> 3.84: p < 0.05). The
-- `comparisons` view gives the bootstrap interval and exact p-values of the same pairs.
WITH latest AS (
  SELECT run_id, lang, arg_max(phase, coalesce(t, 0)) AS phase FROM evals GROUP BY ALL
),
p AS (
  SELECT r.config_id, r.config_label, r.model, r.seed, r.method, pr.lang, pr.idx, pr.correct
  FROM predictions pr JOIN latest l USING (run_id, lang, phase) JOIN runs r USING (run_id)
  WHERE r.status = 'succeeded' AND pr.task = 'xcopa' AND r.method IN ('direct', 'intermediate')
),
pairs AS (
  SELECT i.config_label AS intermediate, d.model, i.lang, d.correct AS a, i.correct AS b
  FROM p d JOIN p i ON d.model = i.model AND d.seed = i.seed AND d.lang = i.lang AND d.idx = i.idx
  WHERE d.method = 'direct' AND i.method = 'intermediate'
)
SELECT intermediate, model, lang, count(*) AS pairs,
       count(*) FILTER (WHERE a AND b) AS both_correct,
       count(*) FILTER (WHERE a AND NOT b) AS only_direct,
       count(*) FILTER (WHERE b AND NOT a) AS only_intermediate,
       count(*) FILTER (WHERE NOT a AND NOT b) AS neither,
       round(avg(b::INT) - avg(a::INT), 4) AS accuracy_gain,
       round(CASE WHEN count(*) FILTER (WHERE a <> b) > 0 THEN
             power(abs(count(*) FILTER (WHERE b AND NOT a) - count(*) FILTER (WHERE a AND NOT b)) - 1, 2)
             / count(*) FILTER (WHERE a <> b) END, 3) AS mcnemar_chi2
FROM pairs
GROUP BY intermediate, model, lang
ORDER BY intermediate, model, lang;
