"""Pure statistics: the mathematics the verdict and the collapse check share, and nothing else.

The ground floor: no module here imports any other room of the package, reads a store or a
run directory.

- ``exact``: the exact two-sided binomial test (pure Python, exact rationals; the collapse check
  of a fine-tune and McNemar's test both use it), and the sign test in log space for large n.
- ``thresholds``: the verdict's settings (alpha, delta and the δ-sensitivity margins, chance,
  "same per-query cost", the break-even's cost measures), numpy-free so the store's SQL reads
  them too.
- ``design``: the verdict's intervals, following the design: runs clustered by their random
  factor, items crossed, generalized confidence intervals over the variance components, paired
  and independent contrasts with their test and equivalence test from one set of draws (numpy).
- ``bootstrap``: the earlier two-level percentile bootstrap, kept so the coverage study
  (benchmarks/bench_coverage.py) can compare against it (numpy).
- ``significance``: the exact tests of the verdict (binomial against chance, McNemar, stratified
  over seed pairs) and Holm's correction (numpy).
- ``costs``: a cost with its spread over runs, the ratio of two costs and the break-even between
  two total costs with their intervals, and the cost to reach an accuracy (numpy).
- ``student_t``: Student's t quantiles in pure Python, and the same rule as SQL for the store's
  cost intervals.

numpy is imported by ``design``, ``bootstrap``, ``significance`` and ``costs`` only: import those where they
are used, never at the supervisor's start-up. docs/statistics.md explains every method.
"""
