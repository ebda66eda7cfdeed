"""The retry rate of the collapse check (issue 16, item 8): "1 of 2 runs restarted" in the
configurations view, ConfigurationRow, the report's flags and the headless verdict."""

from __future__ import annotations

import json
from pathlib import Path

from support.store_fixtures import make_run_dir

from xcost_tui.headless import restart_lines
from xcost_tui.report.data import gather, restarts_text
from xcost_tui.report.select import everything
from xcost_tui.rundir.events import CollapseCheck, PhaseEnd, PhaseStart
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest
from xcost_tui.verdict.api import verdict

LANGS = ["it", "zh"]


def _retried(run_dir: Path) -> None:
    """A second target attempt after a collapsed first one, appended as the job writes it."""
    events = [
        CollapseCheck("target:copa", "eval:en", 1, 0, True, 0.5, 100, 50, reasons=["flat loss"], retry=True, t=1.0),
        PhaseStart("target:copa#2", "target", t=2.0),
        PhaseEnd("target:copa#2", "target", t=3.0),
        CollapseCheck("target:copa#2", "eval:en#2", 2, 77, False, 0.7, 100, 70, t=4.0),
    ]
    with (run_dir / "events.jsonl").open("a", encoding="utf-8") as f:
        for ev in events:
            f.write(json.dumps(ev.to_dict()) + "\n")


def _store(root: Path) -> Path:
    for seed in (0, 1):
        d = make_run_dir(root, run_id=f"direct-s{seed}", seed=seed, langs=LANGS, accuracies={"it": 0.6, "zh": 0.6})
        if seed == 1:
            _retried(d)
    make_run_dir(root, run_id="fs-s0", method="few-shot", k=16, seed=0, langs=LANGS)
    ingest(root)
    return root


def test_the_configurations_view_counts_restarted_runs(tmp_path):
    _store(tmp_path)
    with connect_ro(tmp_path) as con:
        attempts = dict(con.execute("SELECT run_id, target_attempts FROM runs").fetchall())
        rows = dict(con.execute("SELECT method, (restarted_runs, n_runs) FROM configurations").fetchall())
    assert attempts["direct-s1"] == 2 and attempts["direct-s0"] == 1
    assert rows["direct"] == (1, 2) and rows["few-shot"] == (0, 1)
    configs = {c.method: c for c in verdict(tmp_path).configurations.values()}
    assert (configs["direct"].restarted_runs, configs["direct"].n_runs) == (1, 2)
    assert restarts_text(configs["direct"]) == "1 of 2 runs restarted"
    assert configs["few-shot"].restarted_runs == 0


def test_the_report_and_headless_state_the_retry_rate(tmp_path):
    _store(tmp_path)
    d = gather(tmp_path, everything())
    restarted = [f for f in d.flags if f.kind == "restarted"]
    assert len(restarted) == 1 and "1 of 2 runs restarted" in restarted[0].text
    assert [f.kind for f in d.flags if f.kind == "single-draw"] == ["single-draw"]  # the one few-shot draw
    v = verdict(tmp_path)
    lines = restart_lines(v, set(v.configurations))
    assert len(lines) == 1 and lines[0].startswith("restarts: direct · tiny-xlmr: 1 of 2 runs restarted")
