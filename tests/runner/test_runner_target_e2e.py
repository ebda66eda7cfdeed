"""Shared target phases end to end: the real job (tiny-xlmr, offline data) through the Scheduler,
then the store. A direct run and two few-shot runs of the same seed: the direct run trains the
target phase once, the few-shot runs start from its model and record the phase as reused; the
store counts its cost once, and still in each few-shot run's full pipeline (train_*), not in what
the run incurred itself (own_train_*)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from xcost_tui.rundir import read_jsonl
from xcost_tui.rundir.layout import EVENTS
from xcost_tui.runner import Scheduler
from xcost_tui.spec import RunSpec

REPO = Path(__file__).resolve().parents[2]
SMALL = {
    "model": "tiny-xlmr",
    "seed": 5,
    "langs": ["it", "qu"],
    "max_eval_examples": 8,
    "hparams": {"max_examples": 24, "max_steps": 2, "batch_size": 8, "max_seq_len": 48},
    "few_shot_hparams": {"max_steps": 1, "batch_size": 4, "max_seq_len": 48},
    "measure": {"curve_points": 1},
}


def test_a_direct_run_and_two_few_shot_runs_share_the_target_phase(tmp_path, data_dir):
    pytest.importorskip("duckdb")
    from xcost_tui.store.db import connect_ro
    from xcost_tui.store.ingest import ingest
    from xcost_tui.store.query import leaderboard

    store = tmp_path / "store"
    common = {**SMALL, "data_dir": str(data_dir)}
    direct = RunSpec.from_dict({**common, "method": "direct", "name": "direct"})
    fs = [RunSpec.from_dict({**common, "method": "few-shot", "few_shot_k": k, "name": f"fs{k}"}) for k in (4, 8)]
    sched = Scheduler(store, ingest=False, gpus=0, max_parallel=1, poll_s=0.1, env={"PYTHONPATH": str(REPO)})
    lives = {r.run_id: r for r in sched.submit([*fs, direct])}
    assert lives[direct.run_id()].save_target
    assert all(lives[s.run_id()].waiting_for == direct.run_id() for s in fs)
    sched.start()
    try:
        assert sched.wait(600)
    finally:
        sched.shutdown()
    for s in (direct, *fs):
        assert sched.get(s.run_id()).status == "succeeded", sched.get(s.run_id()).error
    for s in fs:
        reused = {
            e["phase"]: e["reused_from"]["run_id"]
            for e in read_jsonl(store / "runs" / s.run_id() / EVENTS)
            if e["type"] == "phase_end" and e.get("reused_from")
        }
        assert reused and set(reused.values()) == {direct.run_id()}
        assert {"target:copa", "eval:en", "curve:target:copa"} <= set(reused)

    ingest(store)
    rows = {r["run_id"]: r for r in leaderboard(store).to_pylist()}
    with connect_ro(store) as con:
        own = dict(
            con.execute(
                "SELECT run_id, sum(flops_analytic) FROM phases WHERE completed AND reused_from_run IS NULL "
                "AND kind IN ('target', 'few-shot') GROUP BY run_id"
            ).fetchall()
        )
        target_rows = con.execute(
            "SELECT run_id, reused_from_run FROM phases WHERE phase LIKE 'target:%' ORDER BY run_id"
        ).fetchall()
    target_flops = rows[direct.run_id()]["train_flops"]
    assert target_flops and target_flops > 0
    assert rows[direct.run_id()]["reused_by_runs"] == 2
    # the target phase is incurred once (the direct run's row); the few-shot runs' rows reuse it
    assert sorted(r for r, src in target_rows if src is None) == [direct.run_id()]
    assert sorted(r for r, src in target_rows if src == direct.run_id()) == sorted(s.run_id() for s in fs)
    for s in fs:
        row = rows[s.run_id()]
        assert math.isclose(row["own_train_flops"], own[s.run_id()]), "own: the few-shot phases only"
        assert math.isclose(row["train_flops"], target_flops + own[s.run_id()]), "full pipeline: with the target"
        assert row["train_device_hours"] > row["own_train_device_hours"]
        assert row["reused_from_run"] == direct.run_id()
    # counted once: the store's own training FLOPs are the target phase once plus each few-shot run's
    assert math.isclose(sum(own.values()), target_flops + sum(own[s.run_id()] for s in fs))
