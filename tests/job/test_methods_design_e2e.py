"""The verdict's design on real runs (issue 16): demo-methods' direct and icl experiments with
direct over seeds [0, 1, 2] and icl (k = 2) over shot_seeds [0, 1, 2], headless through the real
job into DuckDB. An icl configuration gets a default baseline, is compared with every direct seed
as an independent arm, and can itself be the baseline."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources

import pytest
from support.timeouts import E2E_COMMAND_TIMEOUT_S

from xcost_tui.store.db import connect_ro
from xcost_tui.verdict.api import verdict

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("methods_design_e2e")]


def design_plan(path):
    """demo-methods' defaults and its first two experiments (direct, icl), with seeds and draws (icl
    keeps seed 0: it trains nothing, so another seed would only repeat its draws)."""
    text = resources.files("xcost_tui").joinpath("plans/demo-methods.toml").read_text(encoding="utf-8")
    head, *experiments = text.split("[[experiment]]")
    head = head.replace('name = "demo-methods"', 'name = "demo-methods-design"')
    head = head.replace("[defaults]\n", "[defaults]\nseeds = [0, 1, 2]\n", 1)
    direct, icl = (
        experiments[0],
        experiments[1].replace(
            "shots = [0, 2]\nshot_seeds = [0, 1, 2, 3, 4]", "shots = [2]\nshot_seeds = [0, 1, 2]\nseed = 0"
        ),
    )
    path.write_text(head + "[[experiment]]" + direct + "[[experiment]]" + icl, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("methods-design")
    plan = design_plan(root / "design.toml")
    store = root / "store"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "xcost_tui",
            "--headless",
            str(plan),
            "--data-dir",
            str(data_dir),
            "--store",
            str(store),
        ],
        capture_output=True,
        text=True,
        timeout=E2E_COMMAND_TIMEOUT_S,
        env={**os.environ, "TERM": "dumb"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "6/6 runs succeeded" in proc.stdout, proc.stdout[-3000:]
    return store


def _ids(store):
    with connect_ro(store) as con:
        return dict(con.execute("SELECT method, config_id FROM configurations").fetchall())


def test_icl_against_direct_uses_every_direct_seed(store):
    ids = _ids(store)
    rows = [c for c in verdict(store).comparisons if c.config_id == ids["icl"]]
    assert rows and {c.baseline_id for c in rows} == {ids["direct"]}
    assert all(not c.paired and (c.n_a, c.n_b) == (3, 3) for c in rows)  # 3 draws vs all 3 direct seeds


def test_icl_as_the_baseline_gives_comparisons(store):
    ids = _ids(store)
    rows = verdict(store, baseline=ids["icl"]).comparisons
    assert {c.config_id for c in rows} == {ids["direct"]}
    assert {c.lang for c in rows} >= {"it", "qu", "avg"}
    assert all(c.outcome for c in rows)
