-- Mean accuracy per method and language (long form), with the spread over runs.
--   duckdb store/xcost.duckdb < store/queries/per_language_accuracy.sql
-- 'en' is English COPA (the source language); the others are the XCOPA target languages.
SELECT model, method, coalesce(intermediate, '-') AS intermediate, lang,
       count(*) AS runs,
       round(avg(accuracy), 4) AS mean_accuracy,
       round(stddev_samp(accuracy), 4) AS sd,
       sum(n) AS examples
FROM lang_accuracy
WHERE status = 'succeeded'
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, min(lang = 'en') DESC, 4;
