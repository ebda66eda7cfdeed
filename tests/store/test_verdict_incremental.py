"""The incremental verdict refresh (issue 18) gives exactly the rows of a full refresh, after any
sequence of runs added, removed, failed, revived or re-ingested with other predictions: random
sequences over a small store whose shapes touch every non-local rule (a direct configuration
that becomes another's default baseline by its number of runs, an in-context configuration whose
baseline is picked by items, the Holm families of the averages)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.store_fixtures import make_run_dir

from xcost_tui import XCOPA_LANGS
from xcost_tui.store import db, verdict_tables
from xcost_tui.store.db import connect_ro, connect_rw
from xcost_tui.store.ingest import ingest

N_ITEMS = 24


def _lr(value: float):
    def edit(spec) -> None:
        spec.hparams.learning_rate = value

    return edit


# (name, make_run_dir arguments): configurations of the same recipe (direct, its subset-languages
# twin that competes to be the baseline, intermediate, few-shot with shot draws), another recipe's
# direct (competes to be icl's baseline by items), and icl.
TEMPLATES: list[tuple[str, dict[str, Any]]] = [
    ("direct", {}),
    ("direct-sub", {"langs": ["it", "zh", "et"]}),
    ("direct-lr", {"spec_edit": _lr(1e-5)}),
    ("inter", {"method": "intermediate", "intermediate": ["siqa"]}),
    ("fewshot", {"method": "few-shot", "k": 4}),
    ("icl", {"method": "icl", "model": "tiny-gpt2", "k": 4}),
]


def _add(root: Path, rng: np.random.Generator, run_id: str, template: int, status: str = "succeeded") -> None:
    name, kw = TEMPLATES[template]
    kw = dict(kw)
    langs = list(kw.pop("langs", XCOPA_LANGS))
    level = 0.5 + 0.05 * template + 0.1 * rng.random()
    if name in ("fewshot", "icl"):
        kw["shot_seed"] = int(rng.integers(0, 3))
    make_run_dir(
        root,
        run_id=run_id,
        seed=0 if name == "icl" else int(rng.integers(0, 3)),
        langs=langs,
        status=status,
        n_eval=N_ITEMS,
        correct_items={lang: [bool(x) for x in rng.random(N_ITEMS) < level] for lang in ["en", *langs]},
        **kw,
    )


def _norm(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, list):
        return tuple(_norm(v) for v in value)
    return value


def _tables(con) -> dict[str, list[tuple]]:
    return {
        table: sorted(
            (tuple(_norm(v) for v in row) for row in con.execute(f"SELECT * FROM {table}").fetchall()), key=repr
        )
        for table in ("verdict_accuracy", "verdict_comparison")
    }


def _full_refresh_of_a_copy(root: Path, tmp: Path) -> dict[str, list[tuple]]:
    copy = tmp / "full"
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    src = db.db_path(root)
    dst = db.db_path(copy)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    with connect_rw(copy) as con:
        assert verdict_tables.refresh(con, force=True)
        return _tables(con)


def _recomputed(root: Path) -> str:
    with connect_ro(root) as con:
        return con.execute("SELECT value FROM meta WHERE key = 'verdict_recomputed'").fetchall()[0][0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_equals_full_after_random_changes(tmp_path, seed):
    rng = np.random.default_rng(seed)
    root = tmp_path / "store"
    live: dict[str, int] = {}  # run id -> template
    for i in range(6):  # a start with a few configurations
        live[f"r{i}"] = i % len(TEMPLATES)
        _add(root, rng, f"r{i}", live[f"r{i}"])
    ingest(root, only_changed=True)
    assert _recomputed(root).startswith("full")  # no state yet
    incremental = 0
    for step in range(7):
        op = rng.choice(["add", "add", "remove", "fail", "revive", "redo"])
        if op == "add" or not live:
            rid = f"a{step}"
            live[rid] = int(rng.integers(0, len(TEMPLATES)))
            _add(root, rng, rid, live[rid])
        else:
            rid = str(rng.choice(sorted(live)))
            shutil.rmtree(root / "runs" / rid)
            if op == "remove":
                del live[rid]
            else:  # the same run again: failed, succeeded again, or with other predictions
                _add(root, rng, rid, live[rid], status="failed" if op == "fail" else "succeeded")
        ingest(root, only_changed=True)
        with connect_ro(root) as con:
            got = _tables(con)
        assert got == _full_refresh_of_a_copy(root, tmp_path), f"step {step} ({op})"
        incremental += _recomputed(root).startswith("incremental")
    assert incremental, "the incremental path was never taken"


def test_a_new_run_recomputes_only_its_configuration(tmp_path):
    rng = np.random.default_rng(0)
    for i, template in enumerate([0, 0, 3, 3, 4, 2]):
        _add(tmp_path, rng, f"r{i}", template)
    ingest(tmp_path)
    _add(tmp_path, rng, "new", 3)  # another intermediate run: its configuration and its one comparison
    ingest(tmp_path, only_changed=True)
    assert _recomputed(tmp_path).startswith("incremental: 1 of 4 configurations, 1 comparisons")


def test_a_state_of_another_version_makes_the_refresh_full(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for i, template in enumerate([0, 3]):
        _add(tmp_path, rng, f"r{i}", template)
    ingest(tmp_path)
    monkeypatch.setattr(verdict_tables, "STATE_VERSION", verdict_tables.STATE_VERSION + 1)
    _add(tmp_path, rng, "new", 3)
    ingest(tmp_path, only_changed=True)
    assert _recomputed(tmp_path).startswith("full")
    _add(tmp_path, rng, "newer", 0)
    ingest(tmp_path, only_changed=True)
    assert _recomputed(tmp_path).startswith("incremental")


def test_force_is_a_full_refresh(tmp_path):
    rng = np.random.default_rng(0)
    _add(tmp_path, rng, "r0", 0)
    ingest(tmp_path)
    with connect_rw(tmp_path) as con:
        assert verdict_tables.refresh(con) is False
        assert verdict_tables.refresh(con, force=True) is True
    assert _recomputed(tmp_path).startswith("full")


def test_a_full_refresh_a_chunk_at_a_time_equals_one_that_loads_everything(tmp_path, monkeypatch):
    """The full refresh loads FULL_CHUNK configurations at a time (its memory bounded on any
    store): one at a time gives the rows of all at once."""
    rng = np.random.default_rng(5)
    for i in range(14):
        _add(tmp_path, rng, f"r{i}", i % len(TEMPLATES))
    ingest(tmp_path)
    with connect_rw(tmp_path) as con:
        monkeypatch.setattr(verdict_tables, "FULL_CHUNK", 10**6)
        assert verdict_tables.refresh(con, force=True)
        everything = _tables(con)
        monkeypatch.setattr(verdict_tables, "FULL_CHUNK", 1)
        assert verdict_tables.refresh(con, force=True)
        assert _tables(con) == everything
        assert everything["verdict_comparison"], "no comparison to check"
