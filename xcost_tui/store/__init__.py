"""The results store: DuckDB tables and views built from run directories and forecast files.

The store writes every table it holds. Its modules (import the one you need; this package
re-exports nothing, so no module here depends on another through it):

- ``db``: where the database lives, short read-only / read-write connections, lock retries.
- ``schema``: tables (columns, SQL and Arrow types from one list), views, the schema version
  (docs/schema.md describes every column).
- ``rows``: run directory records → typed rows of every table (pure functions).
- ``ingest``: run directories → rows, idempotently (the reading and the writing).
- ``verdict_tables``: the verdict's intervals and comparisons, recomputed at ingest.
- ``labels``: configuration labels that tell the store's configurations apart, rewritten at ingest.
- ``forecasts``: the forecasts table, rebuilt from the forecast files, and its questions.
- ``query``: what the app and the headless mode ask (leaderboard, Pareto, run detail, SQL).

The ``ingest`` and ``sql`` verbs that print are in ``xcost_tui/commands/``.

Never imports torch, transformers or datasets.
"""
