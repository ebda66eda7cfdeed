"""The results store: DuckDB tables and views built from run directories.

- ``db``: where the database lives, short read-only / read-write connections, lock retries.
- ``schema``: tables, views, the schema version (docs/schema.md describes every column).
- ``ingest``: run directories → rows, idempotently.
- ``query``: what the app and the headless mode ask (leaderboard, Pareto, run detail, SQL).

The ``ingest`` and ``sql`` verbs that print are in ``xcost_tui/commands/``.

Never imports torch, transformers or datasets.
"""

from .db import DB_NAME, RUNS_DIR, connect_ro, connect_rw, db_path, runs_dir
from .schema import SCHEMA_VERSION

__all__ = ["DB_NAME", "RUNS_DIR", "SCHEMA_VERSION", "connect_ro", "connect_rw", "db_path", "runs_dir"]
