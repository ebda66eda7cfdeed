"""The export tests' store (export_store.py), ingested as a real store is."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_store import write_runs

from xcost_tui.store.ingest import ingest


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    write_runs(root)
    ingest(root)
    return root
