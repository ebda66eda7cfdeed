"""Configuration labels that tell the store's configurations apart.

A run's ``config_label`` is written at ingest from its own spec (``configuration.label``: method,
k, model). Two configurations can share it — translate-test on published translations and on an
MT model, two recipes, a varied learning rate — so after every ingest batch the labels of all
configurations are recomputed together (``configuration.distinguishing_labels``: the base label
plus the fields that differ) and written back to ``runs.config_label``, before the leaderboard is
rebuilt from it. Every view that reads the label (``leaderboard``, ``configurations``,
``comparisons``, ``learning_curves``) then reads the distinguishing one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import configuration

if TYPE_CHECKING:
    import duckdb


def _spec(text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        spec = json.loads(text) if isinstance(text, str) else text
    except (TypeError, ValueError):
        return None
    return spec if isinstance(spec, dict) else None


def refresh_labels(con: duckdb.DuckDBPyConnection) -> int:
    """Rewrite ``runs.config_label`` with the distinguishing labels of every configuration in the
    store (one spec per configuration: its runs differ only by seed and shot seed, which the
    label leaves out). Returns the number of runs whose label changed."""
    rows = con.execute(
        "SELECT config_id, any_value(spec) FROM runs WHERE config_id IS NOT NULL AND spec IS NOT NULL GROUP BY 1"
    ).fetchall()
    specs = {str(cid): spec for cid, text in rows if (spec := _spec(text)) is not None}
    if not specs:
        return 0
    labels = configuration.distinguishing_labels(specs)
    con.execute("CREATE OR REPLACE TEMP TABLE _config_labels (config_id VARCHAR, label VARCHAR)")
    con.executemany("INSERT INTO _config_labels VALUES (?, ?)", sorted(labels.items()))
    changed = con.execute(
        "UPDATE runs SET config_label = l.label FROM _config_labels l "
        "WHERE runs.config_id = l.config_id AND runs.config_label IS DISTINCT FROM l.label"
    ).fetchone()
    con.execute("DROP TABLE _config_labels")
    return int(changed[0]) if changed else 0
