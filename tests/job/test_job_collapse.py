"""Collapsed target phases are caught, recorded, retried with a derived seed, and every attempt's
cost is kept, end to end through the real job and the store.

A forced collapse without a test hook: a learning rate of 10 makes every attempt diverge, a
degenerate fine-tune (Mosbach et al. 2021) whose training loss does not fall.
(Before issue 16 the forced collapse was 4 English items, always "within chance"; within chance
is information now, not a reason.)"""

from __future__ import annotations

import json

import pytest
from support.jobutil import events, phase_ends, run_cli, status

from xcost_tui.rundir import RunStatus
from xcost_tui.store.db import connect_ro
from xcost_tui.store.ingest import ingest

QUICK_HP = {"max_examples": 48, "max_steps": 3, "batch_size": 8, "max_seq_len": 64}
# a fine-tune that diverges: Adam's steps of ~10 per weight throw the model far from where it
# started, its loss rises and it answers one choice for everything (or its loss is not finite)
DIVERGING_HP = {**QUICK_HP, "learning_rate": 10.0, "max_steps": 6}


# one worker runs this module, so its module-scoped fixtures are built once (pytest-xdist, pyproject)
pytestmark = pytest.mark.xdist_group("job_collapse")


@pytest.fixture(scope="module")
def collapsed_run(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("collapse")
    spec = {
        "method": "few-shot",
        "model": "tiny-xlmr",
        "few_shot_k": 4,
        "langs": ["it"],
        "data_dir": str(data_dir),
        "max_eval_examples": 4,
        "collapse_retries": 2,
        "hparams": DIVERGING_HP,
        "few_shot_hparams": {"max_steps": 3, "max_seq_len": 64},
    }
    path = root / "spec.json"
    path.write_text(json.dumps(spec))
    proc = run_cli(
        [
            "run",
            "--method",
            spec["method"],
            "--spec",
            str(path),
            "--out",
            str(root / "run"),
            "--store",
            str(root / "store"),
        ]
    )  # --spec: the other flags are ignored
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root / "run"


def test_every_attempt_is_its_own_phase_and_judged(collapsed_run):
    assert status(collapsed_run) == RunStatus.SUCCEEDED
    names = [e["phase"] for e in events(collapsed_run) if e["type"] == "phase_end"]
    # each training phase's curve evaluations are recorded right after it (curve:<phase>, issue 17)
    assert names == [
        "target:copa",
        "curve:target:copa",
        "eval:en",
        "target:copa#2",
        "curve:target:copa#2",
        "eval:en#2",
        "target:copa#3",
        "curve:target:copa#3",
        "eval:en#3",
        "few-shot:it",
        "curve:few-shot:it",
        "eval:it",
        "inference-bench",
    ]
    checks = [e for e in events(collapsed_run) if e["type"] == "collapse_check"]
    assert [(c["phase"], c["eval_phase"], c["attempt"], c["collapsed"], c["retry"]) for c in checks] == [
        ("target:copa", "eval:en", 1, True, True),
        ("target:copa#2", "eval:en#2", 2, True, True),
        ("target:copa#3", "eval:en#3", 3, True, False),
    ]
    assert all(c["n"] == 4 and c["loss_fell"] is False and c["loss_steps"] == 6 for c in checks)
    assert all(any("did not fall" in r for r in c["reasons"]) for c in checks)
    assert all(c["within_chance"] is True and not any("chance" in r for r in c["reasons"]) for c in checks)
    ends = phase_ends(collapsed_run)
    seeds = [ends[p]["info"]["seed"] for p in ("target:copa", "target:copa#2", "target:copa#3")]
    assert seeds[0] == 0 and len(set(seeds)) == 3 and [c["seed"] for c in checks] == seeds
    assert [ends[p]["info"]["attempt"] for p in ("target:copa", "target:copa#2", "target:copa#3")] == [1, 2, 3]
    # each retry starts from the model before the target phase: the COPA head is made afresh
    assert all(
        ends[p]["info"]["head_initialised"] == {"copa": True} for p in ("target:copa", "target:copa#2", "target:copa#3")
    )
    for p in ("target:copa#2", "eval:en#2"):
        assert ends[p]["costs"]["wall_s"]["value"] > 0


def test_the_store_counts_every_attempt_and_shows_collapsed(collapsed_run, tmp_path):
    ingest(tmp_path, [collapsed_run])
    with connect_ro(tmp_path) as con:
        collapsed, attempts, retries = con.execute(
            "SELECT collapsed, target_attempts, collapse_retries FROM runs"
        ).fetchone()
        board = con.execute(
            "SELECT collapsed, target_attempts, train_device_hours, train_flops, en_accuracy FROM leaderboard"
        ).fetchone()
        phases = dict(
            con.execute(
                "SELECT phase, device_hours FROM phases WHERE kind IN ('intermediate', 'target', 'few-shot')"
            ).fetchall()
        )
        flops = dict(con.execute("SELECT phase, flops_analytic FROM phases WHERE kind = 'target'").fetchall())
        en = dict(con.execute("SELECT phase, accuracy FROM evals WHERE lang = 'en'").fetchall())
    assert (collapsed, attempts, retries) == (True, 3, 2)
    assert board[0] is True and board[1] == 3
    assert set(phases) == {"target:copa", "target:copa#2", "target:copa#3", "few-shot:it"}
    assert board[2] == pytest.approx(sum(phases.values()))  # every attempt is training cost
    assert board[3] >= sum(flops.values())
    assert board[4] == en["eval:en#3"]  # the English accuracy of the model the run went on with
