"""Issue 17: the learning curve's evaluations in the store: their running cost beside each point,
and the verdict's cost to reach counting them (a method that stops at an accuracy pays for the
evaluations that tell it so)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xcost_tui.store.db import connect_ro
from xcost_tui.verdict import api

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from make_store import make_verdict_store  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("curve-costs") / "store"
    make_verdict_store(root, n_configs=3, n_seeds=2, n_items=20, en_items=10, curve_points=4)
    return root


def test_cumulative_evaluation_cost_is_the_running_sum_of_the_points(store):
    with connect_ro(store) as con:
        rows = con.execute(
            "SELECT l.run_id, l.phase, l.lang, l.point, l.eval_wall_s, l.eval_flops, l.cum_eval_device_hours, "
            "l.cum_eval_flops, r.device_count FROM learning_curves l JOIN runs r USING (run_id) "
            "ORDER BY l.run_id, l.phase, l.lang, l.point"
        ).fetchall()
    assert rows
    seen: dict[tuple, tuple[float, float]] = {}
    for run, phase, lang, _point, wall, flops, cum_h, cum_f, devices in rows:
        h, f = seen.get((run, phase, lang), (0.0, 0.0))
        h, f = h + wall * (devices or 1) / 3600.0, f + flops
        seen[(run, phase, lang)] = (h, f)
        assert cum_h == pytest.approx(h) and cum_f == pytest.approx(f)


def test_the_cost_to_reach_counts_the_evaluations_so_far(store):
    v = api.verdict(store)
    assert v.cost_to_reach
    with connect_ro(store) as con:
        curves = con.execute(
            "SELECT config_id, point, avg(cum_train_device_hours), avg(cum_eval_device_hours) FROM learning_curves "
            "WHERE phase LIKE 'target:%' AND lang <> 'en' GROUP BY ALL ORDER BY config_id, point"
        ).fetchall()
    for cid, (_target, cost) in v.cost_to_reach.items():
        if cost is None:
            continue
        pts = [(t, e) for c, _, t, e in curves if c == cid]
        # the cost lies on the curve of training + evaluations, above the training alone at the first point
        assert min(t + e for t, e in pts) - 1e-12 <= cost <= max(t + e for t, e in pts) + 1e-12
        assert cost > pts[0][0] or cost >= pts[0][0] + pts[0][1] - 1e-12
