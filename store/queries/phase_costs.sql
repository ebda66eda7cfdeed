-- Where the compute goes: cost per phase kind, per method (phases incurred in each run; reused
-- phases, whose cost was counted in the run that trained them, are left out).
--   xcost-tui sql --file phase_costs        (or, with the duckdb CLI: duckdb store/xcost.duckdb < store/queries/phase_costs.sql)
SELECT r.model, r.method, p.kind,
       count(DISTINCT p.run_id) AS runs,
       round(sum(p.device_hours), 4) AS device_hours,
       sum(p.flops_analytic) AS flops_analytic,
       sum(p.flops_measured) AS flops_measured,
       sum(p.energy_j) AS energy_j,
       count(*) FILTER (WHERE p.energy_j IS NULL) AS phases_without_energy,
       max(p.peak_mem_bytes) AS peak_mem_bytes,
       round(avg(p.mfu), 4) AS mean_mfu
FROM phases p JOIN runs r USING (run_id)
WHERE p.completed AND p.reused_from_run IS NULL
GROUP BY ALL
ORDER BY r.model, r.method, min(p.ordinal);
